//! A connection you `.await` on: [`Connection`] and its cloneable [`StreamWriter`].

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::ReadBuf;

use super::frames::{self, FrameReading, Step};
use super::shared::{StreamShared, StreamState, READ_BUFFER_LIMIT};
use crate::frames::framing::Layout;
use crate::frames::{Framing, FramingError, DEFAULT_MAX_FRAME_LENGTH};
use crate::lines::{Frame, IntoDelimiter, LineFramer, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};
use crate::{Address, DisconnectReason, Error, Result, TransportHandle};

/// One TCP connection driven with async/await: asyncio's `StreamReader` and
/// `StreamWriter` in one value. Get one from
/// [`Reactor::open_connection`](crate::Reactor::open_connection) or in a
/// [`Reactor::start_server`](crate::Reactor::start_server) handler.
///
/// It sits on the same core as the callback API: a protocol on the connection's own task
/// buffers what arrives (pausing the socket when [`READ_BUFFER_LIMIT`] bytes wait unread,
/// so a peer cannot make it hold more), and writes go through the connection's transport.
///
/// - Reads take `&mut self`. Lines are split by the line receivers' own
///   [`LineFramer`] (`\r\n` and [`DEFAULT_MAX_LENGTH`](crate::lines::DEFAULT_MAX_LENGTH)
///   unless set): a line longer than the maximum is an [`Error::LineTooLong`], its rest
///   is skipped up to its delimiter, and the next read goes on after it.
/// - Writes never block the writer for long: once more than the transport's high-water
///   mark ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) unless
///   [set](crate::Transport::set_write_buffer_limits)) waits to be sent, a write waits
///   until it drains to the low one ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW)).
/// - Dropping the connection closes it gracefully (pending writes are sent first).
/// - It is a tokio byte stream too ([`AsyncRead`](tokio::io::AsyncRead) and
///   [`AsyncWrite`](tokio::io::AsyncWrite), as is its [`StreamWriter`]), so
///   `tokio_util::codec::Framed`, `tokio::io::copy` and other tokio code run over it.
///   Those reads take what the connection has buffered first (so they interleave with
///   `read_line`); `poll_write` takes what fits under the high-water mark and waits at it
///   for the buffer to drain to the low one; `poll_flush` waits until every written byte
///   was handed to the stream; `poll_shutdown` is a half-close
///   ([`lose_write_connection`](crate::TransportHandle::lose_write_connection)): the peer
///   reads EOF once everything written is sent, and reading goes on. Their errors are
///   `std::io::Error`s wrapping an [`Error`].
///
/// # Cancel safety
///
/// Every read and write is cancel safe: dropping its future (in `tokio::select!`, say)
/// loses nothing. Received bytes stay in the connection's buffer until a read completes,
/// and a write has queued all its bytes before it first waits.
///
/// # Examples
///
/// The greeting client of the seed article, as a coroutine:
///
/// ```
/// use torsade::Reactor;
/// use torsade_protocols::GreetingServer;
///
/// let reactor = Reactor::new().unwrap();
/// let server = reactor.listen("127.0.0.1:0", GreetingServer::factory()).unwrap();
/// let address = server.local_addr();
/// let r = reactor.clone();
/// let greeting = reactor.spawn(async move {
///     let mut connection = r.open_connection(address).await?;
///     connection.write_line(b"World").await?;
///     let greeting = connection.read_line().await?;
///     r.stop()?;
///     Ok::<_, torsade::Error>(greeting)
/// });
/// reactor.run().unwrap();
/// # let mut greeting = greeting;
/// let greeting = greeting.take_result().unwrap().unwrap().unwrap();
/// assert_eq!(greeting.as_deref(), Some(&b"Hello, World!"[..]));
/// ```
///
/// A tokio codec over it, tested in memory against a line server (`LinesCodec` ends
/// lines with `\n`):
///
/// ```
/// use futures::{SinkExt, StreamExt};
/// use tokio_util::codec::{Framed, LinesCodec};
/// use torsade::testing::stream_loopback;
/// use torsade::Deferred;
/// use torsade_protocols::{GreetingServer, LineOnlyReceiver};
///
/// let server = LineOnlyReceiver::new(GreetingServer::new()).with_delimiter(&b"\n"[..]);
/// let (connection, mut pair) = stream_loopback(server);
/// let mut greeting = Deferred::from_future(async move {
///     let mut lines = Framed::new(connection, LinesCodec::new_with_max_length(1024));
///     lines.send("World").await?;
///     lines.next().await.transpose()
/// });
/// pair.pump();
/// let greeting = greeting.take_result().unwrap().unwrap().unwrap();
/// assert_eq!(greeting.as_deref(), Some("Hello, World!"));
/// ```
pub struct Connection {
    shared: Arc<StreamShared>,
    writer: StreamWriter,
    max_line_length: usize,
    frames: FrameReading,
}

