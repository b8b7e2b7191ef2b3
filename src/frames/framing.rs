//! What a length-prefixed wire format is to the decoder and the senders: the [`Framing`]
//! trait, and the header bytes it writes ([`FrameHeader`]).

use std::fmt;
use std::ops::Deref;

use super::FramingError;

/// The longest header a framing writes: a netstring's twenty digits and `:`, or an
/// eight-byte length field.
const MAX_HEADER: usize = 24;

/// A length-prefixed wire format: [`Netstring`](super::Netstring),
/// [`Int8`](super::Int8), [`Int16`](super::Int16), [`Int32`](super::Int32), or a
/// general [`LengthField`](super::LengthField).
///
/// A [`FrameDecoder`](super::FrameDecoder) reads frames in any of them; a sender writes
/// [`encode_header`](Framing::encode_header), the payload, then
/// [`trailer`](Framing::trailer). The set is closed (the trait is sealed): a binary
/// protocol with a length field anywhere in its header is a [`LengthField`](super::LengthField),
/// and any other format is a tokio-util codec.
pub trait Framing: sealed::Decode + Clone + fmt::Debug + Send + Sync + 'static {
    /// The header to write before a payload of `length` bytes.
    ///
    /// # Errors
    ///
    /// [`FramingError::PayloadTooLong`] if the length prefix cannot hold `length` (the
    /// header is never truncated); [`FramingError::EncodeUnsupported`] for a length field
    /// that does not start the frame.
    fn encode_header(&self, length: usize) -> Result<FrameHeader, FramingError>;

    /// The bytes to write after each payload (a netstring's `,`; nothing for the others).
    fn trailer(&self) -> &'static [u8] {
        &[]
    }
}

/// Where a frame lies at the start of a buffer, as its header announced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes before the payload (skipped).
    pub(crate) header: usize,
    /// The payload's announced length.
    pub(crate) payload: u64,
    /// Bytes after the payload, checked then skipped.
    pub(crate) trailer: usize,
}

impl Layout {
    /// The whole frame's length, if it is addressable.
    pub(crate) fn total(&self) -> Option<u64> {
        (self.header as u64)
            .checked_add(self.payload)?
            .checked_add(self.trailer as u64)
    }
}

pub(crate) mod sealed {
    use super::{FramingError, Layout};

    /// The decoding half of a framing, for the decoder only.
    pub trait Decode {
        /// Reads the header at the start of `input`. `Ok(None)`: not enough bytes yet, and
        /// none of them is wrong so far. A payload over `max_length` is returned as is
        /// (the decoder decides); an error is for bytes that can never become a header.
        fn decode_header(
            &self,
            input: &[u8],
            max_length: usize,
        ) -> Result<Option<Layout>, FramingError>;

        /// Checks the bytes after the payload.
        fn check_trailer(&self, trailer: &[u8]) -> Result<(), FramingError> {
            let _ = trailer;
            Ok(())
        }
    }
}

/// The encoded header of one frame, written before its payload (see
/// [`Framing::encode_header`]). Dereferences to its bytes.
///
/// # Examples
///
/// ```
/// use torsade::frames::{Framing, Int16, Netstring};
///
/// assert_eq!(&*Netstring.encode_header(12).unwrap(), b"12:");
/// assert_eq!(&*Int16.encode_header(258).unwrap(), &[1, 2]);
/// assert!(Int16.encode_header(65536).is_err());
/// ```
#[derive(Clone, Copy)]
pub struct FrameHeader {
    bytes: [u8; MAX_HEADER],
    len: u8,
}

impl FrameHeader {
    /// A header of `bytes`; at most `MAX_HEADER` of them, which every framing's header is.
    pub(crate) fn new(bytes: &[u8]) -> FrameHeader {
        let mut header = FrameHeader {
            bytes: [0; MAX_HEADER],
            len: 0,
        };
        let len = bytes.len().min(MAX_HEADER);
        header.bytes[..len].copy_from_slice(&bytes[..len]);
        // `len` is at most MAX_HEADER (24), which fits a u8.
        header.len = len as u8;
        header
    }
}

impl Deref for FrameHeader {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FrameHeader").field(&&**self).finish()
    }
}
