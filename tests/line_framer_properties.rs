//! Property tests of the line framer: after every chunk is parsed, the framer holds less
//! than `max_length` plus one delimiter in line mode and nothing in raw mode, whatever its
//! user did in between (mode switches, pushed-back bytes, `clear`); lines are at most
//! `max_length` long and an over-long line is reported with exactly its first
//! `max_length` bytes.
//!
//! The chunking and model properties of the line receivers built on it are in
//! `protocols/tests/framing_properties.rs`. A failing case is saved to
//! `proptest-regressions/framer_properties.txt` (beside `Cargo.toml`); commit it and it is
//! replayed first on every later run.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

use torsade::lines::{Frame, LineFramer};

#[path = "common/proptest_config.rs"]
mod proptest_config;

/// `cases` cases, failures persisted beside `Cargo.toml`.
fn config(cases: u32) -> ProptestConfig {
    proptest_config::config(
        cases,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/framer_properties.txt"
        ),
    )
}

/// What the driver does after a line or an over-long line, as a handler could.
#[derive(Debug, Clone)]
enum Reaction {
    Nothing,
    /// Switch to raw mode for this many bytes (at least one), then back to lines.
    ///
    /// Zero would push every raw byte straight back: with a limit of 0, right after an
    /// over-long line is reported, that is the same line reported again, for ever (a
    /// handler that always pushes back never stops, as `LineFramer::set_line_mode` says).
    Raw(usize),
    /// Push these bytes back with `set_line_mode` (`|` stands for the delimiter).
    PushBack(Vec<u8>),
    /// Drop everything buffered.
    Clear,
}

fn reaction() -> impl Strategy<Value = Reaction> {
    prop_oneof![
        6 => Just(Reaction::Nothing),
        1 => (1usize..12).prop_map(Reaction::Raw),
        1 => vec(select(&b"abx|"[..]), 0..24).prop_map(Reaction::PushBack),
        1 => Just(Reaction::Clear),
    ]
}

/// How many times one run may push bytes back (pushed-back bytes may hold an over-long
/// line whose reaction pushes back again).
const PUSH_BACK_BUDGET: usize = 16;

/// More events than any input here can give: a run past it loops, and fails rather than
/// hanging the test.
const EVENT_BUDGET: usize = 100_000;

/// Feeds `chunks` to a framer, reacting to the n-th line or over-long line with
/// `reactions[n % len]`, and checks the invariants after every event and every chunk.
fn check_bounds(
    framer: LineFramer,
    chunks: &[&[u8]],
    reactions: &[Reaction],
) -> Result<(), TestCaseError> {
    let mut framer = framer;
    let delimiter = framer.delimiter().clone();
    let max = framer.max_length();
    // An unfinished line that can still become a line is at most `max_length` bytes and
    // a proper prefix of the delimiter; one byte more and it would either hold a whole
    // delimiter (a line) or have failed. (`ARCHITECTURE.md` promises `max_length` plus a
    // delimiter; this is that promise, tight.)
    let bound = max + delimiter.len() - 1;
    let mut raw_left = 0;
    let mut pushes_left = PUSH_BACK_BUDGET;
    let mut reacted = 0;
    let mut events = 0;
    for (index, chunk) in chunks.iter().enumerate() {
        // Between two chunks, a handler may act too (from `pause_producing`, say): then an
        // unfinished line may be buffered, and raw mode hands it over.
        let mut between = Some(&reactions[index % reactions.len()]).filter(|_| index > 0);
        let mut chunk = Some(chunk);
        loop {
            let reaction = match between.take() {
                Some(reaction) => reaction,
                None => {
                    if let Some(chunk) = chunk.take() {
                        framer.push(Bytes::copy_from_slice(chunk));
                    }
                    let Some(event) = framer.next_frame() else {
                        break;
                    };
                    events += 1;
                    prop_assert!(
                        events < EVENT_BUDGET,
                        "the framer never settles: {framer:?}"
                    );
                    match event {
                        Frame::Raw(mut data) => {
                            prop_assert!(!data.is_empty(), "empty raw event");
                            let taken = data.split_to(raw_left.min(data.len()));
                            raw_left -= taken.len();
                            if raw_left == 0 {
                                framer.set_line_mode(data);
                            }
                            continue;
                        }
                        Frame::Line(line) => {
                            prop_assert!(line.len() <= max, "line {line:?} over {max} bytes");
                        }
                        Frame::TooLong(start) => {
                            prop_assert_eq!(start.len(), max, "reported as {:?}", start);
                        }
                    }
                    reacted += 1;
                    &reactions[(reacted - 1) % reactions.len()]
                }
            };
            match reaction {
                Reaction::Nothing => {}
                Reaction::Raw(count) => {
                    framer.set_raw_mode();
                    raw_left = *count;
                }
                Reaction::PushBack(text) if pushes_left > 0 => {
                    pushes_left -= 1;
                    let extra: Vec<u8> = text
                        .iter()
                        .flat_map(|&byte| match byte {
                            b'|' => delimiter.to_vec(),
                            byte => vec![byte],
                        })
                        .collect();
                    framer.set_line_mode(Bytes::from(extra));
                }
                Reaction::PushBack(_) => {}
                Reaction::Clear => {
                    framer.clear();
                    prop_assert_eq!(framer.buffered(), 0, "buffered after clear");
                }
            }
        }
        if framer.is_line_mode() {
            prop_assert!(
                framer.buffered() <= bound,
                "{} bytes buffered, over {max} + {} - 1 ({framer:?})",
                framer.buffered(),
                delimiter.len()
            );
        } else {
            prop_assert_eq!(framer.buffered(), 0, "raw mode kept bytes: {:?}", framer);
        }
    }
    Ok(())
}

