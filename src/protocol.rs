//! The per-connection state machine: the [`Protocol`] trait.
//!
//! Start here to write a new protocol. The reactor (or a test double) calls these methods
//! as events happen on one connection, one at a time, always from that connection's own
//! task. A protocol is plain single-owner state: callbacks take `&mut self`.

use bytes::Bytes;

use crate::{DisconnectReason, TransportRef};

/// Handles the events of one connection.
///
/// Only [`data_received`](Protocol::data_received) is required. The transport is passed to
/// every callback; keep a clone of it to write from elsewhere (a timer, a Deferred
/// callback).
///
/// # Why `Send`
///
/// A connection's task may be polled by any worker thread of a tokio runtime, so the
/// protocol it owns must be movable between threads. It is never shared: `Sync` is not
/// required, and `RefCell`/`Cell` fields are fine.
///
/// # Examples
///
/// An echo protocol, driven by the in-memory test transport:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::{Protocol, TransportRef};
///
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
///         transport.write(&data);
///     }
/// }
///
/// let mut connection = TestConnection::new(Echo);
/// connection.receive(b"hello");
/// connection.receive(b" world");
/// assert_eq!(connection.take_written(), &b"hello world"[..]);
/// ```
#[doc(alias = "IProtocol")]
pub trait Protocol: Send + 'static {
    /// The connection is up. Send a greeting here, or keep the transport.
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, transport: &TransportRef) {
        let _ = transport;
    }

    /// Bytes arrived. They come in whatever chunks the network delivered: a message may
    /// be split across calls, and one call may hold several messages. `data` is never
    /// empty.
    #[doc(alias = "dataReceived")]
    fn data_received(&mut self, transport: &TransportRef, data: Bytes);

    /// The peer shut down its writing side (we read EOF).
    ///
    /// Return `true` to keep the connection half-open so this side can finish writing
    /// (then call [`lose_connection`](crate::Transport::lose_connection) when done), or
    /// `false` (the default) to close it once pending writes are flushed.
    #[doc(alias = "readConnectionLost")]
    fn eof_received(&mut self, transport: &TransportRef) -> bool {
        let _ = transport;
        false
    }

    /// The TLS handshake completed (on a TLS port, or after
    /// [`start_tls`](crate::Transport::start_tls)); [`tls_info`](crate::Transport::tls_info)
    /// now tells its outcome. Twisted's `IHandshakeListener.handshakeCompleted`.
    #[doc(alias = "handshakeCompleted")]
    fn handshake_completed(&mut self, transport: &TransportRef) {
        let _ = transport;
    }

    /// More than the high-water mark ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH)
    /// unless [set](crate::Transport::set_write_buffer_limits)) is waiting to be sent: stop
    /// writing until [`resume_producing`](Protocol::resume_producing). Called once per
    /// crossing, after the callback whose writes crossed it. asyncio's `pause_writing`.
    #[doc(alias = "pauseProducing")]
    #[doc(alias = "pause_writing")]
    fn pause_producing(&mut self, transport: &TransportRef) {
        let _ = transport;
    }

    /// The unsent bytes drained to the low-water mark
    /// ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW) unless set) after a
    /// [`pause_producing`](Protocol::pause_producing): writing may go on. asyncio's
    /// `resume_writing`.
    #[doc(alias = "resumeProducing")]
    #[doc(alias = "resume_writing")]
    fn resume_producing(&mut self, transport: &TransportRef) {
        let _ = transport;
    }

    /// The connection has been idle for the timeout set with
    /// [`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout): nothing
    /// received, nothing sent. Runs in the connection's own task, like every callback.
    /// The default closes the connection
    /// ([`lose_connection`](crate::Transport::lose_connection)); override it to send a
    /// keep-alive, log, or abort instead. Twisted's `TimeoutMixin.timeoutConnection`.
    ///
    /// The timeout fires once: to keep watching (after sending a keep-alive, say), set it
    /// again. A connection this leaves closing — as the default does — is aborted if its
    /// close makes no progress for another timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use torsade::testing::TestConnection;
    /// use torsade::{Protocol, TransportRef};
    ///
    /// struct Session;
    /// impl Protocol for Session {
    ///     fn connection_made(&mut self, transport: &TransportRef) {
    ///         transport.set_idle_timeout(Some(Duration::from_secs(30))).unwrap();
    ///     }
    ///     fn data_received(&mut self, _: &TransportRef, _: Bytes) {}
    ///     fn timeout_connection(&mut self, transport: &TransportRef) {
    ///         transport.write(b"bye: idle\r\n");
    ///         transport.lose_connection();
    ///     }
    /// }
    ///
    /// let mut connection = TestConnection::new(Session);
    /// connection.advance(Duration::from_secs(20));
    /// connection.receive(b"still here"); // activity: the countdown restarts
    /// connection.advance(Duration::from_secs(20));
    /// assert!(!connection.is_closing());
    /// connection.advance(Duration::from_secs(10));
    /// assert!(connection.is_closing());
    /// assert_eq!(connection.take_written(), &b"bye: idle\r\n"[..]);
    /// ```
    #[doc(alias = "timeoutConnection")]
    fn timeout_connection(&mut self, transport: &TransportRef) {
        transport.lose_connection();
    }

    /// The connection is gone. Called exactly once per connection that saw
    /// [`connection_made`](Protocol::connection_made), with the reason.
    #[doc(alias = "connectionLost")]
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}
