//! Mutual exclusion, Deferred-style: [`DeferredLock`] and its [`LockGuard`].

use std::fmt;
use std::num::NonZeroUsize;

use super::{Deferred, DeferredSemaphore, Outcome, SemaphorePermit};

/// A lock whose [`acquire`](DeferredLock::acquire) returns a Deferred. Twisted's
/// `DeferredLock`.
///
/// `acquire` fires at once with a [`LockGuard`] if the lock is free, else when the guard
/// before it is dropped (or [released](LockGuard::release)); waiters are served first
/// come, first served, and a waiting acquire can be [cancelled](Deferred::cancel). Since
/// the guard releases the lock, releasing an unlocked lock (an `AssertionError` in
/// Twisted) cannot happen. [`run`](DeferredLock::run) wraps a function in an acquire and
/// a release.
///
/// Cheap to clone; clones are the same lock. It is a [`DeferredSemaphore`] of one token.
///
/// # Examples
///
/// ```
/// use torsade::{DeferredLock, Failure};
///
/// let lock = DeferredLock::new();
/// let mut held = lock.acquire();
/// assert!(lock.locked());
/// let mut next = lock.run(|| Ok::<_, Failure>("ran"));
/// assert!(next.take_result().is_none()); // waits for the lock
///
/// held.take_result().unwrap().unwrap().release();
/// assert_eq!(next.take_result().unwrap().unwrap(), "ran");
/// assert!(!lock.locked());
/// ```
#[derive(Clone)]
pub struct DeferredLock {
    semaphore: DeferredSemaphore,
}

/// The right to a [`DeferredLock`], held until dropped or [released](LockGuard::release).
#[must_use = "dropping the guard releases the lock at once"]
#[derive(Debug)]
pub struct LockGuard {
    _permit: SemaphorePermit,
}

impl DeferredLock {
    /// An unlocked lock.
    pub fn new() -> DeferredLock {
        DeferredLock {
            semaphore: DeferredSemaphore::new(NonZeroUsize::MIN),
        }
    }

    /// Takes the lock: the Deferred fires with the guard at once if the lock is free and
    /// nobody waits, else when it is this caller's turn. Cancel the Deferred to stop
    /// waiting.
    pub fn acquire(&self) -> Deferred<LockGuard> {
        self.semaphore
            .acquire()
            .add_callback(|permit| LockGuard { _permit: permit })
    }

    /// Runs `f` holding the lock, and releases it when `f`'s outcome is there (which, if
    /// `f` returns a Deferred, is when that fires). See [`DeferredSemaphore::run`].
    pub fn run<U, R, F>(&self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        R: Into<Outcome<U>>,
        F: FnOnce() -> R + Send + 'static,
    {
        self.semaphore.run(f)
    }

    /// Whether the lock is held. Twisted's `locked`.
    pub fn locked(&self) -> bool {
        self.semaphore.tokens() == 0
    }
}

impl Default for DeferredLock {
    fn default() -> DeferredLock {
        DeferredLock::new()
    }
}

impl LockGuard {
    /// Releases the lock now (the same as dropping the guard). Twisted's `release`.
    pub fn release(self) {}
}

impl fmt::Debug for DeferredLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredLock")
            .field("locked", &self.locked())
            .field("waiting", &self.semaphore.waiting())
            .finish()
    }
}
