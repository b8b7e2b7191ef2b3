//! TLS over a connection's stream: [`TlsLayer`], rustls's unbuffered connection driven
//! with buffers the layer holds only while bytes are in them.
//!
//! rustls's buffered connection keeps a receive buffer for the session's whole life; its
//! unbuffered connection keeps only the session's state and leaves the bytes in flight to
//! the caller. Here they live in buffers taken from the thread's pools
//! ([`buffers`](super::buffers)) and given back when the connection goes idle
//! ([`release_idle`](TlsLayer::release_idle)), so an idle TLS connection holds no buffer.
//!
//! The plain stream moves into a [`TlsOver`] beside its session, which runs the handshake
//! (the driver polls it in the stream's place), then carries the session: the peer's
//! records are decrypted into the reader's buffer (what does not fit waits in the layer),
//! writes are encrypted into the layer's outgoing buffer and sent from there. A server
//! reads the ClientHello with rustls's `Acceptor` first, to learn the name the client
//! asked for (SNI), which the unbuffered server connection does not tell; the session then
//! starts from the same bytes. `records` turns the session's states into bytes.

mod records;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use rustls::client::UnbufferedClientConnection;
use rustls::server::{Acceptor, ServerConfig, UnbufferedServerConnection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::io::poll_read_buf;

use self::records::{process, queue_alerts, Buffers, Stop, Then};
use super::buffers;
use super::layer::Layer;
use crate::tls::{StartTls, TlsInfo};

/// Encrypted bytes that may wait for the stream before a write waits too: what the layer
/// holds beyond the connection's own write buffer (which the watermarks count).
const SEND_AHEAD: usize = 16 * 1024;

/// Plaintext taken per write: one full record.
const WRITE_CHUNK: usize = 16 * 1024;

/// Room a read needs in the incoming buffer; below it the buffer grows.
const MIN_READ_SPACE: usize = 1024;

/// A TLS session, its handshake then its traffic, over a stream lent to each call (the
/// stream sits beside it in a [`TlsOver`]).
pub(crate) struct TlsLayer {
    session: Session,
    /// TLS bytes read and not yet processed (a record's beginning, or records the session
    /// has not reached yet).
    incoming: BytesMut,
    /// TLS bytes made for the peer; those before `sent` are sent.
    outgoing: Vec<u8>,
    sent: usize,
    /// Plaintext decrypted and not yet read: what did not fit in the reader's buffer.
    plaintext: BytesMut,
    /// The peer sent close_notify: everything it sent is in.
    peer_closed: bool,
    /// This side's close_notify is made.
    close_queued: bool,
    /// [`poll_handshake`](TlsLayer::poll_handshake) reported the handshake complete.
    reported: bool,
}

/// The session, by side and stage.
enum Session {
    /// A server reading the ClientHello (fed the first `fed` incoming bytes so far).
    Hello {
        config: Arc<ServerConfig>,
        acceptor: Box<Acceptor>,
        fed: usize,
    },
    Server {
        conn: UnbufferedServerConnection,
        /// The name the client asked for (SNI).
        server_name: Option<String>,
    },
    Client {
        conn: UnbufferedClientConnection,
        /// The name the server's certificate is checked for.
        server_name: String,
    },
    /// rustls refused the client's configuration: the handshake fails with this.
    Refused(rustls::Error),
    /// The session failed: the stream is not usable any more.
    Failed,
}

impl TlsLayer {
    fn new(session: Session) -> TlsLayer {
        TlsLayer {
            session,
            incoming: BytesMut::new(),
            outgoing: Vec::new(),
            sent: 0,
            plaintext: BytesMut::new(),
            peer_closed: false,
            close_queued: false,
            reported: false,
        }
    }

    /// A handshake playing the side `tls` says. A client configuration rustls refuses
    /// gives a layer whose handshake fails with that error.
    fn start(tls: StartTls) -> Result<TlsLayer, rustls::Error> {
        let session = match tls {
            StartTls::Server { config } => Session::Hello {
                config,
                acceptor: Box::default(),
                fed: 0,
            },
            StartTls::Client {
                server_name,
                config,
            } => {
                let name = server_name.to_str().into_owned();
                Session::Client {
                    conn: UnbufferedClientConnection::new(config, server_name)?,
                    server_name: name,
                }
            }
        };
        Ok(TlsLayer::new(session))
    }

    /// Whether the handshake is under way: until
    /// [`poll_handshake`](TlsLayer::poll_handshake) has reported it complete, so that
    /// nothing is read or written before the connection is told.
    pub(crate) fn is_handshaking(&self) -> bool {
        match &self.session {
            Session::Hello { .. } => true,
            Session::Server { .. } | Session::Client { .. } => !self.reported,
            Session::Refused(_) | Session::Failed => false,
        }
    }

    /// Whether rustls's handshake is under way.
    fn session_handshaking(&self) -> bool {
        match &self.session {
            Session::Hello { .. } => true,
            Session::Server { conn, .. } => conn.is_handshaking(),
            Session::Client { conn, .. } => conn.is_handshaking(),
            Session::Refused(_) | Session::Failed => false,
        }
    }

    /// What the handshake settled, once it has completed.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        let (common, server_name): (&rustls::CommonState, Option<&str>) = match &self.session {
            Session::Server { conn, server_name } => (conn, server_name.as_deref()),
            Session::Client { conn, server_name } => (conn, Some(server_name)),
            _ => return None,
        };
        if common.is_handshaking() {
            return None;
        }
        Some(TlsInfo {
            alpn_protocol: common.alpn_protocol().map(<[u8]>::to_vec),
            server_name: server_name.map(str::to_string),
            peer_certificates: common
                .peer_certificates()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            protocol_version: common.protocol_version(),
        })
    }

    /// Gives back the buffers that hold nothing: the connection is idle.
    pub(crate) fn release_idle(&mut self) {
        if self.incoming.is_empty() && self.incoming.capacity() > 0 {
            buffers::give_back_read(std::mem::take(&mut self.incoming));
        }
        if self.sent == self.outgoing.len() && self.outgoing.capacity() > 0 {
            self.sent = 0;
            buffers::give_back_write(std::mem::take(&mut self.outgoing));
        }
        if self.plaintext.is_empty() && self.plaintext.capacity() > 0 {
            self.plaintext = BytesMut::new();
        }
    }

    /// Encrypted bytes not sent yet.
    fn unsent(&self) -> usize {
        self.outgoing.len() - self.sent
    }

    /// Processes the records in hand (see [`process`]); `reader` gets what is decrypted
    /// first.
    fn process(
        &mut self,
        reader: Option<&mut ReadBuf<'_>>,
        then: Then<'_>,
    ) -> Result<Stop, rustls::Error> {
        if self.sent > 0 {
            self.outgoing.drain(..self.sent);
            self.sent = 0;
        }
        if self.outgoing.capacity() == 0 {
            self.outgoing = buffers::take_write();
        }
        let mut buffers = Buffers {
            incoming: &mut self.incoming,
            outgoing: &mut self.outgoing,
            plaintext: &mut self.plaintext,
            reader,
            peer_closed: &mut self.peer_closed,
        };
        match &mut self.session {
            Session::Server { conn, .. } => process(conn, &mut buffers, then),
            Session::Client { conn, .. } => process(conn, &mut buffers, then),
            Session::Hello { .. } => Ok(Stop::NeedInput),
            Session::Refused(error) => Err(error.clone()),
            Session::Failed => Err(rustls::Error::General("the TLS session failed".into())),
        }
    }

    /// Why the stream cannot be read or written now, if it cannot.
    fn usable(&self) -> io::Result<()> {
        match self.session {
            Session::Refused(_) | Session::Failed => Err(failed()),
            _ if self.is_handshaking() => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the connection is switching to TLS",
            )),
            _ => Ok(()),
        }
    }

    /// Sends what waits in the outgoing buffer; `Ready(Ok)` once it is all sent.
    fn poll_send<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            match ready!(Pin::new(&mut *io).poll_write(cx, &self.outgoing[self.sent..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(count) => self.sent += count,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        self.outgoing.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Reads more of the peer's bytes into the incoming buffer; how many (0 at EOF).
    fn poll_fill<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if self.incoming.capacity() == 0 {
            self.incoming = buffers::take_read();
        }
        if self.incoming.capacity() - self.incoming.len() < MIN_READ_SPACE {
            self.incoming.reserve(buffers::READ_BUFFER);
        }
        poll_read_buf(Pin::new(io), cx, &mut self.incoming)
    }

    /// The session failed with `error`: queues the alert rustls has for the peer, tries
    /// once to send it, and drops the session. Returns the error for the stream's user
    /// (rustls's error inside an I/O error).
    fn fail<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        error: rustls::Error,
    ) -> io::Error {
        match &mut self.session {
            Session::Server { conn, .. } => {
                queue_alerts(conn, &mut self.incoming, &mut self.outgoing)
            }
            Session::Client { conn, .. } => {
                queue_alerts(conn, &mut self.incoming, &mut self.outgoing)
            }
            _ => {}
        }
        let _ = self.poll_send(io, cx);
        self.session = Session::Failed;
        self.incoming = BytesMut::new();
        self.plaintext = BytesMut::new();
        io::Error::new(io::ErrorKind::InvalidData, error)
    }

    /// A server's first step: reads until the ClientHello is whole, learns the name it
    /// asks for, and starts the session, which reads the same bytes again.
    fn poll_hello<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let Session::Hello {
                config,
                acceptor,
                fed,
            } = &mut self.session
            else {
                return Poll::Ready(Ok(()));
            };
            while *fed < self.incoming.len() {
                let mut unread = &self.incoming[*fed..];
                match acceptor.read_tls(&mut unread) {
                    Ok(0) => break,
                    Ok(count) => *fed += count,
                    Err(error) => {
                        self.session = Session::Failed;
                        return Poll::Ready(Err(error));
                    }
                }
            }
            match acceptor.accept() {
                Ok(Some(accepted)) => {
                    let server_name = accepted.client_hello().server_name().map(str::to_string);
                    let config = config.clone();
                    self.session = match UnbufferedServerConnection::new(config) {
                        Ok(conn) => Session::Server { conn, server_name },
                        Err(error) => return Poll::Ready(Err(self.fail(io, cx, error))),
                    };
                    return Poll::Ready(Ok(()));
                }
                Ok(None) => {}
                Err((error, mut alert)) => {
                    let _ = alert.write_all(&mut self.outgoing);
                    return Poll::Ready(Err(self.fail(io, cx, error)));
                }
            }
            if ready!(self.poll_fill(io, cx))? == 0 {
                return Poll::Ready(Err(eof_in_handshake()));
            }
        }
    }

    /// Drives the handshake: `Ready(Ok(Some(info)))` once, when it has completed (and
    /// its last flight is sent); `Ready(Ok(None))` after that; `Ready(Err)` if it failed.
    pub(crate) fn poll_handshake<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<TlsInfo>>> {
        loop {
            match &self.session {
                Session::Refused(error) => {
                    let error = error.clone();
                    self.session = Session::Failed;
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidInput, error)));
                }
                Session::Failed => return Poll::Ready(Err(failed())),
                _ => {}
            }
            ready!(self.poll_hello(io, cx))?;
            if !self.session_handshaking() {
                if self.reported {
                    return Poll::Ready(Ok(None));
                }
                ready!(self.poll_send(io, cx))?;
                self.reported = true;
                return Poll::Ready(Ok(self.info()));
            }
            if let Err(error) = self.process(None, Then::Nothing) {
                return Poll::Ready(Err(self.fail(io, cx, error)));
            }
            // What the handshake made goes out as soon as the stream takes it; meanwhile
            // the peer's answer may come.
            if let Poll::Ready(Err(error)) = self.poll_send(io, cx) {
                return Poll::Ready(Err(error));
            }
            if !self.session_handshaking() {
                continue;
            }
            if ready!(self.poll_fill(io, cx))? == 0 {
                return Poll::Ready(Err(eof_in_handshake()));
            }
        }
    }

    /// Reads plaintext into `buf`: what waits first, then what the records in hand and
    /// those the peer sends next decrypt to. Nothing read means the peer sent
    /// close_notify; a peer that ends the stream without it is an error.
    pub(crate) fn poll_read<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        loop {
            if !self.plaintext.is_empty() {
                let count = self.plaintext.len().min(buf.remaining());
                buf.put_slice(&self.plaintext[..count]);
                self.plaintext.advance(count);
                return Poll::Ready(Ok(()));
            }
            if self.peer_closed {
                // What the peer sends after close_notify is not read.
                self.incoming.clear();
                return Poll::Ready(Ok(()));
            }
            self.usable()?;
            if let Err(error) = self.process(Some(buf), Then::Nothing) {
                return Poll::Ready(Err(self.fail(io, cx, error)));
            }
            // What processing made for the peer (an answer to a key update) goes out as
            // soon as the stream takes it.
            if let Poll::Ready(Err(error)) = self.poll_send(io, cx) {
                return Poll::Ready(Err(error));
            }
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
            if self.peer_closed || !self.plaintext.is_empty() {
                continue;
            }
            if ready!(self.poll_fill(io, cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection without sending TLS close_notify",
                )));
            }
        }
    }

    /// Encrypts up to one record of `data` for the peer; waits while more than
    /// [`SEND_AHEAD`] encrypted bytes wait for the stream.
    pub(crate) fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.usable()?;
        if self.close_queued {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "TLS close_notify was sent: nothing more can be written",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.unsent() >= SEND_AHEAD {
            ready!(self.poll_send(io, cx))?;
        }
        let chunk = &data[..data.len().min(WRITE_CHUNK)];
        match self.process(None, Then::Encrypt(chunk)) {
            Ok(Stop::Writable) => {}
            Ok(_) => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the TLS session cannot send any more",
                )))
            }
            Err(error) => return Poll::Ready(Err(self.fail(io, cx, error))),
        }
        if let Poll::Ready(Err(error)) = self.poll_send(io, cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(chunk.len()))
    }

    /// Sends everything encrypted, then flushes the stream.
    pub(crate) fn poll_flush<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.usable()?;
        ready!(self.poll_send(io, cx))?;
        Pin::new(io).poll_flush(cx)
    }

    /// Sends close_notify after everything encrypted, then shuts down the stream's write
    /// side.
    pub(crate) fn poll_shutdown<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.usable()?;
        if !self.close_queued {
            match self.process(None, Then::CloseNotify) {
                Ok(Stop::Writable | Stop::Closed) => self.close_queued = true,
                Ok(Stop::NeedInput) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "the TLS session cannot send close_notify now",
                    )))
                }
                Err(error) => return Poll::Ready(Err(self.fail(io, cx, error))),
            }
        }
        ready!(self.poll_send(io, cx))?;
        Pin::new(io).poll_shutdown(cx)
    }
}

