//! The byte stream under a connection, with TLS over it when asked: [`Layer`].
//!
//! Any stream that reads and writes bytes (`AsyncRead + AsyncWrite`: TCP, a Unix socket,
//! an in-memory pipe) carries a connection. A connection starts plain or TLS and may
//! switch from plain to TLS (a TLS port's handshake, or STARTTLS): the plain stream goes
//! into a [`TlsLayer`](super::tls_layer::TlsLayer), which runs the handshake and then
//! carries the session. Without the `tls` feature a layer is always plain.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "tls")]
use super::tls_layer::TlsLayer;

/// A stream, plain or with TLS over it.
pub(crate) enum Layer<S> {
    Plain(S),
    #[cfg(feature = "tls")]
    Tls(Box<TlsLayer<S>>),
}

impl<S> Layer<S> {
    /// Whether a handshake holds the stream.
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Layer::Plain(_) => false,
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => tls.is_handshaking(),
        }
    }

    /// Whether the stream is TLS (or becoming TLS).
    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Layer::Plain(_))
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
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
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
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_flush(cx),
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    /// For TLS: sends close_notify, then shuts down the stream's write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}
