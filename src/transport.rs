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

    /// Ready once the unsent bytes are down to [`WRITE_BUFFER_LOW`] (or the connection has
    /// ended); otherwise arranges for `cx` to be woken when they are. asyncio's `drain()`:
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

    /// What the TLS handshake settled (ALPN, SNI, the peer's certificates), once it has
    /// completed; `None` for a connection without TLS.
    #[doc(alias = "getPeerCertificate")]
    fn tls_info(&self) -> Option<TlsInfo> {
        None
    }
}
