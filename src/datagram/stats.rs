//! A datagram port's counters: [`DatagramStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// What a datagram port has done, counted since it opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatagramStats {
    /// Datagrams delivered to the protocol.
    pub received: u64,
    /// Datagrams handed to the socket (or the test network).
    pub sent: u64,
    /// Datagrams dropped on the way out because the socket's send buffer was full, or on
    /// the way in because a paused port's in-memory queue was full.
    pub dropped: u64,
    /// Datagrams not delivered because they were longer than the maximum size.
    pub too_long: u64,
    /// Refusals (ICMP port unreachable) seen on a connected port.
    pub refused: u64,
}

/// The live counters behind [`DatagramStats`], shared by a port and its handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    too_long: AtomicU64,
    refused: AtomicU64,
}

/// One of the [`Counters`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    Received,
    Sent,
    Dropped,
    TooLong,
    Refused,
}

impl Counters {
    pub(crate) fn add(&self, count: Count) {
        let counter = match count {
            Count::Received => &self.received,
            Count::Sent => &self.sent,
            Count::Dropped => &self.dropped,
            Count::TooLong => &self.too_long,
            Count::Refused => &self.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> DatagramStats {
        DatagramStats {
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            too_long: self.too_long.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}
