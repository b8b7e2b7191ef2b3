//! Deferred cancellation (with and without a canceller, forwarding to chained Deferreds)
//! and timeouts on the fake clock.

mod common;
mod deferred_helpers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deferred_helpers::*;
use torsade::testing::FakeClock;
use torsade::{Deferred, Error, Failure};

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    (count.clone(), count)
}

#[test]
fn cancelling_an_unfired_deferred_without_a_canceller_fails_it_with_cancelled() {
    let (deferred, _resolver) = Deferred::<u32>::new();
    let (deferred, seen) = watch(deferred);
    deferred.cancel();
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
    assert!(is_cancelled(&failure(deferred)));
}

#[test]
fn after_cancel_without_a_canceller_the_producers_next_callback_is_ignored_once() {
    let (deferred, resolver) = Deferred::<u32>::new();
    deferred.cancel();
    assert!(resolver.callback(1).is_ok());
    assert!(matches!(resolver.callback(2), Err(Error::AlreadyCalled)));
    assert!(matches!(
        resolver.errback(Error::Cancelled),
        Err(Error::AlreadyCalled)
    ));
    assert!(is_cancelled(&failure(deferred)));
}

#[test]
fn after_cancel_without_a_canceller_the_producers_next_errback_is_ignored_once() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let (deferred, seen) = watch(deferred);
    deferred.cancel();
    assert!(resolver.errback(std::io::Error::other("late")).is_ok());
    assert!(matches!(resolver.callback(2), Err(Error::AlreadyCalled)));
    // The chain still holds the cancellation, not the late failure.
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
    deferred.cancel();
    assert!(is_cancelled(&failure(deferred)));
}

#[test]
fn the_ignored_late_firing_is_logged_at_debug_level() {
    let logs = common::capture_logs(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        deferred.cancel();
        resolver.callback(1).unwrap();
        assert!(is_cancelled(&failure(deferred)));
    });
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(logs.contains("cancelled Deferred"), "{logs}");
}

#[test]
fn cancelling_twice_runs_the_canceller_once_and_keeps_the_first_failure() {
    let (count, calls) = counter();
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    });
    let (deferred, seen) = watch(deferred);
    deferred.cancel();
    deferred.cancel();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
}

#[test]
fn with_a_canceller_later_firings_are_not_swallowed() {
    let (count, calls) = counter();
    let (deferred, resolver) = Deferred::<u32>::with_canceller(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    });
    deferred.cancel();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(matches!(resolver.callback(1), Err(Error::AlreadyCalled)));
    assert!(matches!(
        resolver.errback(Error::Cancelled),
        Err(Error::AlreadyCalled)
    ));
    assert!(is_cancelled(&failure(deferred)));
}

#[test]
fn a_canceller_that_callbacks_gives_the_deferred_its_value() {
    let (deferred, _resolver) = cancelled_with("hello!");
    let (deferred, seen) = watch(deferred);
    deferred.cancel();
    assert_eq!(seen.get(), ["ok:\"hello!\""]);
    assert_eq!(value(deferred), "hello!");
}

#[test]
fn a_canceller_that_errbacks_gives_the_deferred_its_failure() {
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(|resolver| {
        resolver.errback(std::io::Error::other("stopped")).unwrap();
    });
    deferred.cancel();
    let failure = failure(deferred);
    assert_eq!(failure.to_string(), "stopped");
    assert!(failure.is::<std::io::Error>());
}

#[test]
fn the_canceller_fires_the_very_deferred_being_cancelled() {
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(|resolver| {
        assert!(!resolver.is_called());
        resolver.callback(7).unwrap();
        assert!(resolver.is_called());
    });
    let chain = deferred.add_callback(|n| n * 6);
    chain.cancel();
    assert_eq!(value(chain), 42);
}

#[test]
fn cancelling_a_fired_deferred_does_nothing_and_skips_the_canceller() {
    let (count, calls) = counter();
    let (deferred, resolver) = Deferred::<&str>::with_canceller(move |resolver| {
        calls.fetch_add(1, Ordering::SeqCst);
        resolver.errback(Error::Cancelled).unwrap();
    });
    resolver.callback("biff!").unwrap();
    deferred.cancel();
    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert_eq!(value(deferred), "biff!");

    let failed = Deferred::<u32>::fail(std::io::Error::other("first"));
    failed.cancel();
    assert_eq!(failure(failed).to_string(), "first");
}

#[test]
fn cancelling_any_typed_view_cancels_the_whole_chain() {
    let (count, calls) = counter();
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    });
    let text = deferred
        .add_callback(|n| n.to_string())
        .add_callback(|s| s.len());
    text.cancel();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(is_cancelled(&failure(text)));
}

