//! `tls::client_config_with_platform_roots`, with the platform store pointed at a test CA
//! through `SSL_CERT_FILE` (which the platform loader honours, as OpenSSL does; with
//! `SSL_CERT_DIR` unset, that file is the whole store).
//!
//! A file of its own: the test sets an environment variable, which no other test in the
//! same process may race with.

mod common;

use std::time::Duration;

use common::run_bounded;
use torsade::endpoints::{TcpClient, TcpServer, TlsClient, TlsServer};
use torsade::testing::TestCertificates;
use torsade::{tls, Connection, Error, Reactor};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn platform_roots_come_from_the_platform_store_and_an_empty_store_is_an_error() {
    let directory = std::env::temp_dir().join(format!("torsade-roots-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let (ca, _, _) = certificates.write_to(&directory).unwrap();
    let empty = directory.join("empty.pem");
    std::fs::write(&empty, "").unwrap();

    // The only test in this binary: nothing else reads the environment meanwhile.
    std::env::remove_var("SSL_CERT_DIR");
    std::env::set_var("SSL_CERT_FILE", &empty);
    let nothing = tls::client_config_with_platform_roots();
    assert!(matches!(nothing, Err(Error::Pem { .. })), "{nothing:?}");

    std::env::set_var("SSL_CERT_FILE", &ca);
    let config = tls::client_config_with_platform_roots().unwrap();
    std::env::remove_var("SSL_CERT_FILE");

    let reactor = Reactor::new().unwrap();
    let server = TlsServer::new(
        TcpServer::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()),
        certificates.server_config().unwrap(),
    );
    let port = reactor
        .start_server(server, |mut connection: Connection| async move {
            connection.write_line(b"trusted").await?;
            connection.close().await
        })
        .unwrap();
    let (r, address) = (reactor.clone(), port.local_addr().socket_addr().unwrap());
    let mut answer = reactor.spawn(async move {
        let outcome = async {
            let client = TlsClient::new(TcpClient::from(address), "localhost", config)?;
            let mut connection = r.open_connection(client).await?;
            connection.read_line().await
        }
        .await;
        let _ = r.stop();
        outcome
    });
    run_bounded(&reactor, LIMIT);
    let _ = std::fs::remove_dir_all(&directory);
    let answer = answer.take_result().unwrap().unwrap().unwrap();
    assert_eq!(answer.as_deref(), Some(&b"trusted"[..]));
}
