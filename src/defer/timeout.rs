//! Giving up on a Deferred after a while: [`Deferred::add_timeout`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::chain::Step;
use super::{Deferred, Failure};
use crate::{Clock, Error};

impl<T: Send + 'static> Deferred<T> {
    /// Cancels the Deferred if it has not finished the callbacks added so far within
    /// `timeout` on `clock`, and then reports [`Error::Timeout`] instead of
    /// [`Error::Cancelled`]. Twisted's `addTimeout`.
    ///
    /// - The timeout covers only the callbacks added **before** it; callbacks added after
    ///   it run whatever happens.
    /// - When `timeout` elapses first, the Deferred is [cancelled](Deferred::cancel) (so a
    ///   canceller runs, or a Deferred it waits on is cancelled). If the result that then
    ///   reaches this point is the `Cancelled` failure, it becomes `Error::Timeout {
    ///   timeout }`; any other result (a canceller may fire with a value, an errback may
    ///   recover) passes unchanged.
    /// - When the result gets here first, the scheduled cancellation is itself cancelled.
    /// - A [`cancel`](Deferred::cancel) by someone else keeps its plain `Cancelled`.
    ///
    /// `clock` is the reactor (real time) or a [`testing::FakeClock`](crate::testing::FakeClock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::{Deferred, Error};
    ///
    /// let clock = FakeClock::new();
    /// let (deferred, _never_fired) = Deferred::<u32>::new();
    /// let mut answer = deferred.add_timeout(Duration::from_secs(5), &clock);
    ///
    /// clock.advance(Duration::from_secs(4));
    /// assert!(answer.take_result().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// let failure = answer.take_result().unwrap().unwrap_err();
    /// assert!(matches!(
    ///     failure.downcast_ref::<Error>(),
    ///     Some(Error::Timeout { timeout }) if *timeout == Duration::from_secs(5)
    /// ));
    /// ```
    #[doc(alias = "addTimeout")]
    pub fn add_timeout<C: Clock + ?Sized>(self, timeout: Duration, clock: &C) -> Deferred<T> {
        let timed_out = Arc::new(AtomicBool::new(false));
        let flag = timed_out.clone();
        // Weak: a chain nobody can fire or observe any more needs no timeout.
        let target = Arc::downgrade(&self.chain);
        let call = clock.schedule(
            timeout,
            Box::new(move || {
                if let Some(chain) = target.upgrade() {
                    flag.store(true, Ordering::SeqCst);
                    chain.cancel();
                }
            }),
        );
        self.push(move |result| {
            if call.active() {
                // Fails only if the call started meanwhile; then `timed_out` decides.
                let _ = call.cancel();
            }
            match result {
                Err(failure) if timed_out.load(Ordering::SeqCst) && is_cancelled(&failure) => {
                    Step::Done(Err(Failure::new(Error::Timeout { timeout })))
                }
                other => Step::Done(other),
            }
        })
    }
}

fn is_cancelled(failure: &Failure) -> bool {
    matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled))
}
