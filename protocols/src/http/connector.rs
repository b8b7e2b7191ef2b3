//! Opening HTTP connections over torsade: [`Connector`], the `tower` service hyper's pool
//! calls with a URI, and [`HttpStream`], the torsade [`Connection`] hyper reads and
//! writes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection as HyperConnection};
use hyper_util::rt::TokioIo;
use torsade::endpoints::TcpClient;
use torsade::{Connection, Reactor};

/// What a failed connection attempt reports to hyper's pool: torsade's error, shared so
/// that the request can hand it on (see [`HttpError::Connect`](super::HttpError::Connect)).
#[derive(Debug, Clone)]
pub(crate) struct ConnectError(pub(crate) Arc<torsade::Error>);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl From<torsade::Error> for ConnectError {
    fn from(error: torsade::Error) -> ConnectError {
        ConnectError(Arc::new(error))
    }
}

/// Opens a torsade connection for each URI hyper's pool asks for: TCP for `http`, TLS
/// over TCP for `https` (checking the certificate for the URI's host).
#[derive(Clone)]
pub(crate) struct Connector {
    reactor: Reactor,
    #[cfg(feature = "tls")]
    tls: super::tls::TlsTrust,
}

impl Connector {
    pub(crate) fn new(
        reactor: Reactor,
        #[cfg(feature = "tls")] tls: super::tls::TlsTrust,
    ) -> Connector {
        Connector {
            reactor,
            #[cfg(feature = "tls")]
            tls,
        }
    }

    async fn connect(self, uri: Uri) -> Result<HttpStream, ConnectError> {
        let host = uri.host().ok_or_else(|| torsade::Error::InvalidEndpoint {
            endpoint: uri.to_string(),
            field: "host".to_string(),
            expected: "a host name or address".to_string(),
        })?;
        // An IPv6 address comes bracketed in a URI; the endpoint takes the bare address.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpClient::new(host, port);
        let connection = if https {
            self.connect_tls(tcp, host).await?
        } else {
            self.reactor.open_connection(tcp).await?
        };
        tracing::debug!(%uri, "HTTP connection opened");
        Ok(HttpStream(TokioIo::new(connection)))
    }

    #[cfg(feature = "tls")]
    async fn connect_tls(&self, tcp: TcpClient, host: &str) -> torsade::Result<Connection> {
        let endpoint = torsade::endpoints::TlsClient::new(tcp, host, self.tls.config()?)?;
        self.reactor.open_connection(endpoint).await
    }

    /// Never called: the request checked the scheme first.
    #[cfg(not(feature = "tls"))]
    async fn connect_tls(&self, _: TcpClient, _: &str) -> torsade::Result<Connection> {
        Err(torsade::Error::FeatureDisabled {
            what: "https".to_string(),
            feature: "tls",
        })
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = HttpStream;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpStream, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

/// A torsade [`Connection`] as hyper's byte stream.
#[derive(Debug)]
pub(crate) struct HttpStream(TokioIo<Connection>);

impl HyperConnection for HttpStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for HttpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for HttpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
