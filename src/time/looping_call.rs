//! A call repeated every interval, on any clock: [`LoopingCall`].
//!
//! Twisted's `task.LoopingCall`. The loop is a chain of timed calls: each call, once it
//! (and any Deferred it returned) has finished, schedules the next one at the next
//! interval boundary after the time it finished, measured from the loop's start. So a
//! late or slow call skips the boundaries it missed instead of queueing them, and
//! [`with_count`](LoopingCall::with_count) says how many intervals went by. On the fake
//! clock, which steps through time as the real one would, `advance(10 s)` with a 1 s
//! interval runs the call ten times, on time, each with a count of 1.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::defer::maybe_deferred;
use crate::{Clock, Deferred, DelayedCall, Error, Failure, Outcome, Resolver, Result};

/// The function a loop calls, given the count of intervals elapsed since its last call;
/// the Deferred fires when the call is done.
type Body = Box<dyn FnMut(u64) -> Deferred<()> + Send>;

/// A function called every `interval` on a [`Clock`] until stopped. Twisted's
/// `task.LoopingCall`.
///
/// - [`start`](LoopingCall::start) returns a Deferred that fires with the loop when it is
///   [stopped](LoopingCall::stop), and fails — stopping the loop — when a call fails (or
///   panics).
/// - A call may return a value, a `Result`, or a [`Deferred`] (for async work, the
///   Deferred of [`Deferred::from_future`], or of [`Reactor::spawn`](crate::Reactor::spawn)
///   for futures that need tokio): the next call is scheduled only once that has
///   finished, and a failure of it stops the loop like a failed call.
/// - **Missed intervals are skipped.** The next call is due at the first interval
///   boundary (counted from the start) strictly after the previous call finished. A call
///   that took 2.5 intervals is followed by one at the 3rd boundary, not by two calls in
///   a row; [`with_count`](LoopingCall::with_count) tells the function how many
///   intervals elapsed (3 there; 1 when on time).
/// - **Interval zero** runs the function once per turn of the clock: once per reactor
///   iteration (other work runs between two calls), once per
///   [`FakeClock::advance`](crate::testing::FakeClock::advance). It never spins.
/// - Cheap to clone; clones control the same loop. A running loop is kept alive by its
///   next scheduled call, so it runs until stopped even if every handle is dropped, as in
///   Twisted.
///
/// # Errors
///
/// Starting a loop that is running (or still finishing its last call after a stop) is
/// [`Error::LoopingCallRunning`]; stopping or resetting a loop that is not running is
/// [`Error::LoopingCallNotRunning`]. (Twisted's negative interval cannot be written: the
/// interval is a `Duration`.)
///
/// # Examples
///
/// A heartbeat on the fake clock: ten beats in ten seconds.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use torsade::testing::FakeClock;
/// use torsade::LoopingCall;
///
/// let clock = FakeClock::new();
/// let beats = Arc::new(AtomicU32::new(0));
/// let counter = beats.clone();
/// let heartbeat = LoopingCall::new(clock.clone(), move || {
///     counter.fetch_add(1, Ordering::SeqCst);
/// });
/// let mut stopped = heartbeat.start(Duration::from_secs(1), false).unwrap();
///
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(beats.load(Ordering::SeqCst), 10);
///
/// heartbeat.stop().unwrap();
/// assert!(stopped.take_result().unwrap().is_ok()); // fires with the loop
/// assert_eq!(clock.pending_calls(), 0);
/// ```
#[doc(alias = "task.LoopingCall")]
#[derive(Clone)]
pub struct LoopingCall {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    /// Whether the function is told the count of intervals (`with_count`).
    counts: bool,
    /// The function: taken out while it runs, so that it can use the loop.
    body: Mutex<Option<Body>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: bool,
    /// A call (or the Deferred it returned) has not finished yet.
    in_flight: bool,
    interval: Option<Duration>,
    /// When the loop started (or was reset): interval boundaries count from here.
    start_time: Duration,
    /// Whether `start` called the function at once.
    run_at_start: bool,
    /// When the function was last called, for the count.
    last_time: Option<Duration>,
    /// The next call, while one is scheduled.
    next: Option<DelayedCall>,
    /// Fires when the loop stops or fails.
    done: Option<Resolver<LoopingCall>>,
}

