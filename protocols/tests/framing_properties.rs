//! Property tests of the line framing through the public API: for generated streams,
//! delimiters, limits and handler behaviour, `LineReceiver` and `LineOnlyReceiver` see the
//! same events however the stream is chunked, and the events two reference models predict
//! from the whole stream: the plain one of `common/model.rs` (a handler that only records)
//! and the script one of `common/script.rs` (a handler that switches modes, pushes back,
//! writes, closes).
//!
//! Inputs are built from pieces that make the interesting cases likely: the delimiter and
//! its prefixes, lines just under, at and over `max_length`, long lines whose discard spans
//! chunks, and command lines that make the handler switch to raw mode, push bytes back,
//! write or close. The buffer bound needs crate-private access: `src/framer_properties.rs`.
//!
//! Case counts are kept small so the whole run takes well under a second per property;
//! `PROPTEST_CASES=100000 cargo test -p torsade-protocols --test framing_properties` runs
//! more. A failing case is saved to `proptest-regressions/framing_properties.txt` (beside
//! `Cargo.toml`); commit that file and the case is replayed first on every later run.

mod common;

use common::model::{model, model_any_line_ending};
use common::script::{script_model, OnTooLong, Script};
use common::{run, Event, Outcome};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::FileFailurePersistence;
use torsade::Protocol;
use torsade_protocols::{LineOnlyReceiver, LineReceiver};

/// The configuration of every property here: `cases` cases unless `PROPTEST_CASES` says
/// otherwise, failures persisted beside `Cargo.toml` (a path that does not depend on the
/// directory the tests run in).
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/framing_properties.txt"
    ))));
    config
}

/// The receivers under test, built the same way.
trait Receiver: Protocol + Sized {
    fn build(handler: Script, delimiter: &[u8], max_length: usize) -> Self;
    fn script(&self) -> &Script;
}

impl Receiver for LineReceiver<Script> {
    fn build(handler: Script, delimiter: &[u8], max_length: usize) -> Self {
        LineReceiver::new(handler)
            .with_delimiter(delimiter.to_vec())
            .with_max_length(max_length)
    }

    fn script(&self) -> &Script {
        self.handler()
    }
}

impl Receiver for LineOnlyReceiver<Script> {
    fn build(handler: Script, delimiter: &[u8], max_length: usize) -> Self {
        LineOnlyReceiver::new(handler)
            .with_delimiter(delimiter.to_vec())
            .with_max_length(max_length)
    }

    fn script(&self) -> &Script {
        self.handler()
    }
}

/// Feeds `chunks` to a new receiver `R` and returns what happened (raw events joined).
fn feed<R: Receiver>(
    chunks: &[&[u8]],
    delimiter: &[u8],
    max_length: usize,
    obeys: bool,
    on_too_long: &OnTooLong,
) -> Outcome {
    let receiver = R::build(
        Script::new(obeys, on_too_long.clone()),
        delimiter,
        max_length,
    );
    run(receiver, chunks, &|receiver: &R| {
        receiver.script().events.clone()
    })
}

/// How a stream is cut into chunks.
#[derive(Debug, Clone)]
enum Split {
    /// At these points (each an index into the stream's length plus one).
    Cuts(Vec<Index>),
    /// Into chunks of this many bytes.
    Every(usize),
}

impl Split {
    fn apply<'a>(&self, input: &'a [u8]) -> Vec<&'a [u8]> {
        match self {
            Split::Every(size) => input.chunks(*size).collect(),
            Split::Cuts(cuts) => {
                let mut points: Vec<usize> =
                    cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
                points.push(input.len());
                points.sort_unstable();
                let mut chunks = Vec::with_capacity(points.len());
                let mut start = 0;
                for point in points {
                    chunks.push(&input[start..point]);
                    start = point;
                }
                chunks
            }
        }
    }
}

fn split() -> impl Strategy<Value = Split> {
    prop_oneof![
        4 => vec(any::<Index>(), 0..12).prop_map(Split::Cuts),
        1 => (1usize..=4).prop_map(Split::Every),
    ]
}

/// Delimiters: the usual ones, self-overlapping ones, and arbitrary short ones over the
/// bytes the streams are made of.
fn delimiter() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"\r\n".to_vec()),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"+++".to_vec()),
        1 => Just(b"a+a".to_vec()),
        1 => Just(b"aab".to_vec()),
        1 => Just(b"\r\n\r\n".to_vec()),
        2 => vec(select(&b"ab+\r\n"[..]), 1..=4),
    ]
}

/// The bytes streams are made of, besides whole pieces.
const ALPHABET: &[u8] = b"abx+\r\n|";

