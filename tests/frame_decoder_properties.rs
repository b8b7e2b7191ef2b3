//! Property tests of the frame decoder, for every framing: the same bytes give the same
//! frames and errors however they are chunked, those are what a small model of each
//! format reads from the whole input, and after each chunk the decoder holds at most one
//! frame.
//!
//! The receivers built on it are checked in `protocols/tests/string_receivers.rs`. A
//! failing case is saved to `proptest-regressions/frame_decoder_properties.txt` (beside
//! `Cargo.toml`); commit it and it is replayed first on every later run.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use torsade::frames::{
    FrameDecoder, Framing, FramingError, Int16, Int32, Int8, LengthField, Netstring,
};

#[path = "common/proptest_config.rs"]
mod proptest_config;

#[path = "common/frame_events.rs"]
mod frame_events;

use frame_events::{decode, Event};

/// `cases` cases, failures persisted beside `Cargo.toml`.
fn config(cases: u32) -> ProptestConfig {
    proptest_config::config(
        cases,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/frame_decoder_properties.txt"
        ),
    )
}

fn chunks<'a>(input: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for point in points.into_iter().chain([input.len()]) {
        pieces.push(&input[start..point]);
        start = point;
    }
    pieces
}

/// A model of netstrings over the whole input, written from the format's rules.
fn netstring_model(input: &[u8], max: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        // The first digit prefix over the limit, if any: that is where reading stops.
        let over = (1..=digits.min(21)).find(|&count| {
            count > 20
                || std::str::from_utf8(&rest[..count])
                    .unwrap()
                    .parse::<u128>()
                    .unwrap()
                    > max as u128
        });
        if digits >= 2 && rest[0] == b'0' {
            events.push(Event::Error(FramingError::LeadingZero));
            return events;
        }
        if let Some(count) = over {
            let length = std::str::from_utf8(&rest[..count])
                .unwrap()
                .parse::<u128>()
                .unwrap();
            events.push(Event::Error(FramingError::TooLong {
                length: u64::try_from(length).unwrap_or(u64::MAX),
                max_length: max,
            }));
            return events;
        }
        if digits == rest.len() {
            return events; // the length is still arriving
        }
        if digits == 0 || rest[digits] != b':' {
            let byte = rest[digits];
            events.push(Event::Error(FramingError::InvalidLength {
                byte,
                offset: digits,
            }));
            return events;
        }
        let length: usize = std::str::from_utf8(&rest[..digits])
            .unwrap()
            .parse()
            .unwrap();
        let body = &rest[digits + 1..];
        if body.len() <= length {
            return events;
        }
        if body[length] != b',' {
            events.push(Event::Error(FramingError::MissingComma {
                found: body[length],
            }));
            return events;
        }
        events.push(Event::Frame(body[..length].to_vec()));
        rest = &body[length + 1..];
    }
    events
}

/// A model of a big-endian length prefix of `width` bytes counting the payload: frames
/// over the limit are reported and skipped.
fn prefix_model(input: &[u8], width: usize, max: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = input;
    while rest.len() >= width {
        let length = rest[..width]
            .iter()
            .fold(0u64, |value, &byte| value * 256 + u64::from(byte));
        let frame_end = width as u64 + length;
        if length > max as u64 {
            events.push(Event::Error(FramingError::TooLong {
                length,
                max_length: max,
            }));
            rest = &rest[(frame_end.min(rest.len() as u64)) as usize..];
            if frame_end > input.len() as u64 {
                return events;
            }
            continue;
        }
        if (rest.len() as u64) < frame_end {
            return events;
        }
        events.push(Event::Frame(rest[width..frame_end as usize].to_vec()));
        rest = &rest[frame_end as usize..];
    }
    events
}

