//! The state a connection's task shares with the outside: the reactor's [`Transport`].
//!
//! Writers (the protocol, timers, other tasks, other threads) append to the write buffer
//! and queue commands here; the connection's task takes them out. One mutex guards it all;
//! it is held only to move bytes and flags, never across a syscall or user code.

use std::fmt;
use std::mem;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::local_writes::{self, LendState};
use crate::handle::{Command, CommandQueue};
use crate::producer::Registered;
use crate::tls::{StartTls, TlsInfo};
use crate::{
    Address, Error, Producer, ProducerKind, Protocol, Transport, TransportRef, WriteBufferLimits,
};

/// What the protocol (or anyone) asked of the connection's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseRequest {
    Open,
    /// Flush, then shut down the write side only; reading goes on
    /// (`lose_write_connection`).
    LoseWrite,
    /// Flush, then close.
    Lose,
    /// Close now, dropping unsent data.
    Abort,
}

/// Where the write side is: open, shutting down (writes are dropped from here on), shut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteSide {
    Open,
    ShuttingDown,
    Shut,
}

impl CloseRequest {
    /// Whether the connection still reads (and delivers) what the peer sends.
    pub(crate) fn reads(self) -> bool {
        matches!(self, CloseRequest::Open | CloseRequest::LoseWrite)
    }
}

/// A connection's shared state; also its transport.
pub(crate) struct Shared<P> {
    state: Mutex<State<P>>,
    /// "Close requested or ended", and the lent write buffer's flags, without the lock
    /// (framers ask whether the connection is closing once per frame).
    lending: LendState,
    peer: Address,
    host: Address,
}

pub(crate) struct State<P> {
    /// Written and not yet taken by the task.
    pub(crate) write_buf: Vec<u8>,
    /// Taken by the task and not yet accepted by the kernel.
    pub(crate) flushing: usize,
    pub(crate) close: CloseRequest,
    /// The connection has ended: writes are dropped, commands fail.
    pub(crate) ended: bool,
    pub(crate) read_paused: bool,
    /// Whether the write side is being or has been shut down (writes are dropped then).
    /// (One byte, packed with the flags above: `State` must not grow, see `extras`.)
    pub(crate) write_side: WriteSide,
    pub(crate) commands: Vec<Command<P>>,
    /// Tasks waiting for the unsent bytes to drain to the low-water mark.
    pub(crate) drain_wakers: Vec<Waker>,
    /// The registered producer, and a count of registrations (so the task notices a new
    /// one even if it replaced another between two rounds).
    pub(crate) producer: Option<Registered>,
    /// (32 bits: it is only compared for a change, and packs with the flags above.)
    pub(crate) producer_generation: u32,
    /// What few connections use — TLS, watermarks other than the defaults, an idle
    /// timeout — behind one pointer, so a plain connection pays eight bytes for all of it.
    /// (`State` lives in every connection's `Arc`; growing it costs every idle connection.)
    pub(crate) extras: Option<Box<Extras>>,
    /// Set while the task is parked; whoever changes the state wakes it.
    pub(crate) waker: Option<Waker>,
}

/// The settings and state most connections never use.
#[derive(Default)]
pub(crate) struct Extras {
    /// Present once the connection is, or is becoming, TLS (STARTTLS is refused then).
    pub(crate) tls: Option<Box<TlsState>>,
    pub(crate) write_limits: WriteBufferLimits,
    pub(crate) idle_timeout: Option<Duration>,
    /// A setting above changed and the task has not taken it in yet.
    pub(crate) changed: bool,
    /// The idle timeout was set (perhaps to the same value: the countdown restarts).
    pub(crate) idle_changed: bool,
    /// Writes from other threads made while one of the connection's callbacks ran with
    /// its write buffer lent: they follow that callback's writes (see `local_writes`).
    pub(crate) foreign_writes: Vec<u8>,
}

