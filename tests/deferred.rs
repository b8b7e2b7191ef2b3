//! Deferred: chains, errbacks, firing rules, chaining, callbacks added while a chain runs,
//! dropping deep nests, threads, and the Future face.

mod common;
mod deferred_helpers;

use std::sync::{Arc, Mutex};

use deferred_helpers::{assert_no_result, Seen};
use torsade::{Deferred, Error, Failure};

fn value<T: Send + 'static>(mut deferred: Deferred<T>) -> T {
    match deferred.take_result() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("expected a value, got {failure:?}"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

fn failure<T: Send + 'static>(mut deferred: Deferred<T>) -> Failure {
    match deferred.take_result() {
        Some(Err(failure)) => failure,
        Some(Ok(_)) => panic!("expected a failure, got a value"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

#[test]
fn callbacks_run_synchronously_when_fired() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (deferred, resolver) = Deferred::<u32>::new();
    let log = seen.clone();
    let chain = deferred.add_callback(move |n| log.lock().unwrap().push(n));
    assert!(seen.lock().unwrap().is_empty());
    resolver.callback(7).unwrap();
    assert_eq!(*seen.lock().unwrap(), [7]);
    value(chain);
}

#[test]
fn callback_added_after_firing_runs_immediately() {
    let deferred = Deferred::succeed(2);
    let seen = Arc::new(Mutex::new(None));
    let log = seen.clone();
    let _chain = deferred.add_callback(move |n| *log.lock().unwrap() = Some(n));
    assert_eq!(*seen.lock().unwrap(), Some(2));
}

#[test]
fn callbacks_transform_the_value_and_its_type() {
    let chain = Deferred::succeed(20)
        .add_callback(|n: u32| n + 1)
        .add_callback(|n| n * 2)
        .add_callback(|n| format!("<{n}>"));
    assert_eq!(value(chain), "<42>");
}

#[test]
fn firing_twice_is_an_error_not_a_panic() {
    let (deferred, resolver) = Deferred::new();
    resolver.callback(1).unwrap();
    assert!(matches!(resolver.callback(2), Err(Error::AlreadyCalled)));
    assert!(matches!(
        resolver.errback(Error::Cancelled),
        Err(Error::AlreadyCalled)
    ));
    assert_eq!(value(deferred), 1);
}

#[test]
fn cloned_resolvers_fire_the_same_deferred_once() {
    let (deferred, resolver) = Deferred::new();
    let other = resolver.clone();
    other.callback("first").unwrap();
    assert!(resolver.is_called());
    assert!(resolver.callback("second").is_err());
    assert_eq!(value(deferred), "first");
}

#[test]
fn errback_skips_callbacks_until_an_errback() {
    let skipped = Arc::new(Mutex::new(false));
    let flag = skipped.clone();
    let chain = Deferred::<u32>::fail(Error::Cancelled)
        .add_callback(move |n| {
            *flag.lock().unwrap() = true;
            n
        })
        .add_errback(|failure: Failure| {
            assert!(failure.is::<Error>());
            Ok::<u32, Failure>(99)
        });
    assert_eq!(value(chain), 99);
    assert!(!*skipped.lock().unwrap());
}

#[test]
fn errback_can_pass_the_failure_on() {
    let chain = Deferred::<u32>::fail(Error::Cancelled)
        .add_errback(|failure: Failure| Err::<u32, Failure>(failure))
        .add_callback(|n| n + 1);
    assert!(failure(chain).is::<Error>());
}

#[test]
fn errback_can_replace_the_failure() {
    let chain = Deferred::<u32>::fail(Error::Cancelled)
        .add_errback(|_| Err::<u32, _>(std::io::Error::other("replaced")));
    let failure = failure(chain);
    assert_eq!(failure.to_string(), "replaced");
    assert!(failure.downcast_ref::<std::io::Error>().is_some());
}

#[test]
fn values_pass_errbacks_untouched() {
    let chain = Deferred::succeed(5)
        .add_errback(|_| Ok::<i32, Failure>(0))
        .add_callback(|n| n * 10);
    assert_eq!(value(chain), 50);
}

#[test]
fn and_then_err_goes_down_the_errback_side() {
    let chain = Deferred::succeed("not a number")
        .and_then(|text| text.parse::<i32>())
        .add_callback(|n| n + 1);
    let failure = failure(chain);
    assert!(failure.downcast_ref::<std::num::ParseIntError>().is_some());
}

#[test]
fn add_callbacks_errback_does_not_see_its_own_callbacks_failure() {
    let errback_ran = Arc::new(Mutex::new(false));
    let flag = errback_ran.clone();
    let chain = Deferred::succeed(1).add_callbacks(
        |_| Err::<u32, _>(Error::Cancelled),
        move |failure| {
            *flag.lock().unwrap() = true;
            Err::<u32, _>(failure)
        },
    );
    assert!(failure(chain).is::<Error>());
    assert!(!*errback_ran.lock().unwrap());
}

#[test]
fn add_callbacks_uses_the_errback_for_an_earlier_failure() {
    let chain = Deferred::<u32>::fail(Error::Cancelled).add_callbacks(
        |n| Ok::<_, Failure>(n.to_string()),
        |_| Ok::<_, Failure>("recovered".to_string()),
    );
    assert_eq!(value(chain), "recovered");
}

#[test]
fn add_both_sees_values_and_failures() {
    let ok = Deferred::succeed(3)
        .add_both(|result: Result<u32, Failure>| Ok::<_, Failure>(format!("{:?}", result.ok())));
    assert_eq!(value(ok), "Some(3)");
    let bad = Deferred::<u32>::fail(Error::Cancelled)
        .add_both(|result: Result<u32, Failure>| Ok::<_, Failure>(result.is_err()));
    assert!(value(bad));
}

#[test]
fn add_both_can_pass_a_result_through() {
    let chain = Deferred::<u32>::fail(Error::Cancelled).add_both(|result| result);
    assert!(failure(chain).is::<Error>());
}

#[test]
fn a_panicking_callback_becomes_a_failure() {
    let chain = Deferred::succeed(1).add_callback(|_: i32| -> i32 { panic!("kaboom") });
    let failure = failure(chain);
    match failure.downcast_ref::<Error>() {
        Some(Error::Panicked { message }) => assert_eq!(message, "kaboom"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_callback_returning_a_deferred_waits_for_it() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let mut inner_slot = Some(inner);
    let mut chain = Deferred::succeed(())
        .and_then(move |()| inner_slot.take().unwrap())
        .add_callback(|n| n + 1);
    assert!(chain.take_result().is_none());
    inner_resolver.callback(41).unwrap();
    assert_eq!(value(chain), 42);
}

#[test]
fn a_callback_returning_a_fired_deferred_continues_at_once() {
    let chain = Deferred::succeed(2).and_then(|n| Deferred::succeed(n * 21));
    assert_eq!(value(chain), 42);
}

#[test]
fn a_failed_inner_deferred_fails_the_outer_chain() {
    let chain = Deferred::succeed(())
        .and_then(|()| Deferred::<u32>::fail(Error::Cancelled))
        .add_callback(|n| n + 1);
    assert!(failure(chain).is::<Error>());
}

#[test]
fn an_errback_returning_a_deferred_can_recover() {
    let chain = Deferred::<u32>::fail(Error::Cancelled).add_errback(|_| Deferred::succeed(8));
    assert_eq!(value(chain), 8);
}

#[test]
fn nested_deferreds_fire_from_the_innermost() {
    let (innermost, resolver) = Deferred::<u32>::new();
    let middle = Deferred::succeed(()).and_then(move |()| innermost);
    let outer = Deferred::succeed(()).and_then(move |()| middle.add_callback(|n| n * 2));
    let mut outer = outer.add_callback(|n| n + 1);
    assert!(outer.take_result().is_none());
    resolver.callback(10).unwrap();
    assert_eq!(value(outer), 21);
}

#[test]
fn a_chain_of_100_000_callbacks_does_not_overflow_the_stack() {
    let (mut chain, resolver) = Deferred::<u64>::new();
    for _ in 0..100_000 {
        chain = chain.add_callback(|n| n + 1);
    }
    resolver.callback(0).unwrap();
    assert_eq!(value(chain), 100_000);
}

#[test]
fn deferreds_nested_100_000_deep_do_not_overflow_the_stack() {
    let (innermost, resolver) = Deferred::<u64>::new();
    let mut chain = innermost;
    for _ in 0..100_000 {
        let inner = chain;
        chain = Deferred::succeed(()).and_then(move |()| inner.add_callback(|n| n + 1));
    }
    resolver.callback(0).unwrap();
    assert_eq!(value(chain), 100_000);
}

#[test]
fn a_deferred_fired_on_another_thread_runs_its_callbacks_there() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let chain = deferred.add_callback(|n| (n, std::thread::current().id()));
    let firer = std::thread::spawn(move || {
        resolver.callback(5).unwrap();
        std::thread::current().id()
    });
    let firer_id = firer.join().unwrap();
    let (n, ran_on) = value(chain);
    assert_eq!(n, 5);
    assert_eq!(ran_on, firer_id);
}

#[test]
fn awaiting_a_deferred_gives_its_result() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (deferred, resolver) = Deferred::<&str>::new();
    let chain = deferred.add_callback(str::len);
    std::thread::spawn(move || resolver.callback("hello").unwrap());
    assert_eq!(runtime.block_on(chain).unwrap(), 5);
}

#[test]
fn awaiting_a_failed_deferred_gives_its_failure() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = runtime.block_on(Deferred::<u32>::fail(Error::Cancelled));
    assert!(result.unwrap_err().is::<Error>());
}

#[test]
fn awaiting_waits_for_a_nested_deferred() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (inner, resolver) = Deferred::<u32>::new();
    let chain = Deferred::succeed(()).and_then(move |()| inner);
    std::thread::spawn(move || resolver.callback(3).unwrap());
    assert_eq!(runtime.block_on(chain).unwrap(), 3);
}

