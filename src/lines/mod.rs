//! Lines: the one line framer ([`LineFramer`]) that the line receivers of
//! `torsade-protocols` and the async face's [`read_line`](crate::Connection::read_line)
//! both run, with its rules and defaults.
//!
//! It is sans-I/O: chunks are pushed in with [`push`](LineFramer::push), frames pulled out
//! with [`next_frame`](LineFramer::next_frame) (or [`next_lent`](LineFramer::next_lent)),
//! and between two frames its user may switch modes, push bytes back or clear the buffer.
//! Every rule is a property of the byte stream, never of how it was chunked (where
//! Twisted's receivers depend on the chunking, the rule here is the one that does not):
//!
//! - A line is the bytes before the first delimiter. A complete line of up to
//!   `max_length` bytes is delivered. An unfinished line fails as soon as it can no longer
//!   become one: when no delimiter starting at or before `max_length` can still complete.
//! - A failed line is reported once, with its first `max_length` bytes; the rest of it, up
//!   to and including its delimiter, is discarded (also across chunks) and never parsed,
//!   unless bytes are pushed back first.
//! - Bytes pushed back with `set_line_mode(extra)` are parsed before anything not yet
//!   parsed. Pushed back right after an over-long line is reported, they end its discard:
//!   the protocol has taken responsibility for the stream, so `extra` is parsed, then
//!   everything after the reported bytes, with nothing discarded (pushing back the
//!   report's tail re-joins the line; bytes that still make a line over the limit are
//!   reported again). Pushing back nothing is no push-back: the discard goes on.
//! - All of this is a loop over a queue, never recursion.
//!
//! Lines are slices of the received chunks: a line whole in a chunk is never copied (only
//! an unfinished line's bytes are copied into the framer's buffer, which therefore never
//! holds more than `max_length` plus one delimiter, and gives its memory back once the line
//! is complete).

mod delimiter;
mod framer;
mod into_delimiter;

pub use self::framer::{Frame, Lent, LineFramer, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};
pub use self::into_delimiter::IntoDelimiter;
