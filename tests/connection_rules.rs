//! The connection rules, each checked by one test body on both drivers: the test driver
//! (`TestConnection`, in memory, fake clock) and the reactor (a TCP connection over
//! loopback, a real peer socket). A rule that differed between them would fail here.
//!
//! A body talks to the connection through [`Peer`] — send, half-close, read, wait for the
//! protocol's `connection_lost` — and reads what the protocol saw in its [`Log`].

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use common::LIMIT;
use torsade::prelude::*;
use torsade::testing::TestConnection;
use torsade::{factory_fn, Address, Reactor};

/// What the protocol under test saw.
#[derive(Debug, Default)]
struct Log {
    received: Vec<u8>,
    eof: bool,
    lost: Option<String>,
    /// `pause_producing` and `resume_producing`, in the order they came.
    pressure: Vec<&'static str>,
    /// How many times `reading_resumed` was called.
    resumed: usize,
}

type Shared = Arc<Mutex<Log>>;

/// How a test protocol reacts: to each chunk received, to EOF, and to its idle timeout.
struct Rules {
    log: Shared,
    on_made: fn(&mut Context<'_, Probe>),
    on_data: fn(&mut Context<'_, Probe>, &[u8]),
    /// What `eof_received` answers (after writing `eof_reply`).
    keep_open_on_eof: bool,
    eof_reply: &'static [u8],
    lost: Option<mpsc::Sender<()>>,
}

/// The protocol under test: records into its log and follows its `Rules`.
struct Probe(Rules);

impl Protocol for Probe {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        (self.0.on_made)(cx);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.0.log.lock().unwrap().received.extend_from_slice(&data);
        (self.0.on_data)(cx, &data);
    }

    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        self.0.log.lock().unwrap().eof = true;
        if !self.0.eof_reply.is_empty() {
            cx.write(self.0.eof_reply);
            cx.lose_connection();
        }
        self.0.keep_open_on_eof
    }

    fn pause_producing(&mut self, _: &mut Context<'_, Self>) {
        self.0.log.lock().unwrap().pressure.push("pause");
    }

    fn resume_producing(&mut self, _: &mut Context<'_, Self>) {
        self.0.log.lock().unwrap().pressure.push("resume");
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        self.0.log.lock().unwrap().resumed += 1;
        cx.write(b"R\n");
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let label = match &reason {
            DisconnectReason::Done => "done".to_string(),
            DisconnectReason::Aborted => "aborted".to_string(),
            DisconnectReason::Lost(ConnectionError::IdleTimeout { .. }) => "idle".to_string(),
            DisconnectReason::Lost(ConnectionError::Protocol(error)) => format!("protocol:{error}"),
            other => format!("{other}"),
        };
        self.0.log.lock().unwrap().lost = Some(label);
        if let Some(lost) = self.0.lost.take() {
            let _ = lost.send(());
        }
    }
}

