//! `CodecReceiver`: tokio-util codecs as torsade protocols — frames in any chunking,
//! errors that close once and are never retried, `decode_eof`, pausing between frames,
//! backpressure, encoding errors; in memory (the core's `tests/codec_loopback.rs` runs one
//! over loopback against a `Framed` client).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, LengthDelimitedCodec, LinesCodec, LinesCodecError};
use torsade::testing::{every_split, TestConnection};
use torsade::{ConnectionError, DisconnectReason, Transport};
use torsade_protocols::{CodecContext, CodecHandler, CodecReceiver};

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Frame(String),
    Eof,
    Lost(String),
}

/// A lines handler that records what it sees and obeys a few commands: `quit` closes,
/// `pause` pauses reading, `echo:TEXT` answers TEXT.
#[derive(Default)]
struct Recorder {
    seen: Vec<Seen>,
    keep_open_at_eof: bool,
}

impl CodecHandler<LinesCodec> for Recorder {
    fn frame_received(&mut self, cx: &mut CodecContext<'_, LinesCodec>, line: String) {
        match line.as_str() {
            "quit" => cx.lose_connection(),
            "pause" => cx.pause_reading(),
            _ => {
                if let Some(text) = line.strip_prefix("echo:") {
                    cx.send(text).unwrap();
                }
            }
        }
        self.seen.push(Seen::Frame(line));
    }

    fn eof_received(&mut self, _: &mut CodecContext<'_, LinesCodec>) -> bool {
        self.seen.push(Seen::Eof);
        self.keep_open_at_eof
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.seen.push(Seen::Lost(reason.to_string()));
    }
}

fn lines_receiver(max_length: usize) -> CodecReceiver<LinesCodec, Recorder> {
    CodecReceiver::new(
        LinesCodec::new_with_max_length(max_length),
        Recorder::default(),
    )
}

fn frames(lines: &[&str]) -> Vec<Seen> {
    lines
        .iter()
        .map(|line| Seen::Frame(line.to_string()))
        .collect()
}

#[test]
fn frames_and_answers_are_the_same_in_every_chunking() {
    let (seen, written) = every_split(
        b"one\r\necho:two\n\nthree\n",
        || lines_receiver(64),
        |connection| {
            let seen = connection.protocol().handler().seen.clone();
            (seen, connection.take_written())
        },
    );
    assert_eq!(seen, frames(&["one", "echo:two", "", "three"]));
    assert_eq!(written, &b"two\n"[..]);
}

#[test]
fn no_frame_is_delivered_after_the_handler_closes_even_from_the_same_chunk() {
    let mut connection = TestConnection::new(lines_receiver(64));
    connection.receive(b"a\nquit\nb\n");
    assert!(connection.is_lost());
    let seen = connection.protocol().handler().seen.clone();
    assert_eq!(seen[..2], frames(&["a", "quit"])[..]);
    assert_eq!(seen[2..], [Seen::Lost("connection closed cleanly".into())]);
}

#[test]
fn a_decoding_error_closes_the_connection_with_the_error_as_the_reason() {
    let mut connection = TestConnection::new(lines_receiver(4));
    connection.receive(b"ok\ntoo long\nlater\n");
    let reason = connection.lost_reason().expect("the connection ended");
    let Some(ConnectionError::Protocol(error)) = reason.error() else {
        panic!("unexpected {reason:?}");
    };
    assert!(matches!(
        error.downcast_ref::<LinesCodecError>(),
        Some(LinesCodecError::MaxLineLengthExceeded)
    ));
    assert_eq!(
        connection.protocol().handler().seen[..1],
        frames(&["ok"])[..]
    );
}

/// A decoder that fails on `!` and never consumes it: called again on the same bytes, it
/// fails again (the loop of tokio issue 3976). Counts its calls.
struct FailsOnBang {
    calls: Arc<AtomicUsize>,
}

