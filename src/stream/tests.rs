//! The async face in memory: a [`Connection`] fed through its protocol by hand, polled
//! without a runtime.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::protocol::StreamProtocol;
use super::shared::StreamShared;
use super::Connection;
use crate::testing::TestConnection;
use crate::{DisconnectReason, Error, Transport, WRITE_BUFFER_HIGH};

/// A connection whose peer is played by the test: the async face's protocol on the test
/// driver.
pub(super) struct Peer {
    connection: TestConnection<StreamProtocol>,
}

pub(super) fn pair() -> (Connection, Peer) {
    let shared = StreamShared::new();
    let connection = TestConnection::new(StreamProtocol::new(shared.clone()));
    let async_face = Connection::new(shared, connection.transport_handle());
    (async_face, Peer { connection })
}

impl Peer {
    /// Sends `data`; whether the connection was reading it.
    pub(super) fn send(&mut self, data: &[u8]) -> bool {
        self.connection.receive(data)
    }

    pub(super) fn send_eof(&mut self) {
        assert!(self.connection.receive_eof());
    }

    fn end(&mut self, reason: DisconnectReason) {
        self.connection.disconnect(reason);
    }

    /// What the async side wrote, read by the peer.
    pub(super) fn take(&mut self) -> Bytes {
        self.connection.take_written()
    }
}

/// Polls `future` once with a no-op waker.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

pub(super) fn now<F: Future>(future: F) -> F::Output {
    future.now_or_never().expect("the future is ready")
}

/// Reads lines until EOF, with the input fed in `chunks`.
fn lines_of(chunks: &[&[u8]]) -> Vec<Result<Option<Bytes>, String>> {
    let (mut connection, mut peer) = pair();
    for chunk in chunks {
        peer.send(chunk);
    }
    peer.send_eof();
    let mut lines = Vec::new();
    loop {
        let line = now(connection.read_line()).map_err(|error| error.to_string());
        let done = matches!(line, Ok(None)) || lines.len() > 20;
        lines.push(line);
        if done {
            return lines;
        }
    }
}