fn nothing(_: &mut Context<'_, Probe>) {}
fn nothing_on_data(_: &mut Context<'_, Probe>, _: &[u8]) {}

/// The peer's side of a connection under test, on either driver.
trait Peer {
    fn send(&mut self, data: &[u8]);
    /// Shuts down the peer's writing side: the protocol reads EOF.
    fn send_eof(&mut self);
    /// Reads exactly `count` bytes the protocol wrote.
    fn read_exact(&mut self, count: usize) -> Vec<u8>;
    /// Reads what has come, at least one byte (over TCP, at most `most`).
    fn read_exact_up_to(&mut self, most: usize) -> Vec<u8>;
    /// Reads until the protocol's side shuts down its writing side (or the connection
    /// ends); everything that came.
    fn read_to_end(&mut self) -> Vec<u8>;
    /// Waits until the protocol's `connection_lost` has run (time passes as needed: the
    /// fake clock is advanced in memory; on the reactor, real time runs).
    fn wait_lost(&mut self);
}

/// The test driver: the connection in memory, the test as its peer.
struct InMemory(TestConnection<Probe>);

impl Peer for InMemory {
    fn send(&mut self, data: &[u8]) {
        self.0.receive(data);
    }

    fn send_eof(&mut self) {
        self.0.receive_eof();
    }

    fn read_exact(&mut self, count: usize) -> Vec<u8> {
        let read = self.0.take_written();
        assert_eq!(
            read.len(),
            count,
            "in memory, what was written is there at once"
        );
        read.to_vec()
    }

    fn read_exact_up_to(&mut self, _: usize) -> Vec<u8> {
        self.0.take_written().to_vec()
    }

    fn read_to_end(&mut self) -> Vec<u8> {
        let mut read = self.0.take_written().to_vec();
        // Taking the last bytes lets a close waiting for them complete.
        read.extend_from_slice(&self.0.take_written());
        assert!(
            self.0.is_write_shut() || self.0.is_lost(),
            "the connection's write side is shut after what it sent"
        );
        read
    }

    fn wait_lost(&mut self) {
        // Up to a minute of fake time, a second at a time: the idle timeouts below are
        // shorter.
        for _ in 0..60 {
            if self.0.is_lost() {
                return;
            }
            self.0.take_written();
            self.0.advance(Duration::from_secs(1));
        }
        assert!(
            self.0.is_lost(),
            "connection_lost within a minute of fake time"
        );
    }
}

/// The reactor: the protocol on a listening port over loopback, the test's peer a plain
/// socket; the reactor runs on a thread of its own.
struct OverTcp {
    socket: TcpStream,
    reactor: Reactor,
    lost: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Peer for OverTcp {
    fn send(&mut self, data: &[u8]) {
        self.socket.write_all(data).unwrap();
    }

    fn send_eof(&mut self) {
        self.socket.shutdown(Shutdown::Write).unwrap();
    }

    fn read_exact(&mut self, count: usize) -> Vec<u8> {
        let mut read = vec![0; count];
        self.socket.read_exact(&mut read).unwrap();
        read
    }

    fn read_exact_up_to(&mut self, most: usize) -> Vec<u8> {
        let mut read = vec![0; most];
        let count = self.socket.read(&mut read).unwrap();
        read.truncate(count);
        read
    }

    fn read_to_end(&mut self) -> Vec<u8> {
        let mut read = Vec::new();
        self.socket.read_to_end(&mut read).unwrap();
        read
    }

    fn wait_lost(&mut self) {
        self.lost
            .recv_timeout(LIMIT)
            .expect("connection_lost within the test's time limit");
    }
}

impl Drop for OverTcp {
    fn drop(&mut self) {
        let _ = self.reactor.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `body` on the test driver, then over TCP, each with a fresh protocol made by
/// `rules`.
fn on_both_drivers(rules: impl Fn(Shared) -> Rules, body: impl Fn(&mut dyn Peer, &Shared)) {
    let log = Shared::default();
    let mut memory = InMemory(TestConnection::new(Probe(rules(log.clone()))));
    body(&mut memory, &log);

    let log = Shared::default();
    let (lost_tx, lost) = mpsc::channel();
    let made = Mutex::new(Some(Probe(Rules {
        lost: Some(lost_tx),
        ..rules(log.clone())
    })));
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                made.lock()
                    .unwrap()
                    .take()
                    .expect("one connection per test")
            }),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let runner = reactor.clone();
    let thread = std::thread::spawn(move || common::run_bounded(&runner, LIMIT));
    let socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let mut tcp = OverTcp {
        socket,
        reactor,
        lost,
        thread: Some(thread),
    };
    body(&mut tcp, &log);
}

fn rules(log: Shared) -> Rules {
    Rules {
        log,
        on_made: nothing,
        on_data: nothing_on_data,
        keep_open_on_eof: false,
        eof_reply: b"",
        lost: None,
    }
}

fn lost(log: &Shared) -> Option<String> {
    log.lock().unwrap().lost.clone()
}

#[test]
fn what_a_callback_writes_reaches_the_peer_in_order() {
    on_both_drivers(
        |log| Rules {
            on_made: |cx| cx.write(b"hello "),
            on_data: |cx, data| cx.write_many(&[b"<", data, b">"]),
            ..rules(log)
        },
        |peer, _| {
            assert_eq!(peer.read_exact(6), b"hello ");
            peer.send(b"ping");
            assert_eq!(peer.read_exact(6), b"<ping>");
        },
    );
}

#[test]
fn lose_connection_sends_what_was_written_then_closes() {
    on_both_drivers(
        |log| Rules {
            on_data: |cx, _| {
                cx.write(b"last words");
                cx.lose_connection();
                cx.write(b", and more");
            },
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"bye");
            assert_eq!(peer.read_to_end(), b"last words, and more");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("done"));
        },
    );
}

#[test]
fn lose_connection_with_an_error_reports_it() {
    #[derive(Debug)]
    struct Rude;
    impl std::fmt::Display for Rude {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("rude peer")
        }
    }
    impl std::error::Error for Rude {}
    on_both_drivers(
        |log| Rules {
            on_data: |cx, _| {
                cx.write(b"go away");
                cx.lose_connection_with(ConnectionError::protocol(Rude));
            },
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"insult");
            assert_eq!(peer.read_to_end(), b"go away");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("protocol:rude peer"));
        },
    );
}

#[test]
fn eof_closes_the_connection_by_default() {
    on_both_drivers(rules, |peer, log| {
        peer.send(b"some");
        peer.send_eof();
        assert_eq!(peer.read_to_end(), b"");
        peer.wait_lost();
        let log = log.lock().unwrap();
        assert_eq!(log.received, b"some");
        assert!(log.eof);
        assert_eq!(log.lost.as_deref(), Some("done"));
    });
}

