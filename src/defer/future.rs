//! Turning a future into a Deferred, driven inline with no executor:
//! [`Deferred::from_future`].
//!
//! The future is polled at once, and then by whichever thread wakes it (see `drive`), so
//! a future that awaits Deferreds — or [`sleep`](crate::sleep) on a fake clock — runs
//! exactly when they fire, deterministically, as a Twisted coroutine does.

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use super::chain::Chain;
use super::{drive, Deferred, Failure, Resolver};
use crate::Error;

thread_local! {
    /// The Deferreds the future being polled on this thread found pending (`None` when no
    /// `from_future` task is being polled).
    static AWAITED: RefCell<Option<Vec<Weak<Chain>>>> = const { RefCell::new(None) };
}

/// A Deferred was polled and is pending: if a `from_future` task is polling it, the task
/// notes that it awaits it.
pub(super) fn note_awaited(chain: &Arc<Chain>) {
    // `try_with` fails only while the thread's locals are being destroyed.
    let _ = AWAITED.try_with(|awaited| {
        if let Ok(mut awaited) = awaited.try_borrow_mut() {
            if let Some(awaited) = awaited.as_mut() {
                awaited.push(Arc::downgrade(chain));
            }
        }
    });
}

/// Polls `future` once, noting the Deferreds it awaits.
fn poll_noting<T>(
    future: &mut BoxFuture<T>,
    context: &mut Context<'_>,
) -> (std::thread::Result<Poll<T>>, Vec<Weak<Chain>>) {
    let outer = AWAITED.try_with(|awaited| awaited.replace(Some(Vec::new())));
    let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(context)));
    let awaited = AWAITED
        .try_with(|awaited| awaited.replace(outer.ok().flatten()))
        .ok()
        .flatten()
        .unwrap_or_default();
    (polled, awaited)
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<T: Send + 'static> Deferred<T> {
    /// Runs `future` with no executor; the Deferred fires with its output. Twisted's
    /// `ensureDeferred` / `Deferred.fromCoroutine`.
    ///
    /// The future is polled **inline**: once now, up to its first pending await, and then
    /// again on whichever thread wakes it, as soon as it is woken — when a Deferred it
    /// awaits fires, for example, or when a [`testing::FakeClock`](crate::testing::FakeClock) is
    /// advanced past a [`sleep`](crate::sleep) it awaits. So no runtime is needed, and
    /// with a fake clock everything happens during `advance`, deterministically. A wake
    /// that arrives while the future is being polled makes it poll again afterwards,
    /// never recursively.
    ///
    /// - A panic in the future fails the Deferred with
    ///   [`Error::Panicked`](crate::Error::Panicked).
    /// - [Cancelling](Deferred::cancel) the Deferred cancels the Deferreds the future is
    ///   awaiting (so the work they wait for stops: a [`sleep`](crate::sleep)'s timer, say;
    ///   their `Cancelled` failures are not reported as unhandled), drops the future (at
    ///   once, or as soon as its current poll returns), and fails the Deferred with
    ///   [`Error::Cancelled`](crate::Error::Cancelled). Unlike a Twisted coroutine, the
    ///   future does not get to see the cancellation: it is dropped.
    /// - **Dropping the Deferred cancels the task** the same way, if the future has not
    ///   finished: nobody could observe its result any more, so it does not go on running
    ///   unobserved, holding what it awaits. The cancellation then has nobody to report
    ///   to, so nothing is logged. Handing the Deferred on is not dropping it: adding a
    ///   callback (the chain continues in the returned Deferred), returning it from a
    ///   callback, awaiting it, or putting it in a [`DeferredList`](crate::DeferredList)
    ///   or a [`race`](crate::race). To let the task run on with nobody watching, say so
    ///   with [`detach`](Deferred::detach). (This is the structured-concurrency rule of
    ///   smol's `Task`; a tokio `JoinHandle` detaches on drop instead, and so does the
    ///   task of [`Reactor::spawn`](crate::Reactor::spawn).)
    /// - A detached task lives as long as something can wake it: a future whose wakers
    ///   are all gone is dropped (its Deferred then never fires). A future awaiting a
    ///   Deferred that nobody will ever fire is kept alive by that Deferred (which holds
    ///   its waker) and so never dropped: cancel it, or give the wait a timeout.
    ///
    /// **Futures that use tokio resources** (tokio sockets, timers, channels that need a
    /// runtime) must run inside a tokio runtime: run them with
    /// [`Reactor::spawn`](crate::Reactor::spawn) instead. `from_future` is for futures
    /// that await Deferreds, torsade's [`sleep`](crate::sleep), and runtime-independent
    /// futures.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::{sleep, Deferred};
    ///
    /// let clock = FakeClock::new();
    /// let timer = clock.clone();
    /// let mut answer = Deferred::from_future(async move {
    ///     sleep(&timer, Duration::from_secs(1)).await.unwrap();
    ///     42
    /// });
    /// assert!(answer.take_result().is_none());
    /// clock.advance(Duration::from_secs(1)); // the future runs to its end in here
    /// assert_eq!(answer.take_result().unwrap().unwrap(), 42);
    /// ```
    ///
    /// Dropping the Deferred stops the task; `detach` lets it run:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use torsade::testing::FakeClock;
    /// use torsade::{sleep, Deferred};
    ///
    /// let clock = FakeClock::new();
    /// let finished = Arc::new(AtomicU32::new(0));
    /// for detach in [false, true] {
    ///     let (timer, count) = (clock.clone(), finished.clone());
    ///     let task = Deferred::from_future(async move {
    ///         sleep(&timer, Duration::from_secs(1)).await.unwrap();
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     });
    ///     if detach {
    ///         task.detach();
    ///     } else {
    ///         drop(task); // cancels it: its sleep is cancelled too
    ///     }
    /// }
    /// assert_eq!(clock.pending_calls(), 1);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(finished.load(Ordering::SeqCst), 1); // only the detached one
    /// ```
    #[doc(alias = "ensureDeferred")]
    #[doc(alias = "fromCoroutine")]
    pub fn from_future<F>(future: F) -> Deferred<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        let task = Arc::new(Task {
            state: Mutex::new(TaskState {
                future: Some(Box::pin(future)),
                resolver: Some(resolver),
                polling: false,
                poll_again: false,
                cancelled: false,
                awaiting: Vec::new(),
            }),
        });
        // Weak: the task lives as long as something can wake it.
        let weak: Weak<Task<T>> = Arc::downgrade(&task);
        deferred.chain().set_canceller(Box::new(move |_| {
            if let Some(task) = weak.upgrade() {
                task.cancel();
            }
        }));
        deferred.chain().cancel_when_dropped();
        drive::start(task);
        deferred
    }

    /// Like [`from_future`](Deferred::from_future), for a future that returns a `Result`:
    /// an `Err` fails the Deferred, as an exception in a Twisted coroutine does.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, Failure};
    ///
    /// let (input, resolver) = Deferred::<&str>::new();
    /// let mut parsed = Deferred::from_try_future(async move {
    ///     let text = input.await?;
    ///     Ok::<u32, Failure>(text.parse::<u32>()?)
    /// });
    /// resolver.callback("nope").unwrap();
    /// let failure = parsed.take_result().unwrap().unwrap_err();
    /// assert!(failure.is::<std::num::ParseIntError>());
    /// ```
    #[doc(alias = "ensureDeferred")]
    pub fn from_try_future<F, E>(future: F) -> Deferred<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<Failure> + Send + 'static,
    {
        Deferred::<Result<T, E>>::from_future(future).and_then(|result| result)
    }
}

