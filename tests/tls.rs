//! TLS over loopback: listening and connecting, what the handshake settles, every way a
//! handshake fails, close semantics, the async face, and STARTTLS in both directions.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::run_bounded;
use torsade::endpoints::{TcpClient, TcpServer, TlsClient, TlsServer};
use torsade::prelude::*;
use torsade::testing::TestCertificates;
use torsade::tls::rustls::{self, CertificateError};
use torsade::tls::StartTls;
use torsade::{factory_fn, Address, Connection, Reactor};

const LIMIT: Duration = Duration::from_secs(20);

fn certificates() -> TestCertificates {
    TestCertificates::new(&["localhost", "127.0.0.1"]).unwrap()
}

/// A TLS endpoint on a free loopback port.
fn tls_server(config: Arc<rustls::ServerConfig>) -> TlsServer {
    TlsServer::new(
        TcpServer::from(SocketAddr::from(([127, 0, 0, 1], 0))),
        config,
    )
}

/// A TLS client endpoint to `address`, checking the certificate for `name`.
fn tls_client(address: SocketAddr, name: &str, config: Arc<rustls::ClientConfig>) -> TlsClient {
    TlsClient::new(TcpClient::from(address), name, config).unwrap()
}

/// The socket address a port listens on.
fn socket_addr(port: &torsade::ListeningPort) -> SocketAddr {
    port.local_addr().socket_addr().unwrap()
}

/// What one end saw.
#[derive(Debug, Default)]
struct Seen {
    data: Vec<u8>,
    handshakes: usize,
    tls_server_name: Option<String>,
    peer_certificates: usize,
    alpn: Option<Vec<u8>>,
    version: Option<String>,
    lost: Option<String>,
}

/// Echoes (server) or sends `hello` and closes once it came back (client); records. A
/// `listener` only records.
struct Peer {
    seen: Arc<Mutex<Seen>>,
    client: bool,
    listener: bool,
    on_lost: Option<Box<dyn FnOnce() + Send>>,
}

impl Peer {
    fn new(seen: &Arc<Mutex<Seen>>, client: bool) -> Peer {
        Peer {
            seen: seen.clone(),
            client,
            listener: false,
            on_lost: None,
        }
    }

    /// Only records: writes nothing.
    fn listener(seen: &Arc<Mutex<Seen>>) -> Peer {
        Peer {
            listener: true,
            ..Peer::new(seen, false)
        }
    }

    fn stop_on_lost(mut self, reactor: &Reactor) -> Peer {
        let reactor = reactor.clone();
        self.on_lost = Some(Box::new(move || {
            let _ = reactor.stop();
        }));
        self
    }
}

impl Protocol for Peer {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        if self.client {
            cx.write(b"hello");
        }
    }

    fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
        let info = cx.tls_info().expect("TLS is on");
        let mut seen = self.seen.lock().unwrap();
        seen.handshakes += 1;
        seen.tls_server_name = info.server_name().map(str::to_string);
        seen.peer_certificates = info.peer_certificates().len();
        seen.alpn = info.alpn_protocol().map(<[u8]>::to_vec);
        seen.version = info
            .protocol_version()
            .map(|version| format!("{version:?}"));
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let total = {
            let mut seen = self.seen.lock().unwrap();
            seen.data.extend_from_slice(&data);
            seen.data.len()
        };
        if self.listener {
            return;
        }
        if self.client {
            if total == 5 {
                cx.lose_connection();
            }
        } else {
            cx.write(&data);
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.seen.lock().unwrap().lost = Some(match &reason {
            DisconnectReason::Lost(error) => format!("lost: {error}"),
            other => other.to_string(),
        });
        if let Some(hook) = self.on_lost.take() {
            hook();
        }
    }
}

fn seen() -> Arc<Mutex<Seen>> {
    Arc::new(Mutex::new(Seen::default()))
}

