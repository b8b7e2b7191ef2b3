//! The string receivers (netstrings, Int8/16/32 prefixes, a general length field) in
//! memory: every chunking gives the same strings, limits and broken framing close the
//! connection with a typed reason, nothing is delivered after a close or while reading is
//! paused, and `send_string` never truncates a length.

use bytes::Bytes;
use torsade::frames::{Framing, FramingError, LengthField};
use torsade::testing::{every_split, TestConnection};
use torsade::{ConnectionError, Transport};
use torsade_protocols::{
    Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, NetstringReceiver, StringContext,
    StringHandler, StringReceiver,
};

/// Records strings and limit reports; obeys `close`, `pause` and `echo` strings.
#[derive(Debug, Default)]
struct Recorder {
    strings: Vec<Vec<u8>>,
    exceeded: Vec<u64>,
    keep_open_when_too_long: bool,
}

impl StringHandler for Recorder {
    fn string_received(&mut self, strings: &mut StringContext<'_>, string: Bytes) {
        self.strings.push(string.to_vec());
        match &string[..] {
            b"close" => strings.lose_connection(),
            b"pause" => strings.pause_reading(),
            b"echo" => strings.send_string(&string).unwrap(),
            _ => {}
        }
    }

    fn length_limit_exceeded(&mut self, strings: &mut StringContext<'_>, length: u64) {
        self.exceeded.push(length);
        if !self.keep_open_when_too_long {
            let max_length = strings.max_length();
            strings.lose_connection_with(ConnectionError::Framing(FramingError::TooLong {
                length,
                max_length,
            }));
        }
    }
}

fn framing_error<P: torsade::Protocol>(connection: &TestConnection<P>) -> Option<FramingError> {
    match connection.lost_reason()?.error()? {
        ConnectionError::Framing(error) => Some(error.clone()),
        _ => None,
    }
}

fn wire<F: Framing>(framing: F, strings: &[&[u8]]) -> Vec<u8> {
    let mut wire = Vec::new();
    for string in strings {
        wire.extend_from_slice(&framing.encode_header(string.len()).unwrap());
        wire.extend_from_slice(string);
        wire.extend_from_slice(framing.trailer());
    }
    wire
}

#[test]
fn every_receiver_gives_the_same_strings_however_chunked() {
    let strings: [&[u8]; 3] = [b"ab", b"", b"xyz"];
    fn observe<F: Framing>(c: &mut TestConnection<StringReceiver<F, Recorder>>) -> Vec<Vec<u8>> {
        c.protocol().handler().strings.clone()
    }
    let expected: Vec<Vec<u8>> = strings.iter().map(|s| s.to_vec()).collect();
    let input = wire(torsade::frames::Netstring, &strings);
    assert_eq!(
        every_split(
            &input,
            || NetstringReceiver::new(Recorder::default()),
            observe
        ),
        expected
    );
    let input = wire(torsade::frames::Int8, &strings);
    assert_eq!(
        every_split(
            &input,
            || Int8StringReceiver::new(Recorder::default()),
            observe
        ),
        expected
    );
    let input = wire(torsade::frames::Int16, &strings);
    assert_eq!(
        every_split(
            &input,
            || Int16StringReceiver::new(Recorder::default()),
            observe
        ),
        expected
    );
    let input = wire(torsade::frames::Int32, &strings);
    assert_eq!(
        every_split(
            &input,
            || Int32StringReceiver::new(Recorder::default()),
            observe
        ),
        expected
    );
    let framing = LengthField::u16().little_endian().adjustment(-2);
    let input = wire(framing, &strings);
    let make = || StringReceiver::with_framing(framing, Recorder::default());
    assert_eq!(every_split(&input, make, observe), expected);
}

