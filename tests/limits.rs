//! Limits over loopback: a port's maximum connections (refusing, or pausing accept),
//! watermarks set per transport, and a stop deadline that aborts what will not close.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, LimitPolicy, Reactor};

type Events = Arc<Mutex<Vec<String>>>;

/// Greets with `hi\n`, logs `made PORT` / `lost PORT` (the client's port), and reports
/// each loss on a channel.
struct Greeter {
    events: Events,
    lost: mpsc::Sender<u16>,
    peer: u16,
}

impl Protocol for Greeter {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.peer = cx.peer_addr().socket_addr().map_or(0, |a| a.port());
        self.events
            .lock()
            .unwrap()
            .push(format!("made {}", self.peer));
        cx.write(b"hi\n");
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn connection_lost(&mut self, _: DisconnectReason) {
        self.events
            .lock()
            .unwrap()
            .push(format!("lost {}", self.peer));
        let _ = self.lost.send(self.peer);
    }
}

/// A port serving `Greeter`s, and the channel their losses arrive on.
fn greeter_port(
    reactor: &Reactor,
    events: &Events,
) -> (torsade::ListeningPort, mpsc::Receiver<u16>) {
    let (lost_tx, lost_rx) = mpsc::channel();
    let (events, lost_tx) = (events.clone(), Mutex::new(lost_tx));
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Greeter {
                events: events.clone(),
                lost: lost_tx.lock().unwrap().clone(),
                peer: 0,
            }),
        )
        .unwrap();
    (port, lost_rx)
}

fn connect(address: std::net::SocketAddr) -> std::io::Result<StdStream> {
    let stream = StdStream::connect(address)?;
    stream.set_read_timeout(Some(LIMIT))?;
    Ok(stream)
}

/// Reads the greeting; `Ok(false)` if the server closed the connection instead.
fn greeted(stream: &mut StdStream) -> std::io::Result<bool> {
    let mut greeting = [0; 3];
    match stream.read_exact(&mut greeting) {
        Ok(()) => Ok(&greeting == b"hi\n"),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

fn port_of(stream: &StdStream) -> u16 {
    stream.local_addr().unwrap().port()
}

#[test]
fn a_full_port_refuses_new_connections_until_one_ends() {
    let reactor = Reactor::new().unwrap();
    let events: Events = Arc::default();
    let (port, lost) = greeter_port(&reactor, &events);
    port.set_max_connections(Some(2), LimitPolicy::Refuse);
    let (address, r) = (port.local_addr().socket_addr().unwrap(), reactor.clone());
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<Vec<bool>> {
            let mut first = connect(address)?;
            let mut second = connect(address)?;
            let mut third = connect(address)?;
            let served = vec![
                greeted(&mut first)?,
                greeted(&mut second)?,
                greeted(&mut third)?,
            ];
            let first_port = port_of(&first);
            drop(first);
            // Wait for the server to lose the first connection: its place is free then.
            assert_eq!(lost.recv_timeout(LIMIT).ok(), Some(first_port));
            let mut fourth = connect(address)?;
            let mut served = served;
            served.push(greeted(&mut fourth)?);
            Ok(served)
        })();
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap().unwrap(), [true, true, false, true]);
    let stats = port.stats();
    assert_eq!(
        (stats.accepted, stats.refused, stats.open_connections),
        (3, 1, 0)
    );
    assert_eq!(reactor.stats().refused, 1);
    assert_eq!(reactor.stats().accepted, 3);
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with("made"))
            .count(),
        3
    );
}

#[test]
fn a_full_port_that_pauses_accepts_the_next_connection_once_one_ends() {
    let reactor = Reactor::new().unwrap();
    let events: Events = Arc::default();
    let (port, lost) = greeter_port(&reactor, &events);
    port.set_max_connections(Some(2), LimitPolicy::PauseAccepting);
    let (address, r) = (port.local_addr().socket_addr().unwrap(), reactor.clone());
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<(Vec<bool>, u16, u16)> {
            let mut first = connect(address)?;
            let mut second = connect(address)?;
            let served = vec![greeted(&mut first)?, greeted(&mut second)?];
            // Connected (the kernel's backlog) but not accepted while the port is full.
            let mut third = connect(address)?;
            third.write_all(b"waiting")?;
            let (first_port, third_port) = (port_of(&first), port_of(&third));
            drop(first);
            let mut served = served;
            served.push(greeted(&mut third)?);
            assert_eq!(lost.recv_timeout(LIMIT).ok(), Some(first_port));
            Ok((served, first_port, third_port))
        })();
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    let (served, first, third) = client.join().unwrap().unwrap();
    assert_eq!(served, [true, true, true]);
    let events = events.lock().unwrap();
    let position = |event: String| events.iter().position(|e| *e == event).unwrap();
    assert!(
        position(format!("lost {first}")) < position(format!("made {third}")),
        "the third connection is accepted only after the first is lost: {events:?}"
    );
    let stats = port.stats();
    assert_eq!((stats.accepted, stats.refused), (3, 0));
}

#[test]
fn lifting_the_limit_lets_a_paused_port_accept_again() {
    let reactor = Reactor::new().unwrap();
    let events: Events = Arc::default();
    let (port, _lost) = greeter_port(&reactor, &events);
    port.set_max_connections(Some(0), LimitPolicy::PauseAccepting);
    assert_eq!(
        port.max_connections(),
        Some((0, LimitPolicy::PauseAccepting))
    );
    let port = Arc::new(port);
    let (address, r, p) = (
        port.local_addr().socket_addr().unwrap(),
        reactor.clone(),
        port.clone(),
    );
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<bool> {
            let mut waiting = connect(address)?;
            p.set_max_connections(None, LimitPolicy::Refuse);
            greeted(&mut waiting)
        })();
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert!(client.join().unwrap().unwrap());
    assert_eq!(port.max_connections(), None);
}

