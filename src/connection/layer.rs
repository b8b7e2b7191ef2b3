//! The byte stream under a connection, with TLS over it when asked: [`Layer`].
//!
//! Any stream that reads and writes bytes (`AsyncRead + AsyncWrite`: TCP, a Unix socket,
//! an in-memory pipe) carries a connection. A connection starts plain or TLS and may
//! switch from plain to TLS (a TLS port's handshake, or STARTTLS): the stream moves into
//! a [`TlsOver`](super::tls_layer::TlsOver), which runs the handshake over it and then
//! carries the session. Without the `tls` feature a layer is always plain.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "tls")]
use super::tls_layer::TlsOver;

/// A stream, plain or with TLS over it.
pub(crate) enum Layer<S> {
    Plain(S),
    #[cfg(feature = "tls")]
    Tls(Box<TlsOver<S>>),
    /// The stream on its way from plain to TLS: seen only inside the switch.
    #[cfg(feature = "tls")]
    Moving,
}

impl<S> Layer<S> {
    /// Whether a handshake holds the stream.
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Layer::Plain(_) => false,
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => tls.is_handshaking(),
            #[cfg(feature = "tls")]
            Layer::Moving => false,
        }
    }

    /// Whether the stream is TLS (or becoming TLS).
    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Layer::Plain(_))
    }

    /// Gives back the buffers the layer holds with nothing in them: the connection is
    /// idle.
    pub(crate) fn release_idle(&mut self) {
        #[cfg(feature = "tls")]
        if let Layer::Tls(tls) = self {
            tls.release_idle();
        }
    }
}

/// Why a stream on its way to TLS cannot be used.
#[cfg(feature = "tls")]
fn moving() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the stream is switching to TLS",
    )
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
            #[cfg(feature = "tls")]
            Layer::Moving => Poll::Ready(Err(moving())),
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
            #[cfg(feature = "tls")]
            Layer::Moving => Poll::Ready(Err(moving())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_flush(cx),
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
            #[cfg(feature = "tls")]
            Layer::Moving => Poll::Ready(Err(moving())),
        }
    }

    /// For TLS: sends close_notify, then shuts down the stream's write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Layer::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Layer::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Layer::Moving => Poll::Ready(Err(moving())),
        }
    }
}
