//! What one recorded connection did, in order: [`Transcript`] and its [`Event`]s.

use std::time::Duration;

use bytes::Bytes;

/// Which end of the connection was recorded: the side whose protocol the transcript
/// replays against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A connection a listening port accepted.
    Server,
    /// A connection made by `connect`.
    Client,
}

/// How a recorded connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Cleanly ([`DisconnectReason::Done`](crate::DisconnectReason::Done)).
    Done,
    /// Aborted by this side ([`DisconnectReason::Aborted`](crate::DisconnectReason::Aborted)).
    Aborted,
    /// Lost, for the reason given (the [`ConnectionError`](crate::ConnectionError)'s text).
    Lost(String),
}

impl Closed {
    /// How a connection that ended with `reason` is recorded.
    pub(crate) fn from_reason(reason: &crate::DisconnectReason) -> Closed {
        match reason {
            crate::DisconnectReason::Done => Closed::Done,
            crate::DisconnectReason::Aborted => Closed::Aborted,
            crate::DisconnectReason::Lost(error) => Closed::Lost(error.to_string()),
        }
    }
}

/// One thing that happened on a recorded connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The peer's bytes, as one chunk was read (plaintext, above TLS).
    Received(Bytes),
    /// Bytes the protocol wrote, as the stream (or the TLS layer) took them.
    Sent(Bytes),
    /// The peer shut down its writing side (EOF read).
    PeerEof,
    /// This side shut down its writing side (the close's FIN, or a half-close).
    WriteShut,
    /// A TLS handshake completed (a TLS port's, or a STARTTLS switch): the bytes after
    /// it went encrypted, and are recorded as their plaintext as before.
    TlsStarted,
    /// The recording reached its size limit and stopped: nothing after this was recorded.
    Truncated,
    /// The connection ended.
    Closed(Closed),
}

/// An [`EventKind`] at a time: how long after the connection started it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Time since the connection started (on the connection's clock).
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// A recorded connection: who it was between, and what happened on it, in order.
///
/// Made by a [`Recorder`](super::Recorder) on the reactor, read back from its text form
/// with [`Transcript::parse`], written with [`Transcript::to_text`] (the format is in the
/// [module documentation](super)), replayed with
/// [`testing::replay`](crate::testing::replay), exported with
/// [`write_pcap`](Transcript::write_pcap).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::record::{EventKind, Side, Transcript};
///
/// let mut transcript = Transcript::new(Side::Server, "127.0.0.1:1079", "127.0.0.1:50000", false);
/// transcript.push(Duration::from_millis(3), EventKind::Received("World\r\n".into()));
/// transcript.push(Duration::from_millis(3), EventKind::Sent("Hello, World!\r\n".into()));
/// assert_eq!(transcript.sent(), b"Hello, World!\r\n");
/// let text = transcript.to_text();
/// assert!(text.contains("3000 in \"World\\r\\n\""));
/// assert_eq!(Transcript::parse(&text).unwrap(), transcript);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transcript {
    /// Which end was recorded.
    pub side: Side,
    /// This end's address, as text.
    pub local: String,
    /// The peer's address, as text.
    pub peer: String,
    /// Whether the connection was TLS from its start (a TLS port or client endpoint);
    /// the bytes recorded are the plaintext either way.
    pub tls: bool,
    /// What happened, in order (times never go back).
    pub events: Vec<Event>,
}

impl Transcript {
    /// An empty transcript of a connection between `local` and `peer`.
    pub fn new(side: Side, local: impl Into<String>, peer: impl Into<String>, tls: bool) -> Self {
        Transcript {
            side,
            local: local.into(),
            peer: peer.into(),
            tls,
            events: Vec::new(),
        }
    }

    /// Adds an event at `at`.
    pub fn push(&mut self, at: Duration, kind: EventKind) {
        self.events.push(Event { at, kind });
    }

    /// Everything the peer sent, in one piece.
    pub fn received(&self) -> Vec<u8> {
        self.joined(|kind| match kind {
            EventKind::Received(bytes) => Some(bytes),
            _ => None,
        })
    }

    /// Everything this side sent, in one piece.
    pub fn sent(&self) -> Vec<u8> {
        self.joined(|kind| match kind {
            EventKind::Sent(bytes) => Some(bytes),
            _ => None,
        })
    }

    /// Whether the recording stopped at its size limit.
    pub fn is_truncated(&self) -> bool {
        self.events
            .iter()
            .any(|event| event.kind == EventKind::Truncated)
    }

    /// How the connection ended, if the recording saw it end.
    pub fn closed(&self) -> Option<&Closed> {
        self.events.iter().find_map(|event| match &event.kind {
            EventKind::Closed(closed) => Some(closed),
            _ => None,
        })
    }

    fn joined(&self, pick: impl Fn(&EventKind) -> Option<&Bytes>) -> Vec<u8> {
        let mut all = Vec::new();
        for bytes in self.events.iter().filter_map(|event| pick(&event.kind)) {
            all.extend_from_slice(bytes);
        }
        all
    }
}
