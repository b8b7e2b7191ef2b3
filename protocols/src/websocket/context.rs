//! What a WebSocket handler can do from inside a callback: [`WebSocketContext`].

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use torsade::Context;

use super::link::Link;
use super::{CloseCode, Message, WebSocketError, WebSocketSender};

/// The open WebSocket, as seen from inside a [`WebSocketHandler`](super::WebSocketHandler)
/// callback: send messages, pings and the close; get a [`WebSocketSender`] to send from
/// elsewhere. It derefs to the connection's [`Context`] (peer address, clock, pausing;
/// through [`Transport`](torsade::Transport)).
///
/// What a callback sends is framed into one buffer and handed to the connection in one
/// write when the callback returns.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::websocket::{
///     CloseCode, WebSocketContext, WebSocketHandler, WebSocketServer,
/// };
///
/// /// Greets, answers one message, then closes.
/// struct OneShot;
///
/// impl WebSocketHandler for OneShot {
///     fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
///         ws.send_text("hello").unwrap();
///     }
///     fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, _: bool) {
///         ws.send_binary(payload).unwrap();
///         ws.send_close(CloseCode::NORMAL, "done").unwrap();
///     }
/// }
///
/// let mut connection = TestConnection::new(WebSocketServer::new(OneShot));
/// connection.receive(
///     b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
/// );
/// let written = connection.take_written();
/// assert!(written.ends_with(b"\r\n\r\n\x81\x05hello")); // the 101, then the greeting
/// ```
pub struct WebSocketContext<'a> {
    cx: Context<'a>,
    link: &'a mut Link,
}

impl<'a> WebSocketContext<'a> {
    pub(crate) fn new(cx: Context<'a>, link: &'a mut Link) -> WebSocketContext<'a> {
        WebSocketContext { cx, link }
    }

    /// Sends `payload` as one message: binary, or text when `is_binary` is false (then it
    /// must be UTF-8). Autobahn's `sendMessage(payload, isBinary)`.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::InvalidText`] for text that is not UTF-8;
    /// [`WebSocketError::Closed`] once the close handshake has begun.
    #[doc(alias = "sendMessage")]
    pub fn send_message(
        &mut self,
        payload: impl Into<Bytes>,
        is_binary: bool,
    ) -> Result<(), WebSocketError> {
        self.link.send_message(payload.into(), is_binary)
    }

    /// Sends a text message.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] once the close handshake has begun.
    pub fn send_text(&mut self, text: &str) -> Result<(), WebSocketError> {
        self.send(Message::text(text))
    }

    /// Sends a binary message.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] once the close handshake has begun.
    pub fn send_binary(&mut self, payload: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(payload.into()))
    }

    /// Sends a [`Message`].
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] once the close handshake has begun.
    pub fn send(&mut self, message: Message) -> Result<(), WebSocketError> {
        self.link.send(message.into_tungstenite())
    }

    /// Sends a ping (at most 125 bytes of payload); the peer answers with a pong,
    /// [`on_pong`](super::WebSocketHandler::on_pong).
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] once the close handshake has begun;
    /// [`WebSocketError::Send`] for a payload over 125 bytes.
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.link.send_ping(payload.into())
    }

    /// Starts the close handshake: sends a close frame with `code` and `reason` (cut to
    /// 123 bytes), then waits for the peer's close frame, at most the close timeout, and
    /// closes the connection. Autobahn's `sendClose`.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Send`] for a code that may not be sent (1005, 1006, 1015, or out
    /// of the RFC's ranges); [`WebSocketError::Closed`] if the close handshake has already
    /// begun.
    #[doc(alias = "sendClose")]
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), WebSocketError> {
        self.link.send_close(&mut self.cx, code, reason)
    }

    /// A handle to send on this WebSocket from outside the handler's callbacks (a timer,
    /// another connection, async code).
    pub fn sender(&self) -> WebSocketSender {
        self.link.sender().clone()
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.link.subprotocol()
    }
}

impl<'a> Deref for WebSocketContext<'a> {
    type Target = Context<'a>;

    fn deref(&self) -> &Context<'a> {
        &self.cx
    }
}

impl<'a> DerefMut for WebSocketContext<'a> {
    fn deref_mut(&mut self) -> &mut Context<'a> {
        &mut self.cx
    }
}

impl fmt::Debug for WebSocketContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketContext")
            .field("connection", &self.cx)
            .field("subprotocol", &self.link.subprotocol())
            .finish_non_exhaustive()
    }
}
