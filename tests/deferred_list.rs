//! DeferredList (each option), gather_results, and cancelling them.

mod common;
mod deferred_helpers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use deferred_helpers::*;
use torsade::{gather_results, Deferred, DeferredList, Error, Failure, FirstError};

fn summary<T: std::fmt::Debug>(results: &[Result<T, Failure>]) -> Vec<String> {
    results
        .iter()
        .map(|result| match result {
            Ok(value) => format!("ok:{value:?}"),
            Err(failure) => format!("err:{failure}"),
        })
        .collect()
}

fn first_error(failure: &Failure) -> &FirstError {
    failure
        .downcast_ref::<FirstError>()
        .unwrap_or_else(|| panic!("expected a FirstError, got {failure:?}"))
}

#[test]
fn a_deferred_list_fires_with_every_result_in_input_order() {
    let (one, one_resolver) = Deferred::<&str>::new();
    let (two, two_resolver) = Deferred::<&str>::new();
    let (three, three_resolver) = Deferred::<&str>::new();
    let mut list = DeferredList::new([one, two, three])
        .consume_errors()
        .into_deferred();
    three_resolver.callback("3").unwrap();
    two_resolver.errback(std::io::Error::other("2")).unwrap();
    assert_no_result(&mut list);
    one_resolver.callback("1").unwrap();
    assert_eq!(summary(&value(list)), ["ok:\"1\"", "err:2", "ok:\"3\""]);
}

#[test]
fn an_empty_deferred_list_fires_at_once_with_an_empty_vec() {
    let list = DeferredList::<u32>::new([]).into_deferred();
    assert!(value(list).is_empty());
    let gathered = gather_results(Vec::<Deferred<u32>>::new());
    assert!(value(gathered).is_empty());
}

#[test]
fn an_empty_first_success_list_fires_at_once_with_no_failures() {
    let list = DeferredList::<u32>::new([]).first_success();
    assert_eq!(value(list).unwrap_err().len(), 0);
}

#[test]
fn a_deferred_list_processes_inputs_that_already_fired() {
    let list = DeferredList::new([Deferred::fail(Error::Cancelled), Deferred::succeed(2)])
        .consume_errors()
        .into_deferred();
    assert_eq!(
        summary(&value(list)),
        ["err:the Deferred was cancelled", "ok:2"]
    );
}

#[test]
fn fire_on_one_errback_fails_the_list_with_the_first_error_and_its_index() {
    let (one, one_resolver) = Deferred::<&str>::new();
    let (two, two_resolver) = Deferred::<&str>::new();
    let (three, _three_resolver) = Deferred::<&str>::new();
    let mut list = DeferredList::new([one, two, three])
        .consume_errors()
        .fire_on_one_errback()
        .into_deferred();
    one_resolver.callback("1").unwrap();
    assert_no_result(&mut list);
    two_resolver
        .errback(std::io::Error::other("from two"))
        .unwrap();
    let failure = failure(list);
    let first = first_error(&failure);
    assert_eq!(first.index, 1);
    assert_eq!(first.failure.to_string(), "from two");
    assert!(first.failure.is::<std::io::Error>());
}

#[test]
fn fire_on_one_errback_with_an_already_failed_input_fails_at_construction() {
    let (pending, _resolver) = Deferred::<u32>::new();
    let list = DeferredList::new([Deferred::fail(Error::Cancelled), pending])
        .consume_errors()
        .fire_on_one_errback()
        .into_deferred();
    assert_eq!(first_error(&failure(list)).index, 0);
}

