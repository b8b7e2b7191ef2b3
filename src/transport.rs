//! What a protocol can ask of its connection from inside a callback: the [`Transport`]
//! trait, and the write-buffer watermarks.
//!
//! Every callback gets a [`Context`](crate::Context), which implements `Transport`:
//! Twisted's `self.transport`, reached through `&mut` so that a write appends to a buffer
//! the connection owns — no lock, no virtual call. Every connection, whatever carries it
//! (TCP, TLS, a Unix socket, memory), supports every operation here: nothing answers
//! "unsupported".
//!
//! To reach a connection from outside its callbacks (a timer, another connection, another
//! thread), keep a [`TransportHandle`](crate::TransportHandle) or a
//! [`ProtocolHandle`](crate::ProtocolHandle), from [`Transport::handle`] or
//! [`Context::handle`](crate::Context::handle).

use std::sync::Arc;
use std::time::Duration;

use crate::tls::{StartTls, TlsInfo};
use crate::TransportHandle;
use crate::{Address, Clock, ConnectionError, Error, Producer, ProducerKind, Result};

/// Above this many unsent bytes a connection asks its protocol to
/// [`pause_producing`](crate::Protocol::pause_producing) (asyncio's default high-water
/// mark).
pub const WRITE_BUFFER_HIGH: usize = 64 * 1024;

/// At or below this many unsent bytes a paused protocol is asked to
/// [`resume_producing`](crate::Protocol::resume_producing) (asyncio's default low-water
/// mark).
pub const WRITE_BUFFER_LOW: usize = 16 * 1024;

/// A connection's write-buffer watermarks: above `high` unsent bytes the producer (or the
/// protocol) is paused, at or below `low` it is resumed. asyncio's
/// `get_write_buffer_limits`, as a value.
///
/// # Examples
///
/// ```
/// use torsade::WriteBufferLimits;
///
/// assert_eq!(WriteBufferLimits::default(), WriteBufferLimits::DEFAULT);
/// assert_eq!(WriteBufferLimits::new(1024, 256).unwrap().low, 256);
/// assert!(WriteBufferLimits::new(10, 11).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBufferLimits {
    /// Above this many unsent bytes, pause.
    pub high: usize,
    /// At or below this many unsent bytes, resume.
    pub low: usize,
}

impl WriteBufferLimits {
    /// [`WRITE_BUFFER_HIGH`] and [`WRITE_BUFFER_LOW`]: 64 KiB and 16 KiB.
    pub const DEFAULT: WriteBufferLimits = WriteBufferLimits {
        high: WRITE_BUFFER_HIGH,
        low: WRITE_BUFFER_LOW,
    };

    /// The limits `high` / `low`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWriteBufferLimits`] if `low > high`.
    pub fn new(high: usize, low: usize) -> Result<WriteBufferLimits> {
        if low > high {
            return Err(Error::InvalidWriteBufferLimits { high, low });
        }
        Ok(WriteBufferLimits { high, low })
    }
}

impl Default for WriteBufferLimits {
    fn default() -> WriteBufferLimits {
        WriteBufferLimits::DEFAULT
    }
}

/// What counts as activity for a connection's idle timeout
/// ([`Transport::set_idle_activity`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdleActivity {
    /// Bytes received, and bytes sent (taken by the operating system, not merely
    /// written): a peer that stops reading does not keep the connection alive by making
    /// it buffer. The default.
    #[default]
    ReadsAndWrites,
    /// Bytes received only: a silent peer is timed out even while the connection sends
    /// to it (broadcasts, keep-alives). A closing connection still counts what it sends
    /// as progress.
    Reads,
}