/// Streams `total` bytes as a pull producer in 32 KiB chunks under the watermarks
/// `limits`; records the most unsent bytes seen when asked for a chunk.
struct Streamer {
    left: usize,
    most_unsent_when_asked: Arc<Mutex<usize>>,
}

impl Producer for Streamer {
    fn resume_producing(&mut self, cx: &mut Context<'_>) {
        let unsent = cx.write_buffer_size();
        let mut most = self.most_unsent_when_asked.lock().unwrap();
        *most = (*most).max(unsent);
        if self.left == 0 {
            cx.unregister_producer();
            cx.lose_connection();
            return;
        }
        let chunk = self.left.min(32 * 1024);
        cx.write(&vec![b's'; chunk]);
        self.left -= chunk;
    }
}

#[test]
fn watermarks_set_on_a_connection_drive_its_producer() {
    const TOTAL: usize = 16 * 1024 * 1024;
    const LOW: usize = 1024;
    let reactor = Reactor::new().unwrap();
    let most: Arc<Mutex<usize>> = Arc::default();
    let m = most.clone();
    struct Download(Arc<Mutex<usize>>);
    impl Protocol for Download {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.set_write_buffer_limits(4 * LOW, LOW).unwrap();
            assert_eq!(cx.write_buffer_limits().low, LOW);
            let streamer = Streamer {
                left: TOTAL,
                most_unsent_when_asked: self.0.clone(),
            };
            cx.register_producer(Box::new(streamer), ProducerKind::Pull)
                .unwrap();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Download(m.clone())),
        )
        .unwrap();
    let (address, r) = (port.local_addr().socket_addr().unwrap(), reactor.clone());
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<usize> {
            let mut stream = connect(address)?;
            let mut received = Vec::new();
            stream.read_to_end(&mut received)?;
            Ok(received.len())
        })();
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap().unwrap(), TOTAL);
    let most = *most.lock().unwrap();
    assert!(most <= LOW, "asked for a chunk with {most} bytes unsent");
}

/// Writes `size` bytes when connected; records why it ended; optionally starts the
/// reactor's stop with a deadline, or closes at once.
struct Stuck {
    reactor: Reactor,
    size: usize,
    deadline: Duration,
    close_at_once: bool,
    lost: Arc<Mutex<Option<String>>>,
}

impl Protocol for Stuck {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(&vec![b'x'; self.size]);
        if self.close_at_once {
            cx.lose_connection();
        }
        self.reactor.stop_with_deadline(self.deadline).unwrap();
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn connection_lost(&mut self, reason: DisconnectReason) {
        *self.lost.lock().unwrap() = Some(format!("{reason}"));
    }
}

/// Serves one `Stuck` connection to a plain socket client that never reads and never
/// closes until the reactor has stopped; returns how it ended and how long `run` took
/// on the reactor's clock.
fn run_stuck(size: usize, close_at_once: bool, deadline: Duration) -> (String, Duration) {
    let reactor = Reactor::new().unwrap();
    let lost: Arc<Mutex<Option<String>>> = Arc::default();
    let (l, r) = (lost.clone(), reactor.clone());
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Stuck {
                reactor: r.clone(),
                size,
                deadline,
                close_at_once,
                lost: l.clone(),
            }),
        )
        .unwrap();
    let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let stream = StdStream::connect(address).unwrap();
        let _ = stopped_rx.recv_timeout(LIMIT);
        drop(stream);
    });
    let started = reactor.now();
    run_bounded(&reactor, LIMIT);
    let took = reactor.now() - started;
    let _ = stopped_tx.send(());
    client.join().unwrap();
    let lost = lost.lock().unwrap().clone().expect("connection_lost ran");
    (lost, took)
}

#[test]
fn a_stop_deadline_aborts_a_connection_whose_peer_does_not_read() {
    let (lost, _) = run_stuck(32 * 1024 * 1024, false, Duration::from_millis(100));
    assert_eq!(lost, "connection aborted");
}

#[test]
fn a_stop_deadline_cuts_a_lingering_close_short() {
    // Closed cleanly, then lingering (up to 2 s) for a peer that neither reads nor
    // closes: the deadline ends the linger too.
    let (lost, took) = run_stuck(0, true, Duration::from_millis(50));
    assert_eq!(lost, "connection closed cleanly");
    assert!(took < Duration::from_millis(1500), "run took {took:?}");
}

#[test]
fn a_stop_deadline_that_is_not_needed_changes_nothing() {
    let reactor = Reactor::new().unwrap();
    let seen = seen();
    let (s, r) = (seen.clone(), reactor.clone());
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                let r = r.clone();
                Recorder::new(&s).on_made(move |cx| {
                    cx.write(b"bye");
                    r.stop_with_deadline(Duration::from_secs(10)).unwrap();
                })
            }),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut stream = connect(address).unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        received
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap(), b"bye");
    assert_eq!(seen.lock().unwrap().lost, ["done"]);
    assert!(matches!(
        reactor.stop_with_deadline(Duration::ZERO),
        Err(Error::ReactorNotRunning)
    ));
}
