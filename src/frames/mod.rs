//! Length-prefixed frames: the wire formats ([`Netstring`], the binary prefixes [`Int8`],
//! [`Int16`], [`Int32`] and the general [`LengthField`]) and the one decoder that reads
//! them ([`FrameDecoder`]), which the string receivers of `torsade-protocols` run; the
//! async face reads the same formats with the same rules
//! ([`read_frame`](crate::Connection::read_frame)).
//!
//! Like [`lines`](crate::lines), it is sans-I/O and every rule is a property of the byte
//! stream, never of its chunking: a limit on each payload (Twisted's default
//! [`DEFAULT_MAX_FRAME_LENGTH`], 99 999 bytes), checked as soon as a header announces its
//! length, errors typed ([`FramingError`]) and never reported twice, and a buffer that
//! holds at most one frame.

mod decoder;
mod error;
pub(crate) mod framing;
mod length_field;
mod netstring;

pub use self::decoder::{FrameDecoder, DEFAULT_MAX_FRAME_LENGTH};
pub use self::error::FramingError;
pub use self::framing::{FrameHeader, Framing};
pub use self::length_field::{Int16, Int32, Int8, LengthField};
pub use self::netstring::Netstring;