#[test]
fn a_tls_client_and_server_exchange_data_and_see_the_handshake() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let (server, client) = (seen(), seen());
    let s = server.clone();
    let port = reactor
        .listen(
            tls_server(certificates.server_config().unwrap()),
            factory_fn(move |_: &Address| Peer::new(&s, false)),
        )
        .unwrap();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect(
            tls_client(
                socket_addr(&port),
                "localhost",
                certificates.client_config().unwrap(),
            ),
            factory_fn(move |_: &Address| Peer::new(&c, true).stop_on_lost(&r)),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = (server.lock().unwrap(), client.lock().unwrap());
    assert_eq!(client.data, b"hello");
    assert_eq!(server.data, b"hello");
    assert_eq!((client.handshakes, server.handshakes), (1, 1));
    assert_eq!(
        server.tls_server_name.as_deref(),
        Some("localhost"),
        "the SNI the client sent"
    );
    assert_eq!(client.tls_server_name.as_deref(), Some("localhost"));
    assert_eq!(client.peer_certificates, 1);
    assert_eq!(
        server.peer_certificates, 0,
        "no client certificate was asked for"
    );
    assert_eq!(client.lost.as_deref(), Some("connection closed cleanly"));
    assert_eq!(client.version.as_deref(), Some("TLSv1_3"));
    assert_eq!(
        (client.alpn.as_deref(), server.alpn.as_deref()),
        (None, None)
    );
}

#[test]
fn users_own_configs_work_and_the_negotiated_alpn_protocol_is_seen_on_both_sides() {
    let certificates = certificates();
    // Configs of the user's own, here torsade's with ALPN and TLS 1.2 only added.
    let mut server_config = (*certificates.server_config().unwrap()).clone();
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"echo/1".to_vec()];
    use torsade::tls::rustls::pki_types::pem::PemObject;
    let provider = torsade::tls::crypto_provider();
    let mut client_config = torsade::tls::rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&torsade::tls::rustls::version::TLS12])
        .unwrap()
        .with_root_certificates({
            let mut roots = torsade::tls::rustls::RootCertStore::empty();
            roots.add_parsable_certificates(
                torsade::tls::rustls::pki_types::CertificateDer::pem_slice_iter(
                    certificates.ca_pem().as_bytes(),
                )
                .map(Result::unwrap),
            );
            roots
        })
        .with_no_client_auth();
    client_config.alpn_protocols = vec![b"echo/1".to_vec()];

    let reactor = Reactor::new().unwrap();
    let (server, client) = (seen(), seen());
    let s = server.clone();
    let port = reactor
        .listen(
            tls_server(Arc::new(server_config)),
            factory_fn(move |_: &Address| Peer::new(&s, false)),
        )
        .unwrap();
    let (c, r) = (client.clone(), reactor.clone());
    reactor
        .connect(
            tls_client(socket_addr(&port), "localhost", Arc::new(client_config)),
            factory_fn(move |_: &Address| Peer::new(&c, true).stop_on_lost(&r)),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = (server.lock().unwrap(), client.lock().unwrap());
    assert_eq!(client.data, b"hello");
    assert_eq!(client.alpn.as_deref(), Some(&b"echo/1"[..]));
    assert_eq!(server.alpn.as_deref(), Some(&b"echo/1"[..]));
    assert_eq!(client.version.as_deref(), Some("TLSv1_2"));
    assert_eq!(server.version.as_deref(), Some("TLSv1_2"));
}

#[test]
fn the_async_face_works_over_tls() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server(
            tls_server(certificates.server_config().unwrap()),
            |mut connection: Connection| async move {
                while let Some(line) = connection.read_line().await? {
                    connection.write_line(&line.to_ascii_uppercase()).await?;
                }
                Ok::<(), torsade::Error>(())
            },
        )
        .unwrap();
    let client = tls_client(
        socket_addr(&port),
        "127.0.0.1",
        certificates.client_config().unwrap(),
    );
    let r = reactor.clone();
    let mut answer = reactor.spawn(async move {
        let mut connection = r.open_connection(client).await?;
        connection.write_line(b"secret").await?;
        let answer = connection.read_line().await?;
        assert!(connection.transport().tls_info().is_some());
        r.stop()?;
        Ok::<_, torsade::Error>(answer)
    });
    run_bounded(&reactor, LIMIT);
    let answer = answer.take_result().unwrap().unwrap().unwrap();
    assert_eq!(answer.as_deref(), Some(&b"SECRET"[..]));
}

