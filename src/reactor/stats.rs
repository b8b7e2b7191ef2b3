//! Counters a user can read: [`ReactorStats`] and [`PortStats`] snapshots, and the
//! per-loop counters behind them.
//!
//! Each event loop counts in its own cache line (`LoopCounters`), with relaxed atomic
//! additions made once per read/flush round of a connection (never per read, write or
//! line) or once per connection event; a snapshot sums the loops. Counts are exact but a
//! snapshot is not atomic across counters: one taken while connections are busy may see
//! a round's bytes read and not yet its bytes written.

use std::sync::atomic::{AtomicU64, Ordering};

use super::loops::Loops;

/// What a reactor has done so far, from [`Reactor::stats`](crate::Reactor::stats).
///
/// Bytes are counted as the protocols see them (for TLS, the plaintext).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::prelude::*;
/// use torsade::{factory_fn, Address, Reactor};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
///         transport.write(&data);
///     }
/// }
///
/// /// Sends "hello", hangs up once it is echoed, and stops the reactor.
/// struct Hello(Reactor, usize);
/// impl Protocol for Hello {
///     fn connection_made(&mut self, transport: &mut Context<'_, Self>) {
///         transport.write(b"hello");
///     }
///     fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
///         self.1 += data.len();
///         if self.1 == 5 {
///             transport.lose_connection();
///         }
///     }
///     fn connection_lost(&mut self, _: DisconnectReason) {
///         self.0.stop().unwrap();
///     }
/// }
///
/// let reactor = Reactor::new().unwrap();
/// let port = reactor.listen("127.0.0.1:0", factory_fn(|_: &Address| Echo)).unwrap();
/// let r = reactor.clone();
/// reactor
///     .connect(port.local_addr(), factory_fn(move |_: &Address| Hello(r.clone(), 0)))
///     .detach();
/// reactor.run().unwrap();
/// let stats = reactor.stats();
/// assert_eq!((stats.accepted, stats.connected, stats.open_connections), (1, 1, 0));
/// assert_eq!((stats.bytes_read, stats.bytes_written), (10, 10)); // "hello" there and back
/// assert_eq!(port.stats().accepted, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReactorStats {
    /// Connections made and not yet lost (both directions; a closed connection still
    /// draining its socket for a moment is not counted).
    pub open_connections: u64,
    /// Connections accepted by listening ports and given a protocol.
    pub accepted: u64,
    /// Outgoing connections made (`connect`, `open_connection`).
    pub connected: u64,
    /// Connections a port closed at once because it was at its connection limit
    /// ([`ListeningPort::set_max_connections`](crate::ListeningPort::set_max_connections)).
    pub refused: u64,
    /// Bytes received and delivered to protocols.
    pub bytes_read: u64,
    /// Bytes the operating system took from write buffers (sent).
    pub bytes_written: u64,
    /// Times a protocol or producer was paused because its unsent bytes crossed the
    /// high-water mark.
    pub write_pauses: u64,
    /// Idle timeouts that fired ([`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout)).
    pub idle_timeouts: u64,
    /// Tasks alive on the reactor's loops right now: one per connection (until its
    /// `connection_lost` has run and its socket is closed), one per accept loop, and the
    /// reactor's own. A count that grows while connections come and go is a leak.
    pub tasks: u64,
}

/// What a listening port has done so far, from
/// [`ListeningPort::stats`](crate::ListeningPort::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortStats {
    /// Connections this port accepted that are not lost yet.
    pub open_connections: usize,
    /// Connections accepted and given a protocol.
    pub accepted: u64,
    /// Connections closed at once because the port was at its limit.
    pub refused: u64,
}

/// One counter of a loop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    Opened,
    Lost,
    Accepted,
    Connected,
    Refused,
    WritePauses,
    IdleTimeouts,
}

