//! A result that is not there yet: [`Deferred`] and the [`Resolver`] that fires it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::chain::{self, Chain, Step, StepResult, Value};
use super::{Failure, Outcome};
use crate::Error;

/// A value that will arrive later, with a chain of callbacks to run on it. Twisted's
/// `Deferred`.
///
/// - Callbacks run **synchronously when the result arrives**, on the thread that fires it
///   (or at once, when added to a Deferred that already has its result). No executor is
///   needed.
/// - Each `add_*` method consumes the `Deferred<T>` and returns the `Deferred<U>` of the
///   same chain, so a chain may change its value's type at every step, checked by the
///   compiler.
/// - A callback that returns `Err` sends the chain down its errback side; an errback that
///   returns `Ok` recovers. A callback that returns another `Deferred` pauses the chain
///   until that one fires.
/// - `Deferred<T>` is a [`Future`]: `.await` it for `Result<T, Failure>`.
/// - A chain whose final result is a failure nobody handled logs
///   "Unhandled error in Deferred" when its last handle is dropped.
/// - [`cancel`](Deferred::cancel) abandons the result (running a
///   [canceller](Deferred::with_canceller)), and [`add_timeout`](Deferred::add_timeout)
///   cancels it after a while.
/// - A chain lives as long as something can fire or observe it: its [`Resolver`]s and
///   its `Deferred`. A chain waiting on another, a [`DeferredList`](crate::DeferredList)
///   and a timeout refer to their inputs weakly, so there are no reference cycles: a
///   nest of Deferreds that nobody can fire any more is freed (and dropping one of any
///   depth uses constant stack).
///
/// # Examples
///
/// The callback style:
///
/// ```
/// use torsade::Deferred;
///
/// let (deferred, resolver) = Deferred::<u32>::new();
/// let mut chain = deferred
///     .add_callback(|n| n * 3)
///     .add_callback(|n| format!("the answer is {n}"));
/// assert!(!chain.is_called());
/// resolver.callback(14).unwrap();
/// assert_eq!(chain.take_result().unwrap().unwrap(), "the answer is 42");
/// ```
///
/// Errors and recovery:
///
/// ```
/// use torsade::{Deferred, Failure};
///
/// let mut chain = Deferred::succeed("x")
///     .and_then(|text| text.parse::<u32>())     // fails: goes to the errback side
///     .add_callback(|n| n + 1)                  // skipped
///     .add_errback(|_: Failure| Ok::<u32, Failure>(0));      // recovers
/// assert_eq!(chain.take_result().unwrap().unwrap(), 0);
/// ```
///
/// The async style:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use torsade::Deferred;
///
/// let (deferred, resolver) = Deferred::new();
/// std::thread::spawn(move || resolver.callback("hello").unwrap());
/// assert_eq!(deferred.await.unwrap(), "hello");
/// # });
/// ```
#[must_use = "a Deferred does nothing unless you add callbacks to it or await it"]
pub struct Deferred<T> {
    /// Always `Some` while the Deferred exists: it is taken only by `into_chain`, which
    /// consumes the Deferred, so `Drop` can tell a handle handed on from one let go.
    chain: Option<Arc<Chain>>,
    _value: PhantomData<fn() -> T>,
}

/// The right to fire a [`Deferred`]: give it its result with [`callback`](Resolver::callback)
/// or [`errback`](Resolver::errback), a `Result` with [`resolve`](Resolver::resolve), or
/// another Deferred's outcome with [`Deferred::chain_deferred`].
///
/// Cheap to clone, `Send` and `Sync`: keep it wherever the result will come from. Firing a
/// second time returns [`Error::AlreadyCalled`] — except the first firing after a
/// [`cancel`](Deferred::cancel) of a Deferred with no canceller, which is ignored (see
/// [`Deferred::cancel`]).
///
/// # Examples
///
/// ```
/// use torsade::{Deferred, Error};
///
/// let (deferred, resolver) = Deferred::<&str>::new();
/// let producer = resolver.clone();
/// producer.callback("done").unwrap();
/// assert!(resolver.is_called());
/// assert!(matches!(resolver.callback("again"), Err(Error::AlreadyCalled)));
/// # deferred.detach();
/// ```
pub struct Resolver<T> {
    chain: Arc<Chain>,
    _value: PhantomData<fn(T)>,
}

