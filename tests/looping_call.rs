//! `LoopingCall`: the behaviours Twisted's `test_task.py` pins (LoopTests,
//! ReactorLoopTests), on the fake clock — which steps through time, so lateness is made
//! with slow calls — and on the real reactor (the skip and count rules, interval zero).

mod deferred_helpers;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deferred_helpers::{assert_no_result, failure, run_bounded, value};
use torsade::testing::FakeClock;
use torsade::{sleep, Clock, Deferred, Error, Failure, LoopingCall, Reactor};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// What a loop's function saw: (clock time in ms, count) per call.
type Calls = Arc<Mutex<Vec<(u128, u64)>>>;

fn calls(log: &Calls) -> Vec<(u128, u64)> {
    log.lock().unwrap().clone()
}

/// A loop counting intervals on `clock`, logging each call's time and count.
fn counting_loop(clock: &FakeClock) -> (LoopingCall, Calls) {
    let log = Calls::default();
    let (record, now) = (log.clone(), clock.clone());
    let looping = LoopingCall::with_count(clock.clone(), move |count| {
        record.lock().unwrap().push((now.now().as_millis(), count));
    });
    (looping, log)
}

/// A call at `at` that keeps the clock busy for `busy` (a slow call blocking the loop).
fn slow_call_at(clock: &FakeClock, at: Duration, busy: Duration) {
    let inner = clock.clone();
    clock.call_later(at, move || inner.advance(busy));
}

// ---- stepping on the fake clock ----

#[test]
fn on_the_fake_clock_ten_seconds_at_one_second_run_ten_calls_on_time_counting_one() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let _stopped = looping.start(Duration::from_secs(1), false).unwrap();
    clock.advance(Duration::from_secs(10));
    let expected: Vec<(u128, u64)> = (1..=10).map(|second| (second * 1000, 1)).collect();
    assert_eq!(calls(&log), expected);
    looping.stop().unwrap();
}

/// Twisted's `testBasicFunction`: the first call at the start, then one per interval;
/// `stop` fires the Deferred with the loop and leaves nothing scheduled.
#[test]
fn started_now_the_loop_calls_at_once_then_every_interval_and_stop_fires_with_the_loop() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let mut stopped = looping.start(ms(100), true).unwrap();
    clock.pump(&[ms(50), ms(100), ms(100)]);
    assert_eq!(calls(&log), [(0, 1), (100, 1), (200, 1)]);
    assert_no_result(&mut stopped);
    assert!(looping.running());
    looping.stop().unwrap();
    let stopped = value(stopped);
    assert!(
        !stopped.running(),
        "the Deferred fires with the loop itself"
    );
    assert_eq!(clock.pending_calls(), 0);
}

/// Twisted's `testDelayedStart`.
#[test]
fn started_later_the_first_call_comes_after_one_interval() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let stopped = looping.start(ms(100), false).unwrap();
    clock.pump(&[ms(50), ms(100), ms(100)]);
    assert_eq!(calls(&log), [(100, 1), (200, 1)]);
    looping.stop().unwrap();
    value(stopped);
    assert_eq!(clock.pending_calls(), 0);
}

/// Twisted's `testStopAtOnce` and `testStoppingBeforeDelayedStart`.
#[test]
fn stopping_before_the_first_call_runs_nothing_and_leaves_nothing_scheduled() {
    for interval in [Duration::ZERO, Duration::from_secs(10)] {
        let clock = FakeClock::new();
        let (looping, log) = counting_loop(&clock);
        let stopped = looping.start(interval, false).unwrap();
        looping.stop().unwrap();
        value(stopped);
        assert_eq!(clock.pending_calls(), 0);
        clock.advance(Duration::from_secs(20));
        assert!(calls(&log).is_empty());
    }
}

/// Twisted's `test_reset`.
#[test]
fn reset_restarts_the_interval_from_now() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let _stopped = looping.start(Duration::from_secs(2), false).unwrap();
    clock.advance(Duration::from_secs(1));
    looping.reset().unwrap();
    clock.advance(Duration::from_secs(1));
    assert!(calls(&log).is_empty());
    clock.advance(Duration::from_secs(1));
    assert_eq!(calls(&log), [(3000, 1)]);
    clock.advance(Duration::from_secs(2));
    assert_eq!(calls(&log), [(3000, 1), (5000, 1)]);
    looping.stop().unwrap();
}

