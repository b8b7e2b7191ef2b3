//! The clock rules, pinned on the fake clock (the reactor runs the same queue code).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use torsade::testing::FakeClock;
use torsade::{Clock, ClockExt, DelayedCall, Error};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn record(clock: &FakeClock, log: &Log, delay_ms: u64, name: &str) -> DelayedCall {
    let (log, name, now) = (log.clone(), name.to_string(), clock.clone());
    clock.call_later(Duration::from_millis(delay_ms), move || {
        log.lock()
            .unwrap()
            .push(format!("{name}@{}", now.now().as_millis()));
    })
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn calls_run_in_due_time_order() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 30, "c");
    record(&clock, &log, 10, "a");
    record(&clock, &log, 20, "b");
    clock.advance(30 * MS);
    assert_eq!(entries(&log), ["a@10", "b@20", "c@30"]);
}

#[test]
fn calls_due_at_the_same_time_run_in_the_order_scheduled() {
    let (clock, log) = (FakeClock::new(), log());
    for name in ["1", "2", "3", "4", "5", "6", "7", "8"] {
        record(&clock, &log, 5, name);
    }
    clock.advance(5 * MS);
    assert_eq!(
        entries(&log),
        ["1@5", "2@5", "3@5", "4@5", "5@5", "6@5", "7@5", "8@5"]
    );
}

#[test]
fn calls_not_yet_due_do_not_run() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 10, "later");
    clock.advance(9 * MS);
    assert!(entries(&log).is_empty());
    assert_eq!(clock.pending_calls(), 1);
    clock.advance(MS);
    assert_eq!(entries(&log), ["later@10"]);
}

#[test]
fn a_cancelled_call_never_runs() {
    let (clock, log) = (FakeClock::new(), log());
    let call = record(&clock, &log, 10, "x");
    call.cancel().unwrap();
    assert!(!call.active());
    clock.advance(20 * MS);
    assert!(entries(&log).is_empty());
    assert_eq!(clock.pending_calls(), 0);
}

#[test]
fn cancelling_twice_or_after_running_is_an_error() {
    let (clock, log) = (FakeClock::new(), log());
    let cancelled = record(&clock, &log, 10, "x");
    cancelled.cancel().unwrap();
    assert!(matches!(
        cancelled.cancel(),
        Err(Error::DelayedCallAlreadyCancelled)
    ));
    assert!(matches!(
        cancelled.reset(MS),
        Err(Error::DelayedCallAlreadyCancelled)
    ));
    let ran = record(&clock, &log, 10, "y");
    clock.advance(10 * MS);
    assert!(matches!(ran.cancel(), Err(Error::DelayedCallAlreadyCalled)));
    assert!(matches!(
        ran.delay(MS),
        Err(Error::DelayedCallAlreadyCalled)
    ));
}

#[test]
fn a_call_cannot_cancel_itself() {
    let clock = FakeClock::new();
    let slot: Arc<Mutex<Option<DelayedCall>>> = Arc::new(Mutex::new(None));
    let outcome = Arc::new(Mutex::new(None));
    let (s, o) = (slot.clone(), outcome.clone());
    let call = clock.call_later(MS, move || {
        let me = s.lock().unwrap().clone().unwrap();
        *o.lock().unwrap() = Some(matches!(me.cancel(), Err(Error::DelayedCallAlreadyCalled)));
    });
    *slot.lock().unwrap() = Some(call);
    clock.advance(MS);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
}

#[test]
fn reset_moves_the_call_relative_to_now() {
    let (clock, log) = (FakeClock::new(), log());
    let call = record(&clock, &log, 10, "x");
    clock.advance(5 * MS);
    call.reset(10 * MS).unwrap();
    assert_eq!(call.time(), Some(15 * MS));
    clock.advance(9 * MS);
    assert!(entries(&log).is_empty());
    clock.advance(MS);
    assert_eq!(entries(&log), ["x@15"]);
}

