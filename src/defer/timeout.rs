//! Giving up on a Deferred after a while: [`Deferred::add_timeout`] and
//! [`Deferred::add_timeout_with`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::chain::Step;
use super::deferred::unbox;
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
    ///   recover) passes unchanged. [`add_timeout_with`](Deferred::add_timeout_with)
    ///   decides otherwise.
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
        self.add_timeout_with(timeout, clock, |result, timeout| match result {
            Err(failure) if is_cancelled(&failure) => Err(Failure::new(Error::Timeout { timeout })),
            other => other,
        })
    }

    /// Like [`add_timeout`](Deferred::add_timeout), but when the timeout is what cancelled
    /// the Deferred, `on_timeout` decides the result: it receives whatever result the
    /// cancellation left at this point — the `Cancelled` failure, or anything a canceller
    /// or an errback made of it, a value included — and the timeout, and returns the
    /// result to go on with. Twisted's `addTimeout(timeout, clock, onTimeoutCancel)`.
    ///
    /// `on_timeout` runs only if the timeout fired: a result that arrives in time, or a
    /// cancellation by someone else, passes it by unchanged.
    ///
    /// # Examples
    ///
    /// A lookup that falls back to a default when it takes too long:
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::Deferred;
    ///
    /// let clock = FakeClock::new();
    /// let (lookup, _slow_server) = Deferred::<&str>::new();
    /// let mut address = lookup.add_timeout_with(Duration::from_secs(2), &clock, |_, _| {
    ///     Ok("the default address")
    /// });
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(address.take_result().unwrap().unwrap(), "the default address");
    /// ```
    #[doc(alias = "addTimeout")]
    #[doc(alias = "onTimeoutCancel")]
    pub fn add_timeout_with<C, F>(self, timeout: Duration, clock: &C, on_timeout: F) -> Deferred<T>
    where
        C: Clock + ?Sized,
        F: FnOnce(Result<T, Failure>, Duration) -> Result<T, Failure> + Send + 'static,
    {
        let timed_out = Arc::new(AtomicBool::new(false));
        let flag = timed_out.clone();
        // Weak: a chain nobody can fire or observe any more needs no timeout.
        let target = Arc::downgrade(self.chain());
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
            if !timed_out.load(Ordering::SeqCst) {
                return Step::Done(result);
            }
            let decided = on_timeout(result.map(unbox::<T>), timeout);
            Step::Done(decided.map(|value| Box::new(value) as _))
        })
    }
}

fn is_cancelled(failure: &Failure) -> bool {
    matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled))
}
