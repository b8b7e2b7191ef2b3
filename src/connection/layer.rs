//! The byte stream under a connection, with TLS over it when asked: [`Layer`].
//!
//! Any stream that reads and writes bytes (`AsyncRead + AsyncWrite`: TCP, a Unix socket,
//! an in-memory pipe) carries a connection. A connection starts plain or TLS and may
//! switch from plain to TLS (a TLS port's handshake, or STARTTLS): the plain stream goes
//! into the handshake, which the driver polls in its place, and the TLS stream it yields
//! takes its place.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::{Accept, Connect, TlsAcceptor, TlsConnector, TlsStream};

use crate::tls::{StartTls, TlsInfo};

/// A stream, plain or with TLS over it.
pub(crate) enum Layer<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// A server handshake holds the stream.
    Accepting(Box<Accept<S>>),
    /// A client handshake holds the stream, checking the server for this name.
    Connecting(Box<Connect<S>>, String),
    /// The stream is gone: a handshake failed with it.
    Gone,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Layer<S> {
    /// Hands the plain stream to a handshake playing `tls`'s side; `false` (and nothing
    /// changes) if the stream is not plain.
    pub(crate) fn begin_handshake(&mut self, tls: StartTls) -> bool {
        match std::mem::replace(self, Layer::Gone) {
            Layer::Plain(stream) => {
                *self = match tls {
                    StartTls::Server { config } => {
                        Layer::Accepting(Box::new(TlsAcceptor::from(config).accept(stream)))
                    }
                    StartTls::Client {
                        server_name,
                        config,
                    } => {
                        let name = server_name.to_str().into_owned();
                        let connect = TlsConnector::from(config).connect(server_name, stream);
                        Layer::Connecting(Box::new(connect), name)
                    }
                };
                true
            }
            other => {
                *self = other;
                false
            }
        }
    }

    /// Whether a handshake holds the stream.
    pub(crate) fn is_handshaking(&self) -> bool {
        matches!(self, Layer::Accepting(_) | Layer::Connecting(..))
    }

    /// Whether the stream is TLS (or becoming TLS).
    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Layer::Plain(_))
    }

    /// Drives the handshake holding the stream: `Ready(Ok(None))` if there is none,
    /// `Ready(Ok(Some(info)))` once it completed (the stream is TLS now),
    /// `Ready(Err)` if it failed (the stream is gone).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<TlsInfo>>> {
        let (outcome, name) = match self {
            Layer::Accepting(accept) => match Pin::new(&mut **accept).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => (outcome.map(TlsStream::Server), None),
            },
            Layer::Connecting(connect, name) => match Pin::new(&mut **connect).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => {
                    (outcome.map(TlsStream::Client), Some(std::mem::take(name)))
                }
            },
            _ => return Poll::Ready(Ok(None)),
        };
        match outcome {
            Ok(stream) => {
                let info = tls_info(&stream, name.as_deref());
                *self = Layer::Tls(Box::new(stream));
                Poll::Ready(Ok(Some(info)))
            }
            Err(error) => {
                *self = Layer::Gone;
                Poll::Ready(Err(error))
            }
        }
    }

    /// What the handshake settled, for a TLS stream.
    pub(crate) fn info(&self, server_name: Option<&str>) -> Option<TlsInfo> {
        match self {
            Layer::Tls(stream) => Some(tls_info(stream, server_name)),
            _ => None,
        }
    }
}

/// What `stream`'s handshake settled.
pub(crate) fn tls_info<S>(stream: &TlsStream<S>, server_name: Option<&str>) -> TlsInfo {
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
fn unavailable<S>(stream: &Layer<S>) -> io::Error {
    match stream {
        Layer::Accepting(_) | Layer::Connecting(..) => io::Error::new(
            io::ErrorKind::WouldBlock,
            "the connection is switching to TLS",
        ),
        _ => io::Error::new(
            io::ErrorKind::NotConnected,
            "the connection's TLS handshake failed",
        ),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Layer<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Layer::Tls(stream) => Pin::new(&mut **stream).poll_read(cx, buf),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Layer<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_write(cx, data),
            Layer::Tls(stream) => Pin::new(&mut **stream).poll_write(cx, data),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Layer::Tls(stream) => Pin::new(&mut **stream).poll_flush(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    /// For TLS: sends close_notify, then shuts down the stream's write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Layer::Tls(stream) => Pin::new(&mut **stream).poll_shutdown(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}