/// The session failed earlier: the stream cannot be used.
fn failed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection's TLS session failed",
    )
}

/// The peer closed the stream before the handshake completed.
fn eof_in_handshake() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the connection during the TLS handshake",
    )
}

/// A stream with a TLS session over it: what [`Layer::Tls`] holds.
pub(crate) struct TlsOver<S> {
    io: S,
    tls: TlsLayer,
}

impl<S> TlsOver<S> {
    pub(crate) fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    pub(crate) fn release_idle(&mut self) {
        self.tls.release_idle();
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsOver<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tls.poll_read(&mut this.io, cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsOver<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.tls.poll_write(&mut this.io, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tls.poll_flush(&mut this.io, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tls.poll_shutdown(&mut this.io, cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Layer<S> {
    /// Starts a handshake playing `tls`'s side over the stream; `false` (and nothing
    /// changes) if the stream is TLS, or becoming TLS, already.
    pub(crate) fn begin_handshake(&mut self, tls: StartTls) -> bool {
        match std::mem::replace(self, Layer::Moving) {
            Layer::Plain(io) => {
                let tls = TlsLayer::start(tls)
                    .unwrap_or_else(|error| TlsLayer::new(Session::Refused(error)));
                *self = Layer::Tls(Box::new(TlsOver { io, tls }));
                true
            }
            other => {
                *self = other;
                false
            }
        }
    }

    /// Drives the handshake holding the stream: `Ready(Ok(None))` if there is none,
    /// `Ready(Ok(Some(info)))` once it completed (the stream is TLS now),
    /// `Ready(Err)` if it failed (the stream is unusable).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<TlsInfo>>> {
        match self {
            Layer::Tls(over) => {
                let TlsOver { io, tls } = &mut **over;
                tls.poll_handshake(io, cx)
            }
            Layer::Plain(_) | Layer::Moving => Poll::Ready(Ok(None)),
        }
    }

    /// What the handshake settled, for a TLS stream.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        match self {
            Layer::Tls(over) => over.tls.info(),
            Layer::Plain(_) | Layer::Moving => None,
        }
    }
}

// The tests make certificates (rcgen): they need the `test-certificates` feature.
#[cfg(all(test, feature = "test-certificates"))]
mod tests;