#[test]
fn an_unhandled_failure_is_logged_once_when_dropped() {
    let logs = common::capture_logs(|| {
        let chain = Deferred::<u32>::fail(Error::Cancelled).add_callback(|n| n + 1);
        drop(chain);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("the Deferred was cancelled"), "{logs}");
}

#[test]
fn a_handled_failure_is_not_logged() {
    let logs = common::capture_logs(|| {
        let recovered =
            Deferred::<u32>::fail(Error::Cancelled).add_errback(|_| Ok::<u32, Failure>(0));
        drop(recovered);
        let awaited = Deferred::<u32>::fail(Error::Cancelled);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(runtime.block_on(awaited).is_err());
        let chained = Deferred::succeed(()).and_then(|()| Deferred::<u32>::fail(Error::Cancelled));
        let mut chained = chained.add_errback(|_| Ok::<u32, Failure>(1));
        assert_eq!(chained.take_result().unwrap().unwrap(), 1);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn an_unfired_deferred_is_dropped_silently() {
    let logs = common::capture_logs(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        drop(deferred);
        drop(resolver);
    });
    assert!(logs.is_empty(), "{logs}");
}

#[test]
fn a_failure_fired_after_the_consumer_dropped_is_logged_when_the_resolver_goes() {
    let logs = common::capture_logs(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        drop(deferred);
        resolver.errback(Error::Cancelled).unwrap();
        drop(resolver);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
}

// Callbacks added while the chain runs, and the order of nested chains.

/// A slot where a test parks the tail of a chain so that its own callbacks can extend it.
type Tail<T> = Arc<Mutex<Option<Deferred<T>>>>;

#[test]
fn a_callback_added_by_a_running_callback_runs_after_it_at_the_end_of_the_chain() {
    let seen = Seen::default();
    let tail: Tail<()> = Arc::new(Mutex::new(None));
    let (deferred, resolver) = Deferred::<()>::new();
    let (log, slot) = (seen.clone(), tail.clone());
    let chain = deferred.add_callback(move |()| {
        log.push("1");
        // The tail is the chain after callback 2: extend it from inside callback 1.
        let rest = slot.lock().unwrap().take().unwrap();
        let log3 = log.clone();
        let rest = rest.add_callback(move |()| log3.push("3"));
        // It must not have run yet: callback 1 is still running.
        assert_eq!(log.get(), ["1"]);
        *slot.lock().unwrap() = Some(rest);
    });
    let log2 = seen.clone();
    *tail.lock().unwrap() = Some(chain.add_callback(move |()| log2.push("2")));
    resolver.callback(()).unwrap();
    assert_eq!(seen.get(), ["1", "2", "3"]);
    let rest = tail.lock().unwrap().take().unwrap();
    value(rest);
}

#[test]
fn a_failing_callback_added_by_a_running_callback_reaches_the_errbacks_after_it() {
    let tail: Tail<u32> = Arc::new(Mutex::new(None));
    let (deferred, resolver) = Deferred::<u32>::new();
    let slot = tail.clone();
    let chain = deferred.add_callback(move |n| {
        let rest = slot.lock().unwrap().take().unwrap();
        let rest = rest
            .and_then(|_: u32| Err::<u32, _>(std::io::Error::other("callback raised")))
            .add_errback(|failure: Failure| Ok::<u32, Failure>(failure.to_string().len() as u32));
        *slot.lock().unwrap() = Some(rest);
        n
    });
    *tail.lock().unwrap() = Some(chain);
    resolver.callback(1).unwrap();
    let rest = tail.lock().unwrap().take().unwrap();
    assert_eq!(value(rest), "callback raised".len() as u32);
}

#[test]
fn a_nested_deferreds_own_callbacks_run_before_the_outer_chain_continues() {
    let seen = Seen::default();
    let (third, third_resolver) = Deferred::<&str>::new();
    let log = seen.clone();
    let outer = Deferred::succeed("outer").and_then(move |result| {
        log.push(format!("start-of-cb {result}"));
        let (first_log, second_log) = (log.clone(), log.clone());
        Deferred::succeed("inner")
            .and_then(move |_| {
                first_log.push("firstCallback");
                third
            })
            .add_callback(move |result| {
                second_log.push(format!("secondCallback {result}"));
                result.repeat(2)
            })
    });
    let log = seen.clone();
    let mut outer = outer.add_callback(move |result| log.push(result));
    assert_no_result(&mut outer);
    third_resolver.callback("orange").unwrap();
    value(outer);
    assert_eq!(
        seen.get(),
        [
            "start-of-cb outer",
            "firstCallback",
            "secondCallback orange",
            "orangeorange"
        ]
    );
}

#[test]
fn callbacks_after_a_waiting_step_run_once_the_inner_chain_has_finished() {
    let seen = Seen::default();
    let (a, a_resolver) = Deferred::<&str>::new();
    let (outer, outer_resolver) = Deferred::<&str>::new();
    let log = seen.clone();
    let outer = outer
        .and_then(move |result| {
            log.push(format!("cb {result}"));
            let (first_log, second_log) = (log.clone(), log.clone());
            let (d, d_resolver) = Deferred::<()>::new();
            let returner = d
                .and_then(move |()| {
                    first_log.push("firstCallback");
                    torsade::gather_results([a])
                })
                .add_callback(move |results| {
                    second_log.push(format!("secondCallback {results:?}"))
                });
            d_resolver.callback(()).unwrap();
            returner
        })
        .add_callback({
            let log = seen.clone();
            move |()| log.push("final")
        });
    outer_resolver.callback("outer").unwrap();
    assert_eq!(seen.get(), ["cb outer", "firstCallback"]);
    a_resolver.callback("withers").unwrap();
    assert_eq!(
        seen.get(),
        [
            "cb outer",
            "firstCallback",
            "secondCallback [\"withers\"]",
            "final"
        ]
    );
    value(outer);
}

#[test]
fn adding_a_callback_to_a_spent_deferred_never_runs_it() {
    let mut deferred = Deferred::succeed(1);
    assert_eq!(deferred.take_result().unwrap().unwrap(), 1);
    let ran = Arc::new(Mutex::new(false));
    let flag = ran.clone();
    let mut chain = deferred.add_callback(move |n: i32| {
        *flag.lock().unwrap() = true;
        n
    });
    assert_no_result(&mut chain);
    assert!(!*ran.lock().unwrap());
}

// Dropping deep structures.

/// Runs `body` on a thread with a small stack, so that recursion would show.
fn on_small_stack(body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(body)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn dropping_100_000_nested_waiting_deferreds_does_not_overflow_the_stack() {
    on_small_stack(|| {
        let (innermost, resolver) = Deferred::<u64>::new();
        let mut chain = innermost;
        for _ in 0..100_000 {
            let inner = chain;
            chain = Deferred::succeed(()).and_then(move |()| inner.add_callback(|n| n + 1));
        }
        assert!(format!("{chain:?}").contains("waiting: true"));
        drop(chain);
        // The whole nest hangs off the innermost chain, which goes with its resolver.
        drop(resolver);
    });
}

#[test]
fn dropping_100_000_callbacks_each_holding_an_unfired_deferred_does_not_overflow_the_stack() {
    on_small_stack(|| {
        let (mut chain, _resolver) = Deferred::<u64>::new();
        let mut resolvers = Vec::new();
        for _ in 0..100_000 {
            let inner = chain;
            let (next, next_resolver) = Deferred::<()>::new();
            chain = next.and_then(move |()| inner);
            resolvers.push(next_resolver);
        }
        drop(resolvers);
        drop(chain);
    });
}

#[test]
fn a_failure_deep_in_a_dropped_nest_is_still_logged_once() {
    let logs = common::capture_logs(|| {
        let (inner, resolver) = Deferred::<u32>::new();
        let outer = Deferred::succeed(()).and_then(move |()| inner);
        drop(outer);
        resolver.errback(Error::Cancelled).unwrap();
        drop(resolver);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
}

#[test]
fn callbacks_added_on_one_thread_while_another_fires_each_run_once_in_order() {
    for _ in 0..50 {
        let (deferred, resolver) = Deferred::<Vec<u32>>::new();
        let firer = std::thread::spawn(move || resolver.callback(Vec::new()).unwrap());
        let mut chain = deferred;
        for step in 0..200 {
            chain = chain.add_callback(move |mut steps| {
                steps.push(step);
                steps
            });
        }
        firer.join().unwrap();
        assert_eq!(value(chain), (0..200).collect::<Vec<_>>());
    }
}

#[test]
fn a_callback_returning_its_own_deferred_fails_the_chain_instead_of_stalling() {
    let logs = common::capture_logs(|| {
        let tail: Tail<u32> = Arc::new(Mutex::new(None));
        let (deferred, resolver) = Deferred::<u32>::new();
        let slot = tail.clone();
        let chain = deferred.and_then(move |_| slot.lock().unwrap().take().unwrap());
        *tail.lock().unwrap() = Some(chain.add_callback(|n: u32| n + 1));
        resolver.callback(1).unwrap();
        let chain = tail.lock().unwrap().take();
        assert!(chain.is_none(), "the callback took the tail");
    });
    assert!(logs.contains("returned its own Deferred"), "{logs}");
    assert!(logs.contains("Unhandled error in Deferred"), "{logs}");
}

#[test]
fn deferred_types_are_send_sync_and_static() {
    fn assert_send_sync_static<T: Send + Sync + 'static>() {}
    assert_send_sync_static::<Deferred<u32>>();
    assert_send_sync_static::<torsade::Resolver<u32>>();
    assert_send_sync_static::<torsade::DeferredList<u32>>();
    assert_send_sync_static::<torsade::DeferredLock>();
    assert_send_sync_static::<torsade::LockGuard>();
    assert_send_sync_static::<torsade::DeferredSemaphore>();
    assert_send_sync_static::<torsade::SemaphorePermit>();
    assert_send_sync_static::<torsade::FirstError>();
}
