//! Pausing a Deferred: its callbacks wait, and its result queues, until it is unpaused
//! (Twisted's `pause`/`unpause`, as pinned by `test_defer.py`).

mod deferred_helpers;

use std::sync::{Arc, Mutex};

use deferred_helpers::{assert_no_result, failure, is_cancelled, value, watch};
use torsade::{Deferred, Error, Failure};

/// Twisted's `testPausedFailure`.
#[test]
fn an_errback_added_to_a_paused_failed_deferred_waits_for_unpause() {
    let deferred = Deferred::<u32>::fail(Error::Cancelled);
    let paused = deferred.pause();
    let (deferred, seen) = watch(deferred);
    assert!(seen.get().is_empty());
    paused.unpause();
    assert_eq!(seen.get(), ["err:the Deferred was cancelled"]);
    assert!(is_cancelled(&failure(deferred)));
}

/// Twisted's `testUnpauseBeforeCallback`.
#[test]
fn a_deferred_paused_and_unpaused_before_firing_runs_its_callbacks_when_fired() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let paused = deferred.pause();
    let (deferred, seen) = watch(deferred);
    paused.unpause();
    assert!(seen.get().is_empty());
    resolver.callback(1).unwrap();
    assert_eq!(seen.get(), ["ok:1"]);
    assert_eq!(value(deferred), 1);
}

#[test]
fn a_result_arriving_while_paused_waits_for_unpause() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let (mut deferred, seen) = watch(deferred);
    let paused = deferred.pause();
    assert!(deferred.is_paused());
    resolver.callback(7).unwrap();
    assert!(deferred.is_called());
    assert!(seen.get().is_empty());
    assert_no_result(&mut deferred);
    paused.unpause();
    assert!(!deferred.is_paused());
    assert_eq!(seen.get(), ["ok:7"]);
    assert_eq!(value(deferred), 7);
}

#[test]
fn pauses_count_and_the_callbacks_run_when_the_last_is_undone() {
    let deferred = Deferred::succeed(3);
    let first = deferred.pause();
    let second = deferred.pause();
    let (mut deferred, seen) = watch(deferred);
    first.unpause();
    assert!(deferred.is_paused());
    assert!(seen.get().is_empty());
    assert_no_result(&mut deferred);
    drop(second);
    assert_eq!(seen.get(), ["ok:3"]);
    assert_eq!(value(deferred), 3);
}

#[test]
fn a_pause_can_be_undone_from_another_thread() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let paused = deferred.pause();
    resolver.callback(1).unwrap();
    let ran_on = Arc::new(Mutex::new(None));
    let record = ran_on.clone();
    let deferred = deferred.add_callback(move |n| {
        *record.lock().unwrap() = Some(std::thread::current().id());
        n
    });
    let other = std::thread::spawn(move || {
        paused.unpause();
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_eq!(*ran_on.lock().unwrap(), Some(other));
    assert_eq!(value(deferred), 1);
}

#[test]
fn a_pause_taken_inside_a_callback_holds_back_the_callbacks_after_it() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let (handle_slot, guard_slot) = (
        Arc::new(Mutex::new(None::<Deferred<u32>>)),
        Arc::new(Mutex::new(None)),
    );
    let log = Arc::new(Mutex::new(Vec::<&str>::new()));
    let (first, second, guards, handles) = (
        log.clone(),
        log.clone(),
        guard_slot.clone(),
        handle_slot.clone(),
    );
    let deferred = deferred.add_callback(move |n| {
        first.lock().unwrap().push("first");
        let handle = handles.lock().unwrap();
        let handle = handle.as_ref().expect("the handle is parked before firing");
        *guards.lock().unwrap() = Some(handle.pause());
        n
    });
    let deferred = deferred.add_callback(move |n| {
        second.lock().unwrap().push("second");
        n + 1
    });
    *handle_slot.lock().unwrap() = Some(deferred);
    resolver.callback(1).unwrap();
    assert_eq!(*log.lock().unwrap(), ["first"]);
    guard_slot.lock().unwrap().take();
    assert_eq!(*log.lock().unwrap(), ["first", "second"]);
    let deferred = handle_slot.lock().unwrap().take().unwrap();
    assert_eq!(value(deferred), 2);
}

/// Twisted's `test_callbackReturnsDeferred`: a paused Deferred returned by a callback
/// holds the outer chain back even after it fires.
#[test]
fn a_paused_deferred_returned_by_a_callback_holds_the_outer_chain_until_unpaused() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let paused = inner.pause();
    let (outer, outer_resolver) = Deferred::<u32>::new();
    let (mut outer, seen) = watch(outer.and_then(move |_| inner));
    outer_resolver.callback(1).unwrap();
    assert!(seen.get().is_empty());
    inner_resolver.callback(2).unwrap();
    assert!(seen.get().is_empty(), "the inner Deferred is paused");
    assert_no_result(&mut outer);
    paused.unpause();
    assert_eq!(seen.get(), ["ok:2"]);
    assert_eq!(value(outer), 2);
}

/// Twisted's `test_chainedPausedDeferredWithResult`.
#[test]
fn a_paused_deferred_with_a_result_returned_by_a_callback_makes_the_outer_one_wait() {
    let inner = Deferred::succeed("expected");
    let paused = inner.pause();
    let (outer, resolver) = Deferred::<()>::new();
    let (mut outer, seen) = watch(outer.and_then(move |()| inner));
    resolver.callback(()).unwrap();
    assert!(seen.get().is_empty());
    assert_no_result(&mut outer);
    drop(paused);
    assert_eq!(seen.get(), ["ok:\"expected\""]);
    assert_eq!(value(outer), "expected");
}

/// Twisted's `test_pausedDeferredChained`: pausing the outer chain does not stop the
/// inner one, which finishes its own callbacks.
#[test]
fn a_paused_outer_deferred_does_not_stop_the_inner_one_it_waits_on() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let inner_log = Arc::new(Mutex::new(Vec::new()));
    let log = inner_log.clone();
    let inner = inner.add_callback(move |n| {
        log.lock().unwrap().push(n);
        n
    });
    let (outer, outer_resolver) = Deferred::<()>::new();
    let (outer, seen) = watch(outer.and_then(move |()| inner));
    outer_resolver.callback(()).unwrap();
    let paused = outer.pause();
    inner_resolver.callback(5).unwrap();
    assert_eq!(*inner_log.lock().unwrap(), [5]);
    assert!(seen.get().is_empty());
    paused.unpause();
    assert_eq!(seen.get(), ["ok:5"]);
    assert_eq!(value(outer), 5);
}

#[test]
fn awaiting_a_paused_deferred_waits_for_unpause() {
    let deferred = Deferred::succeed(9u32);
    let paused = deferred.pause();
    let mut awaited = Deferred::from_future(deferred);
    assert_no_result(&mut awaited);
    paused.unpause();
    assert_eq!(value(awaited).unwrap(), 9);
}

#[test]
fn a_deferred_cancelled_while_paused_runs_its_errbacks_on_unpause() {
    let (deferred, _resolver) = Deferred::<u32>::new();
    let paused = deferred.pause();
    let deferred = deferred.add_errback(|failure: Failure| {
        assert!(is_cancelled(&failure));
        Ok::<u32, Failure>(0)
    });
    let (mut deferred, seen) = watch(deferred);
    deferred.cancel();
    assert!(seen.get().is_empty());
    assert_no_result(&mut deferred);
    paused.unpause();
    assert_eq!(seen.get(), ["ok:0"]);
    assert_eq!(value(deferred), 0);
}
