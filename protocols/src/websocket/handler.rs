//! What a WebSocket application writes: [`WebSocketHandler`], Autobahn's protocol shape.

use bytes::Bytes;

use super::{
    CloseCode, ConnectDecision, ConnectionRequest, ConnectionResponse, WebSocketContext,
    WebSocketError,
};

/// The events of one WebSocket connection, server or client side: Autobahn's
/// `WebSocketServerProtocol` / `WebSocketClientProtocol` callbacks.
///
/// Only [`on_message`](WebSocketHandler::on_message) is required. Wrap the handler in a
/// [`WebSocketServer`](super::WebSocketServer) or a
/// [`WebSocketClient`](super::WebSocketClient) (or let a
/// [`WebSocketServerFactory`](super::WebSocketServerFactory) do it) to get a
/// [`torsade::Protocol`].
///
/// The order: [`on_connect`](WebSocketHandler::on_connect) (server) or
/// [`on_connect_response`](WebSocketHandler::on_connect_response) (client), then
/// [`on_open`](WebSocketHandler::on_open), messages, pings and pongs, and
/// [`on_close`](WebSocketHandler::on_close) exactly once per connection — also when the
/// handshake failed or the connection just dropped (code 1006).
///
/// # Examples
///
/// An echo server, driven in memory:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::websocket::{WebSocketContext, WebSocketHandler, WebSocketServer};
///
/// struct Echo;
///
/// impl WebSocketHandler for Echo {
///     fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
///         ws.send_message(payload, is_binary).unwrap();
///     }
/// }
///
/// let mut connection = TestConnection::new(WebSocketServer::new(Echo));
/// connection.receive(
///     b"GET /echo HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///       Sec-WebSocket-Version: 13\r\n\r\n",
/// );
/// let response = connection.take_written();
/// assert!(response.starts_with(b"HTTP/1.1 101"));
/// // A masked text frame "Hi" (mask 1, 2, 3, 4); the echo comes back unmasked.
/// connection.receive(&[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]);
/// assert_eq!(connection.take_written(), &[0x81, 0x02, b'H', b'i'][..]);
/// ```
pub trait WebSocketHandler: Send + 'static {
    /// (Server) A client asks to open a WebSocket: look at its path, headers and
    /// subprotocols, and accept (choosing one of its subprotocols, or none) or refuse
    /// with an HTTP status. The default accepts with no subprotocol.
    fn on_connect(&mut self, request: &ConnectionRequest<'_>) -> ConnectDecision {
        let _ = request;
        ConnectDecision::accept()
    }

    /// (Client) The server accepted: its response (status, headers, the subprotocol it
    /// chose). [`on_open`](WebSocketHandler::on_open) follows at once.
    fn on_connect_response(&mut self, response: &ConnectionResponse<'_>) {
        let _ = response;
    }

    /// The opening handshake failed: refused by the server, malformed, or timed out.
    /// [`on_close`](WebSocketHandler::on_close) follows when the connection ends.
    fn on_handshake_failed(&mut self, error: WebSocketError) {
        let _ = error;
    }

    /// The WebSocket is open: messages may be sent.
    fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
        let _ = ws;
    }

    /// A whole message arrived (its fragments reassembled). A text message
    /// (`is_binary == false`) has been checked to be UTF-8.
    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool);

    /// A ping arrived; the pong has already been queued.
    fn on_ping(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes) {
        let _ = (ws, payload);
    }

    /// A pong arrived.
    fn on_pong(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes) {
        let _ = (ws, payload);
    }

    /// More than the connection's high-water mark is waiting to be sent (a peer slow to
    /// read): stop sending, or [`pause_reading`](torsade::Transport::pause_reading) so
    /// that an echo does not grow without bound, until
    /// [`resume_producing`](WebSocketHandler::resume_producing). Called while open.
    fn pause_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        let _ = ws;
    }

    /// The unsent bytes drained to the low-water mark after a
    /// [`pause_producing`](WebSocketHandler::pause_producing). Called while open.
    fn resume_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        let _ = ws;
    }

    /// The WebSocket is closed, with the close's code and reason: the peer's when it
    /// closed (1005 if its close frame had no code), the one this side sent when it
    /// failed the connection (1002, 1007, 1009), or 1006 when the connection ended
    /// without a close handshake. Called exactly once per connection.
    fn on_close(&mut self, code: CloseCode, reason: &str) {
        let _ = (code, reason);
    }
}
