//! Building rustls configurations: from PEM files, with the platform's roots or a given CA.
//!
//! Every configuration is built with an explicit crypto provider (ring), never the
//! process-wide default, so a crate elsewhere in the build enabling another rustls
//! provider cannot make these panic with "no process-level CryptoProvider".

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

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
/// # Errors
///
/// [`Error::Pem`] if the file cannot be read or holds no certificate; [`Error::Tls`] if a
/// certificate is not a usable trust anchor.
pub fn client_config_with_ca(ca: impl AsRef<Path>) -> Result<Arc<ClientConfig>> {
    client_config_with_roots(read_certificates(ca.as_ref())?)
}

/// A client configuration trusting the given CA certificates.
///
/// # Errors
///
/// [`Error::Tls`] if a certificate is not a usable trust anchor.
pub fn client_config_with_roots(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root)?;
    }
    client_config(store)
}

/// A client configuration trusting the platform's CA certificates (the system store, e.g.
/// `/etc/ssl/certs`). Certificates the platform lists but rustls cannot use are skipped.
///
/// # Errors
///
/// [`Error::Pem`] if no platform certificate could be loaded.
pub fn client_config_with_platform_roots() -> Result<Arc<ClientConfig>> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(Error::Pem {
            path: "the platform certificate store".into(),
            reason: format!("no usable certificate ({} errors)", loaded.errors.len()),
        });
    }
    client_config(store)
}

fn client_config(store: RootCertStore) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
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
