//! Data between a client and a server over loopback: exchange, addresses, writes from
//! other threads, handle calls, and pausing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, ProtocolHandle, Reactor};

#[test]
fn a_client_and_a_server_exchange_data() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let client = seen();
    let (c, r) = (client.clone(), reactor.clone());
    let factory = factory_fn(move |_: &Address| {
        Recorder::new(&c)
            .on_made(|cx| {
                cx.write(b"hello, ");
                cx.write_many(&[b"wor", b"ld"]);
            })
            .on_data(|cx, total| {
                if total == 12 {
                    cx.lose_connection();
                }
            })
            .on_lost(stop_on_lost(&r))
    });
    reactor.connect(port.local_addr(), factory).detach();
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    assert_eq!(client.made, 1);
    assert_eq!(client.data, b"hello, world");
    assert_eq!(client.lost, ["done"]);
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
        .listen(
            "127.0.0.1:0",
            factory_fn(move |peer: &Address| {
                let (sv, stop, peer) = (sv.clone(), stop.clone(), peer.clone());
                Recorder::new(&seen()).on_made(move |cx| {
                    *sv.lock().unwrap() =
                        Some((peer, cx.peer_addr().clone(), cx.host_addr().clone()));
                    stop();
                })
            }),
        )
        .unwrap();
    let client_view = Arc::new(Mutex::new(None));
    let cv = client_view.clone();
    reactor
        .connect(port.local_addr(), factory_fn(|_: &Address| Echo))
        .add_callback(move |handle| {
            *cv.lock().unwrap() = Some((handle.peer_addr().clone(), handle.host_addr().clone()));
            stop_when_both();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let (peer_seen_by_factory, server_peer, server_host) =
        server_view.lock().unwrap().clone().unwrap();
    let (client_peer, client_host) = client_view.lock().unwrap().clone().unwrap();
    assert_eq!(server_host, port.local_addr());
    assert_eq!(client_peer, port.local_addr());
    assert_eq!(server_peer, client_host);
    assert_eq!(peer_seen_by_factory, client_host);
}

#[test]
fn writes_from_another_thread_reach_the_peer() {
    const EXPECTED: usize = 1000 * 10;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let (s, r) = (server.clone(), reactor.clone());
    let port = reactor
        .listen(
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
        .connect(
            port.local_addr(),
            factory_fn(|_: &Address| Counter::default()),
        )
        .add_callback(|handle| {
            let transport = handle.transport().clone();
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

#[test]
fn handle_calls_run_in_order_inside_the_connection() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let (res, r) = (results.clone(), reactor.clone());
    reactor
        .connect(
            port.local_addr(),
            factory_fn(|_: &Address| Counter::default()),
        )
        .add_callback(move |handle| {
            for i in 0..10 {
                let res = res.clone();
                handle
                    .call(move |counter: &mut Counter, _| {
                        counter.chunks += 1;
                        (i, counter.chunks)
                    })
                    .add_callback(move |pair| res.lock().unwrap().push(pair))
                    .detach();
            }
            let r2 = r.clone();
            handle
                .call(move |_, _| {
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
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
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
                    .call(|_, _| ())
                    .add_both(move |result| {
                        *o.lock().unwrap() = Some(matches!(
                            result.map_err(|f| f
                                .downcast_ref::<Error>()
                                .map(|e| matches!(e, Error::ConnectionClosed))),
                            Err(Some(true))
                        ));
                        let _ = r.stop();
                    })
                    .detach();
            });
        })
    });
    reactor
        .connect(port.local_addr(), factory)
        .add_callback(move |handle| {
            handle.transport().lose_connection();
            *slot.lock().unwrap() = Some(handle);
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
}

/// Pauses reading as soon as it is connected and hands a handle on its transport out;
/// counts bytes; reports the total at EOF.
struct PausedCounter {
    transport_out: mpsc::Sender<TransportHandle>,
    received: Arc<AtomicUsize>,
    at_eof: Arc<Mutex<Option<usize>>>,
    reactor: Reactor,
}

impl Protocol for PausedCounter {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.pause_reading();
        self.transport_out.send(cx.transport_handle()).unwrap();
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.received.fetch_add(data.len(), Ordering::SeqCst);
    }

    fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
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
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| PausedCounter {
                transport_out: transport_tx.lock().unwrap().clone(),
                received: rcv.clone(),
                at_eof: eof.clone(),
                reactor: r.clone(),
            }),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let (result_tx, result_rx) = mpsc::channel();
    let rcv = received.clone();
    std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        let server_transport: TransportHandle = transport_rx.recv().unwrap();
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
        // Resume through the handle; then send EOF and let the server count everything.
        server_transport.resume_reading();
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

/// Writes `total` bytes at once when connected; records the producer callbacks.
struct Flooder {
    total: usize,
    events: Arc<Mutex<Vec<&'static str>>>,
    paused: mpsc::Sender<()>,
}

impl Protocol for Flooder {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(&vec![b'f'; self.total]);
        cx.lose_connection();
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        assert!(cx.write_buffer_size() > torsade::WRITE_BUFFER_HIGH);
        self.events.lock().unwrap().push("pause");
        let _ = self.paused.send(());
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        assert!(cx.write_buffer_size() <= torsade::WRITE_BUFFER_LOW);
        self.events.lock().unwrap().push("resume");
    }
}

#[test]
fn a_protocol_is_paused_above_the_high_water_mark_and_resumed_below_the_low_one() {
    // More than the kernel's socket buffers can absorb while the peer is not reading.
    const TOTAL: usize = 64 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let (paused_tx, paused_rx) = mpsc::channel();
    let e = events.clone();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Flooder {
                total: TOTAL,
                events: e.clone(),
                paused: paused_tx.clone(),
            }),
        )
        .unwrap();
    // A slow peer: it reads nothing until the server has been paused.
    let client = read_all_after_signal(
        port.local_addr().socket_addr().unwrap(),
        paused_rx,
        &reactor,
        "the server was paused",
    );
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap(), Ok(TOTAL));
    assert_eq!(*events.lock().unwrap(), ["pause", "resume"]);
}