fn delimiter() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(b"\r\n".to_vec()),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"aab".to_vec()),
        1 => Just(b"\r\n\r\n".to_vec()),
        2 => vec(select(&b"ab\r\n"[..]), 1..=4),
    ]
}

/// One piece of a stream: stray bytes, the delimiter or a prefix of it, a line near the
/// limit, or a line far over it.
fn piece(delimiter: Vec<u8>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    let full = delimiter.clone();
    let prefix = delimiter.clone();
    let after_line = delimiter.clone();
    prop_oneof![
        4 => vec(select(&b"abx\r\n"[..]), 1..6),
        3 => Just(full),
        2 => (0..delimiter.len()).prop_map(move |length| prefix[..length].to_vec()),
        2 => (max.saturating_sub(2)..=max + 2).prop_map(move |length| {
            [vec![b'x'; length], after_line.clone()].concat()
        }),
        1 => (max + 1..=4 * max + 8).prop_map(|length| vec![b'x'; length]),
    ]
}

/// A delimiter, a limit from 0 to 16, a stream for them and where to cut it.
fn stream() -> impl Strategy<Value = (Vec<u8>, usize, Vec<u8>, Vec<Index>)> {
    (delimiter(), 0usize..=16).prop_flat_map(|(delimiter, max)| {
        let input = vec(piece(delimiter.clone(), max), 0..24).prop_map(|pieces| pieces.concat());
        (
            Just(delimiter),
            Just(max),
            input,
            vec(any::<Index>(), 0..16),
        )
    })
}

/// `input` cut at `cuts`.
fn chunks<'a>(input: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let mut start = 0;
    points
        .into_iter()
        .map(|point| {
            let chunk = &input[start..point];
            start = point;
            chunk
        })
        .collect()
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn framer_buffers_less_than_max_length_and_a_delimiter(
        (delimiter, max, input, cuts) in stream(),
        reactions in vec(reaction(), 1..8),
    ) {
        let framer = LineFramer::new(Bytes::from(delimiter), max);
        check_bounds(framer, &chunks(&input, &cuts), &reactions)?;
    }

    #[test]
    fn framer_with_any_line_ending_buffers_at_most_max_length_and_a_cr(
        (_, max, input, cuts) in stream(),
        reactions in vec(reaction(), 1..8),
    ) {
        check_bounds(LineFramer::any_line_ending(max), &chunks(&input, &cuts), &reactions)?;
    }

    #[test]
    fn framer_fed_byte_by_byte_buffers_less_than_max_length_and_a_delimiter(
        (delimiter, max, input, _) in stream(),
        reactions in vec(reaction(), 1..8),
    ) {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        check_bounds(LineFramer::new(Bytes::from(delimiter), max), &bytes, &reactions)?;
    }
}
