//! What a string handler can do from inside a callback: [`StringContext`].

use std::fmt;
use std::ops::{Deref, DerefMut};

use torsade::frames::{FrameHeader, Framing, FramingError};
use torsade::{Context, Transport};

/// The connection and its framing, as seen from inside a
/// [`StringHandler`](crate::StringHandler) callback: Twisted's `self.transport` and
/// `sendString`.
///
/// It derefs to the connection's [`Context`], so everything a protocol's callback can do
/// (write, close, pause, time — through [`Transport`]) a string handler does the same way.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::frames::FramingError;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Int8StringReceiver, StringContext, StringHandler};
///
/// struct Doubler;
///
/// impl StringHandler for Doubler {
///     fn string_received(&mut self, strings: &mut StringContext<'_>, string: Bytes) {
///         let doubled = [&string[..], &string[..]].concat();
///         if let Err(FramingError::PayloadTooLong { .. }) = strings.send_string(&doubled) {
///             strings.send_string(b"too long").unwrap();
///         }
///     }
/// }
///
/// let mut connection = TestConnection::new(Int8StringReceiver::new(Doubler));
/// connection.receive(b"\x02ab");
/// assert_eq!(connection.take_written(), &b"\x04abab"[..]);
/// connection.receive(&[[200].as_slice(), &[b'x'; 200]].concat());
/// assert_eq!(connection.take_written(), &b"\x08too long"[..]);
/// ```
pub struct StringContext<'a> {
    cx: Context<'a>,
    framing: &'a dyn Encode,
    max_length: usize,
}

impl<'a> StringContext<'a> {
    pub(crate) fn new(
        cx: Context<'a>,
        framing: &'a dyn Encode,
        max_length: usize,
    ) -> StringContext<'a> {
        StringContext {
            cx,
            framing,
            max_length,
        }
    }

    /// Sends `string` as one frame: header, payload, trailer, in one
    /// [`write_many`](Transport::write_many) call.
    ///
    /// # Errors
    ///
    /// [`FramingError::PayloadTooLong`] if the length prefix cannot announce `string`'s
    /// length (nothing is sent: a truncated prefix would desynchronise the peer);
    /// [`FramingError::EncodeUnsupported`] for a length field that does not start the
    /// frame.
    #[doc(alias = "sendString")]
    pub fn send_string(&mut self, string: &[u8]) -> Result<(), FramingError> {
        let header = self.framing.header(string.len())?;
        self.cx
            .write_many(&[&header, string, self.framing.trailer_bytes()]);
        Ok(())
    }

    /// The longest payload accepted from the peer, in bytes.
    #[doc(alias = "MAX_LENGTH")]
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

/// The sending half of a framing, as an object: the context is not generic over it.
pub(crate) trait Encode: Send + Sync {
    fn header(&self, length: usize) -> Result<FrameHeader, FramingError>;
    fn trailer_bytes(&self) -> &'static [u8];
}

impl<F: Framing> Encode for F {
    fn header(&self, length: usize) -> Result<FrameHeader, FramingError> {
        self.encode_header(length)
    }

    fn trailer_bytes(&self) -> &'static [u8] {
        self.trailer()
    }
}

impl<'a> Deref for StringContext<'a> {
    type Target = Context<'a>;

    fn deref(&self) -> &Context<'a> {
        &self.cx
    }
}

impl<'a> DerefMut for StringContext<'a> {
    fn deref_mut(&mut self) -> &mut Context<'a> {
        &mut self.cx
    }
}

impl fmt::Debug for StringContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringContext")
            .field("connection", &self.cx)
            .field("max_length", &self.max_length)
            .finish()
    }
}
