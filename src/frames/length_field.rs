//! Binary length prefixes: the general [`LengthField`] (Netty's
//! `LengthFieldBasedFrameDecoder`, tokio-util's `LengthDelimitedCodec`), and Twisted's
//! big-endian [`Int8`], [`Int16`] and [`Int32`] prefixes as its common cases.

use super::framing::{sealed::Decode, FrameHeader, Framing, Layout};
use super::FramingError;

/// A binary length field somewhere in each frame's header: where it is, how wide, in
/// which byte order, what its value counts, and how much of the header to strip.
///
/// A frame is read as: `offset` bytes, the field (`1` to `8` bytes, per constructor), then
/// enough bytes that the frame, from its first byte, is `offset + width + value +
/// adjustment` long. The receiver gets the frame minus its first `strip` bytes (by
/// default the offset and the field: the payload alone). A value that makes the frame
/// shorter than its header, or than `strip`, is [`FramingError::ImpossibleLength`].
///
/// Writing (see [`Framing::encode_header`]) puts the field first, holding the payload's
/// length minus the adjustment; a field at a non-zero offset follows bytes only the
/// application knows, so such a framing only reads.
///
/// # Examples
///
/// A 2-byte little-endian length that counts itself, after a 1-byte message type that the
/// receiver keeps (`strip(0)`):
///
/// ```
/// use bytes::Bytes;
/// use torsade::frames::{FrameDecoder, LengthField};
///
/// let framing = LengthField::u16().little_endian().offset(1).adjustment(-2).strip(0);
/// let mut decoder = FrameDecoder::new(framing, 1024);
/// decoder.push(Bytes::from_static(b"\x07\x05\x00abc"));
/// assert_eq!(decoder.next_frame().unwrap().unwrap(), &b"\x07\x05\x00abc"[..]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthField {
    offset: usize,
    width: usize,
    little_endian: bool,
    adjustment: i64,
    strip: usize,
}

impl LengthField {
    const fn with_width(width: usize) -> LengthField {
        LengthField {
            offset: 0,
            width,
            little_endian: false,
            adjustment: 0,
            strip: width,
        }
    }

    /// A 1-byte length field at the start, counting the payload, stripped.
    pub const fn u8() -> LengthField {
        LengthField::with_width(1)
    }

    /// A 2-byte big-endian length field at the start, counting the payload, stripped.
    pub const fn u16() -> LengthField {
        LengthField::with_width(2)
    }

    /// A 3-byte big-endian length field at the start, counting the payload, stripped.
    pub const fn u24() -> LengthField {
        LengthField::with_width(3)
    }

    /// A 4-byte big-endian length field at the start, counting the payload, stripped.
    pub const fn u32() -> LengthField {
        LengthField::with_width(4)
    }

    /// An 8-byte big-endian length field at the start, counting the payload, stripped.
    pub const fn u64() -> LengthField {
        LengthField::with_width(8)
    }

    /// The field starts `offset` bytes into the frame; the stripped bytes become the
    /// offset and the field.
    pub const fn offset(mut self, offset: usize) -> LengthField {
        self.offset = offset;
        self.strip = offset.saturating_add(self.width);
        self
    }

    /// The field is little-endian.
    pub const fn little_endian(mut self) -> LengthField {
        self.little_endian = true;
        self
    }

    /// Added to the field's value to get the bytes that follow the field (negative when
    /// the value also counts the header, for instance).
    pub const fn adjustment(mut self, adjustment: i64) -> LengthField {
        self.adjustment = adjustment;
        self
    }

    /// Removes the frame's first `strip` bytes before it is delivered (`0` keeps the
    /// header).
    pub const fn strip(mut self, strip: usize) -> LengthField {
        self.strip = strip;
        self
    }

    /// The largest value the field holds.
    fn max_value(&self) -> u64 {
        if self.width >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.width)) - 1
        }
    }

    fn read_value(&self, field: &[u8]) -> u64 {
        let fold = |value: u64, &byte: &u8| (value << 8) | u64::from(byte);
        if self.little_endian {
            field.iter().rev().fold(0, fold)
        } else {
            field.iter().fold(0, fold)
        }
    }
}

impl Decode for LengthField {
    fn decode_header(&self, input: &[u8], _: usize) -> Result<Option<Layout>, FramingError> {
        let field_end = self.offset.saturating_add(self.width);
        let Some(field) = input.get(self.offset..field_end) else {
            return Ok(None);
        };
        let value = self.read_value(field);
        let length = i128::from(value) + i128::from(self.adjustment) + field_end as i128;
        let impossible = FramingError::ImpossibleLength { value };
        if length < field_end as i128 || length < self.strip as i128 {
            return Err(impossible);
        }
        let payload = u64::try_from(length - self.strip as i128).map_err(|_| impossible)?;
        Ok(Some(Layout {
            header: self.strip,
            payload,
            trailer: 0,
        }))
    }
}

