//! Everything a connection's callbacks can change, apart from the protocol itself:
//! [`State`], and the rules that apply the moment a callback asks (the rest run between
//! callbacks, in `core`).

use std::sync::Arc;
use std::time::Duration;

use super::inbox::Inbox;
use super::outgoing::Outgoing;
use super::pressure::WritePressure;
use crate::tls::{StartTls, TlsInfo};
use crate::{
    ConnectionError, DisconnectReason, Error, IdleActivity, Producer, ProducerKind, Result,
    WriteBufferLimits,
};

/// What the protocol (or a handle) asked of the connection's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    Open,
    /// Flush, then shut down the write side only; reading goes on.
    LoseWrite,
    /// Flush, then close.
    Lose,
    /// Close now, dropping unsent data.
    Abort,
}

impl Close {
    /// Whether the connection still reads (and delivers) what the peer sends.
    pub(crate) fn reads(self) -> bool {
        matches!(self, Close::Open | Close::LoseWrite)
    }
}

/// Whether the protocol paused reading, and whether a resume is still to be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadPause {
    Reading,
    Paused,
    /// Resumed after a pause; the protocol's
    /// [`reading_resumed`](crate::Protocol::reading_resumed) is still to be called (after
    /// the callback or request that resumed). A pause before then cancels it.
    Resumed,
}

/// Where the write side is: open, shutting down (writes are dropped from here on), shut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteSide {
    Open,
    ShuttingDown,
    Shut,
}

/// A connection's state, owned by its driver and lent to each callback through a
/// [`Context`](crate::Context).
///
/// It lives in the connection's task for the connection's whole life, so its size counts
/// for every idle connection: what few connections use is boxed in `extras`.
pub(crate) struct State {
    /// Written and not yet taken by the stream.
    pub(crate) out: Outgoing,
    pub(crate) inbox: Arc<Inbox>,
    close: Close,
    write_side: WriteSide,
    /// Writes are queued: `write_side` open, `close` not an abort, not `ended`. Kept by
    /// every change of the three (they change only through this file), so a write tests
    /// one flag.
    writable: bool,
    read_pause: ReadPause,
    /// What the peer sends is delivered: not paused, `close` reads, not `ended`. Kept like
    /// `writable`, so the delivery loops of the receivers test one flag per frame.
    reading: bool,
    /// The peer sent EOF.
    pub(crate) read_eof: bool,
    /// `connection_lost` has been called (or is being called).
    ended: bool,
    pub(crate) pressure: WritePressure,
    /// Watermarks other than the defaults, an idle timeout, a producer, TLS.
    pub(crate) extras: Option<Box<Extras>>,
}

/// The settings and state most connections never use.
#[derive(Default)]
pub(crate) struct Extras {
    pub(crate) limits: WriteBufferLimits,
    pub(crate) idle: Option<Idle>,
    pub(crate) idle_activity: IdleActivity,
    pub(crate) producer: Option<Registered>,
    /// Counts producer registrations and removals: a producer taken out for a call is put
    /// back only if nothing replaced or removed it meanwhile.
    pub(crate) producer_generation: u32,
    /// A pull producer was registered and has not been asked for its first chunk.
    pub(crate) producer_new: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Box<Tls>>,
    /// The reason a `lose_connection_with` gave.
    pub(crate) close_error: Option<ConnectionError>,
    /// Events the reactor counts, taken by its driver after each round.
    pub(crate) write_pauses: u32,
    pub(crate) idle_timeouts: u32,
}

/// A registered producer.
pub(crate) struct Registered {
    pub(crate) producer: Box<dyn Producer>,
    pub(crate) kind: ProducerKind,
}

/// An armed idle timeout, in the connection's clock's time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Idle {
    pub(crate) timeout: Duration,
    pub(crate) last_activity: Duration,
    /// It fired and `timeout_connection` is running or ran: unless the protocol sets it
    /// again, it is disarmed afterwards (one shot), or keeps watching a close.
    pub(crate) fired: bool,
}

impl Idle {
    pub(crate) fn due(&self) -> Duration {
        self.last_activity.saturating_add(self.timeout)
    }
}

/// A connection's TLS side, from the moment it starts becoming TLS.
#[cfg(feature = "tls")]
#[derive(Default)]
pub(crate) struct Tls {
    /// STARTTLS asked for and not started yet: how many of the unsent bytes are still to
    /// go out in the clear first.
    pub(crate) request: Option<(StartTls, usize)>,
    /// The handshake's outcome, once there is one.
    pub(crate) info: Option<TlsInfo>,
}