#[test]
fn cancelling_a_deferred_waiting_on_another_cancels_the_inner_one() {
    let (inner_count, inner_calls) = counter();
    let (inner, _inner_resolver) = Deferred::<u32>::with_canceller(move |_| {
        inner_calls.fetch_add(1, Ordering::SeqCst);
    });
    let (outer, outer_resolver) = Deferred::<()>::with_canceller(|_| {
        panic!("the fired outer Deferred's canceller must not run");
    });
    outer_resolver.callback(()).unwrap();
    let (outer, seen) = watch(outer.and_then(move |()| inner));
    outer.cancel();
    assert_eq!(inner_count.load(Ordering::SeqCst), 1);
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
}

#[test]
fn a_cancelled_inner_deferreds_canceller_value_continues_the_outer_chain() {
    let (inner, _inner_resolver) = cancelled_with(5u32);
    let outer = Deferred::succeed(())
        .and_then(move |()| inner)
        .add_callback(|n| n * 2);
    outer.cancel();
    assert_eq!(value(outer), 10);
}

#[test]
fn cancel_goes_down_a_nest_of_100_000_waiting_deferreds() {
    let (count, calls) = counter();
    let (innermost, _resolver) = Deferred::<u64>::with_canceller(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    });
    let mut chain = innermost;
    for _ in 0..100_000 {
        let inner = chain;
        chain = Deferred::succeed(()).and_then(move |()| inner.add_callback(|n| n + 1));
    }
    chain.cancel();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(is_cancelled(&failure(chain)));
}

#[test]
fn cancelling_a_deferred_waiting_on_one_nobody_can_fire_fails_it_with_cancelled() {
    let outer = Deferred::succeed(())
        .and_then(|()| {
            let (orphan, resolver) = Deferred::<u32>::new();
            drop(resolver);
            orphan
        })
        .add_callback(|n| n + 1);
    outer.cancel();
    assert!(is_cancelled(&failure(outer)));
}

#[test]
fn cancelling_a_fired_deferred_that_is_not_waiting_does_nothing() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let outer = Deferred::succeed(()).and_then(move |()| inner);
    inner_resolver.callback(3).unwrap();
    outer.cancel();
    assert_eq!(value(outer), 3);
}

#[test]
fn the_canceller_is_dropped_once_the_deferred_fires() {
    let token = Arc::new(());
    let held = token.clone();
    let (deferred, resolver) = Deferred::<u32>::with_canceller(move |_| drop(held));
    assert_eq!(Arc::strong_count(&token), 2);
    resolver.callback(1).unwrap();
    assert_eq!(Arc::strong_count(&token), 1);
    assert_eq!(value(deferred), 1);
}

#[test]
fn a_panicking_canceller_is_logged_and_the_deferred_fails_with_cancelled() {
    let logs = common::capture_logs(|| {
        let (deferred, _resolver) =
            Deferred::<u32>::with_canceller(|_| panic!("canceller exploded"));
        deferred.cancel();
        assert!(is_cancelled(&failure(deferred)));
    });
    assert!(logs.contains("canceller panicked"), "{logs}");
    assert!(logs.contains("canceller exploded"), "{logs}");
}

#[test]
fn cancel_racing_a_firing_on_another_thread_gives_exactly_one_result() {
    for round in 0..200 {
        let (deferred, resolver) = Deferred::<u32>::new();
        let results = Arc::new(Mutex::new(Vec::new()));
        let log = results.clone();
        let deferred = deferred.add_both(move |result: Result<u32, Failure>| {
            log.lock().unwrap().push(result.is_ok());
            result
        });
        let firer = std::thread::spawn(move || resolver.callback(round).is_ok());
        deferred.cancel();
        assert!(
            firer.join().unwrap(),
            "a single late firing is never refused"
        );
        assert_eq!(results.lock().unwrap().len(), 1);
        let mut deferred = deferred;
        assert!(deferred.take_result().is_some());
    }
}

// Timeouts.

#[test]
fn a_deferred_that_fires_before_its_timeout_keeps_its_result_and_cancels_the_timer() {
    let clock = FakeClock::new();
    let (deferred, resolver) = Deferred::<&str>::new();
    let deferred = deferred
        .add_timeout(Duration::from_secs(10), &clock)
        .add_callback(|text| format!("{text}, done"));
    assert_eq!(clock.pending_calls(), 1);
    resolver.callback("results").unwrap();
    assert_eq!(clock.pending_calls(), 0);
    clock.advance(Duration::from_secs(15));
    assert_eq!(value(deferred), "results, done");
}

