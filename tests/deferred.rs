//! Deferred: chains, errbacks, firing rules, chaining, and the Future face.

mod common;

use std::sync::{Arc, Mutex};

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