impl LoopingCall {
    /// A loop that will call `f` on `clock` (the reactor, or a
    /// [`FakeClock`](crate::testing::FakeClock) in tests) once [started](LoopingCall::start).
    ///
    /// `f` returns anything a callback may: nothing, a value, a `Result`, a [`Deferred`]
    /// (waited for before the next call).
    pub fn new<C, U, R, F>(clock: C, mut f: F) -> LoopingCall
    where
        C: Clock + 'static,
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnMut() -> R + Send + 'static,
    {
        LoopingCall::build(Arc::new(clock), false, Box::new(move |_| body(&mut f)))
    }

    /// A loop whose function is given the number of intervals elapsed since its last call:
    /// 1 when it runs on time (and always with interval zero), more when calls were
    /// skipped because the previous call, or the clock, was late. Twisted's
    /// `LoopingCall.withCount`.
    ///
    /// The counts add up to the number of intervals elapsed since the start (plus one
    /// for a call at the start), whatever the lateness; the function is never called
    /// with 0.
    ///
    /// # Examples
    ///
    /// A call that is busy for 2.5 intervals (on the fake clock: it advances the clock
    /// itself) makes the loop skip the two boundaries it missed, and the next call
    /// counts 3:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::{Clock, LoopingCall};
    ///
    /// let clock = FakeClock::new();
    /// let calls = Arc::new(Mutex::new(Vec::new()));
    /// let (log, busy) = (calls.clone(), clock.clone());
    /// let looping = LoopingCall::with_count(clock.clone(), move |count| {
    ///     let mut log = log.lock().unwrap();
    ///     log.push((busy.now().as_millis(), count));
    ///     if log.len() == 1 {
    ///         busy.advance(Duration::from_millis(2500)); // a slow first call
    ///     }
    /// });
    /// looping.start(Duration::from_secs(1), false).unwrap().detach();
    /// clock.advance(Duration::from_secs(5));
    /// // Busy from 1 s to 3.5 s: no calls at 2 s and 3 s; the next boundary is 4 s.
    /// assert_eq!(*calls.lock().unwrap(), [(1000, 1), (4000, 3), (5000, 1)]);
    /// # looping.stop().unwrap();
    /// ```
    #[doc(alias = "withCount")]
    pub fn with_count<C, U, R, F>(clock: C, mut f: F) -> LoopingCall
    where
        C: Clock + 'static,
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnMut(u64) -> R + Send + 'static,
    {
        LoopingCall::build(
            Arc::new(clock),
            true,
            Box::new(move |count| body(|| f(count))),
        )
    }

