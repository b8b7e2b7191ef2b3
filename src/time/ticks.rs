//! The async face of a [`LoopingCall`]: [`ticks`] and the [`Ticks`] stream.
//!
//! Each tick is one call of a `with_count` loop whose call returns a Deferred that fires
//! when the consumer takes the tick. The loop waits for that before scheduling the next
//! call, so a consumer that is late taking a tick delays the next one exactly as a slow
//! call does: the ticks it missed are skipped, and the next tick's count says how many
//! intervals went by (tokio's `MissedTickBehavior::Skip`, with the count Twisted's
//! `withCount` gives).

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::LoopingCall;
use crate::{Clock, Deferred, Resolver};

/// Ticks every `interval` on `clock`, the first one at once: a [`Ticks`] stream of the
/// number of intervals elapsed since the previous tick (1 when on time). The interval
/// stream of tokio (`tokio::time::interval`), on any [`Clock`], built on a
/// [`LoopingCall`].
///
/// # Examples
///
/// A progress ticker on the fake clock, driven with no runtime by
/// [`Deferred::from_future`]:
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::{ticks, Clock, Deferred};
///
/// let clock = FakeClock::new();
/// let timer = clock.clone();
/// let mut progress = Deferred::from_future(async move {
///     let mut seen = Vec::new();
///     let mut ticks = ticks(timer.clone(), Duration::from_secs(1));
///     while let Some(count) = ticks.tick().await {
///         seen.push((timer.now().as_secs(), count));
///         if seen.len() == 4 {
///             break;
///         }
///     }
///     seen
/// });
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(progress.take_result().unwrap().unwrap(), [(0, 1), (1, 1), (2, 1), (3, 1)]);
/// assert_eq!(clock.pending_calls(), 0); // dropping the ticks stopped the loop
/// ```
pub fn ticks<C: Clock + 'static>(clock: C, interval: Duration) -> Ticks {
    let shared = Arc::new(Mutex::new(TickSlot::default()));
    let offer = shared.clone();
    let looping = LoopingCall::with_count(clock, move |count| {
        let (taken, resolver) = Deferred::<()>::new();
        let waker = {
            let mut state = lock(&offer);
            state.ready = Some((count, resolver));
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        taken
    });
    let ended = shared.clone();
    // Invariant: a loop that was just made is not running, so `start` cannot fail.
    let started = match looping.start(interval, true) {
        Ok(started) => started,
        Err(error) => unreachable!("a new loop refused to start: {error}"),
    };
    started
        .add_both(move |_| {
            let waker = {
                let mut state = lock(&ended);
                state.ended = true;
                state.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        })
        .detach();
    Ticks { looping, shared }
}

/// A stream of ticks from [`ticks`]: each item is the number of intervals elapsed since
/// the previous tick (1 when on time; the first tick, at once, is 1).
///
/// - Take ticks with [`tick`](Ticks::tick) or as a [`Stream`](futures::Stream). The next
///   tick is scheduled when this one is taken, at the next interval boundary: a consumer
///   late by more than an interval skips the ticks it missed, and the next count says
///   how many intervals went by.
/// - Cancel safety: dropping a `tick()` future loses nothing; a tick that came is kept
///   until taken.
/// - The stream ends ([`None`]) after [`stop`](Ticks::stop). Dropping it stops the loop.
pub struct Ticks {
    looping: LoopingCall,
    shared: Arc<Mutex<TickSlot>>,
}

#[derive(Default)]
struct TickSlot {
    /// A tick that came and was not taken yet: its count, and the resolver that lets the
    /// loop go on.
    ready: Option<(u64, Resolver<()>)>,
    /// The consumer waiting for a tick.
    waker: Option<Waker>,
    /// The loop has stopped: no more ticks.
    ended: bool,
}

fn lock(shared: &Mutex<TickSlot>) -> MutexGuard<'_, TickSlot> {
    // No user code runs under this lock, so a poisoned lock is still consistent.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ticks {
    /// Waits for the next tick; `None` once the ticks are [stopped](Ticks::stop).
    pub async fn tick(&mut self) -> Option<u64> {
        poll_fn(|context| self.poll_tick(context)).await
    }

    /// Stops ticking: a tick that came and was not taken is dropped, and the stream ends.
    pub fn stop(&self) {
        // Fails only if the loop has stopped already, which is what was asked.
        let _ = self.looping.stop();
        let untaken = lock(&self.shared).ready.take();
        if let Some((_, resolver)) = untaken {
            // Lets the loop's last call finish, which ends the loop; fails only if the
            // loop is gone, and then there is nothing left to end.
            let _ = resolver.callback(());
        }
    }

    /// The loop behind the ticks.
    pub fn looping_call(&self) -> &LoopingCall {
        &self.looping
    }

    fn poll_tick(&self, context: &mut Context<'_>) -> Poll<Option<u64>> {
        let taken = {
            let mut state = lock(&self.shared);
            match state.ready.take() {
                Some(ready) => ready,
                None if state.ended => return Poll::Ready(None),
                None => {
                    match &state.waker {
                        Some(waker) if waker.will_wake(context.waker()) => {}
                        _ => state.waker = Some(context.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        };
        let (count, resolver) = taken;
        // Taking the tick lets the loop schedule the next one. Fails only if the loop was
        // stopped meanwhile, and then there is no next one.
        let _ = resolver.callback(());
        Poll::Ready(Some(count))
    }
}

impl futures::Stream for Ticks {
    type Item = u64;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<u64>> {
        self.poll_tick(context)
    }
}

impl Drop for Ticks {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Ticks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("Ticks")
            .field("looping", &self.looping)
            .field(
                "tick_waiting",
                &state.ready.as_ref().map(|(count, _)| *count),
            )
            .field("ended", &state.ended)
            .finish()
    }
}
