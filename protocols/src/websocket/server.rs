//! The server side of a WebSocket: [`WebSocketServer`], a torsade protocol.

use std::fmt;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Protocol};

use super::session::{sender_for, Session, SessionProtocol};
use super::{WebSocketHandler, WebSocketOptions};

/// A [`Protocol`] that answers a client's opening handshake (asking the handler's
/// [`on_connect`](WebSocketHandler::on_connect)) and then runs RFC 6455 for a
/// [`WebSocketHandler`]: Autobahn's `WebSocketServerProtocol`.
///
/// # Rules
///
/// - **Handshake.** The request is read up to its blank line (at most 16 KiB, else 431)
///   and answered by tungstenite's server handshake: 101 and the chosen subprotocol, the
///   handler's refusal (its status and reason), or 400 for a request that is not a
///   WebSocket handshake; after a refusal the connection is closed. The handshake must
///   finish within the [handshake timeout](WebSocketOptions::handshake_timeout).
/// - **Messages** are reassembled from their fragments and checked: a message or frame
///   over the limits closes the connection with 1009, text that is not UTF-8 with 1007,
///   an unmasked frame or another protocol error with 1002. Pings are answered at once.
/// - **Close.** A peer's close is answered with the same code and the connection closed;
///   this side's [`send_close`](super::WebSocketContext::send_close) waits for the peer's
///   answer at most the [close timeout](WebSocketOptions::close_timeout).
///   [`on_close`](WebSocketHandler::on_close) runs exactly once.
/// - **Pausing.** While reading is paused (from the handler, say), no message is
///   delivered; those already received wait.
///
/// # Examples
///
/// See [`WebSocketHandler`] for a driven echo; to listen, use a
/// [`WebSocketServerFactory`](super::WebSocketServerFactory).
pub struct WebSocketServer<H> {
    session: Session<H>,
}

impl<H: WebSocketHandler> WebSocketServer<H> {
    /// A server for `handler`, with the default options.
    pub fn new(handler: H) -> WebSocketServer<H> {
        WebSocketServer::with_options(handler, WebSocketOptions::default())
    }

    /// A server for `handler`, with `options`.
    pub fn with_options(handler: H, options: WebSocketOptions) -> WebSocketServer<H> {
        WebSocketServer {
            session: Session::server(handler, options),
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

impl<H: WebSocketHandler> SessionProtocol for WebSocketServer<H> {
    type Handler = H;

    fn session(&mut self) -> &mut Session<H> {
        &mut self.session
    }
}

impl<H: WebSocketHandler> Protocol for WebSocketServer<H> {
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

impl<H: fmt::Debug> fmt::Debug for WebSocketServer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketServer")
            .field("session", &self.session)
            .finish()
    }
}