#[derive(Debug, thiserror::Error)]
#[error("a bang")]
struct Bang;

impl From<std::io::Error> for Bang {
    fn from(_: std::io::Error) -> Bang {
        Bang
    }
}

impl Decoder for FailsOnBang {
    type Item = u8;
    type Error = Bang;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<u8>, Bang> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match src.first() {
            None => Ok(None),
            Some(b'!') => Err(Bang),
            Some(_) => Ok(Some(src.get_u8())),
        }
    }
}

#[derive(Default)]
struct Bytewise(Vec<u8>);

impl CodecHandler<FailsOnBang> for Bytewise {
    fn frame_received(&mut self, _: &mut CodecContext<'_, FailsOnBang>, byte: u8) {
        self.0.push(byte);
    }
}

#[test]
fn a_decoder_that_failed_is_never_called_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let codec = FailsOnBang {
        calls: calls.clone(),
    };
    let mut connection = TestConnection::new(CodecReceiver::new(codec, Bytewise::default()));
    // Keep the connection open past the error: unsent bytes hold the close.
    connection
        .handle()
        .call(|_, cx| cx.write(b"pending"))
        .detach();
    connection.run_pending();
    connection.receive(b"ab!cd");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "a, b, then the failing call"
    );
    assert!(connection.is_closing());
    connection.receive(b"more");
    connection.receive_eof();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "never called again");
    assert_eq!(connection.protocol().handler().0, b"ab");
    assert_eq!(connection.take_written(), &b"pending"[..]);
    assert_eq!(
        connection.lost_reason().unwrap().to_string(),
        "connection lost: a bang"
    );
}

#[test]
fn at_eof_decode_eof_delivers_the_last_frames_before_eof_received() {
    let mut connection = TestConnection::new(lines_receiver(64));
    connection.receive(b"first\nunfinished");
    connection.receive_eof();
    let seen = connection.protocol().handler().seen.clone();
    assert_eq!(
        seen,
        [
            Seen::Frame("first".into()),
            Seen::Frame("unfinished".into()),
            Seen::Eof,
            Seen::Lost("connection closed cleanly".into()),
        ]
    );
}

#[derive(Default)]
struct Frames(Vec<Vec<u8>>);

impl CodecHandler<LengthDelimitedCodec> for Frames {
    fn frame_received(&mut self, _: &mut CodecContext<'_, LengthDelimitedCodec>, frame: BytesMut) {
        self.0.push(frame.to_vec());
    }
}

#[test]
fn an_unfinished_frame_at_eof_is_the_codecs_error() {
    let mut connection = TestConnection::new(CodecReceiver::new(
        LengthDelimitedCodec::new(),
        Frames::default(),
    ));
    connection.receive(b"\0\0\0\x02ok\0\0\0\x05sho");
    connection.receive_eof();
    assert_eq!(connection.protocol().handler().0, [b"ok".to_vec()]);
    let reason = connection.lost_reason().unwrap();
    assert!(matches!(reason.error(), Some(ConnectionError::Protocol(_))));
    assert_eq!(
        reason.to_string(),
        "connection lost: bytes remaining on stream"
    );
}

#[test]
fn a_handler_that_keeps_the_connection_half_open_at_eof_still_sends() {
    let mut receiver = lines_receiver(64);
    receiver.handler_mut().keep_open_at_eof = true;
    let mut connection = TestConnection::new(receiver);
    connection.receive_eof();
    assert!(!connection.is_closing());
    connection
        .handle()
        .call(|_, cx| cx.write(b"after eof\n"))
        .detach();
    connection.run_pending();
    assert_eq!(connection.take_written(), &b"after eof\n"[..]);
}

