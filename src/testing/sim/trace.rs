//! What happened in a simulation, event by event: [`TraceEvent`], and the digest that
//! tells two runs apart.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How many events a simulation keeps by default (the digest covers all of them).
pub(crate) const KEPT_BY_DEFAULT: usize = 1000;

/// One event of a simulated network, at its simulated time. Connections are numbered
/// in the order they were started, from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it happened, in the simulation's time.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// What a [`TraceEvent`] records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// A host listens on `address`.
    Listen {
        /// Where.
        address: SocketAddr,
    },
    /// Connection `conn` is attempted from `from` to `to`.
    Connect {
        /// The client's connection.
        conn: u64,
        /// The client's address.
        from: SocketAddr,
        /// The server's address.
        to: SocketAddr,
    },
    /// The server accepted: its end is `conn`, the client's `client`.
    Accept {
        /// The server's connection.
        conn: u64,
        /// The client's connection.
        client: u64,
    },
    /// The attempt `conn` was refused.
    Refuse {
        /// The client's connection.
        conn: u64,
    },
    /// The attempt `conn` timed out.
    Timeout {
        /// The client's connection.
        conn: u64,
    },
    /// `conn` sent `bytes`, landing at `lands`.
    Send {
        /// The sending connection.
        conn: u64,
        /// How many bytes.
        bytes: usize,
        /// When they land.
        lands: Duration,
    },
    /// `bytes` landed at `conn`.
    Deliver {
        /// The receiving connection.
        conn: u64,
        /// How many bytes.
        bytes: usize,
    },
    /// A segment of `bytes` sent by `conn` is held by a partition.
    Hold {
        /// The sending connection.
        conn: u64,
        /// How many bytes.
        bytes: usize,
    },
    /// `conn` read EOF.
    Eof {
        /// The receiving connection.
        conn: u64,
    },
    /// `conn` was reset by the network.
    Reset {
        /// The connection.
        conn: u64,
    },
    /// `conn`'s protocol lost its connection (`clean`: with `Done`).
    Lost {
        /// The connection.
        conn: u64,
        /// Whether it ended cleanly.
        clean: bool,
    },
    /// A callback of `conn`'s protocol panicked.
    Panic {
        /// The connection.
        conn: u64,
    },
    /// Partition `id` started.
    Partition {
        /// Its number.
        id: u64,
    },
    /// Partition `id` healed.
    Heal {
        /// Its number.
        id: u64,
    },
    /// The host at `host` crashed.
    Crash {
        /// Its address.
        host: IpAddr,
    },
    /// The host at `host` restarted.
    Restart {
        /// Its address.
        host: IpAddr,
    },
    /// A datagram of `bytes` from `from` reached `to` (`delivered`), or was lost to a
    /// partition or a host that is down.
    Datagram {
        /// The sender.
        from: SocketAddr,
        /// The receiver.
        to: SocketAddr,
        /// How many bytes.
        bytes: usize,
        /// Whether it got there.
        delivered: bool,
    },
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>11.6}s ", self.at.as_secs_f64())?;
        match &self.kind {
            TraceKind::Listen { address } => write!(f, "listen {address}"),
            TraceKind::Connect { conn, from, to } => write!(f, "c{conn} connect {from} -> {to}"),
            TraceKind::Accept { conn, client } => write!(f, "c{conn} accept c{client}"),
            TraceKind::Refuse { conn } => write!(f, "c{conn} refused"),
            TraceKind::Timeout { conn } => write!(f, "c{conn} connect timed out"),
            TraceKind::Send { conn, bytes, lands } => {
                write!(
                    f,
                    "c{conn} send {bytes} B, lands at {:.6}s",
                    lands.as_secs_f64()
                )
            }
            TraceKind::Deliver { conn, bytes } => write!(f, "c{conn} receive {bytes} B"),
            TraceKind::Hold { conn, bytes } => write!(f, "c{conn} held {bytes} B"),
            TraceKind::Eof { conn } => write!(f, "c{conn} receive EOF"),
            TraceKind::Reset { conn } => write!(f, "c{conn} reset"),
            TraceKind::Lost { conn, clean } => {
                write!(
                    f,
                    "c{conn} lost ({})",
                    if *clean { "done" } else { "error" }
                )
            }
            TraceKind::Panic { conn } => write!(f, "c{conn} callback panicked"),
            TraceKind::Partition { id } => write!(f, "partition {id}"),
            TraceKind::Heal { id } => write!(f, "heal {id}"),
            TraceKind::Crash { host } => write!(f, "crash {host}"),
            TraceKind::Restart { host } => write!(f, "restart {host}"),
            TraceKind::Datagram {
                from,
                to,
                bytes,
                delivered,
            } => {
                let fate = if *delivered { "" } else { " (lost)" };
                write!(f, "datagram {from} -> {to} {bytes} B{fate}")
            }
        }
    }
}

/// The events of a run: the last few kept, all of them counted and folded into a digest.
#[derive(Debug)]
pub(crate) struct Trace {
    kept: VecDeque<TraceEvent>,
    keep: usize,
    count: u64,
    digest: Digest,
}

