//! Driving one connection over any byte stream: [`Driver`].
//!
//! The driver is the connection's I/O loop: it reads from the stream into a buffer and
//! hands the chunks to the [`Core`], writes what the core holds, shuts the stream down
//! when the core says, drives TLS handshakes, and wakes on the connection's clock for its
//! deadlines. The reactor runs it as a task over a socket; the test driver polls the very
//! same code over an in-memory stream, with a fake clock. What differs between them — the
//! reactor's registry and counters, how long a close lingers — is the [`Host`].
//!
//! Each round it applies what handles left in the inbox, fires what is due, reads and
//! dispatches up to [`READS_PER_ROUND`] chunks (checking write pressure after each), and
//! flushes everything written meanwhile with one write. It parks only when the stream has
//! nothing for it and nothing it holds can be sent; whatever changes that (the stream,
//! the inbox, the clock) wakes it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::poll_read_buf;

use super::buffers;
use super::core::{io_lost, CloseAction, Core, End};
use super::inbox::Inbox;
use super::layer::Layer;
use super::state::State;
use crate::record::tap::Tap;
use crate::record::{Recorder, Side};
use crate::{DelayedCall, DisconnectReason, Protocol, ProtocolHandle};

#[cfg(feature = "tls")]
mod handshake;

/// Reads dispatched before the driver flushes and looks at its inbox again.
pub(crate) const READS_PER_ROUND: usize = 16;
/// Rounds before the driver yields to other tasks.
const ROUNDS_PER_POLL: usize = 8;
/// Space a read needs; below it the read buffer grows by [`buffers::READ_BUFFER`].
const MIN_READ_SPACE: usize = 1024;

/// What the driver's surroundings provide: the reactor's registry and counters, or
/// nothing (the test driver).
pub(crate) trait Host: Send + 'static {
    /// The connection starts; `inbox` reaches it (to close it when the reactor stops).
    fn opened(&mut self, inbox: Arc<Inbox>) {
        let _ = inbox;
    }

    /// A round read `read` bytes and the stream took `written`.
    fn account(&self, read: usize, written: usize) {
        let _ = (read, written);
    }

    /// Write pauses and idle timeouts since the last call.
    fn count(&self, write_pauses: u32, idle_timeouts: u32) {
        let _ = (write_pauses, idle_timeouts);
    }

    /// `connection_lost` has run.
    fn lost(&mut self) {}

    /// How long a clean close goes on reading (and dropping) what the peer still sends,
    /// when something was unread at the close.
    fn linger(&self) -> Duration {
        Duration::ZERO
    }

    /// How long a TLS handshake may take.
    #[cfg(feature = "tls")]
    fn tls_handshake_timeout(&self) -> Duration {
        crate::tls::TLS_HANDSHAKE_TIMEOUT
    }

    /// Woken, besides the driver's own waker, when the connection's timer fires: the test
    /// driver drives the connection at once, so that callbacks run at their due time.
    fn timer_waker(&self) -> Option<Waker> {
        None
    }

    /// A tracing span for the connection's work, if one is wanted.
    fn span(&self, peer: &crate::Address) -> Option<tracing::Span> {
        let _ = peer;
        None
    }
}

/// The test driver's host: nothing around the connection.
impl Host for () {}

/// Called with the protocol's handle once `connection_made` has run.
pub(crate) type OnMade<P> = Box<dyn FnOnce(ProtocolHandle<P>) + Send>;
/// Called with the reason once `connection_lost` has run.
pub(crate) type OnLost = Box<dyn FnOnce(&DisconnectReason) + Send>;

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `connection_made` has not run.
    Start,
    Open,
    /// Lost; reading and dropping what the peer still sends for a while.
    Lingering,
    Done,
}

/// One connection's I/O loop over a stream `S`.
pub(crate) struct Driver<P, S, H: Host> {
    core: Core<P>,
    stream: Layer<S>,
    read_buf: BytesMut,
    host: H,
    phase: Phase,
    /// What few connections carry: hooks, a timer, a span, the handshake's deadline.
    extras: Option<Box<Extras<P>>>,
}