#[test]
fn a_broken_netstring_closes_the_connection_with_the_reason() {
    let cases: [(&[u8], FramingError); 4] = [
        (b"3:abc;", FramingError::MissingComma { found: b';' }),
        (
            b"1x",
            FramingError::InvalidLength {
                byte: b'x',
                offset: 1,
            },
        ),
        (b"007:", FramingError::LeadingZero),
        (
            b":",
            FramingError::InvalidLength {
                byte: b':',
                offset: 0,
            },
        ),
    ];
    for (input, expected) in cases {
        let observe = |c: &mut TestConnection<NetstringReceiver<Recorder>>| {
            let delivered = c.protocol().handler().strings.len();
            (delivered, framing_error(c))
        };
        let seen = every_split(
            input,
            || NetstringReceiver::new(Recorder::default()),
            observe,
        );
        assert_eq!(
            seen,
            (0, Some(expected)),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a_netstring_over_the_limit_fails_at_the_first_digit_too_many() {
    let mut connection =
        TestConnection::new(NetstringReceiver::new(Recorder::default()).with_max_length(99));
    connection.receive(b"99");
    assert!(!connection.is_closing(), "99 may still be a length");
    connection.receive(b"9");
    assert_eq!(connection.protocol().handler().exceeded, [999]);
    assert!(connection.is_lost());
    assert_eq!(
        framing_error(&connection),
        Some(FramingError::TooLong {
            length: 999,
            max_length: 99
        })
    );
}

#[test]
fn a_netstring_receiver_closes_even_when_the_handler_keeps_it_open() {
    let handler = Recorder {
        keep_open_when_too_long: true,
        ..Recorder::default()
    };
    let mut connection = TestConnection::new(NetstringReceiver::new(handler).with_max_length(9));
    connection.receive(b"10:0123456789,1:a,");
    assert_eq!(connection.protocol().handler().exceeded, [10]);
    assert!(connection.protocol().handler().strings.is_empty());
    assert!(connection.is_lost(), "the stream cannot be resynchronised");
}

#[test]
fn an_over_long_prefixed_string_is_reported_before_its_payload_and_closes_by_default() {
    let mut connection =
        TestConnection::new(Int32StringReceiver::new(Recorder::default()).with_max_length(4));
    connection.receive(b"\x00\x00\x00\x05");
    assert_eq!(connection.protocol().handler().exceeded, [5]);
    assert_eq!(
        framing_error(&connection),
        Some(FramingError::TooLong {
            length: 5,
            max_length: 4
        })
    );
}

#[test]
fn a_handler_that_keeps_the_connection_open_gets_the_string_after_the_over_long_one() {
    let make = || {
        let handler = Recorder {
            keep_open_when_too_long: true,
            ..Recorder::default()
        };
        Int16StringReceiver::new(handler).with_max_length(3)
    };
    let input = b"\x00\x05hello\x00\x02ok";
    let seen = every_split(input, make, |c| {
        let closing = c.is_closing();
        let receiver = c.protocol();
        let handler = receiver.handler();
        (handler.exceeded.clone(), handler.strings.clone(), closing)
    });
    assert_eq!(seen, (vec![5], vec![b"ok".to_vec()], false));
}

#[test]
fn an_impossible_length_field_closes_the_connection() {
    // The length counts the 2-byte header too, so a value under 2 cannot be.
    let framing = LengthField::u16().adjustment(-2);
    let mut connection =
        TestConnection::new(StringReceiver::with_framing(framing, Recorder::default()));
    connection.receive(b"\x00\x01");
    assert_eq!(
        framing_error(&connection),
        Some(FramingError::ImpossibleLength { value: 1 })
    );
}

#[test]
fn nothing_is_delivered_after_the_protocol_closes_even_from_the_same_chunk() {
    let input = wire(torsade::frames::Netstring, &[b"a", b"close", b"b"]);
    let seen = every_split(
        &input,
        || NetstringReceiver::new(Recorder::default()),
        |c| c.protocol().handler().strings.clone(),
    );
    assert_eq!(seen, [b"a".to_vec(), b"close".to_vec()]);
}

#[test]
fn a_paused_receiver_delivers_nothing_more_from_the_chunk_it_has() {
    let input = wire(torsade::frames::Int8, &[b"a", b"pause", b"b", b"c"]);
    let seen = every_split(
        &input,
        || Int8StringReceiver::new(Recorder::default()),
        |c| c.protocol().handler().strings.clone(),
    );
    assert_eq!(seen, [b"a".to_vec(), b"pause".to_vec()]);
}

#[test]
fn send_string_refuses_a_payload_its_prefix_cannot_announce() {
    struct Sender(Vec<Result<(), FramingError>>);

    impl StringHandler for Sender {
        fn string_received(&mut self, _: &mut StringContext<'_>, _: Bytes) {}

        fn connection_made(&mut self, strings: &mut StringContext<'_>) {
            self.0.push(strings.send_string(&[b'x'; 255]));
            self.0.push(strings.send_string(&[b'x'; 256]));
        }
    }

    let mut connection = TestConnection::new(Int8StringReceiver::new(Sender(Vec::new())));
    assert_eq!(
        connection.protocol().handler().0,
        [
            Ok(()),
            Err(FramingError::PayloadTooLong {
                length: 256,
                max: 255
            })
        ]
    );
    let written = connection.take_written();
    assert_eq!(
        written.len(),
        256,
        "only the string that fits, with its one-byte prefix"
    );
    assert_eq!(written[0], 255);
}

#[test]
fn a_receiver_holds_at_most_one_frame() {
    let mut connection =
        TestConnection::new(Int32StringReceiver::new(Recorder::default()).with_max_length(1000));
    let mut input = wire(torsade::frames::Int32, &[&[7u8; 1000]]);
    input.truncate(900);
    connection.receive(&input);
    connection.receive(&[7; 100]);
    assert!(connection.protocol().handler().strings.is_empty());
    connection.receive(&[7; 4]);
    assert_eq!(connection.protocol().handler().strings, [vec![7u8; 1000]]);
}

#[test]
fn the_strings_held_by_a_pause_come_as_soon_as_reading_resumes() {
    let mut connection = TestConnection::new(NetstringReceiver::new(Recorder::default()));
    connection.receive(&wire(torsade::frames::Netstring, &[b"pause", b"b", b"c"]));
    assert_eq!(connection.protocol().handler().strings, [b"pause".to_vec()]);
    connection.transport_handle().resume_reading();
    connection.run_pending();
    assert_eq!(
        connection.protocol().handler().strings,
        [b"pause".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
}
