//! The untyped engine under [`Deferred`](crate::Deferred): a result slot and a queue of
//! links, run iteratively, and cancelled iteratively.
//!
//! Values travel as `Box<dyn Any + Send>`; the typed `Deferred<T>` views guarantee that
//! each link receives the type the previous one produced. Running is iterative (an
//! explicit stack of chains instead of recursion), so neither long chains nor deeply
//! nested Deferreds grow the call stack; so are cancelling (a loop down the chains a
//! Deferred waits on) and dropping (see `dispose`).
//!
//! Ownership: a chain waiting on another holds it weakly, while the inner chain's
//! `Continue` link holds the waiting chain strongly. So a nest of chains is kept alive by
//! whoever can still fire its innermost chain, and there is no reference cycle to leak.
//!
//! Locking: each chain has one mutex, held only to move values and links in and out —
//! never while user code runs, and never two at once.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;

use super::dispose;
use super::Failure;
use crate::Error;

/// A value moving down a chain.
pub(crate) type Value = Box<dyn Any + Send>;

/// What a chain holds once fired, and what each link receives.
pub(crate) type StepResult = Result<Value, Failure>;

/// What a chain's canceller receives: the chain, to fire it.
pub(crate) type Canceller = Box<dyn FnOnce(Arc<Chain>) + Send>;

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
    /// This chain's result fires `other` (`chain_deferred`), and this chain goes on with
    /// `()`. Done here rather than by a callback firing `other`, so that a long line of
    /// Deferreds handing on to each other runs at constant stack depth.
    HandOver(Arc<Chain>),
}

/// A Deferred's shared state.
pub(crate) struct Chain {
    state: Mutex<State>,
    /// Set once, by `from_future`, on the chain its task fires: letting go of the chain's
    /// Deferred while it is unfired cancels the task. Read on every drop of a Deferred, so
    /// it sits outside the mutex.
    cancel_when_dropped: AtomicBool,
}

#[derive(Default)]
struct State {
    /// Set once by `fire`; never unset.
    fired: bool,
    /// The current result. `None` before firing, while a link runs, while waiting, and
    /// after the result was moved out (awaited, or handed to a waiting chain).
    result: Option<StepResult>,
    links: VecDeque<Link>,
    /// Some thread is running this chain's links.
    running: bool,
    /// The chain this one waits for, while it waits.
    waiting_on: Option<Weak<Chain>>,
    /// The task awaiting the final result.
    waker: Option<Waker>,
    /// Runs on the first `cancel` before firing; dropped when the chain fires.
    canceller: Option<Canceller>,
    /// `cancel` found no canceller: the producer's next firing is ignored, once.
    suppress_already_called: bool,
    /// Cancelled because its consumer is gone (see `abandon`): a failure left in it is
    /// not reported as unhandled.
    abandoned: bool,
    /// How many `pause` calls are not yet balanced by an `unpause`; no link runs (and the
    /// result is not handed out) while it is above zero.
    paused: u32,
}

/// What `Chain::accept` did with a result.
pub(crate) enum Accepted {
    /// The chain has it now; its links are to be run.
    Fired,
    /// The chain was cancelled without a canceller: this first firing is ignored.
    Ignored,
    /// The chain already had a result; here is this one back.
    AlreadyCalled(StepResult),
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
            cancel_when_dropped: AtomicBool::new(false),
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
            cancel_when_dropped: AtomicBool::new(false),
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

    /// Whether the chain was fired and now waits for another chain's result.
    pub(crate) fn is_waiting(&self) -> bool {
        self.lock().waiting_on.is_some()
    }

    /// Sets the function `cancel` runs while the chain is unfired. A chain that already
    /// fired drops it.
    pub(crate) fn set_canceller(&self, canceller: Canceller) {
        let mut state = self.lock();
        if !state.fired {
            state.canceller = Some(canceller);
            return;
        }
        drop(state);
        drop(canceller);
    }

    /// Gives the chain its result and runs its links.
    pub(crate) fn fire(self: &Arc<Self>, result: StepResult) -> Result<(), Error> {
        match self.accept(result) {
            Accepted::Fired => {
                run(self.clone());
                Ok(())
            }
            Accepted::Ignored => Ok(()),
            Accepted::AlreadyCalled(result) => {
                drop(result);
                Err(Error::AlreadyCalled)
            }
        }
    }

    /// Gives the chain its result, or hands the result back if it already has one; the
    /// caller runs the links.
    pub(crate) fn accept(&self, result: StepResult) -> Accepted {
        let canceller = {
            let mut state = self.lock();
            if state.fired {
                if state.suppress_already_called {
                    state.suppress_already_called = false;
                    drop(state);
                    tracing::debug!("ignored the first firing of a cancelled Deferred");
                    return Accepted::Ignored;
                }
                drop(state);
                return Accepted::AlreadyCalled(result);
            }
            state.fired = true;
            state.result = Some(result);
            state.canceller.take()
        };
        // Dropped outside the lock: its captures may do anything.
        drop(canceller);
        Accepted::Fired
    }

