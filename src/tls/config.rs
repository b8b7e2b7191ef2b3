//! Building rustls configurations: from PEM files, with the platform's roots, given CAs or
//! pinned certificates.
//!
//! Every configuration is built with an explicit crypto provider (ring), never the
//! process-wide default, so a crate elsewhere in the build enabling another rustls
//! provider cannot make these panic with "no process-level CryptoProvider".

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, RootCertStore, ServerConfig};

use super::validity::Validity;
use super::verifier::ServerCertificateCheck;
use crate::{Error, Result};

/// The crypto provider torsade builds every configuration with: rustls's `ring`.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// A server configuration presenting `chain` (leaf first) with its private `key`, asking no
/// client certificate, TLS 1.2 and 1.3.
///
/// # Errors
///
/// [`Error::Tls`] if rustls refuses the certificate or key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>> {
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A server configuration from PEM files: the certificate chain (leaf first) and its
/// private key (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
///
/// [`Error::Pem`] if a file cannot be read or holds no usable item; [`Error::Tls`] if
/// rustls refuses them.
pub fn server_config_from_pem(
    chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>> {
    server_config(read_certificates(chain.as_ref())?, read_key(key.as_ref())?)
}

/// A client configuration trusting only the CA certificates in the PEM file `ca`.
///
/// A certificate in the file is trusted as a CA (the server's chain may end at it) and as
/// the server's own certificate, when the server presents exactly that certificate: a
/// self-signed certificate made with `openssl req -x509` (which marks it `CA:TRUE`) works
/// as its own CA, as it does with OpenSSL and Python's `ssl`. The server's name and the
/// certificate's validity period are checked either way. See
/// [`client_config_with_pinned`] to trust given certificates and no CA at all.
///
/// # Errors
///
/// [`Error::Pem`] if the file cannot be read or holds no certificate; [`Error::Tls`] if a
/// certificate is not a usable trust anchor.
pub fn client_config_with_ca(ca: impl AsRef<Path>) -> Result<Arc<ClientConfig>> {
    client_config_with_roots(read_certificates(ca.as_ref())?)
}

/// A client configuration trusting the given CA certificates (each also as the server's
/// own certificate, as [`client_config_with_ca`] explains).
///
/// With no certificates, it trusts no server.
///
/// # Errors
///
/// [`Error::Tls`] if a certificate is not a usable trust anchor.
pub fn client_config_with_roots(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>> {
    let check = ServerCertificateCheck::trusting(roots.into_iter().collect(), crypto_provider())?;
    client_config(check)
}

/// A client configuration trusting the platform's CA certificates (the system store, e.g.
/// `/etc/ssl/certs`). Certificates the platform lists but rustls cannot use are skipped.
///
/// As with [`client_config_with_ca`], a server may also present one of these certificates
/// as its own.
///
/// # Errors
///
/// [`Error::Pem`] if no platform certificate could be loaded.
pub fn client_config_with_platform_roots() -> Result<Arc<ClientConfig>> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let mut kept = Vec::new();
    for certificate in loaded.certs {
        if store.add(certificate.clone()).is_ok() {
            kept.push(certificate);
        }
    }
    if kept.is_empty() {
        return Err(Error::Pem {
            path: "the platform certificate store".into(),
            reason: format!("no usable certificate ({} errors)", loaded.errors.len()),
        });
    }
    client_config(ServerCertificateCheck::trusting_store(
        store,
        kept,
        crypto_provider(),
    )?)
}

/// A client configuration pinned to the certificates in the PEM file `certificates`: a
/// server is trusted if, and only if, it presents one of them (byte for byte) as its own
/// certificate, valid now and for the name connected to. No CA is trusted, not even one
/// in the file: a certificate a pinned one signed is refused.
///
/// For a server with a self-signed certificate you were given, or to accept only the
/// certificate you know even where a CA would vouch for another.
///
/// # Errors
///
/// [`Error::Pem`] if the file cannot be read, holds no certificate, or holds one that is
/// not a readable X.509 certificate.
pub fn client_config_with_pinned(certificates: impl AsRef<Path>) -> Result<Arc<ClientConfig>> {
    let path = certificates.as_ref();
    let certificates = read_certificates(path)?;
    if let Some(index) = certificates.iter().position(|each| !is_readable(each)) {
        return Err(Error::Pem {
            path: path.display().to_string(),
            reason: format!(
                "certificate {} is not a readable X.509 certificate",
                index + 1
            ),
        });
    }
    client_config_with_pinned_certificates(certificates)
}

/// A client configuration pinned to `certificates`, as
/// [`client_config_with_pinned`] explains. With no certificates, it trusts no server.
///
/// # Errors
///
/// [`Error::Tls`] (an invalid certificate, badly encoded) if one of them is not a
/// readable X.509 certificate.
pub fn client_config_with_pinned_certificates(
    certificates: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>> {
    let certificates: Vec<_> = certificates.into_iter().collect();
    if !certificates.iter().all(is_readable) {
        return Err(Error::Tls(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding).into(),
        ));
    }
    client_config(ServerCertificateCheck::pinned(
        certificates,
        &crypto_provider(),
    ))
}

/// Whether `certificate` parses as an end-entity certificate, with a validity period.
fn is_readable(certificate: &CertificateDer<'static>) -> bool {
    ParsedCertificate::try_from(certificate).is_ok() && Validity::of(certificate).is_some()
}

fn client_config(check: ServerCertificateCheck) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(check))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem_error = |reason: String| Error::Pem {
        path: path.display().to_string(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| pem_error(error.to_string()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|error| pem_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(pem_error("no certificate in the file".into()));
    }
    Ok(certificates)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| Error::Pem {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

// The tests make certificates (rcgen): they need the `test-certificates` feature.
#[cfg(all(test, feature = "test-certificates"))]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::testing::TestCertificates;

    /// A directory of its own for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let path = std::env::temp_dir()
                .join(format!("torsade-tls-config-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Scratch(path)
        }

        fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            // Fails only if it is gone already.
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pem_reason(result: Result<impl std::fmt::Debug>) -> (String, String) {
        match result {
            Err(Error::Pem { path, reason }) => (path, reason),
            other => panic!("expected Error::Pem, got {other:?}"),
        }
    }

    #[test]
    fn pem_files_written_by_the_test_certificates_make_working_configs() {
        let scratch = Scratch::new("good");
        let certificates = TestCertificates::new(&["localhost"]).unwrap();
        let (ca, cert, key) = certificates.write_to(&scratch.0).unwrap();
        assert!(server_config_from_pem(&cert, &key).is_ok());
        assert!(client_config_with_ca(&ca).is_ok());
    }

    #[test]
    fn a_missing_certificate_file_is_a_pem_error_naming_it() {
        let scratch = Scratch::new("missing");
        let key = scratch.file("key.pem", TestCertificates::new(&["a"]).unwrap().key_pem());
        let missing = scratch.0.join("nowhere.pem");
        let (path, _) = pem_reason(server_config_from_pem(&missing, &key));
        assert!(path.ends_with("nowhere.pem"), "{path}");
        let (path, _) = pem_reason(client_config_with_ca(&missing));
        assert!(path.ends_with("nowhere.pem"), "{path}");
    }

    #[test]
    fn a_file_without_certificates_is_a_pem_error() {
        let scratch = Scratch::new("empty");
        let certificates = TestCertificates::new(&["a"]).unwrap();
        let key = scratch.file("key.pem", certificates.key_pem());
        let garbage = scratch.file("garbage.pem", "not PEM at all\n");
        let (_, reason) = pem_reason(server_config_from_pem(&garbage, &key));
        assert_eq!(reason, "no certificate in the file");
        // A key file given as the CA holds no certificate either.
        let (_, reason) = pem_reason(client_config_with_ca(&key));
        assert_eq!(reason, "no certificate in the file");
    }

    #[test]
    fn a_key_file_without_a_key_is_a_pem_error() {
        let scratch = Scratch::new("nokey");
        let certificates = TestCertificates::new(&["a"]).unwrap();
        let cert = scratch.file("cert.pem", certificates.cert_pem());
        let (path, _) = pem_reason(server_config_from_pem(&cert, &cert));
        assert!(path.ends_with("cert.pem"), "{path}");
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let scratch = Scratch::new("mismatch");
        let (one, other) = (
            TestCertificates::new(&["a"]).unwrap(),
            TestCertificates::new(&["a"]).unwrap(),
        );
        let cert = scratch.file("cert.pem", one.cert_pem());
        let key = scratch.file("key.pem", other.key_pem());
        assert!(matches!(
            server_config_from_pem(&cert, &key),
            Err(Error::Tls(_))
        ));
    }

    #[test]
    fn pinned_configs_come_from_pem_files_of_readable_certificates_only() {
        let scratch = Scratch::new("pinned");
        let certificates = TestCertificates::new(&["localhost"]).unwrap();
        let (ca, cert, key) = certificates.write_to(&scratch.0).unwrap();
        assert!(client_config_with_pinned(&cert).is_ok());
        assert!(client_config_with_pinned(&ca).is_ok());
        let (_, reason) = pem_reason(client_config_with_pinned(&key));
        assert_eq!(reason, "no certificate in the file");
        // A CERTIFICATE block whose contents are not an X.509 certificate.
        let bogus = scratch.file(
            "bogus.pem",
            &format!(
                "{}-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
                certificates.cert_pem()
            ),
        );
        let (path, reason) = pem_reason(client_config_with_pinned(&bogus));
        assert!(path.ends_with("bogus.pem"), "{path}");
        assert_eq!(reason, "certificate 2 is not a readable X.509 certificate");
        let garbage = CertificateDer::from(vec![0, 1, 2, 3, 4, 5]);
        assert!(matches!(
            client_config_with_pinned_certificates([garbage]),
            Err(Error::Tls(_))
        ));
    }

    #[test]
    fn configs_use_torsades_provider_not_the_process_default() {
        let certificates = TestCertificates::new(&["localhost"]).unwrap();
        let client = certificates.client_config().unwrap();
        let server = certificates.server_config().unwrap();
        // Built without touching the process default, which no one installed here.
        assert!(CryptoProvider::get_default().is_none());
        let ours = crypto_provider();
        assert_eq!(
            client.crypto_provider().cipher_suites.len(),
            ours.cipher_suites.len()
        );
        assert_eq!(
            server.crypto_provider().cipher_suites.len(),
            ours.cipher_suites.len()
        );
    }
}
