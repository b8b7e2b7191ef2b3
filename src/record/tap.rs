//! A connection's recording under way: [`Tap`], which the connection's driver tells what
//! happens and which hands the finished [`Transcript`] to its [`Recorder`].

use std::time::Duration;

use super::transcript::{Closed, EventKind, Side, Transcript};
use super::Recorder;
use crate::{Address, DisconnectReason};

/// What each event costs against the recording's limit besides its payload: a recording
/// of many tiny reads stays bounded too.
pub(crate) const EVENT_COST: usize = 16;

/// One connection's transcript being recorded.
pub(crate) struct Tap {
    /// `None` once handed to the recorder.
    transcript: Option<Transcript>,
    /// The connection's clock when it started: event times count from here.
    start: Duration,
    /// What the limit leaves to record.
    left: usize,
    truncated: bool,
    recorder: Recorder,
}

impl Tap {
    /// A recording for `recorder` of a connection between `local` and `peer` that starts
    /// at `start` on its clock.
    pub(crate) fn new(
        recorder: &Recorder,
        side: Side,
        local: &Address,
        peer: &Address,
        tls: bool,
        start: Duration,
    ) -> Tap {
        Tap {
            transcript: Some(Transcript::new(
                side,
                local.to_string(),
                peer.to_string(),
                tls,
            )),
            start,
            left: recorder.limit(),
            truncated: false,
            recorder: recorder.clone(),
        }
    }

    /// The peer's bytes were read.
    pub(crate) fn received(&mut self, now: Duration, bytes: &[u8]) {
        self.record(now, bytes, |bytes| {
            EventKind::Received(bytes::Bytes::copy_from_slice(bytes))
        });
    }

    /// The stream took bytes the protocol wrote.
    pub(crate) fn sent(&mut self, now: Duration, bytes: &[u8]) {
        self.record(now, bytes, |bytes| {
            EventKind::Sent(bytes::Bytes::copy_from_slice(bytes))
        });
    }

    /// The peer's EOF was read.
    pub(crate) fn peer_eof(&mut self, now: Duration) {
        self.record(now, &[], |_| EventKind::PeerEof);
    }

    /// A TLS handshake completed.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_started(&mut self, now: Duration) {
        self.record(now, &[], |_| EventKind::TlsStarted);
    }

    /// This side's write side is shut down.
    pub(crate) fn write_shut(&mut self, now: Duration) {
        self.record(now, &[], |_| EventKind::WriteShut);
    }

    /// The connection ended with `reason`: the transcript goes to the recorder. The close
    /// is recorded past the limit too (one event: the limit stays a bound).
    pub(crate) fn closed(mut self, now: Duration, reason: &DisconnectReason) {
        let at = self.at(now);
        if let Some(transcript) = self.transcript.as_mut() {
            transcript.push(at, EventKind::Closed(Closed::from_reason(reason)));
        }
        self.deliver();
    }

    /// Records `kind` made of `bytes` (or as much as the limit leaves of them, then the
    /// truncation).
    fn record(&mut self, now: Duration, bytes: &[u8], kind: impl Fn(&[u8]) -> EventKind) {
        if self.truncated {
            return;
        }
        let at = self.at(now);
        let Some(transcript) = self.transcript.as_mut() else {
            return;
        };
        let cost = bytes.len().saturating_add(EVENT_COST);
        if cost <= self.left {
            self.left -= cost;
            transcript.push(at, kind(bytes));
            return;
        }
        let fits = self.left.saturating_sub(EVENT_COST).min(bytes.len());
        if fits > 0 {
            transcript.push(at, kind(&bytes[..fits]));
        }
        transcript.push(at, EventKind::Truncated);
        self.truncated = true;
        self.left = 0;
        tracing::debug!(peer = %transcript.peer, "recording truncated at its limit");
    }

    /// The time of an event at `now`, in whole microseconds (the text form's unit: a
    /// transcript reads back from its text as it was).
    fn at(&self, now: Duration) -> Duration {
        let micros = now.saturating_sub(self.start).as_micros();
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    fn deliver(&mut self) {
        if let Some(transcript) = self.transcript.take() {
            self.recorder.deliver(transcript);
        }
    }
}

impl Drop for Tap {
    /// A connection dropped before its end (its runtime shut down) still leaves its
    /// transcript, with no close.
    fn drop(&mut self) {
        self.deliver();
    }
}
