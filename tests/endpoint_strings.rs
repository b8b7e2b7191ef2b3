//! Twisted's endpoint strings, as a program's configuration gives them: every form parses
//! to the endpoint it names and prints back as itself, a malformed one is refused with an
//! error naming the string, the field and what was expected, and parsed endpoints carry
//! connections over loopback (TCP, TLS with certificate files, a Unix socket). UDP
//! strings name a datagram port's address the same way (tests/udp.rs binds them).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{run_bounded, LIMIT};
use torsade::endpoints::{client_from_string, server_from_string, IntoDatagramAddress};
use torsade::prelude::*;
use torsade::testing::TestCertificates;
use torsade::{factory_fn, Address, Reactor};

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "torsade-endpoint-strings-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path_text(&path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_string()
}

/// The field an `Error::InvalidEndpoint` names, checking it names `text` as the endpoint
/// and says what was expected.
fn invalid_field(text: &str, error: Error) -> String {
    match error {
        Error::InvalidEndpoint {
            endpoint,
            field,
            expected,
        } => {
            assert_eq!(endpoint, text);
            assert!(!expected.is_empty(), "{text}: nothing said about {field}");
            field
        }
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn every_server_form_parses_and_prints_back_as_itself() {
    let dir = TempDir::new("server-forms");
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let cert = dir.file("cert.pem", certificates.cert_pem());
    let key = dir.file("key.pem", certificates.key_pem());
    let mut forms = vec![
        "tcp:8000".to_string(),
        "tcp:8000:interface=127.0.0.1:backlog=50".to_string(),
        r"tcp:8000:interface=\:\:1".to_string(),
        format!("tls:8443:certKey={cert}:privateKey={key}"),
    ];
    if cfg!(unix) {
        forms.push("unix:/run/app.sock:mode=660".to_string());
        forms.push("systemd:domain=INET:index=0".to_string());
        forms.push("systemd:domain=UNIX:index=2".to_string());
    }
    for text in &forms {
        let endpoint = server_from_string(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(&endpoint.to_string(), text);
    }
    // Other spellings of the same endpoints.
    for (text, canonical) in [
        ("TCP:8000", "tcp:8000".to_string()),
        ("tcp:8000:backlog=1024", "tcp:8000".to_string()),
        ("tcp:port=8000", "tcp:8000".to_string()),
        ("127.0.0.1:8000", "tcp:8000:interface=127.0.0.1".to_string()),
        (
            &format!("ssl:8443:certKey={cert}:privateKey={key}"),
            format!("tls:8443:certKey={cert}:privateKey={key}"),
        ),
    ] {
        let endpoint = server_from_string(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(endpoint.to_string(), canonical, "{text}");
    }
}

#[test]
fn every_client_form_parses_and_prints_back_as_itself() {
    let dir = TempDir::new("client-forms");
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let ca = dir.file("ca.pem", certificates.ca_pem());
    let mut forms = vec![
        "tcp:host=example.com:port=80".to_string(),
        "tcp:host=example.com:port=80:timeout=5".to_string(),
        format!("tls:host=example.com:port=443:caCerts={ca}"),
    ];
    if cfg!(unix) {
        forms.push("unix:path=/run/app.sock".to_string());
    }
    for text in &forms {
        let endpoint = client_from_string(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(&endpoint.to_string(), text);
    }
    for (text, canonical) in [
        ("tcp:example.com:80", "tcp:host=example.com:port=80"),
        ("example.com:80", "tcp:host=example.com:port=80"),
        ("127.0.0.1:80", "tcp:host=127.0.0.1:port=80"),
        ("[::1]:80", r"tcp:host=\:\:1:port=80"),
    ] {
        let endpoint = client_from_string(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(endpoint.to_string(), canonical, "{text}");
    }
}

#[test]
fn a_tls_client_string_without_ca_certs_trusts_the_platform_roots() {
    // The platform's store decides: a machine without one says so in a typed error
    // (tests/tls_platform_roots.rs points the store at a test CA).
    match client_from_string("tls:host=example.com:port=443") {
        Ok(endpoint) => assert_eq!(endpoint.to_string(), "tls:host=example.com:port=443"),
        Err(Error::Pem { path, .. }) => assert!(path.contains("platform"), "{path}"),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn malformed_server_strings_name_the_field_that_is_wrong() {
    let mut cases = vec![
        ("quic:8000", "type"),
        ("tcp", "port"),
        ("tcp:http", "port"),
        ("tcp:70000", "port"),
        ("tcp:8000:interface=localhost", "interface"),
        ("tcp:8000:backlog=lots", "backlog"),
        ("tcp:8000:colour=blue", "colour"),
        ("tls:8443", "privateKey"),
    ];
    if cfg!(unix) {
        cases.extend([
            ("unix:/run/app.sock:mode=rw", "mode"),
            ("unix:/run/app.sock:mode=999", "mode"),
            ("systemd:index=0", "domain"),
            ("systemd:domain=TCP:index=0", "domain"),
            ("systemd:domain=INET", "index"),
            ("systemd:domain=INET:index=first", "index"),
        ]);
    }
    for (text, field) in cases {
        let error = server_from_string(text).expect_err(text);
        assert_eq!(invalid_field(text, error), field, "{text}");
    }
}

#[test]
fn malformed_client_strings_name_the_field_that_is_wrong() {
    let mut cases = vec![
        ("quic:host=example.com:port=80", "type"),
        ("tcp:host=example.com", "port"),
        ("tcp:port=80", "host"),
        ("tcp:host=example.com:port=http", "port"),
        ("tcp:host=example.com:port=80:timeout=soon", "timeout"),
        ("tcp:host=example.com:port=80:colour=blue", "colour"),
        ("tls:port=443", "host"),
    ];
    if cfg!(unix) {
        cases.push(("unix:mode=660", "mode"));
    }
    for (text, field) in cases {
        let error = client_from_string(text).expect_err(text);
        assert_eq!(invalid_field(text, error), field, "{text}");
    }
}

#[test]
fn udp_strings_read_like_tcp_ones() {
    for (text, address) in [
        ("udp:9007", "0.0.0.0:9007"),
        ("UDP:9007", "0.0.0.0:9007"),
        ("udp:port=9007", "0.0.0.0:9007"),
        ("udp:9007:interface=127.0.0.1", "127.0.0.1:9007"),
        (r"udp:9007:interface=\:\:1", "[::1]:9007"),
        ("127.0.0.1:9007", "127.0.0.1:9007"),
        ("[::1]:9007", "[::1]:9007"),
    ] {
        let parsed = text
            .into_datagram_address()
            .unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(parsed.to_string(), address, "{text}");
    }
}

#[test]
fn malformed_udp_strings_name_the_field_that_is_wrong() {
    for (text, field) in [
        ("quic:9007", "type"),
        ("tcp:9007", "type"),
        ("udp", "port"),
        ("udp:domain", "port"),
        ("udp:70000", "port"),
        ("udp:9007:interface=localhost", "interface"),
        ("udp:9007:backlog=5", "backlog"),
        ("udp:9007:colour=blue", "colour"),
        ("udp:9007:9008", "9008"),
        ("", "type"),
    ] {
        let error = text.into_datagram_address().expect_err(text);
        assert_eq!(invalid_field(text, error), field, "{text}");
    }
    // The same mistake reads the same in a TCP string and a UDP one.
    let tcp = server_from_string("tcp:80:interface=localhost").unwrap_err();
    let udp = "udp:80:interface=localhost"
        .into_datagram_address()
        .unwrap_err();
    assert_eq!(tcp.to_string().replacen("tcp:", "udp:", 1), udp.to_string());
    // A UDP string where a stream endpoint is wanted says where it belongs.
    let error = server_from_string("udp:80").unwrap_err();
    assert!(error.to_string().contains("listen_udp"), "{error}");
    assert_eq!(invalid_field("udp:80", error), "type");
    let error = "udp:80\\".into_datagram_address().unwrap_err();
    assert!(matches!(error, Error::InvalidEndpoint { .. }), "{error:?}");
}

#[test]
fn strings_that_are_not_endpoints_at_all_are_refused_with_a_typed_error() {
    for text in ["", "tcp:80\\", "no colon and no port"] {
        assert!(
            matches!(server_from_string(text), Err(Error::InvalidEndpoint { .. })),
            "server {text:?}"
        );
        assert!(
            matches!(client_from_string(text), Err(Error::InvalidEndpoint { .. })),
            "client {text:?}"
        );
    }
}

#[test]
fn a_tls_server_string_with_files_that_are_not_pem_fails_naming_the_file() {
    let dir = TempDir::new("bad-pem");
    let junk = dir.file("junk.pem", "not a certificate");
    let text = format!("tls:8443:certKey={junk}:privateKey={junk}");
    let error = server_from_string(&text).expect_err("junk is not PEM");
    assert!(error.to_string().contains(&junk), "{error}");
    let missing = path_text(&dir.0.join("missing.pem"));
    let text = format!("tls:8443:privateKey={missing}");
    let error = server_from_string(&text).expect_err("no such file");
    assert!(error.to_string().contains(&missing), "{error}");
}

/// Echoes what it receives.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

/// Says `hello`, keeps what comes back, closes once it has all of it, and stops the
/// reactor when the connection ends.
struct Hello {
    seen: Arc<Mutex<Vec<u8>>>,
    reactor: Reactor,
}

impl Protocol for Hello {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(b"hello");
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let mut seen = self.seen.lock().unwrap();
        seen.extend_from_slice(&data);
        if seen.len() >= 5 {
            cx.lose_connection();
        }
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        let _ = self.reactor.stop();
    }
}

/// Listens on `server`, connects to the string `client_for` makes of the port's address,
/// and returns what came back.
fn exchange(server: &str, client_for: impl FnOnce(&Address) -> String) -> Vec<u8> {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            server_from_string(server).unwrap(),
            factory_fn(|_: &Address| Echo),
        )
        .unwrap();
    let client = client_for(&port.local_addr());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (s, r) = (seen.clone(), reactor.clone());
    reactor
        .connect(
            client_from_string(&client).unwrap(),
            factory_fn(move |_: &Address| Hello {
                seen: s.clone(),
                reactor: r.clone(),
            }),
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    let seen = seen.lock().unwrap().clone();
    seen
}

#[test]
fn parsed_tcp_endpoints_carry_a_connection() {
    let echoed = exchange("tcp:0:interface=127.0.0.1", |address| {
        let port = address.socket_addr().unwrap().port();
        format!("tcp:host=127.0.0.1:port={port}:timeout=5")
    });
    assert_eq!(echoed, b"hello");
}

#[test]
fn parsed_tls_endpoints_carry_a_connection_with_certificate_files() {
    let dir = TempDir::new("tls-files");
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let cert = dir.file("cert.pem", certificates.cert_pem());
    let key = dir.file("key.pem", certificates.key_pem());
    let ca = dir.file("ca.pem", certificates.ca_pem());
    let server = format!("tls:0:interface=127.0.0.1:certKey={cert}:privateKey={key}");
    let echoed = exchange(&server, |address| {
        let port = address.socket_addr().unwrap().port();
        format!("tls:host=localhost:port={port}:caCerts={ca}")
    });
    assert_eq!(echoed, b"hello");
}

#[cfg(unix)]
#[test]
fn parsed_unix_endpoints_carry_a_connection() {
    let dir = TempDir::new("unix");
    let path = path_text(&dir.0.join("echo.sock"));
    let echoed = exchange(&format!("unix:{path}:mode=600"), |_| {
        format!("unix:path={path}")
    });
    assert_eq!(echoed, b"hello");
}
