//! Sending on a WebSocket from anywhere: [`WebSocketSender`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use torsade::{Deferred, TransportHandle};

use super::{CloseCode, Message, WebSocketError};

/// What a sender asks of its connection's protocol.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Message),
    Ping(Bytes),
    Close(CloseCode, String),
    /// The opening handshake's time is up.
    HandshakeTimedOut,
    /// The close handshake's time is up.
    CloseTimedOut,
}

/// Runs a command on the protocol, inside its connection's driver.
pub(crate) type Runner =
    dyn Fn(Command) -> Deferred<Result<(), WebSocketError>> + Send + Sync + 'static;

/// A `Send + Sync`, cheap-to-clone handle that sends on one WebSocket from outside its
/// handler's callbacks: a timer, another connection, async code.
///
/// Each call is applied by the connection's driver between two callbacks, in the order
/// asked, and returns a [`Deferred`] of the outcome (it never fails: a closed connection
/// is [`WebSocketError::Closed`]); drop or [`detach`](Deferred::detach) it to not wait.
///
/// From [`WebSocketContext::sender`](super::WebSocketContext::sender).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::websocket::{
///     WebSocketContext, WebSocketHandler, WebSocketSender, WebSocketServer,
/// };
///
/// #[derive(Default)]
/// struct Notifier {
///     sender: Option<WebSocketSender>,
/// }
///
/// impl WebSocketHandler for Notifier {
///     fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
///         self.sender = Some(ws.sender());
///     }
///     fn on_message(&mut self, _: &mut WebSocketContext<'_>, _: Bytes, _: bool) {}
/// }
///
/// let mut connection = TestConnection::new(WebSocketServer::new(Notifier::default()));
/// connection.receive(
///     b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
/// );
/// connection.take_written();
/// let sender = connection.protocol().handler().sender.clone().unwrap();
/// let mut sent = sender.send_text("build finished");
/// connection.run_pending();
/// assert!(sent.take_result().unwrap().unwrap().is_ok());
/// assert_eq!(&connection.take_written()[2..], b"build finished");
/// ```
#[derive(Clone)]
pub struct WebSocketSender {
    run: Arc<Runner>,
    transport: TransportHandle,
}

impl WebSocketSender {
    pub(crate) fn new(transport: TransportHandle, run: Arc<Runner>) -> WebSocketSender {
        WebSocketSender { run, transport }
    }

    pub(crate) fn command(&self, command: Command) -> Deferred<Result<(), WebSocketError>> {
        (self.run)(command)
    }

    /// Sends a message.
    pub fn send(&self, message: Message) -> Deferred<Result<(), WebSocketError>> {
        self.command(Command::Send(message))
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<String>) -> Deferred<Result<(), WebSocketError>> {
        self.send(Message::text(text))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, payload: impl Into<Bytes>) -> Deferred<Result<(), WebSocketError>> {
        self.send(Message::Binary(payload.into()))
    }

    /// Sends a ping.
    pub fn send_ping(&self, payload: impl Into<Bytes>) -> Deferred<Result<(), WebSocketError>> {
        self.command(Command::Ping(payload.into()))
    }

    /// Starts the close handshake, as
    /// [`WebSocketContext::send_close`](super::WebSocketContext::send_close).
    pub fn send_close(
        &self,
        code: CloseCode,
        reason: impl Into<String>,
    ) -> Deferred<Result<(), WebSocketError>> {
        self.command(Command::Close(code, reason.into()))
    }

    /// The connection underneath: its addresses, its write buffer (to
    /// [`drain`](TransportHandle::drain)), closing it without a close handshake.
    pub fn transport(&self) -> &TransportHandle {
        &self.transport
    }
}

impl fmt::Debug for WebSocketSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketSender")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}
