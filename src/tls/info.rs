//! What a TLS handshake settled: [`TlsInfo`].

use rustls::pki_types::CertificateDer;
use rustls::ProtocolVersion;

/// The outcome of a connection's TLS handshake, from
/// [`Transport::tls_info`](crate::Transport::tls_info).
#[derive(Clone, Debug)]
pub struct TlsInfo {
    pub(crate) alpn_protocol: Option<Vec<u8>>,
    pub(crate) server_name: Option<String>,
    pub(crate) peer_certificates: Vec<CertificateDer<'static>>,
    pub(crate) protocol_version: Option<ProtocolVersion>,
}

impl TlsInfo {
    /// The application protocol agreed through ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn_protocol.as_deref()
    }

    /// The server name: the SNI the client sent (server side), or the name connected to
    /// (client side).
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The peer's certificate chain, leaf first (empty if it presented none).
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.peer_certificates
    }

    /// The TLS version in use.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.protocol_version
    }
}