/// Command lines a [`Script`] obeys (the delimiter is added by [`piece`]).
fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0usize..20).prop_map(|count| format!("raw{count}").into_bytes()),
        Just(b"raw".to_vec()),
        vec(select(&b"abx+|"[..]), 0..12).prop_map(|text| [&b"push"[..], &text].concat()),
        Just(b"pushraw3|abc".to_vec()),
        vec(select(&b"ab"[..]), 0..4).prop_map(|text| [&b"echo"[..], &text].concat()),
        Just(b"close".to_vec()),
    ]
}

/// One piece of a stream for `delimiter` and `max`; commands only when `commands`.
fn piece(delimiter: Vec<u8>, max: usize, commands: bool) -> BoxedStrategy<Vec<u8>> {
    let with = |body: Vec<u8>, end: &[u8]| [&body[..], end].concat();
    let near_max = max.saturating_sub(2)..=max + 2;
    let full = delimiter.clone();
    let prefix = delimiter.clone();
    let after_line = delimiter.clone();
    let after_long = delimiter.clone();
    let after_command = delimiter.clone();
    let pieces = prop_oneof![
        4 => vec(select(ALPHABET), 1..6),
        3 => Just(full),
        1 => (0..delimiter.len()).prop_map(move |length| prefix[..length].to_vec()),
        // A line near the limit, complete, or unfinished (its delimiter may follow later).
        2 => (near_max, any::<bool>()).prop_map(move |(length, complete)| {
            let end: &[u8] = if complete { &after_line } else { b"" };
            with(vec![b'x'; length], end)
        }),
        // An over-long line, long enough for its discard to span chunks.
        1 => (max + 1..=3 * max + 8).prop_map(move |length| with(vec![b'x'; length], &after_long)),
    ];
    if commands {
        prop_oneof![
            5 => pieces,
            1 => command().prop_map(move |command| with(command, &after_command)),
        ]
        .boxed()
    } else {
        pieces.boxed()
    }
}

/// A delimiter, a limit from 0 to 16, and a stream for them.
fn stream(commands: bool) -> impl Strategy<Value = (Vec<u8>, usize, Vec<u8>)> {
    (delimiter(), 0usize..=16).prop_flat_map(move |(delimiter, max)| {
        let input =
            vec(piece(delimiter.clone(), max, commands), 0..24).prop_map(|pieces| pieces.concat());
        (Just(delimiter), Just(max), input)
    })
}

fn on_too_long() -> impl Strategy<Value = OnTooLong> {
    prop_oneof![
        Just(OnTooLong::Close),
        Just(OnTooLong::KeepOpen),
        vec(select(&b"abx+|"[..]), 0..24).prop_map(OnTooLong::PushBack),
        // At least one byte: see `OnTooLong::Raw`.
        (1usize..12).prop_map(OnTooLong::Raw),
    ]
}

/// Asserts that `R` sees the same outcome for `input` fed in the chunks of `split` as fed
/// whole.
fn same_as_whole<R: Receiver>(
    (delimiter, max, input): (Vec<u8>, usize, Vec<u8>),
    on_too_long: OnTooLong,
    split: Split,
) -> Result<(), TestCaseError> {
    let whole = feed::<R>(&[&input], &delimiter, max, true, &on_too_long);
    let chunks = split.apply(&input);
    let chunked = feed::<R>(&chunks, &delimiter, max, true, &on_too_long);
    prop_assert_eq!(&chunked, &whole, "fed as {:?}", chunks);
    Ok(())
}

/// Asserts that `R`, with a handler that only records, sees what the model predicts.
fn as_the_model<R: Receiver>(
    (delimiter, max, input): (Vec<u8>, usize, Vec<u8>),
    keep_open: bool,
    split: Split,
) -> Result<(), TestCaseError> {
    let on_too_long = if keep_open {
        OnTooLong::KeepOpen
    } else {
        OnTooLong::Close
    };
    let chunks = split.apply(&input);
    let outcome = feed::<R>(&chunks, &delimiter, max, false, &on_too_long);
    let expected = model(&input, &delimiter, max, keep_open);
    let closed = expected
        .iter()
        .any(|event| matches!(event, Event::Exceeded(_)))
        && !keep_open;
    prop_assert_eq!(&outcome.events, &expected, "fed as {:?}", chunks);
    prop_assert_eq!(outcome.closing, closed);
    prop_assert!(outcome.written.is_empty());
    Ok(())
}