#[test]
fn tokio_io_runs_over_tls_with_a_shutdown_giving_the_peer_eof() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const TOTAL: usize = 256 * 1024;
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server(
            tls_server(certificates.server_config().unwrap()),
            |mut connection: Connection| async move {
                let mut writer = connection.writer();
                tokio::io::copy(&mut connection, &mut writer).await?;
                writer.shutdown().await
            },
        )
        .unwrap();
    let client = tls_client(
        socket_addr(&port),
        "127.0.0.1",
        certificates.client_config().unwrap(),
    );
    let r = reactor.clone();
    let mut echoed = reactor.spawn(async move {
        let mut connection = r.open_connection(client).await?;
        let mut writer = connection.writer();
        let sending = tokio::spawn(async move {
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 253) as u8).collect();
            writer.write_all(&data).await?;
            writer.shutdown().await
        });
        let mut echoed = Vec::new();
        connection.read_to_end(&mut echoed).await?;
        sending.await.expect("the sender finished")?;
        r.stop()?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(echoed)
    });
    run_bounded(&reactor, LIMIT);
    let echoed = echoed.take_result().unwrap().unwrap().unwrap();
    assert_eq!(echoed.len(), TOTAL);
    assert!(echoed
        .iter()
        .enumerate()
        .all(|(i, &byte)| byte == (i % 253) as u8));
}

/// Counts connections lost with an error, keeps the last error (and its text).
#[derive(Default)]
struct Failures {
    count: AtomicUsize,
    last: Mutex<Option<String>>,
    last_error: Mutex<Option<ConnectionError>>,
}

/// A server protocol that records how it ended into `Failures`.
struct Watched(Arc<Failures>);

impl Protocol for Watched {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        if let DisconnectReason::Lost(error) = &reason {
            self.0.count.fetch_add(1, Ordering::SeqCst);
            *self.0.last.lock().unwrap() = Some(error.to_string());
            *self.0.last_error.lock().unwrap() = Some(error.clone());
        }
    }
}

/// A TLS port whose protocols record their failures; returns its address.
fn watched_tls_port(
    reactor: &Reactor,
    certificates: &TestCertificates,
    failures: &Arc<Failures>,
) -> std::net::SocketAddr {
    let f = failures.clone();
    reactor
        .listen(
            tls_server(certificates.server_config().unwrap()),
            factory_fn(move |_: &Address| Watched(f.clone())),
        )
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap()
}

/// Connects a good TLS client (from any thread), recording into `seen`; it stops the
/// reactor once it was echoed and closed.
fn connect_good_client(
    reactor: &Reactor,
    address: std::net::SocketAddr,
    config: Arc<torsade::tls::rustls::ClientConfig>,
    seen: Arc<Mutex<Seen>>,
) {
    let r = reactor.clone();
    reactor
        .connect(
            tls_client(address, "localhost", config),
            factory_fn(move |_: &Address| Peer::new(&seen, true).stop_on_lost(&r)),
        )
        .detach();
}

#[test]
fn plaintext_to_a_tls_port_ends_that_connection_with_a_tls_error_and_the_port_goes_on() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let failures = Arc::new(Failures::default());
    let address = watched_tls_port(&reactor, &certificates, &failures);
    // The plaintext client runs while the reactor does; once the server has closed on it,
    // a good client connects.
    let (r, c) = (reactor.clone(), certificates.client_config().unwrap());
    let good = seen();
    let g = good.clone();
    let plaintext = std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        let outcome = stream.read_to_end(&mut answer).map(|_| answer);
        connect_good_client(&r, address, c, g);
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    let answer = plaintext
        .join()
        .unwrap()
        .expect("the server closed the connection");
    assert!(!answer.starts_with(b"GET"), "plaintext was echoed back");
    assert_eq!(good.lock().unwrap().data, b"hello");
    assert_eq!(failures.count.load(Ordering::SeqCst), 1);
    let last = failures.last.lock().unwrap().clone().unwrap();
    assert!(
        last.contains("TLS") || last.contains("tls") || last.contains("message"),
        "{last}"
    );
    assert!(
        matches!(
            failures.last_error.lock().unwrap().clone(),
            Some(ConnectionError::Tls(_))
        ),
        "{last}"
    );
}

