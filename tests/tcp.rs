//! The reactor over real loopback sockets: exchange, close semantics, client factory
//! events, handles, timers and graceful stop.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::run_bounded;
use torsade::prelude::*;
use torsade::{factory_fn, Address, ProtocolHandle, Reactor};

const LIMIT: Duration = Duration::from_secs(20);

/// Echoes everything back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
        transport.write(&data);
    }
}

/// What a [`Recorder`] saw.
#[derive(Debug, Default)]
struct Seen {
    made: usize,
    data: Vec<u8>,
    lost: Vec<String>,
}

type OnMade = Box<dyn FnOnce(&TransportRef) + Send>;
type OnData = Box<dyn FnMut(&TransportRef, usize) + Send>;
type OnLost = Box<dyn FnOnce() + Send>;

/// Records everything; runs its hooks from the matching callbacks.
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    on_made: Option<OnMade>,
    /// Called after each chunk with the total received so far.
    on_data: Option<OnData>,
    on_lost: Option<OnLost>,
}

impl Recorder {
    fn new(seen: &Arc<Mutex<Seen>>) -> Recorder {
        Recorder {
            seen: seen.clone(),
            on_made: None,
            on_data: None,
            on_lost: None,
        }
    }

    fn on_data(mut self, hook: impl FnMut(&TransportRef, usize) + Send + 'static) -> Recorder {
        self.on_data = Some(Box::new(hook));
        self
    }

    fn on_made(mut self, hook: impl FnOnce(&TransportRef) + Send + 'static) -> Recorder {
        self.on_made = Some(Box::new(hook));
        self
    }

    fn on_lost(mut self, hook: impl FnOnce() + Send + 'static) -> Recorder {
        self.on_lost = Some(Box::new(hook));
        self
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: &TransportRef) {
        self.seen.lock().unwrap().made += 1;
        if let Some(hook) = self.on_made.take() {
            hook(transport);
        }
    }

    fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
        let total = {
            let mut seen = self.seen.lock().unwrap();
            seen.data.extend_from_slice(&data);
            seen.data.len()
        };
        if let Some(hook) = &mut self.on_data {
            hook(transport, total);
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let label = match &reason {
            DisconnectReason::Done => "done".to_string(),
            DisconnectReason::Aborted => "aborted".to_string(),
            DisconnectReason::Lost(error) => format!("lost:{:?}", error.kind()),
            other => format!("{other}"),
        };
        self.seen.lock().unwrap().lost.push(label);
        if let Some(hook) = self.on_lost.take() {
            hook();
        }
    }
}

fn seen() -> Arc<Mutex<Seen>> {
    Arc::new(Mutex::new(Seen::default()))
}

fn stop_on_lost(reactor: &Reactor) -> impl FnOnce() + Send + 'static {
    let reactor = reactor.clone();
    move || {
        let _ = reactor.stop();
    }
}

/// A port nothing listens on.
fn refused_port() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

#[test]
fn a_client_and_a_server_exchange_data() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    let factory = factory_fn(move |_: &Address| {
        Recorder::new(&c)
            .on_made(|transport| {
                transport.write(b"hello, ");
                transport.write_many(&[b"wor", b"ld"]);
            })
            .on_data(|transport, total| {
                if total == 12 {
                    transport.lose_connection();
                }
            })
            .on_lost(stop_on_lost(&r))
    });
    reactor.connect_tcp(port.local_addr(), factory).detach();
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    assert_eq!(client.made, 1);
    assert_eq!(client.data, b"hello, world");
    assert_eq!(client.lost, ["done"]);
}

#[test]
fn lose_connection_flushes_pending_data_first() {
    const SIZE: usize = 8 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let s = server.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                Recorder::new(&s).on_made(|transport| {
                    transport.write(&vec![b'x'; SIZE]);
                    transport.lose_connection();
                })
            }),
        )
        .unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect_tcp(
            port.local_addr(),
            factory_fn(move |_: &Address| Recorder::new(&c).on_lost(stop_on_lost(&r))),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    assert_eq!(client.data.len(), SIZE);
    assert!(client.data.iter().all(|&byte| byte == b'x'));
    assert_eq!(client.lost, ["done"]);
    assert_eq!(server.lock().unwrap().lost, ["done"]);
}

