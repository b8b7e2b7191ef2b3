//! Length-prefixed frames out of the async connection's buffer: the step
//! [`Connection::read_frame`](crate::Connection::read_frame) takes each time it is polled.
//!
//! The bytes stay in the connection's buffer (the line framer's, shared with `read_line`
//! and `read`) until a whole frame is there, so reads of every kind interleave. A header is
//! read from the front of the buffer, a few bytes at a time; once it is known, the frame
//! is waited for by count, with no copying until it is whole.

use bytes::Bytes;

use super::connection::take_front;
use super::shared::StreamState;
use crate::frames::framing::Layout;
use crate::frames::{Framing, FramingError};

/// How many bytes of the buffer a header is first looked for in; doubled while a header
/// needs more and more are buffered.
const FIRST_PEEK: usize = 64;

/// What `read_frame` remembers between frames.
#[derive(Debug)]
pub(super) struct FrameReading {
    /// The longest payload accepted.
    pub(super) max_length: usize,
    /// Bytes still to skip of an over-long frame.
    pub(super) skip: u64,
}

/// What the buffer gives now.
pub(super) enum Step {
    /// A payload.
    Frame(Bytes),
    /// More bytes are needed: at least `want` in the buffer, when known.
    Wait { want: usize },
    /// A length over the limit; the frame is skipped as it arrives.
    TooLong { length: u64 },
    /// The framing is broken at the front of the buffer (nothing was consumed).
    Broken(FramingError),
}

/// The next step of reading a frame of `framing`; `layout` is the header of the frame
/// being waited for, kept by the caller between polls.
pub(super) fn step<F: Framing>(
    state: &mut StreamState,
    reading: &mut FrameReading,
    framing: &F,
    layout: &mut Option<Layout>,
) -> Step {
    if reading.skip > 0 {
        let buffered = state.framer.buffered();
        let skipped = usize::try_from(reading.skip).map_or(buffered, |skip| skip.min(buffered));
        if skipped > 0 {
            take_front(state, skipped);
            reading.skip -= skipped as u64;
        }
        if reading.skip > 0 {
            return Step::Wait { want: 0 };
        }
    }
    let current = match *layout {
        Some(current) => current,
        None => match read_header(state, framing, reading.max_length) {
            Ok(Some(current)) => current,
            Ok(None) => return Step::Wait { want: 0 },
            Err(error) => return Step::Broken(error),
        },
    };
    if current.payload > reading.max_length as u64 {
        return match current.total() {
            Some(total) => {
                reading.skip = total;
                *layout = None;
                Step::TooLong {
                    length: current.payload,
                }
            }
            None => Step::Broken(FramingError::ImpossibleLength {
                value: current.payload,
            }),
        };
    }
    // Within the limit: header, payload and trailer add up to an addressable size.
    let total = current.total().map_or(usize::MAX, |total| total as usize);
    if state.framer.buffered() < total {
        *layout = Some(current);
        return Step::Wait { want: total };
    }
    *layout = None;
    let frame = take_front(state, total);
    let payload_end = total - current.trailer;
    if let Err(error) = framing.check_trailer(&frame[payload_end..]) {
        // The frame is consumed: its trailer is what is wrong, not what follows.
        return Step::Broken(error);
    }
    Step::Frame(frame.slice(current.header..payload_end))
}

/// The header at the front of the buffer, looked for in a growing prefix of it.
fn read_header<F: Framing>(
    state: &mut StreamState,
    framing: &F,
    max_length: usize,
) -> Result<Option<Layout>, FramingError> {
    let mut peek = FIRST_PEEK;
    loop {
        let buffered = state.framer.buffered();
        let head = take_front(state, peek.min(buffered));
        state.framer.set_line_mode(head.clone());
        match framing.decode_header(&head, max_length)? {
            Some(layout) => return Ok(Some(layout)),
            None if head.len() < buffered => peek = peek.saturating_mul(2),
            None => return Ok(None),
        }
    }
}