impl<T: Send + 'static> Deferred<T> {
    /// A Deferred with no result yet, and the resolver that will give it one.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (Deferred<T>, Resolver<T>) {
        let chain = Chain::new();
        (
            Deferred::from_chain(chain.clone()),
            Resolver::from_chain(chain),
        )
    }

    /// A Deferred that already has `value`. Twisted's `succeed`.
    pub fn succeed(value: T) -> Deferred<T> {
        Deferred::from_chain(Chain::fired(Ok(Box::new(value))))
    }

    /// A Deferred that already failed. Twisted's `fail`.
    #[track_caller]
    pub fn fail(failure: impl Into<Failure>) -> Deferred<T> {
        Deferred::from_chain(Chain::fired(Err(failure.into())))
    }

    pub(crate) fn from_chain(chain: Arc<Chain>) -> Deferred<T> {
        Deferred {
            chain: Some(chain),
            _value: PhantomData,
        }
    }

    /// Gives up this view of the chain, to hand the chain on (to the next view of it, to a
    /// chain that waits on it, to nobody for `detach`): letting it go this way is not the
    /// drop that cancels a `from_future` task.
    pub(super) fn into_chain(mut self) -> Arc<Chain> {
        match self.chain.take() {
            Some(chain) => chain,
            // Invariant: `chain` is `Some` until this method takes it, consuming `self`.
            None => unreachable!("a Deferred without its chain"),
        }
    }

    /// Whether the chain has been fired (it may still be waiting on a nested Deferred).
    #[doc(alias = "called")]
    pub fn is_called(&self) -> bool {
        self.chain().is_fired()
    }

    /// Adds a callback that maps the value. Failures pass by it untouched.
    #[doc(alias = "addCallback")]
    pub fn add_callback<U, F>(self, callback: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        self.push(move |result| match result {
            Ok(value) => Step::Done(Ok(Box::new(callback(unbox::<T>(value))))),
            Err(failure) => Step::Done(Err(failure)),
        })
    }

    /// Adds a callback that may fail (return `Err`) or wait (return a `Deferred`).
    ///
    /// This is Twisted's `addCallback` with a callback that raises or returns a Deferred.
    #[doc(alias = "addCallback")]
    pub fn and_then<U, R, F>(self, callback: F) -> Deferred<U>
    where
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnOnce(T) -> R + Send + 'static,
    {
        self.push(move |result| match result {
            Ok(value) => step(callback(unbox::<T>(value)).into()),
            Err(failure) => Step::Done(Err(failure)),
        })
    }

    /// Adds an errback: it receives the failure, and either recovers (returns `Ok`) or
    /// passes a failure on (returns `Err`). Values pass by it untouched.
    #[doc(alias = "addErrback")]
    pub fn add_errback<R, F>(self, errback: F) -> Deferred<T>
    where
        R: Into<Outcome<T>>,
        F: FnOnce(Failure) -> R + Send + 'static,
    {
        self.push(move |result| match result {
            Ok(value) => Step::Done(Ok(value)),
            Err(failure) => step(errback(failure).into()),
        })
    }

    /// Adds one callback/errback pair at the same level: if `callback` fails, `errback`
    /// does not see it (only later errbacks do).
    #[doc(alias = "addCallbacks")]
    pub fn add_callbacks<U, R1, R2, F, E>(self, callback: F, errback: E) -> Deferred<U>
    where
        U: Send + 'static,
        R1: Into<Outcome<U>>,
        R2: Into<Outcome<U>>,
        F: FnOnce(T) -> R1 + Send + 'static,
        E: FnOnce(Failure) -> R2 + Send + 'static,
    {
        self.push(move |result| match result {
            Ok(value) => step(callback(unbox::<T>(value)).into()),
            Err(failure) => step(errback(failure).into()),
        })
    }

    /// Adds a function that sees the result whichever side it is on. Twisted's `addBoth`;
    /// return the result unchanged to pass it through (for clean-up work).
    #[doc(alias = "addBoth")]
    pub fn add_both<U, R, F>(self, both: F) -> Deferred<U>
    where
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnOnce(Result<T, Failure>) -> R + Send + 'static,
    {
        self.push(move |result| step(both(result.map(unbox::<T>)).into()))
    }

    /// Lets the chain go on without this handle: the callbacks already added still run
    /// when the result arrives, and a failure that nobody handles is still logged.
    ///
    /// The callback style often ends a chain this way (Twisted code simply drops the
    /// Deferred); it says so explicitly where `let _ = ...` would look like a forgotten
    /// `.await`. For the Deferred of a [`from_future`](Deferred::from_future) task it is
    /// also the difference between running on and stopping: dropping that Deferred
    /// cancels the task, detaching it lets the task run to its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use torsade::Deferred;
    ///
    /// let (sender, receiver) = mpsc::channel();
    /// let (deferred, resolver) = Deferred::<u32>::new();
    /// deferred.add_callback(move |n| sender.send(n).unwrap()).detach();
    /// resolver.callback(5).unwrap();
    /// assert_eq!(receiver.recv().unwrap(), 5);
    /// ```
    pub fn detach(self) {
        drop(self.into_chain());
    }

    /// Takes the result if the chain has finished: `None` while it has not (the Deferred
    /// is then unchanged). After a result is taken the Deferred is spent: awaiting it or
    /// adding callbacks to it waits forever.
    ///
    /// Twisted trial's `successResultOf` / `failureResultOf`, without the assertion.
    pub fn take_result(&mut self) -> Option<Result<T, Failure>> {
        match self.chain().poll_result(std::task::Waker::noop()) {
            chain::Poll::Ready(result) => Some(result.map(unbox::<T>)),
            chain::Poll::Pending => None,
        }
    }

    pub(super) fn push<U: Send + 'static>(
        self,
        link: impl FnOnce(StepResult) -> Step + Send + 'static,
    ) -> Deferred<U> {
        let chain = self.into_chain();
        chain.push(Box::new(link));
        Deferred::from_chain(chain)
    }
}