#[test]
fn abort_connection_drops_pending_data() {
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let s = server.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                Recorder::new(&s).on_made(|transport| {
                    transport.write(&vec![b'x'; 1024 * 1024]);
                    transport.abort_connection();
                    assert_eq!(transport.write_buffer_size(), 0);
                })
            }),
        )
        .unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect_tcp(
            port.local_addr(),
            factory_fn(move |_: &Address| Recorder::new(&c).on_lost(stop_on_lost(&r))),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert!(client.lock().unwrap().data.is_empty());
    assert_eq!(client.lock().unwrap().lost.len(), 1);
    assert_eq!(server.lock().unwrap().lost, ["aborted"]);
}

#[test]
fn connection_lost_fires_exactly_once_per_connection() {
    const CLIENTS: usize = 20;
    let reactor = Reactor::new().unwrap();
    // Every end reports its loss here; the last of 2 x CLIENTS stops the reactor.
    let ends_lost = Arc::new(AtomicUsize::new(0));
    let count_and_maybe_stop = {
        let (ends_lost, r) = (ends_lost.clone(), reactor.clone());
        move || {
            let (ends_lost, r) = (ends_lost.clone(), r.clone());
            move || {
                if ends_lost.fetch_add(1, Ordering::SeqCst) + 1 == 2 * CLIENTS {
                    r.stop().unwrap();
                }
            }
        }
    };
    let server = seen();
    let (s, on_server_lost) = (server.clone(), count_and_maybe_stop.clone());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Recorder::new(&s).on_lost(on_server_lost())),
        )
        .unwrap();
    let client = seen();
    for i in 0..CLIENTS {
        let (c, on_client_lost) = (client.clone(), count_and_maybe_stop.clone());
        reactor
            .connect_tcp(
                port.local_addr(),
                factory_fn(move |_: &Address| {
                    Recorder::new(&c)
                        .on_made(move |transport| {
                            // Close in every way a connection can end.
                            match i % 3 {
                                0 => transport.lose_connection(),
                                1 => transport.abort_connection(),
                                _ => {
                                    transport.write(b"bye");
                                    transport.lose_connection();
                                    transport.lose_connection();
                                    transport.abort_connection();
                                }
                            }
                        })
                        .on_lost(on_client_lost())
                }),
            )
            .detach();
    }
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    let server = server.lock().unwrap();
    assert_eq!(client.made, CLIENTS);
    assert_eq!(client.lost.len(), CLIENTS);
    assert_eq!(server.made, CLIENTS);
    assert_eq!(server.lost.len(), CLIENTS, "{:?}", server.lost);
    assert_eq!(ends_lost.load(Ordering::SeqCst), 2 * CLIENTS);
}

/// A client factory recording its events.
#[derive(Default)]
struct RecordingClientFactory {
    events: Mutex<Vec<String>>,
    seen: Arc<Mutex<Seen>>,
}

impl ProtocolFactory for RecordingClientFactory {
    type Protocol = Recorder;

    fn build_protocol(&self, _: &Address) -> Option<Recorder> {
        self.events.lock().unwrap().push("build".into());
        Some(Recorder::new(&self.seen).on_made(|transport| transport.lose_connection()))
    }

    fn start_factory(&self) {
        self.events.lock().unwrap().push("start".into());
    }

    fn stop_factory(&self) {
        self.events.lock().unwrap().push("stop".into());
    }
}

impl ClientFactory for RecordingClientFactory {
    fn started_connecting(&self, _: &str) {
        self.events.lock().unwrap().push("connecting".into());
    }

    fn client_connection_failed(&self, error: &Error) {
        let kind = match error {
            Error::ConnectFailed { source, .. } => format!("{:?}", source.kind()),
            other => format!("{other}"),
        };
        self.events.lock().unwrap().push(format!("failed:{kind}"));
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        self.events
            .lock()
            .unwrap()
            .push(format!("lost:{}", reason.is_clean()));
    }
}

