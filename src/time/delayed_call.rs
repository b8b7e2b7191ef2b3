//! A handle on one scheduled call: [`DelayedCall`].

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::timer_queue::{TimerQueue, PENDING};
use crate::Result;

/// A call scheduled by [`ClockExt::call_later`](crate::ClockExt::call_later). Twisted's
/// `IDelayedCall`.
///
/// Cheap to clone; every clone controls the same call. Dropping it does not cancel the
/// call.
///
/// # Errors
///
/// [`cancel`](DelayedCall::cancel), [`reset`](DelayedCall::reset) and
/// [`delay`](DelayedCall::delay) fail with
/// [`Error::DelayedCallAlreadyCalled`](crate::Error::DelayedCallAlreadyCalled) or
/// [`Error::DelayedCallAlreadyCancelled`](crate::Error::DelayedCallAlreadyCancelled) once
/// the call is no longer [`active`](DelayedCall::active). A call is marked called just
/// before its function runs, so cancelling itself from inside fails.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::Error;
///
/// let clock = FakeClock::new();
/// let call = clock.call_later(Duration::from_secs(5), || {});
/// call.reset(Duration::from_secs(1)).unwrap(); // now due at 1 s
/// call.delay(Duration::from_secs(2)).unwrap(); // now due at 3 s
/// assert_eq!(call.time(), Some(Duration::from_secs(3)));
///
/// clock.advance(Duration::from_secs(3));
/// assert!(!call.active());
/// assert!(matches!(call.cancel(), Err(Error::DelayedCallAlreadyCalled)));
/// ```
#[derive(Clone)]
pub struct DelayedCall {
    queue: Arc<TimerQueue>,
    id: u64,
    status: Arc<AtomicU8>,
}

impl DelayedCall {
    pub(crate) fn new(queue: Arc<TimerQueue>, id: u64, status: Arc<AtomicU8>) -> DelayedCall {
        DelayedCall { queue, id, status }
    }

    /// Cancels the call.
    pub fn cancel(&self) -> Result<()> {
        self.queue.cancel(self.id, &self.status)
    }

    /// Moves the call to `delay` from now (not from its old time). Among calls due at the
    /// same time it keeps its place: the order in which they were first scheduled.
    pub fn reset(&self, delay: Duration) -> Result<()> {
        self.queue.reset(self.id, &self.status, delay)
    }

    /// Moves the call `more` later than it was, keeping its place among calls due at the
    /// same time (see [`reset`](DelayedCall::reset)).
    pub fn delay(&self, more: Duration) -> Result<()> {
        self.queue.delay(self.id, &self.status, more)
    }

    /// Whether the call has neither run nor been cancelled.
    pub fn active(&self) -> bool {
        self.status.load(Ordering::Acquire) == PENDING
    }

    /// When the call is due (in the clock's time), while it is active. Twisted's
    /// `getTime`.
    #[doc(alias = "getTime")]
    pub fn time(&self) -> Option<std::time::Duration> {
        self.queue.due_time(self.id)
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("id", &self.id)
            .field("active", &self.active())
            .field("time", &self.time())
            .finish()
    }
}