/// The writing side of a [`Connection`]: cheap to clone, so one task can write while
/// another reads. Writing after the connection was dropped or closed is an
/// [`Error::ConnectionClosed`]. It is tokio's [`AsyncWrite`](tokio::io::AsyncWrite) too,
/// with the connection's rules: `tokio::io::copy(&mut connection, &mut writer)` echoes.
#[derive(Clone)]
pub struct StreamWriter {
    shared: Arc<StreamShared>,
    transport: TransportHandle,
    delimiter: Bytes,
}

impl Connection {
    pub(crate) fn new(shared: Arc<StreamShared>, transport: TransportHandle) -> Connection {
        Connection {
            writer: StreamWriter {
                shared: shared.clone(),
                transport,
                delimiter: Bytes::from_static(DEFAULT_DELIMITER),
            },
            shared,
            max_line_length: DEFAULT_MAX_LENGTH,
            frames: FrameReading {
                max_length: DEFAULT_MAX_FRAME_LENGTH,
                skip: 0,
            },
        }
    }

    /// Uses `delimiter` for [`read_line`](Connection::read_line) and
    /// [`write_line`](StreamWriter::write_line) (on writers cloned afterwards too).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty: a programming error.
    pub fn set_delimiter(&mut self, delimiter: impl IntoDelimiter) {
        let delimiter = delimiter.into_delimiter();
        assert!(!delimiter.is_empty(), "a line delimiter cannot be empty");
        self.writer.delimiter = delimiter;
    }

    /// Accepts lines (and [`read_until`](Connection::read_until) frames) of up to
    /// `max_length` bytes, delimiter excluded.
    pub fn set_max_line_length(&mut self, max_length: usize) {
        self.max_line_length = max_length;
    }

    /// Accepts [`read_frame`](Connection::read_frame) payloads of up to `max_length`
    /// bytes ([`DEFAULT_MAX_FRAME_LENGTH`] unless set).
    pub fn set_max_frame_length(&mut self, max_length: usize) {
        self.frames.max_length = max_length;
    }

    /// A writer for this connection, to write from another task.
    pub fn writer(&self) -> StreamWriter {
        self.writer.clone()
    }