#[test]
fn a_refused_connection_reaches_the_client_factory_and_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    let address = refused_port();
    reactor
        .connect_tcp(address, factory.clone())
        .add_both(move |result: Result<ProtocolHandle<Recorder>, Failure>| {
            *o.lock().unwrap() = Some(result.map(|_| ()).map_err(|failure| failure.to_string()));
            let _ = r.stop();
            Ok::<(), Failure>(())
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *factory.events.lock().unwrap(),
        ["connecting", "start", "failed:ConnectionRefused", "stop"]
    );
    let message = outcome.lock().unwrap().clone().unwrap().unwrap_err();
    assert!(
        message.starts_with(&format!("connection to {address} failed")),
        "{message}"
    );
}

#[test]
fn a_client_factory_sees_build_made_and_lost_in_order() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let r = reactor.clone();
    reactor
        .connect_tcp(port.local_addr(), factory.clone())
        .add_callback(move |handle| {
            let r = r.clone();
            // The handle fires after connection_made: the protocol already asked to close.
            assert!(handle.transport().is_closing());
            handle
                .call(|_| ())
                .add_both(move |result| {
                    // Queued after the close: it may run or fail, but it always fires.
                    let _ = result;
                    let _ = r.stop();
                    Ok::<(), Failure>(())
                })
                .detach();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let events = factory.events.lock().unwrap();
    assert_eq!(events[..3], ["connecting", "start", "build"]);
    assert_eq!(events[3..], ["lost:true", "stop"]);
    assert_eq!(factory.seen.lock().unwrap().made, 1);
}

/// Refuses every connection.
struct Refuser;

impl ProtocolFactory for Refuser {
    type Protocol = Echo;

    fn build_protocol(&self, _: &Address) -> Option<Echo> {
        None
    }
}

#[test]
fn a_factory_refusing_a_connection_closes_it() {
    let reactor = Reactor::new().unwrap();
    let port = reactor.listen_tcp("127.0.0.1:0", Refuser).unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect_tcp(
            port.local_addr(),
            factory_fn(move |_: &Address| Recorder::new(&c).on_lost(stop_on_lost(&r))),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    assert_eq!(client.made, 1);
    assert!(client.data.is_empty());
    assert_eq!(client.lost.len(), 1);
}

#[test]
fn a_client_refused_by_its_own_factory_fails_with_no_protocol() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    struct RefusingClient;
    impl ProtocolFactory for RefusingClient {
        type Protocol = Echo;
        fn build_protocol(&self, _: &Address) -> Option<Echo> {
            None
        }
    }
    impl ClientFactory for RefusingClient {}
    let outcome = Arc::new(Mutex::new(String::new()));
    let (o, r) = (outcome.clone(), reactor.clone());
    reactor
        .connect_tcp(port.local_addr(), RefusingClient)
        .add_errback(move |failure: Failure| {
            *o.lock().unwrap() = failure.to_string();
            let _ = r.stop();
            Err::<ProtocolHandle<Echo>, _>(failure)
        })
        .add_both(|result| Ok::<bool, Failure>(result.is_err()))
        .detach();
    run_bounded(&reactor, LIMIT);
    assert!(outcome
        .lock()
        .unwrap()
        .starts_with("the factory refused the connection"));
}

#[test]
fn listening_on_a_taken_port_is_an_error() {
    let reactor = Reactor::new().unwrap();
    let taken = StdListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let error = reactor
        .listen_tcp(address, factory_fn(|_: &Address| Echo))
        .unwrap_err();
    match error {
        Error::CannotListen { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse)
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn addresses_are_reported_on_both_ends() {
    let reactor = Reactor::new().unwrap();
    let views = Arc::new(AtomicUsize::new(0));
    let stop_when_both = {
        let (views, r) = (views.clone(), reactor.clone());
        move || {
            if views.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                r.stop().unwrap();
            }
        }
    };
    let server_view = Arc::new(Mutex::new(None));
    let (sv, stop) = (server_view.clone(), stop_when_both.clone());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |peer: &Address| {
                let (sv, stop, peer) = (sv.clone(), stop.clone(), *peer);
                Recorder::new(&seen()).on_made(move |transport| {
                    *sv.lock().unwrap() =
                        Some((peer, transport.peer_addr(), transport.host_addr()));
                    stop();
                })
            }),
        )
        .unwrap();
    let client_view = Arc::new(Mutex::new(None));
    let cv = client_view.clone();
    reactor
        .connect_tcp(port.local_addr(), factory_fn(|_: &Address| Echo))
        .add_callback(move |handle| {
            *cv.lock().unwrap() = Some((handle.peer_addr(), handle.host_addr()));
            stop_when_both();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let (peer_seen_by_factory, server_peer, server_host) = server_view.lock().unwrap().unwrap();
    let (client_peer, client_host) = client_view.lock().unwrap().unwrap();
    assert_eq!(server_host, Address::Tcp(port.local_addr()));
    assert_eq!(client_peer, Address::Tcp(port.local_addr()));
    assert_eq!(server_peer, client_host);
    assert_eq!(peer_seen_by_factory, client_host);
}

/// Counts bytes; can be paused from outside.
#[derive(Default)]
struct Counter {
    bytes: usize,
    chunks: usize,
}

impl Protocol for Counter {
    fn data_received(&mut self, _: &TransportRef, data: Bytes) {
        self.bytes += data.len();
        self.chunks += 1;
    }
}

#[test]
fn handle_calls_run_in_order_inside_the_connection() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let (res, r) = (results.clone(), reactor.clone());
    reactor
        .connect_tcp(
            port.local_addr(),
            factory_fn(|_: &Address| Counter::default()),
        )
        .add_callback(move |handle| {
            for i in 0..10 {
                let res = res.clone();
                handle
                    .call(move |counter: &mut Counter| {
                        counter.chunks += 1;
                        (i, counter.chunks)
                    })
                    .add_callback(move |pair| res.lock().unwrap().push(pair))
                    .detach();
            }
            let r2 = r.clone();
            handle
                .call(move |_| {
                    let _ = r2.stop();
                })
                .detach();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let results = results.lock().unwrap();
    let expected: Vec<(usize, usize)> = (0..10).map(|i| (i, i + 1)).collect();
    assert_eq!(*results, expected);
}

#[test]
fn handle_calls_after_the_connection_ended_fail_with_connection_closed() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    let slot: Arc<Mutex<Option<ProtocolHandle<Recorder>>>> = Arc::new(Mutex::new(None));
    let slot_on_lost = slot.clone();
    let factory = factory_fn(move |_: &Address| {
        let (slot, o, r) = (slot_on_lost.clone(), o.clone(), r.clone());
        Recorder::new(&seen()).on_lost(move || {
            // Ask the dead connection's protocol something, after it ended.
            let handle = slot.lock().unwrap().clone().unwrap();
            let later = r.clone();
            later.call_later(Duration::ZERO, move || {
                handle
                    .call(|_| ())
                    .add_both(move |result| {
                        *o.lock().unwrap() = Some(matches!(
                            result.map_err(|f| f
                                .downcast_ref::<Error>()
                                .map(|e| matches!(e, Error::ConnectionClosed))),
                            Err(Some(true))
                        ));
                        let _ = r.stop();
                        Ok::<(), Failure>(())
                    })
                    .detach();
            });
        })
    });
    reactor
        .connect_tcp(port.local_addr(), factory)
        .add_callback(move |handle| {
            handle.transport().lose_connection();
            *slot.lock().unwrap() = Some(handle);
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
}

#[test]
fn writes_from_another_thread_reach_the_peer() {
    const EXPECTED: usize = 1000 * 10;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let (s, r) = (server.clone(), reactor.clone());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                let r = r.clone();
                Recorder::new(&s).on_data(move |_, total| {
                    if total == EXPECTED {
                        r.stop().unwrap();
                    }
                })
            }),
        )
        .unwrap();
    reactor
        .connect_tcp(
            port.local_addr(),
            factory_fn(|_: &Address| Counter::default()),
        )
        .add_callback(|handle| {
            let transport = handle.transport();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    transport.write(b"0123456789");
                }
            });
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(server.lock().unwrap().data, b"0123456789".repeat(1000));
}

