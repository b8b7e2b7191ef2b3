//! The checks both fuzz targets run on one fuzz input.
//!
//! # Input layout
//!
//! ```text
//! byte 0   delimiter: low 3 bits pick one of DELIMITERS; if bit 3 is set, the delimiter is
//!          instead the next 1 + (bits 4..6) bytes of the input
//! byte 1   max_length (mod 48)
//! byte 2   what the handler does with an over-long line (low 2 bits: close, keep open,
//!          push back the next (bits 4..7) bytes, raw mode for (bits 4..7) bytes);
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
//!    (and nothing in raw mode). `LineFramer::buffered` is crate-private, so this crate
//!    compiles the framer's own source files (`#[path]` below) and drives them exactly as
//!    the receivers' dispatcher does; the outcome of that copy must equal the receiver's,
//!    so the bound is measured on the same behaviour. If `line_framer.rs` ever uses more
//!    of its crate than `delimiter.rs`, add the module here too.
//! 4. The outcome is the one a reference model predicts, working on the whole stream at
//!    once (`script_model` of `protocols/tests/framing_properties.rs`, copied), except in
//!    the one case it leaves out (see `modelled`).

use bytes::Bytes;
use torsade::testing::TestConnection;
use torsade::Protocol;
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver, LineReceiver};

// The framer's own source, not a copy of it. `rustfmt::skip`: formatting this crate must
// not touch files of another (the root workspace's `cargo fmt` keeps them formatted).
#[allow(dead_code, unreachable_pub)]
#[rustfmt::skip]
#[path = "../../protocols/src/delimiter.rs"]
mod delimiter;
#[allow(dead_code, unreachable_pub)]
#[rustfmt::skip]
#[path = "../../protocols/src/line_framer.rs"]
mod line_framer;

use line_framer::{LentEvent, LineFramer, LineSource};

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

/// How many times one connection's handler may push bytes back (pushed-back bytes can
/// hold an over-long line that pushes back again).
const PUSH_BACK_BUDGET: usize = 16;

/// What the handler does with an over-long line.
#[derive(Debug, Clone)]
enum OnTooLong {
    Close,
    KeepOpen,
    /// Push these bytes back (`|` stands for the delimiter).
    PushBack(Vec<u8>),
    /// Take this many raw bytes, then back to lines.
    Raw(usize),
}

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
        _ => OnTooLong::Raw(amount),
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

/// What the handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Line(Vec<u8>),
    Raw(Vec<u8>),
    Exceeded(Vec<u8>),
    RawRefused,
}

/// Everything observable after a stream was fed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// Adjacent raw events joined (raw chunks follow the network's chunks).
    events: Vec<Event>,
    written: Vec<u8>,
    closing: bool,
}

/// What a handler may do to the receiver: implemented by `LineContext` and by the framer
/// copy's driver, so one [`Script`] drives both.
trait Steer {
    fn delimiter_bytes(&self) -> Vec<u8>;
    /// Whether raw mode was granted.
    fn to_raw_mode(&mut self) -> bool;
    fn to_line_mode(&mut self, extra: Bytes);
    fn write_line(&mut self, line: &[u8]);
    fn close(&mut self);
}

impl Steer for LineContext<'_> {
    fn delimiter_bytes(&self) -> Vec<u8> {
        self.delimiter().to_vec()
    }

    fn to_raw_mode(&mut self) -> bool {
        self.set_raw_mode().is_ok()
    }

    fn to_line_mode(&mut self, extra: Bytes) {
        self.set_line_mode(extra);
    }

    fn write_line(&mut self, line: &[u8]) {
        self.send_line(line);
    }

    fn close(&mut self) {
        self.transport().lose_connection();
    }
}

/// A handler that records its events and, when it obeys, obeys command lines: `rawN`
/// (N raw bytes, up to two digits, then back to lines), `pushTEXT` (`|` for the
/// delimiter), `echoTEXT`, `close`.
#[derive(Debug)]
struct Script {
    events: Vec<Event>,
    obeys: bool,
    on_too_long: OnTooLong,
    raw_left: usize,
    pushes_left: usize,
}

impl Script {
    fn new(case: &Case<'_>) -> Script {
        Script {
            events: Vec::new(),
            obeys: case.obeys,
            on_too_long: case.on_too_long.clone(),
            raw_left: 0,
            pushes_left: PUSH_BACK_BUDGET,
        }
    }

    fn raw_mode(&mut self, lines: &mut impl Steer, count: usize) {
        if lines.to_raw_mode() {
            self.raw_left = count;
        } else {
            self.events.push(Event::RawRefused);
        }
    }

    fn push_back(&mut self, lines: &mut impl Steer, text: &[u8]) {
        if self.pushes_left == 0 {
            return;
        }
        self.pushes_left -= 1;
        let extra = expand(text, &lines.delimiter_bytes());
        lines.to_line_mode(Bytes::from(extra));
    }

