//! Handing results on and ending failures: `Resolver::resolve`, `chain_deferred`
//! (Twisted's `chainDeferred`), and the errbacks that need no type annotations.

mod common;
mod deferred_helpers;

use std::sync::{Arc, Mutex};

use common::capture_logs;
use deferred_helpers::{assert_no_result, failure, is_cancelled, on_small_stack, value, watch};
use torsade::{Deferred, Error, Failure};

// ---- Resolver::resolve ----

#[test]
fn resolve_fires_with_the_value_of_an_ok() {
    let (deferred, resolver) = Deferred::<u32>::new();
    resolver.resolve(Ok::<u32, Error>(5)).unwrap();
    assert_eq!(value(deferred), 5);
}

#[test]
fn resolve_fails_with_the_error_of_an_err() {
    let (deferred, resolver) = Deferred::<u32>::new();
    resolver.resolve("nope".parse::<u32>()).unwrap();
    assert!(failure(deferred).is::<std::num::ParseIntError>());
}

#[test]
fn resolving_twice_is_already_called() {
    let (deferred, resolver) = Deferred::<u32>::new();
    resolver.resolve(Ok::<u32, Error>(1)).unwrap();
    assert!(matches!(
        resolver.resolve(Err::<u32, Error>(Error::Cancelled)),
        Err(Error::AlreadyCalled)
    ));
    assert_eq!(value(deferred), 1);
}

// ---- chain_deferred ----

/// Twisted's `chainDeferred`: the other Deferred gets the result, this one goes on with
/// nothing (`None` there, `()` here).
#[test]
fn chain_deferred_hands_the_value_on_and_goes_on_with_unit() {
    let (source, fire_source) = Deferred::<u32>::new();
    let (target, target_resolver) = Deferred::<u32>::new();
    let (target, seen) = watch(target);
    let mut source = source.chain_deferred(target_resolver);
    assert_no_result(&mut source);
    fire_source.callback(7).unwrap();
    assert_eq!(seen.get(), ["ok:7"]);
    assert_eq!(value(target), 7);
    value(source);
}

#[test]
fn chain_deferred_hands_a_failure_on_and_this_chain_does_not_hold_it() {
    let logs = capture_logs(|| {
        let (source, fire_source) = Deferred::<u32>::new();
        let (target, target_resolver) = Deferred::<u32>::new();
        let source = source.chain_deferred(target_resolver);
        fire_source.errback(Error::Cancelled).unwrap();
        assert!(is_cancelled(&failure(target)));
        value(source);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn chain_deferred_to_an_already_fired_resolver_fails_this_chain_with_already_called() {
    let (target, target_resolver) = Deferred::<u32>::new();
    target_resolver.callback(1).unwrap();
    let source = Deferred::succeed(2).chain_deferred(target_resolver);
    let failure = failure(source);
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::AlreadyCalled)
    ));
    assert_eq!(value(target), 1);
}

#[test]
fn chain_deferred_to_a_target_cancelled_without_canceller_is_ignored_once() {
    let (target, target_resolver) = Deferred::<u32>::new();
    target.cancel();
    let source = Deferred::succeed(2).chain_deferred(target_resolver);
    value(source);
    assert!(is_cancelled(&failure(target)));
}

#[test]
fn cancelling_the_target_of_chain_deferred_does_not_cancel_the_source() {
    let (source, fire_source) = Deferred::<u32>::new();
    let (target, target_resolver) = Deferred::<u32>::with_canceller(|_| {});
    let (source, seen) = watch(source);
    let mut source = source.chain_deferred(target_resolver);
    target.cancel();
    assert!(seen.get().is_empty());
    assert_no_result(&mut source);
    fire_source.callback(3).unwrap();
    assert_eq!(seen.get(), ["ok:3"]);
    // The target had a canceller, so the late firing is refused and this chain says so.
    assert!(matches!(
        failure(source).downcast_ref::<Error>(),
        Some(Error::AlreadyCalled)
    ));
    assert!(is_cancelled(&failure(target)));
}

#[test]
fn the_targets_callbacks_run_before_the_sources_next_callback() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let (target, target_resolver) = Deferred::<u32>::new();
    let log = order.clone();
    let target = target.add_callback(move |n| {
        log.lock().unwrap().push("target");
        n
    });
    let log = order.clone();
    let source = Deferred::succeed(1)
        .chain_deferred(target_resolver)
        .add_callback(move |()| log.lock().unwrap().push("source"));
    value(source);
    value(target);
    assert_eq!(*order.lock().unwrap(), ["target", "source"]);
}

#[test]
fn a_line_of_100_000_deferreds_handing_on_runs_at_constant_stack_depth() {
    on_small_stack(|| {
        let (first, fire_first) = Deferred::<u64>::new();
        let mut current = first;
        let mut sources = Vec::new();
        for _ in 0..100_000 {
            let (next, resolver) = Deferred::<u64>::new();
            sources.push(current.chain_deferred(resolver));
            current = next;
        }
        let last = current.add_callback(|n| n + 1);
        fire_first.callback(41).unwrap();
        assert_eq!(value(last), 42);
        for source in sources {
            value(source);
        }
    });
}

// ---- errbacks that need no annotations ----

#[test]
fn an_errback_returning_nothing_swallows_the_failure_of_a_unit_deferred() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handled = Deferred::<()>::fail(Error::Cancelled).add_errback(move |failure| {
        log.lock().unwrap().push(failure.to_string());
    });
    value(handled);
    assert_eq!(*seen.lock().unwrap(), ["the Deferred was cancelled"]);
}

#[test]
fn add_both_and_add_callbacks_with_closures_returning_nothing_end_in_unit() {
    let both = Deferred::<u32>::fail(Error::Cancelled).add_both(|result| {
        assert!(result.is_err());
    });
    value(both);
    let pair = Deferred::<u32>::fail(Error::Cancelled).add_callbacks(|_| {}, |_failure| {});
    value(pair);
}

#[test]
fn inspect_failure_sees_the_failure_and_passes_it_on() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let chain = Deferred::<u32>::fail(Error::Cancelled)
        .inspect_failure(move |failure| log.lock().unwrap().push(failure.to_string()));
    assert!(is_cancelled(&failure(chain)));
    assert_eq!(*seen.lock().unwrap(), ["the Deferred was cancelled"]);
}

#[test]
fn inspect_failure_lets_values_by_without_calling() {
    let chain = Deferred::succeed(4).inspect_failure(|_| panic!("no failure to inspect"));
    assert_eq!(value(chain), 4);
}

#[test]
fn swallow_failure_ends_a_failure_with_none_and_does_not_report_it() {
    let logs = capture_logs(|| {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let log = reports.clone();
        let (handle, resolver) = Deferred::<Arc<str>>::new();
        let ended = handle.swallow_failure(move |failure: Failure| {
            log.lock().unwrap().push(failure.to_string());
        });
        resolver.errback(Error::Cancelled).unwrap();
        assert_eq!(value(ended), None);
        assert_eq!(*reports.lock().unwrap(), ["the Deferred was cancelled"]);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn swallow_failure_keeps_a_value_as_some() {
    let chain = Deferred::succeed("handle").swallow_failure(|_| panic!("no failure"));
    assert_eq!(value(chain), Some("handle"));
}