#[test]
fn a_stalled_handshake_times_out_and_the_port_goes_on() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    reactor.set_tls_handshake_timeout(Duration::from_millis(200));
    let failures = Arc::new(Failures::default());
    let address = watched_tls_port(&reactor, &certificates, &failures);
    // Connects, says nothing, and waits for the server to give up; then a good client.
    let (r, c) = (reactor.clone(), certificates.client_config().unwrap());
    let good = seen();
    let g = good.clone();
    let silent = std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut rest = Vec::new();
        let outcome = stream.read_to_end(&mut rest).map(|_| rest.len());
        connect_good_client(&r, address, c, g);
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        silent.join().unwrap(),
        Ok(0),
        "the server closed the stalled connection"
    );
    assert_eq!(good.lock().unwrap().data, b"hello");
    let last = failures.last.lock().unwrap().clone().unwrap();
    assert!(last.contains("did not complete within 200ms"), "{last}");
    assert!(
        matches!(
            failures.last_error.lock().unwrap().clone(),
            Some(ConnectionError::TlsHandshakeTimeout { timeout }) if timeout == Duration::from_millis(200)
        ),
        "{last}"
    );
}

/// Connects with `config` for `name` and returns how the attempt failed.
fn failed_attempt(
    reactor: &Reactor,
    address: std::net::SocketAddr,
    name: &str,
    config: Arc<torsade::tls::rustls::ClientConfig>,
) -> Arc<Mutex<Option<String>>> {
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    reactor
        .connect(
            tls_client(address, name, config),
            factory_fn(|_: &Address| Peer::new(&seen(), true)),
        )
        .add_both(move |result| {
            *o.lock().unwrap() = Some(match result {
                Ok(_) => "connected".to_string(),
                // The rustls error is the source of torsade's TLS error.
                Err(failure) => match failure
                    .downcast_ref::<Error>()
                    .and_then(std::error::Error::source)
                    .and_then(|source| source.downcast_ref::<rustls::Error>())
                {
                    Some(rustls::Error::InvalidCertificate(problem)) => format!("{problem:?}"),
                    _ => failure.to_string(),
                },
            });
            let _ = r.stop();
        })
        .detach();
    outcome
}

/// Serves `served`, connects for `name` trusting `trusted`, and returns how it went.
fn attempt(served: &TestCertificates, name: &str, trusted: &TestCertificates) -> String {
    let reactor = Reactor::new().unwrap();
    let failures = Arc::new(Failures::default());
    let address = watched_tls_port(&reactor, served, &failures);
    let outcome = failed_attempt(&reactor, address, name, trusted.client_config().unwrap());
    run_bounded(&reactor, LIMIT);
    let outcome = outcome.lock().unwrap().clone();
    outcome.expect("the attempt settled")
}

#[test]
fn a_certificate_for_another_name_fails_the_connection_attempt() {
    let certificates = certificates();
    let outcome = attempt(&certificates, "example.org", &certificates);
    assert!(outcome.starts_with("NotValidForName"), "{outcome}");
}

#[test]
fn a_certificate_from_an_untrusted_ca_fails_the_connection_attempt() {
    let (certificates, stranger) = (certificates(), certificates());
    let outcome = attempt(&certificates, "localhost", &stranger);
    assert_eq!(outcome, format!("{:?}", CertificateError::UnknownIssuer));
}

#[test]
fn an_expired_certificate_fails_the_connection_attempt() {
    let expired = TestCertificates::expired(&["localhost"]).unwrap();
    let outcome = attempt(&expired, "localhost", &expired);
    assert!(outcome.starts_with("Expired"), "{outcome}");
}

#[test]
fn a_failed_attempt_reaches_the_client_factory() {
    struct Recording(Mutex<Vec<String>>);
    impl ProtocolFactory for Recording {
        type Protocol = Peer;
        fn build_protocol(&self, _: &Address) -> Option<Peer> {
            Some(Peer::new(&seen(), true))
        }
    }
    impl ClientFactory for Recording {
        fn client_connection_failed(&self, error: &Error) {
            self.0.lock().unwrap().push(error.to_string());
        }
    }
    let (certificates, stranger) = (certificates(), certificates());
    let reactor = Reactor::new().unwrap();
    let failures = Arc::new(Failures::default());
    let address = watched_tls_port(&reactor, &certificates, &failures);
    let factory = Arc::new(Recording(Mutex::new(Vec::new())));
    let r = reactor.clone();
    reactor
        .connect(
            tls_client(address, "localhost", stranger.client_config().unwrap()),
            factory.clone(),
        )
        .add_both(move |_| {
            let _ = r.stop();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let events = factory.0.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0].starts_with("TLS: the server's certificate is signed by an authority"),
        "{}",
        events[0]
    );
}