#[test]
fn a_protocol_kept_open_after_eof_finishes_writing_then_closes() {
    on_both_drivers(
        |log| Rules {
            keep_open_on_eof: true,
            eof_reply: b"answer after your EOF",
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"question");
            peer.send_eof();
            assert_eq!(peer.read_to_end(), b"answer after your EOF");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("done"));
        },
    );
}

#[test]
fn after_lose_write_connection_the_peer_reads_eof_and_may_still_send() {
    on_both_drivers(
        |log| Rules {
            on_made: |cx| {
                cx.write(b"all I have to say");
                cx.lose_write_connection();
            },
            ..rules(log)
        },
        |peer, log| {
            assert_eq!(peer.read_to_end(), b"all I have to say");
            peer.send(b"but I have more");
            peer.send_eof();
            peer.wait_lost();
            let log = log.lock().unwrap();
            assert_eq!(log.received, b"but I have more");
            assert_eq!(log.lost.as_deref(), Some("done"));
        },
    );
}

#[test]
fn abort_drops_what_was_not_sent() {
    on_both_drivers(
        |log| Rules {
            on_data: |cx, _| {
                cx.write(b"never sent");
                cx.abort_connection();
            },
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"go");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("aborted"));
        },
    );
}

#[test]
fn an_idle_connection_is_closed_when_its_timeout_passes() {
    on_both_drivers(
        |log| Rules {
            on_made: |cx| cx.set_idle_timeout(Some(Duration::from_millis(200))),
            on_data: |cx, data| cx.write(data),
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"still here");
            assert_eq!(peer.read_exact(10), b"still here");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("done"));
            assert_eq!(peer.read_to_end(), b"");
        },
    );
}

#[test]
fn writes_through_a_handle_follow_the_callbacks_and_keep_their_order() {
    on_both_drivers(
        |log| Rules {
            on_data: |cx, _| {
                cx.write(b"1");
                let handle = cx.transport_handle();
                std::thread::spawn(move || {
                    handle.write(b"2");
                    handle.write(b"3");
                    handle.lose_connection();
                })
                .join()
                .unwrap();
                cx.write(b"!");
            },
            ..rules(log)
        },
        |peer, log| {
            peer.send(b"go");
            // The other thread's writes came after the callback's first write and before
            // its last, which waited for them.
            assert_eq!(peer.read_to_end(), b"123!");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("done"));
        },
    );
}

/// Pauses and resumes reading as each byte received says, and answers with the byte:
/// `p` resumes through a handle's request, `c` from a handle's call (a callback, through
/// its context), `b` within the same callback, `l` through a handle while closing, `r`
/// resumes without a pause.
fn pause_and_resume(cx: &mut Context<'_, Probe>, data: &[u8]) {
    for &byte in data {
        match byte {
            b'p' | b'c' | b'b' | b'l' => cx.pause_reading(),
            _ => {}
        }
        match byte {
            b'p' | b'l' => cx.transport_handle().resume_reading(),
            b'c' => {
                cx.handle().call(|_, cx| cx.resume_reading()).detach();
            }
            b'b' | b'r' => cx.resume_reading(),
            _ => {}
        }
        if byte == b'l' {
            cx.lose_connection();
        }
        cx.write(&[byte, b'\n']);
    }
}

#[test]
fn reading_resumed_follows_each_resume_after_a_pause_while_open() {
    on_both_drivers(
        |log| Rules {
            on_data: pause_and_resume,
            ..rules(log)
        },
        |peer, log| {
            for (sent, answer) in [
                (b"p", &b"p\nR\n"[..]),
                (b"c", b"c\nR\n"),
                (b"r", b"r\n"),
                (b"b", b"b\nR\n"),
            ] {
                peer.send(sent);
                assert_eq!(peer.read_exact(answer.len()), answer, "after {sent:?}");
            }
            assert_eq!(log.lock().unwrap().resumed, 3);
            // Resumed while closing: the protocol is not told.
            peer.send(b"l");
            assert_eq!(peer.read_to_end(), b"l\n");
            peer.wait_lost();
            assert_eq!(log.lock().unwrap().resumed, 3);
        },
    );
}

/// Streams `left` bytes in 64 KiB chunks, then unregisters itself and closes.
struct Stream {
    left: usize,
}

impl Producer for Stream {
    fn resume_producing(&mut self, cx: &mut Context<'_>) {
        if self.left == 0 {
            cx.unregister_producer();
            cx.lose_connection();
            return;
        }
        let chunk = self.left.min(64 * 1024);
        cx.write(&vec![b's'; chunk]);
        self.left -= chunk;
    }
}

