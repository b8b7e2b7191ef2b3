//! [`LineFramer`]: splitting a byte stream into lines, by the rules the
//! [`lines`](crate::lines) module states.

use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::delimiter::{Delimiter, Searcher};
use super::IntoDelimiter;

/// The delimiter lines end with unless told otherwise: CR LF, as most Internet protocols.
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";

/// What a framer with any line ending ([`LineFramer::any_line_ending`]) sends lines with.
static CRLF: Bytes = Bytes::from_static(b"\r\n");

/// The longest line, in bytes and delimiter excluded, accepted unless told otherwise
/// (Twisted's `MAX_LENGTH`). It bounds the memory one connection can make a reader hold.
pub const DEFAULT_MAX_LENGTH: usize = 16384;

/// What a [`LineFramer`] found next.
///
/// `L` is how a line is given: a `Bytes` of its own ([`LineFramer::next_frame`]), or a range of
/// the bytes the framer lends ([`LineFramer::next_lent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<L = Bytes> {
    /// A complete line, delimiter removed.
    Line(L),
    /// Bytes received in raw mode.
    Raw(Bytes),
    /// The first `max_length` bytes of a line over the limit; the rest of that line, up to
    /// and including its delimiter, is skipped.
    TooLong(Bytes),
}

/// What the framer hands out internally, lines as ranges of the chunk being parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LentEvent {
    /// A complete line, delimiter removed.
    Line(LineSource),
    /// Bytes received in raw mode.
    Raw(Bytes),
    /// The first `max_length` bytes of a line that is over the limit.
    TooLong(Bytes),
}

/// Where a complete line's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineSource {
    /// This range of the chunk being parsed (valid until the framer is next changed).
    Chunk(Range<usize>),
    /// Assembled from pieces of several chunks.
    Assembled(Bytes),
}

/// A run of lines taken whole from one chunk: the delimiter search set up once for it,
/// valid while the framer's `epoch` is the one it was set up in.
#[derive(Clone, Copy)]
struct PlainRun {
    searcher: Searcher,
    window: usize,
    epoch: u32,
}

/// Where [`LineFramer::next_lent`] lends lines from, kept by the caller from one call to
/// the next: the bytes the lines lie in, and the delimiter search for a run of lines in
/// them. It lives with the loop that takes the lines (on its stack), so a framer kept for
/// a connection's whole life does not carry the search state between reads.
#[derive(Clone, Default)]
pub struct Lent {
    bytes: Bytes,
    run: Option<PlainRun>,
}

impl Lent {
    /// Nothing lent yet.
    pub fn new() -> Lent {
        Lent::default()
    }

    /// The bytes the lent lines are ranges of.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl fmt::Debug for Lent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lent")
            .field("bytes", &self.bytes.len())
            .field("in_run", &self.run.is_some())
            .finish()
    }
}

/// How incoming bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Split into lines.
    Line,
    /// Passed on as they are.
    Raw,
}

/// The rest of an over-long line, being skipped up to its delimiter.
#[derive(Debug, Clone, Default)]
struct Discard {
    /// The last bytes skipped (fewer than the delimiter), to find a delimiter that
    /// straddles two chunks.
    tail: Vec<u8>,
}

/// A line framer: bytes in, [`Frame`]s out. The [`lines`](crate::lines) module states the
/// rules.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::lines::{Frame, LineFramer};
///
/// let mut framer = LineFramer::new(b"\r\n", 8);
/// framer.push(Bytes::from_static(b"hello\r\nthis line is too long\r\nwor"));
/// framer.push(Bytes::from_static(b"ld\r\n"));
/// let frames: Vec<Frame> = std::iter::from_fn(|| framer.next_frame()).collect();
/// assert_eq!(
///     frames,
///     [
///         Frame::Line(Bytes::from_static(b"hello")),
///         Frame::TooLong(Bytes::from_static(b"this lin")),
///         Frame::Line(Bytes::from_static(b"world")),
///     ]
/// );
/// ```
pub struct LineFramer {
    /// What lines are split on (`\n` with any line ending).
    delimiter: Delimiter,
    /// Lines end with `\n` or `\r\n`: a `\r` before the `\n` is not part of the line.
    any_line_ending: bool,
    max_length: usize,
    mode: Mode,
    /// The start of an unfinished line (line mode only).
    partial: BytesMut,
    /// The rest of an over-long line, being skipped.
    discard: Option<Discard>,
    /// The input being parsed now: `chunk[pos..]` (the bytes before `pos` are parsed).
    chunk: Bytes,
    /// Where the unparsed part of `chunk` starts; at most `chunk.len()`.
    pos: usize,
    /// Input after `chunk`.
    queue: VecDeque<Bytes>,
    /// Counts the changes that end a run of plain lines (see `next_lent`): a new chunk,
    /// a mode switch, pushed-back bytes, a clear. A [`Lent`]'s run is valid only in the
    /// epoch it began in. It wraps: a run would have to sit unused through 2^32 changes
    /// to be taken for current.
    epoch: u32,
}