#[test]
fn writes_through_a_line_context_and_through_the_transport_keep_their_order() {
    use torsade_protocols::{Line, LineContext, LineHandler};

    /// Answers each line by writing through the context, a transport handle taken in the
    /// callback and one kept from `connection_made`, interleaved.
    struct Mixer {
        kept: Option<TransportHandle>,
    }
    impl LineHandler for Mixer {
        fn connection_made(&mut self, lines: &mut LineContext<'_>) {
            self.kept = Some(lines.transport_handle());
        }
        fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
            let kept = self.kept.as_ref().expect("kept when connected");
            lines.write(b"1");
            lines.transport_handle().write(b"2");
            lines.write_many(&[b"3", &line]);
            kept.write(b"4");
            lines.send_line(b"5");
        }
    }

    let received = line_exchange(
        || Mixer { kept: None },
        b"a\r\nb\r\n",
        Some(b"123a45\r\n123b45\r\n".len()),
    );
    assert_eq!(received, b"123a45\r\n123b45\r\n");
}

#[test]
fn a_write_another_thread_makes_during_a_callback_follows_the_callbacks_own_writes() {
    // Each write happens after the one before it (the callback waits for the other
    // thread), so the peer sees them in that order. Both lines come in one read: all of
    // it happens inside one callback of the connection.
    assert_eq!(
        exchange_with_delegator(
            b"a\r\nb\r\n",
            b"own a; other a; after; own b; other b; after; "
        ),
        "own a; other a; after; own b; other b; after; "
    );
    // The last write of the callback is the other thread's: it follows the callback's
    // when these are handed over at its end.
    assert_eq!(
        exchange_with_delegator(b"last\r\n", b"own last; other last; "),
        "own last; other last; "
    );
}

/// Sends `input` to a server whose handler, for each line, writes its own answer, has
/// another thread write through a transport handle and waits for it, then (except
/// for the line `last`) writes once more; returns as many bytes as `expected` has.
fn exchange_with_delegator(input: &'static [u8], expected: &[u8]) -> String {
    use torsade_protocols::{Line, LineContext, LineHandler};

    struct Delegator;
    impl LineHandler for Delegator {
        fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
            lines.write_many(&[b"own ", &line, b"; "]);
            let transport = lines.transport_handle();
            let name = line.to_vec();
            std::thread::spawn(move || transport.write_many(&[b"other ", &name, b"; "]))
                .join()
                .unwrap();
            if &line[..] != b"last" {
                lines.write(b"after; ");
            }
        }
    }

    String::from_utf8_lossy(&line_exchange(|| Delegator, input, Some(expected.len()))).into_owned()
}

#[test]
fn no_line_is_delivered_over_tcp_after_the_handler_closes() {
    use torsade_protocols::{Line, LineContext, LineHandler};

    /// Echoes and records every line; closes on `QUIT`.
    struct Quitter(Arc<Mutex<Vec<String>>>);
    impl LineHandler for Quitter {
        fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&line).into_owned());
            lines.send_line(&line);
            if &line[..] == b"QUIT" {
                lines.lose_connection();
            }
        }
    }

    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    // One write: the lines after QUIT arrive in the same read as QUIT itself.
    let received = line_exchange(move || Quitter(s.clone()), b"a\r\nQUIT\r\nb\r\nc\r\n", None);
    assert_eq!(received, b"a\r\nQUIT\r\n");
    assert_eq!(*seen.lock().unwrap(), ["a", "QUIT"]);
}

/// Serves a `LineOnlyReceiver` around `handler()` on loopback, sends `input` from a client and
/// returns what the client reads back: `length` bytes, or up to the end if `None`.
fn line_exchange<H: torsade_protocols::LineHandler>(
    handler: impl Fn() -> H + Send + Sync + 'static,
    input: &'static [u8],
    length: Option<usize>,
) -> Vec<u8> {
    use torsade_protocols::LineOnlyReceiver;

    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| LineOnlyReceiver::new(handler())),
        )
        .unwrap();
    let (address, r) = (port.local_addr().socket_addr().unwrap(), reactor.clone());
    let client = std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(input).unwrap();
        let mut received = Vec::new();
        match length {
            Some(length) => {
                received.resize(length, 0);
                stream.read_exact(&mut received).unwrap();
            }
            None => {
                stream.read_to_end(&mut received).unwrap();
            }
        }
        let _ = r.stop();
        received
    });
    run_bounded(&reactor, LIMIT);
    client.join().unwrap()
}