/// Asserts that `R`, with a handler that obeys, sees what [`script_model`] predicts.
fn as_the_script_model<R: Receiver>(
    (delimiter, max, input): (Vec<u8>, usize, Vec<u8>),
    on_too_long: OnTooLong,
    split: Split,
    raw_allowed: bool,
) -> Result<(), TestCaseError> {
    let chunks = split.apply(&input);
    let outcome = feed::<R>(&chunks, &delimiter, max, true, &on_too_long);
    let expected = script_model(&input, &delimiter, max, raw_allowed, true, &on_too_long);
    prop_assert_eq!(&outcome, &expected, "fed as {:?}", chunks);
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn line_receiver_sees_the_same_events_however_the_stream_is_chunked(
        stream in stream(true),
        on_too_long in on_too_long(),
        split in split(),
    ) {
        same_as_whole::<LineReceiver<Script>>(stream, on_too_long, split)?;
    }

    #[test]
    fn line_only_receiver_sees_the_same_events_however_the_stream_is_chunked(
        stream in stream(true),
        on_too_long in on_too_long(),
        split in split(),
    ) {
        same_as_whole::<LineOnlyReceiver<Script>>(stream, on_too_long, split)?;
    }

    #[test]
    fn line_receiver_sees_what_the_reference_model_predicts(
        stream in stream(false),
        keep_open in any::<bool>(),
        split in split(),
    ) {
        as_the_model::<LineReceiver<Script>>(stream, keep_open, split)?;
    }

    #[test]
    fn line_only_receiver_sees_what_the_reference_model_predicts(
        stream in stream(false),
        keep_open in any::<bool>(),
        split in split(),
    ) {
        as_the_model::<LineOnlyReceiver<Script>>(stream, keep_open, split)?;
    }

    #[test]
    fn any_line_ending_sees_what_its_model_predicts_however_the_stream_is_chunked(
        (_, max, input) in stream(false),
        keep_open in any::<bool>(),
        split in split(),
    ) {
        let on_too_long = if keep_open { OnTooLong::KeepOpen } else { OnTooLong::Close };
        let chunks = split.apply(&input);
        let receiver = LineOnlyReceiver::new(Script::new(false, on_too_long))
            .with_max_length(max)
            .with_any_line_ending();
        let outcome = run(receiver, &chunks, &|receiver: &LineOnlyReceiver<Script>| {
            receiver.script().events.clone()
        });
        prop_assert_eq!(
            &outcome.events,
            &model_any_line_ending(&input, max, keep_open),
            "fed as {:?}",
            chunks
        );
    }

    #[test]
    fn line_receiver_obeys_its_handler_as_the_script_model_predicts(
        stream in stream(true),
        on_too_long in on_too_long(),
        split in split(),
    ) {
        as_the_script_model::<LineReceiver<Script>>(stream, on_too_long, split, true)?;
    }

    #[test]
    fn line_only_receiver_obeys_its_handler_as_the_script_model_predicts(
        stream in stream(true),
        on_too_long in on_too_long(),
        split in split(),
    ) {
        as_the_script_model::<LineOnlyReceiver<Script>>(stream, on_too_long, split, false)?;
    }
}

/// The commands of a [`Script`] do what the properties rely on: without this, a typo in a
/// command would leave the chunking properties testing plain lines only.
#[test]
fn script_commands_switch_modes_push_back_write_and_close() {
    let input = b"raw3\nabcdef\npushx|y|\necho1\nclose\nlost\n";
    let outcome = feed::<LineReceiver<Script>>(&[input], b"\n", 8, true, &OnTooLong::Close);
    assert_eq!(
        outcome.events,
        [
            Event::Line(b"raw3".to_vec()),
            Event::Raw(b"abc".to_vec()),
            Event::Line(b"def".to_vec()),
            Event::Line(b"pushx|y|".to_vec()),
            Event::Line(b"x".to_vec()),
            Event::Line(b"y".to_vec()),
            Event::Line(b"echo1".to_vec()),
            Event::Line(b"close".to_vec()),
        ]
    );
    assert_eq!(outcome.written, b"1\n");
    assert!(outcome.closing);

    let outcome = feed::<LineOnlyReceiver<Script>>(
        &[b"raw2\nab\nxxxxxxxxxxx\nok\n"],
        b"\n",
        4,
        true,
        &OnTooLong::Raw(1),
    );
    assert_eq!(
        outcome.events,
        [
            Event::Line(b"raw2".to_vec()),
            Event::RawRefused,
            Event::Line(b"ab".to_vec()),
            Event::Exceeded(b"xxxx".to_vec()),
            Event::RawRefused,
            Event::Line(b"ok".to_vec()),
        ]
    );
}
