//! The source of time and scheduling: the [`Clock`] trait.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::DelayedCall;

/// A source of time that can schedule calls. Twisted's `IReactorTime`.
///
/// Implemented by [`Reactor`](crate::Reactor) (real time) and
/// [`testing::FakeClock`](crate::testing::FakeClock) (time you move by hand). Code that schedules
/// should take an `Arc<dyn Clock>` (or a generic `C: Clock`) so tests can pass the fake.
///
/// Rules both implementations keep:
/// - calls due at the same time run in the order they were first scheduled (moving one
///   with [`DelayedCall::reset`] or [`DelayedCall::delay`] keeps its place);
/// - a call scheduled with a zero delay while scheduled calls are running runs on the next
///   turn, not in the current one;
/// - a call's function runs at most once, on the clock's own thread of execution.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::Clock;
///
/// let clock = FakeClock::new(); // `call_later` is also on every `Clock`, via `ClockExt`
/// let log = Arc::new(Mutex::new(Vec::new()));
/// for name in ["first", "second"] {
///     let log = log.clone();
///     clock.call_later(Duration::from_secs(1), move || log.lock().unwrap().push(name));
/// }
/// let cancelled = clock.call_later(Duration::from_secs(1), || unreachable!());
/// cancelled.cancel().unwrap();
///
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(*log.lock().unwrap(), ["first", "second"]);
/// assert_eq!(clock.now(), Duration::from_secs(1));
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since this clock's origin (the reactor's creation; zero for the fake
    /// clock). Twisted's `seconds()`.
    #[doc(alias = "seconds")]
    fn now(&self) -> Duration;

    /// Schedules a boxed function to run once, `delay` from now; the object-safe form of
    /// [`ClockExt::call_later`].
    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall;
}

/// [`Clock::schedule`] with any closure: `clock.call_later(delay, || ...)`. Implemented
/// for every clock, `dyn Clock` included; in the [prelude](crate::prelude).
///
/// [`Reactor`](crate::Reactor), [`testing::FakeClock`](crate::testing::FakeClock) and
/// [`testing::MemoryReactor`](crate::testing::MemoryReactor) also have `call_later` as
/// an inherent method, so they need no import.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::{Clock, ClockExt};
///
/// let fake = FakeClock::new();
/// let clock: Arc<dyn Clock> = Arc::new(fake.clone());
/// let call = clock.call_later(Duration::from_secs(1), || {});
/// assert!(call.active());
/// fake.advance(Duration::from_secs(1));
/// assert!(!call.active());
/// ```
pub trait ClockExt: Clock {
    /// Runs `call` once, `delay` from now. Twisted's `callLater`.
    ///
    /// Dropping the returned [`DelayedCall`] does not cancel the call.
    #[doc(alias = "callLater")]
    fn call_later<F>(&self, delay: Duration, call: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.schedule(delay, Box::new(call))
    }
}

impl<C: Clock + ?Sized> ClockExt for C {}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        (**self).schedule(delay, call)
    }
}
