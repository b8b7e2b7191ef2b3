//! Length-prefixed frames for a [`StringHandler`]: [`StringReceiver`], and Twisted's
//! [`NetstringReceiver`], [`Int8StringReceiver`], [`Int16StringReceiver`] and
//! [`Int32StringReceiver`] as its common cases.

use std::fmt;

use bytes::Bytes;
use torsade::frames::{
    FrameDecoder, Framing, FramingError, Int16, Int32, Int8, LengthField, Netstring,
    DEFAULT_MAX_FRAME_LENGTH,
};
use torsade::{ConnectionError, Context, DisconnectReason, Protocol, Transport};

use crate::{StringContext, StringHandler};

/// A [`Protocol`] that reads the frames of a [`Framing`] for a [`StringHandler`].
///
/// # Wire format and limits
///
/// Per the framing (see [`torsade::frames`]). A payload may be at most
/// [`max_length`](StringReceiver::with_max_length) bytes
/// ([`DEFAULT_MAX_FRAME_LENGTH`], 99 999, unless set), checked as soon as the header
/// announces it ([`length_limit_exceeded`](StringHandler::length_limit_exceeded)); a
/// receiver holds at most one frame plus the chunk being parsed. Bytes that break the
/// framing (a netstring length with a letter in it, a missing `,`, an impossible length
/// field) close the connection with [`ConnectionError::Framing`] as the reason.
///
/// The same bytes give the same strings however the network chunks them; once the
/// protocol asks to close, or pauses reading, no further string is delivered (a paused
/// receiver delivers what it holds when reading resumes).
///
/// # Examples
///
/// A general length field: a 2-byte type, then a 4-byte little-endian length of the rest.
///
/// ```
/// use bytes::Bytes;
/// use torsade::frames::LengthField;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{StringContext, StringHandler, StringReceiver};
///
/// #[derive(Default)]
/// struct Messages(Vec<Bytes>);
///
/// impl StringHandler for Messages {
///     fn string_received(&mut self, _: &mut StringContext<'_>, string: Bytes) {
///         self.0.push(string);
///     }
/// }
///
/// let framing = LengthField::u32().little_endian().offset(2).strip(0);
/// let receiver = StringReceiver::with_framing(framing, Messages::default());
/// let mut connection = TestConnection::new(receiver.with_max_length(1024));
/// connection.receive(b"\x01\x00\x03\x00\x00\x00abc");
/// assert_eq!(connection.protocol().handler().0, [&b"\x01\x00\x03\x00\x00\x00abc"[..]]);
/// ```
pub struct StringReceiver<F, H> {
    decoder: FrameDecoder<F>,
    /// The framing again, for sending while the decoder is busy.
    framing: F,
    handler: H,
}

/// Netstrings (`5:hello,`) for a [`StringHandler`]: Twisted's `NetstringReceiver`.
///
/// A netstring's length is checked digit by digit; a byte that cannot belong, a leading
/// zero, a length over the limit or a missing `,` closes the connection with a
/// [`FramingError`]. Unlike Twisted's, no string is delivered after the protocol closes
/// the connection, even from the same chunk.
pub type NetstringReceiver<H> = StringReceiver<Netstring, H>;

/// Strings after a one-byte length: Twisted's `Int8StringReceiver`.
pub type Int8StringReceiver<H> = StringReceiver<Int8, H>;

/// Strings after a big-endian two-byte length: Twisted's `Int16StringReceiver`.
pub type Int16StringReceiver<H> = StringReceiver<Int16, H>;

/// Strings after a big-endian four-byte length: Twisted's `Int32StringReceiver`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Int32StringReceiver, StringContext, StringHandler};
///
/// struct Upper;
///
/// impl StringHandler for Upper {
///     fn string_received(&mut self, strings: &mut StringContext<'_>, string: Bytes) {
///         strings.send_string(&string.to_ascii_uppercase()).unwrap();
///     }
/// }
///
/// let mut connection = TestConnection::new(Int32StringReceiver::new(Upper));
/// connection.receive(b"\x00\x00\x00\x02hi");
/// assert_eq!(connection.take_written(), &b"\x00\x00\x00\x02HI"[..]);
/// ```
pub type Int32StringReceiver<H> = StringReceiver<Int32, H>;

