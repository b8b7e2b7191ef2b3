//! Frames out of a byte stream, however it is chunked: [`FrameDecoder`].

use std::collections::VecDeque;
use std::fmt;

use bytes::{Bytes, BytesMut};

use super::framing::Layout;
use super::{Framing, FramingError};

/// Twisted's default limit for netstrings and length-prefixed strings, in bytes.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 99_999;

/// Splits a byte stream into the payloads of a [`Framing`], sans-I/O: chunks go in with
/// [`push`](FrameDecoder::push), payloads come out of
/// [`next_frame`](FrameDecoder::next_frame), one at a time, so its user can stop between
/// two (to pause, or because it closed).
///
/// The rules hold whatever the chunking:
///
/// - A payload whole in a chunk is a slice of it (no copy). Only an unfinished frame is
///   copied, into a buffer sized for it once its header is in; so the decoder holds at
///   most one frame (header, payload, trailer) plus the chunk being parsed.
/// - A header announcing more than `max_length` is reported as
///   [`FramingError::TooLong`] before its payload arrives. For a length field the frame is
///   then skipped as it arrives (never buffered) and decoding goes on; a netstring's
///   length is not known yet, so that error ends the stream, like every other error.
/// - After an error that ends the stream, `next_frame` returns `None` and pushed bytes
///   are dropped: a decoder never reports the same bytes twice.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::frames::{FrameDecoder, Int16};
///
/// let mut decoder = FrameDecoder::new(Int16, 1024);
/// decoder.push(Bytes::from_static(b"\x00\x03ab"));
/// assert!(decoder.next_frame().is_none()); // "ab" waits for its third byte
/// decoder.push(Bytes::from_static(b"c\x00\x00"));
/// assert_eq!(decoder.next_frame().unwrap().unwrap(), &b"abc"[..]);
/// assert_eq!(decoder.next_frame().unwrap().unwrap(), &b""[..]);
/// assert!(decoder.next_frame().is_none());
/// ```
pub struct FrameDecoder<F> {
    framing: F,
    max_length: usize,
    /// The chunk being parsed, from `pos`.
    chunk: Bytes,
    pos: usize,
    /// Chunks pushed while `chunk` was still being parsed.
    queue: VecDeque<Bytes>,
    /// The first bytes of an unfinished frame, when it straddles chunks.
    partial: BytesMut,
    /// The layout of the frame in `partial`, once its header is whole.
    layout: Option<Layout>,
    /// Bytes still to skip of an over-long frame.
    discard: u64,
    /// An error ended the stream.
    failed: bool,
}

impl<F: Framing> FrameDecoder<F> {
    /// A decoder of `framing` accepting payloads of at most `max_length` bytes.
    pub fn new(framing: F, max_length: usize) -> FrameDecoder<F> {
        FrameDecoder {
            framing,
            max_length,
            chunk: Bytes::new(),
            pos: 0,
            queue: VecDeque::new(),
            partial: BytesMut::new(),
            layout: None,
            discard: 0,
            failed: false,
        }
    }

    /// The framing.
    pub fn framing(&self) -> &F {
        &self.framing
    }

    /// The longest payload accepted, in bytes.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether an error ended the stream (nothing more will be decoded).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Bytes received and not yet delivered as frames (an unfinished frame included).
    pub fn buffered(&self) -> usize {
        let queued: usize = self.queue.iter().map(Bytes::len).sum();
        self.partial.len() + self.rest().len() + queued
    }

    /// Adds received bytes after those already pushed.
    pub fn push(&mut self, data: Bytes) {
        if self.failed || data.is_empty() {
            return;
        }
        if self.rest().is_empty() && self.queue.is_empty() {
            self.chunk = data;
            self.pos = 0;
        } else {
            self.queue.push_back(data);
        }
    }

    /// The next payload; `None` when more input is needed (or the stream failed).
    ///
    /// # Errors
    ///
    /// A [`FramingError`] for a frame that cannot be read. After
    /// [`TooLong`](FramingError::TooLong) from a length field, decoding goes on with the
    /// frame after it; after any other (see [`is_failed`](FrameDecoder::is_failed)), the
    /// stream is over.
    pub fn next_frame(&mut self) -> Option<Result<Bytes, FramingError>> {
        loop {
            if self.failed {
                return None;
            }
            if self.rest().is_empty() && !self.refill() {
                return None;
            }
            if self.discard > 0 {
                self.skip_discarded();
            } else if self.partial.is_empty() {
                if let Some(decoded) = self.frame_in_chunk() {
                    return Some(decoded);
                }
            } else if let Some(decoded) = self.assemble() {
                return Some(decoded);
            }
        }
    }

    /// The unparsed rest of the chunk.
    fn rest(&self) -> &[u8] {
        self.chunk.get(self.pos..).unwrap_or_default()
    }

    /// Moves the next queued chunk in; lets go of the spent one (it points into the
    /// connection's read buffer, which can then be reused). Whether there is input.
    fn refill(&mut self) -> bool {
        match self.queue.pop_front() {
            Some(chunk) => {
                self.chunk = chunk;
                self.pos = 0;
                true
            }
            None => {
                self.chunk = Bytes::new();
                self.pos = 0;
                false
            }
        }
    }

