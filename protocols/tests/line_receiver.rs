//! LineReceiver: framing, limits, raw mode and pushback, each fed split every way.

mod common;

use bytes::Bytes;
use common::{exceeded, line, raw, sweep, Event, OnExceeded, Recorder};
use torsade::testing::{every_split, TestConnection};
use torsade::{DisconnectReason, Transport};
use torsade_protocols::{
    Line, LineContext, LineHandler, LineReceiver, LineSender, WithRawMode, DEFAULT_MAX_LENGTH,
};

fn receiver() -> LineReceiver<Recorder> {
    LineReceiver::new(Recorder::default())
}

fn limited(max_length: usize, on_exceeded: OnExceeded) -> LineReceiver<Recorder> {
    LineReceiver::new(Recorder::new(on_exceeded)).with_max_length(max_length)
}

#[test]
fn lines_are_split_on_crlf_whatever_the_chunking() {
    let outcome = sweep(receiver, b"one\r\ntwo\r\n\r\nthree\r\nunfinished");
    assert_eq!(
        outcome.events,
        [line(b"one"), line(b"two"), line(b""), line(b"three")]
    );
    assert!(!outcome.closing);
}

#[test]
fn lone_cr_and_lf_are_part_of_a_crlf_line() {
    let outcome = sweep(receiver, b"a\nb\rc\r\n\n\r\r\n");
    assert_eq!(outcome.events, [line(b"a\nb\rc"), line(b"\n\r")]);
}

#[test]
fn a_one_byte_delimiter_splits_lines() {
    let outcome = sweep(|| receiver().with_delimiter(b"\n"), b"a\n\nb\r\nc");
    assert_eq!(outcome.events, [line(b"a"), line(b""), line(b"b\r")]);
}

#[test]
fn a_three_byte_delimiter_splits_at_its_first_occurrence() {
    let outcome = sweep(
        || receiver().with_delimiter(b"+++"),
        b"a++++b+++++++c++d+++",
    );
    assert_eq!(
        outcome.events,
        [line(b"a"), line(b"+b"), line(b""), line(b"+c++d")]
    );
}

#[test]
fn the_default_limit_is_16384_bytes() {
    assert_eq!(DEFAULT_MAX_LENGTH, 16384);
    assert_eq!(receiver().max_length(), 16384);
    assert_eq!(receiver().delimiter(), b"\r\n");
    let mut input = vec![b'a'; 16384];
    input.extend_from_slice(b"\r\n");
    let mut connection = TestConnection::new(receiver());
    connection.receive_in_chunks(&input, 4096);
    assert_eq!(
        connection.protocol().handler().events,
        [line(&input[..16384])]
    );
}

#[test]
fn any_line_ending_accepts_lf_and_crlf_whatever_the_chunking_and_sends_crlf() {
    let outcome = sweep(
        || receiver().with_any_line_ending(),
        b"one\r\ntwo\n\r\na\rb\necho:x\nlast\r",
    );
    assert_eq!(
        outcome.events,
        [
            line(b"one"),
            line(b"two"),
            line(b""),
            line(b"a\rb"),
            line(b"echo:x")
        ]
    );
    assert_eq!(outcome.written, b"x\r\n");
}

#[test]
fn with_any_line_ending_a_16384_byte_line_may_end_with_crlf() {
    let line_of = |length: usize, ending: &[u8]| [&vec![b'a'; length][..], ending].concat();
    for ending in [&b"\r\n"[..], b"\n"] {
        let mut connection = TestConnection::new(receiver().with_any_line_ending());
        connection.receive_in_chunks(&line_of(16384, ending), 4096);
        assert_eq!(
            connection.protocol().handler().events,
            [line(&[b'a'; 16384])],
            "{ending:?}"
        );
    }
    let mut connection = TestConnection::new(receiver().with_any_line_ending());
    connection.receive(&line_of(16385, b"\r\n"));
    assert_eq!(
        connection.protocol().handler().events,
        [exceeded(&[b'a'; 16384])]
    );
    assert!(connection.is_closing());
}

