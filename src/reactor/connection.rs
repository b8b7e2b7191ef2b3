//! One connection's task: reads, protocol callbacks, writes, and the close sequence.
//!
//! The task owns the stream, the protocol, the read buffer and the flush buffer. Each
//! round it runs queued handle commands, reads and dispatches up to [`READS_PER_ROUND`]
//! chunks, flushes everything written meanwhile with one write, and acts on close
//! requests. It parks only when nothing changed during the round; whoever changes the
//! shared state while it is parked wakes it.
//! See `docs/ARCHITECTURE.md` for the data paths.

use std::future::{poll_fn, Future};
use std::io;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tokio_util::io::poll_read_buf;

use super::listen::PortControl;
use super::net_stream::{Handshake, NetStream};
use super::outgoing::Outgoing;
use super::registry::Registry;
use super::shared::{CloseRequest, Shared, WriteSide};
use super::stats::Counter;
use super::{local_writes, read_buffers};
use crate::producer::{Registered, Signal, WritePressure};
use crate::tls::StartTls;
use crate::{DisconnectReason, Error, Producer, Protocol, ProtocolHandle, TransportRef};

/// Reads dispatched before the task flushes and looks at its shared state again.
const READS_PER_ROUND: usize = 16;
/// Rounds before the task yields to other tasks.
const ROUNDS_PER_POLL: usize = 8;
/// Space a read needs; below it the read buffer grows by [`READ_CHUNK`].
const MIN_READ_SPACE: usize = 1024;
const READ_CHUNK: usize = read_buffers::READ_BUFFER;
/// How long a cleanly closed connection keeps discarding what the peer still sends, so
/// unread input does not turn our close into a reset that destroys data we just sent.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Called with the protocol's handle once `connection_made` has run.
pub(crate) type OnMade<P> = Box<dyn FnOnce(ProtocolHandle<P>) + Send>;
/// Called with the reason once `connection_lost` has run.
pub(crate) type OnLost = Box<dyn FnOnce(&DisconnectReason) + Send>;

/// What a client connection reports to whoever connected it (boxed, so a connection
/// without them — every accepted one — carries one pointer, not four).
pub(crate) struct Hooks<P> {
    pub(crate) on_made: Option<OnMade<P>>,
    pub(crate) on_lost: Option<OnLost>,
}

/// A connection's task state.
///
/// Its size is most of an idle connection's memory (the task's future holds it, in tokio's
/// 128-byte-aligned task cell): what few connections use goes in `extras`, behind one
/// pointer.
pub(crate) struct Connection<P> {
    protocol: P,
    stream: NetStream,
    registry: Arc<Registry>,
    shared: Arc<Shared<P>>,
    transport: TransportRef,
    read_buf: BytesMut,
    /// Bytes taken from the shared write buffer and not yet accepted by the kernel.
    out: Outgoing,
    /// The listening port that accepted the connection, until it is lost: the port counts
    /// its open connections (and may limit them).
    port: Option<Arc<PortControl>>,
    /// A tracing span, an idle timer: allocated only for a connection that has one.
    extras: Option<Box<TaskExtras>>,
    /// The peer sent EOF.
    read_eof: bool,
    /// Who has been told to pause, and when to tell them to resume.
    pressure: WritePressure,
    /// This connection's slot in the reactor's counters: its loop's.
    slot: u8,
    /// The producer registration last seen.
    producer_seen: u32,
}

/// What few connections carry.
#[derive(Default)]
struct TaskExtras {
    /// The connection's span (`connection{peer=...}`), when tracing wants it.
    span: Option<tracing::Span>,
    idle: Option<IdleTimer>,
}

/// The idle timeout's countdown. Activity only records when it happened (one clock read
/// per active round); the timer is moved only when it fires before the timeout has
/// passed since the last activity.
struct IdleTimer {
    timeout: Duration,
    last_activity: Instant,
    sleep: Pin<Box<Sleep>>,
}

