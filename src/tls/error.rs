//! A TLS failure, as torsade reports it: [`TlsError`].

use std::fmt;
use std::io;

use crate::{ConnectionError, DisconnectReason};

/// TLS failed: a handshake, a certificate check, or the session. Its message says what is
/// wrong and what to do ("the server's certificate is not valid for the name ..."); the
/// error from the TLS library is its [`source`](std::error::Error::source).
#[derive(Clone, Debug)]
pub struct TlsError {
    error: rustls::Error,
}

impl TlsError {
    pub(crate) fn new(error: rustls::Error) -> TlsError {
        TlsError { error }
    }

    /// The TLS library's error, to match on what failed:
    /// `rustls::Error::InvalidCertificate(CertificateError::Expired)`, say.
    pub fn rustls_error(&self) -> &rustls::Error {
        &self.error
    }
}

impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> TlsError {
        TlsError::new(error)
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}", super::Explained(&self.error))
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The TLS error inside an I/O error from a TLS stream, if there is one.
pub(crate) fn tls_error_in(error: &io::Error) -> Option<TlsError> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(|tls| TlsError::new(tls.clone()))
}

/// Why a connection whose TLS handshake failed with `error` is lost.
pub(crate) fn handshake_failure(error: io::Error) -> DisconnectReason {
    match tls_error_in(&error) {
        Some(tls) => DisconnectReason::Lost(ConnectionError::Tls(tls)),
        None => DisconnectReason::lost(error),
    }
}
