//! How connections end over loopback: flushing, aborting, half-close, panics, refusal,
//! and `connection_lost` exactly once.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};

#[test]
fn lose_connection_flushes_pending_data_first() {
    const SIZE: usize = 8 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let s = server.clone();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                Recorder::new(&s).on_made(|cx| {
                    cx.write(&vec![b'x'; SIZE]);
                    cx.lose_connection();
                })
            }),
        )
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
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                Recorder::new(&s).on_made(|cx| {
                    cx.write(&vec![b'x'; 1024 * 1024]);
                    cx.abort_connection();
                    assert_eq!(cx.write_buffer_size(), 0);
                })
            }),
        )
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
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Recorder::new(&s).on_lost(on_server_lost())),
        )
        .unwrap();
    let client = seen();
    for i in 0..CLIENTS {
        let (c, on_client_lost) = (client.clone(), count_and_maybe_stop.clone());
        reactor
            .connect(
                port.local_addr(),
                factory_fn(move |_: &Address| {
                    Recorder::new(&c)
                        .on_made(move |cx| {
                            // Close in every way a connection can end.
                            match i % 3 {
                                0 => cx.lose_connection(),
                                1 => cx.abort_connection(),
                                _ => {
                                    cx.write(b"bye");
                                    cx.lose_connection();
                                    cx.lose_connection();
                                    cx.abort_connection();
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

#[test]
fn eof_received_can_keep_the_connection_half_open() {
    /// Answers with the byte count once the peer finished sending.
    #[derive(Default)]
    struct CountThenAnswer {
        bytes: usize,
    }
    impl Protocol for CountThenAnswer {
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
            self.bytes += data.len();
        }
        fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
            cx.write(format!("{} bytes", self.bytes).as_bytes());
            cx.lose_connection();
            true
        }
    }
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(|_: &Address| CountThenAnswer::default()),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
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
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Recorder::new(&s)),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
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
        fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
            if data.contains(&b'!') {
                panic!("cannot handle excitement");
            }
            cx.write(&data);
        }
    }
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Fragile))
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
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
        let excited_port = excited.local_addr().unwrap().port();
        tx.send((excited_outcome, echo, excited_port)).unwrap();
        let _ = r.stop();
    });
    let logs = capture_logs(|| run_bounded(&reactor, LIMIT));
    let (excited_closed, echo, excited_port) = rx.recv().unwrap();
    assert!(excited_closed);
    assert_eq!(&echo, b"hello");
    // The panic is logged, with the address of the connection it ended.
    let logged = logs
        .lines()
        .find(|line| line.contains("panicked"))
        .unwrap_or_else(|| panic!("no panic logged:\n{logs}"));
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(logged.contains("cannot handle excitement"), "{logged}");
    assert!(
        logged.contains(&format!("peer=127.0.0.1:{excited_port}")),
        "{logged}"
    );
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
    let port = reactor.listen("127.0.0.1:0", Refuser).unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect(
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