/// One loop's counters, on a cache line of their own so loops never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
struct LoopCounters {
    opened: AtomicU64,
    lost: AtomicU64,
    accepted: AtomicU64,
    connected: AtomicU64,
    refused: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    write_pauses: AtomicU64,
    idle_timeouts: AtomicU64,
}

impl LoopCounters {
    fn get(&self, counter: Counter) -> &AtomicU64 {
        match counter {
            Counter::Opened => &self.opened,
            Counter::Lost => &self.lost,
            Counter::Accepted => &self.accepted,
            Counter::Connected => &self.connected,
            Counter::Refused => &self.refused,
            Counter::WritePauses => &self.write_pauses,
            Counter::IdleTimeouts => &self.idle_timeouts,
        }
    }
}

/// A reactor's counters: one set per loop (at most 256; more loops share them).
#[derive(Debug)]
pub(crate) struct Counters {
    loops: Box<[LoopCounters]>,
}

fn add(counter: &AtomicU64, amount: usize) {
    counter.fetch_add(amount as u64, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn new(loops: usize) -> Counters {
        Counters {
            loops: (0..loops.clamp(1, 256))
                .map(|_| LoopCounters::default())
                .collect(),
        }
    }

    /// The slot of the loop running on this thread (0 off the reactor's loops).
    pub(crate) fn slot_for_this_thread(&self) -> u8 {
        // `loops` holds at most 256 sets, so the index fits.
        (Loops::current_index() % self.loops.len()) as u8
    }

    fn slot(&self, slot: u8) -> &LoopCounters {
        &self.loops[usize::from(slot) % self.loops.len()]
    }

    pub(crate) fn add(&self, slot: u8, counter: Counter, amount: usize) {
        add(self.slot(slot).get(counter), amount);
    }

    /// One round's traffic (either may be zero).
    pub(crate) fn add_io(&self, slot: u8, read: usize, written: usize) {
        let counters = self.slot(slot);
        if read > 0 {
            add(&counters.bytes_read, read);
        }
        if written > 0 {
            add(&counters.bytes_written, written);
        }
    }

    pub(crate) fn snapshot(&self) -> ReactorStats {
        let sum = |field: fn(&LoopCounters) -> &AtomicU64| -> u64 {
            self.loops
                .iter()
                .map(|counters| field(counters).load(Ordering::Relaxed))
                .sum()
        };
        let opened = sum(|c| &c.opened);
        let lost = sum(|c| &c.lost);
        ReactorStats {
            open_connections: opened.saturating_sub(lost),
            accepted: sum(|c| &c.accepted),
            connected: sum(|c| &c.connected),
            refused: sum(|c| &c.refused),
            bytes_read: sum(|c| &c.bytes_read),
            bytes_written: sum(|c| &c.bytes_written),
            write_pauses: sum(|c| &c.write_pauses),
            idle_timeouts: sum(|c| &c.idle_timeouts),
            tasks: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sums_every_loop() {
        let counters = Counters::new(3);
        counters.add_io(0, 10, 0);
        counters.add_io(2, 5, 7);
        counters.add(1, Counter::Opened, 1);
        counters.add(2, Counter::Opened, 1);
        counters.add(1, Counter::Lost, 1);
        counters.add(0, Counter::WritePauses, 2);
        let stats = counters.snapshot();
        assert_eq!(stats.bytes_read, 15);
        assert_eq!(stats.bytes_written, 7);
        assert_eq!(stats.open_connections, 1);
        assert_eq!(stats.write_pauses, 2);
    }

    #[test]
    fn slots_past_the_last_loop_wrap_around() {
        let counters = Counters::new(2);
        counters.add(5, Counter::Refused, 1);
        assert_eq!(counters.snapshot().refused, 1);
        assert_eq!(Counters::new(1000).loops.len(), 256);
    }

    #[test]
    fn each_loop_has_its_own_cache_line() {
        assert_eq!(std::mem::align_of::<LoopCounters>(), 128);
    }
}