/// A connection's TLS side, from the moment it starts becoming TLS.
#[derive(Default)]
pub(crate) struct TlsState {
    /// STARTTLS asked for and not yet taken on by the task.
    pub(crate) request: Option<StartRequest>,
    /// The handshake's outcome, once there is one.
    pub(crate) info: Option<TlsInfo>,
}

/// A STARTTLS request waiting for the connection's task.
pub(crate) struct StartRequest {
    pub(crate) tls: StartTls,
    /// Written before the request: sent in the clear, before the handshake.
    pub(crate) clear_writes: Vec<u8>,
}

impl<P> State<P> {
    /// Whether STARTTLS was asked for and the task has not taken it on yet.
    pub(crate) fn start_tls_pending(&self) -> bool {
        self.tls().is_some_and(|tls| tls.request.is_some())
    }

    /// The TLS side, once the connection is or is becoming TLS.
    pub(crate) fn tls(&self) -> Option<&TlsState> {
        self.extras
            .as_ref()
            .and_then(|extras| extras.tls.as_deref())
    }

    pub(crate) fn tls_mut(&mut self) -> Option<&mut TlsState> {
        self.extras
            .as_mut()
            .and_then(|extras| extras.tls.as_deref_mut())
    }

    /// The extras, allocated on first use.
    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// The watermarks in force.
    pub(crate) fn write_limits(&self) -> WriteBufferLimits {
        self.extras
            .as_ref()
            .map_or(WriteBufferLimits::DEFAULT, |extras| extras.write_limits)
    }

    /// Whether a setting changed that the task has not taken in yet.
    pub(crate) fn settings_changed(&self) -> bool {
        self.extras.as_ref().is_some_and(|extras| extras.changed)
    }

    /// For the task: marks changed settings as taken in, and returns the idle timeout if
    /// it was set since (`Some(None)`: stop watching).
    pub(crate) fn take_settings(&mut self) -> Option<Option<Duration>> {
        let extras = self.extras.as_mut().filter(|extras| extras.changed)?;
        extras.changed = false;
        mem::take(&mut extras.idle_changed).then_some(extras.idle_timeout)
    }

    /// Bytes written and not yet taken by the task: the write buffer, and writes from
    /// other threads waiting for a callback's.
    pub(crate) fn queued(&self) -> usize {
        self.write_buf.len()
            + self
                .extras
                .as_ref()
                .map_or(0, |extras| extras.foreign_writes.len())
    }

    /// Moves the writes from other threads that waited for a callback's to the end of the
    /// write buffer.
    fn append_foreign_writes(&mut self) {
        if let Some(extras) = self.extras.as_mut() {
            if !extras.foreign_writes.is_empty() {
                self.write_buf.extend_from_slice(&extras.foreign_writes);
                extras.foreign_writes = Vec::new();
            }
        }
    }

    /// Drops the writes from other threads that waited for a callback's.
    fn drop_foreign_writes(&mut self) {
        if let Some(extras) = self.extras.as_mut() {
            extras.foreign_writes = Vec::new();
        }
    }

    /// Whether written bytes are still queued (not ended, aborted, or shut for writing).
    pub(crate) fn accepts_writes(&self) -> bool {
        !self.ended && self.write_side == WriteSide::Open && self.close != CloseRequest::Abort
    }
}

