//! The script reference model of line framing: a handler that obeys command lines
//! ([`Script`]) and what a receiver of it does with a whole stream at once
//! ([`script_model`]). Shared by `tests/framing_properties.rs` and the fuzz crate
//! (`fuzz/src/lib.rs` compiles this file with `#[path]`), so it needs std, `bytes`,
//! `torsade` and `torsade_protocols` only.

use bytes::Bytes;
use torsade::Transport;
use torsade_protocols::{Line, LineContext, LineHandler, LineMode};

use super::model::still_viable;
use super::{Event, Outcome, RawSwitch};

/// How many times one connection's handler may push bytes back: pushed-back bytes can
/// hold an over-long line of their own, which would push back again, forever.
pub const PUSH_BACK_BUDGET: usize = 16;

/// In the pushed-back bytes of a [`Script`], this byte stands for the delimiter.
pub const DELIMITER_MARK: u8 = b'|';

/// What a [`Script`] does with an over-long line.
#[derive(Debug, Clone)]
pub enum OnTooLong {
    /// Close the connection (the default hook).
    Close,
    /// Keep it open: the rest of the line is discarded.
    KeepOpen,
    /// Push these bytes back with `set_line_mode` (`|` stands for the delimiter).
    PushBack(Vec<u8>),
    /// Switch to raw mode for this many bytes (the rest of the over-long line comes raw),
    /// then back to lines. At least 1: with `max_length` 0 an over-long line's report
    /// takes no byte, and a handler that took none either would see the same line fail
    /// for ever (as one that always pushes back everything would).
    Raw(usize),
}

/// What a [`Script`] may do to its receiver: implemented here by `LineContext`, and by the
/// fuzz crate's driver of its framer copy, so one [`Script`] drives both.
pub trait Steer {
    /// The receiver's delimiter.
    fn delimiter_bytes(&self) -> Vec<u8>;
    /// Asks for raw mode; whether it was granted.
    fn to_raw_mode(&mut self) -> bool;
    /// Back to line mode, `extra` parsed first.
    fn to_line_mode(&mut self, extra: Bytes);
    /// Sends `line` followed by the delimiter.
    fn write_line(&mut self, line: &[u8]);
    /// Closes the connection.
    fn close(&mut self);
}

impl<M> Steer for LineContext<'_, M>
where
    Self: RawSwitch,
{
    fn delimiter_bytes(&self) -> Vec<u8> {
        self.delimiter().to_vec()
    }

    fn to_raw_mode(&mut self) -> bool {
        self.try_raw_mode()
    }

    fn to_line_mode(&mut self, extra: Bytes) {
        self.set_line_mode(extra);
    }

    fn write_line(&mut self, line: &[u8]) {
        self.send_line(line);
    }

    fn close(&mut self) {
        self.lose_connection();
    }
}

/// A line handler that records its events and, when `obeys`, obeys command lines:
/// `rawN` (take N raw bytes, N of up to two digits, none meaning 0, then back to lines),
/// `pushTEXT` (push TEXT back, `|` standing for the delimiter), `echoTEXT` (send a line),
/// `close`.
#[derive(Debug)]
pub struct Script {
    /// What it saw, in order.
    pub events: Vec<Event>,
    /// Whether it obeys command lines (otherwise it only records them).
    obeys: bool,
    /// Its reaction to an over-long line.
    on_too_long: OnTooLong,
    /// Raw bytes still to take before going back to lines.
    raw_left: usize,
    /// Push-backs left of [`PUSH_BACK_BUDGET`].
    pushes_left: usize,
}

impl Script {
    /// A script that has seen nothing yet.
    pub fn new(obeys: bool, on_too_long: OnTooLong) -> Script {
        Script {
            events: Vec::new(),
            obeys,
            on_too_long,
            raw_left: 0,
            pushes_left: PUSH_BACK_BUDGET,
        }
    }

    /// Switches to raw mode for `count` bytes, or records the refusal.
    fn raw_mode(&mut self, lines: &mut impl Steer, count: usize) {
        if lines.to_raw_mode() {
            self.raw_left = count;
        } else {
            self.events.push(Event::RawRefused);
        }
    }

    /// Pushes `text` back (`|` expanded), while the budget lasts.
    fn push_back(&mut self, lines: &mut impl Steer, text: &[u8]) {
        if self.pushes_left == 0 {
            return;
        }
        self.pushes_left -= 1;
        let extra = expand(text, &lines.delimiter_bytes());
        lines.to_line_mode(Bytes::from(extra));
    }

