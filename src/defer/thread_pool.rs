//! The reactor's pool of threads for blocking work: [`ThreadPool`], behind
//! [`Reactor::defer_to_thread`](crate::Reactor::defer_to_thread).
//!
//! A bounded set of worker threads taking jobs from one queue. Threads start when work
//! arrives and every thread is busy, up to the pool's size, and stay until the pool shuts
//! down (or the size is lowered below them). Twisted's `ThreadPool` behind
//! `deferToThread`, with a settable maximum (Twisted's `suggestThreadPoolSize`).
//!
//! A job that never runs — queued when the pool shuts down, or refused because it has —
//! is dropped, and dropping a job fails its Deferred (see `to_thread`): nothing waits for
//! ever on a pool that is gone.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};

use crate::Error;

/// What Twisted's reactor uses: up to 10 threads.
pub(crate) const DEFAULT_THREAD_POOL_SIZE: usize = 10;

/// A unit of blocking work.
pub(crate) trait Job: Send {
    /// Does the work, on a worker thread.
    fn run(self: Box<Self>);
    /// The work cannot be done: `error` says why.
    fn fail(self: Box<Self>, error: Error);
}

/// A bounded pool of worker threads. PoolInner by clones of the reactor that owns it.
pub(crate) struct ThreadPool {
    shared: Arc<PoolInner>,
}

struct PoolInner {
    state: Mutex<State>,
    /// Idle workers wait here for jobs, or for the pool to shrink or stop.
    work: Condvar,
}

struct State {
    queue: VecDeque<Box<dyn Job>>,
    /// The most threads the pool may run.
    size: usize,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    stopped: bool,
    /// Every thread started, to join them when the pool stops.
    handles: Vec<JoinHandle<()>>,
    /// Names the threads `torsade-pool-N`.
    started: u64,
}

impl ThreadPool {
    pub(crate) fn new(size: usize) -> ThreadPool {
        ThreadPool {
            shared: Arc::new(PoolInner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    size: size.max(1),
                    threads: 0,
                    idle: 0,
                    stopped: false,
                    handles: Vec::new(),
                    started: 0,
                }),
                work: Condvar::new(),
            }),
        }
    }

    /// Queues `job` for a worker, starting one if every worker is busy and the pool has
    /// room. A pool that has stopped fails the job with [`Error::ReactorStopped`].
    pub(crate) fn submit(&self, job: Box<dyn Job>) {
        let mut state = self.shared.lock();
        if state.stopped {
            drop(state);
            job.fail(Error::ReactorStopped);
            return;
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            self.shared.work.notify_one();
            return;
        }
        if state.threads < state.size {
            if let Err(error) = self.start_worker(&mut state) {
                tracing::error!("cannot start a thread for the thread pool: {error}");
                if state.threads == 0 {
                    // Nobody would ever take it.
                    let stranded: Vec<_> = state.queue.drain(..).collect();
                    drop(state);
                    for job in stranded {
                        job.fail(Error::Io(std::io::Error::new(
                            error.kind(),
                            error.to_string(),
                        )));
                    }
                }
            }
        }
    }

    /// Sets the most threads the pool may run. Threads above it end once idle; work
    /// already queued gets the new threads it may now have.
    pub(crate) fn set_size(&self, size: usize) {
        let mut state = self.shared.lock();
        state.size = size.max(1);
        // Idle threads above the size end; the others recheck.
        self.shared.work.notify_all();
        while state.threads < state.size && state.queue.len() > state.idle && !state.stopped {
            if let Err(error) = self.start_worker(&mut state) {
                tracing::error!("cannot start a thread for the thread pool: {error}");
                break;
            }
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.shared.lock().size
    }

    /// How many worker threads are alive.
    pub(crate) fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Stops the pool: jobs still queued fail with [`Error::ReactorStopped`], jobs
    /// running finish, and every thread ends. With `join`, waits for the threads to end
    /// (all but the calling thread, if it is one of them).
    pub(crate) fn shutdown(&self, join: bool) {
        let (queued, handles) = {
            let mut state = self.shared.lock();
            state.stopped = true;
            let queued: Vec<_> = state.queue.drain(..).collect();
            (queued, std::mem::take(&mut state.handles))
        };
        self.shared.work.notify_all();
        for job in queued {
            job.fail(Error::ReactorStopped);
        }
        if !join {
            return;
        }
        let me: ThreadId = thread::current().id();
        for handle in handles {
            if handle.thread().id() == me {
                continue;
            }
            if handle.join().is_err() {
                tracing::error!("a thread pool worker panicked");
            }
        }
    }

    fn start_worker(&self, state: &mut MutexGuard<'_, State>) -> std::io::Result<()> {
        state.handles.retain(|handle| !handle.is_finished());
        state.started += 1;
        let shared = self.shared.clone();
        let handle = thread::Builder::new()
            .name(format!("torsade-pool-{}", state.started))
            .spawn(move || shared.work_loop())?;
        state.threads += 1;
        state.handles.push(handle);
        Ok(())
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs never run under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker: takes jobs until the pool stops or shrinks below it.
    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if state.stopped || state.threads > state.size {
                state.threads -= 1;
                return;
            }
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // The job catches its own panics (it has a Deferred to fail).
                job.run();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("size", &state.size)
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("stopped", &state.stopped)
            .finish()
    }
}