impl LineFramer {
    /// A framer in line mode, splitting on `delimiter`, accepting lines of up to
    /// `max_length` bytes (delimiter excluded).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty (a programming error: there would be nothing to split on).
    pub fn new(delimiter: impl IntoDelimiter, max_length: usize) -> LineFramer {
        LineFramer {
            delimiter: Delimiter::new(delimiter.into_delimiter()),
            any_line_ending: false,
            max_length,
            mode: Mode::Line,
            partial: BytesMut::new(),
            discard: None,
            chunk: Bytes::new(),
            pos: 0,
            queue: VecDeque::new(),
            epoch: 0,
        }
    }

    /// A framer in line mode whose lines end with `\n` or `\r\n`, as tokio-util's
    /// `LinesCodec` reads them: a `\r` just before the `\n` is neither part of the line nor
    /// counted toward `max_length`. Its [`delimiter`](LineFramer::delimiter) (what lines
    /// are sent with) is `\r\n`. A lone `\r` elsewhere is part of the line.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::lines::{Frame, LineFramer};
    ///
    /// let mut framer = LineFramer::any_line_ending(3);
    /// framer.push(Bytes::from_static(b"one\r\ntwo\nthree\n"));
    /// let frames: Vec<Frame> = std::iter::from_fn(|| framer.next_frame()).collect();
    /// assert_eq!(
    ///     frames,
    ///     [
    ///         Frame::Line(Bytes::from_static(b"one")),
    ///         Frame::Line(Bytes::from_static(b"two")),
    ///         Frame::TooLong(Bytes::from_static(b"thr")),
    ///     ]
    /// );
    /// assert_eq!(framer.delimiter(), &b"\r\n"[..]);
    /// ```
    pub fn any_line_ending(max_length: usize) -> LineFramer {
        LineFramer {
            any_line_ending: true,
            ..LineFramer::new(Bytes::from_static(b"\n"), max_length)
        }
    }

    /// The delimiter lines end with and are sent with (`\r\n` for a framer with
    /// [any line ending](LineFramer::any_line_ending), which accepts `\n` too).
    pub fn delimiter(&self) -> &Bytes {
        if self.any_line_ending {
            &CRLF
        } else {
            self.delimiter.bytes()
        }
    }

    /// Whether lines may end with `\n` or `\r\n` (see
    /// [`any_line_ending`](LineFramer::any_line_ending)).
    pub fn accepts_any_line_ending(&self) -> bool {
        self.any_line_ending
    }

    /// The longest line accepted, delimiter excluded.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether the framer splits lines (rather than passing raw bytes on).
    pub fn is_line_mode(&self) -> bool {
        self.mode == Mode::Line
    }

