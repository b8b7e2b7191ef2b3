//! Idle timeouts over loopback: `Transport::set_idle_timeout` and
//! `Protocol::timeout_connection` on the reactor's clock. What counts as activity (bytes
//! received, bytes sent), the callback running in the connection's own task, one shot,
//! a close the peer does not read being aborted, and a port's timeout for every
//! connection it accepts (`ListeningPort::set_idle_timeout`).
//!
//! These wait for real (short) timeouts to pass: the outcome waited for is the event
//! itself, never a sleep. Activity is paced by the reactor's own timers at a fraction of
//! the timeout, so a slow machine has a wide margin.

mod common;

use std::io::Read;
use std::net::TcpStream as StdStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, ListeningPort, Reactor};

/// What the server saw.
#[derive(Debug, Default)]
struct Log {
    received: Vec<u8>,
    timeouts: usize,
    /// The task `connection_made` and `timeout_connection` ran in.
    made_task: Option<tokio::task::Id>,
    timeout_task: Option<tokio::task::Id>,
    lost: Option<DisconnectReason>,
}

type Shared = Arc<Mutex<Log>>;

fn log() -> Shared {
    Arc::new(Mutex::new(Log::default()))
}

/// A server that watches for idleness; optionally writes a farewell when it fires and
/// ticks bytes to the client meanwhile. Stops the reactor once lost.
struct Watcher {
    log: Shared,
    reactor: Reactor,
    timeout: Duration,
    farewell: Option<&'static [u8]>,
    /// Writes one byte every `.0`, `.1` times, from a reactor timer (outside the task).
    ticks: Option<(Duration, usize)>,
    /// Written in `connection_made`.
    greeting: Vec<u8>,
    /// Whether `connection_made` sets `timeout` (else the port's applies).
    sets_timeout: bool,
}

impl Watcher {
    fn new(log: &Shared, reactor: &Reactor, timeout: Duration) -> Watcher {
        Watcher {
            log: log.clone(),
            reactor: reactor.clone(),
            timeout,
            farewell: None,
            ticks: None,
            greeting: Vec::new(),
            sets_timeout: true,
        }
    }
}

fn tick(reactor: Reactor, transport: TransportHandle, every: Duration, left: usize) {
    if left == 0 {
        return;
    }
    transport.write(b".");
    let again = reactor.clone();
    reactor.call_later(every, move || tick(again, transport, every, left - 1));
}

/// The watcher's callbacks, on any connection's context (so a wrapping protocol can
/// run them on its own).
impl Watcher {
    fn made(&mut self, cx: &mut impl Transport) {
        self.log.lock().unwrap().made_task = tokio::task::try_id();
        if self.sets_timeout {
            cx.set_idle_timeout(Some(self.timeout));
        }
        cx.write(&self.greeting);
        if let Some((every, count)) = self.ticks {
            tick(self.reactor.clone(), cx.transport_handle(), every, count);
        }
    }

    fn received(&mut self, data: Bytes) {
        self.log.lock().unwrap().received.extend_from_slice(&data);
    }

    fn timed_out(&mut self, cx: &mut impl Transport) {
        {
            let mut log = self.log.lock().unwrap();
            log.timeouts += 1;
            log.timeout_task = tokio::task::try_id();
        }
        if let Some(farewell) = self.farewell {
            cx.write(farewell);
        }
        cx.lose_connection();
    }

    fn lost(&mut self, reason: DisconnectReason) {
        self.log.lock().unwrap().lost = Some(reason);
        let _ = self.reactor.stop();
    }
}

impl Protocol for Watcher {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.made(cx);
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.received(data);
    }

    fn timeout_connection(&mut self, cx: &mut Context<'_, Self>) {
        self.timed_out(cx);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.lost(reason);
    }
}

/// Listens with `watcher`, runs a plain socket client that reads everything until the
/// server closes; returns what it read.
fn serve_reading_client(
    reactor: &Reactor,
    make: impl Fn() -> Watcher + Send + Sync + 'static,
) -> Vec<u8> {
    serve_reading_client_on(reactor, |_| {}, make)
}

/// [`serve_reading_client`], with the port set up by `configure` first.
fn serve_reading_client_on(
    reactor: &Reactor,
    configure: impl FnOnce(&ListeningPort),
    make: impl Fn() -> Watcher + Send + Sync + 'static,
) -> Vec<u8> {
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(move |_: &Address| make()))
        .unwrap();
    configure(&port);
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut stream = StdStream::connect(address)?;
        stream.set_read_timeout(Some(LIMIT))?;
        let mut received = Vec::new();
        stream.read_to_end(&mut received)?;
        Ok::<_, std::io::Error>(received)
    });
    run_bounded(reactor, LIMIT);
    client.join().unwrap().unwrap()
}

#[test]
fn an_idle_connection_is_closed_and_its_farewell_sent_from_its_own_task() {
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let received = serve_reading_client(&reactor, move || Watcher {
        farewell: Some(b"idle, bye\r\n"),
        ..Watcher::new(&s, &r, Duration::from_millis(100))
    });
    assert_eq!(received, b"idle, bye\r\n");
    let server = server.lock().unwrap();
    assert_eq!(server.timeouts, 1);
    assert!(server.lost.as_ref().unwrap().is_clean());
    assert!(server.made_task.is_some());
    assert_eq!(
        server.timeout_task, server.made_task,
        "runs in the connection's task"
    );
    assert_eq!(reactor.stats().idle_timeouts, 1);
}