// ---- skipping and counting (lateness made with slow calls) ----

/// Twisted's `test_callbackTimeSkips`: a call that takes longer than the interval is
/// followed by a call at the next boundary still in the future.
#[test]
fn a_slow_call_makes_the_loop_skip_to_the_next_boundary_after_it_ends() {
    let clock = FakeClock::new();
    let busy_for = Arc::new(AtomicU64::new(2000));
    let log = Calls::default();
    let (record, inner, busy) = (log.clone(), clock.clone(), busy_for.clone());
    let looping = LoopingCall::new(clock.clone(), move || {
        record.lock().unwrap().push((inner.now().as_millis(), 0));
        inner.advance(ms(busy.load(Ordering::SeqCst)));
    });
    let _stopped = looping.start(ms(500), true).unwrap();
    assert_eq!(calls(&log), [(0, 0)]);
    assert_eq!(clock.now(), ms(2000));
    // A call was due at 2 s, but 2 s is the present, not the future: skipped.
    clock.advance(Duration::ZERO);
    assert_eq!(calls(&log), [(0, 0)]);

    busy_for.store(1000, Ordering::SeqCst);
    clock.advance(ms(500));
    assert_eq!(calls(&log), [(0, 0), (2500, 0)]);
    assert_eq!(clock.now(), ms(3500));
    clock.advance(Duration::ZERO);
    assert_eq!(calls(&log).len(), 2);

    busy_for.store(0, Ordering::SeqCst);
    clock.advance(ms(500));
    assert_eq!(calls(&log), [(0, 0), (2500, 0), (4000, 0)]);
    assert_eq!(clock.now(), ms(4000));
    looping.stop().unwrap();
}

/// Twisted's `test_reactorTimeCountSkips`, with the lateness made by another call that
/// keeps the loop busy rather than by a jumping clock.
#[test]
fn a_call_delayed_past_several_boundaries_counts_the_intervals_it_missed() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let _stopped = looping.start(ms(500), true).unwrap();
    // Something else keeps the loop busy from 0.6 s to 2.1 s.
    slow_call_at(&clock, ms(600), ms(1500));
    clock.advance(ms(2500));
    assert_eq!(calls(&log), [(0, 1), (500, 1), (2100, 3), (2500, 1)]);
    looping.stop().unwrap();
}

/// Twisted's `test_countLengthyIntervalCounts`: a call late by less than an interval
/// still counts 1.
#[test]
fn a_call_late_by_less_than_an_interval_counts_one() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let _stopped = looping.start(ms(500), true).unwrap();
    slow_call_at(&clock, ms(900), ms(475));
    clock.advance(ms(1500));
    assert_eq!(calls(&log), [(0, 1), (500, 1), (1375, 1), (1500, 1)]);
    looping.stop().unwrap();
}

/// Twisted's `test_withCountFloatingPointBoundary`: the counts add up to the intervals
/// elapsed and are never zero, with an interval that is not a whole number of anything.
#[test]
fn counts_add_up_to_the_intervals_elapsed_and_are_never_zero() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    let third = Duration::from_nanos(333_333_333);
    let _stopped = looping.start(third, false).unwrap();
    for _ in 0..30 {
        clock.advance(third);
    }
    slow_call_at(&clock, clock.now() + ms(10), Duration::from_secs(2));
    clock.advance(Duration::from_secs(3));
    let counts: Vec<u64> = calls(&log).iter().map(|&(_, count)| count).collect();
    assert!(!counts.contains(&0), "{counts:?}");
    let elapsed = clock.now().as_nanos() / third.as_nanos();
    assert_eq!(counts.iter().sum::<u64>() as u128, elapsed);
    looping.stop().unwrap();
}

// ---- calls that return Deferreds ----