#[test]
fn a_deferred_that_times_out_fails_with_timeout() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let mut deferred = deferred.add_timeout(Duration::from_secs(10), &clock);
    clock.advance(Duration::from_secs(9));
    assert_no_result(&mut deferred);
    clock.advance(Duration::from_secs(1));
    let failure = failure(deferred);
    match failure.downcast_ref::<Error>() {
        Some(Error::Timeout { timeout }) => assert_eq!(*timeout, Duration::from_secs(10)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(failure.to_string(), "the Deferred timed out after 10s");
}

#[test]
fn a_failure_before_the_timeout_passes_unchanged() {
    let clock = FakeClock::new();
    let (deferred, resolver) = Deferred::<u32>::new();
    let deferred = deferred.add_timeout(Duration::from_secs(10), &clock);
    resolver.errback(std::io::Error::other("broken")).unwrap();
    clock.advance(Duration::from_secs(15));
    assert_eq!(failure(deferred).to_string(), "broken");
    assert_eq!(clock.pending_calls(), 0);
}

#[test]
fn cancelling_before_the_timeout_keeps_the_plain_cancelled() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let deferred = deferred.add_timeout(Duration::from_secs(10), &clock);
    deferred.cancel();
    assert_eq!(clock.pending_calls(), 0);
    clock.advance(Duration::from_secs(15));
    assert!(is_cancelled(&failure(deferred)));
}

#[test]
fn an_errback_added_before_the_timeout_sees_cancelled_and_the_result_becomes_timeout() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let (deferred, seen) = watch(deferred);
    let deferred = deferred.add_timeout(Duration::from_secs(10), &clock);
    clock.advance(Duration::from_secs(15));
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
    assert!(is_timeout(&failure(deferred)));
}

#[test]
fn an_errback_before_the_timeout_that_recovers_suppresses_the_timeout() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let deferred = deferred
        .add_errback(|failure: Failure| {
            assert!(is_cancelled(&failure));
            Ok::<u32, Failure>(0)
        })
        .add_timeout(Duration::from_secs(10), &clock);
    clock.advance(Duration::from_secs(15));
    assert_eq!(value(deferred), 0);
}

#[test]
fn a_canceller_that_fires_with_a_value_on_timeout_passes_its_value() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = cancelled_with("success");
    let (deferred, seen) = watch(deferred);
    let deferred = deferred.add_timeout(Duration::from_secs(10), &clock);
    clock.advance(Duration::from_secs(15));
    assert_eq!(seen.get(), ["ok:\"success\""]);
    assert_eq!(value(deferred), "success");
}

#[test]
fn the_timeout_does_not_cover_callbacks_added_after_it() {
    let clock = FakeClock::new();
    let (deferred, resolver) = Deferred::<&str>::new();
    let (inner, _inner_resolver) = Deferred::<u32>::new();
    let mut deferred = deferred
        .add_timeout(Duration::from_secs(10), &clock)
        .and_then(move |_| inner);
    resolver.callback("results").unwrap();
    clock.advance(Duration::from_secs(15));
    // Had the timeout fired, it would have cancelled `inner` through the chain.
    assert_no_result(&mut deferred);
}

#[test]
fn a_timeout_on_a_deferred_waiting_on_another_cancels_the_inner_one() {
    let clock = FakeClock::new();
    let (count, calls) = counter();
    let (inner, _inner_resolver) = Deferred::<u32>::with_canceller(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    });
    let deferred = Deferred::succeed(())
        .and_then(move |()| inner)
        .add_timeout(Duration::from_secs(2), &clock);
    clock.advance(Duration::from_secs(2));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(is_timeout(&failure(deferred)));
}

#[test]
fn cancelling_deferreds_that_wait_on_each_other_in_a_cycle_returns() {
    type Slot = Arc<Mutex<Option<Deferred<u32>>>>;
    let logs = common::capture_logs(|| {
        let clock = FakeClock::new();
        let (slot_a, slot_b): (Slot, Slot) = Default::default();
        let (d1, r1) = Deferred::<u32>::new();
        let (d2, r2) = Deferred::<u32>::new();
        let take_b = slot_b.clone();
        let a = d1
            .and_then(move |_| take_b.lock().unwrap().take().unwrap())
            .add_timeout(Duration::from_secs(1), &clock);
        let take_a = slot_a.clone();
        let b = d2.and_then(move |_| take_a.lock().unwrap().take().unwrap());
        *slot_a.lock().unwrap() = Some(a);
        *slot_b.lock().unwrap() = Some(b);
        r1.callback(1).unwrap(); // a waits on b
        r2.callback(2).unwrap(); // b waits on a
        clock.advance(Duration::from_secs(1)); // the timeout cancels a
    });
    assert!(logs.contains("cycle"), "{logs}");
}

// Timeouts with `on_timeout` (Twisted's `onTimeoutCancel`; its `*Custom` tests, with
// `_overrideFunc` answering "OVERRIDDEN" to anything).