#[test]
fn the_limit_and_the_line_ending_may_be_set_in_either_order() {
    let first = receiver().with_max_length(3).with_any_line_ending();
    let second = receiver().with_any_line_ending().with_max_length(3);
    for built in [first, second] {
        assert_eq!((built.delimiter(), built.max_length()), (&b"\r\n"[..], 3));
    }
    let outcome = sweep(
        || receiver().with_any_line_ending().with_max_length(3),
        b"abc\r\nabcd\n",
    );
    assert_eq!(outcome.events, [line(b"abc"), exceeded(b"abc")]);
}

#[test]
fn a_line_of_exactly_max_length_is_accepted() {
    let outcome = sweep(|| limited(5, OnExceeded::Close), b"abcde\r\nx\r\n");
    assert_eq!(outcome.events, [line(b"abcde"), line(b"x")]);
    assert!(!outcome.closing);
}

#[test]
fn a_line_one_byte_over_max_length_is_reported_and_closes_by_default() {
    let outcome = sweep(|| limited(5, OnExceeded::Close), b"ok\r\nabcdef\r\nx\r\n");
    assert_eq!(outcome.events, [line(b"ok"), exceeded(b"abcde")]);
    assert!(outcome.closing);
}

#[test]
fn the_default_hook_closes_the_connection() {
    struct Quiet;
    impl LineHandler<WithRawMode> for Quiet {
        fn line_received(&mut self, _: &mut LineContext<'_, WithRawMode>, _: Line<'_>) {}
    }
    let mut connection = TestConnection::new(LineReceiver::new(Quiet).with_max_length(3));
    connection.receive(b"abcd");
    assert!(connection.is_closing());
}

#[test]
fn an_unfinished_line_fails_as_soon_as_it_cannot_fit() {
    let outcome = sweep(|| limited(5, OnExceeded::Close), b"abcdef");
    assert_eq!(outcome.events, [exceeded(b"abcde")]);
    assert!(outcome.closing);
}

#[test]
fn a_partial_delimiter_past_the_limit_keeps_the_line_waiting() {
    let outcome = sweep(|| limited(5, OnExceeded::Close), b"abcde\r");
    assert_eq!(outcome.events, []);
    assert!(!outcome.closing);
    let outcome = sweep(|| limited(5, OnExceeded::Close), b"abcde\r\n");
    assert_eq!(outcome.events, [line(b"abcde")]);
}

#[test]
fn a_long_delimiter_starting_before_the_limit_keeps_the_line_waiting() {
    let build = || limited(5, OnExceeded::Close).with_delimiter(b"abc");
    assert_eq!(sweep(build, b"xxxxab").events, []);
    assert_eq!(sweep(build, b"xxxxabc").events, [line(b"xxxx")]);
    assert_eq!(sweep(build, b"xxxxabd").events, [exceeded(b"xxxxa")]);
}

#[test]
fn an_over_long_line_is_reported_once_and_its_tail_discarded() {
    let outcome = sweep(
        || limited(5, OnExceeded::KeepOpen),
        b"abcdefgh\r\nij\r\nXXXXXXXXXXXXXXXXXXXX\r\nok\r\n",
    );
    assert_eq!(
        outcome.events,
        [
            exceeded(b"abcde"),
            line(b"ij"),
            exceeded(b"XXXXX"),
            line(b"ok")
        ]
    );
    assert!(!outcome.closing);
}

#[test]
fn an_over_long_line_cannot_smuggle_lines_in_its_tail() {
    // Twisted's byte-at-a-time behaviour would have parsed "evil" as a line.
    let outcome = sweep(
        || limited(5, OnExceeded::KeepOpen),
        b"abcdefg\revil\nmore\r\r\nok\r\n",
    );
    assert_eq!(outcome.events, [exceeded(b"abcde"), line(b"ok")]);
}

#[test]
fn an_over_long_line_ends_at_a_delimiter_that_straddles_the_failure_point() {
    // Max 5: "abcde\r" may still be a line, "abcde\r\r" may not — yet the line's
    // delimiter starts at that second "\r".
    let outcome = sweep(|| limited(5, OnExceeded::KeepOpen), b"abcde\r\r\nok\r\n");
    assert_eq!(outcome.events, [exceeded(b"abcde"), line(b"ok")]);
    let outcome = sweep(
        || limited(2, OnExceeded::KeepOpen).with_delimiter(b"aab"),
        b"xxaaabokaab",
    );
    assert_eq!(outcome.events, [exceeded(b"xx"), line(b"ok")]);
}