/// A future driven inline, and the resolver of its Deferred.
struct Task<T> {
    state: Mutex<TaskState<T>>,
}

struct TaskState<T> {
    /// `None` while being polled, and once finished or cancelled.
    future: Option<BoxFuture<T>>,
    /// `None` once finished or cancelled.
    resolver: Option<Resolver<T>>,
    /// Some thread is polling the future.
    polling: bool,
    /// Woken while being polled: poll again when the current poll returns.
    poll_again: bool,
    /// Cancelled while being polled: drop the future when the current poll returns.
    cancelled: bool,
    /// The Deferreds the future found pending in its last poll.
    awaiting: Vec<Weak<Chain>>,
}

impl<T: Send + 'static> Task<T> {
    fn lock(&self) -> MutexGuard<'_, TaskState<T>> {
        // The future is polled outside the lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the future to poll it, unless it is being polled (then asks for another
    /// poll), or finished.
    fn begin_poll(&self) -> Option<(BoxFuture<T>, Option<Resolver<T>>)> {
        let mut state = self.lock();
        if state.polling {
            state.poll_again = true;
            return None;
        }
        let future = state.future.take()?;
        state.polling = true;
        Some((future, state.resolver.take()))
    }

    /// After a pending poll: poll again if woken meanwhile; else put the future and the
    /// resolver back — or, if cancelled meanwhile, hand them back to be dropped.
    fn end_pending_poll(
        &self,
        future: BoxFuture<T>,
        resolver: Option<Resolver<T>>,
        awaiting: Vec<Weak<Chain>>,
    ) -> After<T> {
        let mut state = self.lock();
        if state.cancelled {
            state.polling = false;
            return After::Cancelled(future, resolver, awaiting);
        }
        state.awaiting = awaiting;
        if state.poll_again {
            state.poll_again = false;
            return After::PollAgain(future, resolver);
        }
        state.future = Some(future);
        state.resolver = resolver;
        state.polling = false;
        After::Parked
    }

    fn finish(&self) {
        let awaiting = {
            let mut state = self.lock();
            state.polling = false;
            mem::take(&mut state.awaiting)
        };
        drop(awaiting);
    }

    /// The canceller: cancels what the future awaits, then drops the future now, or when
    /// its current poll returns.
    fn cancel(&self) {
        let (future, resolver, awaiting) = {
            let mut state = self.lock();
            state.cancelled = true;
            (
                state.future.take(),
                state.resolver.take(),
                mem::take(&mut state.awaiting),
            )
        };
        // The future is out of reach first, so the wakes these cancellations cause find
        // nothing to poll.
        abandon(&awaiting);
        // Dropped outside the lock: the future's captures may do anything.
        drop((future, resolver));
    }
}