/// Turns a callback's outcome into a chain step.
fn step<U: Send + 'static>(outcome: Outcome<U>) -> Step {
    match outcome {
        Outcome::Value(value) => Step::Done(Ok(Box::new(value))),
        Outcome::Failure(failure) => Step::Done(Err(failure)),
        Outcome::Deferred(deferred) => Step::Wait(deferred.into_chain()),
    }
}

/// Recovers the typed value from the chain.
pub(super) fn unbox<T: 'static>(value: Value) -> T {
    match value.downcast::<T>() {
        Ok(value) => *value,
        // Invariant: the typed views only ever link a `Deferred<T>` step to a callback
        // taking `T`, so the value in the slot is always a `T`.
        Err(_) => unreachable!(
            "a Deferred<{}> held another type",
            std::any::type_name::<T>()
        ),
    }
}

impl<T: Send + 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.chain().poll_result(cx.waker()) {
            chain::Poll::Ready(result) => Poll::Ready(result.map(unbox::<T>)),
            chain::Poll::Pending => {
                // Inside `Deferred::from_future`: cancelling that cancels this one.
                super::future::note_awaited(self.chain());
                Poll::Pending
            }
        }
    }
}

impl<T> Deferred<T> {
    /// The chain this Deferred is a view of.
    pub(super) fn chain(&self) -> &Arc<Chain> {
        match &self.chain {
            Some(chain) => chain,
            // Invariant: `chain` is `Some` until `into_chain` takes it, consuming `self`.
            None => unreachable!("a Deferred without its chain"),
        }
    }
}

impl<T> Drop for Deferred<T> {
    /// A Deferred let go of (not handed on) stops the `from_future` task producing its
    /// result, if that is still running: see [`Deferred::from_future`].
    fn drop(&mut self) {
        if let Some(chain) = self.chain.take() {
            chain.handle_dropped();
        }
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("type", &std::any::type_name::<T>())
            .field("called", &self.chain().is_fired())
            .field("waiting", &self.chain().is_waiting())
            .finish()
    }
}

impl<T: Send + 'static> Resolver<T> {
    pub(super) fn from_chain(chain: Arc<Chain>) -> Resolver<T> {
        Resolver {
            chain,
            _value: PhantomData,
        }
    }

    /// The chain this resolver fires.
    pub(super) fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// Gives up this resolver, to hand its chain on.
    pub(super) fn into_chain(self) -> Arc<Chain> {
        self.chain
    }

    /// Fires the Deferred with `value`, running its callbacks now.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyCalled`] if it was already fired; `value` is then dropped.
    pub fn callback(&self, value: T) -> Result<(), Error> {
        self.chain.fire(Ok(Box::new(value)))
    }

    /// Fires the Deferred with a failure, running its errbacks now.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyCalled`] if it was already fired.
    #[track_caller]
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<(), Error> {
        self.chain.fire(Err(failure.into()))
    }

    /// Whether the Deferred has been fired.
    pub fn is_called(&self) -> bool {
        self.chain.is_fired()
    }
}

impl<T> Clone for Resolver<T> {
    fn clone(&self) -> Self {
        Resolver {
            chain: self.chain.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Resolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("type", &std::any::type_name::<T>())
            .field("called", &self.chain.is_fired())
            .finish()
    }
}