#[test]
fn reset_earlier_runs_earlier() {
    let (clock, log) = (FakeClock::new(), log());
    let call = record(&clock, &log, 100, "x");
    call.reset(3 * MS).unwrap();
    clock.advance(3 * MS);
    assert_eq!(entries(&log), ["x@3"]);
}

#[test]
fn delay_adds_to_the_due_time() {
    let (clock, log) = (FakeClock::new(), log());
    let call = record(&clock, &log, 10, "x");
    call.delay(5 * MS).unwrap();
    call.delay(5 * MS).unwrap();
    assert_eq!(call.time(), Some(20 * MS));
    clock.advance(19 * MS);
    assert!(entries(&log).is_empty());
    clock.advance(MS);
    assert_eq!(entries(&log), ["x@20"]);
}

#[test]
fn a_reset_call_keeps_its_place_among_calls_due_at_its_new_time() {
    let (clock, log) = (FakeClock::new(), log());
    let moved = record(&clock, &log, 5, "moved");
    record(&clock, &log, 10, "second");
    moved.reset(10 * MS).unwrap();
    record(&clock, &log, 10, "last");
    clock.advance(10 * MS);
    assert_eq!(entries(&log), ["moved@10", "second@10", "last@10"]);
}

#[test]
fn a_call_reset_to_the_time_of_an_earlier_scheduled_call_runs_after_it() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 10, "first");
    let moved = record(&clock, &log, 5, "moved");
    moved.reset(10 * MS).unwrap();
    clock.advance(10 * MS);
    assert_eq!(entries(&log), ["first@10", "moved@10"]);
}

#[test]
fn a_delayed_call_keeps_its_place_among_calls_due_at_its_new_time() {
    let (clock, log) = (FakeClock::new(), log());
    let delayed = record(&clock, &log, 4, "delayed");
    record(&clock, &log, 10, "other");
    delayed.delay(6 * MS).unwrap();
    clock.advance(10 * MS);
    assert_eq!(entries(&log), ["delayed@10", "other@10"]);
}

#[test]
fn a_call_moved_earlier_keeps_its_place_among_calls_due_at_its_new_time() {
    let (clock, log) = (FakeClock::new(), log());
    let early = record(&clock, &log, 50, "early");
    record(&clock, &log, 10, "other");
    early.reset(10 * MS).unwrap();
    clock.advance(10 * MS);
    assert_eq!(entries(&log), ["early@10", "other@10"]);
}

/// Twisted's `test_callLaterKeepsCallsOrdered`.
#[test]
fn a_call_reset_later_runs_after_a_call_scheduled_between() {
    let (clock, log) = (FakeClock::new(), log());
    let a = record(&clock, &log, 1000, "a");
    a.reset(Duration::from_secs(3)).unwrap();
    record(&clock, &log, 2000, "b");
    clock.pump(&[Duration::from_secs(1); 3]);
    assert_eq!(entries(&log), ["b@2000", "a@3000"]);
}

/// Twisted's `test_callLaterResetKeepsCallsOrdered`.
#[test]
fn a_call_reset_past_a_later_call_runs_after_it() {
    let (clock, log) = (FakeClock::new(), log());
    let a = record(&clock, &log, 1000, "a");
    record(&clock, &log, 2000, "b");
    a.reset(Duration::from_secs(3)).unwrap();
    clock.pump(&[Duration::from_secs(1); 3]);
    assert_eq!(entries(&log), ["b@2000", "a@3000"]);
}

/// Twisted's `test_callLaterResetInsideCallKeepsCallsOrdered`.
#[test]
fn a_call_reset_from_inside_another_call_keeps_the_order() {
    let (clock, log) = (FakeClock::new(), log());
    let b = record(&clock, &log, 2000, "b");
    clock.call_later(Duration::from_secs(1), move || {
        b.reset(Duration::from_secs(3)).unwrap();
    });
    record(&clock, &log, 3000, "c");
    clock.pump(&[Duration::from_millis(500); 10]);
    assert_eq!(entries(&log), ["c@3000", "b@4000"]);
}