/// Twisted's `testWaitDeferred`: the next call waits for the Deferred of the last one.
#[test]
fn a_call_returning_a_deferred_is_waited_for_before_the_next_is_scheduled() {
    let clock = FakeClock::new();
    let calls_made = Arc::new(AtomicUsize::new(0));
    let (count, timer) = (calls_made.clone(), clock.clone());
    let looping = LoopingCall::new(clock.clone(), move || {
        count.fetch_add(1, Ordering::SeqCst);
        sleep(&timer, Duration::from_secs(1))
    });
    let _stopped = looping.start(ms(200), true).unwrap();
    clock.advance(ms(900));
    assert_eq!(calls_made.load(Ordering::SeqCst), 1, "still waiting");
    assert!(looping.next_call().is_none());
    clock.advance(ms(100));
    // Finished at 1 s; the next boundary after that is 1.2 s.
    assert_eq!(looping.next_call().unwrap().time(), Some(ms(1200)));
    looping.stop().unwrap();
    assert_eq!(clock.pending_calls(), 0);
}

#[test]
fn a_call_returning_a_future_runs_through_from_future_and_is_waited_for() {
    let clock = FakeClock::new();
    let log = Calls::default();
    let (record, timer) = (log.clone(), clock.clone());
    let looping = LoopingCall::new(clock.clone(), move || {
        let (record, timer) = (record.clone(), timer.clone());
        Deferred::from_future(async move {
            sleep(&timer, ms(300)).await.unwrap();
            record.lock().unwrap().push((timer.now().as_millis(), 0));
        })
    });
    let _stopped = looping.start(Duration::from_secs(1), true).unwrap();
    clock.advance(Duration::from_secs(3));
    assert_eq!(calls(&log), [(300, 0), (1300, 0), (2300, 0)]);
    looping.stop().unwrap();
}

/// Twisted's `testFailurePropagation`.
#[test]
fn a_failing_deferred_from_a_call_fails_the_loop_and_stops_it() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        sleep(&timer, ms(300)).and_then(|()| Err::<(), Failure>(Failure::new("broken later")))
    });
    let mut stopped = looping.start(Duration::from_secs(1), true).unwrap();
    assert_no_result(&mut stopped);
    clock.advance(ms(300));
    assert_eq!(failure(stopped).to_string(), "broken later");
    assert!(!looping.running());
    assert_eq!(clock.pending_calls(), 0);
}

/// Twisted's `test_deferredWithCount`.
#[test]
fn a_deferred_that_fires_late_makes_the_next_call_count_the_missed_intervals() {
    let clock = FakeClock::new();
    let (first, finish_first) = Deferred::<()>::new();
    let first = Arc::new(Mutex::new(Some(first)));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let record = counts.clone();
    let looping = LoopingCall::with_count(clock.clone(), move |count| {
        record.lock().unwrap().push(count);
        match first.lock().unwrap().take() {
            Some(first) => first,
            None => Deferred::succeed(()),
        }
    });
    let _stopped = looping.start(ms(200), false).unwrap();
    assert!(counts.lock().unwrap().is_empty());
    clock.pump(&[ms(200), ms(400)]);
    assert_eq!(*counts.lock().unwrap(), [1]);
    finish_first.callback(()).unwrap();
    clock.pump(&[ms(200)]);
    assert_eq!(*counts.lock().unwrap(), [1, 3]);
    looping.stop().unwrap();
}

// ---- failures and stopping ----

/// Twisted's `testFailure`.
#[test]
fn a_failing_call_fails_the_loop_and_stops_it() {
    let clock = FakeClock::new();
    let looping = LoopingCall::new(clock.clone(), || Err::<(), Error>(Error::Cancelled));
    let stopped = looping.start(ms(100), true).unwrap();
    assert!(matches!(
        failure(stopped).downcast_ref::<Error>(),
        Some(Error::Cancelled)
    ));
    assert!(!looping.running());
    assert_eq!(clock.pending_calls(), 0);
}

/// Twisted's `testFailAndStop`.
#[test]
fn a_call_that_stops_the_loop_and_then_fails_fails_the_loop() {
    let clock = FakeClock::new();
    let slot = Arc::new(Mutex::new(None::<LoopingCall>));
    let handle = slot.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        let looping = handle.lock().unwrap().clone().unwrap();
        looping.stop().unwrap();
        Err::<(), Failure>(Failure::new("bar"))
    });
    *slot.lock().unwrap() = Some(looping.clone());
    let stopped = looping.start(ms(100), false).unwrap();
    clock.advance(ms(100));
    assert_eq!(failure(stopped).to_string(), "bar");
    slot.lock().unwrap().take();
}