    /// Runs the links of a chain that just accepted its result.
    pub(crate) fn run_fired(self: &Arc<Self>) {
        run(self.clone());
    }

    /// Appends a link that fires `other` with this chain's result; this chain then
    /// continues with `()` (or with [`Error::AlreadyCalled`] if `other` was fired).
    pub(crate) fn push_hand_over(self: &Arc<Self>, other: Arc<Chain>) {
        self.lock().links.push_back(Link::HandOver(other));
        run(self.clone());
    }

    /// Appends a link made of user code, running it now if the result is there.
    pub(crate) fn push(self: &Arc<Self>, call: Box<dyn FnOnce(StepResult) -> Step + Send>) {
        self.lock().links.push_back(Link::Call(call));
        run(self.clone());
    }

    /// Takes the final result if the chain has finished, else registers `waker`.
    pub(crate) fn poll_result(&self, waker: &Waker) -> Poll {
        let mut state = self.lock();
        if state.fired
            && !state.running
            && state.paused == 0
            && state.waiting_on.is_none()
            && state.links.is_empty()
        {
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

    /// Stops running links until a matching `unpause`.
    pub(crate) fn pause(&self) {
        let mut state = self.lock();
        state.paused = state.paused.saturating_add(1);
    }

    /// Balances one `pause`; the last one runs whatever waited.
    pub(crate) fn unpause(self: &Arc<Self>) {
        {
            let mut state = self.lock();
            state.paused = state.paused.saturating_sub(1);
            if state.paused > 0 {
                return;
            }
        }
        run(self.clone());
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.lock().paused > 0
    }

    /// Twisted's `Deferred.cancel`: an unfired chain runs its canceller (once) and, if
    /// still unfired, fails with [`Error::Cancelled`]; a chain waiting on another passes
    /// the cancellation down to it; any other chain is left alone.
    pub(crate) fn cancel(self: &Arc<Self>) {
        let mut current = self.clone();
        // Brent's cycle check: chains smuggled into waiting on each other would
        // otherwise make this loop spin.
        let (mut tortoise, mut power, mut steps) = (self.clone(), 1_usize, 0_usize);
        loop {
            let mut state = current.lock();
            if !state.fired {
                let canceller = state.canceller.take();
                state.suppress_already_called = canceller.is_none();
                drop(state);
                cancel_unfired(&current, canceller);
                return;
            }
            let Some(inner) = state.waiting_on.clone() else {
                return;
            };
            drop(state);
            match inner.upgrade() {
                Some(inner) if Arc::ptr_eq(&inner, &tortoise) => {
                    tracing::error!("cannot cancel Deferreds that wait on each other in a cycle");
                    return;
                }
                Some(inner) => {
                    current = inner;
                    steps += 1;
                    if steps == power {
                        (tortoise, power, steps) = (current.clone(), power * 2, 0);
                    }
                }
                None => {
                    current.resume_orphan(&inner);
                    return;
                }
            }
        }
    }

    /// Marks the chain as fired by a `from_future` task: letting go of its Deferred while
    /// unfired cancels the task (see `handle_dropped`).
    pub(crate) fn cancel_when_dropped(&self) {
        self.cancel_when_dropped.store(true, Ordering::Release);
    }

    /// The chain's Deferred was let go of (dropped, not handed on). If a `from_future`
    /// task is still working on its result, nobody can observe that result any more:
    /// the task is cancelled, as by `abandon`.
    pub(crate) fn handle_dropped(self: &Arc<Self>) {
        if !self.cancel_when_dropped.load(Ordering::Acquire) {
            return;
        }
        let unfired = !self.lock().fired;
        if unfired {
            self.abandon();
        }
    }

    /// Cancels the chain on behalf of a consumer that is going away (a cancelled
    /// `from_future` task dropping the Deferred it awaited): the cancellation's failure
    /// ends up with nobody to handle it, by request, so it is not reported.
    ///
    /// A chain that already has its result keeps it, and a failure there is reported:
    /// nobody saw that one.
    pub(crate) fn abandon(self: &Arc<Self>) {
        {
            let mut state = self.lock();
            if state.fired && state.waiting_on.is_none() {
                return;
            }
            state.abandoned = true;
        }
        self.cancel();
    }

    /// The chain this one waited on reached it with `result`.
    fn resume(&self, result: StepResult) {
        let mut state = self.lock();
        state.result = Some(result);
        state.waiting_on = None;
    }

    /// The chain this one waits on is gone (nobody could fire it any more): continue as
    /// if it had been cancelled, which is what cancelling it would have done.
    fn resume_orphan(self: &Arc<Self>, inner: &Weak<Chain>) {
        {
            let mut state = self.lock();
            let still_orphaned = matches!(
                &state.waiting_on,
                Some(waiting_on) if Weak::ptr_eq(waiting_on, inner) && waiting_on.strong_count() == 0
            );
            if !still_orphaned {
                return;
            }
            state.waiting_on = None;
            state.result = Some(Err(Failure::new(Error::Cancelled)));
        }
        run(self.clone());
    }
}

/// Runs the canceller of an unfired chain, then fails the chain with
/// [`Error::Cancelled`] if the canceller did not fire it.
fn cancel_unfired(chain: &Arc<Chain>, canceller: Option<Canceller>) {
    if let Some(canceller) = canceller {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| canceller(chain.clone()))) {
            tracing::error!(
                "a Deferred's canceller panicked: {}",
                Error::from_panic(&*payload)
            );
        }
    }
    if !chain.is_fired() {
        // Losing a race to a concurrent firing is fine: the chain has a result either way.
        let _ = chain.fire(Err(Failure::new(Error::Cancelled)));
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let state = std::mem::take(self.state.get_mut().unwrap_or_else(PoisonError::into_inner));
        if let (Some(Err(failure)), false) = (&state.result, state.abandoned) {
            tracing::error!(
                location = %failure.location(),
                "Unhandled error in Deferred: {failure}"
            );
        }
        // The links, the result and the canceller may own other chains (nested waits,
        // captured Deferreds); dropping them here could recurse once per level.
        dispose::drop_iteratively(state);
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
        match advance(&current) {
            Next::Pop => {
                stack.pop();
            }
            // Run the other chain now; come back to this one afterwards.
            Next::Push(other) => stack.push(other),
        }
    }
}

