//! A queue whose `get` returns a Deferred: [`DeferredQueue`], and the
//! [`QueueOverflow`] a full one answers `put` with.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::chain::Accepted;
use super::deferred::unbox;
use super::{Deferred, Resolver};
use crate::Error;

/// A queue of values for consumers that wait with Deferreds. Twisted's `DeferredQueue`.
///
/// [`put`](DeferredQueue::put) hands a value to the oldest waiting
/// [`get`](DeferredQueue::get) (whose callbacks run then, on the putting thread) or, if
/// nobody waits, keeps it; `get` fires at once with the oldest kept value, or waits for the
/// next `put`. Both ends are first come, first served.
///
/// Limits, both optional (a queue from [`new`](DeferredQueue::new) has neither):
/// - **size**: how many values may be kept; a `put` beyond it fails with
///   [`QueueOverflow`], which gives the value back.
/// - **backlog**: how many gets may wait; a `get` beyond it fails with
///   [`Error::QueueUnderflow`].
///
/// A waiting get can be [cancelled](Deferred::cancel): it leaves the queue and fails with
/// [`Error::Cancelled`]; the next value goes to the next waiter. Cancelling a get that
/// already has its value does nothing.
///
/// Cheap to clone; clones are the same queue. `Send` and `Sync` for `T: Send`.
///
/// # Examples
///
/// ```
/// use torsade::DeferredQueue;
///
/// let queue = DeferredQueue::new();
/// let mut first = queue.get().unwrap(); // nothing yet: it waits
/// assert!(first.take_result().is_none());
///
/// queue.put("a").unwrap(); // goes straight to the waiting get
/// queue.put("b").unwrap(); // kept
/// assert_eq!(first.take_result().unwrap().unwrap(), "a");
/// assert_eq!(queue.len(), 1);
/// let mut second = queue.get().unwrap();
/// assert_eq!(second.take_result().unwrap().unwrap(), "b");
/// ```
pub struct DeferredQueue<T> {
    shared: Arc<QueueInner<T>>,
}

/// [`DeferredQueue::put`] on a queue that keeps `size` values already: here is the value
/// back. Twisted's `QueueOverflow`.
///
/// Converts into [`Error::QueueOverflow`] (dropping the value), so `?` works in functions
/// returning torsade's `Result`.
///
/// # Examples
///
/// ```
/// use torsade::DeferredQueue;
///
/// let queue = DeferredQueue::with_limits(Some(1), None);
/// queue.put(1).unwrap();
/// let overflow = queue.put(2).unwrap_err();
/// assert_eq!((overflow.value, overflow.size), (2, 1));
/// ```
pub struct QueueOverflow<T> {
    /// The value that did not fit.
    pub value: T,
    /// The queue's size limit.
    pub size: usize,
}

struct QueueInner<T> {
    size: Option<usize>,
    backlog: Option<usize>,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Values put while nobody waited, oldest first.
    pending: VecDeque<T>,
    /// Gets waiting for a value, oldest first.
    waiting: VecDeque<Waiter<T>>,
    next_id: u64,
}

struct Waiter<T> {
    id: u64,
    resolver: Resolver<T>,
}

