//! The one datagram port core both drivers run: a protocol, its state and its socket
//! behind a lock, fed work (datagrams, refusals, calls from handles) one item at a time,
//! so callbacks never overlap; and [`DatagramHandle`], which reaches it from outside.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use bytes::Bytes;

use super::context::PortState;
use super::socket::DatagramSocket;
use super::stats::{Count, Counters};
use super::{DatagramContext, DatagramProtocol, DatagramStats, DatagramTooLong};
use crate::{Deferred, Resolver};

/// A call into the protocol from outside its callbacks.
type Call<P> = Box<dyn FnOnce(&mut P, &mut DatagramContext<'_>) + Send>;

/// What the port core does next.
enum Work<P> {
    Start,
    Datagram(Bytes, SocketAddr),
    Refused,
    Call(Call<P>),
    Stop(Option<Resolver<()>>),
}

/// The protocol and what its callbacks change.
struct Core<P> {
    protocol: P,
    state: PortState,
    stopped: bool,
    stop_waiters: Vec<Resolver<()>>,
}

/// A port's protocol, socket and counters, shared by its driver and its handles.
pub(crate) struct PortCore<P> {
    core: Mutex<Core<P>>,
    queue: Mutex<VecDeque<Work<P>>>,
    socket: Arc<dyn DatagramSocket>,
    counters: Counters,
}

impl<P: DatagramProtocol> PortCore<P> {
    pub(crate) fn new(protocol: P, socket: Arc<dyn DatagramSocket>, max_size: usize) -> Arc<Self> {
        Arc::new(PortCore {
            core: Mutex::new(Core {
                protocol,
                state: PortState::new(max_size),
                stopped: false,
                stop_waiters: Vec::new(),
            }),
            queue: Mutex::new(VecDeque::new()),
            socket,
            counters: Counters::default(),
        })
    }

    /// Calls `started`.
    pub(crate) fn start(&self) {
        self.push(Work::Start);
    }

    /// Delivers one datagram (or reports it too long).
    pub(crate) fn deliver(&self, data: Bytes, from: SocketAddr) {
        self.push(Work::Datagram(data, from));
    }

    /// Reports a refusal by the connected peer.
    pub(crate) fn refused(&self) {
        self.push(Work::Refused);
    }

    /// Stops the port; the Deferred fires once `stopped` has run.
    pub(crate) fn stop(&self) -> Deferred<()> {
        let (deferred, resolver) = Deferred::new();
        self.push(Work::Stop(Some(resolver)));
        deferred
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.lock_core().state.paused
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.lock_core().stopped
    }

    pub(crate) fn stats(&self) -> DatagramStats {
        self.counters.snapshot()
    }

    /// Counts a datagram lost before it reached the protocol.
    pub(crate) fn count_dropped(&self) {
        self.counters.add(Count::Dropped);
    }

    pub(crate) fn max_size(&self) -> usize {
        self.lock_core().state.max_size
    }

    fn lock_core(&self) -> MutexGuard<'_, Core<P>> {
        // A callback that panicked leaves the protocol as it was; it is still usable.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_queue(&self) -> MutexGuard<'_, VecDeque<Work<P>>> {
        // Nothing that can panic runs under this lock.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `work` and runs the queue, unless some caller is running it already (a
    /// callback of this port, on this thread or another): that caller runs it next.
    fn push(&self, work: Work<P>) {
        self.lock_queue().push_back(work);
        loop {
            let mut core = match self.core.try_lock() {
                Ok(core) => core,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                let next = self.lock_queue().pop_front();
                match next {
                    Some(work) => self.run(&mut core, work),
                    None => break,
                }
            }
            drop(core);
            // Work queued after the last look, while the lock was still held, was left to
            // this caller.
            if self.lock_queue().is_empty() {
                return;
            }
        }
    }

    fn run(&self, core: &mut Core<P>, work: Work<P>) {
        let Core {
            protocol,
            state,
            stopped,
            stop_waiters,
        } = core;
        if *stopped {
            if let Work::Stop(Some(resolver)) = work {
                let _ = resolver.callback(());
            }
            return;
        }
        let mut cx = DatagramContext {
            socket: &*self.socket,
            state,
            counters: &self.counters,
        };
        match work {
            Work::Start => protocol.started(&mut cx),
            Work::Datagram(data, from) => {
                if data.len() > cx.state.max_size {
                    self.counters.add(Count::TooLong);
                    let max_length = cx.state.max_size;
                    tracing::debug!(%from, max_length, "datagram over the maximum size; not delivered");
                    protocol.datagram_too_long(&mut cx, DatagramTooLong { from, max_length });
                } else {
                    self.counters.add(Count::Received);
                    protocol.datagram_received(&mut cx, data, from);
                }
            }
            Work::Refused => {
                self.counters.add(Count::Refused);
                protocol.connection_refused(&mut cx);
            }
            Work::Call(call) => call(protocol, &mut cx),
            Work::Stop(resolver) => {
                stop_waiters.extend(resolver);
                cx.state.stop_requested = true;
            }
        }
        if state.stop_requested {
            *stopped = true;
            protocol.stopped();
            self.socket.close();
            for waiter in stop_waiters.drain(..) {
                let _ = waiter.callback(());
            }
        }
    }
}

/// Reaches a datagram port's protocol from outside its callbacks — from a timer, another
/// connection, another thread. Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use bytes::Bytes;
/// use torsade::datagram::{DatagramContext, DatagramProtocol};
/// use torsade::testing::DatagramNetwork;
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {
///     fn datagram_received(&mut self, _: &mut DatagramContext<'_>, _: Bytes, _: SocketAddr) {}
/// }
///
/// let network = DatagramNetwork::new();
/// let a = network.bind("10.0.0.1:9".parse().unwrap(), Quiet).unwrap();
/// network.bind("10.0.0.2:9".parse().unwrap(), Quiet).unwrap();
/// a.handle().call(|_, cx| cx.write(b"hi", "10.0.0.2:9".parse().unwrap()).unwrap());
/// network.clock().advance(Duration::from_secs(1));
/// assert_eq!(a.stats().sent, 1);
/// ```
pub struct DatagramHandle<P> {
    core: Arc<PortCore<P>>,
}

impl<P> Clone for DatagramHandle<P> {
    fn clone(&self) -> Self {
        DatagramHandle {
            core: self.core.clone(),
        }
    }
}

impl<P> fmt::Debug for DatagramHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramHandle").finish_non_exhaustive()
    }
}

impl<P: DatagramProtocol> DatagramHandle<P> {
    pub(crate) fn new(core: Arc<PortCore<P>>) -> Self {
        DatagramHandle { core }
    }

    /// Runs `call` with the protocol and its context, as a callback: now if no callback
    /// of this port is running, else right after the running one returns. Nothing runs
    /// once the port has stopped.
    pub fn call(&self, call: impl FnOnce(&mut P, &mut DatagramContext<'_>) + Send + 'static) {
        self.core.push(Work::Call(Box::new(call)));
    }

    /// Stops the port (as [`DatagramContext::stop`]); the Deferred fires once
    /// [`stopped`](DatagramProtocol::stopped) has run. Calling it again is harmless.
    #[doc(alias = "stopListening")]
    pub fn stop(&self) -> Deferred<()> {
        self.core.stop()
    }

    /// Whether the port has stopped.
    pub fn is_stopped(&self) -> bool {
        self.core.is_stopped()
    }

    /// What the port has done so far.
    pub fn stats(&self) -> DatagramStats {
        self.core.stats()
    }
}