    fn build(clock: Arc<dyn Clock>, counts: bool, body: Body) -> LoopingCall {
        LoopingCall {
            inner: Arc::new(Inner {
                clock,
                counts,
                body: Mutex::new(Some(body)),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Starts calling the function every `interval`: at once if `now`, else first after
    /// one interval. Twisted's `start(interval, now)`.
    ///
    /// The Deferred fires with the loop when it is [stopped](LoopingCall::stop), or fails
    /// with the failure of a call, which stops the loop. With `now`, the first call runs
    /// inside `start`, so the Deferred may already have failed when it is returned.
    ///
    /// # Errors
    ///
    /// [`Error::LoopingCallRunning`] if the loop is running, or stopped but still waiting
    /// for its last call to finish.
    pub fn start(&self, interval: Duration, now: bool) -> Result<Deferred<LoopingCall>> {
        let (stopped, done) = Deferred::new();
        {
            let mut state = self.inner.lock();
            if state.running || state.in_flight {
                return Err(Error::LoopingCallRunning);
            }
            *state = State {
                running: true,
                interval: Some(interval),
                start_time: self.inner.clock.now(),
                run_at_start: now,
                done: Some(done),
                ..State::default()
            };
            if !now {
                let start_time = state.start_time;
                self.schedule_from(&mut state, start_time);
            }
        }
        if now {
            self.call();
        }
        Ok(stopped)
    }

    /// Stops the loop: the next call is cancelled, and the Deferred of
    /// [`start`](LoopingCall::start) fires with the loop — now, or, if a call is under
    /// way (this is called from inside it, or it returned a Deferred that has not fired),
    /// when that call finishes. Twisted's `stop`.
    ///
    /// # Errors
    ///
    /// [`Error::LoopingCallNotRunning`] if the loop is not running.
    pub fn stop(&self) -> Result<()> {
        let done = {
            let mut state = self.inner.lock();
            if !state.running {
                return Err(Error::LoopingCallNotRunning);
            }
            state.running = false;
            match state.next.take() {
                Some(next) => {
                    // Fails only if the call has just come due on another thread; it
                    // then finds the loop stopped, does not run, and fires the
                    // Deferred itself.
                    if next.cancel().is_err() {
                        return Ok(());
                    }
                    state.done.take()
                }
                None => None,
            }
        };
        if let Some(done) = done {
            // Fails only if the Deferred was cancelled; then nobody waits for it.
            let _ = done.callback(self.clone());
        }
        Ok(())
    }

    /// Restarts the interval from now: the next call comes one full interval from now,
    /// and interval boundaries count from here. Twisted's `reset`.
    ///
    /// If a call is under way, the next one is scheduled from the new start when it
    /// finishes (Twisted ignores a reset then).
    ///
    /// # Errors
    ///
    /// [`Error::LoopingCallNotRunning`] if the loop is not running.
    pub fn reset(&self) -> Result<()> {
        let mut state = self.inner.lock();
        if !state.running {
            return Err(Error::LoopingCallNotRunning);
        }
        state.start_time = self.inner.clock.now();
        if let Some(next) = state.next.take() {
            // Fails only if the call has just started; it schedules the next one from
            // the new start when it finishes.
            if next.cancel().is_ok() {
                let start_time = state.start_time;
                self.schedule_from(&mut state, start_time);
            }
        }
        Ok(())
    }

    /// Whether the loop is running (started and not stopped, nor failed). Twisted's
    /// `running`.
    pub fn running(&self) -> bool {
        self.inner.lock().running
    }

    /// The interval the loop was last started with, if it ever was.
    pub fn interval(&self) -> Option<Duration> {
        self.inner.lock().interval
    }

    /// Changes the interval; it applies from the next call scheduled (one already
    /// scheduled keeps its time). Setting Twisted's `LoopingCall.interval`.
    pub fn set_interval(&self, interval: Duration) {
        self.inner.lock().interval = Some(interval);
    }

    /// The call due next, while one is scheduled (not while a call is under way).
    pub fn next_call(&self) -> Option<DelayedCall> {
        self.inner.lock().next.clone()
    }

    /// Schedules the next call at the first interval boundary strictly after `when`.
    fn schedule_from(&self, state: &mut State, when: Duration) {
        let interval = state.interval.unwrap_or_default();
        let delay = if interval.is_zero() {
            Duration::ZERO
        } else {
            let running_for = nanos(when.saturating_sub(state.start_time));
            let step = nanos(interval);
            // In (0, interval]: a call that ends on a boundary waits for the next one.
            from_nanos(step - running_for % step)
        };
        let looping = self.clone();
        state.next = Some(
            self.inner
                .clock
                .schedule(delay, Box::new(move || looping.call())),
        );
    }

    /// Calls the function, and schedules the next call (or ends the loop) once its
    /// outcome is there.
    fn call(&self) {
        let count = {
            let mut state = self.inner.lock();
            state.next = None;
            if !state.running {
                // Stopped on another thread as this call came due (too late to cancel
                // it): the call does not run, and the loop ends here.
                let done = state.done.take();
                drop(state);
                if let Some(done) = done {
                    // Fails only if the Deferred was cancelled; then nobody waits.
                    let _ = done.callback(self.clone());
                }
                return;
            }
            state.in_flight = true;
            self.count(&mut state)
        };
        let outcome = match count {
            // Twisted's guard: no call with a count of zero (it cannot arise from the
            // clock's steps; it could after a `set_interval`).
            0 => Deferred::succeed(()),
            count => self.run_body(count),
        };
        let looping = self.clone();
        outcome
            .add_both(move |result| looping.finished(result))
            .detach();
    }

    /// The count of intervals since the last call (1 for a loop without `with_count`).
    fn count(&self, state: &mut State) -> u64 {
        if !self.inner.counts {
            return 1;
        }
        let now = self.inner.clock.now();
        let interval = state.interval.unwrap_or_default();
        if interval.is_zero() {
            state.last_time = Some(now);
            return 1;
        }
        let start = nanos(state.start_time) as i128;
        let step = nanos(interval) as i128;
        let last = match state.last_time {
            Some(last) => nanos(last) as i128,
            // A call at the start counts as one interval.
            None if state.run_at_start => start - step,
            None => start,
        };
        // Interval numbers truncate towards zero, as Twisted's `int()` does, so a last
        // call before a reset counts from the reset.
        let interval_of = |time: i128| (time - start) / step;
        let count = interval_of(nanos(now) as i128) - interval_of(last);
        if count <= 0 {
            return 0;
        }
        state.last_time = Some(now);
        u64::try_from(count).unwrap_or(u64::MAX)
    }

    /// Runs the function (taken out of the loop while it runs).
    fn run_body(&self, count: u64) -> Deferred<()> {
        let body = self
            .inner
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut body) = body else {
            // Invariant: `in_flight` keeps the loop from calling the function while it
            // runs, and the function is put back before `in_flight` is cleared.
            unreachable!("a LoopingCall called its function while it was running");
        };
        let outcome = body(count);
        *self
            .inner
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(body);
        outcome
    }

    /// A call finished with `result`: schedule the next, or end the loop.
    fn finished(&self, result: std::result::Result<(), Failure>) {
        let ending = {
            let mut state = self.inner.lock();
            state.in_flight = false;
            match result {
                Ok(()) if state.running => {
                    let now = self.inner.clock.now();
                    self.schedule_from(&mut state, now);
                    None
                }
                Ok(()) => state.done.take().map(|done| (done, Ok(()))),
                Err(failure) => {
                    state.running = false;
                    state.done.take().map(|done| (done, Err(failure)))
                }
            }
        };
        // Fired outside the lock: its callbacks may use the loop. Firing fails only if
        // the Deferred was cancelled; then nobody waits for it.
        let _ = match ending {
            Some((done, Ok(()))) => done.callback(self.clone()),
            Some((done, Err(failure))) => done.errback(failure),
            None => Ok(()),
        };
    }
}

/// Calls a loop's function as a callback is called: a panic or an `Err` becomes a
/// failure, a returned Deferred is waited for.
fn body<U, R, F>(f: F) -> Deferred<()>
where
    U: Send + 'static,
    R: Into<Outcome<U>>,
    F: FnOnce() -> R,
{
    maybe_deferred(f).add_callback(|_| ())
}

fn nanos(duration: Duration) -> u128 {
    duration.as_nanos()
}

fn from_nanos(nanos: u128) -> Duration {
    const PER_SECOND: u128 = 1_000_000_000;
    // Below one second's worth of nanoseconds, so it fits in a u32.
    let subsec = (nanos % PER_SECOND) as u32;
    Duration::new(
        u64::try_from(nanos / PER_SECOND).unwrap_or(u64::MAX),
        subsec,
    )
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("LoopingCall")
            .field("running", &state.running)
            .field("interval", &state.interval)
            .field("with_count", &self.inner.counts)
            .field("next", &state.next.as_ref().and_then(DelayedCall::time))
            .finish()
    }
}