impl<P> Shared<P> {
    pub(crate) fn new(peer: Address, host: Address) -> Shared<P> {
        Shared {
            state: Mutex::new(State {
                write_buf: Vec::new(),
                flushing: 0,
                close: CloseRequest::Open,
                ended: false,
                read_paused: false,
                write_side: WriteSide::Open,
                commands: Vec::new(),
                drain_wakers: Vec::new(),
                producer: None,
                producer_generation: 0,
                extras: None,
                waker: None,
            }),
            lending: LendState::default(),
            peer,
            host,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<P>> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` and wakes the task if it is parked.
    fn update(&self, change: impl FnOnce(&mut State<P>)) {
        let waker = {
            let mut state = self.lock();
            change(&mut state);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Marks the connection as becoming TLS (its handshake has begun): STARTTLS is refused.
    pub(crate) fn mark_tls(&self) {
        self.lock()
            .extras_mut()
            .tls
            .get_or_insert_with(Box::default);
    }

    /// Records the outcome of the connection's TLS handshake.
    pub(crate) fn set_tls_info(&self, info: Option<TlsInfo>) {
        self.lock()
            .extras_mut()
            .tls
            .get_or_insert_with(Box::default)
            .info = info;
    }

    /// This connection's identity for `local_writes`: the address of its shared state.
    pub(crate) fn address(&self) -> usize {
        self as *const Self as *const () as usize
    }

    /// A callback of the connection starts, with this thread's write buffer lent to it
    /// (see `local_writes`): writes from other threads wait for its writes from now on.
    pub(crate) fn begin_callback(&self) {
        self.lending.lent.store(true, Ordering::Release);
    }

    /// The callback ended and its writes are in (under the caller's lock): writes from
    /// other threads that waited for them follow, and later ones queue as usual.
    pub(crate) fn end_callback(&self, state: &mut State<P>) {
        if state.accepts_writes() {
            state.append_foreign_writes();
        } else {
            state.drop_foreign_writes();
        }
        self.lending.foreign.store(false, Ordering::Release);
        self.lending.lent.store(false, Ordering::Release);
    }

    /// From this connection's running callback, under the lock: moves what the callback
    /// wrote so far into the write buffer, then the writes from other threads that waited
    /// for it, so that what is queued next follows both.
    fn catch_up(&self, state: &mut State<P>) {
        local_writes::drain_pending(self.address(), &mut state.write_buf);
        state.append_foreign_writes();
        self.lending.foreign.store(false, Ordering::Release);
    }

    /// Marks the connection ended (under the caller's lock).
    pub(crate) fn mark_ended(&self, state: &mut State<P>) {
        state.ended = true;
        self.lending.closing.store(true, Ordering::Release);
    }

    pub(crate) fn peer(&self) -> Address {
        self.peer
    }
}

impl<P: Protocol> CommandQueue<P> for Shared<P> {
    fn push_command(&self, command: Command<P>) -> Result<(), Command<P>> {
        let waker = {
            let mut state = self.lock();
            if state.ended {
                return Err(command);
            }
            state.commands.push(command);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    fn transport(self: Arc<Self>) -> TransportRef {
        self
    }

    fn is_connected(&self) -> bool {
        !self.lock().ended
    }
}

impl<P: Protocol> Shared<P> {
    /// A write that does not go into this thread's lent buffer, under the lock, waking the
    /// task: from outside the connection's own callbacks (it waits for the running
    /// callback's writes, if one runs), or from a callback after such a write (it moves the
    /// callback's earlier writes and the waiting ones to the write buffer first). Apart
    /// from `write_many` so that its fast path stays a small function.
    #[inline(never)]
    fn write_locked(&self, chunks: &[&[u8]]) {
        let total: usize = chunks.iter().map(|chunk| chunk.len()).sum();
        if total == 0 {
            return;
        }
        let waker = {
            let mut state = self.lock();
            if !state.accepts_writes() {
                drop(state);
                tracing::debug!(peer = %self.peer, bytes = total, "write after the connection closed for writing; dropped");
                return;
            }
            let queue = if local_writes::is_lent_to(self.address()) {
                self.catch_up(&mut state);
                &mut state.write_buf
            } else if self.lending.lent.load(Ordering::Acquire) {
                self.lending.foreign.store(true, Ordering::Release);
                &mut state.extras_mut().foreign_writes
            } else {
                &mut state.write_buf
            };
            queue.reserve(total);
            for chunk in chunks {
                queue.extend_from_slice(chunk);
            }
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<P: Protocol> Transport for Shared<P> {
    fn write(&self, data: &[u8]) {
        self.write_many(&[data]);
    }

    fn write_many(&self, chunks: &[&[u8]]) {
        // From the connection's own callbacks: no lock (see `local_writes`), unless
        // writes from elsewhere wait to go after what the callback wrote so far.
        if self.lending.foreign.load(Ordering::Acquire)
            || !local_writes::try_write(self.address(), chunks)
        {
            self.write_locked(chunks);
        }
    }

    fn lent_writes(&self) -> Option<crate::LentWrites<'_>> {
        local_writes::lent(self.address(), &self.lending)
    }

    fn lose_connection(&self) {
        self.lending.closing.store(true, Ordering::Release);
        self.update(|state| {
            if matches!(state.close, CloseRequest::Open | CloseRequest::LoseWrite) {
                state.close = CloseRequest::Lose;
            }
        });
    }

    fn lose_write_connection(&self) {
        self.update(|state| {
            if state.close == CloseRequest::Open {
                state.close = CloseRequest::LoseWrite;
            }
        });
    }

    fn abort_connection(&self) {
        self.lending.closing.store(true, Ordering::Release);
        local_writes::discard(self.address());
        self.update(|state| {
            state.close = CloseRequest::Abort;
            state.write_buf.clear();
            state.drop_foreign_writes();
        });
    }

    fn is_closing(&self) -> bool {
        self.lending.closing.load(Ordering::Acquire)
    }

    fn peer_addr(&self) -> Address {
        self.peer
    }

    fn host_addr(&self) -> Address {
        self.host
    }

    fn pause_reading(&self) {
        self.update(|state| state.read_paused = true);
    }

    fn resume_reading(&self) {
        self.update(|state| state.read_paused = false);
    }

    fn is_reading(&self) -> bool {
        let state = self.lock();
        !state.read_paused && state.close.reads() && !state.ended
    }

    fn write_buffer_size(&self) -> usize {
        let state = self.lock();
        state.queued() + state.flushing + local_writes::pending(self.address())
    }

    fn register_producer(
        &self,
        producer: Box<dyn Producer>,
        kind: ProducerKind,
    ) -> crate::Result<()> {
        let mut producer = Some(producer);
        let mut outcome = Ok(());
        self.update(|state| {
            if state.producer.is_some() {
                outcome = Err(Error::ProducerAlreadyRegistered);
            } else if !state.ended {
                if let Some(producer) = producer.take() {
                    state.producer = Some(Registered::new(producer, kind));
                    state.producer_generation = state.producer_generation.wrapping_add(1);
                }
            }
        });
        // Registered on a connection that has already ended: it stops at once (Twisted).
        if outcome.is_ok() {
            if let Some(mut producer) = producer {
                producer.stop_producing();
            }
        }
        outcome
    }

    fn unregister_producer(&self) {
        self.update(|state| state.producer = None);
    }

    fn start_tls(&self, tls: StartTls) -> crate::Result<()> {
        let mut outcome = Ok(());
        self.update(|state| {
            if state.ended {
                outcome = Err(Error::ConnectionClosed);
            } else if state.tls().is_some() {
                outcome = Err(Error::TlsAlreadyStarted);
            } else {
                // Everything written so far goes out in the clear, first: the write
                // buffer, then what this thread's callback wrote, then the writes from
                // elsewhere that waited for it.
                self.catch_up(state);
                let clear_writes = mem::take(&mut state.write_buf);
                state.extras_mut().tls = Some(Box::new(TlsState {
                    request: Some(StartRequest { tls, clear_writes }),
                    info: None,
                }));
            }
        });
        outcome
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        self.lock().tls().and_then(|tls| tls.info.clone())
    }

    fn set_write_buffer_limits(&self, high: usize, low: usize) -> crate::Result<()> {
        let limits = WriteBufferLimits::new(high, low)?;
        self.update(|state| {
            if state.extras.is_none() && limits == WriteBufferLimits::DEFAULT {
                return;
            }
            let extras = state.extras_mut();
            extras.write_limits = limits;
            extras.changed = true;
        });
        Ok(())
    }

    fn write_buffer_limits(&self) -> WriteBufferLimits {
        self.lock().write_limits()
    }

    fn is_write_buffer_full(&self) -> bool {
        let pending = local_writes::pending(self.address());
        let state = self.lock();
        state.queued() + state.flushing + pending > state.write_limits().high
    }

    fn set_idle_timeout(&self, timeout: Option<Duration>) -> crate::Result<()> {
        self.update(|state| {
            if state.extras.is_none() && timeout.is_none() {
                return;
            }
            let extras = state.extras_mut();
            extras.idle_timeout = timeout;
            extras.idle_changed = true;
            extras.changed = true;
        });
        Ok(())
    }

    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.ended || state.queued() + state.flushing <= state.write_limits().low {
            return Poll::Ready(());
        }
        crate::wakers::register(&mut state.drain_wakers, cx.waker());
        Poll::Pending
    }
}

impl<P> fmt::Debug for Shared<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TcpTransport")
            .field("peer", &self.peer)
            .field("host", &self.host)
            .field("buffered", &(state.queued() + state.flushing))
            .field("close", &state.close)
            .field("ended", &state.ended)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;

    use super::*;

    struct Quiet;

    impl Protocol for Quiet {
        fn data_received(&mut self, _: &TransportRef, _: Bytes) {}
    }

    fn shared() -> Arc<Shared<Quiet>> {
        let address = Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 1)));
        Arc::new(Shared::new(address, address))
    }

    #[test]
    fn default_settings_allocate_nothing() {
        let shared = shared();
        shared
            .set_write_buffer_limits(
                WriteBufferLimits::DEFAULT.high,
                WriteBufferLimits::DEFAULT.low,
            )
            .unwrap();
        shared.set_idle_timeout(None).unwrap();
        assert!(shared.lock().extras.is_none());
        shared
            .set_idle_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert!(shared.lock().extras.is_some());
    }

    #[test]
    fn limits_are_checked_then_apply_to_fullness_and_drain() {
        let shared = shared();
        assert!(matches!(
            shared.set_write_buffer_limits(3, 4),
            Err(Error::InvalidWriteBufferLimits { high: 3, low: 4 })
        ));
        shared.set_write_buffer_limits(4, 2).unwrap();
        assert_eq!(
            shared.write_buffer_limits(),
            WriteBufferLimits { high: 4, low: 2 }
        );
        assert!(shared.lock().settings_changed());
        shared.write(b"1234");
        assert!(!shared.is_write_buffer_full());
        shared.write(b"5");
        assert!(shared.is_write_buffer_full());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(shared.poll_drain(&mut cx).is_pending());
        shared.lock().write_buf.clear();
        assert!(shared.poll_drain(&mut cx).is_ready());
    }

    #[test]
    fn the_task_takes_an_idle_timeout_once() {
        let shared = shared();
        shared
            .set_idle_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let mut state = shared.lock();
        assert_eq!(state.take_settings(), Some(Some(Duration::from_secs(3))));
        assert_eq!(state.take_settings(), None);
        assert!(!state.settings_changed());
    }

    #[test]
    fn losing_the_write_side_keeps_reading_and_drops_writes_once_shut() {
        let shared = shared();
        shared.lose_write_connection();
        assert!(!shared.is_closing());
        assert!(shared.is_reading());
        shared.write(b"still queued: sent before the FIN");
        shared.lock().write_side = WriteSide::ShuttingDown;
        shared.write(b"dropped");
        assert_eq!(shared.write_buffer_size(), 33);
        shared.lose_connection();
        assert!(shared.is_closing());
        assert!(!shared.is_reading());
        assert_eq!(shared.lock().close, CloseRequest::Lose);
    }
}
