//! STARTTLS over loopback: a line protocol upgrades mid-connection, the client and the
//! server each playing their TLS side; bytes written before the switch travel in the
//! clear and first, bytes after it encrypted; plaintext slipped in after the request is
//! refused, never delivered as if it were protected (CVE-2011-0411). The same upgrade
//! runs in memory too: two test connections in a loopback pair, with real rustls.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::run_bounded;
use torsade::prelude::*;
use torsade::testing::{Loopback, TestCertificates, TestConnection};
use torsade::tls::rustls::{ClientConfig, ServerConfig};
use torsade::tls::StartTls;
use torsade::{factory_fn, Address, Reactor};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

const LIMIT: Duration = Duration::from_secs(20);

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, line: impl Into<String>) {
    log.lock().unwrap().push(line.into());
}

/// Echoes lines as `ECHO <line> tls=<bool>`; on `STARTTLS` answers `READY` and upgrades.
struct Server {
    config: Arc<ServerConfig>,
    log: Log,
}

impl LineHandler for Server {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let text = String::from_utf8_lossy(&line).into_owned();
        note(&self.log, format!("server got {text}"));
        if text == "STARTTLS" {
            lines.send_line(b"READY");
            if let Err(error) = lines.start_tls(StartTls::server(self.config.clone())) {
                note(&self.log, format!("server refused: {error}"));
            }
            return;
        }
        let tls = lines.tls_info().is_some();
        lines.send_line(format!("ECHO {text} tls={tls}").as_bytes());
    }

    fn handshake_completed(&mut self, _: &mut LineContext<'_>) {
        note(&self.log, "server handshake");
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        note(&self.log, format!("server lost: {reason}"));
    }
}

/// Talks in the clear, asks for STARTTLS, then talks encrypted; stops the reactor (if it
/// runs on one) when done.
struct Client {
    config: Arc<ClientConfig>,
    log: Log,
    reactor: Option<Reactor>,
}

impl LineHandler for Client {
    fn connection_made(&mut self, lines: &mut LineContext<'_>) {
        lines.send_line(b"PLAIN");
    }

    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let text = String::from_utf8_lossy(&line).into_owned();
        note(&self.log, format!("client got {text}"));
        match text.as_str() {
            "ECHO PLAIN tls=false" => lines.send_line(b"STARTTLS"),
            "READY" => {
                let tls = StartTls::client("localhost", self.config.clone()).unwrap();
                lines.start_tls(tls).unwrap();
                // Written after the switch: sent encrypted, once the handshake is done.
                lines.send_line(b"SECRET");
            }
            _ => lines.lose_connection(),
        }
    }

    fn handshake_completed(&mut self, _: &mut LineContext<'_>) {
        note(&self.log, "client handshake");
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        note(&self.log, format!("client lost: {reason}"));
        if let Some(reactor) = &self.reactor {
            let _ = reactor.stop();
        }
    }
}

fn server_port(
    reactor: &Reactor,
    certificates: &TestCertificates,
    log: &Log,
) -> std::net::SocketAddr {
    let (config, log) = (certificates.server_config().unwrap(), log.clone());
    reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                LineOnlyReceiver::new(Server {
                    config: config.clone(),
                    log: log.clone(),
                })
            }),
        )
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap()
}