/// Pauses reading as soon as it is connected and hands its transport out; counts bytes;
/// reports the total at EOF.
struct PausedCounter {
    transport_out: mpsc::Sender<TransportRef>,
    received: Arc<AtomicUsize>,
    at_eof: Arc<Mutex<Option<usize>>>,
    reactor: Reactor,
}

impl Protocol for PausedCounter {
    fn connection_made(&mut self, transport: &TransportRef) {
        transport.pause_reading();
        self.transport_out.send(transport.clone()).unwrap();
    }

    fn data_received(&mut self, _: &TransportRef, data: Bytes) {
        self.received.fetch_add(data.len(), Ordering::SeqCst);
    }

    fn eof_received(&mut self, _: &TransportRef) -> bool {
        *self.at_eof.lock().unwrap() = Some(self.received.load(Ordering::SeqCst));
        self.reactor.stop().unwrap();
        false
    }
}

#[test]
fn a_paused_transport_stops_reading_until_resumed() {
    let reactor = Reactor::new().unwrap();
    let (transport_tx, transport_rx) = mpsc::channel();
    let received = Arc::new(AtomicUsize::new(0));
    let at_eof = Arc::new(Mutex::new(None));
    let (rcv, eof, r) = (received.clone(), at_eof.clone(), reactor.clone());
    let transport_tx = Mutex::new(transport_tx);
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| PausedCounter {
                transport_out: transport_tx.lock().unwrap().clone(),
                received: rcv.clone(),
                at_eof: eof.clone(),
                reactor: r.clone(),
            }),
        )
        .unwrap();
    let address = port.local_addr();
    let (result_tx, result_rx) = mpsc::channel();
    let (r, rcv) = (reactor.clone(), received.clone());
    std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        let server_transport: TransportRef = transport_rx.recv().unwrap();
        // While the server is paused, the kernel buffers fill and writing blocks.
        stream.set_nonblocking(true).unwrap();
        let chunk = vec![3u8; 64 * 1024];
        let mut written = 0usize;
        let blocked = loop {
            match stream.write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(e) => panic!("write failed: {e}"),
            }
            if written > 256 * 1024 * 1024 {
                break false;
            }
        };
        let received_while_paused = rcv.load(Ordering::SeqCst);
        result_tx
            .send((blocked, received_while_paused, written))
            .unwrap();
        // Resume on the loop; then send EOF and let the server count everything.
        r.call_later(Duration::ZERO, move || server_transport.resume_reading());
        stream.set_nonblocking(false).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = stream.read_to_end(&mut rest);
    });
    run_bounded(&reactor, LIMIT);
    let (blocked, received_while_paused, written) = result_rx.recv().unwrap();
    assert!(blocked, "the peer was never slowed down");
    assert_eq!(received_while_paused, 0);
    assert_eq!(*at_eof.lock().unwrap(), Some(written));
}