#[test]
fn no_line_is_delivered_after_the_handler_closes() {
    let outcome = sweep(receiver, b"a\r\nclose\r\nb\r\nc\r\n");
    assert_eq!(outcome.events, [line(b"a"), line(b"close")]);
    assert!(outcome.closing);
}

#[test]
fn raw_mode_starts_mid_chunk_and_lines_resume_with_the_pushed_back_rest() {
    let outcome = sweep(
        receiver,
        b"head\r\nraw:5\r\n12345tail\r\nraw:4\r\na\r\nb\r\nend\r\n",
    );
    assert_eq!(
        outcome.events,
        [
            line(b"head"),
            line(b"raw:5"),
            raw(b"12345"),
            line(b"tail"),
            line(b"raw:4"),
            raw(b"a\r\nb"),
            line(b""),
            line(b"end"),
        ]
    );
}

#[test]
fn bytes_pushed_back_from_line_length_exceeded_are_parsed_first_and_nothing_is_discarded() {
    let outcome = sweep(
        || limited(6, OnExceeded::PushBack(b"pushed\r\n")),
        b"abcdefgh\r\nok\r\n",
    );
    assert_eq!(
        outcome.events,
        [
            exceeded(b"abcdef"),
            line(b"pushed"),
            line(b"gh"),
            line(b"ok")
        ]
    );
}

#[test]
fn a_pushed_back_unfinished_line_continues_with_the_rest_of_the_over_long_line() {
    let outcome = sweep(
        || limited(6, OnExceeded::PushBack(b"pu")),
        b"abcdefgh\r\nsh\r\n",
    );
    assert_eq!(
        outcome.events,
        [exceeded(b"abcdef"), line(b"pugh"), line(b"sh")]
    );
}

/// The events of a receiver limited to 8 bytes that pushes back the reported bytes from
/// byte 4 on, for `input` fed split every way.
fn pushed_back_from_4(input: &[u8]) -> Vec<Event> {
    every_split(
        input,
        || limited(8, OnExceeded::PushBackFrom(4)),
        |connection| connection.protocol().handler().events.clone(),
    )
}

#[test]
fn pushing_back_the_tail_of_an_over_long_line_keeps_the_line_from_there() {
    assert_eq!(
        pushed_back_from_4(b"0123456789\r\nok\r\n"),
        [exceeded(b"01234567"), line(b"456789"), line(b"ok")]
    );
    // The line fails at "i", before its delimiter arrives.
    assert_eq!(
        pushed_back_from_4(b"abcdefghi\r\n"),
        [exceeded(b"abcdefgh"), line(b"efghi")]
    );
}

#[test]
fn pushed_back_bytes_that_still_make_an_over_long_line_are_reported_again() {
    let outcome = sweep(
        || limited(3, OnExceeded::PushBack(b"xy")),
        b"abcdef\r\nok\r\n",
    );
    assert_eq!(
        outcome.events,
        [
            exceeded(b"abc"),
            exceeded(b"xyd"),
            exceeded(b"xye"),
            line(b"xyf"),
            line(b"ok"),
        ]
    );
}

#[test]
fn pushing_back_nothing_lets_the_over_long_line_be_discarded() {
    let outcome = sweep(
        || limited(6, OnExceeded::PushBack(b"")),
        b"abcdefgh\r\nok\r\n",
    );
    assert_eq!(outcome.events, [exceeded(b"abcdef"), line(b"ok")]);
}

#[test]
fn clear_line_buffer_drops_the_rest_of_the_chunk() {
    let mut connection = TestConnection::new(receiver());
    connection.receive(b"a\r\nclear\r\nb\r\nc");
    connection.receive(b"d\r\n");
    assert_eq!(
        connection.protocol().handler().events,
        [
            line(b"a"),
            line(b"clear"),
            Event::Cleared(b"b\r\nc".to_vec()),
            line(b"d"),
        ]
    );
}

#[test]
fn clear_line_buffer_returns_an_unfinished_line_too() {
    let mut connection = TestConnection::new(receiver());
    connection.receive(b"a\r\nclea");
    connection.receive(b"r\r\n");
    connection.receive(b"par");
    connection.receive(b"tial\r\nclear\r\nrest");
    assert_eq!(
        connection.protocol().handler().events,
        [
            line(b"a"),
            line(b"clear"),
            Event::Cleared(Vec::new()),
            line(b"partial"),
            line(b"clear"),
            Event::Cleared(b"rest".to_vec()),
        ]
    );
}