struct Extras<P> {
    on_made: Option<OnMade<P>>,
    on_lost: Option<OnLost>,
    /// The connection's timer, armed for this time.
    timer: Option<(Duration, DelayedCall)>,
    linger_until: Option<Duration>,
    span: Option<tracing::Span>,
    reason: Option<DisconnectReason>,
    /// When the TLS handshake under way must have completed.
    #[cfg(feature = "tls")]
    handshake_deadline: Option<Duration>,
    /// The connection's recording, if it is recorded.
    tap: Option<Box<Tap>>,
}

impl<P> Extras<P> {
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool {
        let Extras {
            on_made,
            on_lost,
            timer,
            linger_until,
            span,
            reason,
            #[cfg(feature = "tls")]
            handshake_deadline,
            tap,
        } = self;
        #[cfg(feature = "tls")]
        if handshake_deadline.is_some() {
            return false;
        }
        on_made.is_none()
            && on_lost.is_none()
            && timer.is_none()
            && linger_until.is_none()
            && span.is_none()
            && reason.is_none()
            && tap.is_none()
    }
}

/// How a round's reads ended.
enum Reads {
    /// The stream has nothing more now: it will wake the driver when it has.
    Waiting,
    /// The connection does not want to read (paused, closing, switching to TLS).
    Stopped,
    /// The read budget is spent and the stream may hold more (no readiness event would
    /// come for data already there): go round again.
    More,
}

/// How a flush ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Everything is written (and, for TLS, out of its buffer).
    Done,
    /// The stream takes nothing more now: it will wake the driver when it does.
    Waiting,
    /// Bytes wait for a STARTTLS or TLS handshake before they can go.
    Held,
}