impl Framing for LengthField {
    fn encode_header(&self, length: usize) -> Result<FrameHeader, FramingError> {
        if self.offset != 0 {
            return Err(FramingError::EncodeUnsupported);
        }
        let max = self.max_value();
        let value = i128::try_from(length).unwrap_or(i128::MAX) - i128::from(self.adjustment);
        let value = u64::try_from(value)
            .ok()
            .filter(|&value| value <= max)
            .ok_or(FramingError::PayloadTooLong { length, max })?;
        let bytes = value.to_be_bytes();
        let mut field = [0u8; 8];
        field[..self.width].copy_from_slice(&bytes[8 - self.width..]);
        if self.little_endian {
            field[..self.width].reverse();
        }
        Ok(FrameHeader::new(&field[..self.width]))
    }
}

macro_rules! twisted_prefix {
    ($(#[$doc:meta])* $name:ident, $width:expr, $twisted:literal) => {
        $(#[$doc])*
        #[doc = concat!("Twisted's `", $twisted, "`: the payload's length as a big-endian ")]
        #[doc = concat!(stringify!($width), "-byte unsigned integer, then the payload; the")]
        /// [`LengthField`] at the start that counts the payload alone.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $name {
            const FIELD: LengthField = LengthField::with_width($width);
        }

        impl Decode for $name {
            fn decode_header(
                &self,
                input: &[u8],
                max_length: usize,
            ) -> Result<Option<Layout>, FramingError> {
                Self::FIELD.decode_header(input, max_length)
            }
        }

        impl Framing for $name {
            fn encode_header(&self, length: usize) -> Result<FrameHeader, FramingError> {
                Self::FIELD.encode_header(length)
            }
        }
    };
}

twisted_prefix!(
    /// A one-byte length prefix.
    Int8, 1, "Int8StringReceiver"
);
twisted_prefix!(
    /// A two-byte length prefix.
    Int16, 2, "Int16StringReceiver"
);
twisted_prefix!(
    /// A four-byte length prefix.
    ///
    /// ```
    /// use torsade::frames::{Framing, Int32};
    ///
    /// assert_eq!(&*Int32.encode_header(5).unwrap(), &[0, 0, 0, 5]);
    /// ```
    Int32, 4, "Int32StringReceiver"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(header: usize, payload: u64) -> Option<Layout> {
        Some(Layout {
            header,
            payload,
            trailer: 0,
        })
    }

    #[test]
    fn widths_and_byte_orders_read_as_numbers() {
        let input = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(LengthField::u8().decode_header(&input, 0), Ok(layout(1, 1)));
        assert_eq!(
            LengthField::u16().decode_header(&input, 0),
            Ok(layout(2, 0x0102))
        );
        assert_eq!(
            LengthField::u24().decode_header(&input, 0),
            Ok(layout(3, 0x010203))
        );
        assert_eq!(
            LengthField::u32().little_endian().decode_header(&input, 0),
            Ok(layout(4, 0x04030201))
        );
        assert_eq!(
            LengthField::u64().decode_header(&input, 0),
            Ok(layout(8, 0x0102030405060708))
        );
        assert_eq!(LengthField::u32().decode_header(&input[..3], 0), Ok(None));
    }

    #[test]
    fn offset_adjustment_and_strip_place_the_payload() {
        // type byte, 2-byte length counting the whole frame, body
        let framing = LengthField::u16().offset(1).adjustment(-3).strip(0);
        assert_eq!(framing.decode_header(&[9, 0, 5], 0), Ok(layout(0, 5)));
        let stripped = LengthField::u16().offset(1).adjustment(-3);
        assert_eq!(stripped.decode_header(&[9, 0, 5], 0), Ok(layout(3, 2)));
    }

    #[test]
    fn a_frame_shorter_than_its_header_is_impossible() {
        let framing = LengthField::u16().adjustment(-3);
        assert_eq!(
            framing.decode_header(&[0, 2], 0),
            Err(FramingError::ImpossibleLength { value: 2 })
        );
        let over_strip = LengthField::u8().strip(5);
        assert_eq!(
            over_strip.decode_header(&[1], 0),
            Err(FramingError::ImpossibleLength { value: 1 })
        );
        assert_eq!(
            LengthField::u64()
                .adjustment(1)
                .decode_header(&[0xff; 8], 0),
            Err(FramingError::ImpossibleLength { value: u64::MAX })
        );
    }

    #[test]
    fn a_payload_too_long_for_the_field_is_refused_not_truncated() {
        assert_eq!(&*Int8.encode_header(255).unwrap(), &[255]);
        assert_eq!(
            Int8.encode_header(256).unwrap_err(),
            FramingError::PayloadTooLong {
                length: 256,
                max: 255
            }
        );
        assert_eq!(&*Int16.encode_header(65535).unwrap(), &[255, 255]);
        assert!(Int16.encode_header(65536).is_err());
        assert_eq!(
            &*LengthField::u24()
                .little_endian()
                .encode_header(0x010203)
                .unwrap(),
            &[3, 2, 1]
        );
        assert!(LengthField::u32().offset(2).encode_header(1).is_err());
    }

    #[test]
    fn encoding_subtracts_the_adjustment() {
        let counts_itself = LengthField::u16().adjustment(-2).strip(2);
        assert_eq!(&*counts_itself.encode_header(3).unwrap(), &[0, 5]);
        assert_eq!(counts_itself.decode_header(&[0, 5], 0), Ok(layout(2, 3)));
    }
}