    fn line(&mut self, lines: &mut impl Steer, line: &[u8]) {
        self.events.push(Event::Line(line.to_vec()));
        if !self.obeys {
            return;
        }
        if let Some(count) = line.strip_prefix(b"raw") {
            self.raw_mode(lines, leading_number(count));
        } else if let Some(text) = line.strip_prefix(b"push") {
            self.push_back(lines, text);
        } else if let Some(text) = line.strip_prefix(b"echo") {
            lines.write_line(text);
        } else if line == b"close" {
            lines.close();
        }
    }

    fn raw(&mut self, lines: &mut impl Steer, mut data: Bytes) {
        let taken = data.split_to(self.raw_left.min(data.len()));
        self.raw_left -= taken.len();
        self.events.push(Event::Raw(taken.to_vec()));
        if self.raw_left == 0 {
            lines.to_line_mode(data);
        }
    }

    fn too_long(&mut self, lines: &mut impl Steer, partial: Bytes) {
        self.events.push(Event::Exceeded(partial.to_vec()));
        match self.on_too_long.clone() {
            OnTooLong::Close => lines.close(),
            OnTooLong::KeepOpen => {}
            OnTooLong::PushBack(text) => self.push_back(lines, &text),
            OnTooLong::Raw(count) => self.raw_mode(lines, count),
        }
    }
}

impl LineHandler for Script {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        self.line(lines, &line);
    }

    fn raw_data_received(&mut self, lines: &mut LineContext<'_>, data: Bytes) {
        self.raw(lines, data);
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_>, partial: Bytes) {
        self.too_long(lines, partial);
    }
}

/// Joins adjacent raw events.
fn join_raw(events: Vec<Event>) -> Vec<Event> {
    let mut joined: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        match (joined.last_mut(), event) {
            (Some(Event::Raw(before)), Event::Raw(more)) => before.extend_from_slice(&more),
            (_, event) => joined.push(event),
        }
    }
    joined
}

/// Feeds `chunks` to a new receiver of `kind` through a `TestConnection`.
fn run_receiver(kind: Kind, case: &Case<'_>, chunks: &[&[u8]]) -> Outcome {
    match kind {
        Kind::LineReceiver => run_protocol(
            LineReceiver::new(Script::new(case))
                .with_delimiter(case.delimiter.clone())
                .with_max_length(case.max_length),
            chunks,
            |receiver| &receiver.handler().events,
        ),
        Kind::LineOnlyReceiver => run_protocol(
            LineOnlyReceiver::new(Script::new(case))
                .with_delimiter(case.delimiter.clone())
                .with_max_length(case.max_length),
            chunks,
            |receiver| &receiver.handler().events,
        ),
    }
}

fn run_protocol<P: Protocol>(
    protocol: P,
    chunks: &[&[u8]],
    events: impl Fn(&P) -> &Vec<Event>,
) -> Outcome {
    let mut connection = TestConnection::new(protocol);
    for chunk in chunks {
        connection.receive(chunk);
    }
    Outcome {
        events: join_raw(events(connection.protocol()).clone()),
        written: connection.written().to_vec(),
        closing: connection.is_closing(),
    }
}

/// The framer copy's side of [`Steer`], as `LineContext` does it.
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

