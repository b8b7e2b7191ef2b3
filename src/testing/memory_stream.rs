//! A byte stream in memory: [`MemoryStream`], two ends that read what the other writes.
//!
//! It carries a connection like any socket (it is `AsyncRead + AsyncWrite`): the test
//! driver runs every [`TestConnection`](super::TestConnection) over one, and
//! [`MemoryStream::pair`] gives two ends for code that wants a stream of its own. Chunk
//! boundaries are kept: bytes written in one write are read in one read when the reader's
//! buffer has room for them.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One end of an in-memory byte stream. See [`MemoryStream::pair`].
///
/// # Examples
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use torsade::testing::MemoryStream;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (mut left, mut right) = MemoryStream::pair(64 * 1024);
/// left.write_all(b"ping").await.unwrap();
/// left.shutdown().await.unwrap();
/// let mut read = Vec::new();
/// right.read_to_end(&mut read).await.unwrap();
/// assert_eq!(read, b"ping");
/// # });
/// ```
pub struct MemoryStream {
    incoming: Arc<Pipe>,
    outgoing: Arc<Pipe>,
}

/// One direction: what one end wrote and the other has not read.
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
    /// `state.buffered`, written under the lock: read without it.
    buffered: AtomicUsize,
}

struct PipeState {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    /// The writer shut down: the reader gets EOF after the chunks.
    closed: bool,
    /// The stream broke: both ends get this error.
    failed: Option<io::ErrorKind>,
    /// How many more bytes the writer may put.
    space: usize,
    /// Whether reading makes room again (a pair's capacity), or only a grant does (the
    /// test driver's peer, which reads when the test says).
    replenish: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn new(space: usize, replenish: bool) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState {
                chunks: VecDeque::new(),
                buffered: 0,
                closed: false,
                failed: None,
                space,
                replenish,
                reader: None,
                writer: None,
            }),
            buffered: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mirrors `state.buffered` (changed under the lock, still held).
    fn publish_buffered(&self, state: &PipeState) {
        self.buffered.store(state.buffered, Ordering::Release);
    }

    /// Puts `data` in as one chunk, whatever the space (the test playing the peer).
    pub(crate) fn push(&self, data: Bytes) {
        let reader = {
            let mut state = self.lock();
            state.buffered += data.len();
            self.publish_buffered(&state);
            state.chunks.push_back(data);
            state.reader.take()
        };
        wake(reader);
    }

    /// Marks the end of what is written (EOF for the reader).
    pub(crate) fn close(&self) {
        let reader = {
            let mut state = self.lock();
            state.closed = true;
            state.reader.take()
        };
        wake(reader);
    }

    /// Lets the writer put `bytes` more.
    pub(crate) fn grant(&self, bytes: usize) {
        let writer = {
            let mut state = self.lock();
            state.space = state.space.saturating_add(bytes);
            state.writer.take()
        };
        wake(writer);
    }

    /// Puts `data` in, joined to the chunk before it if the reader has not started on that
    /// one: segments that land together are read together, as from a socket.
    pub(crate) fn push_joined(&self, data: Bytes) {
        let reader = {
            let mut state = self.lock();
            state.buffered += data.len();
            self.publish_buffered(&state);
            match state.chunks.back_mut() {
                Some(last) => {
                    let mut joined = BytesMut::with_capacity(last.len() + data.len());
                    joined.extend_from_slice(last);
                    joined.extend_from_slice(&data);
                    *last = joined.freeze();
                }
                None => state.chunks.push_back(data),
            }
            state.reader.take()
        };
        wake(reader);
    }

    /// How many bytes are buffered, not yet read.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    /// Takes back the space not used (the peer stops reading).
    pub(crate) fn revoke(&self) {
        self.lock().space = 0;
    }

    /// Takes everything buffered, as one piece.
    pub(crate) fn take_all(&self) -> Bytes {
        self.take_all_and_closed().0
    }

    /// Takes everything buffered, as one piece, and says whether the writer shut down
    /// (so that nothing more will come).
    pub(crate) fn take_all_and_closed(&self) -> (Bytes, bool) {
        let (taken, writer) = {
            let mut state = self.lock();
            let taken = if state.chunks.len() == 1 {
                state.chunks.pop_front().unwrap_or_default()
            } else {
                let mut taken = BytesMut::with_capacity(state.buffered);
                for chunk in state.chunks.drain(..) {
                    taken.extend_from_slice(&chunk);
                }
                taken.freeze()
            };
            if state.replenish {
                state.space = state.space.saturating_add(state.buffered);
            }
            state.buffered = 0;
            self.publish_buffered(&state);
            ((taken, state.closed), state.writer.take())
        };
        wake(writer);
        taken
    }

    /// A copy of everything buffered.
    pub(crate) fn peek(&self) -> Bytes {
        let state = self.lock();
        let mut copy = BytesMut::with_capacity(state.buffered);
        for chunk in &state.chunks {
            copy.extend_from_slice(chunk);
        }
        copy.freeze()
    }

    /// Whether the writer shut down (and the reader has been told, or will be).
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (outcome, writer) = {
            let mut state = self.lock();
            if let Some(kind) = state.failed {
                return Poll::Ready(Err(kind.into()));
            }
            let Some(front) = state.chunks.front_mut() else {
                if state.closed {
                    return Poll::Ready(Ok(()));
                }
                state.reader = Some(cx.waker().clone());
                return Poll::Pending;
            };
            let count = front.len().min(buf.remaining());
            buf.put_slice(&front[..count]);
            front.advance(count);
            if front.is_empty() {
                state.chunks.pop_front();
            }
            state.buffered -= count;
            self.publish_buffered(&state);
            let writer = if state.replenish {
                state.space = state.space.saturating_add(count);
                state.writer.take()
            } else {
                None
            };
            (Poll::Ready(Ok(())), writer)
        };
        wake(writer);
        outcome
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let (outcome, reader) = {
            let mut state = self.lock();
            if let Some(kind) = state.failed {
                return Poll::Ready(Err(kind.into()));
            }
            if state.closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if data.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let count = data.len().min(state.space);
            if count == 0 {
                state.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            state.space -= count;
            state.buffered += count;
            self.publish_buffered(&state);
            state
                .chunks
                .push_back(Bytes::copy_from_slice(&data[..count]));
            (Poll::Ready(Ok(count)), state.reader.take())
        };
        wake(reader);
        outcome
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl MemoryStream {
    /// Two connected ends: what one writes, the other reads. Each direction buffers up to
    /// `capacity` bytes; a writer past that waits until the reader reads (tokio's
    /// `duplex`). Shutting one end down is EOF for the other.
    pub fn pair(capacity: usize) -> (MemoryStream, MemoryStream) {
        let (a_to_b, b_to_a) = (Pipe::new(capacity, true), Pipe::new(capacity, true));
        (
            MemoryStream {
                incoming: b_to_a.clone(),
                outgoing: a_to_b.clone(),
            },
            MemoryStream {
                incoming: a_to_b,
                outgoing: b_to_a,
            },
        )
    }

    /// The test driver's stream and its peer's two pipes: the peer pushes in, and lets
    /// the connection write only as much as it grants (it reads when the test says).
    pub(crate) fn for_test() -> (MemoryStream, Arc<Pipe>, Arc<Pipe>) {
        let (to_connection, from_connection) = (Pipe::new(0, true), Pipe::new(0, false));
        (
            MemoryStream {
                incoming: to_connection.clone(),
                outgoing: from_connection.clone(),
            },
            to_connection,
            from_connection,
        )
    }
}

impl MemoryStream {
    /// A simulated connection's stream and the network's two pipes: the network pushes in
    /// what arrives, and takes out what the connection wrote, which may be up to
    /// `send_buffer` bytes ahead of it.
    pub(crate) fn for_simulation(send_buffer: usize) -> (MemoryStream, Arc<Pipe>, Arc<Pipe>) {
        let (incoming, outgoing) = (Pipe::new(0, true), Pipe::new(send_buffer, true));
        (
            MemoryStream {
                incoming: incoming.clone(),
                outgoing: outgoing.clone(),
            },
            incoming,
            outgoing,
        )
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.incoming.poll_read(cx, buf)
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.outgoing.poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outgoing.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for MemoryStream {
    /// Dropping an end closes it: the other end reads EOF, and its writes fail.
    fn drop(&mut self) {
        self.outgoing.close();
        let mut incoming = self.incoming.lock();
        incoming.closed = true;
        incoming.failed.get_or_insert(io::ErrorKind::BrokenPipe);
        let writer = incoming.writer.take();
        drop(incoming);
        wake(writer);
    }
}

impl fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (incoming, outgoing) = (self.incoming.lock(), self.outgoing.lock());
        f.debug_struct("MemoryStream")
            .field("unread", &incoming.buffered)
            .field("unread_by_peer", &outgoing.buffered)
            .field("closed", &incoming.closed)
            .finish()
    }
}