impl State {
    pub(crate) fn new(inbox: Arc<Inbox>) -> State {
        State {
            out: Outgoing::default(),
            inbox,
            close: Close::Open,
            write_side: WriteSide::Open,
            writable: true,
            reading: true,
            read_pause: ReadPause::Reading,
            read_eof: false,
            ended: false,
            pressure: WritePressure::default(),
            extras: None,
        }
    }

    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// Recomputes `writable` and `reading` after a change of what they cache.
    fn refresh_flags(&mut self) {
        self.writable =
            self.write_side == WriteSide::Open && self.close != Close::Abort && !self.ended;
        self.reading = !self.is_read_paused() && self.close.reads() && !self.ended;
    }

    /// How the connection is being closed, if it is.
    pub(crate) fn close(&self) -> Close {
        self.close
    }

    fn set_close(&mut self, close: Close) {
        self.close = close;
        self.refresh_flags();
    }

    /// How far the write side is shut.
    pub(crate) fn write_side(&self) -> WriteSide {
        self.write_side
    }

    pub(crate) fn set_write_side(&mut self, write_side: WriteSide) {
        self.write_side = write_side;
        self.refresh_flags();
    }

    /// Whether the connection ended (`connection_lost` ran or is running).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended
    }

    pub(crate) fn set_ended(&mut self) {
        self.ended = true;
        self.refresh_flags();
    }

    /// Appends `chunks` to what is to be sent, after anything left in the inbox before
    /// (see `inbox` on order).
    #[inline]
    pub(crate) fn write_many(&mut self, chunks: &[&[u8]]) {
        if !self.writable || self.inbox.is_waiting() {
            return self.write_many_after_checks(chunks);
        }
        for chunk in chunks {
            self.out.append(chunk);
        }
    }

    /// [`write_many`](State::write_many) when writes are refused, or a handle's bytes are
    /// waiting to go before these.
    #[cold]
    #[inline(never)]
    fn write_many_after_checks(&mut self, chunks: &[&[u8]]) {
        if !self.writable {
            self.dropped(chunks);
            return;
        }
        self.catch_up();
        for chunk in chunks {
            self.out.append(chunk);
        }
    }

    #[cold]
    fn dropped(&self, chunks: &[&[u8]]) {
        let bytes: usize = chunks.iter().map(|chunk| chunk.len()).sum();
        if bytes > 0 {
            tracing::debug!(peer = %self.inbox.peer(), bytes, "write after the connection closed for writing; dropped");
        }
    }

    /// Moves what handles wrote so far (up to their first request) behind what this
    /// connection's callbacks wrote.
    #[cold]
    fn catch_up(&mut self) {
        let out = &mut self.out;
        self.inbox
            .take_bytes_before_requests(|bytes| out.append(bytes));
    }

    pub(crate) fn lose_connection(&mut self) {
        if matches!(self.close, Close::Open | Close::LoseWrite) {
            self.set_close(Close::Lose);
            self.inbox.mark_closing();
        }
    }

    pub(crate) fn lose_connection_with(&mut self, error: ConnectionError) {
        if matches!(self.close, Close::Open | Close::LoseWrite) {
            self.extras_mut().close_error = Some(error);
        }
        self.lose_connection();
    }

    pub(crate) fn lose_write_connection(&mut self) {
        if self.close == Close::Open {
            self.set_close(Close::LoseWrite);
        }
    }

    pub(crate) fn abort(&mut self) {
        self.set_close(Close::Abort);
        self.out.discard();
        self.inbox.mark_closing();
    }

    /// Stops reading until `resume_reading`.
    pub(crate) fn pause_reading(&mut self) {
        self.read_pause = ReadPause::Paused;
        self.refresh_flags();
    }

    /// Whether reading is paused (by the protocol or a handle).
    pub(crate) fn is_read_paused(&self) -> bool {
        self.read_pause == ReadPause::Paused
    }

    /// Whether a resume is still to be told to the protocol.
    #[inline]
    pub(crate) fn owes_reading_resumed(&self) -> bool {
        self.read_pause == ReadPause::Resumed
    }

    /// Takes the resume still to be told, if there is one.
    pub(crate) fn take_reading_resumed(&mut self) -> bool {
        let owed = self.owes_reading_resumed();
        if owed {
            self.read_pause = ReadPause::Reading;
        }
        owed
    }

    /// Reads again; a resume after a pause is owed a `reading_resumed`.
    pub(crate) fn resume_reading(&mut self) {
        if self.is_read_paused() {
            self.read_pause = ReadPause::Resumed;
            self.refresh_flags();
        }
    }

    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.close, Close::Lose | Close::Abort) || self.ended
    }

    #[inline]
    pub(crate) fn is_reading(&self) -> bool {
        self.reading
    }

    /// Bytes written and not yet sent: by callbacks, and left by handles.
    pub(crate) fn write_buffer_size(&self) -> usize {
        let left = if self.inbox.is_waiting() {
            self.inbox.queued()
        } else {
            0
        };
        self.out.len() + left
    }

    pub(crate) fn limits(&self) -> WriteBufferLimits {
        self.extras
            .as_ref()
            .map_or(WriteBufferLimits::DEFAULT, |extras| extras.limits)
    }

    pub(crate) fn set_limits(&mut self, high: usize, low: usize) -> Result<()> {
        let limits = WriteBufferLimits::new(high, low)?;
        self.extras_mut().limits = limits;
        self.inbox.set_limits(limits);
        Ok(())
    }

    pub(crate) fn register_producer(
        &mut self,
        producer: Box<dyn Producer>,
        kind: ProducerKind,
    ) -> Result<()> {
        let extras = self.extras_mut();
        if extras.producer.is_some() {
            return Err(Error::ProducerAlreadyRegistered);
        }
        extras.producer = Some(Registered { producer, kind });
        extras.producer_generation = extras.producer_generation.wrapping_add(1);
        extras.producer_new = kind == ProducerKind::Pull;
        self.pressure.registered();
        Ok(())
    }

    pub(crate) fn unregister_producer(&mut self) {
        if let Some(extras) = self.extras.as_mut() {
            extras.producer = None;
            extras.producer_new = false;
            // Also when the producer is out for a call of its own (it unregisters itself):
            // it is not put back.
            extras.producer_generation = extras.producer_generation.wrapping_add(1);
        }
    }

    pub(crate) fn producer_kind(&self) -> Option<ProducerKind> {
        self.extras
            .as_ref()
            .and_then(|extras| extras.producer.as_ref())
            .map(|registered| registered.kind)
    }

    pub(crate) fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        let now = timeout.map(|_| self.inbox.clock().now());
        let extras = self.extras_mut();
        extras.idle = timeout.zip(now).map(|(timeout, now)| Idle {
            timeout,
            last_activity: now,
            fired: false,
        });
    }

    pub(crate) fn set_idle_activity(&mut self, activity: IdleActivity) {
        self.extras_mut().idle_activity = activity;
    }

    pub(crate) fn reset_idle_timeout(&mut self) {
        let Some(idle) = self.extras.as_mut().and_then(|extras| extras.idle.as_mut()) else {
            return;
        };
        idle.last_activity = self.inbox.clock().now();
    }

    /// The reason an aborted connection ends with: `Aborted`, or the error an
    /// `abort_connection_with` gave.
    pub(crate) fn abort_reason(&mut self) -> DisconnectReason {
        match self
            .extras
            .as_mut()
            .and_then(|extras| extras.close_error.take())
        {
            Some(error) => DisconnectReason::Lost(error),
            None => DisconnectReason::Aborted,
        }
    }

    /// The reason the connection ends with once its close completes.
    pub(crate) fn close_reason(&mut self) -> DisconnectReason {
        match self
            .extras
            .as_mut()
            .and_then(|extras| extras.close_error.take())
        {
            Some(error) => DisconnectReason::Lost(error),
            None => DisconnectReason::Done,
        }
    }
}