#[test]
fn each_call_sees_its_own_due_time_as_now() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 250, "a");
    record(&clock, &log, 750, "b");
    clock.advance(Duration::from_secs(1));
    assert_eq!(entries(&log), ["a@250", "b@750"]);
    assert_eq!(clock.now(), Duration::from_secs(1));
}

#[test]
fn a_heartbeat_runs_once_per_period_within_one_advance() {
    fn beat(clock: FakeClock, log: Log) {
        log.lock()
            .unwrap()
            .push(format!("{}", clock.now().as_secs()));
        let next = clock.clone();
        clock.call_later(Duration::from_secs(1), move || beat(next, log));
    }
    let (clock, log) = (FakeClock::new(), log());
    let (c, l) = (clock.clone(), log.clone());
    clock.call_later(Duration::from_secs(1), move || beat(c, l));
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        entries(&log),
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    );
}

#[test]
fn a_zero_delay_call_scheduled_while_advancing_waits_for_the_next_advance() {
    fn respin(clock: FakeClock, count: Arc<Mutex<u32>>) {
        *count.lock().unwrap() += 1;
        let next = clock.clone();
        clock.call_later(Duration::ZERO, move || respin(next, count));
    }
    let clock = FakeClock::new();
    let count = Arc::new(Mutex::new(0));
    let (c, n) = (clock.clone(), count.clone());
    clock.call_later(Duration::ZERO, move || respin(c, n));
    clock.advance(Duration::ZERO);
    assert_eq!(*count.lock().unwrap(), 1);
    clock.advance(Duration::ZERO);
    assert_eq!(*count.lock().unwrap(), 2);
    clock.advance(Duration::from_secs(5));
    assert_eq!(*count.lock().unwrap(), 3);
}

#[test]
fn a_call_scheduled_before_advancing_with_zero_delay_runs_on_advance_zero() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 0, "now");
    clock.advance(Duration::ZERO);
    assert_eq!(entries(&log), ["now@0"]);
}

#[test]
fn pump_advances_step_by_step() {
    let (clock, log) = (FakeClock::new(), log());
    record(&clock, &log, 15, "x");
    clock.pump(&[10 * MS, 10 * MS]);
    assert_eq!(entries(&log), ["x@15"]);
    assert_eq!(clock.now(), 20 * MS);
}

#[test]
fn a_panicking_call_propagates_and_the_rest_wait_for_the_next_advance() {
    let (clock, log) = (FakeClock::new(), log());
    clock.call_later(MS, || panic!("boom"));
    record(&clock, &log, 2, "after");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clock.advance(5 * MS)));
    assert!(outcome.is_err());
    assert!(entries(&log).is_empty());
    assert_eq!(clock.now(), MS);
    clock.advance(Duration::ZERO);
    assert!(entries(&log).is_empty());
    clock.advance(MS);
    assert_eq!(entries(&log), ["after@2"]);
}

#[test]
fn a_call_reset_many_times_runs_once_at_its_last_due_time() {
    let (clock, log) = (FakeClock::new(), log());
    let idle_timeout = record(&clock, &log, 1000, "timeout");
    for _ in 0..100_000 {
        clock.advance(MS);
        idle_timeout.reset(Duration::from_millis(1000)).unwrap();
    }
    assert!(entries(&log).is_empty());
    assert_eq!(clock.pending_calls(), 1);
    clock.advance(Duration::from_millis(1000));
    assert_eq!(entries(&log).len(), 1);
}

#[test]
fn cancelling_many_calls_releases_them() {
    let clock = FakeClock::new();
    let calls: Vec<DelayedCall> = (0..10_000)
        .map(|i| clock.call_later(Duration::from_secs(i), || {}))
        .collect();
    for call in &calls {
        call.cancel().unwrap();
    }
    assert_eq!(clock.pending_calls(), 0);
    clock.advance(Duration::from_secs(20_000));
}

