//! Which end of a WebSocket a protocol is, as a type: [`Side`], with its two values
//! [`ServerSide`] and [`ClientSide`].
//!
//! [`WebSocketProtocol<H, S>`](super::WebSocketProtocol) runs the same rules on both ends;
//! the side decides how it is made (a server waits for a request, a client is given a URL)
//! and so which handshake it runs.

/// Which end of a WebSocket a [`WebSocketProtocol`](super::WebSocketProtocol) is:
/// [`ServerSide`] or [`ClientSide`]. Sealed.
pub trait Side: sealed::Sealed + Send + 'static {}

/// The end that accepts the opening handshake: the side of a
/// [`WebSocketServer`](super::WebSocketServer).
#[derive(Debug)]
pub enum ServerSide {}

/// The end that sends the opening handshake: the side of a
/// [`WebSocketClient`](super::WebSocketClient).
#[derive(Debug)]
pub enum ClientSide {}

impl Side for ServerSide {}
impl Side for ClientSide {}

pub(super) mod sealed {
    /// The side's name, for `Debug`; implemented only here, so no other side exists.
    pub trait Sealed {
        const NAME: &'static str;
    }

    impl Sealed for super::ServerSide {
        const NAME: &'static str = "WebSocketServer";
    }

    impl Sealed for super::ClientSide {
        const NAME: &'static str = "WebSocketClient";
    }
}