    /// Skips what arrived of an over-long frame.
    fn skip_discarded(&mut self) {
        let available = self.rest().len();
        let skipped = usize::try_from(self.discard).map_or(available, |d| d.min(available));
        self.pos += skipped;
        self.discard -= skipped as u64;
    }

    /// A frame starting at `pos`, found whole in the chunk: a slice of it. Otherwise the
    /// start of the frame moves into `partial`, and `None`.
    fn frame_in_chunk(&mut self) -> Option<Result<Bytes, FramingError>> {
        let start = self.pos;
        let available = self.chunk.len() - start;
        let layout = match self.framing.decode_header(self.rest(), self.max_length) {
            Err(error) => return Some(Err(self.fail(error))),
            Ok(None) => {
                self.partial.extend_from_slice(&self.chunk[start..]);
                self.pos = self.chunk.len();
                return None;
            }
            Ok(Some(layout)) => layout,
        };
        if let Some(too_long) = self.check_length(&layout, 0) {
            return Some(Err(too_long));
        }
        let total = self.frame_length(&layout);
        if available < total {
            self.reserve(total);
            self.partial.extend_from_slice(&self.chunk[start..]);
            self.layout = Some(layout);
            self.pos = self.chunk.len();
            return None;
        }
        let end = start + total;
        let payload_end = end - layout.trailer;
        if let Err(error) = self.framing.check_trailer(&self.chunk[payload_end..end]) {
            return Some(Err(self.fail(error)));
        }
        self.pos = end;
        Some(Ok(self.chunk.slice(start + layout.header..payload_end)))
    }

    /// Adds to the unfinished frame in `partial` from the chunk: a byte at a time until
    /// its header is whole (headers are a few bytes), then what the frame still needs.
    fn assemble(&mut self) -> Option<Result<Bytes, FramingError>> {
        let layout = match self.layout {
            Some(layout) => layout,
            None => {
                let &byte = self.rest().first()?;
                self.partial.extend_from_slice(&[byte]);
                self.pos += 1;
                let layout = match self.framing.decode_header(&self.partial, self.max_length) {
                    Err(error) => return Some(Err(self.fail(error))),
                    Ok(None) => return None,
                    Ok(Some(layout)) => layout,
                };
                let received = self.partial.len() as u64;
                if let Some(too_long) = self.check_length(&layout, received) {
                    self.partial = BytesMut::new();
                    return Some(Err(too_long));
                }
                let wanted = self.frame_length(&layout) - self.partial.len();
                self.reserve(wanted);
                self.layout = Some(layout);
                layout
            }
        };
        let total = self.frame_length(&layout);
        let wanted = (total - self.partial.len()).min(self.rest().len());
        let end = self.pos + wanted;
        self.partial.extend_from_slice(&self.chunk[self.pos..end]);
        self.pos = end;
        if self.partial.len() < total {
            return None;
        }
        self.layout = None;
        let frame = std::mem::take(&mut self.partial).freeze();
        let payload_end = total - layout.trailer;
        if let Err(error) = self.framing.check_trailer(&frame[payload_end..]) {
            return Some(Err(self.fail(error)));
        }
        Some(Ok(frame.slice(layout.header..payload_end)))
    }

    /// `TooLong` for a frame over the limit, of which `received` bytes are already taken;
    /// the rest of the frame is then skipped as it arrives.
    fn check_length(&mut self, layout: &Layout, received: u64) -> Option<FramingError> {
        if layout.payload <= self.max_length as u64 {
            return None;
        }
        let error = FramingError::TooLong {
            length: layout.payload,
            max_length: self.max_length,
        };
        match layout.total() {
            Some(total) => {
                self.discard = total - received;
                Some(error)
            }
            None => Some(self.fail(error)),
        }
    }

    /// The length of a frame within the limit: header, payload and trailer (saturated:
    /// a frame that long can never arrive whole).
    fn frame_length(&self, layout: &Layout) -> usize {
        let total = layout.total().unwrap_or(u64::MAX);
        usize::try_from(total).unwrap_or(usize::MAX)
    }

    /// Room in `partial` for `additional` bytes of a frame within the limit; only as a
    /// hint past the limit (a long header is the framing's own, and grows as it arrives).
    fn reserve(&mut self, additional: usize) {
        self.partial
            .reserve(additional.min(self.max_length.saturating_add(64)));
    }

    /// Ends the stream with `error`: nothing buffered is kept or parsed again.
    fn fail(&mut self, error: FramingError) -> FramingError {
        self.failed = true;
        self.chunk = Bytes::new();
        self.pos = 0;
        self.queue = VecDeque::new();
        self.partial = BytesMut::new();
        self.layout = None;
        error
    }
}

impl<F: fmt::Debug> fmt::Debug for FrameDecoder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("framing", &self.framing)
            .field("max_length", &self.max_length)
            .field(
                "unparsed",
                &(self.chunk.len() - self.pos.min(self.chunk.len())),
            )
            .field("partial", &self.partial.len())
            .field("discard", &self.discard)
            .field("failed", &self.failed)
            .finish()
    }
}
