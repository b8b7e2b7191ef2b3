//! The async face in memory: a [`Connection`] fed through its protocol by hand, polled
//! without a runtime.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::FutureExt;

use super::protocol::StreamProtocol;
use super::shared::StreamShared;
use super::Connection;
use crate::testing::TestConnection;
use crate::{DisconnectReason, Error, Transport, WRITE_BUFFER_HIGH};

/// A connection whose peer is played by the test: the async face's protocol on the test
/// driver.
struct Peer {
    connection: TestConnection<StreamProtocol>,
}

fn pair() -> (Connection, Peer) {
    let shared = StreamShared::new();
    let connection = TestConnection::new(StreamProtocol::new(shared.clone()));
    let async_face = Connection::new(shared, connection.transport_handle());
    (async_face, Peer { connection })
}

impl Peer {
    /// Sends `data`; whether the connection was reading it.
    fn send(&mut self, data: &[u8]) -> bool {
        self.connection.receive(data)
    }

    fn send_eof(&mut self) {
        assert!(self.connection.receive_eof());
    }

    fn end(&mut self, reason: DisconnectReason) {
        self.connection.disconnect(reason);
    }

    /// What the async side wrote, read by the peer.
    fn take(&mut self) -> Bytes {
        self.connection.take_written()
    }
}

/// Polls `future` once with a no-op waker.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn now<F: Future>(future: F) -> F::Output {
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
