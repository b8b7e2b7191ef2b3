//! Certificates for tests: a throwaway CA and a server certificate it signed —
//! [`TestCertificates`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use crate::tls::rustls::{ClientConfig, ServerConfig};
use crate::{tls, Error, Result};

/// A freshly generated CA and a server certificate it signed for some names, with the
/// server's key — everything a TLS test needs, in memory or written to files.
///
/// For tests and examples only: the keys are generated on the spot and never protected.
/// Needs the `test-certificates` feature (off by default), so that a program that uses
/// TLS does not build a certificate generator.
///
/// # Examples
///
/// ```
/// use torsade::testing::TestCertificates;
///
/// let certificates = TestCertificates::new(&["localhost", "127.0.0.1"]).unwrap();
/// let server = certificates.server_config().unwrap(); // for endpoints::TlsServer
/// let client = certificates.client_config().unwrap(); // trusts the CA only
/// assert!(certificates.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # let _ = (server, client);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "test-certificates")))]
pub struct TestCertificates {
    ca: CertificateDer<'static>,
    ca_pem: String,
    leaf: CertificateDer<'static>,
    leaf_pem: String,
    key: Vec<u8>,
    key_pem: String,
}

impl TestCertificates {
    /// A CA and a server certificate for `names` (DNS names or IP addresses), valid now.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateGeneration`] if a name is unusable.
    pub fn new(names: &[&str]) -> Result<TestCertificates> {
        TestCertificates::generate(names, false)
    }

    /// Like [`new`](TestCertificates::new), but the server certificate expired in 2001.
    ///
    /// # Errors
    ///
    /// As [`new`](TestCertificates::new).
    pub fn expired(names: &[&str]) -> Result<TestCertificates> {
        TestCertificates::generate(names, true)
    }

    fn generate(names: &[&str], expired: bool) -> Result<TestCertificates> {
        let generation = |error: rcgen::Error| Error::CertificateGeneration {
            reason: error.to_string(),
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generation)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: two test CAs must not pass for one another.
        let serial =
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("torsade test CA {serial:016x}"),
        );
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(generation)?)
            .map_err(generation)?;
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut leaf_params = CertificateParams::new(names).map_err(generation)?;
        if expired {
            leaf_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            leaf_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().map_err(generation)?;
        let leaf = leaf_params.signed_by(&key, &ca).map_err(generation)?;
        Ok(TestCertificates {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            leaf: leaf.der().clone(),
            leaf_pem: leaf.pem(),
            key: key.serialize_der(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The CA certificate, PEM-encoded.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.leaf_pem
    }

    /// The server's private key, PEM-encoded (PKCS#8).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server configuration presenting the certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] if rustls refuses it.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        tls::server_config(vec![self.leaf.clone()], key)
    }

    /// A client configuration trusting the CA (and nothing else).
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] if rustls refuses the CA.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>> {
        tls::client_config_with_roots([self.ca.clone()])
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `directory`; returns their paths in
    /// that order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a file cannot be written.
    pub fn write_to(&self, directory: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
        let paths = (
            directory.join("ca.pem"),
            directory.join("cert.pem"),
            directory.join("key.pem"),
        );
        std::fs::write(&paths.0, &self.ca_pem)?;
        std::fs::write(&paths.1, &self.leaf_pem)?;
        std::fs::write(&paths.2, &self.key_pem)?;
        Ok(paths)
    }
}

impl fmt::Debug for TestCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCertificates").finish_non_exhaustive()
    }
}
