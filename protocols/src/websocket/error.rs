//! What can go wrong on a WebSocket connection: [`WebSocketError`].

use super::CloseCode;

/// An error on a WebSocket connection, matchable without downcasting. tungstenite's own
/// error, where there is one, is the [source](std::error::Error::source).
///
/// # Examples
///
/// ```
/// use torsade_protocols::websocket::{CloseCode, WebSocketError};
///
/// let refused = WebSocketError::Refused { status: 403, reason: "no entry".into() };
/// assert_eq!(refused.to_string(), "the server refused the WebSocket handshake: 403 no entry");
/// assert_eq!(WebSocketError::Closed { code: CloseCode::NORMAL, reason: String::new() }.close_code(),
///            Some(CloseCode::NORMAL));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// A URL that is not `ws://` or `wss://` with a host, or that tungstenite refused.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `wss://` without the protocols crate's `tls` feature.
    #[error("wss:// needs the `tls` feature")]
    TlsDisabled,

    /// The connection could not be made (refused, unreachable, TLS failed...): the
    /// failure of [`Reactor::connect`](torsade::Reactor::connect), whose
    /// [`downcast_ref::<torsade::Error>`](torsade::Failure::downcast_ref) tells which.
    #[error("could not connect: {0}")]
    Connect(torsade::Failure),

    /// The server answered the handshake with an HTTP error status.
    #[error("the server refused the WebSocket handshake: {status} {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The response's body, or the status's reason phrase.
        reason: String,
    },

    /// The opening handshake failed: a malformed request or response, a wrong accept key,
    /// a subprotocol that was not offered.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(#[source] tungstenite::Error),

    /// The opening handshake did not finish within the handshake timeout.
    #[error("the WebSocket handshake timed out")]
    HandshakeTimeout,

    /// The peer broke RFC 6455 (close 1002), sent text that is not UTF-8 (1007), or a
    /// message or frame over the limit (1009); `code` is the close code sent.
    #[error("WebSocket protocol failure ({code}): {source}")]
    Protocol {
        /// The close code this side sent the peer.
        code: CloseCode,
        /// What tungstenite found.
        #[source]
        source: tungstenite::Error,
    },

    /// A text message to send is not UTF-8.
    #[error("a text message must be UTF-8")]
    InvalidText,

    /// The close handshake has begun or the connection has ended: nothing more can be
    /// sent. `code` and `reason` are the close's, when it had one (1006 when the
    /// connection simply ended).
    #[error("the WebSocket connection is closed: {code} {reason}")]
    Closed {
        /// The close code.
        code: CloseCode,
        /// The close reason.
        reason: String,
    },

    /// Sending failed inside tungstenite (an invalid close code, say).
    #[error("could not send: {0}")]
    Send(#[source] tungstenite::Error),
}

impl WebSocketError {
    /// The close code this error carries, for the errors that end a connection with one.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            WebSocketError::Protocol { code, .. } | WebSocketError::Closed { code, .. } => {
                Some(*code)
            }
            _ => None,
        }
    }
}