#[test]
fn a_line_protocol_upgrades_to_tls_mid_connection_on_both_sides() {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let reactor = Reactor::new().unwrap();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let address = server_port(&reactor, &certificates, &log);
    let (config, l, r) = (
        certificates.client_config().unwrap(),
        log.clone(),
        reactor.clone(),
    );
    reactor
        .connect(
            address,
            factory_fn(move |_: &Address| {
                LineOnlyReceiver::new(Client {
                    config: config.clone(),
                    log: l.clone(),
                    reactor: Some(r.clone()),
                })
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_upgraded_in_order(&log.lock().unwrap());
}

/// The log of a conversation that upgraded: in the clear first, then only inside TLS.
fn assert_upgraded_in_order(log: &[String]) {
    let position = |entry: &str| {
        log.iter()
            .position(|seen| seen == entry)
            .unwrap_or_else(|| panic!("no {entry:?} in {log:?}"))
    };
    // In the clear first...
    assert!(position("client got ECHO PLAIN tls=false") < position("server got STARTTLS"));
    // ...READY, written before the server switched, arrived in the clear...
    assert!(position("client got READY") < position("client handshake"));
    // ...and SECRET, written right after the client switched, only inside TLS.
    assert!(position("server handshake") < position("server got SECRET"));
    assert!(position("client handshake") < position("client got ECHO SECRET tls=true"));
    assert!(
        !log.iter().any(|entry| entry.contains("refused")),
        "{log:?}"
    );
}

/// Speaks the protocol by hand over a plain socket: sends `first`, reads one line, then
/// sends `then`; returns everything it read until the server closed.
fn raw_client(address: std::net::SocketAddr, first: &[u8], then: &[u8]) -> Vec<u8> {
    let mut stream = StdStream::connect(address).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.write_all(first).unwrap();
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => received.push(byte[0]),
            _ => return received,
        }
    }
    let _ = stream.write_all(then);
    let _ = stream.read_to_end(&mut received);
    received
}

/// Serves STARTTLS, lets `raw_client(first, then)` talk to it, and returns what the
/// client read and what the server logged.
fn attack(first: &'static [u8], then: &'static [u8]) -> (Vec<u8>, Vec<String>) {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let reactor = Reactor::new().unwrap();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let address = server_port(&reactor, &certificates, &log);
    let r = reactor.clone();
    let attacker = std::thread::spawn(move || {
        let received = raw_client(address, first, then);
        let _ = r.stop();
        received
    });
    run_bounded(&reactor, LIMIT);
    let received = attacker.join().unwrap();
    let log = log.lock().unwrap().clone();
    (received, log)
}

#[test]
fn plaintext_pipelined_behind_starttls_is_refused_and_never_delivered() {
    // The injection of CVE-2011-0411: a command in the same packet as STARTTLS.
    let (received, log) = attack(b"STARTTLS\r\nRCPT TO:<victim>\r\n", b"");
    assert!(
        log.iter()
            .any(|entry| entry.starts_with("server refused: 18 bytes of plaintext")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|entry| entry.contains("RCPT")),
        "the injected command was delivered: {log:?}"
    );
    assert!(
        !received.starts_with(b"READY"),
        "the aborted connection still answered"
    );
}

#[test]
fn plaintext_sent_instead_of_a_handshake_fails_it_and_is_never_delivered() {
    // Waits for READY, then keeps talking in the clear instead of starting TLS.
    let (received, log) = attack(b"STARTTLS\r\n", b"RCPT TO:<victim>\r\n");
    assert!(
        received.starts_with(b"READY\r\n"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        !log.iter().any(|entry| entry.contains("RCPT")),
        "the plaintext was delivered: {log:?}"
    );
    assert!(
        !log.iter().any(|entry| entry == "server handshake"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|entry| entry.starts_with("server lost: connection lost")),
        "{log:?}"
    );
}

/// The in-memory connection runs the reactor's code, TLS included, so STARTTLS works
/// there as on sockets: the whole upgrade, in a loopback pair.
#[test]
fn an_in_memory_pair_upgrades_to_tls_mid_connection_on_both_sides() {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let server = LineOnlyReceiver::new(Server {
        config: certificates.server_config().unwrap(),
        log: log.clone(),
    });
    let client = LineOnlyReceiver::new(Client {
        config: certificates.client_config().unwrap(),
        log: log.clone(),
        reactor: None,
    });
    let mut pair = Loopback::new(server, client);
    pair.pump();
    let log = log.lock().unwrap().clone();
    assert_upgraded_in_order(&log);
    // The client hung up once its secret came back; both ends ended cleanly (close_notify
    // then EOF, as over TCP).
    assert!(
        pair.client().is_lost() && pair.server().is_lost(),
        "{log:?}"
    );
    assert!(
        log.contains(&"client lost: connection closed cleanly".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"server lost: connection closed cleanly".to_string()),
        "{log:?}"
    );
}

/// CVE-2011-0411 in memory: the command pipelined behind STARTTLS is refused and never
/// delivered, and the connection is aborted without answering.
#[test]
fn plaintext_pipelined_behind_starttls_is_refused_in_memory_too() {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let mut connection = TestConnection::new(LineOnlyReceiver::new(Server {
        config: certificates.server_config().unwrap(),
        log: log.clone(),
    }));
    connection.receive(b"STARTTLS\r\nRCPT TO:<victim>\r\n");
    let log = log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|entry| entry.starts_with("server refused: 18 bytes of plaintext")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|entry| entry.contains("RCPT")),
        "the injected command was delivered: {log:?}"
    );
    assert!(matches!(
        connection
            .lost_reason()
            .and_then(|reason| reason.error().cloned()),
        Some(ConnectionError::PlaintextAfterStartTls { bytes: 18 })
    ));
    assert!(
        !connection.take_written().starts_with(b"READY"),
        "the aborted connection still answered"
    );
}
