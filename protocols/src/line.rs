//! A received line, lent to the handler: [`Line`].
//!
//! A line receiver hands each line to [`LineHandler::line_received`] as a `Line`: a view
//! of the bytes where they were received, with no copy and no reference-count traffic.
//! Read it as a `&[u8]` (`Line` dereferences to one); keep it past the callback with
//! [`Line::to_bytes`], which is zero-copy too (it shares the receive buffer).
//!
//! Why not hand out a `Bytes` for every line: slicing a `Bytes` off a shared buffer
//! increments an atomic reference count, and dropping it decrements it again — two atomic
//! operations per line, more than the rest of framing a short line costs. A `Line` costs
//! nothing until it is kept.
//!
//! [`LineHandler::line_received`]: crate::LineHandler::line_received
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use torsade_protocols::{Line, LineContext, LineHandler};
//!
//! /// Keeps the lines that start with `!`, answers the others at once.
//! #[derive(Default)]
//! struct Commands {
//!     kept: Vec<Bytes>,
//! }
//!
//! impl LineHandler for Commands {
//!     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//!         if line.starts_with(b"!") {
//!             self.kept.push(line.to_bytes()); // zero-copy: shares the receive buffer
//!         } else {
//!             lines.send_line(&line);
//!         }
//!     }
//! }
//!
//! let mut connection = torsade::testing::TestConnection::new(
//!     torsade_protocols::LineOnlyReceiver::new(Commands::default()),
//! );
//! connection.receive(b"!keep\r\necho\r\n");
//! assert_eq!(connection.take_written(), &b"echo\r\n"[..]);
//! assert_eq!(connection.protocol().handler().kept, [Bytes::from_static(b"!keep")]);
//! ```

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// A line, delimiter removed, lent to the handler for the duration of the callback.
///
/// Dereferences to `[u8]`. [`to_bytes`](Line::to_bytes) keeps it beyond the callback
/// without copying.
#[derive(Clone, Copy)]
pub struct Line<'a> {
    /// The line's bytes.
    bytes: &'a [u8],
    /// The buffer they are part of.
    owner: &'a Bytes,
}

impl<'a> Line<'a> {
    /// The line `bytes`, which lie inside `owner`.
    pub(crate) fn new(bytes: &'a [u8], owner: &'a Bytes) -> Line<'a> {
        Line { bytes, owner }
    }

    /// The line's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The line as a `Bytes` that outlives the callback: shares the receive buffer, copies
    /// nothing.
    pub fn to_bytes(&self) -> Bytes {
        if self.bytes.is_empty() {
            return Bytes::new();
        }
        self.owner.slice_ref(self.bytes)
    }
}

impl Deref for Line<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl AsRef<[u8]> for Line<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl PartialEq for Line<'_> {
    fn eq(&self, other: &Line<'_>) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Line<'_> {}

impl PartialEq<[u8]> for Line<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.bytes == other
    }
}

impl PartialEq<&[u8]> for Line<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.bytes == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Line<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.bytes == *other
    }
}

/// Shown as `Bytes` shows itself: `b"text\r"`.
impl fmt::Debug for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &byte in self.bytes {
            write!(f, "{}", std::ascii::escape_default(byte))?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_line_shares_the_buffer_it_came_from() {
        let buffer = Bytes::from_static(b"first\r\nsecond\r\n");
        let line = Line::new(&buffer[7..13], &buffer);
        let kept = line.to_bytes();
        assert_eq!(kept, &b"second"[..]);
        assert_eq!(kept.as_ptr(), buffer[7..].as_ptr(), "no copy");
        assert_eq!(line, &b"second"[..]);
    }

    #[test]
    fn an_empty_line_keeps_nothing_alive() {
        let buffer = Bytes::from(vec![b'\n']);
        let line = Line::new(&buffer[..0], &buffer);
        assert!(line.to_bytes().is_empty());
        assert!(line.is_empty());
    }

    #[test]
    fn debug_shows_the_bytes_escaped() {
        let buffer = Bytes::from_static(b"say \"hi\"\t\xff");
        assert_eq!(
            format!("{:?}", Line::new(&buffer, &buffer)),
            r#"b"say \"hi\"\t\xff""#
        );
    }
}
