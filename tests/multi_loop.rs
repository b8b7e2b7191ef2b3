//! A reactor with several event loops: connections spread over them, each connection's
//! callbacks and timers on its own loop, graceful stop across all of them.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use common::run_bounded;
use torsade::prelude::*;
use torsade::{endpoints, factory_fn, Address, Reactor};

const LIMIT: Duration = Duration::from_secs(20);
const CLIENTS: usize = 32;

fn two_loops() -> Reactor {
    Reactor::with_loops(NonZeroUsize::new(2).unwrap()).unwrap()
}

/// Where each callback of one connection ran.
#[derive(Default)]
struct Threads {
    seen: Mutex<Vec<(usize, &'static str, ThreadId)>>,
    lost: AtomicUsize,
}

/// Echoes; records the thread of every callback, and of a timer it schedules.
struct Tracker {
    id: usize,
    threads: Arc<Threads>,
    reactor: Reactor,
}

impl Tracker {
    fn record(&self, what: &'static str) {
        let thread = std::thread::current().id();
        self.threads
            .seen
            .lock()
            .unwrap()
            .push((self.id, what, thread));
    }
}

impl Protocol for Tracker {
    fn connection_made(&mut self, _: &mut Context<'_, Self>) {
        self.record("made");
        let (id, threads) = (self.id, self.threads.clone());
        self.reactor.call_later(Duration::ZERO, move || {
            let thread = std::thread::current().id();
            threads.seen.lock().unwrap().push((id, "timer", thread));
        });
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.record("data");
        cx.write(&data);
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        self.record("lost");
        self.threads.lost.fetch_add(1, Ordering::SeqCst);
    }
}

fn tracker_factory(
    reactor: &Reactor,
    threads: &Arc<Threads>,
) -> impl ProtocolFactory<Protocol = Tracker> {
    let (reactor, threads) = (reactor.clone(), threads.clone());
    let ids = AtomicUsize::new(0);
    factory_fn(move |_: &Address| Tracker {
        id: ids.fetch_add(1, Ordering::SeqCst),
        threads: threads.clone(),
        reactor: reactor.clone(),
    })
}

/// Connects `CLIENTS` blocking clients that each echo one line, then stops the reactor.
fn exchange(
    reactor: &Reactor,
    address: std::net::SocketAddr,
) -> std::thread::JoinHandle<Vec<String>> {
    let r = reactor.clone();
    std::thread::spawn(move || {
        let mut streams: Vec<StdStream> = (0..CLIENTS)
            .map(|_| StdStream::connect(address).unwrap())
            .collect();
        let mut echoes = Vec::new();
        for (index, stream) in streams.iter_mut().enumerate() {
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let line = format!("client {index}\n");
            stream.write_all(line.as_bytes()).unwrap();
            let mut echo = vec![0; line.len()];
            stream.read_exact(&mut echo).unwrap();
            echoes.push(String::from_utf8(echo).unwrap());
        }
        r.stop().unwrap();
        echoes
    })
}

#[test]
fn connections_spread_over_the_loops_and_keep_to_one_thread_each() {
    let reactor = two_loops();
    assert_eq!(reactor.loops(), 2);
    let threads = Arc::new(Threads::default());
    let port = reactor
        .listen("127.0.0.1:0", tracker_factory(&reactor, &threads))
        .unwrap();
    let client = exchange(&reactor, port.local_addr().socket_addr().unwrap());
    run_bounded(&reactor, LIMIT);
    let echoes = client.join().unwrap();
    assert_eq!(echoes.len(), CLIENTS);
    assert!(echoes
        .iter()
        .enumerate()
        .all(|(i, echo)| *echo == format!("client {i}\n")));
    let seen = threads.seen.lock().unwrap();
    // Every callback and timer of one connection ran on one thread...
    for id in 0..CLIENTS {
        let of_this: HashSet<ThreadId> = seen
            .iter()
            .filter(|(c, ..)| *c == id)
            .map(|(.., t)| *t)
            .collect();
        assert_eq!(of_this.len(), 1, "connection {id} ran on {of_this:?}");
        let kinds: HashSet<&str> = seen
            .iter()
            .filter(|(c, ..)| *c == id)
            .map(|(_, k, _)| *k)
            .collect();
        assert!(
            ["made", "data", "timer", "lost"]
                .iter()
                .all(|k| kinds.contains(k)),
            "{kinds:?}"
        );
    }
    // ...and the connections used both loops.
    let loops: HashSet<ThreadId> = seen.iter().map(|(.., t)| *t).collect();
    assert_eq!(loops.len(), 2, "all connections landed on one loop");
    assert_eq!(threads.lost.load(Ordering::SeqCst), CLIENTS);
}

#[test]
fn an_adopted_listener_is_served_by_every_loop_and_stops_cleanly() {
    let reactor = two_loops();
    let threads = Arc::new(Threads::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let port = reactor
        .listen(
            endpoints::AdoptedServer::tcp(listener),
            tracker_factory(&reactor, &threads),
        )
        .unwrap();
    assert_eq!(port.local_addr().socket_addr(), Some(address));
    let client = exchange(&reactor, address);
    run_bounded(&reactor, LIMIT);
    let echoes = client.join().unwrap();
    assert_eq!(echoes.len(), CLIENTS);
    assert_eq!(threads.lost.load(Ordering::SeqCst), CLIENTS);
    assert!(!port.is_listening(), "the stop closed the adopted socket");
    assert!(
        StdStream::connect(address).is_err(),
        "nothing listens once the reactor has stopped"
    );
}

#[test]
fn a_connection_opened_by_a_protocol_lives_on_the_openers_loop() {
    /// Opens a connection to `target` when connected, and records both threads.
    struct Opener {
        target: std::net::SocketAddr,
        reactor: Reactor,
        result: Arc<Mutex<Option<(ThreadId, ThreadId)>>>,
    }
    impl Protocol for Opener {
        fn connection_made(&mut self, _: &mut Context<'_, Self>) {
            let here = std::thread::current().id();
            let (result, reactor) = (self.result.clone(), self.reactor.clone());
            let for_factory = reactor.clone();
            self.reactor
                .connect(
                    self.target,
                    factory_fn(move |_: &Address| Tracker {
                        id: usize::MAX,
                        threads: Arc::new(Threads::default()),
                        reactor: for_factory.clone(),
                    }),
                )
                .add_callback(move |handle| {
                    let there = std::thread::current().id();
                    *result.lock().unwrap() = Some((here, there));
                    handle.transport().lose_connection();
                    reactor.stop().unwrap();
                })
                .detach();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let reactor = two_loops();
    let threads = Arc::new(Threads::default());
    let target = reactor
        .listen("127.0.0.1:0", tracker_factory(&reactor, &threads))
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap();
    let result = Arc::new(Mutex::new(None));
    let (r, res) = (reactor.clone(), result.clone());
    let opener = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Opener {
                target,
                reactor: r.clone(),
                result: res.clone(),
            }),
        )
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap();
    let _client = std::thread::spawn(move || {
        StdStream::connect(opener).map(|stream| {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(LIMIT));
            let _ = stream.read(&mut [0u8; 1]);
        })
    });
    run_bounded(&reactor, LIMIT);
    let (here, there) = result
        .lock()
        .unwrap()
        .expect("the inner connection was made");
    assert_eq!(here, there);
}

#[test]
fn graceful_stop_closes_connections_on_every_loop() {
    let reactor = two_loops();
    let threads = Arc::new(Threads::default());
    let port = reactor
        .listen("127.0.0.1:0", tracker_factory(&reactor, &threads))
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let r = reactor.clone();
    let clients = std::thread::spawn(move || {
        let streams: Vec<StdStream> = (0..CLIENTS)
            .map(|_| StdStream::connect(address).unwrap())
            .collect();
        // Every connection echoes once, so all are up on their loops before the stop.
        for mut stream in &streams {
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            stream.write_all(b"x").unwrap();
            stream.read_exact(&mut [0u8; 1]).unwrap();
        }
        r.stop().unwrap();
        streams
            .into_iter()
            .map(|mut stream| {
                let mut rest = Vec::new();
                stream
                    .read_to_end(&mut rest)
                    .map(|n| n == 0)
                    .unwrap_or(false)
            })
            .collect::<Vec<bool>>()
    });
    run_bounded(&reactor, LIMIT);
    let closed_cleanly = clients.join().unwrap();
    assert!(closed_cleanly.iter().all(|clean| *clean));
    assert_eq!(threads.lost.load(Ordering::SeqCst), CLIENTS);
    assert_eq!(reactor.connection_count(), 0);
}