    /// Adds received bytes after everything already queued.
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if self.rest().is_empty() && self.queue.is_empty() {
            self.set_chunk(data);
        } else {
            self.queue.push_back(data);
        }
    }

    /// Passes the bytes not yet parsed on as raw data from now on. An unfinished line is
    /// passed on as raw data too, and a discard in progress ends: in raw mode every byte
    /// is delivered.
    pub fn set_raw_mode(&mut self) {
        self.end_run();
        self.mode = Mode::Raw;
        self.discard = None;
        if !self.partial.is_empty() {
            let partial = self.partial.split().freeze();
            self.put_in_front(partial);
        }
    }

    /// Splits lines from now on, starting with `extra` (before anything not yet parsed).
    ///
    /// Non-empty `extra` ends the discard of an over-long line: the protocol takes the
    /// stream back, and what of the line was not skipped yet is parsed after `extra`
    /// (all of it after the first `max_length` bytes, when called right after the
    /// [`Frame::TooLong`]). Empty `extra` pushes nothing back, and the discard goes on.
    pub fn set_line_mode(&mut self, extra: Bytes) {
        self.end_run();
        self.mode = Mode::Line;
        if extra.is_empty() {
            return;
        }
        self.discard = None;
        self.put_in_front(extra);
    }

    /// Makes `data` the next input parsed.
    fn put_in_front(&mut self, data: Bytes) {
        let rest = self.take_rest();
        if !rest.is_empty() {
            self.queue.push_front(rest);
        }
        self.set_chunk(data);
    }

    /// The unparsed part of the chunk being parsed.
    #[inline]
    fn rest(&self) -> &[u8] {
        // `pos <= chunk.len()` always holds; an empty slice otherwise rather than a panic.
        self.chunk.get(self.pos..).unwrap_or_default()
    }

    /// Marks `count` more bytes of the chunk parsed.
    #[inline]
    fn consume(&mut self, count: usize) {
        self.pos = self.pos.saturating_add(count).min(self.chunk.len());
    }

    /// Makes `data` the chunk being parsed, from its start.
    fn set_chunk(&mut self, data: Bytes) {
        self.chunk = data;
        self.pos = 0;
        self.end_run();
    }

    /// Takes the unparsed part of the chunk out (the framer is left with none).
    fn take_rest(&mut self) -> Bytes {
        self.end_run();
        let chunk = mem::take(&mut self.chunk);
        let pos = mem::take(&mut self.pos);
        if pos == 0 {
            chunk
        } else {
            chunk.slice(pos.min(chunk.len())..)
        }
    }

    /// Drops the unparsed part of the chunk, and the chunk with it.
    fn drop_rest(&mut self) {
        self.chunk = Bytes::new();
        self.pos = 0;
        self.end_run();
    }

    /// How many received bytes are buffered and not yet parsed (an unfinished line
    /// included).
    pub fn buffered(&self) -> usize {
        let queued: usize = self.queue.iter().map(Bytes::len).sum();
        self.partial.len() + self.rest().len() + queued
    }

    /// Returns and drops every buffered byte: the unfinished line and all input not yet
    /// parsed. If the rest of an over-long line is being discarded, it still is (as one
    /// line, up to the next delimiter).
    pub fn clear(&mut self) -> Bytes {
        self.end_run();
        let mut pieces = Vec::with_capacity(self.queue.len() + 2);
        pieces.push(self.partial.split().freeze());
        pieces.push(self.take_rest());
        pieces.extend(self.queue.drain(..));
        let cleared = concat(pieces);
        if let Some(discard) = &mut self.discard {
            discard.tail.extend_from_slice(&cleared);
            keep_last(&mut discard.tail, self.delimiter.len() - 1);
        }
        cleared
    }

    /// The next frame, every line as a `Bytes` of its own (a slice of the chunk it was
    /// received in, when it lies whole in one: no copy), or `None` when more input is
    /// needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let mut lent = Lent::new();
        Some(match self.next_lent(&mut lent)? {
            Frame::Line(range) => Frame::Line(lent.bytes.slice(range)),
            Frame::Raw(data) => Frame::Raw(data),
            Frame::TooLong(start) => Frame::TooLong(start),
        })
    }

    /// The next frame, a line lent as a range of [`lent.bytes()`](Lent::bytes), or `None`
    /// when more input is needed. The framer makes `lent` view the bytes the line lies in
    /// — the chunk it was received in, or the line itself if it came in pieces — so that
    /// a loop over the lines of a chunk copies nothing and counts no references for each
    /// line. Pass the same `lent` to every call; keep a line with
    /// `lent.bytes().slice(range)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::lines::{Frame, Lent, LineFramer};
    ///
    /// let mut framer = LineFramer::new(b"\n", 100);
    /// framer.push(Bytes::from_static(b"one\ntwo\nthr"));
    /// let mut lent = Lent::new();
    /// let mut lines = Vec::new();
    /// while let Some(Frame::Line(range)) = framer.next_lent(&mut lent) {
    ///     lines.push(lent.bytes()[range].to_vec());
    /// }
    /// assert_eq!(lines, [b"one".to_vec(), b"two".to_vec()]);
    /// assert_eq!(framer.buffered(), 3); // "thr" waits for its delimiter
    /// ```
    #[inline]
    pub fn next_lent(&mut self, lent: &mut Lent) -> Option<Frame<Range<usize>>> {
        if let Some(run) = &lent.run {
            if run.epoch == self.epoch && same_view(&lent.bytes, &self.chunk) {
                if let Some(range) = self.next_plain_line(run) {
                    return Some(Frame::Line(range));
                }
            }
            lent.run = None;
        }
        Some(match self.next_lent_event()? {
            LentEvent::Line(LineSource::Chunk(range)) => {
                if !same_view(&lent.bytes, &self.chunk) {
                    lent.bytes = self.chunk.clone();
                }
                if self.is_plain() {
                    lent.run = Some(self.start_run());
                }
                Frame::Line(range)
            }
            LentEvent::Line(LineSource::Assembled(line)) => {
                let length = line.len();
                lent.bytes = line;
                Frame::Line(0..length)
            }
            LentEvent::Raw(data) => Frame::Raw(data),
            LentEvent::TooLong(start) => Frame::TooLong(start),
        })
    }

    /// How far to search for a delimiter from the start of a line: one must start at or
    /// before `max_length` (with any line ending, one byte later: after a `\r`).
    #[inline]
    fn window(&self) -> usize {
        self.max_length
            .saturating_add(self.delimiter.len())
            .saturating_add(usize::from(self.any_line_ending))
    }

    /// With any line ending, where the line whose `\n` is at `newline` in the chunk (the
    /// line starting at `start`) ends: before a `\r` just before the `\n`. `None` if the
    /// line is then over `max_length` (a `\n` found one byte past the limit with no `\r`
    /// before it).
    #[inline]
    fn any_ending_line_end(&self, start: usize, newline: usize) -> Option<usize> {
        let end = if newline > start && self.chunk.get(newline - 1) == Some(&b'\r') {
            newline - 1
        } else {
            newline
        };
        (end - start <= self.max_length).then_some(end)
    }

    /// What a run of [`next_plain_line`](LineFramer::next_plain_line) calls needs, set up
    /// once: the delimiter search and how far it looks, for this epoch.
    #[inline]
    fn start_run(&self) -> PlainRun {
        PlainRun {
            searcher: self.delimiter.searcher(),
            window: self.window(),
            epoch: self.epoch,
        }
    }

    /// Ends any run of plain lines: the framer was steered or its chunk changed.
    #[inline]
    fn end_run(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Whether nothing but the chunk is pending: line mode, no unfinished line, no
    /// discard. Then, until the framer is steered (a mode switch, pushed-back bytes, a
    /// clear), [`next_plain_line`](LineFramer::next_plain_line) finds the lines whole in
    /// the chunk.
    #[inline]
    fn is_plain(&self) -> bool {
        self.mode == Mode::Line && self.partial.is_empty() && self.discard.is_none()
    }

    /// The next line, if it lies whole in the chunk being parsed: the common case,
    /// without the general event. Only within a run (`run` is from this epoch, so the
    /// framer is still plain). `None` means "ask
    /// [`next_lent_event`](LineFramer::next_lent_event)", which handles everything, this
    /// case included.
    #[inline]
    fn next_plain_line(&mut self, run: &PlainRun) -> Option<Range<usize>> {
        let start = self.pos;
        let rest = self.chunk.get(start..)?;
        let searched = rest.get(..run.window).unwrap_or(rest);
        let length = self.delimiter.find_with(&run.searcher, searched)?;
        let mut end = start + length;
        let next = end + self.delimiter.len();
        if self.any_line_ending {
            end = self.any_ending_line_end(start, end)?;
        }
        // The delimiter lies whole in `rest`, so the new position is within the chunk.
        self.pos = next;
        Some(start..end)
    }

    /// The next event, a line found whole in the chunk as its range there, or `None` when
    /// more input is needed.
    #[inline]
    fn next_lent_event(&mut self) -> Option<LentEvent> {
        loop {
            if self.rest().is_empty() && !self.refill() {
                // Let go of the spent chunk: it points into the connection's read buffer,
                // which can then be reused, or freed while the connection is idle.
                self.drop_rest();
                return None;
            }
            match self.mode {
                Mode::Raw => return Some(LentEvent::Raw(self.take_rest())),
                Mode::Line if self.discard.is_some() => self.discard_step(),
                Mode::Line => {
                    if let Some(event) = self.line_step() {
                        return Some(event);
                    }
                }
            }
        }
    }

    /// Moves the next queued input into the chunk. Returns whether there is input.
    fn refill(&mut self) -> bool {
        while let Some(data) = self.queue.pop_front() {
            if !data.is_empty() {
                self.set_chunk(data);
                return true;
            }
        }
        false
    }

    /// Skips bytes of the chunk up to the end of the over-long line being discarded.
    fn discard_step(&mut self) {
        let rest = self.chunk.get(self.pos..).unwrap_or_default();
        let Some(discard) = self.discard.as_mut() else {
            return;
        };
        let delimiter_len = self.delimiter.len();
        let end = match self.delimiter.find_straddling(&discard.tail, rest) {
            Some(start) => Some(start + delimiter_len - discard.tail.len()),
            None => self.delimiter.find(rest).map(|at| at + delimiter_len),
        };
        match end {
            Some(end) => {
                self.consume(end);
                self.discard = None;
            }
            None => {
                discard.tail.extend_from_slice(rest);
                keep_last(&mut discard.tail, delimiter_len - 1);
                self.drop_rest();
            }
        }
    }

    /// Parses the chunk in line mode: a line, an over-long line, or (`None`) an unfinished
    /// line now held in `partial`.
    #[inline]
    fn line_step(&mut self) -> Option<LentEvent> {
        let delimiter_len = self.delimiter.len();
        let window = self.window();
        if self.partial.is_empty() {
            // The hot path: the line is a range of the chunk; nothing is copied, and no
            // reference count changes.
            let rest = self.rest();
            let searched = &rest[..rest.len().min(window)];
            if let Some(length) = self.delimiter.find(searched) {
                let start = self.pos;
                let mut end = start + length;
                if self.any_line_ending {
                    match self.any_ending_line_end(start, end) {
                        Some(line_end) => end = line_end,
                        None => return self.unfinished_line(),
                    }
                }
                self.consume(length + delimiter_len);
                return Some(LentEvent::Line(LineSource::Chunk(start..end)));
            }
            return self.unfinished_line();
        }
        // An unfinished line is buffered: resume where its search stopped, just before
        // its end, in case the delimiter straddles the two pieces.
        let buffered = self.partial.len();
        let tail_start = buffered.saturating_sub(delimiter_len - 1);
        let straddling = self
            .delimiter
            .find_straddling(&self.partial[tail_start..], self.rest());
        if let Some(at) = straddling {
            let start = tail_start + at;
            if start > self.max_length {
                return self.unfinished_line();
            }
            self.consume(start + delimiter_len - buffered);
            self.partial.truncate(start);
            return Some(LentEvent::Line(LineSource::Assembled(self.take_partial())));
        }
        let rest = self.chunk.get(self.pos..).unwrap_or_default();
        let searched = &rest[..rest.len().min(window.saturating_sub(buffered))];
        if let Some(length) = self.delimiter.find(searched) {
            let mut end = buffered + length;
            if self.any_line_ending {
                let before = match length.checked_sub(1) {
                    Some(last) => searched.get(last),
                    None => self.partial.last(),
                };
                end -= usize::from(before == Some(&b'\r'));
                if end > self.max_length {
                    return self.unfinished_line();
                }
            }
            self.partial.extend_from_slice(&searched[..length]);
            self.partial.truncate(end);
            self.consume(length + delimiter_len);
            return Some(LentEvent::Line(LineSource::Assembled(self.take_partial())));
        }
        self.unfinished_line()
    }

    /// `partial ++ rest` holds no delimiter that starts at or before `max_length`:
    /// either keep it as an unfinished line, or fail it as soon as it can no longer
    /// become a line of at most `max_length` bytes.
    fn unfinished_line(&mut self) -> Option<LentEvent> {
        let buffered = self.partial.len();
        let rest = self.chunk.get(self.pos..).unwrap_or_default();
        let length = buffered + rest.len();
        let viable = if length <= self.max_length {
            length
        } else if self.any_line_ending {
            // Only a `\r` at the limit may still be followed by the line's `\n`.
            let at_limit = match self.max_length.checked_sub(buffered) {
                Some(index) => rest.get(index),
                None => self.partial.get(self.max_length),
            };
            self.max_length + usize::from(at_limit == Some(&b'\r'))
        } else {
            self.delimiter
                .viable_len(&self.partial, rest, self.max_length)
        };
        if viable >= length {
            // Bounded: a viable line is at most `max_length` + delimiter - 1 bytes.
            self.partial.extend_from_slice(rest);
            self.drop_rest();
            return None;
        }
        // The line fails: report its first `max_length` bytes. The rest of it is left
        // unparsed, to be skipped up to its delimiter, or taken back into the stream by
        // pushed-back bytes (`set_line_mode`).
        let max_length = self.max_length;
        let reported = if buffered == 0 {
            // `length > max_length`: the chunk holds the reported bytes.
            let reported = self.chunk.slice(self.pos..self.pos + max_length);
            self.consume(max_length);
            reported
        } else if buffered <= max_length {
            let missing = max_length - buffered;
            let rest = self.chunk.get(self.pos..).unwrap_or_default();
            self.partial.extend_from_slice(&rest[..missing]);
            self.consume(missing);
            self.take_partial()
        } else {
            // The buffered line runs past the limit by less than a delimiter.
            let beyond = self.partial.split_off(max_length).freeze();
            let reported = self.take_partial();
            self.put_in_front(beyond);
            reported
        };
        self.discard = Some(Discard::default());
        Some(LentEvent::TooLong(reported))
    }

    /// Takes the assembled line out of `partial`, allocation and all: a `split` would leave
    /// the allocation's spare room behind, and an idle connection would keep up to
    /// `max_length` bytes for a line long gone.
    fn take_partial(&mut self) -> Bytes {
        mem::take(&mut self.partial).freeze()
    }
}