#[test]
fn a_pull_producer_streams_at_the_peers_pace_and_holds_the_close() {
    const TOTAL: usize = 4 * 1024 * 1024;
    on_both_drivers(
        |log| Rules {
            on_made: |cx| {
                cx.register_producer(Box::new(Stream { left: TOTAL }), ProducerKind::Pull)
                    .unwrap();
                // The close waits for the producer to unregister.
                cx.lose_connection();
            },
            ..rules(log)
        },
        |peer, log| {
            let mut read = Vec::new();
            while read.len() < TOTAL {
                let before = read.len();
                read.extend_from_slice(&peer.read_exact_up_to(1024 * 1024));
                assert!(read.len() > before, "the producer keeps producing");
            }
            assert_eq!(read.len(), TOTAL);
            assert_eq!(peer.read_to_end(), b"");
            peer.wait_lost();
            assert_eq!(lost(log).as_deref(), Some("done"));
        },
    );
}

/// More than a loopback socket's buffers hold, so that the connection's own buffer fills
/// past its high-water mark on the reactor too.
const FLOOD: usize = 16 << 20;

/// Byte `index` of the flood.
fn flood_byte(index: usize) -> u8 {
    (index % 251) as u8
}

fn flood(cx: &mut Context<'_, Probe>) {
    let bytes: Vec<u8> = (0..FLOOD).map(flood_byte).collect();
    cx.write(&bytes);
}

#[test]
fn a_full_write_buffer_pauses_the_producer_and_a_drained_one_resumes_it() {
    on_both_drivers(
        |log| Rules {
            on_made: flood,
            ..rules(log)
        },
        |peer, log| {
            let mut read = Vec::with_capacity(FLOOD);
            while read.len() < FLOOD {
                read.extend_from_slice(&peer.read_exact_up_to(FLOOD - read.len()));
            }
            assert!(read
                .iter()
                .enumerate()
                .all(|(index, &byte)| byte == flood_byte(index)));
            // The protocol wrote past the high-water mark at once; the buffer drained
            // below the low-water mark before its last bytes went out.
            assert_eq!(log.lock().unwrap().pressure, ["pause", "resume"]);
        },
    );
}

/// STARTTLS: the certificates both drivers' connections use.
#[cfg(feature = "test-certificates")]
fn certificates() -> &'static torsade::testing::TestCertificates {
    static CERTIFICATES: std::sync::OnceLock<torsade::testing::TestCertificates> =
        std::sync::OnceLock::new();
    CERTIFICATES.get_or_init(|| torsade::testing::TestCertificates::new(&["localhost"]).unwrap())
}

/// On `STARTTLS\n`: `GO\n` in the clear, the switch, then `secret` — which must go out
/// encrypted, after the handshake, though it was written before it began.
#[cfg(feature = "test-certificates")]
fn start_tls_on_request(cx: &mut Context<'_, Probe>, data: &[u8]) {
    if data.ends_with(b"STARTTLS\n") {
        cx.write(b"GO\n");
        let config = certificates().server_config().unwrap();
        cx.start_tls(torsade::tls::StartTls::server(config))
            .unwrap();
        cx.write(b"secret");
    }
}

#[cfg(feature = "test-certificates")]
#[test]
fn starttls_sends_what_came_before_in_the_clear_and_what_came_after_encrypted() {
    use torsade::tls::rustls::{pki_types::ServerName, ClientConnection};

    on_both_drivers(
        |log| Rules {
            on_data: start_tls_on_request,
            ..rules(log)
        },
        |peer, _| {
            peer.send(b"STARTTLS\n");
            assert_eq!(peer.read_exact(3), b"GO\n", "the answer comes in the clear");
            // A TLS client over the peer's bytes: nothing but a handshake and records.
            let name = ServerName::try_from("localhost").unwrap();
            let config = certificates().client_config().unwrap();
            let mut client = ClientConnection::new(config, name).unwrap();
            let mut plain = Vec::new();
            for _ in 0..100 {
                while client.wants_write() {
                    let mut records = Vec::new();
                    client.write_tls(&mut records).unwrap();
                    peer.send(&records);
                }
                if plain.len() >= 6 {
                    break;
                }
                let records = peer.read_exact_up_to(1 << 16);
                client.read_tls(&mut &records[..]).unwrap();
                client
                    .process_new_packets()
                    .expect("what the server sends after GO is TLS");
                let mut chunk = [0; 64];
                while let Ok(count) = std::io::Read::read(&mut client.reader(), &mut chunk) {
                    if count == 0 {
                        break;
                    }
                    plain.extend_from_slice(&chunk[..count]);
                }
            }
            assert_eq!(plain, b"secret");
        },
    );
}
