//! The state an async [`Connection`](super::Connection) shares with the protocol that
//! feeds it: received bytes, the end of the stream, and the wakers of waiting tasks.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use crate::lines::{LineFramer, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};
use crate::DisconnectReason;

/// Received bytes held for the reader beyond which the transport stops reading (unless a
/// pending read needs more): the async face's bound on memory per connection.
pub const READ_BUFFER_LIMIT: usize = 64 * 1024;

pub(crate) struct StreamShared {
    state: Mutex<StreamState>,
}

pub(crate) struct StreamState {
    /// Received and not yet read, split into lines on demand: the line receivers' framer,
    /// so that `read_line` keeps exactly their rules.
    pub(crate) framer: LineFramer,
    /// The peer sent EOF.
    pub(crate) eof: bool,
    /// The connection ended, and why.
    pub(crate) ended: Option<DisconnectReason>,
    /// The async side shut down its writing side (`AsyncWriteExt::shutdown`): it writes
    /// no more.
    pub(crate) write_shut: bool,
    /// How many bytes may be buffered before reading pauses.
    pub(crate) limit: usize,
    /// Reading was paused because the buffer reached `limit`.
    pub(crate) read_paused: bool,
    /// The task waiting to read.
    pub(crate) reader: Option<Waker>,
    /// Tasks waiting for the connection to end.
    pub(crate) closing: Vec<Waker>,
}

impl StreamShared {
    pub(crate) fn new() -> Arc<StreamShared> {
        Arc::new(StreamShared {
            state: Mutex::new(StreamState {
                framer: LineFramer::new(DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH),
                eof: false,
                ended: None,
                write_shut: false,
                limit: READ_BUFFER_LIMIT,
                read_paused: false,
                reader: None,
                closing: Vec::new(),
            }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StreamState> {
        // No user code runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StreamState {
    /// Takes every waker to wake after the lock is released.
    pub(crate) fn take_all_wakers(&mut self) -> Vec<Waker> {
        let mut wakers = std::mem::take(&mut self.closing);
        wakers.extend(self.reader.take());
        wakers
    }
}
