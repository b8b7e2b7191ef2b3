//! `read_frame` and `write_frame` in memory: every framing, interleaved with line reads,
//! over the limit, broken, cut short by the peer.

use bytes::Bytes;
use futures::FutureExt;

use super::tests::{now, pair};
use crate::frames::{Framing, FramingError, Int16, Int32, Int8, LengthField, Netstring};
use crate::Error;

fn wire<F: Framing>(framing: &F, payload: &[u8]) -> Vec<u8> {
    [
        &framing.encode_header(payload.len()).unwrap()[..],
        payload,
        framing.trailer(),
    ]
    .concat()
}

/// The frames read from `input` fed at every split point, then EOF, as strings.
fn frames_at_every_split<F: Framing>(framing: &F, input: &[u8]) -> Vec<String> {
    let mut seen: Option<Vec<String>> = None;
    for cut in 0..=input.len() {
        let (mut connection, mut peer) = pair();
        peer.send(&input[..cut]);
        peer.send(&input[cut..]);
        peer.send_eof();
        let mut frames = Vec::new();
        loop {
            match now(connection.read_frame(framing)) {
                Ok(Some(frame)) => frames.push(String::from_utf8_lossy(&frame).into_owned()),
                Ok(None) => break,
                Err(error) => {
                    frames.push(format!("error: {error}"));
                    if frames.len() > 10 {
                        break;
                    }
                }
            }
        }
        match &seen {
            None => seen = Some(frames),
            Some(expected) => assert_eq!(&frames, expected, "cut at {cut}"),
        }
    }
    seen.unwrap_or_default()
}

#[test]
fn every_framing_reads_the_same_frames_at_every_split_point() {
    let payloads: [&[u8]; 3] = [b"one", b"", b"three"];
    let check = |input: Vec<u8>, framing: &dyn Fn(&[u8]) -> Vec<String>| {
        assert_eq!(framing(&input), ["one", "", "three"]);
    };
    check(
        payloads.iter().flat_map(|p| wire(&Netstring, p)).collect(),
        &|i| frames_at_every_split(&Netstring, i),
    );
    check(
        payloads.iter().flat_map(|p| wire(&Int8, p)).collect(),
        &|i| frames_at_every_split(&Int8, i),
    );
    check(
        payloads.iter().flat_map(|p| wire(&Int32, p)).collect(),
        &|i| frames_at_every_split(&Int32, i),
    );
    let field = LengthField::u16().little_endian().adjustment(-2);
    check(
        payloads.iter().flat_map(|p| wire(&field, p)).collect(),
        &|i| frames_at_every_split(&field, i),
    );
}

#[test]
fn frames_and_lines_interleave_in_order() {
    let (mut connection, mut peer) = pair();
    let mut input = b"hello\r\n".to_vec();
    input.extend(wire(&Int16, b"binary\r\n"));
    input.extend_from_slice(b"bye\r\n");
    peer.send(&input);
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"hello"[..]);
    assert_eq!(
        now(connection.read_frame(&Int16)).unwrap().unwrap(),
        &b"binary\r\n"[..]
    );
    assert_eq!(now(connection.read_line()).unwrap().unwrap(), &b"bye"[..]);
}

#[test]
fn a_frame_waits_for_its_last_byte() {
    let (mut connection, mut peer) = pair();
    peer.send(b"\x00\x00\x00\x05hel");
    let mut read = Box::pin(connection.read_frame(&Int32));
    assert!((&mut read).now_or_never().is_none());
    peer.send(b"lo");
    assert_eq!(now(read).unwrap().unwrap(), &b"hello"[..]);
}

#[test]
fn a_length_field_over_the_limit_is_an_error_and_reading_goes_on_after_it() {
    let (mut connection, mut peer) = pair();
    connection.set_max_frame_length(3);
    peer.send(b"\x00\x05he");
    match now(connection.read_frame(&Int16)) {
        Err(Error::FrameTooLong {
            length: 5,
            max_length: 3,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    peer.send(b"llo\x00\x02ok");
    assert_eq!(
        now(connection.read_frame(&Int16)).unwrap().unwrap(),
        &b"ok"[..]
    );
}

#[test]
fn broken_framing_is_an_error_that_leaves_the_bytes_for_read() {
    let (mut connection, mut peer) = pair();
    peer.send(b"12x:");
    for _ in 0..2 {
        match now(connection.read_frame(&Netstring)) {
            Err(Error::Framing(FramingError::InvalidLength {
                byte: b'x',
                offset: 2,
            })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(now(connection.read()).unwrap().unwrap(), &b"12x:"[..]);
}

#[test]
fn a_netstring_over_the_limit_is_frame_too_long() {
    let (mut connection, mut peer) = pair();
    connection.set_max_frame_length(9);
    peer.send(b"10:");
    match now(connection.read_frame(&Netstring)) {
        Err(Error::FrameTooLong {
            length: 10,
            max_length: 9,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_peer_closing_mid_frame_is_an_incomplete_read() {
    let (mut connection, mut peer) = pair();
    peer.send(b"\x04ab");
    peer.send_eof();
    match now(connection.read_frame(&Int8)) {
        Err(Error::IncompleteRead {
            partial,
            expected: Some(5),
        }) => {
            assert_eq!(partial, Bytes::from_static(b"\x04ab"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn write_frame_frames_and_refuses_what_its_prefix_cannot_announce() {
    let (connection, mut peer) = pair();
    now(connection.write_frame(&Netstring, b"hi")).unwrap();
    assert_eq!(peer.take(), &b"2:hi,"[..]);
    match now(connection.write_frame(&Int8, &[0; 256])) {
        Err(Error::Framing(FramingError::PayloadTooLong {
            length: 256,
            max: 255,
        })) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        peer.take().is_empty(),
        "nothing of a refused frame is written"
    );
}