/// Whether `a` and `b` view the same bytes (the same memory, so the same contents: memory
/// a `Bytes` views does not change while it does).
#[inline]
fn same_view(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// Joins `pieces` into one `Bytes`, without copying when at most one is non-empty.
fn concat(pieces: Vec<Bytes>) -> Bytes {
    let mut non_empty = pieces.into_iter().filter(|piece| !piece.is_empty());
    let Some(first) = non_empty.next() else {
        return Bytes::new();
    };
    let Some(second) = non_empty.next() else {
        return first;
    };
    let mut joined = BytesMut::from(&first[..]);
    joined.extend_from_slice(&second);
    for piece in non_empty {
        joined.extend_from_slice(&piece);
    }
    joined.freeze()
}

/// Keeps only the last `count` bytes of `bytes`.
fn keep_last(bytes: &mut Vec<u8>, count: usize) {
    let excess = bytes.len().saturating_sub(count);
    bytes.drain(..excess);
}

impl fmt::Debug for LineFramer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineFramer")
            .field("delimiter", &self.delimiter)
            .field("any_line_ending", &self.any_line_ending)
            .field("max_length", &self.max_length)
            .field("mode", &self.mode)
            .field("partial", &self.partial.len())
            .field("discarding", &self.discard.is_some())
            .field("unparsed", &self.rest().len())
            .field("queued", &self.queue.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framer(delimiter: &'static [u8], max_length: usize) -> LineFramer {
        LineFramer::new(Bytes::from_static(delimiter), max_length)
    }

    fn line(bytes: &'static [u8]) -> Frame {
        Frame::Line(Bytes::from_static(bytes))
    }

    fn too_long(bytes: &'static [u8]) -> Frame {
        Frame::TooLong(Bytes::from_static(bytes))
    }

    /// Pushes `chunks` one by one, collecting every event.
    fn events(framer: &mut LineFramer, chunks: &[&'static [u8]]) -> Vec<Frame> {
        let mut events = Vec::new();
        for chunk in chunks {
            framer.push(Bytes::from_static(chunk));
            while let Some(event) = framer.next_frame() {
                events.push(event);
            }
        }
        events
    }

    /// Every event the framer has without more input.
    fn drain(framer: &mut LineFramer) -> Vec<Frame> {
        std::iter::from_fn(|| framer.next_frame()).collect()
    }

    #[test]
    fn lines_are_split_on_the_delimiter() {
        let mut framer = framer(b"\r\n", 100);
        let events = events(&mut framer, &[b"one\r\n\r\ntwo\r", b"\nthr", b"ee"]);
        assert_eq!(events, [line(b"one"), line(b""), line(b"two")]);
        assert_eq!(framer.buffered(), 5);
    }

    #[test]
    fn a_line_of_exactly_max_length_is_accepted() {
        let mut framer = framer(b"\r\n", 5);
        assert_eq!(events(&mut framer, &[b"abcde\r\n"]), [line(b"abcde")]);
    }

    #[test]
    fn a_line_one_over_max_length_fails_at_its_first_extra_byte() {
        let mut framer = framer(b"\r\n", 5);
        assert_eq!(events(&mut framer, &[b"abcde"]), []);
        assert_eq!(events(&mut framer, &[b"\r"]), []);
        assert_eq!(events(&mut framer, &[b"x"]), [too_long(b"abcde")]);
    }

    #[test]
    fn over_long_line_is_skipped_through_its_straddling_delimiter() {
        let mut framer = framer(b"\r\n", 3);
        let events = events(&mut framer, &[b"abcdef\r", b"\nok\r\n"]);
        assert_eq!(events, [too_long(b"abc"), line(b"ok")]);
    }

    #[test]
    fn a_delimiter_that_starts_before_the_limit_keeps_the_line_alive() {
        let mut framer = framer(b"abc", 5);
        assert_eq!(events(&mut framer, &[b"xxxxab"]), []);
        assert_eq!(events(&mut framer, &[b"c"]), [line(b"xxxx")]);
        assert_eq!(events(&mut framer, &[b"xxxxabd"]), [too_long(b"xxxxa")]);
    }

    #[test]
    fn self_overlapping_delimiter_ends_an_over_long_line_where_it_first_occurs() {
        // Delimiter "aab", max 2: "xx" + "aaab" fails at the third "a", yet the line's
        // delimiter started one byte earlier; "ok" follows it.
        let mut framer = framer(b"aab", 2);
        let events = events(&mut framer, &[b"xxaaa", b"bok", b"aab"]);
        assert_eq!(events, [too_long(b"xx"), line(b"ok")]);
    }

    #[test]
    fn buffer_never_holds_more_than_max_length_and_a_delimiter() {
        let mut framer = framer(b"\r\n", 8);
        for byte in b"0123456789\r\n01234567\r\r\r\r\r\r\nabc"
            .iter()
            .cycle()
            .take(500)
        {
            framer.push(Bytes::copy_from_slice(&[*byte]));
            while framer.next_frame().is_some() {}
            assert!(framer.buffered() <= 8 + 2);
        }
    }

    #[test]
    fn raw_mode_passes_an_unfinished_line_on_as_raw_data() {
        let mut framer = framer(b"\n", 10);
        assert_eq!(events(&mut framer, &[b"abc"]), []);
        framer.set_raw_mode();
        assert_eq!(
            framer.next_frame(),
            Some(Frame::Raw(Bytes::from_static(b"abc")))
        );
        assert!(!framer.is_line_mode());
    }

    #[test]
    fn pushed_back_bytes_come_before_queued_input() {
        let mut framer = framer(b"\n", 10);
        framer.push(Bytes::from_static(b"a\nb\n"));
        assert_eq!(framer.next_frame(), Some(line(b"a")));
        framer.set_line_mode(Bytes::from_static(b"x\n"));
        assert_eq!(framer.next_frame(), Some(line(b"x")));
        assert_eq!(framer.next_frame(), Some(line(b"b")));
        assert_eq!(framer.next_frame(), None);
    }

    #[test]
    fn bytes_pushed_back_from_an_over_long_line_are_parsed_before_its_rest() {
        let mut framer = framer(b"\r\n", 8);
        framer.push(Bytes::from_static(b"0123456789\r\nok\r\n"));
        let Some(Frame::TooLong(start)) = framer.next_frame() else {
            panic!("the line is over the limit");
        };
        assert_eq!(start, Bytes::from_static(b"01234567"));
        framer.set_line_mode(start.slice(4..));
        assert_eq!(drain(&mut framer), [line(b"456789"), line(b"ok")]);
    }

    #[test]
    fn bytes_pushed_back_take_the_rest_of_the_line_from_the_buffer_too() {
        // Max 8: "abcdefgh\r" may still end in "\n", so it is buffered whole; the "x"
        // fails it, and the "\r" beyond the reported bytes is not lost.
        let mut framer = framer(b"\r\n", 8);
        assert_eq!(events(&mut framer, &[b"abcdefgh\r"]), []);
        framer.push(Bytes::from_static(b"x\r\n"));
        assert_eq!(framer.next_frame(), Some(too_long(b"abcdefgh")));
        framer.set_line_mode(Bytes::from_static(b"gh"));
        assert_eq!(drain(&mut framer), [line(b"gh\rx")]);
    }

    #[test]
    fn pushing_back_nothing_lets_the_discard_go_on() {
        let mut framer = framer(b"\n", 3);
        framer.push(Bytes::from_static(b"abcdef"));
        assert_eq!(framer.next_frame(), Some(too_long(b"abc")));
        framer.set_line_mode(Bytes::new());
        assert_eq!(framer.next_frame(), None);
        assert_eq!(events(&mut framer, &[b"g\nok\n"]), [line(b"ok")]);
    }

    #[test]
    fn pushed_back_bytes_still_over_the_limit_are_reported_again() {
        let mut framer = framer(b"\n", 3);
        framer.push(Bytes::from_static(b"abcdef\nok\n"));
        assert_eq!(framer.next_frame(), Some(too_long(b"abc")));
        framer.set_line_mode(Bytes::from_static(b"wx"));
        // "wx" + "def" is over the limit again.
        assert_eq!(framer.next_frame(), Some(too_long(b"wxd")));
        assert_eq!(drain(&mut framer), [line(b"ok")]);
    }

    #[test]
    fn clear_returns_everything_buffered_and_keeps_discarding() {
        let mut framer = framer(b"\n", 3);
        framer.push(Bytes::from_static(b"a\nbc\nd"));
        framer.push(Bytes::from_static(b"ef"));
        assert_eq!(framer.next_frame(), Some(line(b"a")));
        assert_eq!(framer.clear(), Bytes::from_static(b"bc\ndef"));
        assert_eq!(framer.next_frame(), None);

        framer.push(Bytes::from_static(b"abcdefg"));
        assert_eq!(framer.next_frame(), Some(too_long(b"abc")));
        // Everything after the reported bytes was still unparsed.
        assert_eq!(framer.clear(), Bytes::from_static(b"defg"));
        assert_eq!(events(&mut framer, &[b"hi\nok\n"]), [line(b"ok")]);
    }

    #[test]
    fn any_line_ending_accepts_lf_and_crlf_and_keeps_other_crs() {
        let mut framer = LineFramer::any_line_ending(100);
        let events = events(&mut framer, &[b"one\r\ntwo\n\r\n\na\rb\r\r", b"\nc\r"]);
        assert_eq!(
            events,
            [
                line(b"one"),
                line(b"two"),
                line(b""),
                line(b""),
                line(b"a\rb\r")
            ]
        );
        assert_eq!(framer.buffered(), 2);
        assert_eq!(framer.delimiter(), &b"\r\n"[..]);
    }

    #[test]
    fn any_line_ending_does_not_count_the_cr_toward_the_limit() {
        // Max 3: "abc\r\n" is a line; "abcd\n" is not; "abc\r" waits; "abc\rx" fails.
        for chunks in [
            &[&b"abc\r\nabcd\nok\n"[..]][..],
            &[b"abc\r", b"\nabcd", b"\nok\n"],
        ] {
            let mut framer = LineFramer::any_line_ending(3);
            assert_eq!(
                events(&mut framer, chunks),
                [line(b"abc"), too_long(b"abc"), line(b"ok")]
            );
        }
        let mut framer = LineFramer::any_line_ending(3);
        assert_eq!(events(&mut framer, &[b"abc\r"]), []);
        assert_eq!(framer.buffered(), 4);
        assert_eq!(
            events(&mut framer, &[b"x\nok\r\n"]),
            [too_long(b"abc"), line(b"ok")]
        );
        // A second CR is part of the line, so over the limit.
        let mut framer = LineFramer::any_line_ending(3);
        let events = events(&mut framer, &[b"ab\r\r\n", b"abc\r\r\nok\n"]);
        assert_eq!(events, [line(b"ab\r"), too_long(b"abc"), line(b"ok")]);
    }

    #[test]
    fn mode_flips_run_in_a_loop_not_on_the_stack() {
        let mut framer = framer(b"\n", 10);
        framer.push(Bytes::from(b"x\nx".repeat(100_000)));
        let mut lines = 0;
        while let Some(event) = framer.next_frame() {
            match event {
                Frame::Line(_) => {
                    lines += 1;
                    framer.set_raw_mode();
                }
                Frame::Raw(data) => framer.set_line_mode(data),
                Frame::TooLong(_) => unreachable!(),
            }
        }
        assert_eq!(lines, 100_000);
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn a_line_assembled_from_pieces_takes_the_buffer_with_it() {
        let mut framer = LineFramer::new(Bytes::from_static(b"\n"), 20_000);
        framer.push(Bytes::from(vec![b'x'; 16_000]));
        assert!(framer.next_frame().is_none());
        assert!(framer.partial.capacity() >= 16_000);
        framer.push(Bytes::from_static(b"\n"));
        assert!(matches!(framer.next_frame(), Some(Frame::Line(line)) if line.len() == 16_000));
        assert_eq!(
            framer.partial.capacity(),
            0,
            "no memory kept for a line long gone"
        );
    }

    #[test]
    fn lent_lines_view_their_chunk_and_a_run_survives_nothing_but_the_chunk() {
        let mut framer = LineFramer::new(Bytes::from_static(b"\r\n"), 100);
        let chunk = Bytes::from_static(b"a\r\nbb\r\nccc\r\n");
        framer.push(chunk.clone());
        let mut lent = Lent::new();
        assert_eq!(framer.next_lent(&mut lent), Some(Frame::Line(0..1)));
        assert_eq!(lent.bytes().as_ptr(), chunk.as_ptr());
        assert!(lent.run.is_some(), "a run began");
        assert_eq!(framer.next_lent(&mut lent), Some(Frame::Line(3..5)));
        // Steering ends the run; the framer goes on from where it is.
        framer.set_line_mode(Bytes::from_static(b"dd\r\n"));
        assert_eq!(framer.next_lent(&mut lent), Some(Frame::Line(0..2)));
        assert_eq!(&lent.bytes()[..2], b"dd");
        let Some(Frame::Line(range)) = framer.next_lent(&mut lent) else {
            panic!("the rest of the chunk follows the pushed-back line");
        };
        assert_eq!(&lent.bytes()[range], b"ccc");
        // A run from before a switch to raw mode is not trusted: the rest comes raw.
        framer.push(Bytes::from_static(b"e\r\nf\r\ng\r\n"));
        assert_eq!(framer.next_lent(&mut lent), Some(Frame::Line(0..1)));
        framer.set_raw_mode();
        assert_eq!(
            framer.next_lent(&mut lent),
            Some(Frame::Raw(Bytes::from_static(b"f\r\ng\r\n")))
        );
        // Another `Lent` (one that views something else) is repaired, not trusted.
        framer.set_line_mode(Bytes::new());
        framer.push(Bytes::from_static(b"h\r\ni\r\n"));
        assert_eq!(framer.next_lent(&mut lent), Some(Frame::Line(0..1)));
        let mut other = Lent::new();
        assert_eq!(framer.next_lent(&mut other), Some(Frame::Line(3..4)));
        assert_eq!(&other.bytes()[3..4], b"i");
        assert_eq!(framer.next_lent(&mut lent), None);
    }
}