/// The reactor's time: tokio's clock, as `Reactor`'s `Clock` reads it (so tokio's paused
/// time drives idle timeouts too).
fn now() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

/// `at + after`, or far in the future if that overflows.
fn deadline(at: Instant, after: Duration) -> Instant {
    at.checked_add(after)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

enum ReadOutcome {
    /// The socket has nothing more for now (the task will be woken when it has), or the
    /// protocol asked to pause or close.
    Done,
    /// The read budget is spent and the socket may hold more: the task must not park
    /// (no readiness event will come for data already there).
    More,
    /// The connection must end.
    End(DisconnectReason),
}

impl<P: Protocol> Connection<P> {
    pub(crate) fn new(
        protocol: P,
        stream: NetStream,
        shared: Arc<Shared<P>>,
        registry: Arc<Registry>,
    ) -> Connection<P> {
        let transport: TransportRef = shared.clone();
        let tls_info = stream.tls_info(None);
        if tls_info.is_some() {
            shared.set_tls_info(tls_info);
        }
        let slot = registry.counters().slot_for_this_thread();
        Connection {
            protocol,
            stream,
            registry,
            shared,
            transport,
            read_buf: BytesMut::new(),
            out: Outgoing::default(),
            port: None,
            extras: None,
            read_eof: false,
            pressure: WritePressure::default(),
            slot,
            producer_seen: 0,
        }
    }

    /// Counts the connection as one of `port`'s open connections until it is lost (the
    /// caller has reserved its place).
    pub(crate) fn with_port(mut self, port: Arc<PortControl>) -> Connection<P> {
        self.port = Some(port);
        self
    }

    /// Starts the connection with a TLS handshake (a TLS port): what the protocol writes
    /// before it completes is sent encrypted after it.
    pub(crate) fn with_handshake(mut self, tls: StartTls) -> Connection<P> {
        self.begin_handshake(tls);
        self
    }

    /// Records the server name a client-side TLS connection was made for.
    pub(crate) fn with_server_name(self, name: &str) -> Connection<P> {
        self.shared.set_tls_info(self.stream.tls_info(Some(name)));
        self
    }

    /// Takes the TCP stream out and starts the TLS handshake on it.
    fn begin_handshake(&mut self, tls: StartTls) {
        let timeout = self.registry.tls_handshake_timeout();
        let began = self.stream.begin_handshake(|tcp| {
            let handshake: Handshake = match tls {
                StartTls::Server { config } => {
                    let accept = TlsAcceptor::from(config).accept(tcp);
                    Box::pin(async move { Ok((TlsStream::Server(accept.await?), None)) })
                }
                StartTls::Client {
                    server_name,
                    config,
                } => {
                    let name = server_name.to_str().into_owned();
                    let connect = TlsConnector::from(config).connect(server_name, tcp);
                    Box::pin(async move { Ok((TlsStream::Client(connect.await?), Some(name))) })
                }
            };
            Box::pin(async move {
                match tokio::time::timeout(timeout, handshake).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        Error::TlsHandshakeTimeout { timeout },
                    )),
                }
            })
        });
        if began {
            self.shared.mark_tls();
        } else {
            tracing::error!(peer = %self.shared.peer(), "TLS requested on a connection that is not plain TCP");
        }
    }

    /// Drives a TLS handshake in progress: `Ready(Ok)` when there is none (any more).
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DisconnectReason>> {
        match self.stream.poll_handshake(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(None)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => {
                tracing::debug!(peer = %self.shared.peer(), "TLS handshake failed: {error}");
                Poll::Ready(Err(DisconnectReason::lost(error)))
            }
            Poll::Ready(Ok(Some(server_name))) => {
                self.shared
                    .set_tls_info(self.stream.tls_info(server_name.as_deref()));
                tracing::debug!(peer = %self.shared.peer(), "TLS handshake completed");
                Poll::Ready(
                    self.dispatch(|protocol, transport| protocol.handshake_completed(transport)),
                )
            }
        }
    }

    /// STARTTLS: sends what was written before the request in the clear, then starts the
    /// handshake. `Ready` once the handshake has started (or there was no request).
    fn poll_start_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let clear = {
            let mut state = self.shared.lock();
            let Some(request) = state.tls_mut().and_then(|tls| tls.request.as_mut()) else {
                return Poll::Ready(Ok(()));
            };
            mem::take(&mut request.clear_writes)
        };
        // `out` holds older bytes than `clear`: they go first.
        self.out.extend_from_slice(&clear);
        while !self.out.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, self.out.unsent()) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    self.out.advance(written);
                    self.account(0, written);
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let request = self
            .shared
            .lock()
            .tls_mut()
            .and_then(|tls| tls.request.take());
        if let Some(request) = request {
            self.begin_handshake(request.tls);
        }
        Poll::Ready(Ok(()))
    }

    /// Runs the connection from `connection_made` to the end of its linger.
    ///
    /// Not an `async fn`: an `async fn` copies its arguments into the future's locals, so
    /// the future would hold the connection twice (rust-lang/rust#62958). The `async move`
    /// block below uses the captured connection in place, which keeps the future — and
    /// with it tokio's task cell, the bulk of an idle connection's memory — one
    /// connection smaller.
    ///
    /// The work runs inside the connection's tracing span (`connection{peer=...}`, at
    /// debug level): a disabled span costs one check when the connection starts and a
    /// null pointer test per poll.
    pub(crate) fn run(
        self,
        hooks: Option<Box<Hooks<P>>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut connection = self;
        let mut hooks = hooks;
        async move {
            // Unregistered when the connection is dropped (see `Drop`).
            connection
                .registry
                .register_connection(connection.shared.address(), connection.transport.clone());
            connection.count(Counter::Opened, 1);
            connection.open_span();
            let made = connection.in_span(|connection| {
                tracing::debug!(peer = %connection.shared.peer(), "connection made");
                let mut made =
                    connection.dispatch(|protocol, transport| protocol.connection_made(transport));
                if made.is_ok() && matches!(connection.stream, NetStream::Tls(_)) {
                    // A TLS client's handshake completed before the protocol existed.
                    made = connection
                        .dispatch(|protocol, transport| protocol.handshake_completed(transport));
                }
                made
            });
            if let Some(on_made) = hooks.as_mut().and_then(|hooks| hooks.on_made.take()) {
                on_made(ProtocolHandle::new(connection.shared.clone()));
            }
            let reason = match made {
                Ok(()) => {
                    poll_fn(|cx| connection.in_span(|connection| connection.poll_open(cx))).await
                }
                Err(reason) => reason,
            };
            let linger = reason.is_clean() && !connection.read_eof;
            connection.in_span(|connection| connection.finish(&reason));
            if let Some(on_lost) = hooks.and_then(|hooks| hooks.on_lost) {
                on_lost(&reason);
            }
            if linger {
                // Boxed: a connection that never lingers does not carry the timer's space.
                Box::pin(connection.linger()).await;
            }
        }
    }

    /// Opens the connection's span, `connection{peer=...}` at debug level; keeps it only
    /// if a subscriber wants it. (Not inline in `run`: a local there would take room in
    /// the task's future for the whole connection.)
    fn open_span(&mut self) {
        let span = tracing::debug_span!("connection", peer = %self.shared.peer());
        if !span.is_disabled() {
            self.extras.get_or_insert_with(Box::default).span = Some(span);
        }
    }

    /// Runs `work` inside the connection's span, if it has one.
    fn in_span<R>(&mut self, work: impl FnOnce(&mut Self) -> R) -> R {
        let Some(span) = self.extras.as_mut().and_then(|extras| extras.span.take()) else {
            return work(self);
        };
        let outcome = span.in_scope(|| work(self));
        if let Some(extras) = self.extras.as_mut() {
            extras.span = Some(span);
        }
        outcome
    }

    /// Adds `amount` to this connection's loop's `counter`.
    pub(crate) fn count(&self, counter: Counter, amount: usize) {
        self.registry.counters().add(self.slot, counter, amount);
    }

    /// Records a round's traffic: the reactor's counters, and the idle timer's activity.
    /// Once per round, never per read or per write.
    fn account(&mut self, read: usize, written: usize) {
        if read == 0 && written == 0 {
            return;
        }
        self.registry.counters().add_io(self.slot, read, written);
        if let Some(idle) = self.extras.as_mut().and_then(|extras| extras.idle.as_mut()) {
            idle.last_activity = now();
        }
    }

    /// Runs a protocol callback, turning a panic into the reason the connection ends.
    ///
    /// The callback's writes to this connection go to a buffer lent to the thread (no
    /// lock per write); they are appended to the shared write buffer once it returns,
    /// followed by any writes other threads made meanwhile (see `local_writes`).
    fn dispatch<R>(
        &mut self,
        callback: impl FnOnce(&mut P, &TransportRef) -> R,
    ) -> Result<R, DisconnectReason> {
        let (protocol, transport) = (&mut self.protocol, &self.transport);
        self.shared.begin_callback();
        local_writes::lend(self.shared.address());
        let outcome = catch_unwind(AssertUnwindSafe(|| callback(protocol, transport)));
        local_writes::reclaim(|written| {
            let mut state = self.shared.lock();
            if written.is_empty() || !state.accepts_writes() {
                // Nothing to queue.
            } else if state.write_buf.is_empty()
                && self.out.is_empty()
                && !state.start_tls_pending()
            {
                // Nothing is queued before these bytes: they become the bytes to flush
                // as they are, with no copy (what `poll_flush` would do with them), and
                // the thread keeps `out`'s old allocation for the next callback.
                self.out.swap_in(written);
                state.flushing = self.out.len();
            } else {
                state.write_buf.extend_from_slice(written);
            }
            // Writes from elsewhere that waited for these follow them.
            self.shared.end_callback(&mut state);
        });
        outcome.map_err(|payload| {
            let error = Error::from_panic(&*payload);
            tracing::error!(peer = %self.shared.peer(), "protocol callback panicked; aborting the connection: {error}");
            DisconnectReason::lost(io::Error::other(error))
        })
    }

    /// Drives the open connection until it ends; returns why.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<DisconnectReason> {
        for _ in 0..ROUNDS_PER_POLL {
            if let Some(reason) = self.run_commands() {
                return Poll::Ready(reason);
            }
            let (close, paused, idle_change) = {
                let mut state = self.shared.lock();
                (state.close, state.read_paused, state.take_settings())
            };
            if let Some(timeout) = idle_change {
                self.set_idle_timeout(timeout);
            }
            if close == CloseRequest::Abort {
                return Poll::Ready(DisconnectReason::Aborted);
            }
            match self.poll_start_tls(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(DisconnectReason::lost(error)),
                Poll::Pending if self.park(cx, false, close, paused) => return Poll::Pending,
                Poll::Pending => continue,
            }
            match self.poll_handshake(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(reason)) => return Poll::Ready(reason),
                Poll::Pending if self.park(cx, false, close, paused) => return Poll::Pending,
                Poll::Pending => continue,
            }
            let mut more_to_read = false;
            let mut read = 0;
            if close.reads() && !paused && !self.read_eof {
                match self.poll_reads(cx, &mut read) {
                    ReadOutcome::Done => {}
                    ReadOutcome::More => more_to_read = true,
                    ReadOutcome::End(reason) => return Poll::Ready(reason),
                }
            }
            if self.shared.lock().start_tls_pending() {
                // STARTTLS was asked for during the reads: the next round takes it on,
                // before anything written after the request is flushed.
                self.account(read, 0);
                continue;
            }
            let mut written = 0;
            let flushed = match self.poll_flush(cx, &mut written) {
                Ok(flushed) => flushed,
                Err(error) => return Poll::Ready(DisconnectReason::lost(error)),
            };
            self.account(read, written);
            if let Err(reason) = self.signal_write_pressure() {
                return Poll::Ready(reason);
            }
            if let Poll::Ready(reason) = self.poll_close(cx, flushed) {
                return Poll::Ready(reason);
            }
            match self.poll_idle(cx) {
                Ok(false) => {}
                Ok(true) => continue,
                Err(reason) => return Poll::Ready(reason),
            }
            if self.park(cx, more_to_read, close, paused) {
                return Poll::Pending;
            }
        }
        // Still busy after a full budget: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Parks the task unless there is more to read, or something changed behind its back
    /// during the round: a command queued, a write from outside the task after the flush
    /// (while flushing is possible), a close, pause, producer or STARTTLS request. (Our
    /// own callbacks' writes were flushed.) Returns whether it parked; if not, go round
    /// again.
    fn park(
        &mut self,
        cx: &mut Context<'_>,
        more_to_read: bool,
        close: CloseRequest,
        paused: bool,
    ) -> bool {
        let switching = self.stream.is_handshaking();
        let mut state = self.shared.lock();
        let can_flush = !switching && !state.start_tls_pending();
        let changed = more_to_read
            || !state.commands.is_empty()
            || state.producer_generation != self.producer_seen
            || state.close != close
            || state.read_paused != paused
            || state.settings_changed()
            || (!switching && state.start_tls_pending())
            || (can_flush && !state.write_buf.is_empty() && self.out.is_empty());
        if changed {
            return false;
        }
        state.waker = Some(cx.waker().clone());
        // Idle until woken: hold no buffers (see `read_buffers`).
        if state.write_buf.is_empty() && state.write_buf.capacity() > 0 {
            local_writes::give_back(mem::take(&mut state.write_buf));
        }
        drop(state);
        self.release_idle_buffers();
        true
    }

    /// Gives back the buffers an idle connection does not need.
    fn release_idle_buffers(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
            read_buffers::give_back(mem::take(&mut self.read_buf));
        }
        // Offered to the thread's write buffer (see `dispatch`), else freed.
        if let Some(spare) = self.out.take_spare() {
            local_writes::give_back(spare);
        }
    }

    /// Runs the commands queued by handles. The task is running from here on, so nobody
    /// needs to wake it until it parks again.
    fn run_commands(&mut self) -> Option<DisconnectReason> {
        let commands = {
            let mut state = self.shared.lock();
            state.waker = None;
            mem::take(&mut state.commands)
        };
        for command in commands {
            if let Err(error) = command(Some(&mut self.protocol)) {
                tracing::error!(peer = %self.shared.peer(), "protocol panicked in a handle call; aborting the connection: {error}");
                return Some(DisconnectReason::lost(io::Error::other(error)));
            }
        }
        None
    }

    /// Reads and dispatches until the socket is drained, the budget is spent, or the
    /// protocol asked to pause or close; adds the bytes read to `read`.
    fn poll_reads(&mut self, cx: &mut Context<'_>, read: &mut usize) -> ReadOutcome {
        for _ in 0..READS_PER_ROUND {
            if self.read_buf.capacity() == 0 {
                self.read_buf = read_buffers::take();
            } else if self.read_buf.capacity() - self.read_buf.len() < MIN_READ_SPACE {
                self.read_buf.reserve(READ_CHUNK);
            }
            match poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf) {
                Poll::Pending => return ReadOutcome::Done,
                Poll::Ready(Err(error)) => return ReadOutcome::End(DisconnectReason::lost(error)),
                Poll::Ready(Ok(0)) => return self.eof(),
                Poll::Ready(Ok(count)) => {
                    *read += count;
                    let data = self.read_buf.split().freeze();
                    if let Err(reason) =
                        self.dispatch(|protocol, transport| protocol.data_received(transport, data))
                    {
                        return ReadOutcome::End(reason);
                    }
                    let state = self.shared.lock();
                    if state.close == CloseRequest::Abort {
                        // Not a byte more: what earlier reads queued is dropped too.
                        return ReadOutcome::End(DisconnectReason::Aborted);
                    }
                    if !state.close.reads() || state.read_paused || state.start_tls_pending() {
                        return ReadOutcome::Done;
                    }
                }
            }
        }
        ReadOutcome::More
    }

    /// The peer shut down its writing side. If ours is shut down (or shutting down) too,
    /// the connection closes whatever `eof_received` says: nothing is left to write.
    fn eof(&mut self) -> ReadOutcome {
        self.read_eof = true;
        self.read_buf = BytesMut::new();
        match self.dispatch(|protocol, transport| protocol.eof_received(transport)) {
            Ok(true) if self.shared.lock().close != CloseRequest::LoseWrite => {}
            Ok(_) => self.transport.lose_connection(),
            Err(reason) => return ReadOutcome::End(reason),
        }
        ReadOutcome::Done
    }

    /// Writes what is buffered; returns whether everything was written (for TLS, also
    /// out of rustls's buffer), and adds the bytes the kernel took to `written`.
    fn poll_flush(&mut self, cx: &mut Context<'_>, written: &mut usize) -> io::Result<bool> {
        loop {
            if self.out.is_empty() {
                let mut state = self.shared.lock();
                if state.write_buf.is_empty() {
                    state.flushing = 0;
                    drop(state);
                    return match Pin::new(&mut self.stream).poll_flush(cx) {
                        Poll::Ready(Ok(())) => Ok(true),
                        Poll::Ready(Err(error)) => Err(error),
                        Poll::Pending => Ok(false),
                    };
                }
                self.out.swap_in(&mut state.write_buf);
                state.flushing = self.out.len();
            }
            match Pin::new(&mut self.stream).poll_write(cx, self.out.unsent()) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(count)) => {
                    *written += count;
                    self.out.advance(count);
                }
                Poll::Ready(Err(error)) => return Err(error),
                Poll::Pending => {
                    self.shared.lock().flushing = self.out.len();
                    return Ok(false);
                }
            }
        }
    }

    /// Tells the producer (or the protocol) when the unsent bytes cross the watermarks,
    /// asks a pull producer for more, and wakes tasks waiting for the bytes to drain.
    fn signal_write_pressure(&mut self) -> Result<(), DisconnectReason> {
        let (unsent, drained, producer, limits) = {
            let mut state = self.shared.lock();
            let unsent = state.write_buf.len() + self.out.len();
            let limits = state.write_limits();
            let drained = if unsent <= limits.low {
                mem::take(&mut state.drain_wakers)
            } else {
                Vec::new()
            };
            if state.producer_generation != self.producer_seen {
                self.producer_seen = state.producer_generation;
                self.pressure.registered();
            }
            (unsent, drained, state.producer.clone(), limits)
        };
        for waker in drained {
            waker.wake();
        }
        let signal = self
            .pressure
            .check(unsent, producer.as_ref().map(|p| p.kind), limits);
        if signal == Signal::Pause {
            self.count(Counter::WritePauses, 1);
        }
        match (signal, producer) {
            (Signal::Nothing, _) => Ok(()),
            (Signal::Pause, None) => {
                self.dispatch(|protocol, transport| protocol.pause_producing(transport))
            }
            (Signal::Resume, None) => {
                self.dispatch(|protocol, transport| protocol.resume_producing(transport))
            }
            (Signal::Pull, None) => Ok(()),
            (Signal::Pause, Some(producer)) => {
                self.call_producer(&producer, |p| p.pause_producing())
            }
            (Signal::Resume | Signal::Pull, Some(producer)) => {
                self.call_producer(&producer, |p| p.resume_producing())
            }
        }
    }

    /// Calls the registered producer, turning a panic into the reason the connection ends.
    fn call_producer(
        &self,
        producer: &Registered,
        call: impl FnOnce(&mut dyn Producer),
    ) -> Result<(), DisconnectReason> {
        let mut producer = producer.lock();
        catch_unwind(AssertUnwindSafe(|| call(&mut **producer))).map_err(|payload| {
            let error = Error::from_panic(&*payload);
            tracing::error!(peer = %self.shared.peer(), "producer panicked; aborting the connection: {error}");
            DisconnectReason::lost(io::Error::other(error))
        })
    }

    /// Completes a requested close once everything is flushed: shuts down the write side
    /// (once), then for `Lose` ends the connection; for `LoseWrite` reading goes on.
    fn poll_close(&mut self, cx: &mut Context<'_>, flushed: bool) -> Poll<DisconnectReason> {
        let mut state = self.shared.lock();
        match state.close {
            CloseRequest::Abort => Poll::Ready(DisconnectReason::Aborted),
            // A registered producer holds the close until it is unregistered (Twisted).
            close @ (CloseRequest::Lose | CloseRequest::LoseWrite)
                if flushed && state.write_buf.is_empty() && state.producer.is_none() =>
            {
                if state.write_side == WriteSide::Open {
                    // From here on writes are dropped: nothing can slip in behind the FIN.
                    state.write_side = WriteSide::ShuttingDown;
                }
                let shutting_down = state.write_side == WriteSide::ShuttingDown;
                drop(state);
                if shutting_down {
                    match Pin::new(&mut self.stream).poll_shutdown(cx) {
                        Poll::Ready(Ok(())) => self.shared.lock().write_side = WriteSide::Shut,
                        Poll::Ready(Err(error)) => {
                            return Poll::Ready(DisconnectReason::lost(error))
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                if close == CloseRequest::Lose {
                    Poll::Ready(DisconnectReason::Done)
                } else {
                    Poll::Pending
                }
            }
            CloseRequest::Open | CloseRequest::Lose | CloseRequest::LoseWrite => Poll::Pending,
        }
    }

    /// Takes in a new idle timeout (`None`: stop watching); the countdown starts now.
    fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        let Some(timeout) = timeout else {
            if let Some(extras) = self.extras.as_mut() {
                extras.idle = None;
            }
            return;
        };
        let now = now();
        let extras = self.extras.get_or_insert_with(Box::default);
        match extras.idle.as_mut() {
            Some(idle) => {
                idle.timeout = timeout;
                idle.last_activity = now;
                idle.sleep.as_mut().reset(deadline(now, timeout));
            }
            None => {
                extras.idle = Some(IdleTimer {
                    timeout,
                    last_activity: now,
                    sleep: Box::pin(tokio::time::sleep_until(deadline(now, timeout))),
                });
            }
        }
    }

    /// Fires the idle timeout if it is due: `Ok(true)` if it fired (the round goes on, the
    /// callback may have written), `Err` if the connection was closing and is aborted.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Result<bool, DisconnectReason> {
        let Some(idle) = self.extras.as_mut().and_then(|extras| extras.idle.as_mut()) else {
            return Ok(false);
        };
        if idle.sleep.as_mut().poll(cx).is_pending() {
            return Ok(false);
        }
        let now = now();
        let due = deadline(idle.last_activity, idle.timeout);
        if due > now {
            // There was activity since the timer was set: move it, and wait again.
            idle.sleep.as_mut().reset(due);
            if idle.sleep.as_mut().poll(cx).is_pending() {
                return Ok(false);
            }
        }
        let timeout = idle.timeout;
        idle.last_activity = now;
        idle.sleep.as_mut().reset(deadline(now, timeout));
        self.count(Counter::IdleTimeouts, 1);
        if self.shared.lock().close == CloseRequest::Lose {
            tracing::debug!(peer = %self.shared.peer(), ?timeout, "idle while closing; aborting the connection");
            let error = io::Error::new(io::ErrorKind::TimedOut, Error::IdleTimeout { timeout });
            return Err(DisconnectReason::lost(error));
        }
        tracing::debug!(peer = %self.shared.peer(), ?timeout, "idle timeout");
        self.dispatch(|protocol, transport| protocol.timeout_connection(transport))?;
        if self.shared.lock().close != CloseRequest::Lose {
            // One shot: watching again is the protocol's call (`set_idle_timeout`, taken
            // in at the next round). A closing connection stays watched, so that a close
            // stuck for another timeout is aborted.
            if let Some(extras) = self.extras.as_mut() {
                extras.idle = None;
            }
        }
        Ok(true)
    }

    /// Marks the connection ended, fails queued commands, and tells the protocol.
    fn finish(&mut self, reason: &DisconnectReason) {
        let commands = {
            let mut state = self.shared.lock();
            self.shared.mark_ended(&mut state);
            state.waker = None;
            state.write_buf = Vec::new();
            state.flushing = 0;
            (
                mem::take(&mut state.commands),
                mem::take(&mut state.drain_wakers),
                state.producer.take(),
            )
        };
        let (commands, drain_wakers, producer) = commands;
        if let Some(producer) = producer {
            let _ = self.call_producer(&producer, |p| p.stop_producing());
        }
        for command in commands {
            let _ = command(None);
        }
        for waker in drain_wakers {
            waker.wake();
        }
        self.out = Outgoing::default();
        if let Some(extras) = self.extras.as_mut() {
            extras.idle = None;
        }
        if let Some(port) = self.port.take() {
            port.release();
        }
        self.count(Counter::Lost, 1);
        tracing::debug!(peer = %self.shared.peer(), %reason, "connection lost");
        // A panic here has already been logged by `dispatch`; the connection is over anyway.
        let _ = self.dispatch(|protocol, _| protocol.connection_lost(reason.clone()));
    }

    /// Discards input until the peer closes, an error, [`LINGER`] passes, or the
    /// reactor's stop deadline aborts everything.
    async fn linger(&mut self) {
        let mut aborted = self.registry.abort_signal();
        let drain = poll_fn(|cx| loop {
            self.read_buf.clear();
            if self.read_buf.capacity() < MIN_READ_SPACE {
                self.read_buf.reserve(MIN_READ_SPACE);
            }
            match poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => continue,
                Poll::Pending => return Poll::Pending,
            }
        });
        tokio::select! {
            _ = tokio::time::timeout(LINGER, drain) => {}
            _ = aborted.wait_for(|aborted| *aborted) => {}
        }
    }
}

