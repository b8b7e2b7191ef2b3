//! Shared helpers: a line handler that records what it sees, a chunking sweep that feeds
//! the same input split every way, and reference models of the framing (`model`, a handler
//! that only records; `script`, one that obeys commands). The fuzz crate compiles this
//! module too (`#[path]` in `fuzz/src/lib.rs`), so it and its
//! submodules need std, `bytes`, `torsade` and `torsade_protocols` only.
#![allow(dead_code)]

pub mod model;
pub mod script;

use bytes::Bytes;
use torsade::testing::TestConnection;
use torsade::{Protocol, Transport};
use torsade_protocols::{
    Line, LineContext, LineHandler, LineMode, LineOnlyReceiver, LineReceiver, LinesOnly,
    WithRawMode,
};

/// What a [`Recorder`] (or a [`script::Script`]) saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `line_received`.
    Line(Vec<u8>),
    /// `raw_data_received` (the bytes the handler consumed as raw).
    Raw(Vec<u8>),
    /// `line_length_exceeded`.
    Exceeded(Vec<u8>),
    /// What `clear_line_buffer` returned.
    Cleared(Vec<u8>),
    /// Raw mode was asked for under a receiver without one.
    RawRefused,
}

/// What a [`Recorder`] does with an over-long line.
#[derive(Debug, Clone, Default)]
pub enum OnExceeded {
    /// The default hook: close the connection.
    #[default]
    Close,
    /// Keep the connection open.
    KeepOpen,
    /// Keep it open and push these bytes back with `set_line_mode`.
    PushBack(&'static [u8]),
    /// Keep it open and push back the reported bytes from this index on.
    PushBackFrom(usize),
}

/// What the two modes do differently, for handlers that serve both: a request for raw
/// mode is granted ([`WithRawMode`]) or refused ([`LinesOnly`]).
pub trait RawSwitch {
    /// Switches to raw mode if the receiver has one; whether it did.
    fn try_raw_mode(&mut self) -> bool;
}

impl RawSwitch for LineContext<'_, LinesOnly> {
    fn try_raw_mode(&mut self) -> bool {
        false
    }
}

impl RawSwitch for LineContext<'_, WithRawMode> {
    fn try_raw_mode(&mut self) -> bool {
        self.set_raw_mode();
        true
    }
}

/// A line handler that records its events and obeys commands sent as lines:
/// `raw:N` (take N raw bytes, then back to lines), `close`, `clear`, `echo:TEXT`.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Vec<Event>,
    pub on_exceeded: OnExceeded,
    raw_left: usize,
}

impl Recorder {
    pub fn new(on_exceeded: OnExceeded) -> Recorder {
        Recorder {
            on_exceeded,
            ..Recorder::default()
        }
    }
}

impl<M: LineMode> LineHandler<M> for Recorder
where
    for<'a> LineContext<'a, M>: RawSwitch,
{
    fn line_received(&mut self, lines: &mut LineContext<'_, M>, line: Line<'_>) {
        self.events.push(Event::Line(line.to_vec()));
        if let Some(count) = line.strip_prefix(b"raw:") {
            let count: usize = std::str::from_utf8(count).unwrap().parse().unwrap();
            if lines.try_raw_mode() {
                self.raw_left = count;
            } else {
                self.events.push(Event::RawRefused);
            }
        } else if let Some(text) = line.strip_prefix(b"echo:") {
            lines.send_line(text);
        } else if &line[..] == b"close" {
            lines.lose_connection();
        } else if &line[..] == b"clear" {
            let cleared = lines.clear_line_buffer();
            self.events.push(Event::Cleared(cleared.to_vec()));
        }
    }

    fn raw_data_received(&mut self, lines: &mut LineContext<'_, M>, mut data: Bytes) {
        let taken = data.split_to(self.raw_left.min(data.len()));
        self.raw_left -= taken.len();
        self.events.push(Event::Raw(taken.to_vec()));
        if self.raw_left == 0 {
            lines.set_line_mode(data);
        }
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_, M>, partial: Bytes) {
        self.events.push(Event::Exceeded(partial.to_vec()));
        match self.on_exceeded.clone() {
            OnExceeded::Close => lines.lose_connection(),
            OnExceeded::KeepOpen => {}
            OnExceeded::PushBack(extra) => lines.set_line_mode(Bytes::from_static(extra)),
            OnExceeded::PushBackFrom(from) => lines.set_line_mode(partial.slice(from..)),
        }
    }
}