/// Flips to raw mode after every line and back, pushing everything back.
#[derive(Default)]
struct Flipper {
    lines: usize,
}

impl LineHandler<WithRawMode> for Flipper {
    fn line_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, _: Line<'_>) {
        self.lines += 1;
        lines.set_raw_mode();
    }

    fn raw_data_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, data: Bytes) {
        lines.set_line_mode(data);
    }
}

#[test]
fn ten_thousand_mode_flips_in_one_chunk_do_not_grow_the_stack() {
    // A small stack: any recursion per flip would overflow it.
    let flips = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(|| {
            let receiver = LineReceiver::new(Flipper::default()).with_delimiter(b"\n");
            let mut connection = TestConnection::new(receiver);
            connection.receive(&b"x\nx".repeat(10_000));
            let flips = connection.protocol().handler().lines;
            flips
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(flips, 10_000);
}

#[test]
fn send_line_writes_the_line_and_delimiter() {
    let outcome = sweep(|| receiver().with_delimiter(b"\n"), b"echo:hi\necho:\n");
    assert_eq!(outcome.written, b"hi\n\n");
}

/// Sends `count` lines of `line` when asked with the line `go`.
struct Sender {
    count: usize,
    line: &'static [u8],
}

impl LineHandler<WithRawMode> for Sender {
    fn line_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, _: Line<'_>) {
        for _ in 0..self.count {
            lines.send_line(self.line);
        }
    }
}

/// Whether `written` is made only of whole `line`s and single `x`s: nothing landed
/// between a line and its delimiter.
/// Splits `written` into whole `lines` (any of them) and single `x` bytes; `None` if
/// something else is there (a line cut by another writer's bytes). Counts each kind.
fn whole_lines_and_xs(mut written: &[u8], lines: &[&[u8]]) -> Option<Vec<usize>> {
    let mut counts = vec![0; lines.len() + 1];
    'next: while !written.is_empty() {
        for (index, line) in lines.iter().enumerate() {
            if let Some(rest) = written.strip_prefix(*line) {
                written = rest;
                counts[index] += 1;
                continue 'next;
            }
        }
        written = written.strip_prefix(b"x")?;
        counts[lines.len()] += 1;
    }
    Some(counts)
}

/// `send_line` is one `write_many` of the line and its delimiter, so they go out together
/// with no other writer's bytes between them — from a callback, and from a `LineSender`
/// (one `write_many` on a handle) racing with writers on other threads.
#[test]
fn send_line_is_one_write_many_call() {
    let mut connection = TestConnection::new(LineReceiver::new(Sender {
        count: 1,
        line: b"hello",
    }));
    connection.receive(b"go\r\n");
    assert_eq!(connection.take_written(), &b"hello\r\n"[..]);

    const LINES: usize = 2_000;
    let mut connection = TestConnection::new(LineReceiver::new(Sender {
        count: LINES,
        line: b"from a callback",
    }));
    let handle = connection.transport_handle();
    let sender = LineSender::new(handle.clone(), b"\r\n");
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let (handle, sender) = (handle.clone(), sender.clone());
            std::thread::spawn(move || {
                for _ in 0..LINES {
                    if n % 2 == 0 {
                        sender.send_line(b"from a sender");
                    } else {
                        handle.write(b"x");
                    }
                }
            })
        })
        .collect();
    connection.receive(b"go\r\n");
    for thread in threads {
        thread.join().unwrap();
    }
    connection.run_pending();
    let written = connection.take_written();
    let delimited = |line: &[u8]| [line, b"\r\n"].concat();
    let (callback, sender) = (delimited(b"from a callback"), delimited(b"from a sender"));
    // Other threads' writes may land between the callback's lines (they follow what it
    // wrote before them), never inside one: only whole lines and single bytes, all there.
    let counts =
        whole_lines_and_xs(&written, &[&callback, &sender]).expect("every line went out whole");
    assert_eq!(counts, [LINES, 2 * LINES, 2 * LINES]);
}

/// Keeps every line it receives.
#[derive(Default)]
struct Keeper {
    lines: Vec<Bytes>,
}

impl LineHandler<WithRawMode> for Keeper {
    fn line_received(&mut self, _: &mut LineContext<'_, WithRawMode>, line: Line<'_>) {
        self.lines.push(line.to_bytes());
    }
}