#[test]
fn eof_received_can_keep_the_connection_half_open() {
    /// Answers with the byte count once the peer finished sending.
    #[derive(Default)]
    struct CountThenAnswer {
        bytes: usize,
    }
    impl Protocol for CountThenAnswer {
        fn data_received(&mut self, _: &TransportRef, data: Bytes) {
            self.bytes += data.len();
        }
        fn eof_received(&mut self, transport: &TransportRef) -> bool {
            transport.write(format!("{} bytes", self.bytes).as_bytes());
            transport.lose_connection();
            true
        }
    }
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(|_: &Address| CountThenAnswer::default()),
        )
        .unwrap();
    let address = port.local_addr();
    let (tx, rx) = mpsc::channel();
    let r = reactor.clone();
    std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(&[1u8; 5000]).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let result = stream.read_to_string(&mut answer).map(|_| answer);
        tx.send(result.map_err(|e| e.to_string())).unwrap();
        let _ = r.stop();
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(rx.recv().unwrap().unwrap(), "5000 bytes");
}

#[test]
fn the_default_eof_received_closes_the_connection() {
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let s = server.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Recorder::new(&s)),
        )
        .unwrap();
    let address = port.local_addr();
    let (tx, rx) = mpsc::channel();
    let r = reactor.clone();
    std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(b"last words").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        tx.send(stream.read_to_end(&mut rest).map_err(|e| e.to_string()))
            .unwrap();
        let _ = r.stop();
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(rx.recv().unwrap(), Ok(0));
    let server = server.lock().unwrap();
    assert_eq!(server.data, b"last words");
    assert_eq!(server.lost, ["done"]);
}

