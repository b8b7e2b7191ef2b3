//! Helpers shared by the Deferred tests (`tests/deferred*.rs`).
#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use torsade::{Deferred, Error, Failure, Resolver};

/// The value of a Deferred that has finished with one.
pub fn value<T: Send + 'static>(mut deferred: Deferred<T>) -> T {
    match deferred.take_result() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("expected a value, got {failure:?}"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

/// The failure of a Deferred that has finished with one.
pub fn failure<T: Send + 'static>(mut deferred: Deferred<T>) -> Failure {
    match deferred.take_result() {
        Some(Err(failure)) => failure,
        Some(Ok(_)) => panic!("expected a failure, got a value"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

/// Asserts that a Deferred has no result yet (and leaves it usable).
pub fn assert_no_result<T: Send + 'static>(deferred: &mut Deferred<T>) {
    if let Some(result) = deferred.take_result() {
        panic!("expected no result, got {:?}", result.map(|_| "a value"));
    }
}

pub fn is_cancelled(failure: &Failure) -> bool {
    matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled))
}

pub fn is_timeout(failure: &Failure) -> bool {
    matches!(failure.downcast_ref::<Error>(), Some(Error::Timeout { .. }))
}

/// What a watched Deferred saw, as text: `ok:<value>` or `err:<failure>`.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
}

/// Adds a pass-through step to `deferred` recording the result that reaches it.
pub fn watch<T: Debug + Send + 'static>(deferred: Deferred<T>) -> (Deferred<T>, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let deferred = deferred.add_both(move |result: Result<T, Failure>| {
        match &result {
            Ok(value) => log.push(format!("ok:{value:?}")),
            Err(failure) => log.push(format!("err:{failure}")),
        }
        result
    });
    (deferred, seen)
}

/// A Deferred whose canceller fires it with `value` (Twisted's `fakeCallbackCanceller`),
/// and its resolver, which must be kept: a Deferred nobody can fire is dropped.
pub fn cancelled_with<T: Send + 'static>(value: T) -> (Deferred<T>, Resolver<T>) {
    Deferred::with_canceller(move |resolver| {
        resolver.callback(value).unwrap();
    })
}
