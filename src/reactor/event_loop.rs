//! The event loop: [`Reactor`] — run, stop, time, and the entry points to networking.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{watch, Notify};

use super::loops::{Loop, LoopClock, Loops, Running};
use super::registry::Registry;
use super::signals::{self, SignalHandling};
use super::stats::ReactorStats;
use crate::defer::{ThreadPool, DEFAULT_THREAD_POOL_SIZE};
use crate::time::timer_queue::{TimeSource, TimerQueue};
use crate::{Clock, Deferred, DelayedCall, Error, Result};

/// A hook queued by [`Reactor::call_when_running`].
type Hook = Box<dyn FnOnce() + Send>;

/// The event loop. Twisted's reactor, on tokio.
///
/// A `Reactor` is a cheap, `Send + Sync` handle: clone it into protocols, factories and
/// timers. [`Reactor::new`] makes one that owns a single-threaded tokio runtime; [`run`]
/// drives it on the calling thread until [`stop`] is called. With one loop no two
/// callbacks ever run at the same time — protocol callbacks, timed calls, and the Deferred
/// callbacks they fire all take turns.
///
/// # More than one loop
///
/// [`Reactor::with_loops`] runs N loops, each a single-threaded runtime on its own thread
/// (loop 0 on the thread that calls `run`). What stays true: each connection lives on one
/// loop for its whole life, so its protocol's callbacks never run concurrently with each
/// other; a timer scheduled from a loop runs on that loop; a connection a protocol opens
/// lives on the opener's loop. What changes: callbacks of *different* connections may run
/// at the same time on different threads, so state shared between connections (in a
/// factory, say) needs a `Mutex` or atomics — as the `Sync` bound on factories already
/// asks. Listening ports accept on every loop (see [`listen`](Reactor::listen)).
///
/// [`run`]: Reactor::run
/// [`stop`]: Reactor::stop
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::Reactor;
///
/// let reactor = Reactor::new().unwrap();
/// let r = reactor.clone();
/// reactor.call_when_running(move || {
///     let stopper = r.clone();
///     r.call_later(Duration::from_millis(1), move || stopper.stop().unwrap());
/// });
/// reactor.run().unwrap();
/// ```
#[derive(Clone)]
pub struct Reactor {
    inner: Arc<Inner>,
}

struct Inner {
    loops: Loops,
    registry: Arc<Registry>,
    phase: Mutex<Phase>,
    /// What `run` does on SIGINT and SIGTERM.
    signals: Mutex<SignalHandling>,
    stop_requested: Notify,
    /// Tells the loops other than loop 0 to end, once everything has closed.
    loops_done: watch::Sender<bool>,
    /// The threads of `defer_to_thread` (`defer/to_thread.rs`); shut down with the
    /// reactor.
    thread_pool: ThreadPool,
}

enum Phase {
    /// Not run yet; hooks wait for `run`.
    Idle(Vec<Hook>),
    Running,
    Stopping,
    Stopped,
}

impl Reactor {
    /// A reactor owning a single-threaded tokio runtime, ready to [`run`](Reactor::run).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the runtime cannot be created.
    pub fn new() -> Result<Reactor> {
        Reactor::with_loops(NonZeroUsize::MIN)
    }

