//! How much written to a child's stdin is not yet taken by it: [`StdinBuffer`], shared by
//! the process's transports and whoever feeds the pipe, and the write pressure it causes.
//!
//! The marks are a connection's ([`WriteBufferLimits::DEFAULT`]): above the high mark the
//! [`ProcessProtocol`](super::ProcessProtocol) is asked to `pause_producing`, at or below
//! the low mark to `resume_producing`. Past [`STDIN_BUFFER_LIMIT`] a write is refused and
//! stdin closed at once, with the reason logged, so that a child that does not read
//! cannot make this process hold unbounded memory, and no write is dropped unnoticed
//! (`in_connection_lost` follows).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::connection::pressure::{Signal, WritePressure};
use crate::WriteBufferLimits;

/// The most bytes written to a child's stdin and not yet taken by it (4 MiB). A write
/// that would pass it is refused and closes the process's stdin: see
/// [`ProcessTransport::write`](super::ProcessTransport::write).
pub const STDIN_BUFFER_LIMIT: usize = 64 * crate::WRITE_BUFFER_HIGH;

/// The bytes queued for a child's stdin and not yet taken.
#[derive(Debug, Default)]
pub(crate) struct StdinBuffer {
    unsent: AtomicUsize,
    closed: AtomicBool,
    /// Woken when `unsent` changes, so that the pressure is checked.
    changed: Notify,
}

/// Why a write was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Stdin is closed: the write goes nowhere, as to a closed pipe.
    Closed,
    /// Queuing it would pass [`STDIN_BUFFER_LIMIT`].
    OverLimit { unsent: usize },
}

impl StdinBuffer {
    /// Counts `len` bytes as queued, unless stdin is closed or they would pass the limit.
    pub(crate) fn queue(&self, len: usize) -> Result<(), Refused> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        self.unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |unsent| {
                unsent
                    .checked_add(len)
                    .filter(|total| *total <= STDIN_BUFFER_LIMIT)
            })
            .map_err(|unsent| Refused::OverLimit { unsent })?;
        self.changed.notify_one();
        Ok(())
    }

    /// `len` queued bytes were taken by the child.
    pub(crate) fn taken(&self, len: usize) {
        // Never more than was queued: saturate rather than wrap if that ever fails.
        let _ = self
            .unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |unsent| {
                Some(unsent.saturating_sub(len))
            });
        self.changed.notify_one();
    }

    /// Stdin is closed, or asked to be: nothing more is queued (what was is still
    /// written before the pipe closes, if the child reads it).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    /// Whether stdin is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The bytes queued and not yet taken.
    pub(crate) fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// Resolves once `unsent` has changed since the last call.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Whether the protocol writing to a child's stdin has been told to pause.
#[derive(Debug, Default)]
pub(crate) struct StdinPressure(WritePressure);

/// What to tell the protocol about its writes to stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PressureSignal {
    Pause,
    Resume,
}

impl StdinPressure {
    /// What to tell the protocol now that `stdin` holds what it holds; nothing once stdin
    /// is closed (the protocol has `in_connection_lost`).
    pub(crate) fn check(&mut self, stdin: &StdinBuffer) -> Option<PressureSignal> {
        if stdin.is_closed() {
            return None;
        }
        match self
            .0
            .check(stdin.unsent(), None, WriteBufferLimits::DEFAULT)
        {
            Signal::Pause => Some(PressureSignal::Pause),
            Signal::Resume => Some(PressureSignal::Resume),
            Signal::Nothing | Signal::Pull => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW};

    #[test]
    fn queuing_past_the_limit_is_refused_and_counts_nothing() {
        let stdin = StdinBuffer::default();
        assert_eq!(stdin.queue(STDIN_BUFFER_LIMIT - 1), Ok(()));
        assert_eq!(
            stdin.queue(2),
            Err(Refused::OverLimit {
                unsent: STDIN_BUFFER_LIMIT - 1
            })
        );
        assert_eq!(stdin.queue(1), Ok(()));
        assert_eq!(stdin.unsent(), STDIN_BUFFER_LIMIT);
    }

    #[test]
    fn a_closed_stdin_queues_nothing() {
        let stdin = StdinBuffer::default();
        stdin.queue(10).unwrap();
        stdin.close();
        assert_eq!(stdin.queue(1), Err(Refused::Closed));
        assert_eq!(stdin.unsent(), 10);
    }

    #[test]
    fn pressure_pauses_above_the_high_mark_and_resumes_at_the_low_one() {
        let stdin = StdinBuffer::default();
        let mut pressure = StdinPressure::default();
        stdin.queue(WRITE_BUFFER_HIGH).unwrap();
        assert_eq!(pressure.check(&stdin), None);
        stdin.queue(1).unwrap();
        assert_eq!(pressure.check(&stdin), Some(PressureSignal::Pause));
        stdin.taken(WRITE_BUFFER_HIGH + 1 - WRITE_BUFFER_LOW - 1);
        assert_eq!(pressure.check(&stdin), None);
        stdin.taken(1);
        assert_eq!(pressure.check(&stdin), Some(PressureSignal::Resume));
        stdin.close();
        assert_eq!(pressure.check(&stdin), None);
    }
}
