//! WebSocket (RFC 6455) servers and clients on tungstenite's protocol core, over torsade's
//! connections: Autobahn's shape.
//!
//! # How it fits
//!
//! ```text
//!  bytes from the reactor (or a TestConnection)
//!        |  Protocol::data_received
//!        v
//!  WebSocketServer / WebSocketClient   -- a torsade::Protocol: handshake, frames, limits,
//!        |                                close handshake (tungstenite, sans-I/O)
//!        |  WebSocketHandler::on_message(&mut WebSocketContext, payload, is_binary)
//!        v
//!  your WebSocketHandler                -- or the async face: WebSocketStream
//! ```
//!
//! Write a [`WebSocketHandler`] (`on_connect`, `on_open`, `on_message`, `on_close`, as in
//! Autobahn) and run it as a [`WebSocketServer`] (one line with a
//! [`WebSocketServerFactory`]) or a [`WebSocketClient`]: the two sides of one
//! [`WebSocketProtocol`]. The connection's bytes go through tungstenite's handshake and
//! frame code with no socket of its own, so TLS (`wss`), watermarks, the reactor and the
//! in-memory testing tools are torsade's.
//!
//! The async face, [`WebSocketStream`] (a `Stream` and `Sink` of [`Message`]s, from
//! [`connect`] or [`serve`]), runs the same protocol underneath.
//!
//! # Examples
//!
//! A server and a client talking in memory:
//!
//! ```
//! use bytes::Bytes;
//! use torsade::testing::Loopback;
//! use torsade_protocols::websocket::{
//!     CloseCode, WebSocketClient, WebSocketContext, WebSocketHandler, WebSocketServer,
//! };
//!
//! struct Echo;
//! impl WebSocketHandler for Echo {
//!     fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
//!         ws.send_message(payload, is_binary).unwrap();
//!     }
//! }
//!
//! #[derive(Default)]
//! struct Asker {
//!     answers: Vec<String>,
//!     closed: Option<CloseCode>,
//! }
//! impl WebSocketHandler for Asker {
//!     fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
//!         ws.send_text("hello").unwrap();
//!     }
//!     fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, _: bool) {
//!         self.answers.push(String::from_utf8(payload.to_vec()).unwrap());
//!         ws.send_close(CloseCode::NORMAL, "thanks").unwrap();
//!     }
//!     fn on_close(&mut self, code: CloseCode, _: &str) {
//!         self.closed = Some(code);
//!     }
//! }
//!
//! let client = WebSocketClient::new("ws://localhost/echo", Asker::default()).unwrap();
//! let mut pair = Loopback::new(WebSocketServer::new(Echo), client);
//! pair.pump();
//! let client = pair.client().protocol();
//! assert_eq!(client.handler().answers, ["hello"]);
//! assert_eq!(client.handler().closed, Some(CloseCode::NORMAL));
//! ```

mod adapter;
mod client;
mod close_code;
mod connect;
mod context;
mod error;
mod handler;
mod handshake;
mod link;
mod message;
mod options;
mod protocol;
mod sender;
mod server;
mod server_factory;
mod session;
mod side;
mod stream;

pub use self::client::WebSocketClient;
pub use self::close_code::CloseCode;
pub use self::connect::{connect, connect_handler, connect_with, serve};
pub use self::context::WebSocketContext;
pub use self::error::WebSocketError;
pub use self::handler::WebSocketHandler;
pub use self::handshake::{ConnectDecision, ConnectionRequest, ConnectionResponse};
pub use self::message::Message;
pub use self::options::{
    WebSocketOptions, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
};
pub use self::protocol::WebSocketProtocol;
pub use self::sender::WebSocketSender;
pub use self::server::WebSocketServer;
pub use self::server_factory::WebSocketServerFactory;
pub use self::side::{ClientSide, ServerSide, Side};
pub use self::stream::WebSocketStream;
pub use tungstenite::Utf8Bytes;
