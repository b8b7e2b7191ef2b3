//! `lose_write_connection` over loopback: the write side is shut down (FIN; on TLS,
//! close_notify first) once everything written is sent, reading goes on until the peer
//! closes, then `connection_lost(Done)` — on plain TCP and on TLS.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream as StdStream};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};

/// What one end saw.
#[derive(Debug, Default)]
struct Log {
    received: Vec<u8>,
    eof: bool,
    lost: Option<String>,
}

type Shared = Arc<Mutex<Log>>;

fn label(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::Done => "done".into(),
        other => other.to_string(),
    }
}

/// Sends a request, shuts its write side at once, collects the answer; anything it
/// writes after the shutdown (on the first answer bytes) is dropped. Stops the reactor
/// once lost.
struct Asker {
    log: Shared,
    reactor: Reactor,
}

impl Protocol for Asker {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(b"question, ");
        // Written after the call but before the shutdown happens: still sent, first.
        cx.write(b"and more");
        cx.lose_write_connection();
        assert!(!cx.is_closing());
        assert!(cx.is_reading());
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        // The write side is shut by now (the server answers only at EOF): dropped.
        cx.write(b"too late");
        self.log.lock().unwrap().received.extend_from_slice(&data);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.log.lock().unwrap().lost = Some(label(&reason));
        let _ = self.reactor.stop();
    }
}

/// Collects the request; at EOF answers it in upper case, then closes.
struct AnswerAtEof {
    log: Shared,
}

impl Protocol for AnswerAtEof {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.log.lock().unwrap().received.extend_from_slice(&data);
    }

    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        let mut log = self.log.lock().unwrap();
        log.eof = true;
        cx.write(&log.received.to_ascii_uppercase());
        false
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.log.lock().unwrap().lost = Some(label(&reason));
    }
}

fn log() -> Shared {
    Arc::new(Mutex::new(Log::default()))
}

#[test]
fn the_writer_shuts_its_side_and_still_reads_the_answer_over_tcp() {
    let reactor = Reactor::new().unwrap();
    let (server, client) = (log(), log());
    let s = server.clone();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| AnswerAtEof { log: s.clone() }),
        )
        .unwrap();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect(
            port.local_addr(),
            factory_fn(move |_: &Address| Asker {
                log: c.clone(),
                reactor: r.clone(),
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = (server.lock().unwrap(), client.lock().unwrap());
    assert_eq!(server.received, b"question, and more");
    assert!(server.eof);
    assert_eq!(server.lost.as_deref(), Some("done"));
    assert_eq!(client.received, b"QUESTION, AND MORE");
    assert_eq!(client.lost.as_deref(), Some("done"));
}

#[test]
fn the_peer_sees_eof_and_its_bytes_still_arrive_after_it() {
    // The server says hello and shuts its write side; a plain socket client reads to EOF,
    // then sends, then shuts its own side: the server gets the bytes, then `Done`.
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    struct Hello(Shared, Reactor);
    impl Protocol for Hello {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"hello");
            cx.lose_write_connection();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
            self.0.lock().unwrap().received.extend_from_slice(&data);
        }
        fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
            self.0.lock().unwrap().eof = true;
            true // ignored: nothing is left to write, the connection closes
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.0.lock().unwrap().lost = Some(label(&reason));
            let _ = self.1.stop();
        }
    }
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Hello(s.clone(), r.clone())),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<Vec<u8>> {
            let mut stream = StdStream::connect(address)?;
            stream.set_read_timeout(Some(LIMIT))?;
            let mut greeting = Vec::new();
            stream.read_to_end(&mut greeting)?; // ends at the server's FIN
            stream.write_all(b"after your FIN")?;
            stream.shutdown(Shutdown::Write)?;
            Ok(greeting)
        })();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap().unwrap(), b"hello");
    let server = server.lock().unwrap();
    assert_eq!(server.received, b"after your FIN", "{server:?}");
    assert!(server.eof);
    assert_eq!(server.lost.as_deref(), Some("done"));
}

#[test]
#[cfg(feature = "test-certificates")]
fn over_tls_close_notify_ends_the_writers_side_and_the_answer_still_comes_back() {
    use torsade::endpoints::{TcpClient, TcpServer, TlsClient, TlsServer};
    use torsade::testing::TestCertificates;

    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let reactor = Reactor::new().unwrap();
    let (server, client) = (log(), log());
    let s = server.clone();
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let port = reactor
        .listen(
            TlsServer::new(
                TcpServer::from(loopback),
                certificates.server_config().unwrap(),
            ),
            factory_fn(move |_: &Address| AnswerAtEof { log: s.clone() }),
        )
        .unwrap();
    let (c, r) = (client.clone(), reactor.clone());
    let endpoint = TlsClient::new(
        TcpClient::from(port.local_addr().socket_addr().unwrap()),
        "localhost",
        certificates.client_config().unwrap(),
    )
    .unwrap();
    reactor
        .connect(
            endpoint,
            factory_fn(move |_: &Address| Asker {
                log: c.clone(),
                reactor: r.clone(),
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = (server.lock().unwrap(), client.lock().unwrap());
    assert_eq!(server.received, b"question, and more");
    assert!(server.eof, "close_notify reads as EOF");
    assert_eq!(server.lost.as_deref(), Some("done"));
    assert_eq!(client.received, b"QUESTION, AND MORE");
    assert_eq!(client.lost.as_deref(), Some("done"));
}

#[test]
fn lose_connection_after_lose_write_connection_ends_the_connection() {
    // A server that half-closes, then closes for good before the peer is done.
    let reactor = Reactor::new().unwrap();
    let server = log();
    let (s, r) = (server.clone(), reactor.clone());
    struct HalfThenFull(Shared, Reactor);
    impl Protocol for HalfThenFull {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"bye");
            cx.lose_write_connection();
        }
        fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
            self.0.lock().unwrap().received.extend_from_slice(&data);
            cx.lose_connection();
            assert!(cx.is_closing() && !cx.is_reading());
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.0.lock().unwrap().lost = Some(label(&reason));
            let _ = self.1.stop();
        }
    }
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| HalfThenFull(s.clone(), r.clone())),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let outcome = (|| -> std::io::Result<Vec<u8>> {
            let mut stream = StdStream::connect(address)?;
            stream.set_read_timeout(Some(LIMIT))?;
            let mut greeting = Vec::new();
            stream.read_to_end(&mut greeting)?;
            stream.write_all(b"x")?;
            Ok(greeting)
        })();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap().unwrap(), b"bye");
    let server = server.lock().unwrap();
    assert_eq!(server.received, b"x");
    assert_eq!(server.lost.as_deref(), Some("done"));
}
