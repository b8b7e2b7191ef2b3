//! The checks both fuzz targets run on one fuzz input.
//!
//! # Input layout
//!
//! ```text
//! byte 0   delimiter: low 3 bits pick one of DELIMITERS; if bit 3 is set, the delimiter is
//!          instead the next 1 + (bits 4..6) bytes of the input
//! byte 1   max_length (mod 48)
//! byte 2   what the handler does with an over-long line (low 2 bits: close, keep open,
//!          push back the next (bits 4..7) bytes, raw mode for 1 + (bits 4..7) bytes);
//!          bit 2: the handler obeys command lines (`rawN`, `pushTEXT`, `echoTEXT`, `close`)
//! byte 3   1 + (bits 0..1) chunk sizes follow, each 1 + byte mod 32, used in a cycle
//! rest     the stream
//! ```
//!
//! # Checks
//!
//! 1. No panic.
//! 2. The receiver, driven through `torsade::testing::TestConnection`, sees the same events,
//!    writes and closing state for the stream fed whole, in the fuzzed chunks, and one
//!    byte at a time.
//! 3. The framer buffers less than `max_length` plus one delimiter once a chunk is parsed
//!    (and nothing in raw mode). The receivers' framer is torsade's public
//!    `torsade::lines::LineFramer`; this crate drives one exactly as the receivers'
//!    dispatcher does (`next_lent` until it needs input or the handler closes) and reads
//!    `LineFramer::buffered` after every chunk. Its outcome must equal the receiver's, so
//!    the bound is measured on the same behaviour.
//! 4. The outcome is the one a reference model predicts, working on the whole stream at
//!    once (`script_model` of `protocols/tests/common/script.rs`, compiled here with the
//!    rest of those tests' `common` module, `#[path]` below).

pub mod frames;

use bytes::Bytes;
use torsade::lines::{Frame, Lent, LineFramer};
use torsade_protocols::{LineOnlyReceiver, LineReceiver};

// The property tests' shared helpers, for the handler the receivers are fuzzed with
// (`Script`) and the reference model (`script_model`), not copies of them.
// `rustfmt::skip`: formatting this crate must not touch files of another (the root
// workspace's `cargo fmt` keeps them formatted).
#[allow(dead_code, unreachable_pub)]
#[rustfmt::skip]
#[path = "../../protocols/tests/common/mod.rs"]
mod common;

use common::script::{script_model, OnTooLong, Script, Steer};
use common::{join_raw, run, Outcome};

/// Which receiver a target fuzzes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `LineReceiver`: raw mode allowed.
    LineReceiver,
    /// `LineOnlyReceiver`: raw mode refused.
    LineOnlyReceiver,
}

/// Delimiters byte 0 picks from: the usual ones, self-overlapping ones, a NUL.
const DELIMITERS: [&[u8]; 8] = [
    b"\r\n",
    b"\n",
    b"+++",
    b"a+a",
    b"aab",
    b"\r\n\r\n",
    b"\0",
    b"aa",
];

/// One fuzz case, decoded.
#[derive(Debug)]
struct Case<'a> {
    delimiter: Vec<u8>,
    max_length: usize,
    on_too_long: OnTooLong,
    obeys: bool,
    chunk_sizes: Vec<usize>,
    stream: &'a [u8],
}

/// Takes `count` bytes from the front of `data` (fewer if it is shorter).
fn take<'a>(data: &mut &'a [u8], count: usize) -> &'a [u8] {
    let (taken, rest) = data.split_at(count.min(data.len()));
    *data = rest;
    taken
}

fn decode(mut data: &[u8]) -> Option<Case<'_>> {
    let &[choice, max, too_long, chunking, ..] = data else {
        return None;
    };
    data = &data[4..];
    let delimiter = if choice & 0x08 == 0 {
        DELIMITERS[usize::from(choice & 0x07)].to_vec()
    } else {
        let custom = take(&mut data, 1 + usize::from((choice >> 4) & 0x07));
        if custom.is_empty() {
            return None;
        }
        custom.to_vec()
    };
    let amount = usize::from(too_long >> 4);
    let on_too_long = match too_long & 0x03 {
        0 => OnTooLong::Close,
        1 => OnTooLong::KeepOpen,
        2 => OnTooLong::PushBack(take(&mut data, amount).to_vec()),
        // At least one byte (see `OnTooLong::Raw`).
        _ => OnTooLong::Raw(1 + amount),
    };
    let chunk_sizes = take(&mut data, 1 + usize::from(chunking & 0x03))
        .iter()
        .map(|size| 1 + usize::from(size % 32))
        .collect::<Vec<_>>();
    if chunk_sizes.is_empty() {
        return None;
    }
    Some(Case {
        delimiter,
        max_length: usize::from(max % 48),
        on_too_long,
        obeys: too_long & 0x04 != 0,
        chunk_sizes,
        stream: data,
    })
}

/// A new handler for `case`.
fn script(case: &Case<'_>) -> Script {
    Script::new(case.obeys, case.on_too_long.clone())
}

/// Feeds `chunks` to a new receiver of `kind` through a `TestConnection`.
fn run_receiver(kind: Kind, case: &Case<'_>, chunks: &[&[u8]]) -> Outcome {
    match kind {
        Kind::LineReceiver => run(
            LineReceiver::new(script(case))
                .with_delimiter(case.delimiter.clone())
                .with_max_length(case.max_length),
            chunks,
            &|receiver| receiver.handler().events.clone(),
        ),
        Kind::LineOnlyReceiver => run(
            LineOnlyReceiver::new(script(case))
                .with_delimiter(case.delimiter.clone())
                .with_max_length(case.max_length),
            chunks,
            &|receiver| receiver.handler().events.clone(),
        ),
    }
}

