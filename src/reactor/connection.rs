//! One connection's task: reads, protocol callbacks, writes, and the close sequence.
//!
//! The task owns the stream, the protocol, the read buffer and the flush buffer. Each
//! round it runs queued handle commands, reads and dispatches up to [`READS_PER_ROUND`]
//! chunks, flushes everything written meanwhile with one write, and acts on close
//! requests. It parks only when nothing changed during the round; whoever changes the
//! shared state while it is parked wakes it.
//! See `docs/ARCHITECTURE.md` for the data paths.

use std::future::poll_fn;
use std::io;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tokio_util::io::poll_read_buf;

use super::net_stream::{Handshake, NetStream};
use super::registry::Registry;
use super::shared::{CloseRequest, Shared};
use super::{local_writes, read_buffers};
use crate::producer::{Registered, Signal, WritePressure};
use crate::tls::StartTls;
use crate::{
    DisconnectReason, Error, Producer, Protocol, ProtocolHandle, TransportRef, WRITE_BUFFER_LOW,
};

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
pub(crate) struct Connection<P> {
    protocol: P,
    stream: NetStream,
    registry: Arc<Registry>,
    shared: Arc<Shared<P>>,
    transport: TransportRef,
    read_buf: BytesMut,
    /// Bytes taken from the shared write buffer and not yet accepted by the kernel.
    out: BytesMut,
    /// The peer sent EOF.
    read_eof: bool,
    /// Who has been told to pause, and when to tell them to resume.
    pressure: WritePressure,
    /// The producer registration last seen.
    producer_seen: u32,
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
        Connection {
            protocol,
            stream,
            registry,
            shared,
            transport,
            read_buf: BytesMut::new(),
            out: BytesMut::new(),
            read_eof: false,
            pressure: WritePressure::default(),
            producer_seen: 0,
        }
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
            let Some(request) = state.tls.as_mut().and_then(|tls| tls.request.as_mut()) else {
                return Poll::Ready(Ok(()));
            };
            mem::take(&mut request.clear_writes)
        };
        // `out` holds older bytes than `clear`: they go first.
        self.out.extend_from_slice(&clear);
        while !self.out.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => self.out.advance(written),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let request = self
            .shared
            .lock()
            .tls
            .as_mut()
            .and_then(|tls| tls.request.take());
        if let Some(request) = request {
            self.begin_handshake(request.tls);
        }
        Poll::Ready(Ok(()))
    }

    /// Runs the connection from `connection_made` to the end of its linger.
    pub(crate) async fn run(mut self, mut hooks: Option<Box<Hooks<P>>>) {
        let _alive = self.registry.register_connection(self.transport.clone());
        tracing::debug!(peer = %self.shared.peer(), "connection made");
        let mut made = self.dispatch(|protocol, transport| protocol.connection_made(transport));
        if made.is_ok() && matches!(self.stream, NetStream::Tls(_)) {
            // A TLS client's handshake completed before the protocol existed.
            made = self.dispatch(|protocol, transport| protocol.handshake_completed(transport));
        }
        if let Some(on_made) = hooks.as_mut().and_then(|hooks| hooks.on_made.take()) {
            on_made(ProtocolHandle::new(self.shared.clone()));
        }
        let reason = match made {
            Ok(()) => poll_fn(|cx| self.poll_open(cx)).await,
            Err(reason) => reason,
        };
        let linger = reason.is_clean() && !self.read_eof;
        self.finish(&reason);
        if let Some(on_lost) = hooks.and_then(|hooks| hooks.on_lost) {
            on_lost(&reason);
        }
        if linger {
            // Boxed: a connection that never lingers does not carry the timer's space.
            Box::pin(self.linger()).await;
        }
    }

    /// Runs a protocol callback, turning a panic into the reason the connection ends.
    ///
    /// The callback's writes to this connection go to a buffer lent to the thread (no
    /// lock per write); they are appended to the shared write buffer once it returns.
    fn dispatch<R>(
        &mut self,
        callback: impl FnOnce(&mut P, &TransportRef) -> R,
    ) -> Result<R, DisconnectReason> {
        let (protocol, transport) = (&mut self.protocol, &self.transport);
        local_writes::lend(self.shared.address());
        let outcome = catch_unwind(AssertUnwindSafe(|| callback(protocol, transport)));
        local_writes::reclaim(|written| {
            let mut state = self.shared.lock();
            if !state.ended && state.close != CloseRequest::Abort {
                state.write_buf.extend_from_slice(written);
            }
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
            let (close, paused) = {
                let state = self.shared.lock();
                (state.close, state.read_paused)
            };
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
            if close == CloseRequest::Open && !paused && !self.read_eof {
                match self.poll_reads(cx) {
                    ReadOutcome::Done => {}
                    ReadOutcome::More => more_to_read = true,
                    ReadOutcome::End(reason) => return Poll::Ready(reason),
                }
            }
            if self.shared.lock().start_tls_pending() {
                // STARTTLS was asked for during the reads: the next round takes it on,
                // before anything written after the request is flushed.
                continue;
            }
            let flushed = match self.poll_flush(cx) {
                Ok(flushed) => flushed,
                Err(error) => return Poll::Ready(DisconnectReason::lost(error)),
            };
            if let Err(reason) = self.signal_write_pressure() {
                return Poll::Ready(reason);
            }
            if let Poll::Ready(reason) = self.poll_close(cx, flushed) {
                return Poll::Ready(reason);
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
            || (!switching && state.start_tls_pending())
            || (can_flush && !state.write_buf.is_empty() && self.out.is_empty());
        if changed {
            return false;
        }
        state.waker = Some(cx.waker().clone());
        // Idle until woken: hold no buffers (see `read_buffers`).
        if state.write_buf.is_empty() && state.write_buf.capacity() > 0 {
            state.write_buf = BytesMut::new();
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
        if self.out.is_empty() && self.out.capacity() > 0 {
            self.out = BytesMut::new();
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
    /// protocol asked to pause or close.
    fn poll_reads(&mut self, cx: &mut Context<'_>) -> ReadOutcome {
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
                Poll::Ready(Ok(_)) => {
                    let data = self.read_buf.split().freeze();
                    if let Err(reason) =
                        self.dispatch(|protocol, transport| protocol.data_received(transport, data))
                    {
                        return ReadOutcome::End(reason);
                    }
                    let state = self.shared.lock();
                    if state.close != CloseRequest::Open
                        || state.read_paused
                        || state.start_tls_pending()
                    {
                        return ReadOutcome::Done;
                    }
                }
            }
        }
        ReadOutcome::More
    }

    /// The peer shut down its writing side.
    fn eof(&mut self) -> ReadOutcome {
        self.read_eof = true;
        self.read_buf = BytesMut::new();
        match self.dispatch(|protocol, transport| protocol.eof_received(transport)) {
            Ok(true) => {}
            Ok(false) => self.transport.lose_connection(),
            Err(reason) => return ReadOutcome::End(reason),
        }
        ReadOutcome::Done
    }

    /// Writes what is buffered; returns whether everything was written (for TLS, also
    /// out of rustls's buffer).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
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
                mem::swap(&mut self.out, &mut state.write_buf);
                state.flushing = self.out.len();
            }
            match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(written)) => self.out.advance(written),
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
        let (unsent, drained, producer) = {
            let mut state = self.shared.lock();
            let unsent = state.write_buf.len() + self.out.len();
            let drained = if unsent <= WRITE_BUFFER_LOW {
                mem::take(&mut state.drain_wakers)
            } else {
                Vec::new()
            };
            if state.producer_generation != self.producer_seen {
                self.producer_seen = state.producer_generation;
                self.pressure.registered();
            }
            (unsent, drained, state.producer.clone())
        };
        for waker in drained {
            waker.wake();
        }
        let signal = self
            .pressure
            .check(unsent, producer.as_ref().map(|p| p.kind));
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

    /// Completes a requested close once everything is flushed.
    fn poll_close(&mut self, cx: &mut Context<'_>, flushed: bool) -> Poll<DisconnectReason> {
        let state = self.shared.lock();
        match state.close {
            CloseRequest::Abort => Poll::Ready(DisconnectReason::Aborted),
            // A registered producer holds the close until it is unregistered (Twisted).
            CloseRequest::Lose
                if flushed && state.write_buf.is_empty() && state.producer.is_none() =>
            {
                drop(state);
                match Pin::new(&mut self.stream).poll_shutdown(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(DisconnectReason::Done),
                    Poll::Ready(Err(error)) => Poll::Ready(DisconnectReason::lost(error)),
                    Poll::Pending => Poll::Pending,
                }
            }
            CloseRequest::Open | CloseRequest::Lose => Poll::Pending,
        }
    }

    /// Marks the connection ended, fails queued commands, and tells the protocol.
    fn finish(&mut self, reason: &DisconnectReason) {
        let commands = {
            let mut state = self.shared.lock();
            self.shared.mark_ended(&mut state);
            state.waker = None;
            state.write_buf = BytesMut::new();
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
        self.out = BytesMut::new();
        tracing::debug!(peer = %self.shared.peer(), %reason, "connection lost");
        // A panic here has already been logged by `dispatch`; the connection is over anyway.
        let _ = self.dispatch(|protocol, _| protocol.connection_lost(reason.clone()));
    }

    /// Discards input until the peer closes, an error, or [`LINGER`] passes.
    async fn linger(&mut self) {
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
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
}