#[test]
fn a_panicking_call_fails_the_loop_with_panicked() {
    let clock = FakeClock::new();
    let looping = LoopingCall::new(clock.clone(), || -> Result<(), Failure> { panic!("boom") });
    let stopped = looping.start(ms(100), true).unwrap();
    assert!(matches!(
        failure(stopped).downcast_ref::<Error>(),
        Some(Error::Panicked { message }) if message == "boom"
    ));
    assert!(!looping.running());
}

#[test]
fn a_call_that_stops_its_loop_ends_it_when_the_call_returns() {
    let clock = FakeClock::new();
    let slot = Arc::new(Mutex::new(None::<LoopingCall>));
    let ran = Arc::new(AtomicUsize::new(0));
    let (handle, count) = (slot.clone(), ran.clone());
    let looping = LoopingCall::new(clock.clone(), move || {
        if count.fetch_add(1, Ordering::SeqCst) == 2 {
            handle.lock().unwrap().take().unwrap().stop().unwrap();
        }
    });
    *slot.lock().unwrap() = Some(looping.clone());
    let stopped = looping.start(ms(100), true).unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(ran.load(Ordering::SeqCst), 3);
    value(stopped);
    assert_eq!(clock.pending_calls(), 0);
}

#[test]
fn starting_a_running_loop_and_stopping_or_resetting_a_stopped_one_are_errors() {
    let clock = FakeClock::new();
    let (looping, _log) = counting_loop(&clock);
    assert!(matches!(looping.stop(), Err(Error::LoopingCallNotRunning)));
    assert!(matches!(looping.reset(), Err(Error::LoopingCallNotRunning)));
    assert_eq!(looping.interval(), None);
    let first = looping.start(ms(100), false).unwrap();
    assert!(matches!(
        looping.start(ms(100), false),
        Err(Error::LoopingCallRunning)
    ));
    assert_eq!(looping.interval(), Some(ms(100)));
    looping.stop().unwrap();
    value(first);
    assert!(matches!(looping.stop(), Err(Error::LoopingCallNotRunning)));
    // A stopped loop starts again.
    let again = looping.start(ms(100), false).unwrap();
    looping.stop().unwrap();
    value(again);
}

#[test]
fn a_loop_stopped_while_its_call_is_under_way_cannot_start_until_the_call_finishes() {
    let clock = FakeClock::new();
    let (work, finish_work) = Deferred::<()>::new();
    let work = Arc::new(Mutex::new(Some(work)));
    let looping = LoopingCall::new(clock.clone(), move || {
        work.lock()
            .unwrap()
            .take()
            .unwrap_or_else(|| Deferred::succeed(()))
    });
    let mut stopped = looping.start(ms(100), true).unwrap();
    looping.stop().unwrap();
    assert_no_result(&mut stopped);
    assert!(matches!(
        looping.start(ms(100), true),
        Err(Error::LoopingCallRunning)
    ));
    finish_work.callback(()).unwrap();
    value(stopped);
    let again = looping.start(ms(100), false).unwrap();
    looping.stop().unwrap();
    value(again);
}

#[test]
fn a_running_loop_runs_on_when_every_handle_is_dropped() {
    let clock = FakeClock::new();
    let (looping, log) = counting_loop(&clock);
    looping.start(ms(100), false).unwrap().detach();
    drop(looping);
    clock.advance(ms(300));
    assert_eq!(calls(&log).len(), 3);
}

// ---- interval zero ----

/// Twisted's `test_withCountIntervalZero`, with the fake clock's rule: once per advance
/// (Twisted's clock runs all five in one `advance(0)`: its issue #5962).
#[test]
fn interval_zero_runs_once_per_advance_counting_one() {
    let clock = FakeClock::new();
    let slot = Arc::new(Mutex::new(None::<LoopingCall>));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let (handle, record) = (slot.clone(), counts.clone());
    let looping = LoopingCall::with_count(clock.clone(), move |count| {
        let mut counts = record.lock().unwrap();
        counts.push(count);
        if counts.len() == 5 {
            handle.lock().unwrap().take().unwrap().stop().unwrap();
        }
    });
    *slot.lock().unwrap() = Some(looping.clone());
    let mut stopped = looping.start(Duration::ZERO, false).unwrap();
    clock.advance(Duration::ZERO);
    assert_eq!(*counts.lock().unwrap(), [1]);
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        *counts.lock().unwrap(),
        [1, 1],
        "one call per advance, never a spin"
    );
    for _ in 0..3 {
        assert_no_result(&mut stopped);
        clock.advance(Duration::ZERO);
    }
    assert_eq!(*counts.lock().unwrap(), [1, 1, 1, 1, 1]);
    value(stopped);
}