    /// A handle on the connection (the callback API's view of it from outside).
    pub fn transport(&self) -> &TransportHandle {
        &self.writer.transport
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> &Address {
        self.writer.transport.peer_addr()
    }

    /// The address of this end.
    pub fn host_addr(&self) -> &Address {
        self.writer.transport.host_addr()
    }

    /// Reads whatever has arrived (at least one byte), or `None` once the peer closed and
    /// everything was read.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the connection failed.
    pub async fn read(&mut self) -> Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_read(cx)).await
    }

    /// Reads one line, without its delimiter; `None` once the peer closed and everything
    /// was read. asyncio's `readline`, Twisted's `lineReceived`.
    ///
    /// # Errors
    ///
    /// - [`Error::LineTooLong`] for a line over the limit (its rest is skipped; read on);
    /// - [`Error::IncompleteRead`] if the peer closed in the middle of a line;
    /// - [`Error::Disconnected`] if the connection failed.
    #[doc(alias = "readline")]
    pub async fn read_line(&mut self) -> Result<Option<Bytes>> {
        let delimiter = self.writer.delimiter.clone();
        poll_fn(|cx| self.poll_frame(cx, &delimiter)).await
    }

    /// Reads up to and including `delimiter`. asyncio's `readuntil`.
    ///
    /// # Errors
    ///
    /// As [`read_line`](Connection::read_line), and [`Error::IncompleteRead`] at the end of
    /// the stream (there is no `None`).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    #[doc(alias = "readuntil")]
    pub async fn read_until(&mut self, delimiter: &[u8]) -> Result<Bytes> {
        assert!(!delimiter.is_empty(), "read_until needs a delimiter");
        let delimiter = Bytes::copy_from_slice(delimiter);
        match poll_fn(|cx| self.poll_frame(cx, &delimiter)).await? {
            Some(frame) => {
                let mut whole = BytesMut::with_capacity(frame.len() + delimiter.len());
                whole.extend_from_slice(&frame);
                whole.extend_from_slice(&delimiter);
                Ok(whole.freeze())
            }
            None => Err(Error::IncompleteRead {
                partial: Bytes::new(),
                expected: None,
            }),
        }
    }

    /// Reads exactly `count` bytes. asyncio's `readexactly`.
    ///
    /// The connection buffers up to `count` bytes for it, so `count` is yours to bound.
    ///
    /// # Errors
    ///
    /// [`Error::IncompleteRead`] if the peer closed first; [`Error::Disconnected`] if the
    /// connection failed.
    #[doc(alias = "readexactly")]
    pub async fn read_exact(&mut self, count: usize) -> Result<Bytes> {
        poll_fn(|cx| self.poll_exact(cx, count)).await
    }

    /// Reads one frame of `framing` (a netstring, a length prefix: see
    /// [`torsade::frames`](crate::frames)) and returns its payload; `None` once the peer
    /// closed and everything was read. The counterpart of the string receivers of
    /// `torsade-protocols`, with their rules.
    ///
    /// # Errors
    ///
    /// - [`Error::FrameTooLong`] for a payload over the limit
    ///   ([`set_max_frame_length`](Connection::set_max_frame_length)), reported as soon as
    ///   its header is in; a length field's frame is then skipped as it arrives (read on);
    /// - [`Error::Framing`] for bytes that break the framing; they stay buffered (the same
    ///   error comes again: close the connection, or take them with
    ///   [`read`](Connection::read)), except a netstring whose `,` is missing, which is
    ///   consumed;
    /// - [`Error::IncompleteRead`] if the peer closed in the middle of a frame;
    /// - [`Error::Disconnected`] if the connection failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::frames::Int16;
    /// use torsade::testing::stream_loopback;
    /// use torsade::Deferred;
    /// use torsade_protocols::{Int16StringReceiver, StringContext, StringHandler};
    ///
    /// /// Answers each string reversed.
    /// struct Reverse;
    ///
    /// impl StringHandler for Reverse {
    ///     fn string_received(&mut self, strings: &mut StringContext<'_>, string: bytes::Bytes) {
    ///         let reversed: Vec<u8> = string.iter().rev().copied().collect();
    ///         strings.send_string(&reversed).unwrap();
    ///     }
    /// }
    ///
    /// let (mut connection, mut pair) = stream_loopback(Int16StringReceiver::new(Reverse));
    /// let mut answer = Deferred::from_future(async move {
    ///     connection.write_frame(&Int16, b"stressed").await?;
    ///     connection.read_frame(&Int16).await
    /// });
    /// pair.pump();
    /// let answer = answer.take_result().unwrap().unwrap().unwrap();
    /// assert_eq!(answer.as_deref(), Some(&b"desserts"[..]));
    /// ```
    pub async fn read_frame<F: Framing>(&mut self, framing: &F) -> Result<Option<Bytes>> {
        let mut layout = None;
        poll_fn(|cx| self.poll_frame_of(cx, framing, &mut layout)).await
    }

    /// Writes `payload` as one frame of `framing`; see [`StreamWriter::write_frame`].
    pub async fn write_frame<F: Framing>(&self, framing: &F, payload: &[u8]) -> Result<()> {
        self.writer.write_frame(framing, payload).await
    }

    /// Writes `data`; see [`StreamWriter::write`].
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        self.writer.write(data).await
    }

    /// Writes `line` and the delimiter; see [`StreamWriter::write_line`].
    pub async fn write_line(&self, line: &[u8]) -> Result<()> {
        self.writer.write_line(line).await
    }

    /// Waits until the unsent bytes are down to the low-water mark; see
    /// [`StreamWriter::drain`].
    pub async fn drain(&self) -> Result<()> {
        self.writer.drain().await
    }

    /// Closes the connection once everything written has been sent, and waits until it
    /// is closed. asyncio's `close()` + `wait_closed()`.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the connection failed instead of closing cleanly.
    pub async fn close(&mut self) -> Result<()> {
        self.writer.transport.lose_connection();
        let reason = poll_fn(|cx| self.poll_ended(cx)).await;
        match reason {
            DisconnectReason::Lost(_) => Err(Error::Disconnected { reason }),
            _ => Ok(()),
        }
    }

    /// Closes the connection now, dropping unsent bytes.
    pub fn abort(&self) {
        self.writer.transport.abort_connection();
    }

    fn poll_ended(&self, cx: &mut Context<'_>) -> Poll<DisconnectReason> {
        let mut state = self.shared.lock();
        match &state.ended {
            Some(reason) => Poll::Ready(reason.clone()),
            None => {
                crate::wakers::register(&mut state.closing, cx.waker());
                Poll::Pending
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        let mut state = self.shared.lock();
        self.set_limit(&mut state, 0);
        if state.framer.buffered() > 0 {
            let data = state.framer.clear();
            self.resume_if_room(&mut state);
            return Poll::Ready(Ok(Some(data)));
        }
        match end_of_stream(&mut state, None) {
            Some(result) => Poll::Ready(result.map(|()| None)),
            None => self.wait(cx, &mut state),
        }
    }

    fn poll_exact(&mut self, cx: &mut Context<'_>, count: usize) -> Poll<Result<Bytes>> {
        let mut state = self.shared.lock();
        self.set_limit(&mut state, count);
        if state.framer.buffered() >= count {
            let data = take_front(&mut state, count);
            self.set_limit(&mut state, 0);
            self.resume_if_room(&mut state);
            return Poll::Ready(Ok(data));
        }
        match end_of_stream(&mut state, Some(count)) {
            Some(Ok(())) => Poll::Ready(Err(Error::IncompleteRead {
                partial: Bytes::new(),
                expected: Some(count),
            })),
            Some(Err(error)) => Poll::Ready(Err(error)),
            None => self.wait(cx, &mut state),
        }
    }

    /// Moves what has arrived, as much as fits, into `buf`; filling nothing means the end
    /// of the stream. The [`AsyncRead`](tokio::io::AsyncRead) face: bytes the framer
    /// holds (after a `read_line`, say) come first, in order.
    pub(super) fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut state = self.shared.lock();
        self.set_limit(&mut state, 0);
        if state.framer.buffered() > 0 {
            let data = take_front(&mut state, buf.remaining());
            buf.put_slice(&data);
            self.resume_if_room(&mut state);
            return Poll::Ready(Ok(()));
        }
        match end_of_stream(&mut state, None) {
            Some(result) => Poll::Ready(result),
            None => self.wait(cx, &mut state),
        }
    }

    /// The writer, for the [`AsyncWrite`](tokio::io::AsyncWrite) face.
    pub(super) fn writer_ref(&self) -> &StreamWriter {
        &self.writer
    }

    /// Reads one frame ended by `delimiter` (removed), with the framer's rules.
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        delimiter: &Bytes,
    ) -> Poll<Result<Option<Bytes>>> {
        let shared = self.shared.clone();
        let mut state = shared.lock();
        self.set_limit(&mut state, 0);
        if state.framer.delimiter() != delimiter
            || state.framer.max_length() != self.max_line_length
        {
            // Another delimiter or limit: a framer of its own, over what is buffered.
            let buffered = state.framer.clear();
            state.framer = LineFramer::new(delimiter.clone(), self.max_line_length);
            state.framer.push(buffered);
        }
        let outcome = match state.framer.next_frame() {
            Some(Frame::Line(line)) => Some(Ok(Some(line))),
            Some(Frame::TooLong(_)) => Some(Err(Error::LineTooLong {
                max_length: self.max_line_length,
            })),
            // Never in line mode: raw bytes are read with `read`/`read_exact`.
            Some(Frame::Raw(data)) => Some(Ok(Some(data))),
            None => None,
        };
        if let Some(outcome) = outcome {
            self.resume_if_room(&mut state);
            return Poll::Ready(outcome);
        }
        match end_of_stream(&mut state, None) {
            Some(result) => Poll::Ready(result.map(|()| None)),
            None => self.wait(cx, &mut state),
        }
    }

    /// Reads one length-prefixed frame: see [`frames::step`].
    fn poll_frame_of<F: Framing>(
        &mut self,
        cx: &mut Context<'_>,
        framing: &F,
        layout: &mut Option<Layout>,
    ) -> Poll<Result<Option<Bytes>>> {
        let shared = self.shared.clone();
        let mut state = shared.lock();
        let outcome = match frames::step(&mut state, &mut self.frames, framing, layout) {
            Step::Frame(frame) => Ok(Some(frame)),
            Step::TooLong { length } => Err(Error::FrameTooLong {
                length,
                max_length: self.frames.max_length,
            }),
            Step::Broken(FramingError::TooLong { length, max_length }) => {
                Err(Error::FrameTooLong { length, max_length })
            }
            Step::Broken(error) => Err(Error::Framing(error)),
            Step::Wait { want } => {
                self.set_limit(&mut state, want);
                return match end_of_stream(&mut state, (want > 0).then_some(want)) {
                    Some(result) => Poll::Ready(result.map(|()| None)),
                    None => self.wait(cx, &mut state),
                };
            }
        };
        self.set_limit(&mut state, 0);
        self.resume_if_room(&mut state);
        Poll::Ready(outcome)
    }

    /// How much may be buffered: enough for the longest frame, or for `want` bytes.
    fn set_limit(&self, state: &mut StreamState, want: usize) {
        let frame = self.max_line_length + self.writer.delimiter.len();
        state.limit = READ_BUFFER_LIMIT.max(frame).max(want);
    }

    /// Resumes reading the socket if the buffer has room again.
    fn resume_if_room(&self, state: &mut StreamState) {
        if state.read_paused && state.framer.buffered() < state.limit {
            state.read_paused = false;
            self.writer.transport.resume_reading();
        }
    }

    /// Parks the reader until more arrives (making sure the socket is being read).
    fn wait<T>(&self, cx: &mut Context<'_>, state: &mut StreamState) -> Poll<T> {
        self.resume_if_room(state);
        state.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Takes up to `count` bytes from the front of the buffer; the rest stays in front of
/// anything received later.
pub(super) fn take_front(state: &mut StreamState, count: usize) -> Bytes {
    let mut data = state.framer.clear();
    if data.len() > count {
        let rest = data.split_off(count);
        state.framer.set_line_mode(rest);
    }
    data
}

/// What a read gets when the buffer cannot satisfy it: `None` while the stream may still
/// deliver; else the end — `Ok(())` for a clean end with nothing left, an
/// [`Error::IncompleteRead`] with what is left, or the failure.
fn end_of_stream(state: &mut StreamState, expected: Option<usize>) -> Option<Result<()>> {
    if let Some(reason @ DisconnectReason::Lost(_)) = &state.ended {
        return Some(Err(Error::Disconnected {
            reason: reason.clone(),
        }));
    }
    if !state.eof && state.ended.is_none() {
        return None;
    }
    // What is left of an over-long line being skipped is not buffered: it is skipped too.
    if state.framer.buffered() == 0 {
        return Some(Ok(()));
    }
    Some(Err(Error::IncompleteRead {
        partial: state.framer.clear(),
        expected,
    }))
}

impl StreamWriter {
    /// Writes `data`, waiting (only) if more than the high-water mark is unsent (see
    /// [`Transport::write_buffer_limits`](crate::Transport::write_buffer_limits)), until
    /// it drains to the low one.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionClosed`] if the connection is closing or closed or its writing
    /// side was shut down, [`Error::Disconnected`] if it failed.
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        self.transport.write(data);
        self.make_room().await
    }

    /// Writes `line` followed by the delimiter, in one write.
    ///
    /// # Errors
    ///
    /// As [`write`](StreamWriter::write).
    pub async fn write_line(&self, line: &[u8]) -> Result<()> {
        self.check_open()?;
        self.transport.write_many(&[line, &self.delimiter]);
        self.make_room().await
    }

    /// Writes `payload` as one frame of `framing` (header, payload, trailer, in one write),
    /// waiting as [`write`](StreamWriter::write) does.
    ///
    /// # Errors
    ///
    /// [`Error::Framing`] if the framing cannot announce `payload`'s length (nothing is
    /// written: a truncated length would desynchronise the peer); otherwise as
    /// [`write`](StreamWriter::write).
    pub async fn write_frame<F: Framing>(&self, framing: &F, payload: &[u8]) -> Result<()> {
        let header = framing
            .encode_header(payload.len())
            .map_err(Error::Framing)?;
        self.check_open()?;
        self.transport
            .write_many(&[&header, payload, framing.trailer()]);
        self.make_room().await
    }

    /// Waits until the unsent bytes are down to the low-water mark. asyncio's `drain`.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the connection failed.
    pub async fn drain(&self) -> Result<()> {
        self.transport.drain().await;
        self.check_not_failed()
    }

    /// Queues as much of `data` as fits under the high-water mark (at least one byte);
    /// once the unsent bytes reach the mark, first waits for them to drain to the low one.
    /// The [`AsyncWrite`](tokio::io::AsyncWrite) face: a writer that does not wait to be
    /// woken never buffers more than the mark.
    pub(super) fn poll_write_some(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize>> {
        self.check_open()?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let high = self.transport.write_buffer_limits().high;
        let unsent = self.transport.write_buffer_size();
        if unsent > 0 && unsent >= high {
            ready!(self.transport.poll_drain(cx));
            // The buffer drained, or the connection ended meanwhile.
            self.check_open()?;
        }
        let room = high.saturating_sub(self.transport.write_buffer_size());
        let taken = data.len().min(room.max(1));
        self.transport.write(&data[..taken]);
        Poll::Ready(Ok(taken))
    }

    /// Ready once every byte written was handed to the stream (the operating system, or
    /// TLS), or the connection ended.
    pub(super) fn poll_flush_all(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        ready!(self.transport.poll_flushed(cx));
        self.check_not_failed()?;
        Poll::Ready(Ok(()))
    }

    /// Shuts down the writing side once everything written is sent (the peer reads EOF;
    /// reading goes on), and is ready once it all was handed to the stream. Writes after
    /// it are refused.
    pub(super) fn poll_shut_write(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let first = !std::mem::replace(&mut self.shared.lock().write_shut, true);
        if first {
            self.transport.lose_write_connection();
        }
        self.poll_flush_all(cx)
    }

    async fn make_room(&self) -> Result<()> {
        if self.transport.is_write_buffer_full() {
            return self.drain().await;
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        self.check_not_failed()?;
        if self.transport.is_closing() || self.shared.lock().write_shut {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    fn check_not_failed(&self) -> Result<()> {
        match &self.shared.lock().ended {
            Some(reason @ DisconnectReason::Lost(_)) => Err(Error::Disconnected {
                reason: reason.clone(),
            }),
            _ => Ok(()),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.writer.transport.lose_connection();
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("transport", &self.writer.transport)
            .field("max_line_length", &self.max_line_length)
            .finish()
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish()
    }
}