#[test]
fn a_panicking_protocol_aborts_only_its_own_connection() {
    /// Panics on the byte `!`, echoes otherwise.
    struct Fragile;
    impl Protocol for Fragile {
        fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
            if data.contains(&b'!') {
                panic!("cannot handle excitement");
            }
            transport.write(&data);
        }
    }
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Fragile))
        .unwrap();
    let address = port.local_addr();
    let (tx, rx) = mpsc::channel();
    let r = reactor.clone();
    std::thread::spawn(move || {
        let mut excited = StdStream::connect(address).unwrap();
        let mut calm = StdStream::connect(address).unwrap();
        for stream in [&excited, &calm] {
            stream.set_read_timeout(Some(LIMIT)).unwrap();
        }
        excited.write_all(b"wow!").unwrap();
        let mut rest = Vec::new();
        let excited_outcome = excited
            .read_to_end(&mut rest)
            .map(|n| n == 0)
            .unwrap_or(true);
        calm.write_all(b"hello").unwrap();
        let mut echo = [0u8; 5];
        calm.read_exact(&mut echo).unwrap();
        tx.send((excited_outcome, echo)).unwrap();
        let _ = r.stop();
    });
    run_bounded(&reactor, LIMIT);
    let (excited_closed, echo) = rx.recv().unwrap();
    assert!(excited_closed);
    assert_eq!(&echo, b"hello");
}

#[test]
fn call_later_runs_in_order_and_skips_cancelled_calls() {
    let reactor = Reactor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for (name, delay_ms) in [("c", 2), ("a", 0), ("b", 1), ("x", 1), ("a2", 0), ("c2", 2)] {
        let log = log.clone();
        calls.push((
            name,
            reactor.call_later(Duration::from_millis(delay_ms), move || {
                log.lock().unwrap().push(name)
            }),
        ));
    }
    calls
        .iter()
        .find(|(name, _)| *name == "x")
        .unwrap()
        .1
        .cancel()
        .unwrap();
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(5), move || {
        let _ = r.stop();
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.lock().unwrap(), ["a", "a2", "b", "c", "c2"]);
}

