//! What a delimiter may be given as: [`IntoDelimiter`], anything byte-like.

use bytes::Bytes;

/// Bytes that can end lines: a byte string literal (`b"\n"`), a slice, a `str`, a
/// `Vec<u8>`, a `String` or a [`Bytes`]. Static bytes and owned buffers are taken without a
/// copy.
///
/// # Examples
///
/// ```
/// use torsade::lines::LineFramer;
///
/// assert_eq!(LineFramer::new(b"\n", 80).delimiter(), &b"\n"[..]);
/// assert_eq!(LineFramer::new("\r\n", 80).delimiter(), &b"\r\n"[..]);
/// assert_eq!(LineFramer::new(vec![0], 80).delimiter(), &b"\0"[..]);
/// ```
pub trait IntoDelimiter {
    /// The delimiter's bytes.
    fn into_delimiter(self) -> Bytes;
}

impl IntoDelimiter for Bytes {
    fn into_delimiter(self) -> Bytes {
        self
    }
}

impl IntoDelimiter for Vec<u8> {
    fn into_delimiter(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoDelimiter for String {
    fn into_delimiter(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoDelimiter for &'static [u8] {
    fn into_delimiter(self) -> Bytes {
        Bytes::from_static(self)
    }
}

impl<const N: usize> IntoDelimiter for &'static [u8; N] {
    fn into_delimiter(self) -> Bytes {
        Bytes::from_static(self)
    }
}

impl IntoDelimiter for &'static str {
    fn into_delimiter(self) -> Bytes {
        Bytes::from_static(self.as_bytes())
    }
}
