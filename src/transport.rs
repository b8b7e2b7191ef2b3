//! The channel a protocol talks through: the [`Transport`] trait.
//!
//! A transport is a cheap, shared handle ([`TransportRef`]). A protocol receives one in
//! every callback and may keep a clone (Twisted's `self.transport`); timers, Deferred
//! callbacks and other tasks may write through a kept clone too. Writes are buffered and
//! flushed by the connection's own task — a `write` never blocks and never fails; errors
//! surface as [`Protocol::connection_lost`](crate::Protocol::connection_lost).
//!
//! Implementations: the reactor's TCP transport, and
//! [`testing::StringTransport`](crate::testing::StringTransport), which records instead.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::tls::{StartTls, TlsInfo};
use crate::{Address, Error, Producer, ProducerKind, Result};

/// A shared handle to a connection's transport. Cloning it is one reference-count bump.
pub type TransportRef = Arc<dyn Transport>;

/// Above this many unsent bytes a transport asks its protocol to
/// [`pause_producing`](crate::Protocol::pause_producing) (asyncio's default high-water
/// mark).
pub const WRITE_BUFFER_HIGH: usize = 64 * 1024;

/// At or below this many unsent bytes a paused protocol is asked to
/// [`resume_producing`](crate::Protocol::resume_producing), and
/// [`Transport::poll_drain`] is ready (asyncio's default low-water mark).
pub const WRITE_BUFFER_LOW: usize = 16 * 1024;

/// A transport's write-buffer watermarks: above `high` unsent bytes the producer (or the
/// protocol) is paused, at or below `low` it is resumed. asyncio's
/// `get_write_buffer_limits`, as a value.
///
/// Set them per transport with [`Transport::set_write_buffer_limits`]; read them with
/// [`Transport::write_buffer_limits`]. A `low` above `high` is refused.
///
/// # Examples
///
/// ```
/// use torsade::testing::StringTransport;
/// use torsade::{Transport, WriteBufferLimits};
///
/// let transport = StringTransport::new();
/// assert_eq!(transport.write_buffer_limits(), WriteBufferLimits::DEFAULT);
/// transport.set_write_buffer_limits(1024, 256).unwrap();
/// assert_eq!(transport.write_buffer_limits(), WriteBufferLimits { high: 1024, low: 256 });
/// assert!(transport.set_write_buffer_limits(10, 11).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBufferLimits {
    /// Above this many unsent bytes, pause.
    pub high: usize,
    /// At or below this many unsent bytes, resume (and [`Transport::poll_drain`] is ready).
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

