//! Netstrings (`LEN:DATA,`, D. J. Bernstein's format, Twisted's `NetstringReceiver`):
//! [`Netstring`].

use super::framing::{sealed::Decode, FrameHeader, Framing, Layout};
use super::FramingError;

/// The netstring framing: the payload's length in ASCII decimal, `:`, the payload, `,`.
///
/// The length is checked byte by byte and fails as soon as it cannot become valid: a byte
/// other than a digit (or the `:` after at least one digit), a leading zero before more
/// digits, or a value over the limit (so a peer cannot keep the receiver reading digits).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::frames::{FrameDecoder, Framing, Netstring};
///
/// let mut decoder = FrameDecoder::new(Netstring, 100);
/// decoder.push(Bytes::from_static(b"5:hello,0:,"));
/// assert_eq!(decoder.next_frame().unwrap().unwrap(), &b"hello"[..]);
/// assert_eq!(decoder.next_frame().unwrap().unwrap(), &b""[..]);
/// assert!(decoder.next_frame().is_none());
///
/// assert_eq!(&*Netstring.encode_header(5).unwrap(), b"5:");
/// assert_eq!(Netstring.trailer(), b",");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Netstring;

impl Decode for Netstring {
    fn decode_header(
        &self,
        input: &[u8],
        max_length: usize,
    ) -> Result<Option<Layout>, FramingError> {
        let mut value: u64 = 0;
        for (offset, &byte) in input.iter().enumerate() {
            match byte {
                b'0'..=b'9' => {
                    if offset == 1 && input[0] == b'0' {
                        return Err(FramingError::LeadingZero);
                    }
                    value = value
                        .saturating_mul(10)
                        .saturating_add(u64::from(byte - b'0'));
                    // More than twenty digits is past any u64, so past any limit too.
                    if value > max_length as u64 || offset >= 20 {
                        return Err(FramingError::TooLong {
                            length: value,
                            max_length,
                        });
                    }
                }
                b':' if offset > 0 => {
                    return Ok(Some(Layout {
                        header: offset + 1,
                        payload: value,
                        trailer: 1,
                    }));
                }
                _ => return Err(FramingError::InvalidLength { byte, offset }),
            }
        }
        Ok(None)
    }

    fn check_trailer(&self, trailer: &[u8]) -> Result<(), FramingError> {
        match trailer.first() {
            Some(b',') => Ok(()),
            Some(&found) => Err(FramingError::MissingComma { found }),
            None => Ok(()),
        }
    }
}

impl Framing for Netstring {
    fn encode_header(&self, length: usize) -> Result<FrameHeader, FramingError> {
        // Twenty digits hold any u64, then the colon.
        let mut digits = [0u8; 21];
        let mut start = digits.len() - 1;
        digits[start] = b':';
        let mut rest = length;
        loop {
            start -= 1;
            // `rest % 10` is a single digit.
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Ok(FrameHeader::new(&digits[start..]))
    }

    fn trailer(&self) -> &'static [u8] {
        b","
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(input: &[u8]) -> Result<Option<Layout>, FramingError> {
        Netstring.decode_header(input, 99_999)
    }

    #[test]
    fn a_length_is_digits_then_a_colon() {
        assert_eq!(
            header(b"12:x"),
            Ok(Some(Layout {
                header: 3,
                payload: 12,
                trailer: 1
            }))
        );
        assert_eq!(
            header(b"0:"),
            Ok(Some(Layout {
                header: 2,
                payload: 0,
                trailer: 1
            }))
        );
        assert_eq!(header(b"123"), Ok(None));
        assert_eq!(header(b""), Ok(None));
    }

    #[test]
    fn a_length_fails_at_the_first_byte_that_cannot_belong() {
        assert_eq!(
            header(b":"),
            Err(FramingError::InvalidLength {
                byte: b':',
                offset: 0
            })
        );
        assert_eq!(
            header(b"1a"),
            Err(FramingError::InvalidLength {
                byte: b'a',
                offset: 1
            })
        );
        assert_eq!(
            header(b"-1:"),
            Err(FramingError::InvalidLength {
                byte: b'-',
                offset: 0
            })
        );
        assert_eq!(header(b"01"), Err(FramingError::LeadingZero));
        assert_eq!(
            header(b"100000"),
            Err(FramingError::TooLong {
                length: 100_000,
                max_length: 99_999
            })
        );
        assert_eq!(header(b"99999"), Ok(None), "at the limit, still fine");
    }

    #[test]
    fn too_many_digits_never_overflow() {
        let digits = [b'9'; 40];
        assert!(matches!(
            Netstring.decode_header(&digits, usize::MAX),
            Err(FramingError::TooLong {
                length: u64::MAX,
                ..
            })
        ));
    }

    #[test]
    fn headers_encode_every_width() {
        assert_eq!(&*Netstring.encode_header(0).unwrap(), b"0:");
        assert_eq!(&*Netstring.encode_header(99_999).unwrap(), b"99999:");
        let widest = Netstring.encode_header(usize::MAX).unwrap();
        assert_eq!(&*widest, format!("{}:", usize::MAX).as_bytes());
    }
}