fn overridden<T>(_: Result<T, Failure>, _: Duration) -> Result<&'static str, Failure> {
    Ok("OVERRIDDEN")
}

/// Twisted's `test_timedOutCustom`.
#[test]
fn on_timeout_decides_the_result_of_a_deferred_that_timed_out() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<&str>::new();
    let mut deferred = deferred.add_timeout_with(Duration::from_secs(10), &clock, overridden);
    assert_no_result(&mut deferred);
    clock.advance(Duration::from_secs(15));
    assert_eq!(value(deferred), "OVERRIDDEN");
}

#[test]
fn on_timeout_receives_the_cancelled_failure_and_the_timeout() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let received = Arc::new(Mutex::new(None));
    let record = received.clone();
    let deferred =
        deferred.add_timeout_with(Duration::from_secs(3), &clock, move |result, timeout| {
            *record.lock().unwrap() = Some((result.as_ref().err().map(is_cancelled), timeout));
            result
        });
    clock.advance(Duration::from_secs(3));
    assert_eq!(
        *received.lock().unwrap(),
        Some((Some(true), Duration::from_secs(3)))
    );
    assert!(is_cancelled(&failure(deferred)));
}

/// Twisted's `test_successResultBeforeTimeoutCustom` and
/// `test_failureBeforeTimeoutCustom`.
#[test]
fn on_timeout_is_not_called_for_a_result_that_arrives_in_time() {
    let clock = FakeClock::new();
    let (deferred, resolver) = Deferred::<&str>::new();
    let (inner, _inner_resolver) = Deferred::<&str>::new();
    let mut deferred = deferred
        .add_timeout_with(Duration::from_secs(10), &clock, overridden)
        .and_then(move |_| inner);
    resolver.callback("results").unwrap();
    clock.advance(Duration::from_secs(15));
    // The timeout did not fire: it would have cancelled `inner` through the chain.
    assert_no_result(&mut deferred);

    let (failing, resolver) = Deferred::<&str>::new();
    let failing = failing.add_timeout_with(Duration::from_secs(10), &clock, overridden);
    resolver.errback(std::io::Error::other("fail")).unwrap();
    clock.advance(Duration::from_secs(15));
    assert_eq!(failure(failing).to_string(), "fail");
    drop(deferred);
}

/// Twisted's `test_cancelBeforeTimeoutCustom`.
#[test]
fn on_timeout_is_not_called_for_a_cancellation_by_someone_else() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<&str>::new();
    let deferred = deferred.add_timeout_with(Duration::from_secs(10), &clock, overridden);
    deferred.cancel();
    clock.advance(Duration::from_secs(15));
    assert!(is_cancelled(&failure(deferred)));
}

/// Twisted's `test_providedCancelCalledBeforeTimeoutCustom`.
#[test]
fn on_timeout_decides_even_when_the_canceller_failed_the_deferred_otherwise() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = Deferred::<&str>::with_canceller(|resolver| {
        resolver.errback(std::io::Error::other("what!")).unwrap();
    });
    let deferred = deferred.add_timeout_with(Duration::from_secs(10), &clock, overridden);
    clock.advance(Duration::from_secs(15));
    assert_eq!(value(deferred), "OVERRIDDEN");
}

/// Twisted's `test_errbackAddedBeforeTimeoutCustom` and
/// `test_errbackAddedBeforeTimeoutSuppressesCancellationCustom`.
#[test]
fn on_timeout_decides_after_errbacks_added_before_it_whatever_they_did() {
    for recover in [false, true] {
        let clock = FakeClock::new();
        let (deferred, _resolver) = Deferred::<&str>::new();
        let (deferred, seen) = watch(deferred);
        let deferred = deferred
            .add_errback(move |failure: Failure| {
                if recover {
                    Ok("recovered")
                } else {
                    Err(failure)
                }
            })
            .add_timeout_with(Duration::from_secs(10), &clock, overridden);
        clock.advance(Duration::from_secs(15));
        assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
        assert_eq!(value(deferred), "OVERRIDDEN");
    }
}

/// Twisted's `test_callbackAddedToCancelerBeforeTimeoutCustom`: a canceller that
/// succeeds, and on_timeout is applied to that success too.
#[test]
fn on_timeout_is_applied_to_a_success_the_canceller_produced() {
    let clock = FakeClock::new();
    let (deferred, _resolver) = cancelled_with("success");
    let (deferred, seen) = watch(deferred);
    let deferred = deferred.add_timeout_with(Duration::from_secs(10), &clock, overridden);
    clock.advance(Duration::from_secs(15));
    assert_eq!(seen.get(), ["ok:\"success\""]);
    assert_eq!(value(deferred), "OVERRIDDEN");
}
