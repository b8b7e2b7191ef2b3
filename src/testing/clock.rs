//! A fake clock moved by hand: [`FakeClock`].

use std::sync::Arc;
use std::time::Duration;

use crate::time::timer_queue::{TimeSource, TimerQueue};
use crate::DelayedCall;

/// A clock whose time only moves when you [`advance`](FakeClock::advance) it. Twisted's
/// `task.Clock`.
///
/// It follows the reactor's rules exactly (same queue code): calls due at the same time
/// run in the order first scheduled (a [`reset`](DelayedCall::reset) or
/// [`delay`](DelayedCall::delay) keeps a call's place), and `advance` runs each due call
/// at its own due time — a call scheduled during the advance that falls due within it
/// runs in the same advance, except a zero-delay call, which waits for the next advance
/// (so a call that reschedules itself with no delay cannot spin). A call that calls
/// `advance` itself is a slow call (see [`advance`](FakeClock::advance)).
///
/// Cheap to clone; clones share the same time and calls.
///
/// # Examples
///
/// A heartbeat every second runs ten times in ten seconds:
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
///
/// fn beat(clock: FakeClock, beats: Arc<AtomicU32>) {
///     beats.fetch_add(1, Ordering::SeqCst);
///     let next = clock.clone();
///     clock.call_later(Duration::from_secs(1), move || beat(next, beats));
/// }
///
/// let clock = FakeClock::new();
/// let beats = Arc::new(AtomicU32::new(0));
/// let (c, b) = (clock.clone(), beats.clone());
/// clock.call_later(Duration::from_secs(1), move || beat(c, b));
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(beats.load(Ordering::SeqCst), 10);
/// ```
#[derive(Clone, Debug)]
pub struct FakeClock {
    queue: Arc<TimerQueue>,
}

impl FakeClock {
    /// A clock at time zero with nothing scheduled.
    pub fn new() -> FakeClock {
        FakeClock {
            queue: TimerQueue::new(TimeSource::Fake),
        }
    }

    /// Moves time forward by `amount`, running every call that falls due, each at its own
    /// due time.
    ///
    /// # Slow calls
    ///
    /// Called from inside a call that an `advance` is running, `advance(d)` makes that call
    /// slow: time moves on by `d` from the call's own time and nothing else runs meanwhile
    /// (the call is busy, as a slow call keeps a real loop busy). When the call returns,
    /// the outer advance goes on from there — up to its own target, or to where the slow
    /// call left the clock if that is later — and the calls that fell due while the call
    /// ran run then, late, in due order: what a reactor does after a slow call. This is
    /// how a test shows what a late call does, for example how a
    /// [`LoopingCall`](crate::LoopingCall) skips the intervals it missed. (Twisted's
    /// `Clock.advance` runs the due calls inside the slow call instead.)
    ///
    /// An `advance` from another thread while one runs is ignored, with a warning.
    ///
    /// # Panics
    ///
    /// If a scheduled call panics, the panic propagates out of `advance`; time stays at
    /// that call's due time and the remaining due calls run at the next advance.
    ///
    /// # Examples
    ///
    /// A call that takes 3 seconds delays the one due at 2 seconds:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::Clock;
    ///
    /// let clock = FakeClock::new();
    /// let ran_at = Arc::new(Mutex::new(Vec::new()));
    /// let (slow, log) = (clock.clone(), ran_at.clone());
    /// clock.call_later(Duration::from_secs(1), move || {
    ///     slow.advance(Duration::from_secs(3)); // the call is busy for 3 s
    ///     log.lock().unwrap().push(("slow ends", slow.now().as_secs()));
    /// });
    /// let (late, log) = (clock.clone(), ran_at.clone());
    /// clock.call_later(Duration::from_secs(2), move || {
    ///     log.lock().unwrap().push(("due at 2", late.now().as_secs()));
    /// });
    ///
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(*ran_at.lock().unwrap(), [("slow ends", 4), ("due at 2", 4)]);
    /// assert_eq!(clock.now(), Duration::from_secs(4));
    /// ```
    pub fn advance(&self, amount: Duration) {
        self.queue.advance(amount);
    }

    /// Advances by each amount in turn. Twisted's `Clock.pump`.
    pub fn pump(&self, amounts: &[Duration]) {
        for amount in amounts {
            self.advance(*amount);
        }
    }

    /// Runs `call` once, `delay` from now (in this clock's time). Twisted's `callLater`.
    ///
    /// Dropping the returned [`DelayedCall`] does not cancel the call.
    #[doc(alias = "callLater")]
    pub fn call_later(&self, delay: Duration, call: impl FnOnce() + Send + 'static) -> DelayedCall {
        crate::Clock::schedule(self, delay, Box::new(call))
    }

    /// How many calls are scheduled and still active.
    pub fn pending_calls(&self) -> usize {
        self.queue.pending()
    }

    /// When the earliest active call is due, in this clock's time; `None` when nothing is
    /// scheduled. Cancelled calls do not count.
    ///
    /// It can be earlier than [`now`](crate::Clock::now): a zero-delay call scheduled
    /// during an [`advance`](FakeClock::advance) waits for the next one. So advance by
    /// `due.saturating_sub(clock.now())`, which is zero for such a call and runs it.
    ///
    /// # Examples
    ///
    /// Running a program on the fake clock until it has nothing left to do, one due time
    /// at a time, as a reactor would (but instantly):
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::Clock;
    ///
    /// let clock = FakeClock::new();
    /// assert_eq!(clock.next_due(), None);
    /// let (first, last) = (clock.clone(), clock.clone());
    /// clock.call_later(Duration::from_secs(1), move || {
    ///     first.call_later(Duration::ZERO, || {});
    /// });
    /// clock.call_later(Duration::from_secs(3), move || {
    ///     last.call_later(Duration::from_secs(2), || {});
    /// });
    /// clock.call_later(Duration::from_secs(2), || {}).cancel().unwrap();
    /// assert_eq!(clock.next_due(), Some(Duration::from_secs(1)));
    ///
    /// let mut stops = Vec::new();
    /// while let Some(due) = clock.next_due() {
    ///     clock.advance(due.saturating_sub(clock.now()));
    ///     stops.push(clock.now().as_secs());
    /// }
    /// assert_eq!(stops, [1, 1, 3, 5]); // the zero-delay call ran in its own advance
    /// assert_eq!(clock.pending_calls(), 0);
    /// ```
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.next_due_time()
    }
}

impl FakeClock {
    /// Moves time to `time` if no call is due by then; returns whether it did (else
    /// [`advance`](FakeClock::advance) runs what is due).
    pub(crate) fn skip_to(&self, time: Duration) -> bool {
        self.queue.skip_to(time)
    }
}

impl Default for FakeClock {
    fn default() -> FakeClock {
        FakeClock::new()
    }
}

impl crate::Clock for FakeClock {
    fn now(&self) -> Duration {
        self.queue.now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        let (id, status) = self.queue.schedule(delay, call);
        DelayedCall::new(self.queue.clone(), id, status)
    }
}
