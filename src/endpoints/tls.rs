//! TLS over any stream endpoint: [`TlsServer`] and [`TlsClient`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::parse::Description;
use super::tcp::escape;
use super::{Binding, ClientEndpoint, Connected, ServerEndpoint, TcpClient, TcpServer};
use crate::tls::rustls::{ClientConfig, ServerConfig};
use crate::tls::StartTls;
use crate::{Reactor, Result};

/// Listening for TLS connections over another server endpoint (TCP, a Unix socket...):
/// `tls:PORT:certKey=CHAIN.pem:privateKey=KEY.pem[:interface=IP][:backlog=N]` (or `ssl:`)
/// for TLS over TCP. Twisted's `SSL4ServerEndpoint`.
///
/// The protocol is built and `connection_made` runs as soon as a connection is accepted
/// (what it writes is sent encrypted once the handshake completes); then
/// [`handshake_completed`](crate::Protocol::handshake_completed) runs. A failed or stalled
/// handshake ends that connection with the TLS error; the port goes on serving.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-certificates")] {
/// use torsade::endpoints::{TcpServer, TlsServer};
/// use torsade::testing::TestCertificates;
///
/// let config = TestCertificates::new(&["localhost"]).unwrap().server_config().unwrap();
/// let server = TlsServer::new(TcpServer::new(8443), config);
/// assert_eq!(server.to_string(), "tls:8443");
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub struct TlsServer {
    inner: Box<dyn ServerEndpoint>,
    config: Arc<ServerConfig>,
    /// Where the certificate and key came from, for the string form.
    files: Option<(PathBuf, PathBuf)>,
}

impl TlsServer {
    /// TLS with `config` over the connections `inner` accepts.
    pub fn new(inner: impl ServerEndpoint + 'static, config: Arc<ServerConfig>) -> TlsServer {
        TlsServer {
            inner: Box::new(inner),
            config,
            files: None,
        }
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<TlsServer> {
        parsed.only(
            1,
            &["port", "interface", "backlog", "certKey", "privateKey"],
        )?;
        let tcp = TcpServer::parse_args(parsed)?;
        let key = parsed
            .path("privateKey", None)
            .ok_or_else(|| parsed.invalid("privateKey", "the path of a PEM private key"))?;
        // Twisted's rule: without certKey, the key file holds the certificate chain too.
        let chain = parsed.path("certKey", None).unwrap_or_else(|| key.clone());
        let config = crate::tls::server_config_from_pem(&chain, &key)?;
        Ok(TlsServer {
            inner: Box::new(tcp),
            config,
            files: Some((chain, key)),
        })
    }
}

impl ServerEndpoint for TlsServer {
    fn bind(&self, reactor: &Reactor) -> Result<Binding> {
        Ok(self.inner.bind(reactor)?.with_tls(self.config.clone()))
    }
}

impl fmt::Display for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.to_string();
        match inner.strip_prefix("tcp:") {
            Some(rest) => write!(f, "tls:{rest}")?,
            None => write!(f, "tls over {inner}")?,
        }
        if let Some((chain, key)) = &self.files {
            let (chain, key) = (chain.display().to_string(), key.display().to_string());
            write!(f, ":certKey={}:privateKey={}", escape(&chain), escape(&key))?;
        }
        Ok(())
    }
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("inner", &self.inner)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// Connecting over TLS through another client endpoint (TCP, a Unix socket...):
/// `tls:host=HOST:port=PORT[:caCerts=CA.pem][:timeout=SECONDS]` for TLS over TCP, checking
/// the server's certificate for `HOST` with the platform's roots, or the CA certificates
/// given. Twisted's `wrapClientTLS` / `tls:` client endpoint.
///
/// The handshake completes before the protocol is built, so a wrong name, an untrusted or
/// expired certificate is a failed connection attempt, never a connection that dies later.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-certificates")] {
/// use torsade::endpoints::{TcpClient, TlsClient};
/// use torsade::testing::TestCertificates;
///
/// let certificates = TestCertificates::new(&["localhost"]).unwrap();
/// let client = TlsClient::new(
///     TcpClient::new("localhost", 8443),
///     "localhost",
///     certificates.client_config().unwrap(),
/// )
/// .unwrap();
/// assert_eq!(client.to_string(), "tls:host=localhost:port=8443");
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub struct TlsClient {
    inner: Arc<dyn ClientEndpoint>,
    tls: StartTls,
    /// Where the trusted CA certificates came from, for the string form.
    ca: Option<PathBuf>,
}

impl TlsClient {
    /// TLS with `config` over the streams `inner` opens, checking the server's certificate
    /// for `server_name` (also sent as SNI).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidServerName`](crate::Error::InvalidServerName) if `server_name` is
    /// neither a DNS name nor an IP address.
    pub fn new(
        inner: impl ClientEndpoint + 'static,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> Result<TlsClient> {
        Ok(TlsClient {
            inner: Arc::new(inner),
            tls: StartTls::client(server_name, config)?,
            ca: None,
        })
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<TlsClient> {
        parsed.only(2, &["host", "port", "timeout", "caCerts"])?;
        let tcp = TcpClient::parse_args(parsed)?;
        let ca = parsed.path("caCerts", None);
        let config = match &ca {
            Some(ca) => crate::tls::client_config_with_ca(ca)?,
            None => crate::tls::client_config_with_platform_roots()?,
        };
        let host = tcp.host().to_string();
        let tls = StartTls::client(&host, config).map_err(|_| {
            parsed.invalid(
                "host",
                "a DNS name or IP address to check the certificate for",
            )
        })?;
        Ok(TlsClient {
            inner: Arc::new(tcp),
            tls,
            ca,
        })
    }
}

#[async_trait]
impl ClientEndpoint for TlsClient {
    async fn connect(&self) -> Result<Connected> {
        Ok(self.inner.connect().await?.with_tls(self.tls.clone()))
    }
}

impl fmt::Display for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.to_string();
        match inner.strip_prefix("tcp:") {
            Some(rest) => write!(f, "tls:{rest}")?,
            None => write!(f, "tls over {inner}")?,
        }
        if let Some(ca) = &self.ca {
            write!(f, ":caCerts={}", escape(&ca.display().to_string()))?;
        }
        Ok(())
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("inner", &self.inner)
            .field("tls", &self.tls)
            .field("ca", &self.ca)
            .finish()
    }
}
