//! Any tokio-util codec as a torsade protocol: [`CodecReceiver`].
//!
//! It owns a codec (`Decoder`, and `Encoder` for what the handler sends), a handler and
//! the bytes not yet decoded, and implements [`Protocol`]: received bytes go into the
//! buffer, frames come out of the codec one at a time to the handler, with the rules of
//! torsade's framers (nothing after a close, nothing while reading is paused), and a
//! decoding error ends the connection instead of being retried.

use std::fmt;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;
use torsade::{ConnectionError, Context, DisconnectReason, Protocol, Transport};

use crate::{CodecContext, CodecHandler};

/// A [`Protocol`] that runs a tokio-util codec `C` over the connection for a
/// [`CodecHandler`]: frames in ([`frame_received`](CodecHandler::frame_received)), frames
/// out ([`CodecContext::send`]). The same codec that works in a `Framed` works here, with
/// torsade's TLS, limits, reactor and in-memory testing underneath.
///
/// # Rules
///
/// - **Frames, one at a time.** After each chunk, the codec is asked for frames until it
///   needs more bytes; no frame is delivered once the protocol is closing (even from the
///   same chunk), nor while reading is paused — a handler that calls
///   [`pause_reading`](torsade::Transport::pause_reading) stops the frames between two,
///   and the rest wait in the buffer until reading resumes and more bytes arrive, or one
///   of the handler's callbacks resumes it.
/// - **Errors end the connection, once.** A decoding error closes the connection (what
///   was written is sent first) with the error as its reason,
///   [`ConnectionError::Protocol`]; the codec is never called again, so a decoder that
///   fails on some bytes cannot be asked about the same bytes forever (tokio issue 3976).
/// - **End of stream.** At EOF the codec's [`decode_eof`](Decoder::decode_eof) delivers
///   the last frames (its default: an unfinished frame is an error, "bytes remaining on
///   stream"), then [`eof_received`](CodecHandler::eof_received) decides whether to stay
///   half-open.
/// - **Backpressure** is the connection's: the handler's
///   [`pause_producing`](CodecHandler::pause_producing) and
///   [`resume_producing`](CodecHandler::resume_producing) follow the write-buffer
///   watermarks.
/// - **Memory**: received bytes are copied once into the codec's buffer (as `FramedRead`
///   reads into its own). A codec bounds its frames itself (`LinesCodec::new_with_max_length`,
///   `LengthDelimitedCodec`'s `max_frame_length`): choose one that does, for input from
///   the network.
///
/// # Examples
///
/// ```
/// use tokio_util::codec::LinesCodec;
/// use torsade::testing::TestConnection;
/// use torsade::ConnectionError;
/// use torsade_protocols::{CodecContext, CodecHandler, CodecReceiver};
///
/// /// Answers each line with its length.
/// struct Lengths;
///
/// impl CodecHandler<LinesCodec> for Lengths {
///     fn frame_received(&mut self, cx: &mut CodecContext<'_, LinesCodec>, line: String) {
///         cx.send(line.len().to_string()).unwrap();
///     }
/// }
///
/// let codec = LinesCodec::new_with_max_length(8);
/// let mut connection = TestConnection::new(CodecReceiver::new(codec, Lengths));
/// connection.receive(b"one\nthree\nmuch too long\nlost\n");
/// assert_eq!(connection.take_written(), &b"3\n5\n"[..]);
/// let reason = connection.lost_reason().unwrap();
/// assert!(matches!(reason.error(), Some(ConnectionError::Protocol(_))));
/// assert_eq!(reason.to_string(), "connection lost: max line length exceeded");
/// ```
pub struct CodecReceiver<C, H> {
    codec: C,
    handler: H,
    /// Received and not yet decoded.
    buffer: BytesMut,
    /// Where [`CodecContext::send`] encodes, kept from frame to frame.
    encoded: BytesMut,
    /// The peer sent EOF: frames come from `decode_eof` from now on.
    eof: bool,
    /// The codec failed, or `decode_eof` delivered the last frame: it is not called again.
    finished: bool,
    /// EOF came while a pause held frames back: the handler hears of it once they are
    /// delivered.
    eof_held: bool,
}

