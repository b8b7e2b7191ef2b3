//! What a child process's callbacks (and anyone holding a clone) talk to it through:
//! [`ProcessTransport`].

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::stdin::{Refused, StdinBuffer};
use super::{Signal, STDIN_BUFFER_LIMIT};

/// A running child process: write to its stdin, close it, send it signals. Twisted's
/// `IProcessTransport`. Cheap to clone, usable from any thread; what is asked of it is
/// done in order by the task that runs the process. Once the process has ended, requests
/// are ignored (a signal is never sent to a pid that is no longer the child's).
#[derive(Debug, Clone)]
pub struct ProcessTransport {
    pid: u32,
    requests: mpsc::UnboundedSender<Request>,
    stdin: Arc<StdinBuffer>,
}

/// What the process's task is asked to do.
#[derive(Debug)]
pub(crate) enum Request {
    Write(Bytes),
    CloseStdin,
    /// Close stdin now, dropping what waits unwritten.
    AbortStdin,
    Signal(Signal),
}

impl ProcessTransport {
    pub(crate) fn new(pid: u32, requests: mpsc::UnboundedSender<Request>) -> ProcessTransport {
        ProcessTransport {
            pid,
            requests,
            stdin: Arc::default(),
        }
    }

    /// What is queued for the process's stdin.
    pub(crate) fn stdin(&self) -> &Arc<StdinBuffer> {
        &self.stdin
    }

    /// The process's id (Twisted's `transport.pid`): its own until `process_ended`.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes `data` to the process's stdin, after what was written before; after
    /// stdin is closed, writes go nowhere (as to a closed pipe).
    ///
    /// Writes wait in memory until the process reads them, bounded as a connection's
    /// are: above [`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) unread bytes the
    /// protocol gets [`pause_producing`](super::ProcessProtocol::pause_producing), at
    /// or below [`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW)
    /// [`resume_producing`](super::ProcessProtocol::resume_producing). A write that would
    /// take the unread bytes past [`STDIN_BUFFER_LIMIT`] is refused: stdin is closed at
    /// once, what waited unread with it, and a warning logged (how much was refused and
    /// how much dropped); `in_connection_lost` follows. A protocol that stops writing when
    /// paused never gets there.
    pub fn write(&self, data: &[u8]) {
        match self.stdin.queue(data.len()) {
            Ok(()) => self.request(Request::Write(Bytes::copy_from_slice(data))),
            Err(Refused::Closed) => {
                tracing::debug!(pid = self.pid, "write to a closed stdin ignored");
            }
            Err(Refused::OverLimit { unsent }) => {
                tracing::warn!(
                    pid = self.pid,
                    unsent,
                    refused = data.len(),
                    limit = STDIN_BUFFER_LIMIT,
                    "the process does not read its stdin: refusing the write and \
                     closing its stdin, dropping the unsent bytes"
                );
                self.stdin.close();
                self.request(Request::AbortStdin);
            }
        }
    }

    /// Closes the process's stdin once what was written is delivered (Twisted's
    /// `closeStdin`): the process reads EOF. `in_connection_lost` follows.
    #[doc(alias = "closeStdin")]
    pub fn close_stdin(&self) {
        self.stdin.close();
        self.request(Request::CloseStdin);
    }

    /// Sends `signal` to the process, unless it has exited already (Twisted's
    /// `signalProcess`). A signal that cannot be sent is logged.
    #[doc(alias = "signalProcess")]
    pub fn signal_process(&self, signal: Signal) {
        self.request(Request::Signal(signal));
    }

    /// Whether the process has ended (its task is gone): requests are ignored.
    pub fn is_ended(&self) -> bool {
        self.requests.is_closed()
    }

    fn request(&self, request: Request) {
        if self.requests.send(request).is_err() {
            tracing::debug!(pid = self.pid, "request to an ended process ignored");
        }
    }
}