/// Valid frames of a framing with some damage: each piece is a frame, or raw bytes.
fn stream_of<F: Framing>(framing: F) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => vec(any::<u8>(), 0..40).prop_map(move |payload| {
            match framing.encode_header(payload.len()) {
                Ok(header) => [&header[..], &payload, framing.trailer()].concat(),
                Err(_) => payload,
            }
        }),
        1 => vec(prop_oneof![Just(b'0'), Just(b'9'), Just(b':'), Just(b','), any::<u8>()], 0..4),
    ];
    vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn cuts() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..12)
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn netstrings_decode_as_the_model_reads_them(input in stream_of(Netstring), max in 0usize..48, cuts in cuts()) {
        let expected = netstring_model(&input, max);
        prop_assert_eq!(&decode(Netstring, max, [&input[..]]), &expected);
        prop_assert_eq!(&decode(Netstring, max, chunks(&input, &cuts)), &expected);
    }

    #[test]
    fn int8_prefixes_decode_as_the_model_reads_them(input in stream_of(Int8), max in 0usize..48, cuts in cuts()) {
        let expected = prefix_model(&input, 1, max);
        prop_assert_eq!(&decode(Int8, max, chunks(&input, &cuts)), &expected);
    }

    #[test]
    fn int16_prefixes_decode_as_the_model_reads_them(input in stream_of(Int16), max in 0usize..48, cuts in cuts()) {
        let expected = prefix_model(&input, 2, max);
        prop_assert_eq!(&decode(Int16, max, chunks(&input, &cuts)), &expected);
    }

    #[test]
    fn int32_prefixes_decode_as_the_model_reads_them(input in stream_of(Int32), max in 0usize..48, cuts in cuts()) {
        let expected = prefix_model(&input, 4, max);
        prop_assert_eq!(&decode(Int32, max, chunks(&input, &cuts)), &expected);
    }

    #[test]
    fn general_length_fields_give_the_same_frames_however_chunked(
        input in vec(any::<u8>(), 0..120),
        offset in 0usize..3,
        width in prop_oneof![Just(1usize), Just(2), Just(3), Just(4), Just(8)],
        little_endian in any::<bool>(),
        adjustment in -6i64..6,
        strip in 0usize..6,
        max in 0usize..64,
        cuts in cuts(),
    ) {
        let base = match width {
            1 => LengthField::u8(),
            2 => LengthField::u16(),
            3 => LengthField::u24(),
            4 => LengthField::u32(),
            _ => LengthField::u64(),
        };
        let mut framing = base.offset(offset).adjustment(adjustment).strip(strip);
        if little_endian {
            framing = framing.little_endian();
        }
        let whole = decode(framing, max, [&input[..]]);
        prop_assert_eq!(&decode(framing, max, chunks(&input, &cuts)), &whole);
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&decode(framing, max, bytewise), &whole);
    }

    #[test]
    fn what_a_framing_encodes_it_decodes(payloads in vec(vec(any::<u8>(), 0..300), 0..6), cuts in cuts()) {
        round_trip(Netstring, &payloads, &cuts)?;
        round_trip(Int16, &payloads, &cuts)?;
        round_trip(Int32, &payloads, &cuts)?;
        round_trip(LengthField::u24().little_endian().adjustment(-3).strip(3), &payloads, &cuts)?;
    }
}

fn round_trip<F: Framing>(
    framing: F,
    payloads: &[Vec<u8>],
    cuts: &[Index],
) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    for payload in payloads {
        wire.extend_from_slice(&framing.encode_header(payload.len()).unwrap());
        wire.extend_from_slice(payload);
        wire.extend_from_slice(framing.trailer());
    }
    let expected: Vec<Event> = payloads.iter().cloned().map(Event::Frame).collect();
    prop_assert_eq!(decode(framing, 300, chunks(&wire, cuts)), expected);
    Ok(())
}

#[test]
fn an_over_long_length_field_frame_is_skipped_as_it_arrives() {
    let mut decoder = FrameDecoder::new(Int16, 4);
    decoder.push(Bytes::from_static(b"\x00\x06abc"));
    assert_eq!(
        decoder.next_frame(),
        Some(Err(FramingError::TooLong {
            length: 6,
            max_length: 4
        }))
    );
    assert!(!decoder.is_failed());
    assert_eq!(decoder.next_frame(), None);
    assert_eq!(
        decoder.buffered(),
        0,
        "nothing of the skipped frame is kept"
    );
    decoder.push(Bytes::from_static(b"def\x00\x02ok"));
    assert_eq!(decoder.next_frame(), Some(Ok(Bytes::from_static(b"ok"))));
}

#[test]
fn after_an_error_nothing_is_decoded_again() {
    let mut decoder = FrameDecoder::new(Netstring, 10);
    decoder.push(Bytes::from_static(b"2:ab;3:abc,"));
    assert_eq!(
        decoder.next_frame(),
        Some(Err(FramingError::MissingComma { found: b';' }))
    );
    assert!(decoder.is_failed());
    assert_eq!(decoder.next_frame(), None);
    decoder.push(Bytes::from_static(b"1:a,"));
    assert_eq!(decoder.next_frame(), None);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn a_frame_whole_in_a_chunk_is_not_copied() {
    let chunk = Bytes::from_static(b"\x00\x00\x00\x05hello");
    let mut decoder = FrameDecoder::new(Int32, 100);
    decoder.push(chunk.clone());
    let frame = decoder.next_frame().unwrap().unwrap();
    assert_eq!(frame.as_ptr(), chunk[4..].as_ptr());
}

#[test]
fn a_netstring_length_fails_at_the_first_impossible_digit() {
    let mut decoder = FrameDecoder::new(Netstring, 99_999);
    decoder.push(Bytes::from_static(b"99999"));
    assert_eq!(decoder.next_frame(), None, "still possible");
    decoder.push(Bytes::from_static(b"9"));
    assert_eq!(
        decoder.next_frame(),
        Some(Err(FramingError::TooLong {
            length: 999_999,
            max_length: 99_999
        }))
    );
    assert!(decoder.is_failed(), "a netstring cannot be skipped");
}
