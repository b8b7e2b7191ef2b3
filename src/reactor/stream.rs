//! The streams the reactor runs connections over: [`NetStream`] — a TCP socket, a Unix
//! domain socket, or any other [`ByteStream`].

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// Any stream of bytes a connection can run over: what tokio reads and writes, movable
/// between threads. TCP and Unix sockets, an in-memory
/// [`MemoryStream`](crate::testing::MemoryStream), a pipe to a child process, a stream from
/// another library.
///
/// Implemented for every type that qualifies; see
/// [`Reactor::connect_stream`](crate::Reactor::connect_stream).
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for S {}

/// The stream under a reactor connection. An enum rather than a boxed `ByteStream` for
/// the kinds the reactor opens itself, so their reads and writes are direct calls.
pub(crate) enum NetStream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    Other(Box<dyn ByteStream>),
}

impl fmt::Debug for NetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetStream::Tcp(stream) => stream.fmt(f),
            #[cfg(unix)]
            NetStream::Unix(stream) => stream.fmt(f),
            NetStream::Other(_) => f.write_str("ByteStream"),
        }
    }
}

macro_rules! each {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            NetStream::Tcp($s) => $body,
            #[cfg(unix)]
            NetStream::Unix($s) => $body,
            NetStream::Other($s) => $body,
        }
    };
}

impl AsyncRead for NetStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self.get_mut(), stream => Pin::new(stream).poll_read(cx, buf))
    }
}

impl AsyncWrite for NetStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), stream => Pin::new(stream).poll_write(cx, data))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), stream => Pin::new(stream).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), stream => Pin::new(stream).poll_shutdown(cx))
    }
}