#[test]
fn a_ports_idle_timeout_closes_a_silent_connection_through_timeout_connection() {
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let received = serve_reading_client_on(
        &reactor,
        |port| port.set_idle_timeout(Some(Duration::from_millis(100))),
        move || Watcher {
            farewell: Some(b"idle, bye\r\n"),
            sets_timeout: false,
            ..Watcher::new(&s, &r, Duration::ZERO)
        },
    );
    assert_eq!(received, b"idle, bye\r\n");
    let server = server.lock().unwrap();
    assert_eq!(server.timeouts, 1);
    assert!(server.lost.as_ref().unwrap().is_clean());
    assert_eq!(reactor.stats().idle_timeouts, 1);
}

#[test]
fn a_protocol_replaces_its_ports_idle_timeout_with_its_own() {
    // The port's hour would outlast the test's bound; the protocol's 100 ms fires.
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let received = serve_reading_client_on(
        &reactor,
        |port| {
            port.set_idle_timeout(Some(Duration::from_secs(3600)));
            assert_eq!(port.idle_timeout(), Some(Duration::from_secs(3600)));
        },
        move || Watcher {
            farewell: Some(b"idle, bye\r\n"),
            ..Watcher::new(&s, &r, Duration::from_millis(100))
        },
    );
    assert_eq!(received, b"idle, bye\r\n");
    assert_eq!(server.lock().unwrap().timeouts, 1);
}

#[test]
fn bytes_sent_keep_a_connection_alive_and_the_timeout_fires_once_they_stop() {
    // Ticks every 40 ms, 15 times (600 ms) against a 400 ms timeout.
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let received = serve_reading_client(&reactor, move || Watcher {
        ticks: Some((Duration::from_millis(40), 15)),
        ..Watcher::new(&s, &r, Duration::from_millis(400))
    });
    assert_eq!(
        received, b"...............",
        "every tick came before the timeout"
    );
    let server = server.lock().unwrap();
    assert_eq!(server.timeouts, 1);
    assert!(server.lost.as_ref().unwrap().is_clean());
}

/// Sends a byte every `every`, `count` times, from a reactor timer, then goes quiet;
/// closes at EOF.
struct Ticker {
    reactor: Reactor,
    every: Duration,
    count: usize,
}

impl Protocol for Ticker {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        tick(
            self.reactor.clone(),
            cx.transport_handle(),
            self.every,
            self.count,
        );
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
}

#[test]
fn bytes_received_keep_a_connection_alive() {
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Watcher::new(&s, &r, Duration::from_millis(400))),
        )
        .unwrap();
    let r = reactor.clone();
    reactor
        .connect(
            port.local_addr(),
            factory_fn(move |_: &Address| Ticker {
                reactor: r.clone(),
                every: Duration::from_millis(40),
                count: 15,
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let server = server.lock().unwrap();
    assert_eq!(
        server.received, b"...............",
        "every tick came before the timeout"
    );
    assert_eq!(server.timeouts, 1);
    assert!(server.lost.as_ref().unwrap().is_clean());
}

#[test]
fn a_close_the_peer_does_not_read_is_aborted_one_timeout_later() {
    const SIZE: usize = 8 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    let (lost_tx, lost_rx) = mpsc::channel::<()>();
    let lost_tx = Mutex::new(lost_tx);
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                let watcher = Watcher {
                    greeting: vec![b'x'; SIZE],
                    ..Watcher::new(&s, &r, Duration::from_millis(100))
                };
                let signal = lost_tx.lock().unwrap().clone();
                Recorded(watcher, Some(signal))
            }),
        )
        .unwrap();
    /// Tells the client thread the server's connection is over.
    struct Recorded(Watcher, Option<mpsc::Sender<()>>);
    impl Protocol for Recorded {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            self.0.made(cx);
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
            self.0.received(data);
        }
        fn timeout_connection(&mut self, cx: &mut Context<'_, Self>) {
            self.0.timed_out(cx);
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.0.lost(reason);
            if let Some(signal) = self.1.take() {
                let _ = signal.send(());
            }
        }
    }
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        // Connects and never reads, until the server's connection is over.
        let stream = StdStream::connect(address).unwrap();
        let outcome = lost_rx.recv_timeout(LIMIT);
        drop(stream);
        outcome.is_ok()
    });
    run_bounded(&reactor, LIMIT);
    assert!(client.join().unwrap(), "the server's connection ended");
    let server = server.lock().unwrap();
    assert_eq!(
        server.timeouts, 1,
        "the second firing aborts, it does not call again"
    );
    let reason = server.lost.clone().unwrap();
    // The core's own reason, matched directly: the idle timeout, with the timeout that passed.
    assert!(
        matches!(
            reason.error(),
            Some(ConnectionError::IdleTimeout { timeout }) if *timeout == Duration::from_millis(100)
        ),
        "{reason:?}"
    );
    assert_eq!(reactor.stats().idle_timeouts, 2);
}