/// Frames of a general [`LengthField`] for a [`StringHandler`].
pub type LengthFieldReceiver<H> = StringReceiver<LengthField, H>;

impl<F: Framing + Default, H: StringHandler> StringReceiver<F, H> {
    /// A receiver for `handler`, with a 99 999-byte limit.
    pub fn new(handler: H) -> StringReceiver<F, H> {
        StringReceiver::with_framing(F::default(), handler)
    }
}

impl<F: Framing, H: StringHandler> StringReceiver<F, H> {
    /// A receiver of `framing` for `handler`, with a 99 999-byte limit.
    pub fn with_framing(framing: F, handler: H) -> StringReceiver<F, H> {
        StringReceiver {
            decoder: FrameDecoder::new(framing.clone(), DEFAULT_MAX_FRAME_LENGTH),
            framing,
            handler,
        }
    }

    /// Accepts payloads of at most `max_length` bytes.
    #[doc(alias = "MAX_LENGTH")]
    pub fn with_max_length(mut self, max_length: usize) -> StringReceiver<F, H> {
        self.decoder = FrameDecoder::new(self.framing.clone(), max_length);
        self
    }

    /// The longest payload accepted, in bytes.
    pub fn max_length(&self) -> usize {
        self.decoder.max_length()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Gives the handler back, dropping anything buffered.
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// Runs `callback` with the handler and a context, then delivers what became
    /// deliverable.
    fn call<R>(
        &mut self,
        cx: Context<'_>,
        callback: impl FnOnce(&mut H, &mut StringContext<'_>) -> R,
    ) -> R {
        let mut strings = StringContext::new(cx, &self.framing, self.decoder.max_length());
        let result = callback(&mut self.handler, &mut strings);
        deliver(&mut self.decoder, &mut self.handler, &mut strings);
        result
    }
}

/// Hands decoded frames to the handler while the connection reads: never after the
/// protocol asked to close or paused reading (what stays buffered is delivered on the
/// next call).
fn deliver<F: Framing, H: StringHandler>(
    decoder: &mut FrameDecoder<F>,
    handler: &mut H,
    strings: &mut StringContext<'_>,
) {
    while strings.is_reading() {
        match decoder.next_frame() {
            None => return,
            Some(Ok(string)) => handler.string_received(strings, string),
            Some(Err(FramingError::TooLong { length, max_length })) => {
                handler.length_limit_exceeded(strings, length);
                if decoder.is_failed() && !strings.is_closing() {
                    strings.lose_connection_with(ConnectionError::Framing(FramingError::TooLong {
                        length,
                        max_length,
                    }));
                }
            }
            Some(Err(error)) => {
                tracing::debug!(peer = %strings.peer_addr(), %error, "framing error; closing");
                strings.lose_connection_with(ConnectionError::Framing(error));
            }
        }
    }
}

impl<F: Framing, H: StringHandler> Protocol for StringReceiver<F, H> {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.call(cx.untyped(), |handler, strings| {
            handler.connection_made(strings)
        });
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.decoder.push(data);
        self.call(cx.untyped(), |_, _| ());
    }

    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        self.call(cx.untyped(), |handler, strings| {
            handler.eof_received(strings)
        })
    }

    fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
        self.call(cx.untyped(), |handler, strings| {
            handler.handshake_completed(strings)
        });
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.call(cx.untyped(), |handler, strings| {
            handler.pause_producing(strings)
        });
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.call(cx.untyped(), |handler, strings| {
            handler.resume_producing(strings)
        });
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        self.call(cx.untyped(), |_, _| ());
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.handler.connection_lost(reason);
    }
}

impl<F: fmt::Debug, H: fmt::Debug> fmt::Debug for StringReceiver<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringReceiver")
            .field("decoder", &self.decoder)
            .field("handler", &self.handler)
            .finish()
    }
}
