//! The reactor's event loops: one single-threaded tokio runtime each, and which one the
//! current thread is running.
//!
//! A connection lives on one loop for its whole life. Work started from a loop (a
//! connection a protocol opens, a timer a callback schedules) stays on that loop, so it
//! never runs concurrently with that loop's other callbacks; work started from outside
//! every loop is spread round-robin (or, for timers, goes to loop 0).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::{Handle, Runtime};

use crate::time::timer_queue::TimerQueue;
use crate::{Clock, DelayedCall};

thread_local! {
    /// The reactor (its address) and loop the current thread is running, if any.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// One event loop.
pub(crate) struct Loop {
    /// The runtime, until `run` takes it to drive it.
    pub(crate) runtime: Mutex<Option<Runtime>>,
    pub(crate) handle: Handle,
    pub(crate) timers: Arc<TimerQueue>,
    /// The loop's timers as a [`Clock`]: the clock of the connections on this loop.
    pub(crate) clock: Arc<dyn Clock>,
}

/// A loop's timer queue as a [`Clock`]: calls scheduled on it run on that loop.
#[derive(Debug)]
pub(crate) struct LoopClock {
    pub(crate) timers: Arc<TimerQueue>,
}

impl Clock for LoopClock {
    fn now(&self) -> std::time::Duration {
        self.timers.now()
    }

    fn schedule(&self, delay: std::time::Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        let (id, status) = self.timers.schedule(delay, call);
        DelayedCall::new(self.timers.clone(), id, status)
    }
}

/// A reactor's loops.
pub(crate) struct Loops {
    loops: Vec<Loop>,
    next: AtomicUsize,
}

impl Loops {
    pub(crate) fn new(loops: Vec<Loop>) -> Loops {
        Loops {
            loops,
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.loops.len()
    }

    pub(crate) fn get(&self, index: usize) -> &Loop {
        // Invariant: there is always at least one loop, and indices come from `len`.
        &self.loops[index % self.loops.len()]
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Loop> {
        self.loops.iter()
    }

    /// The loop the current thread runs for reactor `owner`, if any.
    pub(crate) fn current(owner: usize) -> Option<usize> {
        CURRENT.with(|current| match current.get() {
            Some((reactor, index)) if reactor == owner => Some(index),
            _ => None,
        })
    }

    /// The index of the loop the current thread runs (of whichever reactor), 0 if none.
    pub(crate) fn current_index() -> usize {
        CURRENT.with(|current| current.get().map_or(0, |(_, index)| index))
    }

    /// The loop new work goes to: the current one, else the next in turn.
    pub(crate) fn pick(&self, owner: usize) -> &Loop {
        match Loops::current(owner) {
            Some(index) => self.get(index),
            None => self.get(self.next.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// The loop timers go to: the current one, else loop 0.
    pub(crate) fn for_timers(&self, owner: usize) -> &Loop {
        self.get(Loops::current(owner).unwrap_or(0))
    }

    /// Takes every runtime out (for `run`); `None` if any is missing (running, or not
    /// owned).
    pub(crate) fn take_runtimes(&self) -> Option<Vec<Runtime>> {
        let mut runtimes = Vec::with_capacity(self.loops.len());
        for each in &self.loops {
            runtimes.push(
                each.runtime
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()?,
            );
        }
        Some(runtimes)
    }
}

/// Marks the current thread as running loop `index` of reactor `owner` until dropped.
pub(crate) struct Running {
    previous: Option<(usize, usize)>,
}

impl Running {
    pub(crate) fn enter(owner: usize, index: usize) -> Running {
        let previous = CURRENT.with(|current| current.replace(Some((owner, index))));
        Running { previous }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}