/// A connection's TLS side: STARTTLS's request and the handshake's outcome.
#[cfg(feature = "tls")]
impl State {
    pub(crate) fn start_tls(&mut self, tls: StartTls) -> Result<()> {
        let unsent = self.out.len();
        let extras = self.extras_mut();
        if extras.tls.is_some() {
            return Err(Error::TlsAlreadyStarted);
        }
        extras.tls = Some(Box::new(Tls {
            request: Some((tls, unsent)),
            info: None,
        }));
        Ok(())
    }

    /// Whether STARTTLS was asked for and not started yet (reading stops meanwhile).
    pub(crate) fn start_tls_pending(&self) -> bool {
        self.tls().is_some_and(|tls| tls.request.is_some())
    }

    pub(crate) fn tls(&self) -> Option<&Tls> {
        self.extras
            .as_ref()
            .and_then(|extras| extras.tls.as_deref())
    }

    pub(crate) fn tls_mut(&mut self) -> Option<&mut Tls> {
        self.extras
            .as_mut()
            .and_then(|extras| extras.tls.as_deref_mut())
    }

    /// Marks the connection TLS from the start (a TLS port or a TLS client): STARTTLS is
    /// refused.
    pub(crate) fn mark_tls(&mut self) {
        self.extras_mut().tls.get_or_insert_with(Box::default);
    }

    pub(crate) fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls().and_then(|tls| tls.info.as_ref())
    }
}

/// Without the `tls` feature a connection never becomes TLS: [`StartTls`] and [`TlsInfo`]
/// have no values.
#[cfg(not(feature = "tls"))]
impl State {
    pub(crate) fn start_tls(&mut self, tls: StartTls) -> Result<()> {
        match tls {}
    }

    /// Whether STARTTLS was asked for and not started yet: never.
    pub(crate) fn start_tls_pending(&self) -> bool {
        false
    }

    pub(crate) fn tls_info(&self) -> Option<&TlsInfo> {
        None
    }
}
