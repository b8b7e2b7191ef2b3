//! A whole WebSocket data message: [`Message`].

use bytes::Bytes;
use tungstenite::Utf8Bytes;

/// A data message, text or binary, as the async face reads and sends it (the callback
/// face passes the payload and an `is_binary` flag instead). Control frames (ping, pong,
/// close) are handled by the connection.
///
/// # Examples
///
/// ```
/// use torsade_protocols::websocket::Message;
///
/// let hello = Message::text("hello");
/// assert_eq!(hello.as_text(), Some("hello"));
/// assert!(!hello.is_binary());
/// assert_eq!(Message::binary(vec![1, 2]).payload(), &[1, 2][..]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: UTF-8 (checked on receipt and when made).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(Utf8Bytes::from(text.into()))
    }

    /// A binary message.
    pub fn binary(payload: impl Into<Bytes>) -> Message {
        Message::Binary(payload.into())
    }

    /// Whether it is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload's bytes, text or binary.
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(payload) => payload,
        }
    }

    /// The payload, with no copy.
    pub fn into_payload(self) -> Bytes {
        match self {
            Message::Text(text) => text.into(),
            Message::Binary(payload) => payload,
        }
    }

    pub(crate) fn into_tungstenite(self) -> tungstenite::Message {
        match self {
            Message::Text(text) => tungstenite::Message::Text(text),
            Message::Binary(payload) => tungstenite::Message::Binary(payload),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::text(text)
    }
}

impl From<Bytes> for Message {
    fn from(payload: Bytes) -> Message {
        Message::Binary(payload)
    }
}

impl From<Vec<u8>> for Message {
    fn from(payload: Vec<u8>) -> Message {
        Message::binary(payload)
    }
}