/// Cancels the Deferreds a cancelled task's future was awaiting (see `Chain::abandon`).
fn abandon(awaiting: &[Weak<Chain>]) {
    for chain in awaiting.iter().filter_map(Weak::upgrade) {
        chain.abandon();
    }
}

/// What follows a pending poll.
enum After<T> {
    /// Woken during the poll: poll again.
    PollAgain(BoxFuture<T>, Option<Resolver<T>>),
    /// Waiting for a wake; the future is back in the task.
    Parked,
    /// Cancelled during the poll: the future and the resolver are to be dropped (outside
    /// the task's lock), and what the future awaits cancelled.
    Cancelled(BoxFuture<T>, Option<Resolver<T>>, Vec<Weak<Chain>>),
}

impl<T: Send + 'static> drive::Poll for Task<T> {
    fn poll_now(self: Arc<Self>) {
        let Some((mut future, mut resolver)) = self.begin_poll() else {
            return;
        };
        let waker = Waker::from(self.clone());
        let mut context = Context::from_waker(&waker);
        loop {
            let (polled, awaiting) = poll_noting(&mut future, &mut context);
            let result = match polled {
                Ok(Poll::Pending) => match self.end_pending_poll(future, resolver, awaiting) {
                    After::PollAgain(again, still) => {
                        (future, resolver) = (again, still);
                        continue;
                    }
                    After::Parked => return,
                    After::Cancelled(abandoned, resolver, awaiting) => {
                        drop(resolver);
                        abandon(&awaiting);
                        drop(abandoned);
                        return;
                    }
                },
                Ok(Poll::Ready(value)) => Ok(value),
                Err(payload) => {
                    let error = Error::from_panic(&*payload);
                    tracing::error!("a future run by Deferred::from_future panicked: {error}");
                    Err(Failure::new(error))
                }
            };
            self.finish();
            drop(future);
            if let Some(resolver) = resolver {
                // Fails only if the Deferred was cancelled meanwhile (on another thread).
                let _ = match result {
                    Ok(value) => resolver.callback(value),
                    Err(failure) => resolver.errback(failure),
                };
            }
            return;
        }
    }
}

impl<T: Send + 'static> Wake for Task<T> {
    fn wake(self: Arc<Self>) {
        drive::wake(self);
    }
}