#[test]
fn without_consume_errors_an_inputs_failure_is_also_logged_as_unhandled() {
    let logs = common::capture_logs(|| {
        let (input, resolver) = Deferred::<u32>::new();
        let list = DeferredList::new([input]).into_deferred();
        resolver.errback(std::io::Error::other("Bang")).unwrap();
        assert_eq!(summary(&value(list)), ["err:Bang"]);
        drop(resolver);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("Bang"), "{logs}");
}

#[test]
fn with_consume_errors_an_inputs_failure_is_not_logged() {
    let logs = common::capture_logs(|| {
        let (input, resolver) = Deferred::<u32>::new();
        let list = DeferredList::new([input]).consume_errors().into_deferred();
        resolver.errback(std::io::Error::other("Bang")).unwrap();
        assert_eq!(summary(&value(list)), ["err:Bang"]);
        drop(resolver);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn first_success_fires_with_the_index_and_value_of_the_first_success() {
    let (one, one_resolver) = Deferred::<&str>::new();
    let (two, two_resolver) = Deferred::<&str>::new();
    let (three, three_resolver) = Deferred::<&str>::new();
    let mut first = DeferredList::new([one, two, three])
        .consume_errors()
        .first_success();
    one_resolver.errback(Error::Cancelled).unwrap();
    assert_no_result(&mut first);
    three_resolver.callback("three").unwrap();
    assert_eq!(value(first).unwrap(), (2, "three"));
    // The others carry on; their results go nowhere.
    two_resolver.callback("two").unwrap();
}

#[test]
fn first_success_fires_with_all_failures_when_every_input_fails() {
    let (one, one_resolver) = Deferred::<u32>::new();
    let (two, two_resolver) = Deferred::<u32>::new();
    let first = DeferredList::new([one, two])
        .consume_errors()
        .first_success();
    two_resolver.errback(std::io::Error::other("b")).unwrap();
    one_resolver.errback(std::io::Error::other("a")).unwrap();
    let failures = value(first).unwrap_err();
    let texts: Vec<String> = failures.iter().map(Failure::to_string).collect();
    assert_eq!(texts, ["a", "b"]);
}

#[test]
fn first_success_with_fire_on_one_errback_fails_at_the_first_failure() {
    let (one, one_resolver) = Deferred::<u32>::new();
    let (two, _two_resolver) = Deferred::<u32>::new();
    let first = DeferredList::new([one, two])
        .consume_errors()
        .fire_on_one_errback()
        .first_success();
    one_resolver.errback(Error::Cancelled).unwrap();
    assert_eq!(first_error(&failure(first)).index, 0);
}

#[test]
fn cancelling_a_list_cancels_every_unfired_input() {
    let (one, _one_resolver) = Deferred::<u32>::new();
    let (two, _two_resolver) = Deferred::<u32>::new();
    let (one, one_seen) = watch(one);
    let (two, two_seen) = watch(two);
    let list = DeferredList::new([one, two, Deferred::succeed(3)])
        .consume_errors()
        .into_deferred();
    list.cancel();
    assert_eq!(one_seen.get(), ["err:the Deferred was cancelled"]);
    assert_eq!(two_seen.get(), ["err:the Deferred was cancelled"]);
    assert_eq!(
        summary(&value(list)),
        [
            "err:the Deferred was cancelled",
            "err:the Deferred was cancelled",
            "ok:3"
        ]
    );
}

#[test]
fn a_cancelled_list_fires_with_what_its_inputs_cancellers_gave() {
    let (one, _one_resolver) = cancelled_with("Callback Result");
    let (two, _two_resolver) = Deferred::<&str>::new();
    let list = DeferredList::new([one, two])
        .consume_errors()
        .into_deferred();
    list.cancel();
    assert_eq!(
        summary(&value(list)),
        ["ok:\"Callback Result\"", "err:the Deferred was cancelled"]
    );
}

#[test]
fn cancelling_a_fire_on_one_errback_list_fails_it_with_first_error_of_cancelled() {
    let (one, _one_resolver) = Deferred::<u32>::new();
    let (two, _two_resolver) = Deferred::<u32>::new();
    let list = DeferredList::new([one, two])
        .consume_errors()
        .fire_on_one_errback()
        .into_deferred();
    list.cancel();
    let failure = failure(list);
    let first = first_error(&failure);
    assert_eq!(first.index, 0);
    assert!(is_cancelled(&first.failure));
}

#[test]
fn cancelling_a_fire_on_one_errback_list_whose_inputs_cancellers_succeed_fires_with_their_values() {
    let (one, _one_resolver) = cancelled_with("Callback Result");
    let (two, _two_resolver) = cancelled_with("Callback Result");
    let list = DeferredList::new([one, two])
        .fire_on_one_errback()
        .into_deferred();
    list.cancel();
    assert_eq!(
        summary(&value(list)),
        ["ok:\"Callback Result\"", "ok:\"Callback Result\""]
    );
}

#[test]
fn cancelling_a_first_success_list_whose_input_canceller_succeeds_fires_with_that_value() {
    let (one, _one_resolver) = cancelled_with("Callback Result");
    let (two, _two_resolver) = Deferred::<&str>::new();
    let first = DeferredList::new([one, two])
        .consume_errors()
        .first_success();
    first.cancel();
    assert_eq!(value(first).unwrap(), (0, "Callback Result"));
}

#[test]
fn cancelling_a_list_that_already_fired_does_nothing() {
    let (one, one_resolver) = Deferred::<u32>::new();
    let (two, _two_resolver) = Deferred::<u32>::new();
    let (two, two_seen) = watch(two);
    let first = DeferredList::new([one, two]).first_success();
    one_resolver.callback(1).unwrap();
    first.cancel();
    assert!(two_seen.get().is_empty());
    assert_eq!(value(first).unwrap(), (0, 1));
}

#[test]
fn a_panicking_input_canceller_does_not_stop_the_others_being_cancelled() {
    let logs = common::capture_logs(|| {
        let (one, _one_resolver) = Deferred::<u32>::with_canceller(|_| panic!("test"));
        let (two, _two_resolver) = Deferred::<u32>::new();
        let (two, two_seen) = watch(two);
        let list = DeferredList::new([one, two])
            .consume_errors()
            .into_deferred();
        list.cancel();
        assert_eq!(two_seen.get(), ["err:the Deferred was cancelled"]);
        assert_eq!(value(list).len(), 2);
    });
    assert_eq!(logs.matches("canceller panicked").count(), 1, "{logs}");
}

#[test]
fn gather_results_fires_with_the_values_in_order() {
    let (later, resolver) = Deferred::<u32>::new();
    let mut gathered = gather_results([later, Deferred::succeed(2)]);
    assert_no_result(&mut gathered);
    resolver.callback(1).unwrap();
    assert_eq!(value(gathered), [1, 2]);
}

#[test]
fn gather_results_fails_with_first_error_and_logs_the_unconsumed_input_failure() {
    let logs = common::capture_logs(|| {
        let inputs = [Deferred::succeed(1), Deferred::fail(Error::Cancelled)];
        let failure = failure(gather_results(inputs));
        assert_eq!(first_error(&failure).index, 1);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
}

#[test]
fn gathering_with_consume_errors_fails_with_first_error_and_logs_nothing() {
    let logs = common::capture_logs(|| {
        let inputs = [
            Deferred::succeed(1),
            Deferred::fail(std::io::Error::other("oh noes")),
        ];
        let failure = failure(DeferredList::new(inputs).consume_errors().gather());
        let first = first_error(&failure);
        assert!(first.failure.is::<std::io::Error>());
        let source = std::error::Error::source(first).unwrap();
        assert_eq!(source.to_string(), "oh noes");
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn cancelling_gather_results_cancels_every_input_and_fails_with_first_error_of_cancelled() {
    let (one, _one_resolver) = Deferred::<u32>::new();
    let (two, _two_resolver) = Deferred::<u32>::new();
    let (one, one_seen) = watch(one);
    let (two, two_seen) = watch(two);
    let gathered = DeferredList::new([one, two]).consume_errors().gather();
    gathered.cancel();
    assert_eq!(one_seen.get(), ["err:the Deferred was cancelled"]);
    assert_eq!(two_seen.get(), ["err:the Deferred was cancelled"]);
    assert!(is_cancelled(&first_error(&failure(gathered)).failure));
}

#[test]
fn cancelling_gather_results_whose_inputs_cancellers_succeed_fires_with_their_values() {
    let (one, _one_resolver) = cancelled_with("Callback Result");
    let (two, _two_resolver) = cancelled_with("Callback Result");
    let gathered = gather_results([one, two]);
    gathered.cancel();
    assert_eq!(value(gathered), ["Callback Result", "Callback Result"]);
}

#[test]
fn a_list_fed_from_several_threads_fires_once_with_every_result() {
    let fired = Arc::new(AtomicUsize::new(0));
    let (inputs, resolvers): (Vec<_>, Vec<_>) = (0..64).map(|_| Deferred::<usize>::new()).unzip();
    let count = fired.clone();
    let list = DeferredList::new(inputs)
        .into_deferred()
        .add_callback(move |results| {
            count.fetch_add(1, Ordering::SeqCst);
            results
        });
    let threads: Vec<_> = resolvers
        .into_iter()
        .enumerate()
        .map(|(index, resolver)| std::thread::spawn(move || resolver.callback(index).unwrap()))
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    let values: Vec<usize> = value(list).into_iter().map(Result::unwrap).collect();
    assert_eq!(values, (0..64).collect::<Vec<_>>());
}

#[test]
fn first_error_names_its_index_and_wraps_the_failure() {
    let error = FirstError {
        index: 3,
        failure: Failure::new("some text"),
    };
    assert_eq!(
        error.to_string(),
        "Deferred #3 in the list failed: some text"
    );
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "some text"
    );
}
