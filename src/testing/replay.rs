//! Replaying a recorded connection against a protocol in memory: [`replay`].

use std::time::Duration;

use crate::record::{Closed, EventKind, Transcript};
use crate::testing::{FakeClock, TestConnection};
use crate::{DisconnectReason, Protocol};

/// How many bytes of each side a mismatch shows.
const EXCERPT: usize = 40;

/// A replay that matched its transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The peer's bytes fed to the protocol.
    pub received: usize,
    /// The protocol's bytes, all as recorded.
    pub sent: usize,
    /// The transcript stopped at its recorder's limit: only what was recorded before it
    /// was compared (not the rest, nor the close).
    pub truncated: bool,
    /// The time of the last event replayed, on the replay's fake clock.
    pub duration: Duration,
}

/// The first way a replay differs from its transcript.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayMismatch {
    /// What the protocol sent differs from what was recorded from byte `offset` of the
    /// stream it sends (counted from the connection's start) on: another byte, more
    /// bytes, or fewer (`got` is empty when the protocol stopped short).
    #[error(
        "at {at:?}, from byte {offset} of what the protocol sent: expected {expected}, got {got}"
    )]
    Sent {
        /// Where in the protocol's outgoing stream the first difference is.
        offset: usize,
        /// When the difference showed, on the replay's clock.
        at: Duration,
        /// What was recorded from `offset` on (up to 40 bytes), quoted as in a
        /// transcript.
        expected: String,
        /// What the protocol sent from `offset` on (up to 40 bytes), quoted.
        got: String,
    },
    /// The protocol closed (shut down its writing side, or aborted) where the recorded
    /// connection did not, or the other way round.
    #[error("at {at:?}: the recorded connection {}, the replayed one {}", closed(*.recorded), closed(*.replayed))]
    Close {
        /// When, on the replay's clock: the end of the transcript.
        at: Duration,
        /// Whether the recorded protocol closed its connection.
        recorded: bool,
        /// Whether the replayed protocol did.
        replayed: bool,
    },
}

fn closed(closed: bool) -> &'static str {
    if closed {
        "closed"
    } else {
        "did not close"
    }
}

/// Replays `transcript` against `protocol` on a [`TestConnection`] on a new
/// [`FakeClock`], and compares what the protocol sends with what was recorded.
///
/// `protocol` plays the recorded side (the transcript's [`side`](Transcript::side)): a
/// server's transcript replays against a server's protocol. At each recorded event's time
/// (the clock advanced to it, running the protocol's timers on the way) the peer's
/// recorded chunk is fed as one [`receive`](TestConnection::receive) — the peer's EOF as
/// [`receive_eof`](TestConnection::receive_eof) — and what the protocol sent since is
/// compared with the recorded outgoing stream, from its start: the first byte that
/// differs is reported, with the time. Bytes are compared, not when they were sent
/// within the run. At the end, what the protocol has not sent of the recording is a
/// mismatch, and so is a close (the protocol shutting down its writing side, or
/// aborting) that only one of the two did. A [truncated](Transcript::is_truncated)
/// transcript is replayed up to its truncation, and the report says so.
///
/// The replay is in plaintext, whether or not the recorded connection was TLS: the
/// protocol's `handshake_completed` is not called, and a protocol that starts TLS itself
/// (STARTTLS) cannot be replayed past the switch. A panic in one of the protocol's
/// callbacks fails the replay with that panic, as in a [`TestConnection`].
///
/// # Errors
///
/// [`ReplayMismatch`]: the first difference.
///
/// # Examples
///
/// ```
/// use torsade::record::Transcript;
/// use torsade::testing::{replay, ReplayMismatch};
/// use torsade_protocols::GreetingServer;
///
/// let transcript = Transcript::parse(
///     "torsade-transcript 1\n\
///      side server\n\
///      local \"127.0.0.1:1079\"\n\
///      peer \"127.0.0.1:50312\"\n\
///      tls no\n\
///      412 in \"World\\r\\n\"\n\
///      498 out \"Hello, World!\\r\\n\"\n\
///      1210 eof-in\n\
///      1275 eof-out\n\
///      1301 close done\n",
/// )?;
/// let report = replay(&transcript, GreetingServer::protocol())?;
/// assert_eq!(report.sent, 15);
///
/// // A server answering otherwise is caught at its first different byte.
/// let mut changed = transcript.clone();
/// changed.events[0].kind = torsade::record::EventKind::Received("Ada\r\n".into());
/// match replay(&changed, GreetingServer::protocol()) {
///     Err(ReplayMismatch::Sent { offset, expected, got, .. }) => {
///         assert_eq!(offset, 7);
///         assert_eq!(expected, r#""World!\r\n""#);
///         assert_eq!(got, r#""Ada!\r\n""#);
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay<P: Protocol>(
    transcript: &Transcript,
    protocol: P,
) -> Result<ReplayReport, ReplayMismatch> {
    let expected = transcript.sent();
    let truncated = transcript.is_truncated();
    let clock = FakeClock::new();
    let mut connection = TestConnection::with_clock(protocol, &clock);
    let mut got = connection.take_written().to_vec();
    let mut now = Duration::ZERO;
    let mut received = 0;
    compare(&expected, &got, now, truncated)?;
    for event in &transcript.events {
        if event.at > now {
            connection.advance(event.at - now);
            now = event.at;
        }
        match &event.kind {
            EventKind::Received(bytes) => {
                received += bytes.len();
                connection.receive(bytes);
            }
            EventKind::PeerEof => {
                connection.receive_eof();
            }
            EventKind::Truncated => break,
            EventKind::Sent(_)
            | EventKind::WriteShut
            | EventKind::TlsStarted
            | EventKind::Closed(_) => {}
        }
        got.extend_from_slice(&connection.take_written());
        compare(&expected, &got, now, truncated)?;
    }
    if !truncated {
        if got.len() < expected.len() {
            return Err(sent_mismatch(&expected, &got, got.len(), now));
        }
        let recorded = transcript
            .events
            .iter()
            .any(|event| event.kind == EventKind::WriteShut)
            || transcript.closed() == Some(&Closed::Aborted);
        let replayed = connection.is_write_shut()
            || matches!(connection.lost_reason(), Some(DisconnectReason::Aborted));
        if recorded != replayed {
            return Err(ReplayMismatch::Close {
                at: now,
                recorded,
                replayed,
            });
        }
    }
    Ok(ReplayReport {
        received,
        sent: got.len().min(expected.len()),
        truncated,
        duration: now,
    })
}

/// Whether what the protocol sent so far, `got`, agrees with the recording: it is a
/// prefix of it (or, past a truncation, starts with all of it).
fn compare(
    expected: &[u8],
    got: &[u8],
    at: Duration,
    truncated: bool,
) -> Result<(), ReplayMismatch> {
    let common = expected.len().min(got.len());
    if let Some(offset) = (0..common).find(|&i| expected[i] != got[i]) {
        return Err(sent_mismatch(expected, got, offset, at));
    }
    if got.len() > expected.len() && !truncated {
        return Err(sent_mismatch(expected, got, expected.len(), at));
    }
    Ok(())
}

fn sent_mismatch(expected: &[u8], got: &[u8], offset: usize, at: Duration) -> ReplayMismatch {
    let excerpt = |bytes: &[u8]| {
        let from = offset.min(bytes.len());
        crate::record::quoted(&bytes[from..bytes.len().min(from + EXCERPT)])
    };
    ReplayMismatch::Sent {
        offset,
        at,
        expected: excerpt(expected),
        got: excerpt(got),
    }
}
