//! What a codec handler can do from inside a callback: [`CodecContext`].

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::BytesMut;
use tokio_util::codec::Encoder;
use torsade::{Context, Transport};

/// The encoding buffer keeps at most this much capacity between frames: a rare huge frame
/// does not pin its memory for the connection's life.
const KEPT_ENCODE_CAPACITY: usize = 64 * 1024;

/// The connection and its codec, as seen from inside a
/// [`CodecHandler`](crate::CodecHandler) callback.
///
/// It derefs to the connection's [`Context`], so everything a protocol's callback can do
/// (write, close, pause reading, time — through [`Transport`], in torsade's prelude) a
/// codec handler does the same way; [`send`](CodecContext::send) encodes a frame onto the
/// connection.
///
/// # Examples
///
/// A length-prefixed echo that pauses reading while the peer is slow to take its answers:
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::LengthDelimitedCodec;
/// use torsade::testing::TestConnection;
/// use torsade::Transport;
/// use torsade_protocols::{CodecContext, CodecHandler, CodecReceiver};
///
/// struct Echo;
///
/// impl CodecHandler<LengthDelimitedCodec> for Echo {
///     fn frame_received(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>, frame: BytesMut) {
///         cx.send(frame.freeze()).unwrap();
///     }
///     fn pause_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
///         cx.pause_reading();
///     }
///     fn resume_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
///         cx.resume_reading();
///     }
/// }
///
/// let mut connection = TestConnection::new(CodecReceiver::new(LengthDelimitedCodec::new(), Echo));
/// connection.receive(b"\0\0\0\x02hi");
/// assert_eq!(connection.take_written(), &b"\0\0\0\x02hi"[..]);
/// ```
pub struct CodecContext<'a, C> {
    cx: Context<'a>,
    codec: &'a mut C,
    encoded: &'a mut BytesMut,
}

impl<'a, C> CodecContext<'a, C> {
    pub(crate) fn new(
        cx: Context<'a>,
        codec: &'a mut C,
        encoded: &'a mut BytesMut,
    ) -> CodecContext<'a, C> {
        CodecContext { cx, codec, encoded }
    }

    /// Encodes `item` with the codec and writes it to the connection, whole or not at all.
    ///
    /// The codec encodes into a buffer the receiver keeps from frame to frame (no
    /// allocation per frame), which is appended to the connection's write buffer in one
    /// write.
    ///
    /// # Errors
    ///
    /// The codec's own encoding error (a frame too long for its length field, say);
    /// nothing is written then.
    pub fn send<I>(&mut self, item: I) -> Result<(), <C as Encoder<I>>::Error>
    where
        C: Encoder<I>,
    {
        self.encoded.clear();
        let encoded = self.codec.encode(item, self.encoded);
        if encoded.is_ok() {
            self.cx.write(self.encoded);
        }
        self.encoded.clear();
        if self.encoded.capacity() > KEPT_ENCODE_CAPACITY {
            *self.encoded = BytesMut::new();
        }
        encoded
    }

    /// The codec (to read its settings).
    pub fn codec(&self) -> &C {
        self.codec
    }

    /// The codec, mutably (to change its settings: a new maximum frame length, say; they
    /// apply from the next frame decoded or sent).
    pub fn codec_mut(&mut self) -> &mut C {
        self.codec
    }
}

impl<'a, C> Deref for CodecContext<'a, C> {
    type Target = Context<'a>;

    fn deref(&self) -> &Context<'a> {
        &self.cx
    }
}

impl<'a, C> DerefMut for CodecContext<'a, C> {
    fn deref_mut(&mut self) -> &mut Context<'a> {
        &mut self.cx
    }
}

impl<C: fmt::Debug> fmt::Debug for CodecContext<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecContext")
            .field("connection", &self.cx)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}
