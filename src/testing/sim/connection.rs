//! One simulated connection: a protocol on the connection core the reactor runs, over an
//! in-memory stream whose other end is the simulated network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context as TaskContext, Wake, Waker};

use bytes::Bytes;

use super::world::{ConnId, Ready, Shared};
use crate::connection::drive::{Driver, Host, OnLost, OnMade};
use crate::connection::inbox::Inbox;
use crate::testing::memory_stream::{MemoryStream, Pipe};
use crate::{Address, Clock, DisconnectReason, Protocol};

/// How many bytes a connection may write ahead of what the network has taken: its
/// socket's send buffer.
const SEND_BUFFER: usize = 64 * 1024;

/// A simulated connection, whatever its protocol.
pub(crate) trait Endpoint: Send + Sync {
    /// Polls the connection once.
    fn drive(&self) -> Driven;
    /// Takes what the connection wrote (for the network to carry), and says whether that
    /// is all it will write (it shut down its write side).
    fn take_output(&self) -> (Bytes, bool);
    /// Bytes arrive from the peer.
    fn deliver(&self, data: Bytes);
    /// The peer's EOF arrives.
    fn deliver_eof(&self);
    /// The network resets the connection.
    fn reset(&self);
    /// Bytes delivered and not yet read by the protocol.
    fn unread(&self) -> usize;
    /// Called before a drive: wakes from now on queue it again.
    fn unqueue(&self);
    /// Its host crashed: it is never driven again.
    fn retire(&self);
}

/// What one poll of a connection found.
pub(crate) enum Driven {
    /// It goes on.
    Open,
    /// It was lost, just now, for this reason.
    Lost(DisconnectReason),
    /// It was already over, or is being driven further up the stack.
    Idle,
}

/// A protocol's connection in the simulation.
pub(crate) struct Cell<P: Protocol> {
    driver: Mutex<Driver<P, MemoryStream, SimDriverHost>>,
    incoming: Arc<Pipe>,
    outgoing: Arc<Pipe>,
    queue: Arc<QueueOnWake>,
    /// `queue` as a waker, made once.
    waker: Waker,
    finished: AtomicBool,
}

/// The waker of a simulated connection: it queues the connection for the simulation to
/// drive, once however often it is woken before that.
struct QueueOnWake {
    ready: Ready,
    id: ConnId,
    queued: AtomicBool,
}

impl Wake for QueueOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }
}

/// Nothing around a simulated connection but the network.
struct SimDriverHost;

impl Host for SimDriverHost {}

/// Where a connection being opened is: its number, its ends' addresses, and the clock of
/// its host's life.
pub(crate) struct Opening {
    pub(crate) id: ConnId,
    pub(crate) local: Address,
    pub(crate) peer: Address,
    pub(crate) clock: Arc<dyn Clock>,
}

impl<P: Protocol> Cell<P> {
    /// Starts `protocol`'s connection, queued for its first drive (which runs
    /// `connection_made`); `on_made` and `on_lost` are the driver's hooks.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        protocol: P,
        opening: Opening,
        on_made: Option<OnMade<P>>,
        on_lost: Option<OnLost>,
    ) -> Arc<Cell<P>> {
        let (stream, incoming, outgoing) = MemoryStream::for_simulation(SEND_BUFFER);
        let inbox = Inbox::new(opening.peer, opening.local, opening.clock);
        let driver =
            Driver::new(protocol, stream, inbox, SimDriverHost).with_hooks(on_made, on_lost);
        let queue = Arc::new(QueueOnWake {
            ready: shared.ready().clone(),
            id: opening.id,
            queued: AtomicBool::new(false),
        });
        queue.wake_by_ref();
        Arc::new(Cell {
            driver: Mutex::new(driver),
            incoming,
            outgoing,
            waker: Waker::from(queue.clone()),
            queue,
            finished: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Driver<P, MemoryStream, SimDriverHost>> {
        // A panic inside the driver is caught by it; its state stays consistent.
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<P: Protocol> Endpoint for Cell<P> {
    fn drive(&self) -> Driven {
        let mut driver = match self.driver.try_lock() {
            Ok(driver) => driver,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Driven further up this thread's stack: that drive looks again.
            Err(TryLockError::WouldBlock) => return Driven::Idle,
        };
        if self.finished.load(Ordering::Acquire) {
            return Driven::Idle;
        }
        let mut cx = TaskContext::from_waker(&self.waker);
        if driver.poll(&mut cx).is_pending() {
            return Driven::Open;
        }
        self.finished.store(true, Ordering::Release);
        Driven::Lost(driver.reason().cloned().unwrap_or(DisconnectReason::Done))
    }

    fn take_output(&self) -> (Bytes, bool) {
        self.outgoing.take_all_and_closed()
    }

    fn deliver(&self, data: Bytes) {
        self.incoming.push_joined(data);
    }

    fn deliver_eof(&self) {
        self.incoming.close();
    }

    fn reset(&self) {
        let reason = DisconnectReason::lost(std::io::ErrorKind::ConnectionReset.into());
        self.lock().end_now(reason);
        self.waker.wake_by_ref();
    }

    fn unread(&self) -> usize {
        self.incoming.buffered()
    }

    fn unqueue(&self) {
        self.queue.queued.store(false, Ordering::Release);
    }

    fn retire(&self) {
        self.finished.store(true, Ordering::Release);
    }
}
