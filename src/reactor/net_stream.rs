//! The socket under a connection: plain TCP, or TLS over it — [`NetStream`].
//!
//! A connection starts as one or the other and may switch from TCP to TLS (a TLS port's
//! handshake, or STARTTLS): the TCP stream goes into the handshake, which the connection's
//! task drives in its place, and the TLS stream it yields takes its place.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

use crate::tls::TlsInfo;

/// A TLS handshake in progress on a connection's TCP stream; it ends with the TLS stream
/// and, for a client, the server name it checked.
pub(crate) type Handshake =
    Pin<Box<dyn Future<Output = io::Result<(TlsStream<TcpStream>, Option<String>)>> + Send>>;

pub(crate) enum NetStream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// A handshake holds the TCP stream: no reading or writing until it completes.
    Handshaking(Handshake),
    /// The stream is gone: a handshake failed with it.
    Gone,
}

impl NetStream {
    /// Hands the TCP stream to the handshake `begin` makes of it; `false` (and nothing
    /// changes) if the stream is not plain TCP.
    pub(crate) fn begin_handshake(&mut self, begin: impl FnOnce(TcpStream) -> Handshake) -> bool {
        match std::mem::replace(self, NetStream::Gone) {
            NetStream::Tcp(stream) => {
                *self = NetStream::Handshaking(begin(stream));
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
        matches!(self, NetStream::Handshaking(_))
    }

    /// Drives the handshake holding the stream: `Ready(Ok(None))` if there is none,
    /// `Ready(Ok(Some(name)))` once it completed (the stream is TLS now; `name` is the
    /// server name a client checked), `Ready(Err)` if it failed (the stream is gone).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Option<String>>>> {
        let NetStream::Handshaking(handshake) = self else {
            return Poll::Ready(Ok(None));
        };
        match handshake.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok((tls, server_name))) => {
                *self = NetStream::Tls(Box::new(tls));
                Poll::Ready(Ok(Some(server_name)))
            }
            Poll::Ready(Err(error)) => {
                *self = NetStream::Gone;
                Poll::Ready(Err(error))
            }
        }
    }

    /// What the handshake settled, for a TLS stream.
    pub(crate) fn tls_info(&self, server_name: Option<&str>) -> Option<TlsInfo> {
        let NetStream::Tls(stream) = self else {
            return None;
        };
        let (_, session) = stream.get_ref();
        let sni = match &**stream {
            TlsStream::Server(server) => server.get_ref().1.server_name().map(str::to_string),
            TlsStream::Client(_) => server_name.map(str::to_string),
        };
        Some(TlsInfo {
            alpn_protocol: session.alpn_protocol().map(<[u8]>::to_vec),
            server_name: sni,
            peer_certificates: session
                .peer_certificates()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            protocol_version: session.protocol_version(),
        })
    }
}

/// Why the stream cannot be read or written now.
fn unavailable(stream: &NetStream) -> io::Error {
    match stream {
        NetStream::Handshaking(_) => io::Error::new(
            io::ErrorKind::WouldBlock,
            "the connection is switching to TLS",
        ),
        _ => io::Error::new(
            io::ErrorKind::NotConnected,
            "the connection's TLS handshake failed",
        ),
    }
}

impl AsyncRead for NetStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_read(cx, buf),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_write(cx, data),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_write(cx, data),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_flush(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }

    /// For TLS: sends close_notify, then shuts down the TCP write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_shutdown(cx),
            other => Poll::Ready(Err(unavailable(other))),
        }
    }
}
