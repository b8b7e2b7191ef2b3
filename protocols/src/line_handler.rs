//! What a line-based protocol implements: the [`LineHandler`] trait.

use bytes::Bytes;
use torsade::{ConnectionError, DisconnectReason, Transport};

use crate::{Line, LineContext, LineMode, LinesOnly};

/// The events of a line-based connection, as delivered by a
/// [`LineOnlyReceiver`](crate::LineOnlyReceiver) (a `LineHandler`, of mode
/// [`LinesOnly`]) or a [`LineReceiver`](crate::LineReceiver) (a
/// `LineHandler<WithRawMode>`).
///
/// Only [`line_received`](LineHandler::line_received) is required. Every callback gets a
/// [`LineContext<'_, M>`](LineContext): the transport, `send_line`, and the framer's
/// controls (pushing bytes back, clearing the buffer, and with
/// [`WithRawMode`](crate::WithRawMode), raw mode).
///
/// Twisted's `LineReceiver` subclass hooks; the framing itself lives in the receiver, so a
/// handler is plain single-owner state (`Send`, not `Sync`, like a
/// [`Protocol`](torsade::Protocol)).
///
/// # Examples
///
/// An uppercasing echo:
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
///
/// struct Shout;
///
/// impl LineHandler for Shout {
///     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
///         lines.send_line(&line.to_ascii_uppercase());
///     }
/// }
///
/// let mut connection = TestConnection::new(LineOnlyReceiver::new(Shout));
/// connection.receive(b"hello\r\nwor");
/// connection.receive(b"ld\r\n");
/// assert_eq!(connection.take_written(), &b"HELLO\r\nWORLD\r\n"[..]);
/// ```
///
/// A handler for a [`LineReceiver`](crate::LineReceiver) names its mode, and may switch to
/// raw mode; see the [`LineReceiver`](crate::LineReceiver) example.
pub trait LineHandler<M: LineMode = LinesOnly>: Send + 'static {
    /// The connection is up. Send a greeting here, or keep a
    /// [`line_sender`](LineContext::line_sender).
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, lines: &mut LineContext<'_, M>) {
        let _ = lines;
    }

    /// A complete line arrived; `line` has the delimiter removed and is at most
    /// [`max_length`](LineContext::max_length) bytes long. It is lent for the call, where
    /// it was received (read it as a `&[u8]`); [`Line::to_bytes`] keeps it, without a
    /// copy — keeping it keeps the received chunk alive.
    ///
    #[doc(alias = "lineReceived")]
    fn line_received(&mut self, lines: &mut LineContext<'_, M>, line: Line<'_>);

    /// Bytes arrived in raw mode (see [`LineContext::set_raw_mode`]; only under a
    /// [`LineReceiver`](crate::LineReceiver)), in whatever chunks the network delivered. To go back to lines, call
    /// [`set_line_mode`](LineContext::set_line_mode) with the bytes not used.
    ///
    /// The default drops the bytes and logs a warning.
    #[doc(alias = "rawDataReceived")]
    fn raw_data_received(&mut self, lines: &mut LineContext<'_, M>, data: Bytes) {
        let _ = lines;
        tracing::warn!(
            bytes = data.len(),
            "raw data received by a line handler without raw_data_received; dropped"
        );
    }

    /// A line is longer than [`max_length`](LineContext::max_length); `partial` is its
    /// first `max_length` bytes. Called once per over-long line, as soon as the line can
    /// no longer end within the limit (before its delimiter arrives).
    ///
    /// The default closes the connection (once what was written is sent), reporting
    /// [`ConnectionError::LineTooLong`] as the reason it was lost. If the handler keeps it
    /// open, the rest of the over-long line, up to and including its delimiter, is
    /// discarded: never parsed as lines of its own. Unless the handler takes the stream
    /// back: bytes pushed back with [`set_line_mode`](LineContext::set_line_mode) are
    /// parsed at once, followed by everything after `partial`, with nothing discarded.
    #[doc(alias = "lineLengthExceeded")]
    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_, M>, partial: Bytes) {
        let _ = partial;
        let max_length = lines.max_length();
        lines.lose_connection_with(ConnectionError::LineTooLong { max_length });
    }

    /// The peer shut down its writing side. Return `true` to keep the connection
    /// half-open and finish writing, `false` (the default) to close it. An unfinished
    /// line is not delivered.
    #[doc(alias = "readConnectionLost")]
    fn eof_received(&mut self, lines: &mut LineContext<'_, M>) -> bool {
        let _ = lines;
        false
    }

    /// The TLS handshake completed (see [`Protocol::handshake_completed`](torsade::Protocol::handshake_completed)).
    #[doc(alias = "handshakeCompleted")]
    fn handshake_completed(&mut self, lines: &mut LineContext<'_, M>) {
        let _ = lines;
    }

    /// Too much is waiting to be sent: stop sending until
    /// [`resume_producing`](LineHandler::resume_producing) (see
    /// [`Protocol::pause_producing`](torsade::Protocol::pause_producing)).
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self, lines: &mut LineContext<'_, M>) {
        let _ = lines;
    }

    /// Sending may go on (see [`Protocol::resume_producing`](torsade::Protocol::resume_producing)).
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self, lines: &mut LineContext<'_, M>) {
        let _ = lines;
    }

    /// The connection is gone. Called exactly once, with the reason.
    #[doc(alias = "connectionLost")]
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}
