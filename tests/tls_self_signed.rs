//! Self-signed and pinned server certificates over loopback: a certificate made as
//! `openssl req -x509` makes it (`CA:TRUE`) is its own CA for a client told to trust it,
//! with its name and validity still checked; pinning trusts exactly the given
//! certificates; and each refusal says in words what is wrong and what to do.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::{run_bounded, seen, stop_on_lost, Echo, Recorder, LIMIT};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use torsade::endpoints::{TcpClient, TcpServer, TlsClient, TlsServer};
use torsade::prelude::*;
use torsade::testing::TestCertificates;
use torsade::tls::rustls::pki_types::pem::PemObject;
use torsade::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use torsade::tls::rustls::server::{ClientHello, ResolvesServerCert};
use torsade::tls::rustls::sign::CertifiedKey;
use torsade::tls::rustls::{version, ClientConfig, ServerConfig};
use torsade::{factory_fn, tls, Address, Reactor};

/// A self-signed certificate with its key, made as `openssl req -x509 -newkey ... -nodes
/// -subj /CN=localhost -addext subjectAltName=DNS:...` makes one: `CA:TRUE`.
struct SelfSigned {
    certificate: CertificateDer<'static>,
    key: Vec<u8>,
}

impl SelfSigned {
    /// Valid from 2020 to 2100, for `names`.
    fn new(names: &[&str]) -> SelfSigned {
        SelfSigned::valid(names, (2020, 1, 1), (2100, 1, 1))
    }

    fn valid(names: &[&str], from: (i32, u8, u8), to: (i32, u8, u8)) -> SelfSigned {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = KeyPair::generate().unwrap();
        SelfSigned {
            certificate: params.self_signed(&key).unwrap().der().clone(),
            key: key.serialize_der(),
        }
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        tls::server_config(vec![self.certificate.clone()], self.key()).unwrap()
    }

    /// A server configuration speaking only TLS 1.2.
    fn tls12_server_config(&self) -> Arc<ServerConfig> {
        let config = ServerConfig::builder_with_provider(tls::crypto_provider())
            .with_protocol_versions(&[&version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], self.key())
            .unwrap();
        Arc::new(config)
    }

    /// A client trusting this certificate as its CA (what `--ca cert.pem` does).
    fn trusted(&self) -> Arc<ClientConfig> {
        tls::client_config_with_roots([self.certificate.clone()]).unwrap()
    }
}

/// How a connection attempt went.
#[derive(Debug)]
enum Outcome {
    /// The handshake completed and `hello` came back.
    Echoed(Vec<u8>),
    /// The attempt failed: rustls's error (`Debug`) and torsade's message (`Display`).
    Refused { problem: String, message: String },
}

impl Outcome {
    fn message(&self) -> &str {
        match self {
            Outcome::Refused { message, .. } => message,
            Outcome::Echoed(_) => panic!("the attempt succeeded"),
        }
    }
}

