//! Lines by delimiter and nothing else: [`LineOnlyReceiver`], Twisted's
//! `LineOnlyReceiver`.
//!
//! Its wire format and limits are documented on the type.

use std::fmt;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Protocol};

use crate::dispatch::Dispatcher;
use crate::LineHandler;

/// A [`Protocol`] that splits the byte stream into lines for a [`LineHandler`], with no raw
/// mode.
///
/// # Wire format
///
/// A line is every byte up to the delimiter (`\r\n` unless set with
/// [`with_delimiter`](LineOnlyReceiver::with_delimiter)); the delimiter is removed. The
/// match is exact: with `\r\n`, a lone `\n` or `\r` is part of a line. Lines may be empty.
/// There is no raw mode: [`set_raw_mode`](crate::LineContext::set_raw_mode) returns
/// [`Error::RawModeUnsupported`](crate::Error::RawModeUnsupported).
///
/// # Limits
///
/// The same rule as [`LineReceiver`](crate::LineReceiver) (Twisted's two receivers
/// disagree; torsade's do not): lines of at most
/// [`max_length`](LineOnlyReceiver::with_max_length) bytes, delimiter excluded (16384
/// unless set), with a line of exactly that length accepted. An unfinished line fails as
/// soon as it can no longer end within the limit, and is reported once to
/// [`line_length_exceeded`](crate::LineHandler::line_length_exceeded) with its first
/// `max_length` bytes; by default the connection then closes, and if the handler keeps it
/// open the rest of that line is discarded up to and including its delimiter.
///
/// The same bytes give the same lines however the network chunks them, and once the
/// protocol asks to close, no further line is delivered. Once the handler pauses reading
/// ([`pause_reading`](torsade::Transport::pause_reading)), no further line is delivered
/// until reading resumes; then the lines held back come at once, before anything read
/// later.
///
/// # Examples
///
/// A line counter, with a small limit:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
///
/// #[derive(Default)]
/// struct Count {
///     lines: usize,
///     too_long: usize,
/// }
///
/// impl LineHandler for Count {
///     fn line_received(&mut self, lines: &mut LineContext<'_>, _: Line<'_>) {
///         self.lines += 1;
///         lines.send_line(self.lines.to_string().as_bytes());
///     }
///     fn line_length_exceeded(&mut self, _: &mut LineContext<'_>, _: Bytes) {
///         self.too_long += 1; // keep the connection open; the line is skipped
///     }
/// }
///
/// let receiver = LineOnlyReceiver::new(Count::default())
///     .with_delimiter(&b"\n"[..])
///     .with_max_length(4);
/// let mut connection = TestConnection::new(receiver);
/// connection.receive(b"one\nthree\nfour\n");
/// assert_eq!(connection.take_written(), &b"1\n2\n"[..]);
/// assert_eq!(connection.protocol().handler().too_long, 1);
/// ```
pub struct LineOnlyReceiver<H> {
    dispatcher: Dispatcher<H>,
}

impl<H: LineHandler> LineOnlyReceiver<H> {
    /// A receiver for `handler`, with the `\r\n` delimiter and a 16384-byte line limit.
    pub fn new(handler: H) -> LineOnlyReceiver<H> {
        LineOnlyReceiver {
            dispatcher: Dispatcher::new(handler, false),
        }
    }

    /// Uses `delimiter` to end lines, both ways.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty (a programming error: there would be nothing to split on).
    ///
    /// # Examples
    ///
    /// ```
    /// # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
    /// # struct Ignore;
    /// # impl LineHandler for Ignore {
    /// #     fn line_received(&mut self, _: &mut LineContext<'_>, _: Line<'_>) {}
    /// # }
    /// let receiver = LineOnlyReceiver::new(Ignore).with_delimiter(&b"\0"[..]);
    /// assert_eq!(receiver.delimiter(), b"\0");
    /// ```
    pub fn with_delimiter(mut self, delimiter: impl Into<Bytes>) -> LineOnlyReceiver<H> {
        self.dispatcher.set_delimiter(delimiter.into());
        self
    }

    /// Accepts lines of at most `max_length` bytes, delimiter excluded.
    #[doc(alias = "MAX_LENGTH")]
    pub fn with_max_length(mut self, max_length: usize) -> LineOnlyReceiver<H> {
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

    /// The delimiter that ends lines.
    pub fn delimiter(&self) -> &[u8] {
        self.dispatcher.delimiter()
    }

    /// The longest line accepted, in bytes, delimiter excluded.
    pub fn max_length(&self) -> usize {
        self.dispatcher.max_length()
    }
}

impl<H: LineHandler> Protocol for LineOnlyReceiver<H> {
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

impl<H: fmt::Debug> fmt::Debug for LineOnlyReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LineOnlyReceiver")
            .field(&self.dispatcher)
            .finish()
    }
}