/// What `run` does after `advance`.
enum Next {
    /// The chain finished, waits, or cannot run here.
    Pop,
    /// Another chain can make progress: the one this one now waits on, or the one that
    /// waited on this one and now has its result.
    Push(Arc<Chain>),
}

/// Runs `chain`'s links until it runs out of them, waits on another chain, or hands its
/// result to the chain waiting on it.
fn advance(chain: &Arc<Chain>) -> Next {
    let mut state = chain.lock();
    if state.running || state.waiting_on.is_some() || !state.fired || state.paused > 0 {
        // Someone else is running it, it waits on another chain, it has no result, or it
        // is paused: whoever changes that will run it.
        return Next::Pop;
    }
    state.running = true;
    loop {
        if state.paused > 0 {
            // A link paused its own chain: the rest waits for the `unpause`.
            state.running = false;
            return Next::Pop;
        }
        let Some(link) = state.links.pop_front() else {
            state.running = false;
            let waker = state.waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Next::Pop;
        };
        // A fired chain that is not waiting holds its result between links, unless the
        // result was taken (`take_result`, `.await`): a spent chain keeps its links
        // forever, as documented.
        let Some(input) = state.result.take() else {
            state.links.push_front(link);
            state.running = false;
            drop(state);
            tracing::debug!("a link was added to a spent Deferred; it will never run");
            return Next::Pop;
        };
        let call = match link {
            Link::Call(call) => call,
            Link::Continue(outer) => {
                state.running = false;
                drop(state);
                outer.resume(input);
                return Next::Push(outer);
            }
            Link::HandOver(other) => {
                drop(state);
                let (own, fired) = match other.accept(input) {
                    Accepted::Fired => (Ok(Box::new(()) as Value), true),
                    Accepted::Ignored => (Ok(Box::new(()) as Value), false),
                    Accepted::AlreadyCalled(_) => (Err(Failure::new(Error::AlreadyCalled)), false),
                };
                state = chain.lock();
                state.result = Some(own);
                if fired {
                    // Run `other` now; `run` comes back to this chain afterwards.
                    state.running = false;
                    drop(state);
                    return Next::Push(other);
                }
                continue;
            }
        };
        drop(state);
        let step = run_link(call, input);
        state = chain.lock();
        match step {
            Step::Done(result) => state.result = Some(result),
            Step::Wait(inner) if Arc::ptr_eq(&inner, chain) => {
                // Waiting on itself would stall the chain forever.
                tracing::error!("a Deferred's callback returned its own Deferred");
                state.result = Some(Err(Failure::new(
                    "a callback returned the Deferred it was attached to",
                )));
            }
            Step::Wait(inner) => {
                state.waiting_on = Some(Arc::downgrade(&inner));
                state.running = false;
                drop(state);
                let continuation = Link::Continue(chain.clone());
                inner.lock().links.push_back(continuation);
                // Run the inner chain if it already has its result.
                return Next::Push(inner);
            }
        }
    }
}

/// Runs one link of user code; a panic becomes a failure.
fn run_link(call: Box<dyn FnOnce(StepResult) -> Step + Send>, input: StepResult) -> Step {
    catch_unwind(AssertUnwindSafe(|| call(input))).unwrap_or_else(|payload| {
        let error = Error::from_panic(&*payload);
        tracing::error!("a Deferred callback panicked: {error}");
        Step::Done(Err(Failure::new(error)))
    })
}