/// Feeds `chunks` to the framer copy, delivering events as the receivers' dispatcher
/// does, and checks the buffer bound after every chunk.
fn run_framer(kind: Kind, case: &Case<'_>, chunks: &[&[u8]]) -> Outcome {
    let mut framer = LineFramer::new(Bytes::from(case.delimiter.clone()), case.max_length);
    let bound = case.max_length + case.delimiter.len() - 1;
    let mut script = Script::new(case);
    let mut written = Vec::new();
    let mut closing = false;
    for chunk in chunks {
        // A connection stops reading once the protocol asked to close.
        if chunk.is_empty() || closing {
            continue;
        }
        framer.push(Bytes::copy_from_slice(chunk));
        while !closing {
            let Some(event) = framer.next_lent_event() else {
                break;
            };
            // A line found whole in the chunk comes as its range there, as the receivers'
            // dispatcher gets it.
            let line = match &event {
                LentEvent::Line(LineSource::Chunk(range)) => {
                    Some(framer.chunk().slice(range.clone()))
                }
                LentEvent::Line(LineSource::Assembled(line)) => Some(line.clone()),
                LentEvent::Raw(_) | LentEvent::TooLong(_) => None,
            };
            let mut lines = Mirror {
                framer: &mut framer,
                raw_allowed: kind == Kind::LineReceiver,
                written: &mut written,
                closing: &mut closing,
            };
            match (event, line) {
                (_, Some(line)) => script.line(&mut lines, &line),
                (LentEvent::Raw(data), None) => script.raw(&mut lines, data),
                (LentEvent::TooLong(partial), None) => script.too_long(&mut lines, partial),
                (LentEvent::Line(_), None) => unreachable!("a line event without its line"),
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

/// Whether `rest` (holding no delimiter) could still become a line of at most `max`
/// bytes: some delimiter prefix starting at or before `max` runs to its end.
fn still_viable(rest: &[u8], delimiter: &[u8], max: usize) -> bool {
    (0..=max.min(rest.len())).any(|start| delimiter.starts_with(&rest[start..]))
}

/// `text` with every `|` replaced by `delimiter`.
fn expand(text: &[u8], delimiter: &[u8]) -> Vec<u8> {
    let mut expanded = Vec::with_capacity(text.len());
    for &byte in text {
        match byte {
            b'|' => expanded.extend_from_slice(delimiter),
            byte => expanded.push(byte),
        }
    }
    expanded
}

/// The number made of the first (up to two) ASCII digits of `text`; 0 if none.
fn leading_number(text: &[u8]) -> usize {
    text.iter()
        .take(2)
        .take_while(|byte| byte.is_ascii_digit())
        .fold(0, |number, byte| number * 10 + usize::from(byte - b'0'))
}

/// Whether [`model`] covers `case`: not when a line of bytes pushed back from an over-long
/// line could switch to raw mode, which ends the rest of that over-long line's discard
/// too (every byte is delivered in raw mode), a case the model leaves out.
fn modelled(case: &Case<'_>) -> bool {
    match &case.on_too_long {
        OnTooLong::PushBack(text) if case.obeys => !expand(text, &case.delimiter).contains(&b'r'),
        _ => true,
    }
}

/// What a receiver of a [`Script`] does with the whole stream at once: lines and over-long
/// lines by the framing rules, commands and reactions as the script says. Bytes pushed
/// back from an over-long line replace it, delimiter included; raw mode switched on for
/// an over-long line starts after the byte that failed it. The same model as
/// `script_model` in `protocols/tests/framing_properties.rs`.
fn model(case: &Case<'_>, raw_allowed: bool) -> Outcome {
    let (delimiter, max) = (&case.delimiter[..], case.max_length);
    let mut events = Vec::new();
    let mut written = Vec::new();
    let mut pushes_left = PUSH_BACK_BUDGET;
    let mut rest = case.stream.to_vec();
    let mut push_back = |rest: &mut Vec<u8>, text: &[u8]| {
        if pushes_left > 0 {
            pushes_left -= 1;
            rest.splice(0..0, expand(text, delimiter));
        }
    };
    let closing = loop {
        let found = rest
            .windows(delimiter.len())
            .position(|window| window == delimiter);
        if let Some(end) = found.filter(|&end| end <= max) {
            let line: Vec<u8> = rest.drain(..end + delimiter.len()).take(end).collect();
            events.push(Event::Line(line.clone()));
            if !case.obeys {
                continue;
            }
            if let Some(count) = line.strip_prefix(b"raw") {
                if !raw_allowed {
                    events.push(Event::RawRefused);
                } else if !rest.is_empty() {
                    let taken = leading_number(count).min(rest.len());
                    events.push(Event::Raw(rest.drain(..taken).collect()));
                }
            } else if let Some(text) = line.strip_prefix(b"push") {
                push_back(&mut rest, text);
            } else if let Some(text) = line.strip_prefix(b"echo") {
                written.extend_from_slice(text);
                written.extend_from_slice(delimiter);
            } else if line == b"close" {
                break true;
            }
            continue;
        }
        // No line ends within the limit: the line fails at its first byte that leaves it
        // no way to become one, or is still unfinished when the stream ends.
        let fails_at =
            (max + 1..=rest.len()).find(|&length| !still_viable(&rest[..length], delimiter, max));
        let Some(fails_at) = fails_at else {
            break false;
        };
        events.push(Event::Exceeded(rest[..max].to_vec()));
        let line_end = found.map_or(rest.len(), |end| end + delimiter.len());
        match &case.on_too_long {
            OnTooLong::Close => break true,
            OnTooLong::KeepOpen => {
                rest.drain(..line_end);
            }
            OnTooLong::PushBack(text) => {
                rest.drain(..line_end);
                push_back(&mut rest, text);
            }
            OnTooLong::Raw(count) if raw_allowed => {
                rest.drain(..fails_at);
                if !rest.is_empty() {
                    let taken = (*count).min(rest.len());
                    events.push(Event::Raw(rest.drain(..taken).collect()));
                }
            }
            OnTooLong::Raw(_) => {
                events.push(Event::RawRefused);
                rest.drain(..line_end);
            }
        }
    };
    Outcome {
        events,
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

    let copy = run_framer(kind, &case, &chunks);
    assert_eq!(
        copy, chunked,
        "the framer copy differs from the receiver ({case:?})"
    );

    if modelled(&case) {
        let expected = model(&case, kind == Kind::LineReceiver);
        assert_eq!(whole, expected, "the model differs ({case:?})");
    }
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
