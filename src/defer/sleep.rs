//! A Deferred that fires after a delay: [`sleep`].

use std::time::Duration;

use super::Deferred;
use crate::Clock;

/// A Deferred that fires with `()` once `delay` has passed on `clock`. Twisted's
/// `task.deferLater` (add a callback for the work to do then).
///
/// `clock` is the reactor (real time) or a [`testing::FakeClock`](crate::testing::FakeClock), with
/// which the Deferred fires during the `advance` that reaches its time — deterministic,
/// with no runtime. [Cancelling](Deferred::cancel) it cancels the scheduled call and fails
/// it with [`Error::Cancelled`](crate::Error::Cancelled).
///
/// It is also a future: `sleep(&clock, delay).await` inside
/// [`Deferred::from_future`] or [`Reactor::spawn`](crate::Reactor::spawn).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::sleep;
///
/// let clock = FakeClock::new();
/// let mut later = sleep(&clock, Duration::from_secs(3)).add_callback(|()| "work done");
/// clock.advance(Duration::from_secs(2));
/// assert!(later.take_result().is_none());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(later.take_result().unwrap().unwrap(), "work done");
///
/// let cancelled = sleep(&clock, Duration::from_secs(3));
/// assert_eq!(clock.pending_calls(), 1);
/// cancelled.cancel();
/// assert_eq!(clock.pending_calls(), 0);
/// ```
#[doc(alias = "deferLater")]
pub fn sleep<C: Clock + ?Sized>(clock: &C, delay: Duration) -> Deferred<()> {
    let (deferred, resolver) = Deferred::new();
    let call = clock.schedule(
        delay,
        Box::new(move || {
            // Fails only if the Deferred was cancelled as the call started.
            let _ = resolver.callback(());
        }),
    );
    deferred.chain().set_canceller(Box::new(move |_| {
        // Fails only if the call already ran; the Deferred then has its result.
        let _ = call.cancel();
    }));
    deferred
}