impl Trace {
    pub(crate) fn new() -> Trace {
        Trace {
            kept: VecDeque::new(),
            keep: KEPT_BY_DEFAULT,
            count: 0,
            digest: Digest::new(),
        }
    }

    pub(crate) fn record(&mut self, at: Duration, kind: TraceKind) {
        self.count += 1;
        self.digest.event(at, &kind);
        if self.keep == 0 {
            return;
        }
        if self.kept.len() == self.keep {
            self.kept.pop_front();
        }
        self.kept.push_back(TraceEvent { at, kind });
    }

    pub(crate) fn keep(&mut self, events: usize) {
        self.keep = events;
        while self.kept.len() > events {
            self.kept.pop_front();
        }
    }

    pub(crate) fn kept(&self) -> Vec<TraceEvent> {
        self.kept.iter().cloned().collect()
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest.0
    }
}

/// A multiply-xorshift hash over each event's fields, a word at a time: stable across
/// platforms and Rust versions, so a digest printed by one build can be compared with
/// another's.
#[derive(Debug)]
struct Digest(u64);

impl Digest {
    const SEED: u64 = 0xcbf2_9ce4_8422_2325;
    const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new() -> Digest {
        Digest(Digest::SEED)
    }

    fn word(&mut self, word: u64) {
        let mixed = (self.0 ^ word).wrapping_mul(Digest::MULTIPLIER);
        self.0 = mixed ^ (mixed >> 29);
    }

    fn address(&mut self, address: &SocketAddr) {
        self.ip(&address.ip());
        self.word(u64::from(address.port()));
    }

    fn ip(&mut self, ip: &IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.word(u64::from(u32::from(*v4))),
            IpAddr::V6(v6) => {
                let bits = u128::from(*v6);
                self.word(bits as u64);
                self.word((bits >> 64) as u64);
            }
        }
    }

    fn event(&mut self, at: Duration, kind: &TraceKind) {
        self.word(at.as_nanos() as u64);
        match kind {
            TraceKind::Listen { address } => {
                self.word(1);
                self.address(address);
            }
            TraceKind::Connect { conn, from, to } => {
                self.word(2);
                self.word(*conn);
                self.address(from);
                self.address(to);
            }
            TraceKind::Accept { conn, client } => {
                self.word(3);
                self.word(*conn);
                self.word(*client);
            }
            TraceKind::Refuse { conn } => {
                self.word(4);
                self.word(*conn);
            }
            TraceKind::Timeout { conn } => {
                self.word(5);
                self.word(*conn);
            }
            TraceKind::Send { conn, bytes, lands } => {
                self.word(6);
                self.word(*conn);
                self.word(*bytes as u64);
                self.word(lands.as_nanos() as u64);
            }
            TraceKind::Deliver { conn, bytes } => {
                self.word(7);
                self.word(*conn);
                self.word(*bytes as u64);
            }
            TraceKind::Hold { conn, bytes } => {
                self.word(8);
                self.word(*conn);
                self.word(*bytes as u64);
            }
            TraceKind::Eof { conn } => {
                self.word(9);
                self.word(*conn);
            }
            TraceKind::Reset { conn } => {
                self.word(10);
                self.word(*conn);
            }
            TraceKind::Lost { conn, clean } => {
                self.word(11);
                self.word(*conn);
                self.word(u64::from(*clean));
            }
            TraceKind::Panic { conn } => {
                self.word(12);
                self.word(*conn);
            }
            TraceKind::Partition { id } => {
                self.word(13);
                self.word(*id);
            }
            TraceKind::Heal { id } => {
                self.word(14);
                self.word(*id);
            }
            TraceKind::Crash { host } => {
                self.word(15);
                self.ip(host);
            }
            TraceKind::Restart { host } => {
                self.word(16);
                self.ip(host);
            }
            TraceKind::Datagram {
                from,
                to,
                bytes,
                delivered,
            } => {
                self.word(17);
                self.address(from);
                self.address(to);
                self.word(*bytes as u64);
                self.word(u64::from(*delivered));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_events_and_digests_all_of_them() {
        let mut short = Trace::new();
        short.keep(2);
        let mut long = Trace::new();
        for conn in 0..5 {
            let kind = TraceKind::Eof { conn };
            short.record(Duration::from_millis(conn), kind.clone());
            long.record(Duration::from_millis(conn), kind);
        }
        assert_eq!(short.kept().len(), 2);
        assert_eq!(short.kept()[0].kind, TraceKind::Eof { conn: 3 });
        assert_eq!(short.count(), 5);
        assert_eq!(short.digest(), long.digest());
        long.record(Duration::ZERO, TraceKind::Eof { conn: 0 });
        assert_ne!(short.digest(), long.digest());
    }

    #[test]
    fn events_print_on_one_line_each() {
        let event = TraceEvent {
            at: Duration::from_micros(1_500),
            kind: TraceKind::Deliver { conn: 4, bytes: 12 },
        };
        assert_eq!(event.to_string(), "   0.001500s c4 receive 12 B");
    }
}