/// Serves `server` on loopback (echoing), connects for `name` with `client`, sends
/// `hello` and closes once it came back.
fn exchange(server: Arc<ServerConfig>, name: &str, client: Arc<ClientConfig>) -> Outcome {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            TlsServer::new(
                TcpServer::from(SocketAddr::from(([127, 0, 0, 1], 0))),
                server,
            ),
            factory_fn(|_: &Address| Echo),
        )
        .unwrap();
    let (data, refusal) = (seen(), Arc::new(Mutex::new(None)));
    let (d, r) = (data.clone(), reactor.clone());
    let (f, stopper) = (refusal.clone(), reactor.clone());
    reactor
        .connect(
            TlsClient::new(
                TcpClient::from(port.local_addr().socket_addr().unwrap()),
                name,
                client,
            )
            .unwrap(),
            factory_fn(move |_: &Address| {
                Recorder::new(&d)
                    .on_made(|transport| transport.write(b"hello"))
                    .on_data(|transport, total| {
                        if total == 5 {
                            transport.lose_connection();
                        }
                    })
                    .on_lost(stop_on_lost(&r))
            }),
        )
        .add_both(move |result| {
            if let Err(failure) = result {
                let problem = match failure.downcast_ref::<Error>() {
                    Some(Error::Tls(tls)) => format!("{:?}", tls.rustls_error()),
                    _ => "not a TLS error".to_string(),
                };
                let message = failure.to_string();
                *f.lock().unwrap() = Some(Outcome::Refused { problem, message });
                let _ = stopper.stop();
            }
            Ok::<(), Failure>(())
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let refused = refusal.lock().unwrap().take();
    refused.unwrap_or_else(|| Outcome::Echoed(data.lock().unwrap().data.clone()))
}

#[test]
fn a_self_signed_ca_certificate_is_its_own_ca_over_tls_1_3_and_1_2() {
    let certificate = SelfSigned::new(&["localhost"]);
    for server in [
        certificate.server_config(),
        certificate.tls12_server_config(),
    ] {
        match exchange(server, "localhost", certificate.trusted()) {
            Outcome::Echoed(data) => assert_eq!(data, b"hello"),
            refused => panic!("{refused:?}"),
        }
    }
}

#[test]
fn a_self_signed_certificate_for_another_name_is_refused_naming_its_names() {
    let certificate = SelfSigned::new(&["localhost", "127.0.0.1"]);
    let outcome = exchange(
        certificate.server_config(),
        "example.org",
        certificate.trusted(),
    );
    assert_eq!(
        outcome.message(),
        "TLS: the server's certificate is not valid for the name \"example.org\"; it is for \
         localhost, 127.0.0.1: connect with a name in the certificate, or give one as the \
         server name (--server-name NAME)"
    );
}

#[test]
fn an_expired_self_signed_certificate_is_refused_with_its_date() {
    let certificate = SelfSigned::valid(&["localhost"], (2000, 1, 1), (2001, 1, 1));
    let outcome = exchange(
        certificate.server_config(),
        "localhost",
        certificate.trusted(),
    );
    let message = outcome.message();
    assert!(
        message.starts_with(
            "TLS: the server's certificate expired on 2001-01-01 00:00:00 UTC (this \
             machine's clock says "
        ),
        "{message}"
    );
    assert!(message.contains("renewed certificate"), "{message}");
}

#[test]
fn another_self_signed_certificate_of_the_same_name_is_refused() {
    let (trusted, impostor) = (
        SelfSigned::new(&["localhost"]),
        SelfSigned::new(&["localhost"]),
    );
    let outcome = exchange(impostor.server_config(), "localhost", trusted.trusted());
    let Outcome::Refused { problem, message } = outcome else {
        panic!("the impostor was accepted");
    };
    assert!(problem.contains("CaUsedAsEndEntity"), "{problem}");
    assert!(
        message.contains("not exactly a certificate this client trusts"),
        "{message}"
    );
}

#[test]
fn a_certificate_signed_by_an_untrusted_ca_is_refused_saying_to_trust_its_ca() {
    let (certificates, stranger) = (
        TestCertificates::new(&["localhost"]).unwrap(),
        TestCertificates::new(&["localhost"]).unwrap(),
    );
    let outcome = exchange(
        certificates.server_config().unwrap(),
        "localhost",
        stranger.client_config().unwrap(),
    );
    assert_eq!(
        outcome.message(),
        "TLS: the server's certificate is signed by an authority this client does not \
         trust: trust the CA that signed it (--ca FILE), or, if the certificate is \
         self-signed, the certificate itself"
    );
}

#[test]
fn pinning_accepts_the_pinned_certificates_only() {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let self_signed = SelfSigned::new(&["localhost"]);
    let leaf = CertificateDer::from_pem_slice(certificates.cert_pem().as_bytes()).unwrap();
    let ca = CertificateDer::from_pem_slice(certificates.ca_pem().as_bytes()).unwrap();
    let pinned =
        tls::client_config_with_pinned_certificates([leaf, self_signed.certificate.clone()])
            .unwrap();
    for server in [
        certificates.server_config().unwrap(),
        self_signed.server_config(),
    ] {
        match exchange(server, "localhost", pinned.clone()) {
            Outcome::Echoed(data) => assert_eq!(data, b"hello"),
            refused => panic!("{refused:?}"),
        }
    }
    // Pinning the CA trusts that certificate, not the ones it signed.
    let ca_pinned = tls::client_config_with_pinned_certificates([ca]).unwrap();
    let outcome = exchange(
        certificates.server_config().unwrap(),
        "localhost",
        ca_pinned,
    );
    assert!(
        outcome
            .message()
            .starts_with("TLS: the server's certificate is not one this client is pinned to"),
        "{outcome:?}"
    );
    // The name is still checked.
    let outcome = exchange(self_signed.server_config(), "example.org", pinned);
    assert!(
        outcome.message().contains("not valid for the name"),
        "{outcome:?}"
    );
}

/// Presents a certificate it does not hold the key of, signing with another key.
#[derive(Debug)]
struct Impersonator(Arc<CertifiedKey>);

impl ResolvesServerCert for Impersonator {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn a_server_presenting_the_trusted_certificate_without_its_key_is_refused() {
    let (trusted, other) = (
        SelfSigned::new(&["localhost"]),
        SelfSigned::new(&["localhost"]),
    );
    let provider = tls::crypto_provider();
    let signing_key = provider.key_provider.load_private_key(other.key()).unwrap();
    let presented = CertifiedKey::new(vec![trusted.certificate.clone()], signing_key);
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Impersonator(Arc::new(presented))));
    let server = Arc::new(server);
    let pinned =
        tls::client_config_with_pinned_certificates([trusted.certificate.clone()]).unwrap();
    for client in [trusted.trusted(), pinned] {
        match exchange(server.clone(), "localhost", client) {
            Outcome::Refused { problem, .. } => {
                assert!(problem.contains("BadSignature"), "{problem}")
            }
            echoed => panic!("an impersonator was accepted: {echoed:?}"),
        }
    }
}
