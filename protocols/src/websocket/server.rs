//! The server side of a WebSocket: [`WebSocketServer`], its rules and how one is made.

use super::session::Session;
use super::{ServerSide, WebSocketHandler, WebSocketOptions, WebSocketProtocol};

/// A [`Protocol`](torsade::Protocol) that answers a client's opening handshake (asking the
/// handler's [`on_connect`](WebSocketHandler::on_connect)) and then runs RFC 6455 for a
/// [`WebSocketHandler`]: Autobahn's `WebSocketServerProtocol`. A [`WebSocketProtocol`] on
/// the [`ServerSide`], made with [`new`](WebSocketServer::new) or
/// [`with_options`](WebSocketServer::with_options).
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
pub type WebSocketServer<H> = WebSocketProtocol<H, ServerSide>;

impl<H: WebSocketHandler> WebSocketProtocol<H, ServerSide> {
    /// A server for `handler`, with the default options.
    pub fn new(handler: H) -> WebSocketServer<H> {
        WebSocketServer::with_options(handler, WebSocketOptions::default())
    }

    /// A server for `handler`, with `options`.
    pub fn with_options(handler: H, options: WebSocketOptions) -> WebSocketServer<H> {
        WebSocketProtocol::with_session(Session::server(handler, options))
    }
}