#[test]
fn a_dyn_clock_schedules_like_a_concrete_one() {
    let fake = FakeClock::new();
    let clock: Arc<dyn Clock> = Arc::new(fake.clone());
    let ran = Arc::new(Mutex::new(false));
    let flag = ran.clone();
    clock.call_later(MS, move || *flag.lock().unwrap() = true);
    fake.advance(MS);
    assert!(*ran.lock().unwrap());
}

// ---- slow calls: `advance` from inside a call ----

/// Schedules a call at `at_ms` that is busy for `busy_ms` (it advances the clock), and logs
/// the time it ends.
fn slow(clock: &FakeClock, log: &Log, at_ms: u64, busy_ms: u64) {
    let (log, inner) = (log.clone(), clock.clone());
    clock.call_later(Duration::from_millis(at_ms), move || {
        inner.advance(Duration::from_millis(busy_ms));
        log.lock()
            .unwrap()
            .push(format!("slow ends@{}", inner.now().as_millis()));
    });
}

#[test]
fn a_call_that_advances_the_clock_moves_time_on_from_its_own_time() {
    let (clock, log) = (FakeClock::new(), log());
    slow(&clock, &log, 1000, 3000);
    clock.advance(Duration::from_secs(2));
    assert_eq!(entries(&log), ["slow ends@4000"]);
    assert_eq!(clock.now(), Duration::from_secs(4));
}

#[test]
fn calls_due_during_a_slow_call_run_after_it_late_and_in_due_order() {
    let (clock, log) = (FakeClock::new(), log());
    slow(&clock, &log, 1000, 3000);
    record(&clock, &log, 3000, "due at 3");
    record(&clock, &log, 2000, "due at 2");
    record(&clock, &log, 6000, "due at 6");
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        entries(&log),
        [
            "slow ends@4000",
            "due at 2@4000",
            "due at 3@4000",
            "due at 6@6000"
        ]
    );
    assert_eq!(clock.now(), Duration::from_secs(10));
}

#[test]
fn nothing_else_runs_while_a_call_is_slow() {
    let (clock, during) = (FakeClock::new(), log());
    let log = log();
    let (inner, seen, seen_during) = (clock.clone(), log.clone(), during.clone());
    clock.call_later(MS, move || {
        inner.advance(10 * MS);
        *seen_during.lock().unwrap() = entries(&seen);
    });
    record(&clock, &log, 5, "x");
    clock.advance(MS);
    assert!(entries(&during).is_empty(), "ran during the slow call");
    assert_eq!(entries(&log), ["x@11"]);
}

#[test]
fn a_call_scheduled_by_a_slow_call_runs_at_its_own_time_within_the_advance() {
    let (clock, log) = (FakeClock::new(), log());
    let (inner, later) = (clock.clone(), log.clone());
    clock.call_later(Duration::from_secs(1), move || {
        inner.advance(Duration::from_secs(2));
        record(&inner, &later, 500, "scheduled after");
    });
    clock.advance(Duration::from_secs(5));
    assert_eq!(entries(&log), ["scheduled after@3500"]);
}

#[test]
fn a_zero_delay_call_scheduled_by_a_slow_call_waits_for_the_next_advance() {
    let (clock, log) = (FakeClock::new(), log());
    let (inner, later) = (clock.clone(), log.clone());
    clock.call_later(Duration::from_secs(1), move || {
        inner.advance(Duration::from_secs(2));
        record(&inner, &later, 0, "zero");
    });
    clock.advance(Duration::from_secs(5));
    assert!(entries(&log).is_empty());
    clock.advance(Duration::ZERO);
    assert_eq!(entries(&log), ["zero@5000"]);
}

#[test]
fn an_advance_from_another_thread_during_an_advance_is_ignored() {
    let clock = FakeClock::new();
    let other = clock.clone();
    clock.call_later(Duration::from_secs(1), move || {
        std::thread::spawn(move || other.advance(Duration::from_secs(100)))
            .join()
            .unwrap();
    });
    clock.advance(Duration::from_secs(2));
    assert_eq!(clock.now(), Duration::from_secs(2));
}
