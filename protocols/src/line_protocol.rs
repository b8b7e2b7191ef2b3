//! The one implementation of both line receivers: [`LineProtocol`], a [`Protocol`] that
//! frames lines for a [`LineHandler`], generic over its [`LineMode`].
//!
//! [`LineReceiver`](crate::LineReceiver) and [`LineOnlyReceiver`](crate::LineOnlyReceiver)
//! are its two modes; their wire format and limits are documented there.

use std::fmt;

use bytes::Bytes;
use torsade::lines::IntoDelimiter;
use torsade::{Context, DisconnectReason, Protocol};

use crate::dispatch::Dispatcher;
use crate::{LineHandler, LineMode};

/// A [`Protocol`] that splits the byte stream into lines for a [`LineHandler<M>`], in mode
/// `M`: with a raw mode ([`LineReceiver`](crate::LineReceiver)) or without
/// ([`LineOnlyReceiver`](crate::LineOnlyReceiver)). Use it under those two names.
///
/// # Examples
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
///
/// struct Ignore;
/// impl LineHandler for Ignore {
///     fn line_received(&mut self, _: &mut LineContext<'_>, _: Line<'_>) {}
/// }
///
/// let receiver = LineOnlyReceiver::new(Ignore)
///     .with_delimiter(b"\0")
///     .with_max_length(80);
/// assert_eq!((receiver.delimiter(), receiver.max_length()), (&b"\0"[..], 80));
/// let mut connection = TestConnection::new(receiver);
/// connection.receive(b"one\0two\0");
/// ```
pub struct LineProtocol<H, M> {
    dispatcher: Dispatcher<H, M>,
}

impl<H: LineHandler<M>, M: LineMode> LineProtocol<H, M> {
    /// A receiver for `handler`, with the `\r\n` delimiter and a 16384-byte line limit.
    pub fn new(handler: H) -> LineProtocol<H, M> {
        LineProtocol {
            dispatcher: Dispatcher::new(handler),
        }
    }

    /// Uses `delimiter` to end lines, both ways: anything byte-like (`b"\n"`, `"\n"`, a
    /// `Vec<u8>`, [`Bytes`]; see [`IntoDelimiter`]).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty (a programming error: there would be nothing to split on).
    pub fn with_delimiter(mut self, delimiter: impl IntoDelimiter) -> LineProtocol<H, M> {
        self.dispatcher.set_delimiter(delimiter.into_delimiter());
        self
    }

    /// Ends lines with `\n` or `\r\n`, as tokio-util's `LinesCodec` and Netty's
    /// `LineBasedFrameDecoder` do: lines are split on `\n`, and a `\r` just before it is
    /// neither delivered nor counted toward [`max_length`](LineProtocol::with_max_length)
    /// (a lone `\r` elsewhere is part of the line). Lines are sent with `\r\n`. Replaces
    /// a [`with_delimiter`](LineProtocol::with_delimiter) given before (and one given
    /// after replaces this).
    ///
    /// For protocols written by hand at a terminal; where `\r\n` is the standard (SMTP,
    /// say), accepting a bare `\n` is how SMTP smuggling works: keep the exact delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::testing::TestConnection;
    /// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
    ///
    /// struct Echo;
    /// impl LineHandler for Echo {
    ///     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
    ///         lines.send_line(&line);
    ///     }
    /// }
    ///
    /// let receiver = LineOnlyReceiver::new(Echo).with_any_line_ending();
    /// assert_eq!(receiver.delimiter(), b"\r\n");
    /// let mut connection = TestConnection::new(receiver);
    /// connection.receive(b"typed\nin netcat\r\n");
    /// assert_eq!(connection.take_written(), &b"typed\r\nin netcat\r\n"[..]);
    /// ```
    pub fn with_any_line_ending(mut self) -> LineProtocol<H, M> {
        self.dispatcher.set_any_line_ending();
        self
    }

    /// Accepts lines of at most `max_length` bytes, delimiter excluded.
    #[doc(alias = "MAX_LENGTH")]
    pub fn with_max_length(mut self, max_length: usize) -> LineProtocol<H, M> {
        self.dispatcher.set_max_length(max_length);
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        self.dispatcher.handler()
    }

    /// The handler, mutably (to call its own methods as outside code would).
    pub fn handler_mut(&mut self) -> &mut H {
        self.dispatcher.handler_mut()
    }

    /// Gives the handler back, dropping anything buffered.
    pub fn into_handler(self) -> H {
        self.dispatcher.into_handler()
    }

    /// The delimiter that ends lines, and that lines are sent with (`\r\n` with
    /// [any line ending](LineProtocol::with_any_line_ending)).
    pub fn delimiter(&self) -> &[u8] {
        self.dispatcher.delimiter()
    }

    /// The longest line accepted, in bytes, delimiter excluded.
    pub fn max_length(&self) -> usize {
        self.dispatcher.max_length()
    }
}

impl<H: LineHandler<M>, M: LineMode> Protocol for LineProtocol<H, M> {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.dispatcher.connection_made(cx.untyped());
    }

    #[inline]
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.dispatcher.data_received(cx.untyped(), data);
    }

    fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
        self.dispatcher.eof_received(cx.untyped())
    }

    fn handshake_completed(&mut self, cx: &mut Context<'_, Self>) {
        self.dispatcher.notify(cx.untyped(), |handler, lines| {
            handler.handshake_completed(lines)
        });
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.dispatcher.notify(cx.untyped(), |handler, lines| {
            handler.pause_producing(lines)
        });
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.dispatcher.notify(cx.untyped(), |handler, lines| {
            handler.resume_producing(lines)
        });
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        self.dispatcher.reading_resumed(cx.untyped());
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.dispatcher.connection_lost(reason);
    }
}

impl<H: fmt::Debug, M> fmt::Debug for LineProtocol<H, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LineProtocol")
            .field(&self.dispatcher)
            .finish()
    }
}
