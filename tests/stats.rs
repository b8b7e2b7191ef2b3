//! What a user can observe over loopback: `Reactor::stats` and `ListeningPort::stats`
//! counters (across loops too), and the per-connection `tracing` span carrying the peer's
//! address.

mod common;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};

/// Sends `size` bytes, closes once they all came back; the last of `clients` to close
/// stops the reactor.
struct Client {
    size: usize,
    received: usize,
    done: Arc<Mutex<usize>>,
    clients: usize,
    reactor: Reactor,
}

impl Protocol for Client {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(&vec![b'c'; self.size]);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.received += data.len();
        if self.received == self.size {
            cx.lose_connection();
        }
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        let mut done = self.done.lock().unwrap();
        *done += 1;
        if *done == self.clients {
            let _ = self.reactor.stop();
        }
    }
}

/// Echo clients against an echo server on `reactor`; returns the port.
fn exchange(reactor: &Reactor, clients: usize, size: usize) -> torsade::ListeningPort {
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let done: Arc<Mutex<usize>> = Arc::default();
    for _ in 0..clients {
        let (d, r) = (done.clone(), reactor.clone());
        reactor
            .connect(
                port.local_addr(),
                factory_fn(move |_: &Address| Client {
                    size,
                    received: 0,
                    done: d.clone(),
                    clients,
                    reactor: r.clone(),
                }),
            )
            .detach();
    }
    run_bounded(reactor, LIMIT);
    port
}

#[test]
fn the_reactor_counts_connections_and_bytes_both_ways() {
    let reactor = Reactor::new().unwrap();
    let mut fresh = reactor.stats();
    assert!(fresh.tasks <= 1, "a new reactor runs at most its own task");
    fresh.tasks = 0;
    assert_eq!(fresh, torsade::ReactorStats::default());
    let port = exchange(&reactor, 3, 100_000);
    let stats = reactor.stats();
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.connected, 3);
    assert_eq!(stats.open_connections, 0);
    assert_eq!(stats.refused, 0);
    // Each byte is read twice (server, then client) and written twice.
    assert_eq!(stats.bytes_read, 600_000);
    assert_eq!(stats.bytes_written, 600_000);
    let port = port.stats();
    assert_eq!(
        (port.accepted, port.open_connections, port.refused),
        (3, 0, 0)
    );
}

#[test]
fn counts_from_every_loop_add_up() {
    let reactor = Reactor::with_loops(NonZeroUsize::new(3).unwrap()).unwrap();
    exchange(&reactor, 12, 10_000);
    let stats = reactor.stats();
    assert_eq!(
        (stats.accepted, stats.connected, stats.open_connections),
        (12, 12, 0)
    );
    assert_eq!((stats.bytes_read, stats.bytes_written), (240_000, 240_000));
}

#[test]
fn open_connections_are_counted_while_they_are_open() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let observed: Arc<Mutex<Option<(u64, usize)>>> = Arc::default();
    let (o, r) = (observed.clone(), reactor.clone());
    let port = Arc::new(port);
    let p = port.clone();
    reactor
        .connect(
            port.local_addr(),
            factory_fn(move |_: &Address| {
                let (o, r, p) = (o.clone(), r.clone(), p.clone());
                Recorder::new(&seen())
                    .on_made(|cx| cx.write(b"x"))
                    .on_data(move |cx, _| {
                        // The server has read our byte: both ends are open.
                        *o.lock().unwrap() =
                            Some((r.stats().open_connections, p.stats().open_connections));
                        cx.lose_connection();
                        let _ = r.stop();
                    })
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*observed.lock().unwrap(), Some((2, 1)));
    assert_eq!(reactor.stats().open_connections, 0);
    assert_eq!(port.stats().open_connections, 0);
}

/// Writes `size` bytes at once to a client that reads them all.
struct Flood(usize);

impl Protocol for Flood {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(&vec![b'f'; self.0]);
        cx.lose_connection();
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
}

#[test]
fn crossing_the_high_water_mark_counts_a_write_pause() {
    const SIZE: usize = 32 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Flood(SIZE)))
        .unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect(
            port.local_addr(),
            factory_fn(move |_: &Address| Recorder::new(&c).on_lost(stop_on_lost(&r))),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.lock().unwrap().data.len(), SIZE);
    let stats = reactor.stats();
    // Written at once, far past the high-water mark: paused exactly once (and resumed
    // as it drained; the client never writes).
    assert_eq!(stats.write_pauses, 1);
    assert_eq!(stats.bytes_written, SIZE as u64);
}

#[test]
fn events_of_a_connection_carry_its_span_with_the_peer_address() {
    let logs = capture_logs(|| {
        let reactor = Reactor::new().unwrap();
        let port = reactor
            .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
            .unwrap();
        let r = reactor.clone();
        reactor
            .connect(
                port.local_addr(),
                factory_fn(move |_: &Address| {
                    Recorder::new(&seen())
                        .on_made(|cx| cx.lose_connection())
                        .on_lost(stop_on_lost(&r))
                }),
            )
            .detach();
        run_bounded(&reactor, LIMIT);
    });
    let spanned: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("connection{peer=127.0.0.1:"))
        .collect();
    assert!(
        spanned.iter().any(|line| line.contains("connection made")),
        "{logs}"
    );
    assert!(
        spanned.iter().any(|line| line.contains("connection lost")),
        "{logs}"
    );
}