/// Twisted's `test_withCountIntervalZeroDelay`.
#[test]
fn interval_zero_waits_for_a_deferred_and_then_goes_on_counting_one() {
    let clock = FakeClock::new();
    let (blocker, unblock) = Deferred::<()>::new();
    let blocker = Arc::new(Mutex::new(Some(blocker)));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let record = counts.clone();
    let looping = LoopingCall::with_count(clock.clone(), move |count| {
        let mut counts = record.lock().unwrap();
        counts.push(count);
        match counts.len() {
            2 => blocker.lock().unwrap().take().unwrap(),
            _ => Deferred::succeed(()),
        }
    });
    let _stopped = looping.start(Duration::ZERO, false).unwrap();
    clock.advance(Duration::ZERO);
    clock.advance(Duration::ZERO);
    assert_eq!(*counts.lock().unwrap(), [1, 1]);
    clock.advance(Duration::from_secs(2));
    assert_eq!(*counts.lock().unwrap(), [1, 1], "blocked on the Deferred");
    unblock.callback(()).unwrap();
    for _ in 0..3 {
        clock.advance(Duration::ZERO);
    }
    assert_eq!(*counts.lock().unwrap(), [1, 1, 1, 1, 1]);
    looping.stop().unwrap();
}

/// Twisted's `test_withCountIntervalZeroDelayThenNonZeroInterval`: after a change of
/// interval, the count measures from the last call.
#[test]
fn a_new_interval_applies_from_the_next_call_and_counts_from_the_last_call() {
    let clock = FakeClock::new();
    let (blocker, unblock) = Deferred::<()>::new();
    let blocker = Arc::new(Mutex::new(Some(blocker)));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let record = counts.clone();
    let looping = LoopingCall::with_count(clock.clone(), move |count| {
        let mut counts = record.lock().unwrap();
        counts.push(count);
        match counts.len() {
            2 => blocker.lock().unwrap().take().unwrap(),
            _ => Deferred::succeed(()),
        }
    });
    let _stopped = looping.start(Duration::ZERO, false).unwrap();
    clock.advance(Duration::from_secs(10));
    clock.advance(Duration::ZERO);
    assert_eq!(
        *counts.lock().unwrap(),
        [1, 1],
        "the second call was at 10 s"
    );
    looping.set_interval(Duration::from_secs(2));
    // The blocking call finishes at 15 s: the next boundary is 16 s, 3 intervals after
    // the last call's.
    clock.call_later(Duration::from_secs(5), move || {
        unblock.callback(()).unwrap()
    });
    clock.advance(Duration::from_secs(6));
    assert_eq!(*counts.lock().unwrap(), [1, 1, 3]);
    clock.advance(Duration::from_secs(2));
    assert_eq!(*counts.lock().unwrap(), [1, 1, 3, 1]);
    looping.stop().unwrap();
}

// ---- on the real reactor ----

/// Twisted's `testEveryIteration`.
#[test]
fn on_the_reactor_interval_zero_runs_until_stopped() {
    let reactor = Reactor::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new(None::<LoopingCall>));
    let (count, handle) = (ran.clone(), slot.clone());
    let looping = LoopingCall::new(reactor.clone(), move || {
        if count.fetch_add(1, Ordering::SeqCst) + 1 == 6 {
            handle.lock().unwrap().take().unwrap().stop().unwrap();
        }
    });
    *slot.lock().unwrap() = Some(looping.clone());
    let stopper = reactor.clone();
    reactor.call_when_running(move || {
        looping
            .start(Duration::ZERO, true)
            .unwrap()
            .add_callback(move |_| stopper.stop().unwrap())
            .detach();
    });
    run_bounded(&reactor);
    assert_eq!(ran.load(Ordering::SeqCst), 6);
}