#[test]
fn lose_connection_sends_close_notify_so_the_peer_sees_a_clean_end() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    struct Bye;
    impl Protocol for Bye {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"bye");
            cx.lose_connection();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let port = reactor
        .listen(
            tls_server(certificates.server_config().unwrap()),
            factory_fn(|_: &Address| Bye),
        )
        .unwrap();
    let (client, r) = (seen(), reactor.clone());
    let c = client.clone();
    reactor
        .connect(
            tls_client(
                socket_addr(&port),
                "localhost",
                certificates.client_config().unwrap(),
            ),
            // Only records: an echo of "bye" would reach a server that closed with nothing
            // unread (so did not linger), be reset, and fail the client's own close_notify
            // with EPIPE — a write-after-close outcome, not what this test is about.
            factory_fn(move |_: &Address| Peer::listener(&c).stop_on_lost(&r)),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let client = client.lock().unwrap();
    assert_eq!(client.data, b"bye");
    assert_eq!(client.lost.as_deref(), Some("connection closed cleanly"));
}

#[test]
fn a_peer_closing_without_close_notify_is_reported_as_such() {
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let (server, r) = (seen(), reactor.clone());
    let s = server.clone();
    let port = reactor
        .listen(
            tls_server(certificates.server_config().unwrap()),
            factory_fn(move |_: &Address| Peer::new(&s, false).stop_on_lost(&r)),
        )
        .unwrap();
    let (address, config) = (socket_addr(&port), certificates.client_config().unwrap());
    // A raw rustls client that completes the handshake, then drops the TCP connection.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = std::thread::spawn(move || {
        runtime.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            let name = torsade::tls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            tls.write_all(b"abrupt").await.unwrap();
            tls.flush().await.unwrap();
            // FIN without close_notify; then drain until the server closes (unread bytes,
            // such as TLS 1.3 session tickets, would turn our close into a reset).
            let (mut tcp, _) = tls.into_inner();
            tcp.shutdown().await.unwrap();
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await;
        })
    });
    run_bounded(&reactor, LIMIT);
    client.join().unwrap();
    let server = server.lock().unwrap();
    assert_eq!(server.data, b"abrupt");
    let lost = server.lost.clone().unwrap();
    assert!(
        lost.contains("close_notify") || lost.contains("unexpected end"),
        "{lost}"
    );
}

#[test]
fn starting_tls_on_a_tls_connection_is_an_error() {
    /// Tries STARTTLS while the port's handshake runs, and again after it.
    struct Again(StartTls, Arc<Mutex<Vec<String>>>, Reactor);
    impl Protocol for Again {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            let outcome = cx.start_tls(self.0.clone());
            self.1.lock().unwrap().push(format!("made: {outcome:?}"));
        }
        fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
            let outcome = cx.start_tls(self.0.clone());
            self.1
                .lock()
                .unwrap()
                .push(format!("handshake: {outcome:?}"));
            let _ = self.2.stop();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let certificates = certificates();
    let reactor = Reactor::new().unwrap();
    let outcome = Arc::new(Mutex::new(Vec::new()));
    let (o, r, config) = (
        outcome.clone(),
        reactor.clone(),
        certificates.server_config().unwrap(),
    );
    let port = reactor
        .listen(
            tls_server(certificates.server_config().unwrap()),
            factory_fn(move |_: &Address| {
                Again(StartTls::server(config.clone()), o.clone(), r.clone())
            }),
        )
        .unwrap();
    reactor
        .connect(
            tls_client(
                socket_addr(&port),
                "localhost",
                certificates.client_config().unwrap(),
            ),
            factory_fn(|_: &Address| Peer::new(&seen(), false)),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *outcome.lock().unwrap(),
        [
            "made: Err(TlsAlreadyStarted)",
            "handshake: Err(TlsAlreadyStarted)"
        ]
    );
}