#[test]
fn read_line_gives_the_same_lines_at_every_split_point() {
    let input = b"abc\r\n\r\nlonger line\r\nlast\r\n";
    let whole = lines_of(&[input]);
    assert_eq!(whole.len(), 5);
    assert_eq!(whole[0].as_ref().unwrap().as_deref(), Some(&b"abc"[..]));
    assert_eq!(whole[1].as_ref().unwrap().as_deref(), Some(&b""[..]));
    for split in 0..=input.len() {
        assert_eq!(
            lines_of(&[&input[..split], &input[split..]]),
            whole,
            "split at {split}"
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(lines_of(&bytes), whole);
}

#[test]
fn read_line_waits_for_the_rest_of_a_line() {
    let (mut connection, mut peer) = pair();
    peer.send(b"hel");
    let mut read = pin!(connection.read_line());
    assert!(poll_once(read.as_mut()).is_pending());
    peer.send(b"lo\r\n");
    match poll_once(read.as_mut()) {
        Poll::Ready(Ok(Some(line))) => assert_eq!(&line[..], b"hello"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_line_over_the_limit_is_an_error_and_reading_goes_on_after_it() {
    for chunk in [1, 2, 3, 7, 100] {
        let (mut connection, mut peer) = pair();
        connection.set_max_line_length(5);
        let input = b"ok\r\nmuch too long\r\nnext\r\n";
        let mut results = Vec::new();
        for piece in input.chunks(chunk) {
            peer.send(piece);
            while let Some(result) = connection.read_line().now_or_never() {
                results.push(result.map_err(|error| error.to_string()));
            }
        }
        assert_eq!(
            results,
            [
                Ok(Some(Bytes::from_static(b"ok"))),
                Err("line longer than 5 bytes".to_string()),
                Ok(Some(Bytes::from_static(b"next"))),
            ],
            "chunks of {chunk}"
        );
    }
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted() {
    let (mut connection, mut peer) = pair();
    connection.set_max_line_length(5);
    peer.send(b"12345\r\n");
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"12345"[..]);
}

#[test]
fn the_peer_closing_mid_line_is_an_incomplete_read() {
    let (mut connection, mut peer) = pair();
    peer.send(b"partial");
    peer.send_eof();
    match now(connection.read_line()) {
        Err(Error::IncompleteRead { partial, expected }) => {
            assert_eq!(&partial[..], b"partial");
            assert_eq!(expected, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(now(connection.read_line()).unwrap().is_none());
}

#[test]
fn a_failed_connection_fails_reads_once_the_buffer_is_read() {
    let (mut connection, mut peer) = pair();
    peer.send(b"kept\r\n");
    peer.end(DisconnectReason::lost(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"kept"[..]);
    match now(connection.read_line()) {
        Err(Error::Disconnected { reason }) => {
            assert_eq!(
                reason.io_error().unwrap().kind(),
                std::io::ErrorKind::ConnectionReset
            )
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn read_until_keeps_its_delimiter() {
    let (mut connection, mut peer) = pair();
    peer.send(b"key=value;rest");
    assert_eq!(
        now(connection.read_until(b";")).unwrap(),
        &b"key=value;"[..]
    );
    peer.send_eof();
    assert!(matches!(
        now(connection.read_until(b";")),
        Err(Error::IncompleteRead { .. })
    ));
}

#[test]
fn read_exact_collects_across_chunks_and_leaves_the_rest() {
    let (mut connection, mut peer) = pair();
    {
        let mut read = pin!(connection.read_exact(6));
        peer.send(b"ab");
        assert!(poll_once(read.as_mut()).is_pending());
        peer.send(b"cdefgh");
        match poll_once(read.as_mut()) {
            Poll::Ready(Ok(data)) => assert_eq!(&data[..], b"abcdef"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(now(connection.read()).unwrap().unwrap(), &b"gh"[..]);
}

#[test]
fn read_exact_at_the_end_reports_what_arrived_and_what_was_expected() {
    let (mut connection, mut peer) = pair();
    peer.send(b"abc");
    peer.send_eof();
    match now(connection.read_exact(10)) {
        Err(Error::IncompleteRead { partial, expected }) => {
            assert_eq!(&partial[..], b"abc");
            assert_eq!(expected, Some(10));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn read_returns_what_arrived_then_none_at_the_end() {
    let (mut connection, mut peer) = pair();
    peer.send(b"one");
    peer.send(b"two");
    assert_eq!(now(connection.read()).unwrap().unwrap(), &b"onetwo"[..]);
    peer.send_eof();
    assert!(now(connection.read()).unwrap().is_none());
}

#[test]
fn an_unread_buffer_pauses_the_transport_and_reading_resumes_it() {
    let (mut connection, mut peer) = pair();
    let chunk = vec![b'x'; 16 * 1024];
    while peer.send(&chunk) {}
    // The last chunk waits unread in the stream: reading paused.
    let buffered = now(connection.read()).unwrap().unwrap();
    assert!(buffered.len() >= super::READ_BUFFER_LIMIT);
    assert!(buffered.len() < super::READ_BUFFER_LIMIT + chunk.len());
    peer.connection.run_pending();
    assert_eq!(
        now(connection.read()).unwrap().unwrap().len(),
        chunk.len(),
        "reading resumed"
    );
}

/// The async face pauses its transport itself, and reads the lines it holds whatever the
/// transport's pause: `reading_resumed`, which the line receivers use to deliver held
/// lines, changes nothing here.
#[test]
fn lines_buffered_past_the_pause_are_read_in_order_and_reading_resumes() {
    let (mut connection, mut peer) = pair();
    let chunk: Vec<u8> = (0..1024)
        .flat_map(|n| format!("{n:015}\r\n").into_bytes())
        .collect();
    let mut sent = 0;
    while peer.send(&chunk) {
        sent += 1;
    }
    // The last chunk waits unread in the stream: reading paused.
    sent += 1;
    for _ in 0..sent {
        for n in 0..1024 {
            let line = now(connection.read_line()).unwrap().unwrap();
            assert_eq!(line, format!("{n:015}").as_bytes());
            peer.connection.run_pending();
        }
    }
    assert!(peer.send(b"after\r\n"), "reading resumed");
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"after"[..]);
}

#[test]
fn a_dropped_read_loses_nothing() {
    let (mut connection, mut peer) = pair();
    {
        let mut read = pin!(connection.read_line());
        assert!(poll_once(read.as_mut()).is_pending());
        peer.send(b"half");
        assert!(poll_once(read.as_mut()).is_pending());
    }
    peer.send(b" and half\r\n");
    assert_eq!(
        now(connection.read_line()).unwrap().unwrap(),
        &b"half and half"[..]
    );
}

#[test]
fn write_line_writes_the_line_and_the_delimiter_at_once() {
    let (connection, mut peer) = pair();
    now(connection.write_line(b"hello")).unwrap();
    assert_eq!(peer.take(), &b"hello\r\n"[..]);
}

#[test]
fn a_writer_waits_while_the_peer_is_slow_and_goes_on_when_it_reads() {
    let (connection, mut peer) = pair();
    let chunk = vec![b'y'; WRITE_BUFFER_HIGH];
    now(connection.write(&chunk)).unwrap();
    let mut write = pin!(connection.write(b"!"));
    assert!(poll_once(write.as_mut()).is_pending());
    assert_eq!(peer.take().len(), WRITE_BUFFER_HIGH + 1);
    assert!(matches!(poll_once(write.as_mut()), Poll::Ready(Ok(()))));
}

#[test]
fn a_writer_waits_at_the_transports_own_high_water_mark_and_goes_on_at_its_low_one() {
    let (connection, mut peer) = pair();
    peer.connection
        .handle()
        .call(|_, cx| cx.set_write_buffer_limits(100, 10).unwrap())
        .detach();
    peer.connection.run_pending();
    now(connection.write(&[b'a'; 100])).unwrap(); // at the mark, not past it
    let mut write = pin!(connection.write(b"!"));
    assert!(poll_once(write.as_mut()).is_pending());
    // Drained to 11 unsent: still above the low mark.
    let _ = peer.take();
    peer.connection.transport_handle().write(&[b'b'; 11]);
    peer.connection.run_pending();
    assert!(poll_once(write.as_mut()).is_pending());
    assert_eq!(peer.take().len(), 11);
    assert!(matches!(poll_once(write.as_mut()), Poll::Ready(Ok(()))));
}

#[test]
fn writing_after_close_is_refused() {
    let (connection, peer) = pair();
    connection.transport().lose_connection();
    assert!(matches!(
        now(connection.write(b"late")),
        Err(Error::ConnectionClosed)
    ));
    assert!(peer.connection.written().is_empty());
}

#[test]
fn dropping_the_connection_closes_it_gracefully() {
    let (connection, mut peer) = pair();
    now(connection.write(b"bye")).unwrap();
    drop(connection);
    peer.connection.run_pending();
    assert!(peer.connection.is_closing());
    assert_eq!(peer.take(), &b"bye"[..]);
    assert!(peer.connection.lost_reason().unwrap().is_clean());
}

#[test]
fn close_waits_for_the_connection_to_end() {
    let (mut connection, mut peer) = pair();
    {
        let mut close = pin!(connection.close());
        assert!(poll_once(close.as_mut()).is_pending());
        peer.connection.run_pending();
        assert!(peer.connection.is_closing());
        peer.end(DisconnectReason::Done);
        assert!(matches!(poll_once(close.as_mut()), Poll::Ready(Ok(()))));
    }
}

/// Reads every result until the end, with `input` fed at the given cut points and a line
/// limit of 4.
fn results_with_cuts(input: &[u8], cuts: &[usize]) -> Vec<String> {
    let (mut connection, mut peer) = pair();
    connection.set_max_line_length(4);
    let mut results = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        peer.send(&input[start..cut]);
        start = cut;
        while let Some(result) = connection.read_line().now_or_never() {
            results.push(format!("{result:?}"));
        }
    }
    peer.send_eof();
    loop {
        let result = now(connection.read_line());
        let done = matches!(result, Ok(None));
        results.push(format!("{result:?}"));
        if done {
            return results;
        }
    }
}

#[test]
fn any_chunking_of_any_input_reads_the_same_lines() {
    // A small deterministic generator: inputs over {a, \r, \n}, random cut points.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    for _ in 0..3000 {
        let length = next(30);
        let input: Vec<u8> = (0..length).map(|_| [b'a', b'\r', b'\n'][next(3)]).collect();
        let whole = results_with_cuts(&input, &[]);
        let mut cuts: Vec<usize> = (0..next(6)).map(|_| next(length + 1)).collect();
        cuts.sort_unstable();
        assert_eq!(
            results_with_cuts(&input, &cuts),
            whole,
            "input {input:?} cut at {cuts:?}"
        );
    }
}

/// A waker that counts how often it was woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reads through `AsyncRead` into a buffer of `size` bytes: what it filled, `None` while
/// pending.
fn async_read(connection: &mut Connection, size: usize) -> Option<std::io::Result<Vec<u8>>> {
    let mut storage = vec![0; size];
    let mut buf = tokio::io::ReadBuf::new(&mut storage);
    match Pin::new(connection).poll_read(&mut Context::from_waker(Waker::noop()), &mut buf) {
        Poll::Ready(Ok(())) => Some(Ok(buf.filled().to_vec())),
        Poll::Ready(Err(error)) => Some(Err(error)),
        Poll::Pending => None,
    }
}

#[test]
fn async_read_goes_on_where_read_line_stopped_and_keeps_the_order() {
    let (mut connection, mut peer) = pair();
    peer.send(b"first\r\nrest of it\r\nand more");
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"first"[..]);
    // A small buffer: what does not fit stays, in front of what arrives later.
    assert_eq!(async_read(&mut connection, 4).unwrap().unwrap(), b"rest");
    peer.send(b" after\r\n");
    assert_eq!(
        now(connection.read_line()).unwrap().unwrap(),
        &b" of it"[..]
    );
    assert_eq!(
        async_read(&mut connection, 100).unwrap().unwrap(),
        b"and more after\r\n"
    );
    assert!(
        async_read(&mut connection, 100).is_none(),
        "nothing more yet"
    );
    peer.send_eof();
    assert_eq!(
        async_read(&mut connection, 100).unwrap().unwrap(),
        b"",
        "EOF"
    );
}

#[test]
fn async_read_on_a_failed_connection_is_an_io_error_of_the_same_kind() {
    let (mut connection, mut peer) = pair();
    peer.send(b"kept");
    peer.end(DisconnectReason::lost(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    assert_eq!(async_read(&mut connection, 100).unwrap().unwrap(), b"kept");
    let error = async_read(&mut connection, 100).unwrap().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(matches!(
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>()),
        Some(Error::Disconnected { .. })
    ));
}

#[test]
fn poll_write_takes_up_to_the_high_water_mark_then_is_pending_until_woken_by_the_drain() {
    let (mut connection, mut peer) = pair();
    let waker = Arc::new(CountingWaker::default());
    let task_waker = Waker::from(waker.clone());
    let mut cx = Context::from_waker(&task_waker);
    let chunk = vec![b'z'; WRITE_BUFFER_HIGH + 100];
    let mut writer = Pin::new(&mut connection);
    // Only what fits under the mark is taken.
    assert!(matches!(
        writer.as_mut().poll_write(&mut cx, &chunk),
        Poll::Ready(Ok(n)) if n == WRITE_BUFFER_HIGH
    ));
    // At the mark: nothing more is taken, however small.
    assert!(writer.as_mut().poll_write(&mut cx, b"!").is_pending());
    assert_eq!(waker.wakes(), 0);
    assert_eq!(peer.take().len(), WRITE_BUFFER_HIGH);
    assert!(
        waker.wakes() > 0,
        "the writer was woken when the buffer drained"
    );
    assert!(matches!(
        writer.as_mut().poll_write(&mut cx, b"!"),
        Poll::Ready(Ok(1))
    ));
    assert_eq!(peer.take(), &b"!"[..]);
}

#[test]
fn poll_flush_waits_until_every_byte_is_handed_to_the_stream() {
    let (mut connection, mut peer) = pair();
    let waker = Arc::new(CountingWaker::default());
    let task_waker = Waker::from(waker.clone());
    let mut cx = Context::from_waker(&task_waker);
    let mut writer = Pin::new(&mut connection);
    assert!(matches!(
        writer.as_mut().poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
    assert!(writer.as_mut().poll_write(&mut cx, b"abc").is_ready());
    peer.connection.run_pending();
    // The test's peer takes bytes only when told: they wait in the transport's buffer.
    assert!(writer.as_mut().poll_flush(&mut cx).is_pending());
    assert_eq!(peer.take(), &b"abc"[..]);
    assert!(waker.wakes() > 0);
    assert!(matches!(
        writer.as_mut().poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn poll_shutdown_half_closes_after_the_written_bytes_and_refuses_later_writes() {
    let (mut connection, mut peer) = pair();
    let mut cx = Context::from_waker(Waker::noop());
    let mut writer = Pin::new(&mut connection);
    assert!(writer
        .as_mut()
        .poll_write(&mut cx, b"last words")
        .is_ready());
    assert!(writer.as_mut().poll_shutdown(&mut cx).is_pending());
    assert_eq!(peer.take(), &b"last words"[..]);
    assert!(peer.connection.is_write_shut(), "the peer reads EOF");
    assert!(matches!(
        writer.as_mut().poll_shutdown(&mut cx),
        Poll::Ready(Ok(()))
    ));
    match writer.as_mut().poll_write(&mut cx, b"late") {
        Poll::Ready(Err(error)) => assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        now(connection.write(b"late")),
        Err(Error::ConnectionClosed)
    ));
    // Reading goes on after the half-close.
    peer.send(b"answer");
    assert_eq!(
        async_read(&mut connection, 100).unwrap().unwrap(),
        b"answer"
    );
    assert!(!peer.connection.is_lost());
}
