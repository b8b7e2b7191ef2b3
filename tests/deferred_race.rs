//! `race`: the first success wins and the rest are cancelled once each; all failures make
//! a `FailureGroup` in input order; cancelling the race cancels every input once
//! (Twisted's `RaceTests`, with its property tests run over every small shape).

mod common;
mod deferred_helpers;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::capture_logs;
use deferred_helpers::{assert_no_result, failure, is_cancelled, value};
use torsade::{race, Deferred, Error, Failure, FailureGroup, Resolver};

/// Cancellation counters, Deferreds, and their resolvers, one of each per input.
type Inputs = (Vec<Arc<AtomicU32>>, Vec<Deferred<u32>>, Vec<Resolver<u32>>);

/// `count` Deferreds whose cancellers count how often each was cancelled (and do not fire
/// it, so it then fails with `Cancelled`), with their resolvers.
fn counted(count: usize) -> Inputs {
    let mut counters = Vec::new();
    let mut deferreds = Vec::new();
    let mut resolvers = Vec::new();
    for _ in 0..count {
        let counter = Arc::new(AtomicU32::new(0));
        let tally = counter.clone();
        let (deferred, resolver) = Deferred::with_canceller(move |_| {
            tally.fetch_add(1, Ordering::SeqCst);
        });
        counters.push(counter);
        deferreds.push(deferred);
        resolvers.push(resolver);
    }
    (counters, deferreds, resolvers)
}

fn counts(counters: &[Arc<AtomicU32>]) -> Vec<u32> {
    counters
        .iter()
        .map(|counter| counter.load(Ordering::SeqCst))
        .collect()
}

fn group(failure: &Failure) -> &FailureGroup {
    failure
        .downcast_ref::<FailureGroup>()
        .unwrap_or_else(|| panic!("expected a FailureGroup, got {failure:?}"))
}

/// Twisted's `test_success`.
#[test]
fn the_first_success_wins_with_its_index_and_every_other_input_is_cancelled_once() {
    for before in 0..4 {
        for after in 0..4 {
            let (counters, deferreds, resolvers) = counted(before + 1 + after);
            let mut raced = race(deferreds);
            assert_no_result(&mut raced);
            resolvers[before].callback(42).unwrap();
            assert_eq!(value(raced), (before, 42));
            let mut expected = vec![1; before + 1 + after];
            expected[before] = 0;
            assert_eq!(
                counts(&counters),
                expected,
                "winner {before} of {}",
                before + 1 + after
            );
        }
    }
}

/// Twisted's `test_failure`.
#[test]
fn when_every_input_fails_the_race_fails_with_all_failures_in_input_order() {
    for count in 1..6 {
        let (counters, deferreds, resolvers) = counted(count);
        let mut raced = race(deferreds);
        // Fail them last to first: the group is still in input order.
        for (index, resolver) in resolvers.iter().enumerate().rev() {
            assert_no_result(&mut raced);
            resolver
                .errback(Failure::new(format!("failure {index}")))
                .unwrap();
        }
        let failure = failure(raced);
        let messages: Vec<String> = group(&failure)
            .failures
            .iter()
            .map(ToString::to_string)
            .collect();
        let expected: Vec<String> = (0..count).map(|index| format!("failure {index}")).collect();
        assert_eq!(messages, expected);
        assert_eq!(counts(&counters), vec![0; count], "nothing is cancelled");
    }
}

/// Twisted's `test_resultAfterCancel`.
#[test]
fn a_loser_firing_after_its_cancellation_goes_nowhere_and_logs_nothing() {
    let logs = capture_logs(|| {
        for before in 0..3 {
            for after in 0..3 {
                let mut deferreds = Vec::new();
                let mut resolvers = Vec::new();
                for _ in 0..before + 2 + after {
                    let (deferred, resolver) = Deferred::<u32>::new();
                    deferreds.push(deferred);
                    resolvers.push(resolver);
                }
                let raced = race(deferreds);
                resolvers[before].callback(1).unwrap();
                // Cancelled with no canceller: this first firing is ignored.
                resolvers[before + 1].callback(2).unwrap();
                assert_eq!(value(raced), (before, 1));
            }
        }
    });
    assert!(!logs.contains("ERROR") && !logs.contains("WARN"), "{logs}");
}

/// Twisted's `test_resultFromCancel`.
#[test]
fn a_loser_whose_canceller_fires_it_with_a_value_does_not_change_the_winner() {
    let (winner, winner_producer) = Deferred::<&str>::new();
    let (loser, _loser_producer) = Deferred::with_canceller(|resolver| {
        resolver.callback("from the canceller").unwrap();
    });
    let raced = race([winner, loser]);
    winner_producer.callback("expected").unwrap();
    assert_eq!(value(raced), (0, "expected"));
}

/// Twisted's `test_cancel`.
#[test]
fn cancelling_the_race_cancels_every_input_once_and_fails_with_their_failures() {
    for count in 1..4 {
        let (counters, deferreds, _resolvers) = counted(count);
        let raced = race(deferreds);
        raced.cancel();
        assert_eq!(counts(&counters), vec![1; count]);
        let failure = failure(raced);
        let group = group(&failure);
        assert_eq!(group.failures.len(), count);
        assert!(group.failures.iter().all(is_cancelled));
    }
}

#[test]
fn cancelling_a_race_that_has_a_winner_cancels_nothing_more() {
    let (counters, deferreds, resolvers) = counted(3);
    let raced = race(deferreds);
    resolvers[1].callback(5).unwrap();
    raced.cancel();
    assert_eq!(counts(&counters), [1, 0, 1]);
    assert_eq!(value(raced), (1, 5));
}

#[test]
fn an_input_that_already_succeeded_wins_at_once() {
    let (counters, mut deferreds, _resolvers) = counted(2);
    deferreds.insert(1, Deferred::succeed(9));
    let raced = race(deferreds);
    assert_eq!(value(raced), (1, 9));
    assert_eq!(counts(&counters), [1, 1]);
}

#[test]
fn a_race_of_nothing_fails_at_once_with_an_empty_group() {
    let raced = race(Vec::<Deferred<u32>>::new());
    let failure = failure(raced);
    assert!(group(&failure).failures.is_empty());
}

#[test]
fn the_failures_of_losers_are_not_reported_as_unhandled() {
    let logs = capture_logs(|| {
        let (counters, deferreds, resolvers) = counted(3);
        let raced = race(deferreds);
        resolvers[0].errback(Error::Cancelled).unwrap();
        resolvers[2].callback(3).unwrap();
        assert_eq!(value(raced), (2, 3));
        assert_eq!(counts(&counters), [0, 1, 0]);
        drop(resolvers);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn a_failure_group_names_how_many_failed_and_the_first_failure() {
    let raced = race([
        Deferred::<u32>::fail(Failure::new("first")),
        Deferred::fail(Failure::new("second")),
    ]);
    let failure = failure(raced);
    assert_eq!(
        failure.to_string(),
        "all 2 Deferreds failed; the first: first"
    );
    let source = std::error::Error::source(group(&failure)).unwrap();
    assert_eq!(source.to_string(), "first");
}