/// The operations a protocol can ask of its connection. Twisted's `ITransport`, with
/// asyncio's flow control.
///
/// Implemented by the [`Context`](crate::Context) every callback gets, and by contexts
/// built on it (a line receiver's); so a helper can take `&mut impl Transport` and serve
/// any of them. Object safe: a [`Producer`] is handed a `&mut dyn Transport`.
///
/// Writes never block and never fail: bytes are buffered and sent by the connection's
/// driver after the callback returns, in one write with everything else the callback
/// wrote. Errors surface as [`Protocol::connection_lost`](crate::Protocol::connection_lost).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// /// Sends a greeting on any transport.
/// fn greet(transport: &mut impl Transport, name: &str) {
///     transport.write_many(&[b"hello, ", name.as_bytes(), b"\r\n"]);
/// }
///
/// struct Greeter;
/// impl Protocol for Greeter {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         greet(cx, "world");
///     }
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, _: Bytes) {
///         cx.lose_connection();
///     }
/// }
///
/// let mut connection = TestConnection::new(Greeter);
/// assert_eq!(connection.take_written(), &b"hello, world\r\n"[..]);
/// connection.receive(b"bye");
/// assert!(connection.is_lost());
/// ```
#[doc(alias = "ITransport")]
pub trait Transport {
    /// Queues `data` to be sent. Empty data is a no-op; data written once the write side
    /// is shut down, or the connection aborted, is dropped (and logged at debug level).
    fn write(&mut self, data: &[u8]) {
        self.write_many(&[data]);
    }

    /// Queues several chunks to be sent in order, as if written one after another.
    #[doc(alias = "writeSequence")]
    #[doc(alias = "writelines")]
    fn write_many(&mut self, chunks: &[&[u8]]);

    /// Closes the connection once everything written so far has been sent: the write
    /// side is shut down (TCP FIN; on TLS, close_notify first), then
    /// [`connection_lost`](crate::Protocol::connection_lost)`(Done)`.
    ///
    /// Reading stops at once, and no more data is delivered. Calling it again does
    /// nothing.
    #[doc(alias = "loseConnection")]
    #[doc(alias = "close")]
    fn lose_connection(&mut self);

    /// [`lose_connection`](Transport::lose_connection), reporting `error` as the reason
    /// the connection ended (`connection_lost(Lost(error))`) — a protocol closing because
    /// its peer broke the rules (a line too long, a malformed frame).
    fn lose_connection_with(&mut self, error: ConnectionError);

    /// Shuts down only the writing side once everything written so far has been sent
    /// (TCP FIN; on TLS, close_notify first), and keeps reading: received data is still
    /// delivered (and [`eof_received`](crate::Protocol::eof_received) called) until the
    /// peer closes its side, then the connection ends with `connection_lost(Done)`.
    /// Twisted's `loseWriteConnection`.
    ///
    /// Bytes written after the write side is shut down are dropped.
    /// [`is_closing`](Transport::is_closing) stays `false`, so framers go on delivering. A
    /// registered producer holds the shutdown until it is unregistered.
    #[doc(alias = "loseWriteConnection")]
    #[doc(alias = "write_eof")]
    fn lose_write_connection(&mut self);

    /// Closes the connection now, dropping unsent data
    /// (`connection_lost(Aborted)`).
    #[doc(alias = "abortConnection")]
    #[doc(alias = "abort")]
    fn abort_connection(&mut self);

    /// [`abort_connection`](Transport::abort_connection), reporting `error` as the reason
    /// (`connection_lost(Lost(error))`): the peer broke the rules in a way that makes
    /// sending anything more unwise (plaintext injected after STARTTLS, say).
    fn abort_connection_with(&mut self, error: ConnectionError);

    /// Whether a close or an abort was asked for, or the connection has ended. Twisted's
    /// `transport.disconnecting`.
    #[doc(alias = "disconnecting")]
    fn is_closing(&self) -> bool;

    /// The address of the other end.
    #[doc(alias = "getPeer")]
    fn peer_addr(&self) -> &Address;

    /// The address of this end.
    #[doc(alias = "getHost")]
    fn host_addr(&self) -> &Address;

    /// Who is at the other end, where the operating system tells: a Unix domain socket's
    /// peer (`SO_PEERCRED`). `None` for other streams.
    #[cfg(unix)]
    fn peer_credentials(&self) -> Option<crate::endpoints::PeerCredentials>;

    /// Stops reading until [`resume_reading`](Transport::resume_reading): the driver
    /// reads nothing more from the stream, so TCP slows the peer down. Takes effect after
    /// the current callback (a chunk already read is still delivered); a protocol that
    /// parses the chunk stops at once, between two messages, and delivers the rest from
    /// [`Protocol::reading_resumed`](crate::Protocol::reading_resumed), as the line
    /// receivers of `torsade-protocols` do.
    #[doc(alias = "pauseProducing")]
    fn pause_reading(&mut self);

    /// Reads again; after a pause, the protocol's
    /// [`reading_resumed`](crate::Protocol::reading_resumed) follows the current callback.
    #[doc(alias = "resumeProducing")]
    fn resume_reading(&mut self);

    /// Whether received data is being delivered (not paused, not closing, not ended).
    fn is_reading(&self) -> bool;

    /// Bytes written and not yet handed to the operating system.
    #[doc(alias = "get_write_buffer_size")]
    fn write_buffer_size(&self) -> usize;

    /// Sets this connection's watermarks (see [`WriteBufferLimits`]): more than `high`
    /// unsent bytes pause the producer (or the protocol), and `low` resumes it. Applies
    /// after the current callback: if the unsent bytes are already past a new mark, the
    /// pause or resume follows then. asyncio's `set_write_buffer_limits`. `0, 0` pauses
    /// whenever anything is unsent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWriteBufferLimits`] if `low > high` (nothing changes).
    fn set_write_buffer_limits(&mut self, high: usize, low: usize) -> Result<()>;

    /// This connection's watermarks; [`WriteBufferLimits::DEFAULT`] unless set.
    #[doc(alias = "get_write_buffer_limits")]
    fn write_buffer_limits(&self) -> WriteBufferLimits;

    /// Whether more than the high-water mark is unsent: writes are still taken (they are
    /// buffered), but a writer that can wait should. Netty's `!isWritable()`.
    fn is_write_buffer_full(&self) -> bool {
        self.write_buffer_size() > self.write_buffer_limits().high
    }

    /// Registers a [`Producer`] that writes at the pace the connection sends: a push
    /// producer is paused and resumed at the watermarks; a pull producer is asked for one
    /// chunk now and whenever the unsent bytes are down to the low-water mark. While it is
    /// registered, [`lose_connection`](Transport::lose_connection) waits for it to
    /// unregister; when the connection ends it gets
    /// [`stop_producing`](Producer::stop_producing). Twisted's `registerProducer`.
    ///
    /// # Errors
    ///
    /// [`Error::ProducerAlreadyRegistered`] if one is registered.
    #[doc(alias = "registerProducer")]
    fn register_producer(&mut self, producer: Box<dyn Producer>, kind: ProducerKind) -> Result<()>;

    /// Unregisters the producer, if any (it is dropped without `stop_producing`).
    #[doc(alias = "unregisterProducer")]
    fn unregister_producer(&mut self);

    /// Switches the connection to TLS (STARTTLS), playing the side `tls` says.
    ///
    /// Bytes written before this call go out in the clear, and first; bytes written after
    /// it are encrypted once the handshake completes (then
    /// [`Protocol::handshake_completed`](crate::Protocol::handshake_completed) is
    /// called). Reading stops at once: nothing the peer sends after this call is delivered
    /// unless it arrives inside the TLS session — plaintext sent before its own handshake
    /// fails the handshake and closes the connection, so it can never pass for protected
    /// data (CVE-2011-0411). Bytes the protocol already received but had not parsed are the
    /// protocol's to refuse: `LineReceiver` does, by default.
    ///
    /// # Errors
    ///
    /// [`Error::TlsAlreadyStarted`] if the connection is TLS, or becoming TLS, already.
    #[doc(alias = "startTLS")]
    fn start_tls(&mut self, tls: StartTls) -> Result<()>;

    /// What the TLS handshake settled (ALPN, SNI, the peer's certificates), once it has
    /// completed; `None` for a connection without TLS.
    #[doc(alias = "getPeerCertificate")]
    fn tls_info(&self) -> Option<&TlsInfo>;

    /// Watches the connection for idleness: once `timeout` passes without activity (see
    /// [`set_idle_activity`](Transport::set_idle_activity)), the protocol's
    /// [`timeout_connection`](crate::Protocol::timeout_connection) runs (the default
    /// closes the connection). `None` stops watching. Twisted's `TimeoutMixin.setTimeout`.
    ///
    /// - The countdown starts when this is called (calling it again restarts it) and
    ///   starts again after each activity, or [`reset_idle_timeout`](Transport::reset_idle_timeout).
    /// - It fires once; watching again is the protocol's choice (call this again, from
    ///   `timeout_connection` for instance). If the connection is closing after
    ///   `timeout_connection` — the default closes it — the countdown goes on, and a close
    ///   that makes no progress for another `timeout` (the peer is not taking the last
    ///   bytes) is aborted with
    ///   [`ConnectionError::IdleTimeout`](crate::ConnectionError::IdleTimeout): a close
    ///   never hangs for ever. So is a connection already closing when the timeout passes.
    /// - The time is the connection's [`clock`](Transport::clock): the fake one under the
    ///   test driver.
    #[doc(alias = "setTimeout")]
    fn set_idle_timeout(&mut self, timeout: Option<Duration>);

    /// What counts as activity for the idle timeout: bytes received and sent (the
    /// default), or received only. Twisted leaves it to the protocol, which calls
    /// `resetTimeout` itself; [`reset_idle_timeout`](Transport::reset_idle_timeout) is
    /// that.
    fn set_idle_activity(&mut self, activity: IdleActivity);

    /// Restarts the idle countdown now, as activity would. Twisted's `resetTimeout`.
    #[doc(alias = "resetTimeout")]
    fn reset_idle_timeout(&mut self);

    /// The connection's clock: the reactor's, or the fake one under the test driver.
    /// Schedule the protocol's own timers on it (`cx.clock().call_later(...)`, with
    /// [`ClockExt`](crate::ClockExt) in scope) so that tests move them with the fake clock.
    fn clock(&self) -> &Arc<dyn Clock>;

    /// A handle on this connection for writing and closing from outside its callbacks:
    /// from a timer, another connection, another thread. See [`TransportHandle`].
    fn transport_handle(&self) -> TransportHandle;
}