impl<C, H> CodecReceiver<C, H>
where
    C: Decoder + Send + 'static,
    C::Error: std::error::Error + Send + Sync + 'static,
    H: CodecHandler<C>,
{
    /// A receiver that decodes with `codec` for `handler`.
    pub fn new(codec: C, handler: H) -> CodecReceiver<C, H> {
        CodecReceiver {
            codec,
            handler,
            buffer: BytesMut::new(),
            encoded: BytesMut::new(),
            eof: false,
            eof_held: false,
            finished: false,
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably (to call its own methods as outside code would).
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// Runs `callback` on the handler with a context for this connection, then delivers
    /// what it made deliverable (reading resumed, say).
    fn notify<R>(
        &mut self,
        cx: &mut Context<'_>,
        callback: impl FnOnce(&mut H, &mut CodecContext<'_, C>) -> R,
    ) -> R {
        let outcome = {
            let mut codec_cx = CodecContext::new(cx.untyped(), &mut self.codec, &mut self.encoded);
            callback(&mut self.handler, &mut codec_cx)
        };
        self.deliver(cx);
        outcome
    }

    /// Hands the codec's frames to the handler until the codec needs more bytes, the
    /// protocol is closing, or reading is paused. The codec is asked only when bytes
    /// wait (or at EOF).
    fn deliver(&mut self, cx: &mut Context<'_>) {
        if self.buffer.is_empty() && !self.eof {
            return;
        }
        while !self.finished && !cx.is_closing() {
            if !cx.is_reading() {
                // `reading_resumed` delivers the rest.
                return;
            }
            let decoded = if self.eof {
                self.codec.decode_eof(&mut self.buffer)
            } else {
                self.codec.decode(&mut self.buffer)
            };
            match decoded {
                Ok(Some(frame)) => {
                    let mut codec_cx =
                        CodecContext::new(cx.untyped(), &mut self.codec, &mut self.encoded);
                    self.handler.frame_received(&mut codec_cx, frame);
                }
                Ok(None) => {
                    self.finished = self.eof;
                    return;
                }
                Err(error) => {
                    self.finished = true;
                    self.buffer = BytesMut::new();
                    tracing::debug!(peer = %cx.peer_addr(), %error, "the codec failed; closing the connection");
                    cx.lose_connection_with(ConnectionError::protocol(error));
                    return;
                }
            }
        }
    }
}

impl<C, H> Protocol for CodecReceiver<C, H>
where
    C: Decoder + Send + 'static,
    C::Error: std::error::Error + Send + Sync + 'static,
    H: CodecHandler<C>,
{
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.notify(&mut cx.untyped(), |handler, cx| handler.connection_made(cx));
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        if self.finished {
            return;
        }
        self.buffer.extend_from_slice(&data);
        self.deliver(&mut cx.untyped());
    }

    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        let mut cx = cx.untyped();
        self.eof = true;
        self.deliver(&mut cx);
        if cx.is_closing() {
            return false;
        }
        if !self.finished {
            // Reading was paused before the last frames: they wait, and so does the close,
            // until `reading_resumed`.
            self.eof_held = true;
            return true;
        }
        self.notify(&mut cx, |handler, cx| handler.eof_received(cx))
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        let mut cx = cx.untyped();
        self.deliver(&mut cx);
        if self.eof_held && self.finished && !cx.is_closing() {
            self.eof_held = false;
            // The core kept the connection half-open for the held frames; closing is now
            // the handler's call, as it would have been at EOF.
            if !self.notify(&mut cx, |handler, cx| handler.eof_received(cx)) {
                cx.lose_connection();
            }
        }
    }

    fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
        self.notify(&mut cx.untyped(), |handler, cx| {
            handler.handshake_completed(cx)
        });
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.notify(&mut cx.untyped(), |handler, cx| handler.pause_producing(cx));
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.notify(&mut cx.untyped(), |handler, cx| {
            handler.resume_producing(cx)
        });
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.handler.connection_lost(reason);
    }
}

impl<C: fmt::Debug, H: fmt::Debug> fmt::Debug for CodecReceiver<C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecReceiver")
            .field("codec", &self.codec)
            .field("handler", &self.handler)
            .field("buffered", &self.buffer.len())
            .field("eof", &self.eof)
            .field("finished", &self.finished)
            .finish()
    }
}