    /// `line_received`: records `line` and obeys it if it is a command.
    pub fn line(&mut self, lines: &mut impl Steer, line: &[u8]) {
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

    /// `raw_data_received`: takes what raw mode still wants, hands the rest back to lines.
    pub fn raw(&mut self, lines: &mut impl Steer, mut data: Bytes) {
        let taken = data.split_to(self.raw_left.min(data.len()));
        self.raw_left -= taken.len();
        self.events.push(Event::Raw(taken.to_vec()));
        if self.raw_left == 0 {
            lines.to_line_mode(data);
        }
    }

    /// `line_length_exceeded`: records `partial` and reacts as [`OnTooLong`] says.
    pub fn too_long(&mut self, lines: &mut impl Steer, partial: Bytes) {
        self.events.push(Event::Exceeded(partial.to_vec()));
        match self.on_too_long.clone() {
            OnTooLong::Close => lines.close(),
            OnTooLong::KeepOpen => {}
            OnTooLong::PushBack(text) => self.push_back(lines, &text),
            OnTooLong::Raw(count) => self.raw_mode(lines, count),
        }
    }
}

impl<M: LineMode> LineHandler<M> for Script
where
    for<'a> LineContext<'a, M>: RawSwitch,
{
    fn line_received(&mut self, lines: &mut LineContext<'_, M>, line: Line<'_>) {
        self.line(lines, &line);
    }

    fn raw_data_received(&mut self, lines: &mut LineContext<'_, M>, data: Bytes) {
        self.raw(lines, data);
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_, M>, partial: Bytes) {
        self.too_long(lines, partial);
    }
}

/// `text` with every `|` replaced by `delimiter`.
pub fn expand(text: &[u8], delimiter: &[u8]) -> Vec<u8> {
    let mut expanded = Vec::with_capacity(text.len());
    for &byte in text {
        if byte == DELIMITER_MARK {
            expanded.extend_from_slice(delimiter);
        } else {
            expanded.push(byte);
        }
    }
    expanded
}

/// The number made of the first (up to two) ASCII digits of `text`; 0 if none.
pub fn leading_number(text: &[u8]) -> usize {
    text.iter()
        .take(2)
        .take_while(|byte| byte.is_ascii_digit())
        .fold(0, |number, byte| number * 10 + usize::from(byte - b'0'))
}

/// What a receiver of a [`Script`] (obeying commands when `obeys`, reacting to over-long
/// lines as `on_too_long` says) does with `input`, worked out on the whole stream at
/// once: lines and over-long lines by the framing rules, commands and reactions as the
/// script says. Bytes pushed back from `line_length_exceeded` (if any) take the stream
/// back: they are parsed, then everything after the over-long line's first `max` bytes,
/// with nothing discarded. Raw mode switched on from `line_length_exceeded` starts right
/// after those `max` bytes too.
pub fn script_model(
    input: &[u8],
    delimiter: &[u8],
    max: usize,
    raw_allowed: bool,
    obeys: bool,
    on_too_long: &OnTooLong,
) -> Outcome {
    let mut events = Vec::new();
    let mut written = Vec::new();
    let mut pushes_left = PUSH_BACK_BUDGET;
    let mut rest = input.to_vec();
    // Pushes `text` back while the budget lasts; whether any bytes were pushed back.
    let mut push_back = |rest: &mut Vec<u8>, text: &[u8]| {
        if pushes_left == 0 {
            return false;
        }
        pushes_left -= 1;
        let extra = expand(text, delimiter);
        let pushed = !extra.is_empty();
        rest.splice(0..0, extra);
        pushed
    };
    let closing = loop {
        let found = rest
            .windows(delimiter.len())
            .position(|window| window == delimiter);
        if let Some(end) = found.filter(|&end| end <= max) {
            let line: Vec<u8> = rest.drain(..end + delimiter.len()).take(end).collect();
            events.push(Event::Line(line.clone()));
            if !obeys {
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
                let _ = push_back(&mut rest, text);
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
        let fails =
            (max + 1..=rest.len()).any(|length| !still_viable(&rest[..length], delimiter, max));
        if !fails {
            break false;
        }
        events.push(Event::Exceeded(rest[..max].to_vec()));
        let line_end = found.map_or(rest.len(), |end| end + delimiter.len());
        match on_too_long {
            OnTooLong::Close => break true,
            OnTooLong::KeepOpen => {
                rest.drain(..line_end);
            }
            OnTooLong::PushBack(text) => {
                // The report's bytes are gone either way; the rest of the line stays
                // only if something was pushed back in front of it.
                rest.drain(..max);
                if !push_back(&mut rest, text) {
                    rest.drain(..line_end - max);
                }
            }
            OnTooLong::Raw(count) if raw_allowed => {
                rest.drain(..max);
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
