//! What a protocol over a tokio-util codec implements: the [`CodecHandler`] trait.

use tokio_util::codec::Decoder;
use torsade::DisconnectReason;

use crate::CodecContext;

/// The events of a connection whose bytes a tokio-util codec `C` turns into frames, as
/// delivered by a [`CodecReceiver`](crate::CodecReceiver).
///
/// Only [`frame_received`](CodecHandler::frame_received) is required. Every callback gets
/// a [`CodecContext`]: the connection's context (write, close, pause reading...), the
/// codec, and [`send`](CodecContext::send) to encode a frame onto the connection.
///
/// The codec's errors never reach the handler as frames: a decoding error closes the
/// connection with the error as the reason ([`connection_lost`](CodecHandler::connection_lost)
/// sees it as a [`ConnectionError::Protocol`](torsade::ConnectionError::Protocol)).
///
/// # Examples
///
/// ```
/// use tokio_util::codec::LinesCodec;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{CodecContext, CodecHandler, CodecReceiver};
///
/// struct Shout;
///
/// impl CodecHandler<LinesCodec> for Shout {
///     fn frame_received(&mut self, cx: &mut CodecContext<'_, LinesCodec>, line: String) {
///         cx.send(line.to_uppercase()).unwrap();
///     }
/// }
///
/// let mut connection = TestConnection::new(CodecReceiver::new(LinesCodec::new(), Shout));
/// connection.receive(b"hello\nwor");
/// connection.receive(b"ld\n");
/// assert_eq!(connection.take_written(), &b"HELLO\nWORLD\n"[..]);
/// ```
pub trait CodecHandler<C: Decoder>: Send + 'static {
    /// The connection is up.
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, cx: &mut CodecContext<'_, C>) {
        let _ = cx;
    }

    /// The codec decoded `frame`. Frames come one at a time, in order; none comes once the
    /// connection is closing, or while reading is paused
    /// ([`pause_reading`](torsade::Transport::pause_reading)).
    fn frame_received(&mut self, cx: &mut CodecContext<'_, C>, frame: C::Item);

    /// The peer shut down its writing side, and the codec's
    /// [`decode_eof`](Decoder::decode_eof) has delivered the last frames. Return `true`
    /// to keep the connection half-open and finish writing, `false` (the default) to
    /// close it.
    #[doc(alias = "readConnectionLost")]
    fn eof_received(&mut self, cx: &mut CodecContext<'_, C>) -> bool {
        let _ = cx;
        false
    }

    /// The TLS handshake completed (see
    /// [`Protocol::handshake_completed`](torsade::Protocol::handshake_completed)).
    #[doc(alias = "handshakeCompleted")]
    fn handshake_completed(&mut self, cx: &mut CodecContext<'_, C>) {
        let _ = cx;
    }

    /// Too much is waiting to be sent: stop sending until
    /// [`resume_producing`](CodecHandler::resume_producing) (see
    /// [`Protocol::pause_producing`](torsade::Protocol::pause_producing)). A handler that
    /// answers each frame pauses reading here, and resumes it there.
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self, cx: &mut CodecContext<'_, C>) {
        let _ = cx;
    }

    /// Sending may go on (see
    /// [`Protocol::resume_producing`](torsade::Protocol::resume_producing)).
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self, cx: &mut CodecContext<'_, C>) {
        let _ = cx;
    }

    /// The connection is gone. Called exactly once, with the reason: a decoding error is
    /// `DisconnectReason::Lost(ConnectionError::Protocol(error))`, the codec's error
    /// inside.
    #[doc(alias = "connectionLost")]
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}