impl<T: Send + 'static> DeferredQueue<T> {
    /// A queue with no limits.
    pub fn new() -> DeferredQueue<T> {
        DeferredQueue::with_limits(None, None)
    }

    /// A queue that keeps at most `size` values and lets at most `backlog` gets wait
    /// (`None`: no limit). Twisted's `DeferredQueue(size, backlog)`.
    ///
    /// A size of zero keeps nothing: a `put` succeeds only when a get is waiting. A
    /// backlog of zero lets no get wait: a `get` succeeds only when a value is kept.
    pub fn with_limits(size: Option<usize>, backlog: Option<usize>) -> DeferredQueue<T> {
        DeferredQueue {
            shared: Arc::new(QueueInner {
                size,
                backlog,
                state: Mutex::new(State {
                    pending: VecDeque::new(),
                    waiting: VecDeque::new(),
                    next_id: 0,
                }),
            }),
        }
    }

    /// Gives `value` to the oldest waiting get, running its callbacks now, or keeps it.
    ///
    /// # Errors
    ///
    /// [`QueueOverflow`] (holding `value`) if nobody waits and the queue keeps its size
    /// limit's worth of values already.
    pub fn put(&self, value: T) -> Result<(), QueueOverflow<T>> {
        let mut value = value;
        loop {
            let waiter = {
                let mut state = self.shared.lock();
                match state.waiting.pop_front() {
                    Some(waiter) => waiter,
                    None => {
                        if let Some(size) = self.shared.size {
                            if state.pending.len() >= size {
                                return Err(QueueOverflow { value, size });
                            }
                        }
                        state.pending.push_back(value);
                        return Ok(());
                    }
                }
            };
            // Fired outside the lock: the getter's callbacks may use the queue.
            match waiter.resolver.chain().accept(Ok(Box::new(value))) {
                Accepted::Fired => {
                    waiter.resolver.chain().run_fired();
                    return Ok(());
                }
                // A waiter is removed when cancelled, so its firing is never ignored;
                // if it were, the value would be gone with it.
                Accepted::Ignored => return Ok(()),
                // Cancelled on another thread as it was taken: on to the next waiter.
                Accepted::AlreadyCalled(refused) => match refused {
                    Ok(boxed) => value = unbox::<T>(boxed),
                    // Invariant: only `Ok(value)` was offered, and it is what came back.
                    Err(_) => unreachable!("a refused value came back as a failure"),
                },
            }
        }
    }

    /// A Deferred of the oldest kept value: fired at once if there is one, else when a
    /// value is put (unless cancelled first).
    ///
    /// # Errors
    ///
    /// [`Error::QueueUnderflow`] if no value is kept and the backlog limit's worth of gets
    /// wait already.
    pub fn get(&self) -> Result<Deferred<T>, Error> {
        let mut state = self.shared.lock();
        if let Some(value) = state.pending.pop_front() {
            drop(state);
            return Ok(Deferred::succeed(value));
        }
        if let Some(backlog) = self.shared.backlog {
            if state.waiting.len() >= backlog {
                return Err(Error::QueueUnderflow { backlog });
            }
        }
        let id = state.next_id;
        state.next_id += 1;
        // Weak: a waiting get does not keep the queue alive.
        let shared: Weak<QueueInner<T>> = Arc::downgrade(&self.shared);
        let (deferred, resolver) = Deferred::with_canceller(move |_| {
            if let Some(shared) = shared.upgrade() {
                shared.forget_waiter(id);
            }
        });
        state.waiting.push_back(Waiter { id, resolver });
        Ok(deferred)
    }

    /// How many values are kept, waiting for gets.
    pub fn len(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Whether no value is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many gets wait for a value.
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }

    /// How many values the queue may keep (`None`: no limit).
    pub fn size(&self) -> Option<usize> {
        self.shared.size
    }

    /// How many gets may wait (`None`: no limit).
    pub fn backlog(&self) -> Option<usize> {
        self.shared.backlog
    }
}

impl<T> QueueInner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A waiting get was cancelled: it leaves the queue.
    fn forget_waiter(&self, id: u64) {
        let mut state = self.lock();
        let position = state.waiting.iter().position(|waiter| waiter.id == id);
        let waiter = position.and_then(|position| state.waiting.remove(position));
        drop(state);
        // Dropped outside the lock.
        drop(waiter);
    }
}

impl<T: Send + 'static> Default for DeferredQueue<T> {
    fn default() -> DeferredQueue<T> {
        DeferredQueue::new()
    }
}

impl<T> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("DeferredQueue")
            .field("kept", &state.pending.len())
            .field("waiting", &state.waiting.len())
            .field("size", &self.shared.size)
            .field("backlog", &self.shared.backlog)
            .finish()
    }
}

impl<T> QueueOverflow<T> {
    /// The value that did not fit.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for QueueOverflow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueOverflow")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for QueueOverflow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Error::QueueOverflow { size: self.size }, f)
    }
}

impl<T> std::error::Error for QueueOverflow<T> {}

impl<T> From<QueueOverflow<T>> for Error {
    fn from(overflow: QueueOverflow<T>) -> Error {
        Error::QueueOverflow {
            size: overflow.size,
        }
    }
}