/// A receiver whose handler is a [`Recorder`].
pub trait Recording: Protocol {
    fn recorded(&self) -> Vec<Event>;
}

impl Recording for LineReceiver<Recorder> {
    fn recorded(&self) -> Vec<Event> {
        self.handler().events.clone()
    }
}

impl Recording for LineOnlyReceiver<Recorder> {
    fn recorded(&self) -> Vec<Event> {
        self.handler().events.clone()
    }
}

/// Everything observable after feeding a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Events, with adjacent raw chunks joined (raw chunking follows the network's).
    pub events: Vec<Event>,
    pub written: Vec<u8>,
    pub closing: bool,
}

/// Feeds `chunks` to a new connection of `protocol`.
pub fn run<P: Protocol>(
    protocol: P,
    chunks: &[&[u8]],
    events: &impl Fn(&P) -> Vec<Event>,
) -> Outcome {
    let mut connection = TestConnection::new(protocol);
    for chunk in chunks {
        connection.receive(chunk);
    }
    let events = join_raw(events(&connection.protocol()));
    Outcome {
        events,
        written: connection.written().to_vec(),
        closing: connection.is_closing(),
    }
}

/// Joins adjacent `Raw` events.
pub fn join_raw(events: Vec<Event>) -> Vec<Event> {
    let mut joined: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        match (joined.last_mut(), event) {
            (Some(Event::Raw(before)), Event::Raw(more)) => before.extend_from_slice(&more),
            (_, event) => joined.push(event),
        }
    }
    joined
}

/// Every way the sweep splits `input`: whole; in two at every point; one byte at a time
/// and in chunks of 2 to 10 bytes; and, for short inputs, in three at every pair of points.
pub fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![input]];
    for split in 0..=input.len() {
        let (first, second) = input.split_at(split);
        all.push(vec![first, second]);
    }
    for size in 1..=10 {
        all.push(input.chunks(size).collect());
    }
    if input.len() <= 48 {
        for first in 1..input.len() {
            for second in first + 1..input.len() {
                all.push(vec![
                    &input[..first],
                    &input[first..second],
                    &input[second..],
                ]);
            }
        }
    }
    all
}

/// Feeds `input` to fresh protocols from `build` in every chunking, asserts the outcomes
/// are identical, and returns it.
pub fn same_for_every_chunking<P: Protocol>(
    build: impl Fn() -> P,
    events: impl Fn(&P) -> Vec<Event>,
    input: &[u8],
) -> Outcome {
    let expected = run(build(), &[input], &events);
    for chunks in chunkings(input) {
        let outcome = run(build(), &chunks, &events);
        assert_eq!(outcome, expected, "fed as {chunks:?}");
    }
    expected
}

/// [`same_for_every_chunking`] for a receiver of a [`Recorder`].
pub fn sweep<P: Recording>(build: impl Fn() -> P, input: &[u8]) -> Outcome {
    same_for_every_chunking(build, P::recorded, input)
}

/// Shorthand for a line event.
pub fn line(bytes: &[u8]) -> Event {
    Event::Line(bytes.to_vec())
}

/// Shorthand for a raw event.
pub fn raw(bytes: &[u8]) -> Event {
    Event::Raw(bytes.to_vec())
}

/// Shorthand for an over-long line event.
pub fn exceeded(bytes: &[u8]) -> Event {
    Event::Exceeded(bytes.to_vec())
}