impl<P, S, H> Driver<P, S, H>
where
    P: Protocol,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Host,
{
    /// A connection of `protocol` over `stream`, reached through `inbox`.
    pub(crate) fn new(protocol: P, stream: S, inbox: Arc<Inbox>, host: H) -> Driver<P, S, H> {
        Driver {
            core: Core::new(protocol, State::new(inbox)),
            stream: Layer::Plain(stream),
            read_buf: BytesMut::new(),
            host,
            phase: Phase::Start,
            extras: None,
        }
    }

    /// Starts with an idle timeout of `timeout`, counted from now; the protocol may change
    /// it (from `connection_made` on) like one it set itself.
    pub(crate) fn with_idle_timeout(mut self, timeout: Duration) -> Driver<P, S, H> {
        self.core.state.set_idle_timeout(Some(timeout));
        self
    }

    /// Calls `on_made` with the protocol's handle once `connection_made` has run, and
    /// `on_lost` with the reason once `connection_lost` has.
    pub(crate) fn with_hooks(
        mut self,
        on_made: Option<OnMade<P>>,
        on_lost: Option<OnLost>,
    ) -> Self {
        let extras = self.extras_mut();
        extras.on_made = on_made;
        extras.on_lost = on_lost;
        self
    }

    fn extras_mut(&mut self) -> &mut Extras<P> {
        self.extras.get_or_insert_with(|| {
            Box::new(Extras {
                on_made: None,
                on_lost: None,
                timer: None,
                linger_until: None,
                span: None,
                reason: None,
                #[cfg(feature = "tls")]
                handshake_deadline: None,
                tap: None,
            })
        })
    }

    /// Records the connection, as its `side`, with `recorder` (a recorded factory's):
    /// from now on, which is the recording's time zero.
    pub(crate) fn with_recorder(mut self, recorder: &Recorder, side: Side) -> Self {
        let inbox = &self.core.state.inbox;
        let tap = recorder.tap(
            side,
            inbox.host(),
            inbox.peer(),
            self.stream.is_tls(),
            inbox.clock().now(),
        );
        self.extras_mut().tap = Some(Box::new(tap));
        self
    }

    pub(crate) fn inbox(&self) -> &Arc<Inbox> {
        &self.core.state.inbox
    }

    pub(crate) fn protocol(&self) -> &P {
        &self.core.protocol
    }

    pub(crate) fn protocol_mut(&mut self) -> &mut P {
        &mut self.core.protocol
    }

    pub(crate) fn stream(&self) -> &Layer<S> {
        &self.stream
    }

    /// Bytes written and not yet taken by the stream.
    pub(crate) fn unsent(&self) -> &[u8] {
        self.core.state.out.unsent()
    }

    /// Whether the peer's EOF has been read.
    pub(crate) fn eof_read(&self) -> bool {
        self.core.state.read_eof
    }

    /// Whether `connection_lost` has run.
    pub(crate) fn is_lost(&self) -> bool {
        self.core.state.has_ended()
    }

    /// Whether the connection asked to close, or ended.
    pub(crate) fn is_closing(&self) -> bool {
        self.core.state.is_closing()
    }

    /// Why the connection ended, once it has.
    pub(crate) fn reason(&self) -> Option<&DisconnectReason> {
        self.extras.as_ref()?.reason.as_ref()
    }

    /// Whether a producer is registered.
    pub(crate) fn producer_kind(&self) -> Option<crate::ProducerKind> {
        self.core.state.producer_kind()
    }

    /// Ends the connection now with `reason`, whatever it was doing: the network failed
    /// (the test driver's `disconnect`).
    pub(crate) fn end_now(&mut self, reason: DisconnectReason) {
        if matches!(self.phase, Phase::Start | Phase::Open) {
            self.finish(reason, false);
        }
    }

    /// Drives the connection: `Ready` once it has ended (and lingered).
    pub(crate) fn poll(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.phase == Phase::Start {
            // The span is made before the first poll enters it, so that everything the
            // connection does — `connection_made` included — happens inside it.
            if let Some(span) = self.host.span(self.core.state.inbox.peer()) {
                self.extras_mut().span = Some(span);
            }
        }
        let span = self.extras.as_mut().and_then(|extras| extras.span.take());
        let outcome = match &span {
            Some(span) => span.in_scope(|| self.poll_phases(cx)),
            None => self.poll_phases(cx),
        };
        if let (Some(span), Some(extras)) = (span, self.extras.as_mut()) {
            extras.span = Some(span);
        }
        // A connection keeps no box of nothing (a TLS port's, once its handshake is done).
        if self.extras.as_deref().is_some_and(Extras::is_empty) {
            self.extras = None;
        }
        outcome
    }

    fn poll_phases(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        loop {
            match self.phase {
                Phase::Start => self.start(),
                Phase::Open => match self.poll_open(cx) {
                    Poll::Ready(reason) => {
                        let linger = reason.is_clean() && !self.core.state.read_eof;
                        self.finish(reason, linger);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Phase::Lingering => match self.poll_linger(cx) {
                    Poll::Ready(()) => self.phase = Phase::Done,
                    Poll::Pending => return Poll::Pending,
                },
                Phase::Done => return Poll::Ready(()),
            }
        }
    }

    /// Runs `connection_made` (and `handshake_completed` for a stream that is TLS
    /// already), then tells whoever connected.
    fn start(&mut self) {
        self.host.opened(self.core.state.inbox.clone());
        tracing::debug!(peer = %self.core.state.inbox.peer(), "connection made");
        self.phase = Phase::Open;
        let made = self.core.made();
        #[cfg(feature = "tls")]
        let made = made.and_then(|()| self.handshake_done_before_start());
        if let Some(on_made) = self
            .extras
            .as_mut()
            .and_then(|extras| extras.on_made.take())
        {
            on_made(ProtocolHandle::new(self.core.state.inbox.clone()));
        }
        if let Err(reason) = made {
            self.finish(reason, false);
        }
    }

    /// The connection ended with `reason`: tells the protocol and whoever connected, then
    /// lingers if asked (and useful) or is done.
    fn finish(&mut self, reason: DisconnectReason, linger: bool) {
        // The transcript is complete before anyone hears of the end.
        if let Some(tap) = self.extras.as_mut().and_then(|extras| extras.tap.take()) {
            tap.closed(self.core.state.inbox.clock().now(), &reason);
        }
        // What the last round counted, though it ended in an error.
        let (pauses, timeouts) = self.core.take_counts();
        self.host.count(pauses, timeouts);
        self.core.lost(&reason);
        self.host.lost();
        self.read_buf = BytesMut::new();
        if let Some(extras) = self.extras.as_mut() {
            if let Some((_, timer)) = extras.timer.take() {
                let _ = timer.cancel();
            }
            #[cfg(feature = "tls")]
            {
                extras.handshake_deadline = None;
            }
        }
        let on_lost = self
            .extras
            .as_mut()
            .and_then(|extras| extras.on_lost.take());
        if let Some(on_lost) = on_lost {
            on_lost(&reason);
        }
        self.extras_mut().reason = Some(reason);
        let duration = self.host.linger();
        self.phase = if linger && !duration.is_zero() && !self.stream.is_handshaking() {
            let until = self.core.state.inbox.clock().now().saturating_add(duration);
            self.extras_mut().linger_until = Some(until);
            Phase::Lingering
        } else {
            Phase::Done
        };
    }

    /// Drives the open connection until it ends; returns why.
    fn poll_open(&mut self, cx: &mut TaskContext<'_>) -> Poll<DisconnectReason> {
        for _ in 0..ROUNDS_PER_POLL {
            match self.round(cx) {
                Ok(Round::Park) => return Poll::Pending,
                Ok(Round::Again) => {}
                Err(reason) => return Poll::Ready(reason),
            }
        }
        // Still busy after a full budget: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One round; whether to park or go round again.
    fn round(&mut self, cx: &mut TaskContext<'_>) -> Result<Round, End> {
        let mut again = false;
        self.core.run_inbox()?;
        self.poll_time()?;
        #[cfg(feature = "tls")]
        let switch_waits = self.poll_start_tls(cx)?;
        #[cfg(feature = "tls")]
        if self.poll_handshake(cx)?.is_pending() && self.stream.is_handshaking() {
            return self.park(cx, false);
        }
        let mut read = 0;
        let reads = if self.core.wants_read() {
            if self.read_buf.capacity() == 0 {
                self.read_buf = buffers::take_read();
            }
            self.core.state.out.provide(buffers::take_write);
            self.poll_reads(cx, &mut read)?
        } else {
            Reads::Stopped
        };
        #[cfg(feature = "tls")]
        if self.core.state.start_tls_pending() {
            self.host.account(read, 0);
            if switch_waits {
                // The bytes to send in the clear wait for the stream: it wakes the driver.
                return self.park(cx, false);
            }
            // STARTTLS was asked for during the reads: the next round takes it on, before
            // anything written after the request is flushed.
            return Ok(Round::Again);
        }
        let mut written = 0;
        let flush = self.poll_flush(cx, &mut written).map_err(io_lost)?;
        self.host.account(read, written);
        if read > 0 || written > 0 {
            self.core.activity(read, written);
        }
        // A pull producer is asked for more, a paused one resumed, once bytes went out.
        self.core.check_pressure()?;
        match self.core.close_action(flush == Flush::Done) {
            CloseAction::Nothing => {}
            CloseAction::End(reason) => return Err(reason),
            CloseAction::ShutdownWrite => match Pin::new(&mut self.stream).poll_shutdown(cx) {
                Poll::Ready(Ok(())) => {
                    self.core.write_shut();
                    if let Some(tap) = tap(&mut self.extras) {
                        tap.write_shut(self.core.state.inbox.clock().now());
                    }
                    again = true;
                }
                Poll::Ready(Err(error)) => return Err(io_lost(error)),
                Poll::Pending => {}
            },
        }
        let (pauses, timeouts) = self.core.take_counts();
        if pauses > 0 || timeouts > 0 {
            self.host.count(pauses, timeouts);
        }
        self.report_unsent();
        let waiting_to_write = self.core.state.out.is_empty() || flush != Flush::Done;
        let waiting_to_read = !self.core.wants_read() || matches!(reads, Reads::Waiting);
        if again || matches!(reads, Reads::More) || !waiting_to_write || !waiting_to_read {
            return Ok(Round::Again);
        }
        self.park(cx, true)
    }

    /// Parks unless something waits in the inbox; arms the timer for the next deadline.
    fn park(&mut self, cx: &mut TaskContext<'_>, idle: bool) -> Result<Round, End> {
        self.arm_timer();
        if !self.core.state.inbox.park(cx.waker()) {
            return Ok(Round::Again);
        }
        if idle {
            self.release_idle_buffers();
        }
        Ok(Round::Park)
    }

    /// Fires what is due on the clock: the idle timeout, the handshake's deadline.
    fn poll_time(&mut self) -> Result<bool, End> {
        let fired = self.core.state.inbox.take_timer_due();
        let armed_due = self
            .extras
            .as_ref()
            .and_then(|extras| extras.timer.as_ref())
            .is_some_and(|(_, call)| !call.active());
        if !fired && !armed_due {
            return Ok(false);
        }
        if let Some(extras) = self.extras.as_mut() {
            if extras
                .timer
                .as_ref()
                .is_some_and(|(_, call)| !call.active())
            {
                extras.timer = None;
            }
        }
        let now = self.core.state.inbox.clock().now();
        #[cfg(feature = "tls")]
        self.check_handshake_deadline(now)?;
        self.core.on_time(now)
    }

    /// Arms the connection's timer for its next deadline, unless one is armed no later.
    fn arm_timer(&mut self) {
        let deadline = self.core.next_deadline();
        #[cfg(feature = "tls")]
        let deadline = match (deadline, self.handshake_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(deadline) = deadline else {
            if let Some((_, call)) = self.extras.as_mut().and_then(|extras| extras.timer.take()) {
                let _ = call.cancel();
            }
            return;
        };
        if let Some((at, call)) = self
            .extras
            .as_ref()
            .and_then(|extras| extras.timer.as_ref())
        {
            if *at <= deadline && call.active() {
                // It fires early (activity moved the deadline on) and is re-armed then.
                return;
            }
            let _ = call.cancel();
        }
        let inbox = Arc::downgrade(&self.core.state.inbox);
        let waker = self.host.timer_waker();
        let clock = self.core.state.inbox.clock().clone();
        let delay = deadline.saturating_sub(clock.now());
        let call = clock.schedule(
            delay,
            Box::new(move || {
                if let Some(inbox) = inbox.upgrade() {
                    inbox.timer_fired();
                }
                if let Some(waker) = waker {
                    waker.wake();
                }
            }),
        );
        self.extras_mut().timer = Some((deadline, call));
    }

    /// Reads and dispatches until the stream is drained, the budget is spent, or the
    /// connection stops reading; adds the bytes read to `read`.
    fn poll_reads(&mut self, cx: &mut TaskContext<'_>, read: &mut usize) -> Result<Reads, End> {
        for _ in 0..READS_PER_ROUND {
            if !self.core.wants_read() {
                return Ok(Reads::Stopped);
            }
            if self.read_buf.capacity() - self.read_buf.len() < MIN_READ_SPACE {
                self.read_buf.reserve(buffers::READ_BUFFER);
            }
            match poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf) {
                Poll::Pending => return Ok(Reads::Waiting),
                Poll::Ready(Err(error)) => return Err(io_lost(error)),
                Poll::Ready(Ok(0)) => {
                    self.read_buf = BytesMut::new();
                    if let Some(tap) = tap(&mut self.extras) {
                        tap.peer_eof(self.core.state.inbox.clock().now());
                    }
                    self.core.eof()?;
                    return Ok(Reads::Stopped);
                }
                Poll::Ready(Ok(count)) => {
                    *read += count;
                    let data = self.read_buf.split().freeze();
                    if let Some(tap) = tap(&mut self.extras) {
                        tap.received(self.core.state.inbox.clock().now(), &data);
                    }
                    self.core.received(data)?;
                }
            }
        }
        Ok(Reads::More)
    }

    /// Writes what the core holds; how it ended. Adds the bytes the stream took to
    /// `written`.
    fn poll_flush(
        &mut self,
        cx: &mut TaskContext<'_>,
        written: &mut usize,
    ) -> std::io::Result<Flush> {
        if self.stream.is_handshaking() {
            return Ok(Flush::Held);
        }
        loop {
            let out = &self.core.state.out;
            if out.is_empty() {
                return match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => Ok(Flush::Done),
                    Poll::Ready(Err(error)) => Err(error),
                    Poll::Pending => Ok(Flush::Waiting),
                };
            }
            match Pin::new(&mut self.stream).poll_write(cx, out.unsent()) {
                Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(count)) => {
                    *written += count;
                    if let Some(tap) = tap(&mut self.extras) {
                        let now = self.core.state.inbox.clock().now();
                        tap.sent(now, &self.core.state.out.unsent()[..count]);
                    }
                    self.core.state.out.advance(count);
                }
                Poll::Ready(Err(error)) => return Err(error),
                Poll::Pending => return Ok(Flush::Waiting),
            }
        }
    }

    /// Tells handles how much is unsent (and wakes those waiting for it to drain).
    fn report_unsent(&self) {
        let state = &self.core.state;
        state.inbox.set_unsent(state.out.len(), state.limits().low);
    }

    /// Gives back the buffers an idle connection does not need.
    fn release_idle_buffers(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
            buffers::give_back_read(std::mem::take(&mut self.read_buf));
        }
        if let Some(spare) = self.core.state.out.take_spare() {
            buffers::give_back_write(spare);
        }
        self.stream.release_idle();
    }

    /// Drops input until the peer closes, an error, the linger passes, or the host
    /// interrupts; skipped at once when nothing is unread.
    fn poll_linger(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        let inbox = &self.core.state.inbox;
        if inbox.is_interrupted() {
            return Poll::Ready(());
        }
        let until = self.extras.as_ref().and_then(|extras| extras.linger_until);
        if until.is_some_and(|until| inbox.clock().now() >= until) {
            return Poll::Ready(());
        }
        let mut dropped_any = false;
        loop {
            self.read_buf.clear();
            if self.read_buf.capacity() < MIN_READ_SPACE {
                self.read_buf.reserve(MIN_READ_SPACE);
            }
            match poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => dropped_any = true,
                Poll::Pending => break,
            }
        }
        // The linger's timer is armed on the first poll that found something unread.
        let first = self
            .extras
            .as_ref()
            .is_some_and(|extras| extras.timer.is_none());
        if first && !dropped_any {
            // Nothing was unread when the close completed: no reset can destroy what was
            // sent, so there is nothing to linger for.
            return Poll::Ready(());
        }
        if first {
            if let Some(until) = until {
                let clock = self.core.state.inbox.clock().clone();
                let delay = until.saturating_sub(clock.now());
                let inbox = Arc::downgrade(&self.core.state.inbox);
                let call = clock.schedule(
                    delay,
                    Box::new(move || {
                        if let Some(inbox) = inbox.upgrade() {
                            inbox.interrupt();
                        }
                    }),
                );
                self.extras_mut().timer = Some((until, call));
            }
        }
        self.core.state.inbox.park_ended(cx.waker());
        Poll::Pending
    }
}

/// The connection's recording, if it is recorded: one test of `extras` when it is not.
#[inline]
fn tap<P>(extras: &mut Option<Box<Extras<P>>>) -> Option<&mut Tap> {
    extras.as_mut()?.tap.as_deref_mut()
}

/// What a round tells the loop.
enum Round {
    Park,
    Again,
}

impl<P, S, H: Host> Drop for Driver<P, S, H> {
    /// A driver dropped before its end (its runtime shut down) leaves no timer behind.
    fn drop(&mut self) {
        if let Some((_, call)) = self.extras.as_mut().and_then(|extras| extras.timer.take()) {
            let _ = call.cancel();
        }
    }
}
