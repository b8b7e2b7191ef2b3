//! Lines by delimiter and nothing else: [`LineOnlyReceiver`], Twisted's
//! `LineOnlyReceiver`.
//!
//! Its wire format and limits are documented on the type.

use crate::{LineProtocol, LinesOnly};

/// A [`Protocol`](torsade::Protocol) that splits the byte stream into lines for a
/// [`LineHandler`](crate::LineHandler), with no raw mode: a [`LineProtocol`] in mode
/// [`LinesOnly`].
///
/// # Wire format
///
/// A line is every byte up to the delimiter (`\r\n` unless set with
/// [`with_delimiter`](LineOnlyReceiver::with_delimiter)); the delimiter is removed. The
/// match is exact: with `\r\n`, a lone `\n` or `\r` is part of a line. Lines may be empty.
/// There is no raw mode: the handler's [`LineContext`](crate::LineContext) has no
/// `set_raw_mode`, so asking for it does not compile:
///
/// ```compile_fail
/// use torsade_protocols::{Line, LineContext, LineHandler};
///
/// struct WantsRaw;
///
/// impl LineHandler for WantsRaw {
///     fn line_received(&mut self, lines: &mut LineContext<'_>, _: Line<'_>) {
///         lines.set_raw_mode();
///     }
/// }
/// ```
///
/// With [`with_any_line_ending`](LineProtocol::with_any_line_ending), a line ends with
/// `\n` or `\r\n` instead (the `\r` neither delivered nor counted toward the limit), and
/// lines are sent with `\r\n`.
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
///     .with_delimiter(b"\n")
///     .with_max_length(4);
/// let mut connection = TestConnection::new(receiver);
/// connection.receive(b"one\nthree\nfour\n");
/// assert_eq!(connection.take_written(), &b"1\n2\n"[..]);
/// assert_eq!(connection.protocol().handler().too_long, 1);
/// ```
pub type LineOnlyReceiver<H> = LineProtocol<H, LinesOnly>;