#[test]
fn call_when_running_hooks_run_in_order_once_running() {
    let reactor = Reactor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let (log, r) = (log.clone(), reactor.clone());
        reactor.call_when_running(move || {
            assert!(r.is_running());
            log.lock().unwrap().push(i);
        });
    }
    assert!(log.lock().unwrap().is_empty());
    let r = reactor.clone();
    reactor.call_when_running(move || {
        let r2 = r.clone();
        // Already running: deferred to the next turn, still runs.
        r.call_when_running(move || {
            let _ = r2.stop();
        });
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn stop_on_a_reactor_that_is_not_running_is_an_error() {
    let reactor = Reactor::new().unwrap();
    assert!(matches!(reactor.stop(), Err(Error::ReactorNotRunning)));
}

#[test]
fn a_reactor_runs_only_once() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor.run().unwrap();
    assert!(matches!(reactor.run(), Err(Error::ReactorCannotRun { .. })));
    assert!(matches!(reactor.stop(), Err(Error::ReactorNotRunning)));
}

#[test]
fn graceful_stop_flushes_every_connection_and_fires_each_connection_lost_once() {
    const CLIENTS: usize = 50;
    const SIZE: usize = 256 * 1024;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let (s, r) = (server.clone(), reactor.clone());
    let made = Arc::new(AtomicUsize::new(0));
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                let (r, made) = (r.clone(), made.clone());
                Recorder::new(&s).on_made(move |transport| {
                    // Queue more than the socket buffers hold, then stop once everyone is here.
                    transport.write(&vec![b'z'; SIZE]);
                    if made.fetch_add(1, Ordering::SeqCst) + 1 == CLIENTS {
                        r.stop().unwrap();
                    }
                })
            }),
        )
        .unwrap();
    let address = port.local_addr();
    let (tx, rx) = mpsc::channel();
    for _ in 0..CLIENTS {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stream = StdStream::connect(address).unwrap();
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let mut received = Vec::new();
            let outcome = stream.read_to_end(&mut received).map(|_| received.len());
            tx.send(outcome.map_err(|e| e.to_string())).unwrap();
        });
    }
    drop(tx);
    run_bounded(&reactor, LIMIT);
    let received: Vec<_> = rx.iter().collect();
    assert_eq!(received.len(), CLIENTS);
    assert!(
        received.iter().all(|outcome| *outcome == Ok(SIZE)),
        "{received:?}"
    );
    let server = server.lock().unwrap();
    assert_eq!(server.made, CLIENTS);
    assert_eq!(server.lost.len(), CLIENTS);
    assert!(
        server.lost.iter().all(|reason| reason == "done"),
        "{:?}",
        server.lost
    );
    assert_eq!(reactor.connection_count(), 0);
}

#[test]
fn stop_listening_closes_the_port_and_runs_stop_factory() {
    #[derive(Default)]
    struct Tracked {
        stopped: AtomicUsize,
    }
    impl ProtocolFactory for Tracked {
        type Protocol = Echo;
        fn build_protocol(&self, _: &Address) -> Option<Echo> {
            Some(Echo)
        }
        fn stop_factory(&self) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }
    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(Tracked::default());
    let port = reactor.listen_tcp("127.0.0.1:0", factory.clone()).unwrap();
    let address = port.local_addr();
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    port.stop_listening()
        .add_callback(move |()| {
            let o = o.clone();
            let r2 = r.clone();
            // A new connection is now refused.
            r.connect_tcp(address, factory_fn(|_: &Address| Echo))
                .add_both(move |result| {
                    *o.lock().unwrap() = Some(result.is_err());
                    let _ = r2.stop();
                    Ok::<(), Failure>(())
                })
                .detach();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
    assert_eq!(factory.stopped.load(Ordering::SeqCst), 1);
}

#[test]
fn a_connection_attempt_that_gets_no_answer_times_out() {
    // A listener that never accepts, with a backlog of 1: once its queue is full, the
    // kernel drops further SYNs and a connection attempt hears nothing back.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let silent = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(1).unwrap()
    });
    let address = silent.local_addr().unwrap();
    let mut fillers = Vec::new();
    let queue_full =
        (0..16).any(
            |_| match StdStream::connect_timeout(&address, Duration::from_millis(200)) {
                Ok(stream) => {
                    fillers.push(stream);
                    false
                }
                Err(_) => true,
            },
        );
    assert!(queue_full, "could not fill the listen queue");

    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    reactor
        .connect_tcp_with_timeout(address, factory.clone(), Duration::from_millis(300))
        .add_both(move |result| {
            *o.lock().unwrap() = Some(match result {
                Err(failure) => matches!(
                    failure.downcast_ref::<Error>(),
                    Some(Error::ConnectTimeout { .. })
                ),
                Ok(_) => false,
            });
            let _ = r.stop();
            Ok::<(), Failure>(())
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
    let events = factory.events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|event| event.starts_with("failed:connection to") && event.contains("timed out")),
        "{events:?}"
    );
    drop(fillers);
    drop(silent);
}
