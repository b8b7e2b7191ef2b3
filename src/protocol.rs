//! The per-connection state machine: the [`Protocol`] trait.
//!
//! Start here to write a new protocol. The connection's driver (the reactor, or the test
//! driver) calls these methods as events happen on one connection, one at a time. A
//! protocol is plain single-owner state: callbacks take `&mut self`, and a
//! [`Context`] to talk to the connection through.

use bytes::Bytes;

use crate::{Context, DisconnectReason, Transport};

/// Handles the events of one connection.
///
/// Only [`data_received`](Protocol::data_received) is required. Every callback but
/// `connection_lost` gets the connection's [`Context`]: write and close through it
/// ([`Transport`], in the [prelude](crate::prelude)), and keep a
/// [`handle`](Context::handle) on it to reach the protocol later from a timer, another
/// connection or another thread.
///
/// # Why `Send`
///
/// A connection's task may be polled by any worker thread of a tokio runtime, so the
/// protocol it owns must be movable between threads. It is never shared: `Sync` is not
/// required, and `RefCell`/`Cell` fields are fine.
///
/// # Examples
///
/// An echo protocol, driven by the in-memory test driver:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         cx.write(&data);
///     }
/// }
///
/// let mut connection = TestConnection::new(Echo);
/// connection.receive(b"hello");
/// connection.receive(b" world");
/// assert_eq!(connection.take_written(), &b"hello world"[..]);
/// ```
#[doc(alias = "IProtocol")]
pub trait Protocol: Send + Sized + 'static {
    /// The connection is up. Send a greeting here, or keep a handle.
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// Bytes arrived. They come in whatever chunks the network delivered: a message may
    /// be split across calls, and one call may hold several messages. `data` is never
    /// empty.
    #[doc(alias = "dataReceived")]
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes);

    /// The peer shut down its writing side (we read EOF).
    ///
    /// Return `true` to keep the connection half-open so this side can finish writing
    /// (then call [`lose_connection`](Transport::lose_connection) when done), or `false`
    /// (the default) to close it once pending writes are flushed.
    #[doc(alias = "readConnectionLost")]
    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        let _ = cx;
        false
    }

    /// The TLS handshake completed (on a TLS port, or after
    /// [`start_tls`](Transport::start_tls)); [`tls_info`](Transport::tls_info) now tells
    /// its outcome. Twisted's `IHandshakeListener.handshakeCompleted`.
    #[doc(alias = "handshakeCompleted")]
    fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// More than the high-water mark ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH)
    /// unless [set](Transport::set_write_buffer_limits)) is waiting to be sent: stop
    /// writing until [`resume_producing`](Protocol::resume_producing). Called once per
    /// crossing, after the callback whose writes crossed it. asyncio's `pause_writing`.
    #[doc(alias = "pauseProducing")]
    #[doc(alias = "pause_writing")]
    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// The unsent bytes drained to the low-water mark
    /// ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW) unless set) after a
    /// [`pause_producing`](Protocol::pause_producing): writing may go on. asyncio's
    /// `resume_writing`.
    #[doc(alias = "resumeProducing")]
    #[doc(alias = "resume_writing")]
    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// Reading resumed after [`pause_reading`](Transport::pause_reading): resumed from a
    /// callback through its [`Context`], or from outside through a
    /// [`TransportHandle`](crate::TransportHandle). A protocol that held back input it had
    /// already parsed (a line receiver keeps the rest of a chunk once its handler pauses)
    /// delivers it now.
    ///
    /// Called once per pause that ends while the connection is open, after the callback or
    /// the handle's request that resumed; not when reading is paused again by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::testing::TestConnection;
    /// use torsade::prelude::*;
    ///
    /// /// Takes one chunk at a time: pauses after each, until told to go on.
    /// #[derive(Default)]
    /// struct OneAtATime {
    ///     resumed: usize,
    /// }
    ///
    /// impl Protocol for OneAtATime {
    ///     fn data_received(&mut self, cx: &mut Context<'_, Self>, _: Bytes) {
    ///         cx.pause_reading();
    ///     }
    ///     fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
    ///         self.resumed += 1;
    ///         cx.write(b"go on\r\n");
    ///     }
    /// }
    ///
    /// let mut connection = TestConnection::new(OneAtATime::default());
    /// connection.receive(b"chunk");
    /// connection.transport_handle().resume_reading();
    /// connection.run_pending();
    /// assert_eq!(connection.protocol().resumed, 1);
    /// assert_eq!(connection.take_written(), &b"go on\r\n"[..]);
    /// ```
    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// The connection has been idle for the timeout set with
    /// [`Transport::set_idle_timeout`]. The default closes the connection
    /// ([`lose_connection`](Transport::lose_connection)); override it to send a
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
    /// use torsade::prelude::*;
    ///
    /// struct Session;
    /// impl Protocol for Session {
    ///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
    ///         cx.set_idle_timeout(Some(Duration::from_secs(30)));
    ///     }
    ///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    ///     fn timeout_connection(&mut self, cx: &mut Context<'_, Self>) {
    ///         cx.write(b"bye: idle\r\n");
    ///         cx.lose_connection();
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
    /// assert!(connection.is_lost());
    /// ```
    #[doc(alias = "timeoutConnection")]
    fn timeout_connection(&mut self, cx: &mut Context<'_, Self>) {
        cx.lose_connection();
    }

    /// The connection is gone. Called exactly once per connection that saw
    /// [`connection_made`](Protocol::connection_made), with the reason.
    #[doc(alias = "connectionLost")]
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}
