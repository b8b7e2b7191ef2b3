//! The checks the `string_receiver` target runs on one fuzz input: every framing of
//! `torsade::frames`, through the decoder and through its receiver.
//!
//! # Input layout
//!
//! ```text
//! byte 0   framing: 0 netstring, 1 Int8, 2 Int16, 3 Int32, otherwise a LengthField whose
//!          width is picked by bits 0..2, little-endian if bit 3, offset = bits 4..5
//! byte 1   max_length (mod 64); for a LengthField, also its adjustment (bits 4..7, minus 8)
//! byte 2   chunk size, 1 + byte mod 32; bit 7: the handler keeps the connection open
//!          when a frame is too long
//! rest     the stream
//! ```
//!
//! # Checks
//!
//! 1. No panic.
//! 2. The decoder gives the same frames and errors fed whole, in the fuzzed chunks and a
//!    byte at a time, and holds at most one frame (plus its header) after each chunk.
//! 3. The receiver, driven through `torsade::testing::TestConnection`, delivers the same
//!    strings, reports the same lengths and ends in the same state whole and chunked.

use bytes::Bytes;
use torsade::frames::{Framing, Int16, Int32, Int8, LengthField, Netstring};
use torsade::testing::TestConnection;
use torsade::Transport;
use torsade_protocols::{StringContext, StringHandler, StringReceiver};

// The property tests' decoder run (events and memory bound), not a copy of it.
#[allow(dead_code, unreachable_pub)]
#[rustfmt::skip]
#[path = "../../tests/common/frame_events.rs"]
mod frame_events;

use frame_events::decode;

/// A handler that records, and closes or keeps open on an over-long string.
#[derive(Debug, Default)]
struct Recorder {
    strings: Vec<Vec<u8>>,
    exceeded: Vec<u64>,
    keep_open: bool,
}

impl StringHandler for Recorder {
    fn string_received(&mut self, _: &mut StringContext<'_>, string: Bytes) {
        self.strings.push(string.to_vec());
    }

    fn length_limit_exceeded(&mut self, strings: &mut StringContext<'_>, length: u64) {
        self.exceeded.push(length);
        if !self.keep_open {
            strings.lose_connection();
        }
    }
}

type Outcome = (Vec<Vec<u8>>, Vec<u64>, bool);

fn receive<F: Framing>(framing: F, max: usize, keep_open: bool, chunks: &mut dyn Iterator<Item = &[u8]>) -> Outcome {
    let handler = Recorder { keep_open, ..Recorder::default() };
    let mut connection = TestConnection::new(StringReceiver::with_framing(framing, handler).with_max_length(max));
    for chunk in chunks {
        connection.receive(chunk);
    }
    let closing = connection.is_closing();
    let receiver = connection.protocol();
    let handler = receiver.handler();
    (handler.strings.clone(), handler.exceeded.clone(), closing)
}

fn check_framing<F: Framing>(framing: F, max: usize, chunk: usize, keep_open: bool, stream: &[u8]) {
    let whole = decode(framing.clone(), max, [stream]);
    assert_eq!(decode(framing.clone(), max, stream.chunks(chunk)), whole, "chunked");
    assert_eq!(decode(framing.clone(), max, stream.chunks(1)), whole, "bytewise");
    let received = receive(framing.clone(), max, keep_open, &mut std::iter::once(stream));
    assert_eq!(receive(framing, max, keep_open, &mut stream.chunks(chunk)), received, "receiver chunked");
}

/// Runs every check on one fuzz input.
pub fn check(data: &[u8]) {
    let [kind, limits, chunking, stream @ ..] = data else {
        return;
    };
    let max = usize::from(limits % 64);
    let chunk = 1 + usize::from(chunking % 32);
    let keep_open = chunking & 0x80 != 0;
    match kind {
        0 => check_framing(Netstring, max, chunk, keep_open, stream),
        1 => check_framing(Int8, max, chunk, keep_open, stream),
        2 => check_framing(Int16, max, chunk, keep_open, stream),
        3 => check_framing(Int32, max, chunk, keep_open, stream),
        _ => {
            let base = match kind & 0b111 {
                0 | 1 => LengthField::u8(),
                2 => LengthField::u16(),
                3 | 4 => LengthField::u24(),
                5 => LengthField::u32(),
                _ => LengthField::u64(),
            };
            let mut framing = base.offset(usize::from((kind >> 4) & 0b11));
            if kind & 0b1000 != 0 {
                framing = framing.little_endian();
            }
            let framing = framing.adjustment(i64::from(limits >> 4) - 8);
            check_framing(framing, max, chunk, keep_open, stream);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_inputs_pass() {
        for input in [
            b"\x00\x20\x03" as &[u8],
            b"\x00\x20\x035:hello,0:,",
            b"\x01\x05\x02\x03abc\x09123456789\x01z",
            b"\x02\x05\x81\x00\x09123456789\x00\x01z",
            b"\xfa\x90\x04\x00\x00\x05abc",
            b"\x00\x05\x0199999999:",
        ] {
            super::check(input);
        }
    }
}
