//! The one implementation of both ends of a WebSocket: [`WebSocketProtocol`], a
//! [`Protocol`] that runs a session for a [`WebSocketHandler`], generic over its [`Side`].
//!
//! [`WebSocketServer`](super::WebSocketServer) and [`WebSocketClient`](super::WebSocketClient)
//! are its two sides; how each is made, and its rules, are documented there.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Failure, Protocol, Transport};

use super::session::{ended, Session};
use super::side::{sealed::Sealed, Side};
use super::{WebSocketHandler, WebSocketSender};

/// A [`Protocol`] that runs RFC 6455 for a [`WebSocketHandler`], on side `S`: accepting
/// the opening handshake ([`WebSocketServer`](super::WebSocketServer)) or sending it
/// ([`WebSocketClient`](super::WebSocketClient)). Use it under those two names.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::websocket::{WebSocketContext, WebSocketHandler, WebSocketServer};
///
/// struct Quiet;
/// impl WebSocketHandler for Quiet {
///     fn on_message(&mut self, _: &mut WebSocketContext<'_>, _: Bytes, _: bool) {}
/// }
///
/// let mut connection = TestConnection::new(WebSocketServer::new(Quiet));
/// assert!(!connection.protocol().is_open());
/// connection.receive(
///     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///       Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
/// );
/// assert!(connection.protocol().is_open());
/// assert!(connection.take_written().starts_with(b"HTTP/1.1 101"));
/// ```
pub struct WebSocketProtocol<H, S> {
    session: Session<H>,
    side: PhantomData<S>,
}

impl<H: WebSocketHandler, S: Side> WebSocketProtocol<H, S> {
    /// The protocol running `session`: the sides' constructors end here.
    pub(super) fn with_session(session: Session<H>) -> WebSocketProtocol<H, S> {
        WebSocketProtocol {
            session,
            side: PhantomData,
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        self.session.handler()
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        self.session.handler_mut()
    }

    /// Whether the opening handshake is done and the close not yet.
    pub fn is_open(&self) -> bool {
        self.session.is_open()
    }
}

impl<H: WebSocketHandler, S: Side> Protocol for WebSocketProtocol<H, S> {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let sender = sender_for(cx);
        self.session.connection_made(&mut cx.untyped(), sender);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.session.data_received(&mut cx.untyped(), data);
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        self.session.reading_resumed(&mut cx.untyped());
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.session.write_pressure(&mut cx.untyped(), true);
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.session.write_pressure(&mut cx.untyped(), false);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.session.connection_lost(&reason);
    }
}

/// A sender for the connection of `cx`: its commands run on the protocol's session.
fn sender_for<H: WebSocketHandler, S: Side>(
    cx: &Context<'_, WebSocketProtocol<H, S>>,
) -> WebSocketSender {
    let handle = cx.handle();
    WebSocketSender::new(
        cx.transport_handle(),
        Arc::new(move |command| {
            handle
                .call(move |protocol: &mut WebSocketProtocol<H, S>, cx| {
                    protocol.session.command(&mut cx.untyped(), command)
                })
                .add_both(|outcome| {
                    Ok::<_, Failure>(
                        outcome.unwrap_or_else(|_| Err(ended("the connection has ended"))),
                    )
                })
        }),
    )
}

impl<H: fmt::Debug, S: Side> fmt::Debug for WebSocketProtocol<H, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(<S as Sealed>::NAME)
            .field("session", &self.session)
            .finish()
    }
}