/// The framer's side of [`Steer`], as `LineContext` does it.
struct Mirror<'a> {
    framer: &'a mut LineFramer,
    raw_allowed: bool,
    written: &'a mut Vec<u8>,
    closing: &'a mut bool,
}

impl Steer for Mirror<'_> {
    fn delimiter_bytes(&self) -> Vec<u8> {
        self.framer.delimiter().to_vec()
    }

    fn to_raw_mode(&mut self) -> bool {
        if self.raw_allowed {
            self.framer.set_raw_mode();
        }
        self.raw_allowed
    }

    fn to_line_mode(&mut self, extra: Bytes) {
        self.framer.set_line_mode(extra);
    }

    fn write_line(&mut self, line: &[u8]) {
        self.written.extend_from_slice(line);
        self.written.extend_from_slice(self.framer.delimiter());
    }

    fn close(&mut self) {
        *self.closing = true;
    }
}

/// Feeds `chunks` to a framer, delivering its frames as the receivers' dispatcher does,
/// and checks the buffer bound after every chunk.
fn run_framer(kind: Kind, case: &Case<'_>, chunks: &[&[u8]]) -> Outcome {
    let mut framer = LineFramer::new(case.delimiter.clone(), case.max_length);
    let bound = case.max_length + case.delimiter.len() - 1;
    let mut script = script(case);
    let mut written = Vec::new();
    let mut closing = false;
    for chunk in chunks {
        // A connection stops reading once the protocol asked to close.
        if chunk.is_empty() || closing {
            continue;
        }
        framer.push(Bytes::copy_from_slice(chunk));
        // One delivery per chunk, lending lines from `lent` as the dispatcher does.
        let mut lent = Lent::new();
        while !closing {
            let Some(frame) = framer.next_lent(&mut lent) else {
                break;
            };
            let mut lines = Mirror {
                framer: &mut framer,
                raw_allowed: kind == Kind::LineReceiver,
                written: &mut written,
                closing: &mut closing,
            };
            match frame {
                Frame::Line(range) => {
                    let line = lent.bytes().slice(range);
                    script.line(&mut lines, &line);
                }
                Frame::Raw(data) => script.raw(&mut lines, data),
                Frame::TooLong(partial) => script.too_long(&mut lines, partial),
            }
        }
        if closing {
            continue;
        }
        if framer.is_line_mode() {
            assert!(
                framer.buffered() <= bound,
                "{} bytes buffered after a chunk, over {} + {} - 1: {framer:?}",
                framer.buffered(),
                case.max_length,
                case.delimiter.len(),
            );
        } else {
            assert_eq!(framer.buffered(), 0, "raw mode kept bytes: {framer:?}");
        }
    }
    Outcome {
        events: join_raw(script.events),
        written,
        closing,
    }
}

/// `stream` cut into chunks of `sizes`, used in a cycle.
fn chunk<'a>(stream: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = stream;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Runs every check on one fuzz input; panics on a violation.
pub fn check(data: &[u8], kind: Kind) {
    let Some(case) = decode(data) else {
        return;
    };
    let whole = run_receiver(kind, &case, &[case.stream]);
    let chunks = chunk(case.stream, &case.chunk_sizes);
    let chunked = run_receiver(kind, &case, &chunks);
    assert_eq!(chunked, whole, "fed in chunks {chunks:?} ({case:?})");
    let bytes: Vec<&[u8]> = case.stream.chunks(1).collect();
    let byte_by_byte = run_receiver(kind, &case, &bytes);
    assert_eq!(byte_by_byte, whole, "fed byte by byte ({case:?})");

    let framed = run_framer(kind, &case, &chunks);
    assert_eq!(
        framed, chunked,
        "the framer driven alone differs from the receiver ({case:?})"
    );

    let expected = script_model(
        case.stream,
        &case.delimiter,
        case.max_length,
        kind == Kind::LineReceiver,
        case.obeys,
        &case.on_too_long,
    );
    assert_eq!(whole, expected, "the model differs ({case:?})");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness on a few hand-made inputs, so a plain `cargo test` in this directory
    /// checks it without nightly.
    #[test]
    fn hand_made_inputs_pass_every_check() {
        let inputs: [&[u8]; 5] = [
            b"\x00\x05\x05\x03\x01\x02\x03\x04raw3\r\nabcdef\r\npushx|y|\r\nxxxxxxxxxx\r\nok\r\n",
            b"\x01\x03\x02\x00\x07a|bcdefgh\nxxxxxxx\nok\nxx",
            b"\x01\x03\x43\x01\x01\x02abcdefgh\nok\nxx",
            b"\x04\x02\x01\x00\x03xxaaabokaab",
            b"\x18\x04\x05\x00ab\x01abcxyzabababab\nx",
        ];
        for input in inputs {
            check(input, Kind::LineReceiver);
            check(input, Kind::LineOnlyReceiver);
        }
    }

    #[test]
    fn decoding_reads_the_documented_layout() {
        let case = decode(b"\x18\x31\x26\x01ab+x|\x05\x40stream").unwrap();
        assert_eq!(case.delimiter, b"ab");
        assert_eq!(case.max_length, 1);
        assert!(matches!(case.on_too_long, OnTooLong::PushBack(ref text) if text == b"+x"));
        assert!(case.obeys);
        assert_eq!(case.chunk_sizes, [1 + 0x7c % 32, 6]);
        assert_eq!(case.stream, b"\x40stream");
    }
}
