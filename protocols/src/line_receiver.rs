//! Lines by delimiter, with a raw mode: [`LineReceiver`], Twisted's `LineReceiver`.
//!
//! Its wire format and limits are documented on the type.

use std::fmt;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Protocol};

use crate::dispatch::Dispatcher;
use crate::LineHandler;

/// A [`Protocol`] that splits the byte stream into lines for a [`LineHandler`], and can
/// switch to raw mode and back.
///
/// # Wire format
///
/// A line is every byte up to the delimiter (`\r\n` unless set with
/// [`with_delimiter`](LineReceiver::with_delimiter)); the delimiter is removed. The match is
/// exact: with `\r\n`, a lone `\n` or `\r` is part of a line, not an end of one (accepting a
/// lone `\n` where `\r\n` is expected is how SMTP smuggling works). Lines may be empty.
/// In raw mode bytes pass through untouched until the handler switches back.
///
/// # Limits
///
/// A line may be at most [`max_length`](LineReceiver::with_max_length) bytes, delimiter
/// excluded ([`DEFAULT_MAX_LENGTH`](crate::DEFAULT_MAX_LENGTH), 16384, unless set). A line
/// of exactly that length is accepted. An unfinished line fails as soon as it can no
/// longer end within the limit, so a receiver holds at most `max_length` plus one
/// delimiter per connection. A failed line is reported once to
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
/// A protocol of `SIZE n` headers followed by `n` raw bytes:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineReceiver};
///
/// #[derive(Default)]
/// struct Upload {
///     expected: usize,
///     body: Vec<u8>,
/// }
///
/// impl LineHandler for Upload {
///     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
///         let size = line.strip_prefix(b"SIZE ").and_then(|n| std::str::from_utf8(n).ok());
///         if let Some(Ok(size)) = size.map(str::parse) {
///             self.expected = size;
///             lines.set_raw_mode().expect("a LineReceiver has a raw mode");
///         } else {
///             lines.send_line(b"?");
///         }
///     }
///
///     fn raw_data_received(&mut self, lines: &mut LineContext<'_>, mut data: Bytes) {
///         let wanted = (self.expected - self.body.len()).min(data.len());
///         self.body.extend_from_slice(&data.split_to(wanted));
///         if self.body.len() == self.expected {
///             lines.send_line(b"OK");
///             lines.set_line_mode(data); // the rest is lines again
///         }
///     }
/// }
///
/// let mut connection = TestConnection::new(LineReceiver::new(Upload::default()));
/// connection.receive(b"SIZE 5\r\nhel");
/// connection.receive(b"lofoo\r\n");
/// assert_eq!(connection.protocol().handler().body, b"hello");
/// assert_eq!(connection.take_written(), &b"OK\r\n?\r\n"[..]);
/// ```
pub struct LineReceiver<H> {
    dispatcher: Dispatcher<H>,
}

impl<H: LineHandler> LineReceiver<H> {
    /// A receiver for `handler`, with the `\r\n` delimiter and a 16384-byte line limit.
    pub fn new(handler: H) -> LineReceiver<H> {
        LineReceiver {
            dispatcher: Dispatcher::new(handler, true),
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
    /// # use torsade_protocols::{Line, LineContext, LineHandler, LineReceiver};
    /// # struct Ignore;
    /// # impl LineHandler for Ignore {
    /// #     fn line_received(&mut self, _: &mut LineContext<'_>, _: Line<'_>) {}
    /// # }
    /// let receiver = LineReceiver::new(Ignore).with_delimiter(&b"\n"[..]);
    /// assert_eq!(receiver.delimiter(), b"\n");
    /// ```
    pub fn with_delimiter(mut self, delimiter: impl Into<Bytes>) -> LineReceiver<H> {
        self.dispatcher.set_delimiter(delimiter.into());
        self
    }

    /// Accepts lines of at most `max_length` bytes, delimiter excluded.
    #[doc(alias = "MAX_LENGTH")]
    pub fn with_max_length(mut self, max_length: usize) -> LineReceiver<H> {
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

impl<H: LineHandler> Protocol for LineReceiver<H> {
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

impl<H: fmt::Debug> fmt::Debug for LineReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LineReceiver")
            .field(&self.dispatcher)
            .finish()
    }
}