impl<P> Drop for Connection<P> {
    /// The connection's task is over (or was dropped with its runtime): it no longer
    /// counts as alive, nor as open on its port.
    fn drop(&mut self) {
        if let Some(port) = self.port.take() {
            port.release();
        }
        self.registry.deregister_connection(self.shared.address());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::shared::State;

    struct Echo;

    impl Protocol for Echo {
        fn data_received(&mut self, transport: &TransportRef, data: bytes::Bytes) {
            transport.write(&data);
        }
    }

    /// The size of what `run` returns, without building a connection.
    fn future_size<A, B, F>(_: impl Fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// An idle connection's memory is mostly this future, in a 128-byte-aligned task
    /// cell: an `async fn run(self)` would hold the connection twice (its argument and
    /// its moved-in local), as the first version did.
    #[test]
    fn the_task_future_holds_the_connection_once() {
        let future = future_size(Connection::<Echo>::run);
        let connection = std::mem::size_of::<Connection<Echo>>();
        assert!(
            future < 2 * connection,
            "the future is {future} bytes for a {connection}-byte connection"
        );
    }

    /// `State` is in every connection's shared `Arc`; rare settings go in `extras`.
    #[test]
    fn the_shared_state_stays_within_its_budget() {
        assert!(std::mem::size_of::<State<Echo>>() <= 136);
    }
}