/// Whether `lines` lie in one buffer at the offsets `offsets` (from the first line), as
/// they do in the chunk they were received in: slices of it, not copies.
fn laid_out_as_received(lines: &[Bytes], offsets: &[usize]) -> bool {
    let first = lines[0].as_ptr() as usize;
    lines
        .iter()
        .zip(offsets)
        .all(|(line, offset)| line.as_ptr() as usize == first + offset)
}

/// The chunk a callback gets is now the connection's own read (the test's bytes are not
/// handed over as they are), so its address cannot be compared with the test's: the lines
/// kept are checked to lie exactly where they were in that one chunk, which copies would
/// not.
#[test]
fn lines_are_slices_of_the_received_chunk() {
    let mut connection = TestConnection::new(LineReceiver::new(Keeper::default()));
    connection.receive(b"first\r\nsecond\r\nthird\r\nfour");
    {
        let protocol = connection.protocol();
        let lines = &protocol.handler().lines;
        assert_eq!(lines, &["first", "second", "third"]);
        assert!(
            laid_out_as_received(lines, &[0, 7, 15]),
            "{lines:?} were copied"
        );
    }
    // The unfinished "four" was copied; the lines after it are slices again.
    connection.receive(b"\r\nfifth\r\nsixth\r\n");
    let protocol = connection.protocol();
    let lines = &protocol.handler().lines;
    assert_eq!(lines[3..], ["four", "fifth", "sixth"]);
    assert!(laid_out_as_received(&lines[4..], &[0, 7]), "{lines:?}");
}

#[test]
fn an_unfinished_line_is_not_delivered_at_eof() {
    let mut connection = TestConnection::new(receiver());
    connection.receive(b"done\r\nhalf");
    connection.receive_eof();
    assert_eq!(connection.protocol().handler().events, [line(b"done")]);
    assert!(connection.is_closing());
}

#[test]
fn connection_events_reach_the_handler() {
    #[derive(Default)]
    struct Lifecycle {
        made: bool,
        keep_half_open: bool,
        lost: Option<DisconnectReason>,
    }
    impl LineHandler<WithRawMode> for Lifecycle {
        fn connection_made(&mut self, lines: &mut LineContext<'_, WithRawMode>) {
            self.made = true;
            lines.send_line(b"welcome");
        }
        fn line_received(&mut self, _: &mut LineContext<'_, WithRawMode>, _: Line<'_>) {}
        fn eof_received(&mut self, _: &mut LineContext<'_, WithRawMode>) -> bool {
            self.keep_half_open = true;
            true
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.lost = Some(reason);
        }
    }
    let mut connection = TestConnection::new(LineReceiver::new(Lifecycle::default()));
    assert_eq!(connection.take_written(), &b"welcome\r\n"[..]);
    connection.receive_eof();
    assert!(!connection.is_closing());
    connection.disconnect(DisconnectReason::Aborted);
    let protocol = connection.protocol();
    let handler = protocol.handler();
    assert!(handler.made && handler.keep_half_open);
    assert!(matches!(handler.lost, Some(DisconnectReason::Aborted)));
}

#[test]
fn into_handler_gives_the_handler_back() {
    let mut connection = TestConnection::new(receiver());
    connection.receive(b"kept\r\n");
    let receiver = std::mem::replace(&mut *connection.protocol_mut(), self::receiver());
    assert_eq!(receiver.into_handler().events, [line(b"kept")]);
}

#[test]
#[should_panic(expected = "delimiter must not be empty")]
fn an_empty_delimiter_is_a_programming_error() {
    let _ = receiver().with_delimiter(Bytes::new());
}

#[test]
fn writes_through_the_context_reach_the_transport_in_order() {
    struct Answer;
    impl LineHandler<WithRawMode> for Answer {
        fn line_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, line: Line<'_>) {
            lines.write(b"<");
            // Through the connection's own context, beneath the line context.
            lines.untyped().write(&line);
            lines.write_many(&[b">", b"", b" ok"]);
            lines.send_line(b"");
        }
    }
    let mut connection = TestConnection::new(LineReceiver::new(Answer));
    connection.receive(b"one\r\ntwo\r\n");
    assert_eq!(connection.take_written(), &b"<one> ok\r\n<two> ok\r\n"[..]);
}
