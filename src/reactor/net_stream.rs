//! The socket under a connection: plain TCP, or TLS over it — [`NetStream`].
//!
//! A connection starts as one or the other and may switch from TCP to TLS (a TLS port's
//! handshake, or STARTTLS): the connection's task takes the TCP stream out, runs the
//! handshake, and puts the TLS stream back.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

use crate::tls::TlsInfo;

pub(crate) enum NetStream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Taken out for a TLS handshake.
    Switching,
}

impl NetStream {
    /// Takes the TCP stream out for a handshake (`None` if it is not plain TCP).
    pub(crate) fn take_tcp(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, NetStream::Switching) {
            NetStream::Tcp(stream) => Some(stream),
            other => {
                *self = other;
                None
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

fn switching() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "the connection is switching to TLS",
    )
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
            NetStream::Switching => Poll::Ready(Err(switching())),
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
            NetStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_flush(cx),
            NetStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    /// For TLS: sends close_notify, then shuts down the TCP write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            NetStream::Tls(stream) => Pin::new(&mut **stream).poll_shutdown(cx),
            NetStream::Switching => Poll::Ready(Err(switching())),
        }
    }
}