#[test]
fn pausing_reading_stops_the_frames_between_two_and_they_wait_in_order() {
    let mut connection = TestConnection::new(lines_receiver(64));
    connection.receive(b"a\npause\nb\nc\n");
    assert_eq!(
        connection.protocol().handler().seen,
        frames(&["a", "pause"]),
        "nothing after the pause, from the same chunk"
    );
    // Resumed from outside, the held frames come before the next bytes.
    connection
        .handle()
        .call(|_, cx| cx.resume_reading())
        .detach();
    connection.run_pending();
    assert_eq!(
        connection.protocol().handler().seen,
        frames(&["a", "pause", "b", "c"]),
        "the held frames come as soon as reading resumes"
    );
    connection.receive(b"d\n");
    assert_eq!(
        connection.protocol().handler().seen,
        frames(&["a", "pause", "b", "c", "d"])
    );
}

#[test]
fn a_pause_during_the_last_frames_holds_eof_back_until_reading_resumes() {
    let mut connection = TestConnection::new(lines_receiver(64));
    connection.receive(b"pause");
    connection.receive_eof();
    assert_eq!(connection.protocol().handler().seen, frames(&["pause"]));
    assert!(!connection.is_closing(), "EOF waits for the held frames");
    connection
        .handle()
        .call(|_, cx| cx.resume_reading())
        .detach();
    connection.run_pending();
    let mut expected = frames(&["pause"]);
    expected.push(Seen::Eof);
    assert_eq!(connection.protocol().handler().seen[..2], expected[..]);
    assert!(connection.is_lost(), "eof_received said to close");
}

/// Answers every frame with a large one, and pauses reading while the peer is slow.
#[derive(Default)]
struct Flood {
    frames: usize,
}

const ANSWER: usize = 20 * 1024;

impl CodecHandler<LengthDelimitedCodec> for Flood {
    fn frame_received(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>, _: BytesMut) {
        self.frames += 1;
        cx.send(bytes::Bytes::from(vec![b'x'; ANSWER])).unwrap();
    }
    fn pause_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
        cx.pause_reading();
    }
    fn resume_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
        cx.resume_reading();
    }
}

#[test]
fn a_slow_peer_pauses_the_frames_at_the_high_water_mark_and_resumes_them_at_the_low() {
    const REQUESTS: usize = 20;
    let mut connection = TestConnection::new(CodecReceiver::new(
        LengthDelimitedCodec::new(),
        Flood::default(),
    ));
    // One request per chunk: pressure is checked after each, and the handler pauses
    // reading; the requests after that wait unread.
    for _ in 0..REQUESTS {
        connection.receive(b"\0\0\0\x01?");
    }
    let answered = connection.protocol().handler().frames;
    let high = torsade::WRITE_BUFFER_HIGH;
    assert!(
        answered < REQUESTS,
        "the frames paused ({answered} answered)"
    );
    let unsent = connection.written().len();
    assert!(
        unsent > high && unsent <= high + ANSWER + 4,
        "{unsent} bytes unsent"
    );
    let mut taken = 0;
    for _ in 0..REQUESTS {
        taken += connection.take_written().len();
    }
    assert_eq!(connection.protocol().handler().frames, REQUESTS);
    taken += connection.take_written().len();
    assert_eq!(taken, REQUESTS * (ANSWER + 4));
}

#[test]
fn a_frame_the_codec_cannot_encode_is_an_error_and_nothing_is_written() {
    struct Sender;
    impl CodecHandler<LengthDelimitedCodec> for Sender {
        fn connection_made(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
            let too_long = cx.send(bytes::Bytes::from_static(b"0123456789"));
            assert!(too_long.is_err());
            cx.send(bytes::Bytes::from_static(b"fits")).unwrap();
        }
        fn frame_received(&mut self, _: &mut CodecContext<'_, LengthDelimitedCodec>, _: BytesMut) {}
    }
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(8)
        .new_codec();
    let mut connection = TestConnection::new(CodecReceiver::new(codec, Sender));
    assert_eq!(connection.take_written(), &b"\0\0\0\x04fits"[..]);
}
