//! What a child process's callbacks (and anyone holding a clone) talk to it through:
//! [`ProcessTransport`].

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Signal;

/// A running child process: write to its stdin, close it, send it signals. Twisted's
/// `IProcessTransport`. Cheap to clone, usable from any thread; what is asked of it is
/// done in order by the task that runs the process. Once the process has ended, requests
/// are ignored (a signal is never sent to a pid that is no longer the child's).
#[derive(Debug, Clone)]
pub struct ProcessTransport {
    pid: u32,
    requests: mpsc::UnboundedSender<Request>,
}

/// What the process's task is asked to do.
#[derive(Debug)]
pub(crate) enum Request {
    Write(Bytes),
    CloseStdin,
    Signal(Signal),
}

impl ProcessTransport {
    pub(crate) fn new(pid: u32, requests: mpsc::UnboundedSender<Request>) -> ProcessTransport {
        ProcessTransport { pid, requests }
    }

    /// The process's id (Twisted's `transport.pid`): its own until `process_ended`.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes `data` to the process's stdin, after what was written before. Writes are
    /// buffered without limit: a process that does not read its stdin holds them.
    pub fn write(&self, data: &[u8]) {
        self.request(Request::Write(Bytes::copy_from_slice(data)));
    }

    /// Closes the process's stdin once what was written is delivered (Twisted's
    /// `closeStdin`): the process reads EOF. `in_connection_lost` follows.
    #[doc(alias = "closeStdin")]
    pub fn close_stdin(&self) {
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
