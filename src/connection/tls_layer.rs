//! TLS over a connection's stream: [`TlsLayer`], a handshake and then the session it
//! yields, on tokio-rustls.
//!
//! The plain stream goes into the handshake, which the driver polls in its place; the
//! handshake yields the TLS stream that carries the connection from then on. While the
//! handshake runs, the stream cannot be read or written (the driver holds what the
//! protocol writes meanwhile).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::{Accept, Connect, TlsAcceptor, TlsConnector, TlsStream};

use super::layer::Layer;
use crate::tls::{StartTls, TlsInfo};

/// A stream becoming TLS, or TLS.
pub(crate) enum TlsLayer<S> {
    /// A server handshake holds the stream.
    Accepting(Accept<S>),
    /// A client handshake holds the stream, checking the server for this name.
    Connecting(Connect<S>, String),
    /// The handshake completed: the session carries the connection.
    Session(TlsStream<S>),
    /// The stream is gone: a handshake failed with it.
    Gone,
}

impl<S> TlsLayer<S> {
    /// Whether a handshake holds the stream.
    pub(crate) fn is_handshaking(&self) -> bool {
        matches!(self, TlsLayer::Accepting(_) | TlsLayer::Connecting(..))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Layer<S> {
    /// A stream whose client handshake completed before the connection started.
    pub(crate) fn tls(stream: TlsStream<S>) -> Layer<S> {
        Layer::Tls(Box::new(TlsLayer::Session(stream)))
    }

    /// Hands the plain stream to a handshake playing `tls`'s side; `false` (and nothing
    /// changes) if the stream is not plain.
    pub(crate) fn begin_handshake(&mut self, tls: StartTls) -> bool {
        let previous = std::mem::replace(self, Layer::Tls(Box::new(TlsLayer::Gone)));
        let Layer::Plain(stream) = previous else {
            *self = previous;
            return false;
        };
        if let Layer::Tls(slot) = self {
            **slot = match tls {
                StartTls::Server { config } => {
                    TlsLayer::Accepting(TlsAcceptor::from(config).accept(stream))
                }
                StartTls::Client {
                    server_name,
                    config,
                } => {
                    let name = server_name.to_str().into_owned();
                    let connect = TlsConnector::from(config).connect(server_name, stream);
                    TlsLayer::Connecting(connect, name)
                }
            };
        }
        true
    }

    /// Drives the handshake holding the stream: `Ready(Ok(None))` if there is none,
    /// `Ready(Ok(Some(info)))` once it completed (the stream is TLS now),
    /// `Ready(Err)` if it failed (the stream is gone).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<TlsInfo>>> {
        let Layer::Tls(tls) = self else {
            return Poll::Ready(Ok(None));
        };
        let (outcome, name) = match &mut **tls {
            TlsLayer::Accepting(accept) => match Pin::new(accept).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => (outcome.map(TlsStream::Server), None),
            },
            TlsLayer::Connecting(connect, name) => match Pin::new(connect).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => {
                    (outcome.map(TlsStream::Client), Some(std::mem::take(name)))
                }
            },
            TlsLayer::Session(_) | TlsLayer::Gone => return Poll::Ready(Ok(None)),
        };
        match outcome {
            Ok(stream) => {
                let info = tls_info(&stream, name.as_deref());
                **tls = TlsLayer::Session(stream);
                Poll::Ready(Ok(Some(info)))
            }
            Err(error) => {
                **tls = TlsLayer::Gone;
                Poll::Ready(Err(error))
            }
        }
    }

    /// What the handshake settled, for a TLS stream.
    pub(crate) fn info(&self, server_name: Option<&str>) -> Option<TlsInfo> {
        match self {
            Layer::Tls(tls) => match &**tls {
                TlsLayer::Session(stream) => Some(tls_info(stream, server_name)),
                _ => None,
            },
            Layer::Plain(_) => None,
        }
    }
}

/// What `stream`'s handshake settled.
fn tls_info<S>(stream: &TlsStream<S>, server_name: Option<&str>) -> TlsInfo {
    let (_, session) = stream.get_ref();
    let sni = match stream {
        TlsStream::Server(server) => server.get_ref().1.server_name().map(str::to_string),
        TlsStream::Client(_) => server_name.map(str::to_string),
    };
    TlsInfo {
        alpn_protocol: session.alpn_protocol().map(<[u8]>::to_vec),
        server_name: sni,
        peer_certificates: session
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default(),
        protocol_version: session.protocol_version(),
    }
}

/// Why the stream cannot be read or written now.
fn unavailable<S>(tls: &TlsLayer<S>) -> io::Error {
    if tls.is_handshaking() {
        io::Error::new(
            io::ErrorKind::WouldBlock,
            "the connection is switching to TLS",
        )
    } else {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "the connection's TLS handshake failed",
        )
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsLayer<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsLayer::Session(stream) => Pin::new(stream).poll_read(cx, buf),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsLayer<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsLayer::Session(stream) => Pin::new(stream).poll_write(cx, data),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsLayer::Session(stream) => Pin::new(stream).poll_flush(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    /// Sends close_notify, then shuts down the stream's write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsLayer::Session(stream) => Pin::new(stream).poll_shutdown(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}