    /// A reactor owning `loops` single-threaded runtimes (see "More than one loop" above);
    /// `std::thread::available_parallelism()` gives one per core.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a runtime cannot be created.
    pub fn with_loops(loops: NonZeroUsize) -> Result<Reactor> {
        let mut built = Vec::with_capacity(loops.get());
        for _ in 0..loops.get() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            built.push((runtime.handle().clone(), Some(runtime)));
        }
        Ok(Reactor::build(built))
    }

    /// A reactor on a tokio runtime you already run (for example inside
    /// `#[tokio::main]`). It cannot [`run`](Reactor::run): your runtime drives it, and
    /// [`stop`](Reactor::stop) closes its ports and connections gracefully (await
    /// [`stopped`](Reactor::stopped) to know when that is done).
    pub fn from_handle(handle: Handle) -> Reactor {
        let reactor = Reactor::build(vec![(handle, None)]);
        reactor.lock_phase_set(Phase::Running);
        reactor
    }

    fn build(runtimes: Vec<(Handle, Option<Runtime>)>) -> Reactor {
        // The reactor's clock: the one place that reads the system time. Every loop
        // measures from the same origin, so their times compare.
        #[allow(clippy::disallowed_methods)]
        let origin = tokio::time::Instant::now();
        let loops: Vec<Loop> = runtimes
            .into_iter()
            .map(|(handle, runtime)| {
                let timers = TimerQueue::new(TimeSource::System { origin });
                handle.spawn(drive_timers(timers.clone(), origin));
                let clock: Arc<dyn Clock> = Arc::new(LoopClock {
                    timers: timers.clone(),
                });
                Loop {
                    runtime: Mutex::new(runtime),
                    handle,
                    timers,
                    clock,
                }
            })
            .collect();
        let (loops_done, _) = watch::channel(false);
        let registry = Registry::new(loops.len());
        Reactor {
            inner: Arc::new(Inner {
                loops: Loops::new(loops),
                registry,
                phase: Mutex::new(Phase::Idle(Vec::new())),
                signals: Mutex::new(SignalHandling::default()),
                stop_requested: Notify::new(),
                loops_done,
                thread_pool: ThreadPool::new(DEFAULT_THREAD_POOL_SIZE),
            }),
        }
    }

    /// How many event loops this reactor runs.
    pub fn loops(&self) -> usize {
        self.inner.loops.len()
    }

    /// This reactor's identity for `Loops`: the address of its shared state.
    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // No user code runs under this lock.
        self.inner
            .phase
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_phase_set(&self, phase: Phase) {
        *self.phase() = phase;
    }

    /// Runs the event loop on this thread until [`stop`](Reactor::stop) has completed:
    /// every port closed and every connection's `connection_lost` called.
    ///
    /// While it runs, SIGINT and SIGTERM stop the reactor gracefully (with a deadline; a
    /// second signal aborts everything at once), as Twisted's reactor does — see
    /// [`set_signal_handling`](Reactor::set_signal_handling) to change or turn that off.
    ///
    /// A reactor runs once.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorCannotRun`] if it is running, has run, or was made with
    /// [`from_handle`](Reactor::from_handle).
    pub fn run(&self) -> Result<()> {
        let runtimes = self
            .inner
            .loops
            .take_runtimes()
            .ok_or(Error::ReactorCannotRun {
                reason: "it is running, has run, or does not own its event loop",
            })?;
        let hooks = match std::mem::replace(&mut *self.phase(), Phase::Running) {
            Phase::Idle(hooks) => hooks,
            other => {
                *self.phase() = other;
                return Err(Error::ReactorCannotRun {
                    reason: "it is already running or stopped",
                });
            }
        };
        let mut runtimes = runtimes.into_iter();
        // Invariant: a reactor has at least one loop, and all runtimes were taken.
        let Some(first) = runtimes.next() else {
            return Err(Error::ReactorCannotRun {
                reason: "it has no loop",
            });
        };
        let others = self.start_other_loops(runtimes);
        {
            let _running = Running::enter(self.id(), 0);
            first.block_on(async {
                if let SignalHandling::Stop { deadline } = self.signal_handling() {
                    let registry = self.inner.registry.clone();
                    tokio::spawn(signals::watch(self.clone(), registry, deadline));
                }
                for hook in hooks {
                    run_hook(hook);
                }
                self.stopped().await;
            });
        }
        self.inner.loops_done.send_replace(true);
        for thread in others {
            if thread.join().is_err() {
                tracing::error!("an event loop thread panicked");
            }
        }
        // Work still queued for the pool never runs; work running is waited for. Results
        // it sends to the loop from now on are dropped with the runtime, failing their
        // Deferreds with ReactorStopped.
        self.inner.thread_pool.shutdown(true);
        // Dropping the runtime drops whatever tasks remain (lingering closes past their
        // deadline, user tasks), and with them any reactor clones they held.
        drop(first);
        // Timed calls not yet due never run; dropping them frees the reactor clones they
        // hold (a LoopingCall's next call holds its clock: this reactor).
        for each in self.inner.loops.iter() {
            each.timers.close();
        }
        Ok(())
    }

    /// Runs loops 1.. on their own threads until loop 0 says everything has closed.
    fn start_other_loops(
        &self,
        runtimes: impl Iterator<Item = Runtime>,
    ) -> Vec<std::thread::JoinHandle<()>> {
        runtimes
            .enumerate()
            .filter_map(|(offset, runtime)| {
                let (owner, index) = (self.id(), offset + 1);
                let mut done = self.inner.loops_done.subscribe();
                std::thread::Builder::new()
                    .name(format!("torsade-loop-{index}"))
                    .spawn(move || {
                        let _running = Running::enter(owner, index);
                        runtime.block_on(async move {
                            let _ = done.wait_for(|done| *done).await;
                        });
                    })
                    .map_err(|error| tracing::error!("cannot start event loop {index}: {error}"))
                    .ok()
            })
            .collect()
    }

    /// Stops the reactor gracefully: every listening port stops accepting, every
    /// connection is asked to [`lose_connection`](crate::Transport::lose_connection)
    /// (pending writes are flushed first), connection attempts are abandoned, and once
    /// every `connection_lost` has run, [`run`](Reactor::run) returns. Child processes
    /// still running are terminated or waited for as the
    /// [`ChildPolicy`](crate::process::ChildPolicy) says
    /// ([`set_child_policy`](Reactor::set_child_policy)), and `run` returns only once
    /// each has ended. Timed calls not yet
    /// due never run. A connection whose close cannot complete (a peer that never reads)
    /// holds `run` until it does; [`stop_with_deadline`](Reactor::stop_with_deadline)
    /// bounds the wait.
    ///
    /// May be called from anywhere, any thread.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorNotRunning`] if the reactor is not running, or is already stopping.
    pub fn stop(&self) -> Result<()> {
        {
            let mut phase = self.phase();
            match *phase {
                Phase::Running => *phase = Phase::Stopping,
                Phase::Idle(_) | Phase::Stopping | Phase::Stopped => {
                    return Err(Error::ReactorNotRunning)
                }
            }
        }
        self.inner.registry.begin_stop();
        self.inner.stop_requested.notify_one();
        Ok(())
    }

    /// Stops the reactor like [`stop`](Reactor::stop), but waits at most `deadline` for
    /// connections to close gracefully: those still open then — a peer that does not read
    /// the last bytes, a producer that never unregisters, a TLS handshake that hangs — are
    /// aborted (`connection_lost(Aborted)`), lingering closes are cut short, and
    /// [`run`](Reactor::run) returns. The deadline is measured on the reactor's clock.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorNotRunning`] if the reactor is not running, or is already stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::Reactor;
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let r = reactor.clone();
    /// reactor.call_when_running(move || r.stop_with_deadline(Duration::from_secs(5)).unwrap());
    /// reactor.run().unwrap();
    /// ```
    pub fn stop_with_deadline(&self, deadline: Duration) -> Result<()> {
        self.stop()?;
        self.abort_after(deadline);
        Ok(())
    }

    /// Aborts whatever has not closed `deadline` from now (the reactor is stopping).
    pub(crate) fn abort_after(&self, deadline: Duration) {
        let registry = self.inner.registry.clone();
        self.handle().spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(deadline) => registry.abort_all(),
                () = registry.drained() => {}
            }
        });
    }

    /// What the reactor has done so far: open connections, connections accepted, made and
    /// refused, bytes read and written, write pauses, idle timeouts, tasks alive. A
    /// snapshot; cheap (it reads one set of counters per loop).
    pub fn stats(&self) -> ReactorStats {
        let mut stats = self.inner.registry.counters().snapshot();
        stats.tasks = self
            .handles()
            .map(|handle| handle.metrics().num_alive_tasks() as u64)
            .sum();
        stats
    }

    /// Completes once the reactor has been stopped and everything it ran has closed.
    pub async fn stopped(&self) {
        loop {
            let requested = self.inner.stop_requested.notified();
            tokio::pin!(requested);
            requested.as_mut().enable();
            if matches!(*self.phase(), Phase::Stopping | Phase::Stopped) {
                break;
            }
            requested.await;
        }
        self.inner.registry.drained().await;
        self.lock_phase_set(Phase::Stopped);
        // Let other waiters see it too.
        self.inner.stop_requested.notify_one();
    }

    /// Whether the reactor is running (and not stopping).
    pub fn is_running(&self) -> bool {
        matches!(*self.phase(), Phase::Running)
    }

    /// Runs `hook` once the reactor is running: at the start of [`run`](Reactor::run), or
    /// on the next turn of the loop if it is already running. Twisted's
    /// `callWhenRunning`.
    #[doc(alias = "callWhenRunning")]
    pub fn call_when_running(&self, hook: impl FnOnce() + Send + 'static) {
        let mut phase = self.phase();
        match &mut *phase {
            Phase::Idle(hooks) => hooks.push(Box::new(hook)),
            Phase::Running | Phase::Stopping | Phase::Stopped => {
                drop(phase);
                self.call_later(Duration::ZERO, hook);
            }
        }
    }

    /// Runs `call` once, `delay` from now, on the loop. Twisted's `callLater`.
    ///
    /// Calls due at the same time run in the order they were scheduled. Dropping the
    /// returned [`DelayedCall`] does not cancel the call.
    #[doc(alias = "callLater")]
    pub fn call_later(&self, delay: Duration, call: impl FnOnce() + Send + 'static) -> DelayedCall {
        self.schedule(delay, Box::new(call))
    }

    /// Runs `future` as a task on the loop; the Deferred fires with its output. A panic
    /// in the future fails the Deferred with [`Error::Panicked`]. Twisted's
    /// `ensureDeferred`, on this reactor.
    #[doc(alias = "ensureDeferred")]
    pub fn spawn<T, F>(&self, future: F) -> Deferred<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        self.handle().spawn(async move {
            // The resolver is fired only here, so firing cannot fail.
            let _ = match std::panic::AssertUnwindSafe(future).catch_unwind().await {
                Ok(value) => resolver.callback(value),
                Err(payload) => resolver.errback(Error::from_panic(&*payload)),
            };
        });
        deferred
    }

    /// Sets how long a TLS handshake may take on this reactor (default
    /// [`TLS_HANDSHAKE_TIMEOUT`](crate::tls::TLS_HANDSHAKE_TIMEOUT)): a handshake still
    /// unfinished then fails with [`Error::TlsHandshakeTimeout`]. Applies to handshakes
    /// started afterwards.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn set_tls_handshake_timeout(&self, timeout: Duration) {
        self.inner.registry.set_tls_handshake_timeout(timeout);
    }

    /// Sets what [`run`](Reactor::run) does on SIGINT and SIGTERM: by default the first
    /// stops the reactor gracefully, aborting what has not closed after
    /// [`SIGNAL_STOP_DEADLINE`](crate::SIGNAL_STOP_DEADLINE) (10 s), and a second aborts
    /// at once; [`SignalHandling::Off`] leaves the signals to the process (a program that
    /// handles them itself). Takes effect at the next `run`. A reactor on your own runtime
    /// ([`from_handle`](Reactor::from_handle)) never handles signals.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::{Reactor, SignalHandling};
    ///
    /// let reactor = Reactor::new().unwrap();
    /// reactor.set_signal_handling(SignalHandling::Stop { deadline: Duration::from_secs(30) });
    /// reactor.set_signal_handling(SignalHandling::Off);
    /// ```
    pub fn set_signal_handling(&self, handling: SignalHandling) {
        *self
            .inner
            .signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = handling;
    }

    fn signal_handling(&self) -> SignalHandling {
        *self
            .inner
            .signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets how long a cleanly closed connection goes on reading (and dropping) what its
    /// peer still sends, when something was unread as the close completed (default
    /// [`CLOSE_LINGER`](crate::CLOSE_LINGER), 2 s; zero: never). Closing a TCP socket with
    /// unread input sends a reset, which can make the peer lose the last bytes it was
    /// sent; lingering until the peer closes (or the time passes) avoids that. A close with
    /// nothing unread does not linger. The reactor's stop deadline cuts lingers short.
    pub fn set_close_linger(&self, linger: Duration) {
        self.inner.registry.set_linger(linger);
    }

    /// Sets what [`stop`](Reactor::stop) does with the child processes still running
    /// (started by [`spawn_process`](Reactor::spawn_process) or
    /// [`connect_process`](Reactor::connect_process)); takes effect at the next stop.
    /// By default, [`ChildPolicy::Terminate`](crate::process::ChildPolicy::Terminate)
    /// with [`CHILD_TERMINATE_GRACE`](crate::process::CHILD_TERMINATE_GRACE).
    pub fn set_child_policy(&self, policy: crate::process::ChildPolicy) {
        self.inner.registry.set_child_policy(policy);
    }

    /// How many connections are alive on this reactor (closed connections still draining
    /// their socket for a moment included; see also [`stats`](Reactor::stats)).
    pub fn connection_count(&self) -> usize {
        self.inner.registry.connection_count()
    }

    /// The runtime new work goes to: the current loop's, else the next loop in turn.
    pub(crate) fn handle(&self) -> &Handle {
        &self.inner.loops.pick(self.id()).handle
    }

    /// The loop a new connection goes to — the current one, else the next in turn — as
    /// its runtime and its clock.
    pub(crate) fn pick_loop(&self) -> (Handle, Arc<dyn Clock>) {
        let picked = self.inner.loops.pick(self.id());
        (picked.handle.clone(), picked.clock.clone())
    }

    /// The clock of loop `index`.
    pub(crate) fn loop_clock(&self, index: usize) -> Arc<dyn Clock> {
        self.inner.loops.get(index).clock.clone()
    }

    /// Every loop's runtime (a listening port accepts on each).
    pub(crate) fn handles(&self) -> impl Iterator<Item = &Handle> {
        self.inner.loops.iter().map(|each| &each.handle)
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    pub(crate) fn thread_pool(&self) -> &ThreadPool {
        &self.inner.thread_pool
    }

    /// The reactor's clock, to hand to code that takes an `Arc<dyn Clock>`.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Clock for Reactor {
    fn now(&self) -> Duration {
        self.inner.loops.get(0).timers.now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        let timers = &self.inner.loops.for_timers(self.id()).timers;
        let (id, status) = timers.schedule(delay, call);
        DelayedCall::new(timers.clone(), id, status)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Not joined: this may be one of the pool's own threads.
        self.thread_pool.shutdown(false);
        for each in self.loops.iter() {
            each.timers.close();
            // A reactor dropped without running may be dropped inside some async context,
            // where a blocking runtime shutdown would panic.
            let runtime = each
                .runtime
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(runtime) = runtime {
                runtime.shutdown_background();
            }
        }
    }
}

fn run_hook(hook: Hook) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
        tracing::error!(
            "a call_when_running hook panicked: {}",
            Error::from_panic(&*payload)
        );
    }
}

/// The reactor's timer task: sleeps until the earliest call is due, runs what is due.
async fn drive_timers(timers: Arc<TimerQueue>, origin: tokio::time::Instant) {
    loop {
        let scheduled = timers.notify.notified();
        tokio::pin!(scheduled);
        scheduled.as_mut().enable();
        if timers.is_closed() {
            return;
        }
        match timers.next_due_time() {
            None => scheduled.await,
            // Due already (a zero delay): run it on this turn, not at the timer wheel's
            // next millisecond tick.
            Some(due) if due <= timers.now() => {}
            Some(due) => {
                tokio::select! {
                    () = tokio::time::sleep_until(origin + due) => {}
                    () = &mut scheduled => continue,
                }
            }
        }
        timers.run_due();
        // One batch per turn of the loop: calls scheduled by this batch with no delay
        // (an interval-zero LoopingCall) run after the loop has polled its I/O again.
        tokio::task::yield_now().await;
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match *self.phase() {
            Phase::Idle(_) => "idle",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
        };
        f.debug_struct("Reactor")
            .field("phase", &phase)
            .field("loops", &self.inner.loops.len())
            .field("registry", &self.inner.registry)
            .finish()
    }
}
