//! What a `FrameDecoder` gives for chunks fed one at a time, with its memory bound checked
//! after each: shared by the frame decoder's property tests and the `string_receiver`
//! fuzz target (each includes this file with `#[path]`), so it needs only `bytes` and
//! `torsade`.

use bytes::Bytes;
use torsade::frames::{FrameDecoder, Framing, FramingError};

/// What came out of a decoder, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Vec<u8>),
    Error(FramingError),
}

/// The longest header a framing here reads: a netstring's twenty digits and `:`, or a
/// length field after its offset.
pub const HEADER: usize = 24;

/// Feeds `chunks` one at a time, draining after each; panics if the decoder then holds
/// more than one frame and its header.
pub fn decode<'a, F: Framing>(
    framing: F,
    max: usize,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Event> {
    let mut decoder = FrameDecoder::new(framing, max);
    let mut events = Vec::new();
    for chunk in chunks {
        decoder.push(Bytes::copy_from_slice(chunk));
        while let Some(decoded) = decoder.next_frame() {
            events.push(match decoded {
                Ok(frame) => Event::Frame(frame.to_vec()),
                Err(error) => Event::Error(error),
            });
        }
        assert!(
            decoder.buffered() <= max + HEADER + 1,
            "{} bytes held with a limit of {max}",
            decoder.buffered()
        );
    }
    events
}
