//! What can be wrong with a framed byte stream: [`FramingError`].

/// A frame that cannot be read, or a payload that cannot be sent, in a length-prefixed
/// framing.
///
/// A receiver that meets one closes the connection with it as the reason
/// ([`ConnectionError::Framing`](crate::ConnectionError::Framing)); every variant but
/// [`TooLong`](FramingError::TooLong) means the stream cannot be trusted past that point.
///
/// # Examples
///
/// ```
/// use torsade::frames::{FrameDecoder, FramingError, Netstring};
///
/// let mut decoder = FrameDecoder::new(Netstring, 100);
/// decoder.push(bytes::Bytes::from_static(b"3x"));
/// match decoder.next_frame() {
///     Some(Err(FramingError::InvalidLength { byte: b'x', .. })) => {}
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The peer announced a frame longer than the limit. `length` is the announced length
    /// (for a netstring, the length read so far: the frame is at least that long).
    #[error(
        "the peer announced a frame of {length} bytes or more, over the limit of {max_length}"
    )]
    TooLong {
        /// The announced length, in bytes.
        length: u64,
        /// The limit, in bytes.
        max_length: usize,
    },

    /// A netstring's length has a byte that is not an ASCII digit where a digit (or the
    /// `:` after at least one) was expected.
    #[error(
        "a netstring length has {byte:#04x} at offset {offset}, where a digit or ':' was expected"
    )]
    InvalidLength {
        /// The offending byte.
        byte: u8,
        /// Its offset from the start of the frame.
        offset: usize,
    },

    /// A netstring's length starts with `0` followed by more digits (only `0:` may start
    /// with a zero).
    #[error("a netstring length has a leading zero")]
    LeadingZero,

    /// A netstring's payload is not followed by `,`.
    #[error("a netstring ends with {found:#04x} where ',' was expected")]
    MissingComma {
        /// The byte found instead.
        found: u8,
    },

    /// A length field whose value, with the framing's adjustment, gives a frame shorter
    /// than its own header (or longer than a `u64` can count).
    #[error("a length field of {value} gives an impossible frame length")]
    ImpossibleLength {
        /// The field's value as read.
        value: u64,
    },

    /// A payload too long for the framing's length prefix: sending it would need a
    /// truncated length field, which the peer would misread.
    #[error("a payload of {length} bytes does not fit a length field of at most {max}")]
    PayloadTooLong {
        /// The payload's length, in bytes.
        length: usize,
        /// The largest the field can announce.
        max: u64,
    },

    /// The framing cannot write its header for the application (a length field that is
    /// not at the start of the frame sits after bytes only the application knows).
    #[error("this framing's header cannot be written from the payload alone")]
    EncodeUnsupported,
}
