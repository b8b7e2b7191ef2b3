//! Helpers shared by the Deferred and time tests (`tests/deferred*.rs`,
//! `tests/looping_call.rs`, `tests/defer_to_thread.rs`).
#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use torsade::{Deferred, Error, Failure, Reactor, Resolver};

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

/// The bound on a test's reactor run (against hangs; nothing waits for it).
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `reactor` until the test stops it; if that has not happened within [`LIMIT`], it
/// is stopped and the test fails. (A bound against hangs, not a synchronisation.)
pub fn run_bounded(reactor: &Reactor) {
    let timed_out = Arc::new(Mutex::new(false));
    let flag = timed_out.clone();
    let stopper = reactor.clone();
    let guard = reactor.call_later(LIMIT, move || {
        *flag.lock().unwrap() = true;
        let _ = stopper.stop();
    });
    reactor.run().expect("the reactor runs");
    let _ = guard.cancel();
    assert!(
        !*timed_out.lock().unwrap(),
        "the test did not finish within {LIMIT:?}"
    );
}

/// Runs `body` on a thread with a small stack (256 KiB): a test of constant stack depth
/// fails there quickly if the code recurses.
pub fn on_small_stack(body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(body)
        .unwrap()
        .join()
        .unwrap();
}
