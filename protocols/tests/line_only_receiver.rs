//! LineOnlyReceiver: the same framing rules as LineReceiver, and no raw mode.

mod common;

use common::{exceeded, line, sweep, Event, OnExceeded, Recorder};
use torsade::testing::TestConnection;
use torsade_protocols::{LineOnlyReceiver, LineReceiver};

fn receiver() -> LineOnlyReceiver<Recorder> {
    LineOnlyReceiver::new(Recorder::default())
}

#[test]
fn raw_mode_is_refused_and_lines_keep_coming() {
    let outcome = sweep(receiver, b"raw:3\r\nabc\r\n");
    assert_eq!(
        outcome.events,
        [line(b"raw:3"), Event::RawRefused, line(b"abc")]
    );
}

#[test]
fn it_frames_exactly_like_a_line_receiver() {
    let inputs: [&[u8]; 6] = [
        b"one\r\ntwo\r\n\r\nthree",
        b"abcde\r\nabcdef\r\nok\r\n",
        b"abcde\r",
        b"abcdefg\revil\nmore\r\r\nok\r\n",
        b"a\r\nclose\r\nb\r\n",
        b"echo:x\r\nabcdefghijk",
    ];
    for input in inputs {
        for on_exceeded in [OnExceeded::Close, OnExceeded::KeepOpen] {
            let only = sweep(
                || LineOnlyReceiver::new(Recorder::new(on_exceeded.clone())).with_max_length(5),
                input,
            );
            let full = sweep(
                || LineReceiver::new(Recorder::new(on_exceeded.clone())).with_max_length(5),
                input,
            );
            assert_eq!(only, full, "input {input:?}");
        }
    }
}

#[test]
fn a_line_of_exactly_max_length_is_accepted_and_one_more_byte_is_not() {
    let build = || LineOnlyReceiver::new(Recorder::default()).with_max_length(3);
    assert_eq!(sweep(build, b"abc\r\n").events, [line(b"abc")]);
    let outcome = sweep(build, b"abcd\r\n");
    assert_eq!(outcome.events, [exceeded(b"abc")]);
    assert!(outcome.closing);
}

#[test]
fn a_custom_delimiter_is_used_both_ways() {
    let outcome = sweep(
        || receiver().with_delimiter(b"\0"),
        b"echo:hi\0echo:there\0",
    );
    assert_eq!(outcome.written, b"hi\0there\0");
}

#[test]
fn pushback_works_without_raw_mode() {
    let outcome = sweep(
        || LineOnlyReceiver::new(Recorder::new(OnExceeded::PushBack(b"in\r\n"))).with_max_length(3),
        b"abcdef\r\nok\r\n",
    );
    assert_eq!(
        outcome.events,
        [exceeded(b"abc"), line(b"in"), line(b"def"), line(b"ok")]
    );
}

#[test]
fn accessors_report_the_configuration() {
    let mut receiver = LineOnlyReceiver::new(Recorder::default())
        .with_max_length(42)
        .with_delimiter(b"\n");
    assert_eq!(receiver.max_length(), 42);
    assert_eq!(receiver.delimiter(), b"\n");
    receiver.handler_mut().events.push(line(b"seeded"));
    let mut connection = TestConnection::new(receiver);
    connection.receive(b"x\n");
    assert_eq!(
        connection.protocol().handler().events,
        [line(b"seeded"), line(b"x")]
    );
}