/// Interval zero runs once per turn of the reactor's loop: another task polled once per
/// turn keeps pace with it (rather than seeing a burst of calls per turn).
#[test]
fn on_the_reactor_interval_zero_runs_once_per_loop_iteration() {
    const TURNS: usize = 200;
    let reactor = Reactor::new().unwrap();
    let calls_made = Arc::new(AtomicUsize::new(0));
    let count = calls_made.clone();
    let looping = LoopingCall::new(reactor.clone(), move || {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let (r, seen, looped) = (reactor.clone(), calls_made.clone(), looping.clone());
    reactor.call_when_running(move || {
        looped.start(Duration::ZERO, false).unwrap().detach();
        let stopper = r.clone();
        r.spawn(async move {
            for _ in 0..TURNS {
                tokio::task::yield_now().await;
            }
            let calls = seen.load(Ordering::SeqCst);
            looped.stop().unwrap();
            stopper.stop().unwrap();
            calls
        })
        .add_callback(|calls| {
            assert!(
                (TURNS / 2..=2 * TURNS + 2).contains(&calls),
                "{calls} calls in {TURNS} turns of the loop"
            );
        })
        .detach();
    });
    run_bounded(&reactor);
    assert!(calls_made.load(Ordering::SeqCst) >= TURNS / 2);
}

/// Twisted's `testStopAtOnceLater`.
#[test]
fn on_the_reactor_a_stop_from_a_timed_call_prevents_every_later_call() {
    let reactor = Reactor::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let count = ran.clone();
    let looping = LoopingCall::new(reactor.clone(), move || {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let r = reactor.clone();
    reactor.call_when_running(move || {
        let stopped = looping.start(Duration::from_secs(1), false).unwrap();
        let stopper = r.clone();
        r.call_later(Duration::ZERO, move || looping.stop().unwrap());
        stopped
            .add_callback(move |_| stopper.stop().unwrap())
            .detach();
    });
    run_bounded(&reactor);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

/// The skip and count rules on real time: a first call busy for 2.5 intervals is
/// followed by one at the 3rd boundary (not at 2.5, nor two in a row), counting the
/// intervals elapsed.
#[test]
fn on_the_reactor_a_slow_call_skips_the_boundaries_it_missed_and_the_next_counts_them() {
    const INTERVAL: Duration = Duration::from_millis(100);
    let reactor = Reactor::new().unwrap();
    let log = Calls::default();
    let start = Arc::new(Mutex::new(Duration::ZERO));
    let (record, clock, origin) = (log.clone(), reactor.clone(), start.clone());
    let looping = LoopingCall::with_count(reactor.clone(), move |count| {
        let since_start = clock.now() - *origin.lock().unwrap();
        let mut log = record.lock().unwrap();
        log.push((since_start.as_millis(), count));
        if log.len() == 1 {
            // A slow call: busy (not sleeping) for 2.5 intervals of the reactor's time.
            let until = clock.now() + INTERVAL * 5 / 2;
            while clock.now() < until {
                std::hint::spin_loop();
            }
        }
    });
    let (r, looped) = (reactor.clone(), looping.clone());
    let seen = log.clone();
    reactor.call_when_running(move || {
        *start.lock().unwrap() = r.now();
        looped.start(INTERVAL, true).unwrap().detach();
        let (stopper, watcher) = (r.clone(), r.clone());
        // Stop once the second call has happened (checked every few milliseconds).
        let checker = LoopingCall::new(watcher, move || {
            if seen.lock().unwrap().len() >= 2 {
                looped.stop().unwrap();
                stopper.stop().unwrap();
                return Err(Failure::new("done checking"));
            }
            Ok(())
        });
        checker
            .start(Duration::from_millis(5), false)
            .unwrap()
            .swallow_failure(|_| {})
            .detach();
    });
    run_bounded(&reactor);
    let log = calls(&log);
    assert_eq!(log[0].1, 1);
    let (second_at, second_count) = log[1];
    assert!(
        second_at >= 300,
        "the second call came at {second_at} ms, before the 3rd boundary"
    );
    assert_eq!(
        u128::from(second_count),
        second_at / INTERVAL.as_millis(),
        "the count is the number of intervals elapsed: {log:?}"
    );
    assert!(second_count >= 3);
}

#[test]
fn a_loop_still_running_when_the_reactor_stops_is_dropped_with_it() {
    let reactor = Reactor::new().unwrap();
    let token = Arc::new(());
    let held = token.clone();
    let looping = LoopingCall::new(reactor.clone(), move || {
        let _held = &held;
    });
    let (r, looped) = (reactor.clone(), looping.clone());
    reactor.call_when_running(move || {
        looped
            .start(Duration::from_secs(3600), false)
            .unwrap()
            .detach();
        let stopper = r.clone();
        r.call_later(Duration::ZERO, move || stopper.stop().unwrap());
    });
    run_bounded(&reactor);
    let next = looping.next_call().expect("the next call was scheduled");
    assert!(!next.active(), "a timed call not yet due never runs");
    drop((next, looping, reactor));
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the loop, its next call and the reactor it holds are freed"
    );
}

// ---- the async face: ticks ----

#[test]
fn ticks_come_at_once_then_every_interval_on_the_fake_clock() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let mut seen = Deferred::from_future(async move {
        let mut ticks = torsade::ticks(timer.clone(), Duration::from_secs(1));
        let mut seen = Vec::new();
        while let Some(count) = ticks.tick().await {
            seen.push((timer.now().as_millis(), count));
            if seen.len() == 11 {
                break;
            }
        }
        seen
    });
    assert_no_result(&mut seen);
    clock.advance(Duration::from_secs(10));
    let expected: Vec<(u128, u64)> = (0..=10).map(|second| (second * 1000, 1)).collect();
    assert_eq!(value(seen), expected);
    assert_eq!(
        clock.pending_calls(),
        0,
        "dropping the ticks stopped the loop"
    );
}

#[test]
fn a_consumer_late_for_a_tick_skips_the_ones_it_missed_and_the_next_counts_them() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let seen = Deferred::from_future(async move {
        let mut ticks = torsade::ticks(timer.clone(), Duration::from_secs(1));
        let mut seen = Vec::new();
        for _ in 0..4 {
            let count = ticks.tick().await.unwrap();
            seen.push((timer.now().as_millis(), count));
            if seen.len() == 1 {
                // Busy elsewhere for 2.5 s before asking for the next tick.
                sleep(&timer, ms(2500)).await.unwrap();
            }
        }
        seen
    });
    clock.advance(Duration::from_secs(5));
    // The tick offered at 1 s is taken at 2.5 s; the one due at 2 s is skipped, and the
    // next, at 3 s, counts the two intervals since the one at 1 s.
    assert_eq!(value(seen), [(0, 1), (2500, 1), (3000, 2), (4000, 1)]);
}

#[test]
fn ticks_are_a_stream_and_stopping_ends_it() {
    use futures::StreamExt;
    let clock = FakeClock::new();
    let timer = clock.clone();
    let seen = Deferred::from_future(async move {
        let mut ticks = torsade::ticks(timer, Duration::from_secs(1));
        let first = ticks.next().await;
        ticks.stop();
        (first, ticks.next().await, ticks.looping_call().running())
    });
    assert_eq!(value(seen), (Some(1), None, false));
    assert_eq!(clock.pending_calls(), 0);
}

#[test]
fn ticks_on_the_reactor_come_on_the_interval_boundaries() {
    const INTERVAL: Duration = Duration::from_millis(20);
    let reactor = Reactor::new().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (r, record) = (reactor.clone(), seen.clone());
    reactor.call_when_running(move || {
        let clock = r.clone();
        let stopper = r.clone();
        r.spawn(async move {
            let start = clock.now();
            let mut ticks = torsade::ticks(clock.clone(), INTERVAL);
            for _ in 0..4 {
                let count = ticks.tick().await.unwrap();
                record
                    .lock()
                    .unwrap()
                    .push(((clock.now() - start).as_nanos(), count));
            }
            stopper.stop().unwrap();
        })
        .detach();
    });
    run_bounded(&reactor);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let interval = INTERVAL.as_nanos();
    let mut total = 0;
    for (index, &(at, count)) in seen.iter().enumerate() {
        total += u128::from(count);
        // Tick n comes at the earliest at the boundary the counts so far add up to.
        assert!(
            at >= (total - 1) * interval,
            "tick {index} at {at} ns: {seen:?}"
        );
        assert!(count >= 1);
    }
}
