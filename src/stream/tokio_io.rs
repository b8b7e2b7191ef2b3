//! The async connection as a tokio byte stream: [`AsyncRead`] and [`AsyncWrite`] for
//! [`Connection`] (and [`AsyncWrite`] for its [`StreamWriter`]), so that tokio code —
//! `tokio_util::codec::Framed`, `tokio::io::copy`, hyper, tungstenite — runs over a torsade
//! connection, with its TLS, limits and in-memory testing underneath.
//!
//! - Reading takes the bytes the connection has buffered first, so it interleaves with
//!   [`read_line`](Connection::read_line) and the other reads: none is lost or reordered.
//! - Writing queues the bytes on the transport, and returns `Pending` while more than its
//!   high-water mark is unsent, until they drain to the low one: a peer that does not read
//!   stops the writer with bounded memory.
//! - Flushing waits until every written byte is handed to the stream; shutting down is a
//!   half-close ([`Transport::lose_write_connection`](crate::Transport::lose_write_connection)):
//!   the peer reads EOF once everything written is sent, and reading goes on.
//!
//! Errors are `std::io::Error`s wrapping torsade's [`Error`]: a write after the
//! connection was closed or shut down is `BrokenPipe`, a failed connection keeps the kind
//! of the I/O error it failed with (else `ConnectionAborted`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Connection, StreamWriter};
use crate::Error;

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_read_buf(cx, buf).map_err(to_io)
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_some(cx, buf).map_err(to_io)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_all(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shut_write(cx).map_err(to_io)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writer_ref().poll_write_some(cx, buf).map_err(to_io)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer_ref().poll_flush_all(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer_ref().poll_shut_write(cx).map_err(to_io)
    }
}

/// `error` as the `std::io::Error` tokio's traits return, with the kind tokio code
/// matches on.
fn to_io(error: Error) -> io::Error {
    let kind = match &error {
        Error::ConnectionClosed => io::ErrorKind::BrokenPipe,
        Error::Disconnected { reason } => reason
            .io_error()
            .map_or(io::ErrorKind::ConnectionAborted, io::Error::kind),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}
