//! Limiting how many things run at once, Deferred-style: [`DeferredSemaphore`] and its
//! [`SemaphorePermit`].
//!
//! Also the engine of [`DeferredLock`](crate::DeferredLock) (a semaphore of one).

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::{maybe_deferred, Deferred, Failure, Outcome, Resolver};

/// A semaphore whose [`acquire`](DeferredSemaphore::acquire) returns a Deferred.
/// Twisted's `DeferredSemaphore`.
///
/// It starts with `limit` tokens. `acquire` takes one — its Deferred fires at once if one
/// is free, otherwise when one is released, waiters being served first come, first
/// served. The token comes as a [`SemaphorePermit`], which gives it back when dropped (or
/// [released](SemaphorePermit::release)), so a token cannot be released twice or leak
/// through a forgotten `release`. [`run`](DeferredSemaphore::run) wraps a function in an
/// acquire and a release.
///
/// A waiting acquire can be [cancelled](Deferred::cancel): it leaves the queue and fails
/// with [`Error::Cancelled`](crate::Error::Cancelled). Cancelling one that already has its
/// permit does nothing.
///
/// Cheap to clone; clones share the tokens. Waiters are served on the thread that
/// releases, one after the other (a release inside a waiter's callback does not nest).
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use torsade::DeferredSemaphore;
///
/// let semaphore = DeferredSemaphore::new(NonZeroUsize::new(2).unwrap());
/// let mut first = semaphore.acquire();
/// let second = semaphore.acquire();
/// let mut third = semaphore.acquire();
/// assert_eq!(semaphore.tokens(), 0);
/// assert!(third.take_result().is_none()); // waits for a token
///
/// drop(first.take_result()); // the permit is dropped: its token goes to `third`
/// assert!(third.take_result().is_some());
/// # drop(second);
/// ```
#[derive(Clone)]
pub struct DeferredSemaphore {
    shared: Arc<SemaphoreInner>,
}

/// One of a [`DeferredSemaphore`]'s tokens, held until dropped or
/// [released](SemaphorePermit::release).
#[must_use = "dropping the permit releases its token at once"]
pub struct SemaphorePermit {
    shared: Arc<SemaphoreInner>,
}

struct SemaphoreInner {
    limit: usize,
    state: Mutex<State>,
}

struct State {
    /// Free tokens.
    tokens: usize,
    waiters: VecDeque<Waiter>,
    next_id: u64,
    /// Some frame is handing released tokens to waiters; a release meanwhile only adds
    /// its token.
    handing_off: bool,
}

struct Waiter {
    id: u64,
    resolver: Resolver<SemaphorePermit>,
}

impl DeferredSemaphore {
    /// A semaphore with `limit` tokens, all free. (Twisted raises `ValueError` for fewer
    /// than one token; here the type rules it out.)
    pub fn new(limit: NonZeroUsize) -> DeferredSemaphore {
        DeferredSemaphore {
            shared: Arc::new(SemaphoreInner {
                limit: limit.get(),
                state: Mutex::new(State {
                    tokens: limit.get(),
                    waiters: VecDeque::new(),
                    next_id: 0,
                    handing_off: false,
                }),
            }),
        }
    }

    /// Takes a token: the Deferred fires with its permit at once if a token is free and
    /// nobody waits, else when it is this caller's turn. Cancel the Deferred to stop
    /// waiting.
    pub fn acquire(&self) -> Deferred<SemaphorePermit> {
        let mut state = self.shared.lock();
        if state.tokens > 0 && state.waiters.is_empty() {
            state.tokens -= 1;
            drop(state);
            return Deferred::succeed(SemaphorePermit {
                shared: self.shared.clone(),
            });
        }
        let id = state.next_id;
        state.next_id += 1;
        // Weak: a waiter does not keep the semaphore alive.
        let shared: Weak<SemaphoreInner> = Arc::downgrade(&self.shared);
        let (deferred, resolver) = Deferred::with_canceller(move |_| {
            if let Some(shared) = shared.upgrade() {
                shared.forget_waiter(id);
            }
        });
        state.waiters.push_back(Waiter { id, resolver });
        deferred
    }

    /// Runs `f` once a token is free and gives the token back when `f`'s outcome is there
    /// (which, if `f` returns a Deferred, is when that fires). The Deferred fires with
    /// `f`'s outcome. `f` is called as by [`maybe_deferred`](crate::maybe_deferred): a
    /// panic becomes a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use torsade::{Deferred, DeferredSemaphore, Failure};
    ///
    /// let semaphore = DeferredSemaphore::new(NonZeroUsize::MIN);
    /// let (work, finish_work) = Deferred::<u32>::new();
    /// let mut first = semaphore.run(move || work);
    /// let mut second = semaphore.run(|| Ok::<_, Failure>(2));
    /// assert!(second.take_result().is_none()); // waits for `first`
    /// finish_work.callback(1).unwrap();
    /// assert_eq!(first.take_result().unwrap().unwrap(), 1);
    /// assert_eq!(second.take_result().unwrap().unwrap(), 2);
    /// ```
    pub fn run<U, R, F>(&self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnOnce() -> R + Send + 'static,
    {
        self.acquire().and_then(move |permit| {
            maybe_deferred(f).add_both(move |result: Result<U, Failure>| {
                drop(permit);
                result
            })
        })
    }

    /// How many tokens are free.
    pub fn tokens(&self) -> usize {
        self.shared.lock().tokens
    }

    /// How many tokens there are in all.
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    /// How many acquires are waiting for a token.
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiters.len()
    }
}

impl SemaphoreInner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A waiter was cancelled: it leaves the queue.
    fn forget_waiter(&self, id: u64) {
        let mut state = self.lock();
        let position = state.waiters.iter().position(|waiter| waiter.id == id);
        let waiter = position.and_then(|position| state.waiters.remove(position));
        drop(state);
        // Dropped outside the lock.
        drop(waiter);
    }

    /// A token comes back: it goes to the first waiter, if any.
    ///
    /// Iterative: a waiter's callbacks run here, and a release they make (directly or by
    /// dropping a permit) only adds its token for this loop to hand on.
    fn release(self: &Arc<Self>) {
        let mut state = self.lock();
        state.tokens += 1;
        if state.handing_off {
            return;
        }
        state.handing_off = true;
        while state.tokens > 0 {
            let Some(waiter) = state.waiters.pop_front() else {
                break;
            };
            state.tokens -= 1;
            drop(state);
            let permit = SemaphorePermit {
                shared: self.clone(),
            };
            // If the waiter was cancelled meanwhile, the permit comes back in the error
            // path: it is dropped, which releases its token into this loop.
            let _ = waiter.resolver.callback(permit);
            drop(waiter);
            state = self.lock();
        }
        state.handing_off = false;
    }
}

impl SemaphorePermit {
    /// Gives the token back now (the same as dropping the permit). Twisted's `release`.
    pub fn release(self) {}
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        self.shared.release();
    }
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("DeferredSemaphore")
            .field("limit", &self.shared.limit)
            .field("tokens", &state.tokens)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("limit", &self.shared.limit)
            .finish()
    }
}
