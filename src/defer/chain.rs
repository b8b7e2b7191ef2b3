//! The untyped engine under [`Deferred`](crate::Deferred): a result slot and a queue of
//! links, run iteratively.
//!
//! Values travel as `Box<dyn Any + Send>`; the typed `Deferred<T>` views guarantee that
//! each link receives the type the previous one produced. Running is iterative (an
//! explicit stack of chains instead of recursion), so neither long chains nor deeply
//! nested Deferreds grow the call stack.
//!
//! Locking: each chain has one mutex, held only to move values and links in and out —
//! never while user code runs, and never two at once.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use super::Failure;
use crate::Error;

/// A value moving down a chain.
pub(crate) type Value = Box<dyn Any + Send>;

/// What a chain holds once fired, and what each link receives.
pub(crate) type StepResult = Result<Value, Failure>;

/// What a link produced.
pub(crate) enum Step {
    /// A result for the next link.
    Done(StepResult),
    /// Wait for another chain and continue with its result.
    Wait(Arc<Chain>),
}

/// One entry in a chain's queue.
enum Link {
    /// User code: a callback, an errback, or both.
    Call(Box<dyn FnOnce(StepResult) -> Step + Send>),
    /// This chain's result becomes the result of `outer`, which was waiting for it.
    Continue(Arc<Chain>),
}

/// A Deferred's shared state.
pub(crate) struct Chain {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Set once by `fire`; never unset.
    fired: bool,
    /// The current result. `None` before firing, while a link runs, and after the result
    /// was moved out (awaited, or handed to a waiting chain).
    result: Option<StepResult>,
    links: VecDeque<Link>,
    /// Some thread is running this chain's links.
    running: bool,
    /// Waiting for another chain's result.
    waiting: bool,
    /// The task awaiting the final result.
    waker: Option<Waker>,
}

/// What `Chain::poll_result` found.
pub(crate) enum Poll {
    Ready(StepResult),
    Pending,
}

impl Chain {
    pub(crate) fn new() -> Arc<Chain> {
        Arc::new(Chain {
            state: Mutex::new(State::default()),
        })
    }

    /// A chain that already holds `result`.
    pub(crate) fn fired(result: StepResult) -> Arc<Chain> {
        Arc::new(Chain {
            state: Mutex::new(State {
                fired: true,
                result: Some(result),
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs while the lock is held, so a poisoned lock still holds
        // consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.lock().fired
    }

    /// Gives the chain its result and runs its links.
    pub(crate) fn fire(self: &Arc<Self>, result: StepResult) -> Result<(), Error> {
        {
            let mut state = self.lock();
            if state.fired {
                return Err(Error::AlreadyCalled);
            }
            state.fired = true;
            state.result = Some(result);
        }
        run(self.clone());
        Ok(())
    }

    /// Appends a link made of user code, running it now if the result is there.
    pub(crate) fn push(self: &Arc<Self>, call: Box<dyn FnOnce(StepResult) -> Step + Send>) {
        self.lock().links.push_back(Link::Call(call));
        run(self.clone());
    }

    /// Takes the final result if the chain has finished, else registers `waker`.
    pub(crate) fn poll_result(&self, waker: &Waker) -> Poll {
        let mut state = self.lock();
        if state.fired && !state.running && !state.waiting && state.links.is_empty() {
            if let Some(result) = state.result.take() {
                return Poll::Ready(result);
            }
        }
        match &state.waker {
            Some(stored) if stored.will_wake(waker) => {}
            _ => state.waker = Some(waker.clone()),
        }
        Poll::Pending
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(Err(failure)) = &state.result {
            tracing::error!(
                location = %failure.location(),
                "Unhandled error in Deferred: {failure}"
            );
        }
    }
}

/// Runs every chain that can make progress, starting with `start`.
///
/// The stack holds chains to run; a link that waits on another chain pushes that chain,
/// and a `Continue` link pushes the chain that was waiting. So the depth of nesting costs
/// heap, not call stack.
fn run(start: Arc<Chain>) {
    let mut stack = vec![start];
    while let Some(current) = stack.last().cloned() {
        let mut state = current.lock();
        if state.running || state.waiting || !state.fired {
            // Someone else is running it, it waits on another chain, or it has no result:
            // whoever changes that will run it.
            drop(state);
            stack.pop();
            continue;
        }
        state.running = true;
        loop {
            let Some(link) = state.links.pop_front() else {
                state.running = false;
                let waker = state.waker.take();
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                stack.pop();
                break;
            };
            // Invariant: a fired chain that is not waiting holds its result between links.
            let Some(input) = state.result.take() else {
                unreachable_result();
                state.running = false;
                drop(state);
                stack.pop();
                break;
            };
            match link {
                Link::Continue(outer) => {
                    state.running = false;
                    drop(state);
                    {
                        let mut outer_state = outer.lock();
                        outer_state.result = Some(input);
                        outer_state.waiting = false;
                    }
                    // Run the outer chain now; come back to this one afterwards.
                    stack.push(outer);
                    break;
                }
                Link::Call(call) => {
                    drop(state);
                    let step =
                        catch_unwind(AssertUnwindSafe(|| call(input))).unwrap_or_else(|payload| {
                            let error = Error::from_panic(&*payload);
                            tracing::error!("a Deferred callback panicked: {error}");
                            Step::Done(Err(Failure::new(error)))
                        });
                    state = current.lock();
                    match step {
                        Step::Done(result) => state.result = Some(result),
                        Step::Wait(inner) => {
                            state.waiting = true;
                            state.running = false;
                            drop(state);
                            inner
                                .lock()
                                .links
                                .push_back(Link::Continue(current.clone()));
                            // Run the inner chain if it already has its result.
                            stack.push(inner);
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[cold]
fn unreachable_result() {
    tracing::error!("torsade bug: a Deferred chain lost its result; please report it");
}