/// The operations a protocol can ask of its connection.
///
/// All methods take `&self` and may be called from any thread; they never block.
///
/// # Examples
///
/// ```
/// use torsade::testing::StringTransport;
/// use torsade::Transport;
///
/// let transport = StringTransport::new();
/// transport.write(b"hello, ");
/// transport.write_many(&[b"wor", b"ld"]);
/// assert_eq!(transport.value(), &b"hello, world"[..]);
/// transport.lose_connection();
/// assert!(transport.is_closing());
/// ```
#[doc(alias = "ITransport")]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Queues `data` to be sent. Empty data is a no-op; data written after the connection
    /// has closed is dropped (and logged at debug level).
    fn write(&self, data: &[u8]);

    /// Queues several chunks to be sent in order, as if written one after another.
    #[doc(alias = "writeSequence")]
    #[doc(alias = "writelines")]
    fn write_many(&self, chunks: &[&[u8]]) {
        for chunk in chunks {
            self.write(chunk);
        }
    }

    /// Closes the connection once everything written so far has been sent.
    ///
    /// Reading stops at once. Calling it again does nothing.
    #[doc(alias = "loseConnection")]
    #[doc(alias = "close")]
    fn lose_connection(&self);

    /// Shuts down only the writing side once everything written so far has been sent
    /// (TCP FIN; on TLS, close_notify first), and keeps reading: received data is still
    /// delivered (and [`eof_received`](crate::Protocol::eof_received) called) until the
    /// peer closes its side, then the connection ends with
    /// [`connection_lost`](crate::Protocol::connection_lost)`(Done)`. Twisted's
    /// `loseWriteConnection`.
    ///
    /// Bytes written after the write side is shut down are dropped (and logged at debug
    /// level). [`is_closing`](Transport::is_closing) stays `false`, so framers go on
    /// delivering; [`lose_connection`](Transport::lose_connection) or
    /// [`abort_connection`](Transport::abort_connection) may follow. A registered
    /// producer holds the shutdown until it is unregistered, as it holds
    /// `lose_connection`.
    ///
    /// The default, for transports that cannot half-close, is
    /// [`lose_connection`](Transport::lose_connection).
    #[doc(alias = "loseWriteConnection")]
    #[doc(alias = "write_eof")]
    fn lose_write_connection(&self) {
        self.lose_connection();
    }

    /// Closes the connection now, dropping unsent data.
    #[doc(alias = "abortConnection")]
    #[doc(alias = "abort")]
    fn abort_connection(&self);

    /// Whether [`lose_connection`](Transport::lose_connection) or
    /// [`abort_connection`](Transport::abort_connection) has been called, or the
    /// connection has ended. Twisted's `transport.disconnecting`.
    #[doc(alias = "disconnecting")]
    fn is_closing(&self) -> bool;

    /// The address of the other end.
    #[doc(alias = "getPeer")]
    fn peer_addr(&self) -> Address;

    /// The address of this end.
    #[doc(alias = "getHost")]
    fn host_addr(&self) -> Address;

    /// Stops delivering received data until [`resume_reading`](Transport::resume_reading).
    /// While paused the connection does not read its socket, so TCP slows the peer down.
    #[doc(alias = "pauseProducing")]
    fn pause_reading(&self);

    /// Starts delivering received data again.
    #[doc(alias = "resumeProducing")]
    fn resume_reading(&self);

    /// Whether received data is being delivered (not paused, not closing).
    fn is_reading(&self) -> bool;

    /// Bytes written but not yet handed to the operating system.
    #[doc(alias = "get_write_buffer_size")]
    fn write_buffer_size(&self) -> usize;

    /// Sets this transport's watermarks (see [`WriteBufferLimits`]): more than `high`
    /// unsent bytes pause the producer (or the protocol), and `low` resumes it. Applies
    /// from the next check on (after the current callback, on the reactor): if the unsent
    /// bytes are already past a new mark, the pause or resume follows then.
    /// asyncio's `set_write_buffer_limits`. `0, 0` pauses whenever anything is unsent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWriteBufferLimits`] if `low > high` (nothing changes);
    /// [`Error::Unsupported`] for a transport without watermarks (the default).
    fn set_write_buffer_limits(&self, high: usize, low: usize) -> Result<()> {
        let _ = (high, low);
        Err(Error::Unsupported {
            operation: "set_write_buffer_limits",
        })
    }

    /// This transport's watermarks; [`WriteBufferLimits::DEFAULT`] unless set.
    #[doc(alias = "get_write_buffer_limits")]
    fn write_buffer_limits(&self) -> WriteBufferLimits {
        WriteBufferLimits::DEFAULT
    }

    /// Whether more than the high-water mark is unsent: writes are still taken (they are
    /// buffered), but a writer that can wait should wait for
    /// [`poll_drain`](Transport::poll_drain) before writing more. Netty's `!isWritable()`.
    fn is_write_buffer_full(&self) -> bool {
        self.write_buffer_size() > self.write_buffer_limits().high
    }

    /// Ready once the unsent bytes are down to the low-water mark (see
    /// [`write_buffer_limits`](Transport::write_buffer_limits)) or the connection has
    /// ended; otherwise arranges for `cx` to be woken when they are. asyncio's `drain()`:
    /// what an async writer awaits so that a slow peer slows it down.
    ///
    /// The default is always ready, for transports that send synchronously.
    #[doc(alias = "drain")]
    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<()> {
        let _ = cx;
        Poll::Ready(())
    }

    /// Registers `producer` to write at the pace of this transport (see [`Producer`]): a
    /// pull producer is asked for its first chunk at once (from the connection's task). While
    /// a producer is registered, it — not the protocol — gets `pause_producing` /
    /// `resume_producing`, and [`lose_connection`](Transport::lose_connection) waits for it
    /// to be unregistered. When the connection ends it gets `stop_producing`.
    ///
    /// # Errors
    ///
    /// [`Error::ProducerAlreadyRegistered`] if one is registered;
    /// [`Error::ProducerUnsupported`] for a transport without producers (the default).
    #[doc(alias = "registerProducer")]
    fn register_producer(&self, producer: Box<dyn Producer>, kind: ProducerKind) -> Result<()> {
        let _ = (producer, kind);
        Err(Error::ProducerUnsupported)
    }

    /// Unregisters the producer, if any (it is dropped without `stop_producing`).
    #[doc(alias = "unregisterProducer")]
    fn unregister_producer(&self) {}

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
    /// [`Error::TlsAlreadyStarted`]; [`Error::StartTlsUnsupported`] for a transport that
    /// cannot (the default).
    #[doc(alias = "startTLS")]
    fn start_tls(&self, tls: StartTls) -> Result<()> {
        let _ = tls;
        Err(Error::StartTlsUnsupported)
    }

    /// The write buffer this transport lends to the callback running now, if it lends
    /// one: writing through it is writing to this transport, in order with every other
    /// write, minus the per-write cost of a virtual call and a thread-local lookup. The
    /// reactor's transports lend one to their own protocol's callbacks; `None` elsewhere
    /// (from another thread, after the callback, for transports that do not: the
    /// default). See [`LentWrites`](crate::LentWrites).
    fn lent_writes(&self) -> Option<crate::LentWrites<'_>> {
        None
    }

    /// Watches the connection for idleness: once `timeout` passes with nothing received
    /// and nothing sent, the protocol's
    /// [`timeout_connection`](crate::Protocol::timeout_connection) runs, in the
    /// connection's own task (the default closes the connection). `None` stops watching.
    /// Twisted's `TimeoutMixin.setTimeout`.
    ///
    /// - Activity is a read that delivered bytes, or bytes the operating system took from
    ///   the write buffer (sent, not merely written: a peer that stops reading does not
    ///   keep the connection alive by making it buffer).
    /// - The countdown starts when this is called (calling it again restarts it) and
    ///   starts again after each activity.
    /// - It fires once; watching again is the protocol's choice (call this again, from
    ///   `timeout_connection` for instance). If the connection is closing after
    ///   `timeout_connection` — the default closes it — the countdown goes on, and a close
    ///   that makes no progress for another `timeout` (the peer is not taking the last
    ///   bytes) is aborted, with [`DisconnectReason::Lost`](crate::DisconnectReason::Lost)
    ///   carrying [`Error::IdleTimeout`]: a close never hangs for ever. So is a connection
    ///   already closing when the timeout passes.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a transport without a clock (the default).
    #[doc(alias = "setTimeout")]
    fn set_idle_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        let _ = timeout;
        Err(Error::Unsupported {
            operation: "set_idle_timeout",
        })
    }

    /// What the TLS handshake settled (ALPN, SNI, the peer's certificates), once it has
    /// completed; `None` for a connection without TLS.
    #[doc(alias = "getPeerCertificate")]
    fn tls_info(&self) -> Option<TlsInfo> {
        None
    }
}
