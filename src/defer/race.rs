//! The first success among several Deferreds, the others cancelled: [`race`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::chain::Chain;
use super::{Deferred, Failure, FailureGroup, Resolver};

/// Waits for the first of `deferreds` to succeed, and cancels the others. Twisted's
/// `race`.
///
/// - The first success fires the race with its index and value, after every other input
///   has been [cancelled](Deferred::cancel), once each. An input that fires after that —
///   a canceller may fire it with a value, a producer may not know it was cancelled — is
///   ignored.
/// - If every input fails, the race fails with a [`FailureGroup`] of their failures in
///   input order. A race of no inputs fails so at once (Twisted's never fires).
/// - [Cancelling](Deferred::cancel) the race before it fires cancels every input once;
///   the race then fails as their results say (a `FailureGroup` of their `Cancelled`
///   failures, usually).
/// - The race takes over its inputs' results: failures that end in the race are not
///   reported as unhandled. Like [`DeferredList`](crate::DeferredList), it holds its
///   inputs weakly: an input nobody can fire any more is not kept alive for it.
///
/// # Examples
///
/// ```
/// use torsade::{race, Deferred, Error};
///
/// let (slow, _slow_producer) = Deferred::<&str>::new();
/// let (fast, fast_producer) = Deferred::<&str>::new();
/// let (failing, failing_producer) = Deferred::<&str>::new();
/// let mut first = race([slow, fast, failing]);
///
/// failing_producer.errback(Error::Cancelled).unwrap(); // a failure does not end a race
/// assert!(first.take_result().is_none());
/// fast_producer.callback("fast").unwrap();
/// assert_eq!(first.take_result().unwrap().unwrap(), (1, "fast"));
/// ```
pub fn race<T: Send + 'static>(
    deferreds: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<(usize, T)> {
    let inputs: Vec<Deferred<T>> = deferreds.into_iter().collect();
    // Weak: an input nobody can fire any more cannot be cancelled either.
    let chains: Arc<[Weak<Chain>]> = inputs
        .iter()
        .map(|input| Arc::downgrade(input.chain()))
        .collect();
    let to_cancel = chains.clone();
    let (raced, resolver) = Deferred::with_canceller(move |_| cancel_all(&to_cancel, None));
    let track = Arc::new(Race {
        state: Mutex::new(State {
            winner: None,
            failures: (0..inputs.len()).map(|_| None).collect(),
            failed: 0,
        }),
        chains,
        resolver,
    });
    if inputs.is_empty() {
        // Fails only if cancelled meanwhile, which it cannot have been yet.
        let _ = track.resolver.errback(FailureGroup {
            failures: Vec::new(),
        });
    }
    for (index, input) in inputs.into_iter().enumerate() {
        let track = track.clone();
        input
            .add_both(move |result| match result {
                Ok(value) => track.succeeded(index, value),
                Err(failure) => track.failed(index, failure),
            })
            .detach();
    }
    raced
}

/// Cancels every input but `except`.
fn cancel_all(chains: &[Weak<Chain>], except: Option<usize>) {
    for (index, chain) in chains.iter().enumerate() {
        if Some(index) == except {
            continue;
        }
        if let Some(chain) = chain.upgrade() {
            chain.cancel();
        }
    }
}

/// The state shared by a race's hooks on its inputs.
struct Race<T> {
    state: Mutex<State>,
    chains: Arc<[Weak<Chain>]>,
    resolver: Resolver<(usize, T)>,
}

struct State {
    /// The input that succeeded first.
    winner: Option<usize>,
    /// Each input's failure, once it failed.
    failures: Vec<Option<Failure>>,
    failed: usize,
}

impl<T: Send + 'static> Race<T> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn succeeded(&self, index: usize, value: T) {
        {
            let mut state = self.lock();
            if state.winner.is_some() {
                // A loser that fired after its cancellation: nowhere to go.
                return;
            }
            state.winner = Some(index);
        }
        cancel_all(&self.chains, Some(index));
        // Fails only if the race was cancelled (and failed) meanwhile.
        let _ = self.resolver.callback((index, value));
    }

    fn failed(&self, index: usize, failure: Failure) {
        let failures = {
            let mut state = self.lock();
            if state.winner.is_some() {
                return;
            }
            if let Some(slot) = state.failures.get_mut(index) {
                *slot = Some(failure);
            }
            state.failed += 1;
            if state.failed < state.failures.len() {
                return;
            }
            std::mem::take(&mut state.failures)
        };
        // Fails only if the race was cancelled (and failed) meanwhile.
        let _ = self.resolver.errback(FailureGroup {
            failures: failures.into_iter().flatten().collect(),
        });
    }
}
