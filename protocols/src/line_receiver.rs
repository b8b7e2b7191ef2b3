//! Lines by delimiter, with a raw mode: [`LineReceiver`], Twisted's `LineReceiver`.
//!
//! Its wire format and limits are documented on the type.

use crate::{LineProtocol, WithRawMode};

/// A [`Protocol`](torsade::Protocol) that splits the byte stream into lines for a
/// [`LineHandler<WithRawMode>`](crate::LineHandler), and can switch to raw mode and back: a
/// [`LineProtocol`] in mode [`WithRawMode`].
///
/// # Wire format
///
/// A line is every byte up to the delimiter (`\r\n` unless set with
/// [`with_delimiter`](LineReceiver::with_delimiter)); the delimiter is removed. The match is
/// exact: with `\r\n`, a lone `\n` or `\r` is part of a line, not an end of one (accepting a
/// lone `\n` where `\r\n` is expected is how SMTP smuggling works). Lines may be empty.
/// In raw mode bytes pass through untouched until the handler switches back.
///
/// With [`with_any_line_ending`](LineProtocol::with_any_line_ending), a line ends with
/// `\n` or `\r\n` instead (the `\r` neither delivered nor counted toward the limit), and
/// lines are sent with `\r\n`.
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
/// use torsade_protocols::{Line, LineContext, LineHandler, LineReceiver, WithRawMode};
///
/// #[derive(Default)]
/// struct Upload {
///     expected: usize,
///     body: Vec<u8>,
/// }
///
/// impl LineHandler<WithRawMode> for Upload {
///     fn line_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, line: Line<'_>) {
///         let size = line.strip_prefix(b"SIZE ").and_then(|n| std::str::from_utf8(n).ok());
///         if let Some(Ok(size)) = size.map(str::parse) {
///             self.expected = size;
///             lines.set_raw_mode();
///         } else {
///             lines.send_line(b"?");
///         }
///     }
///
///     fn raw_data_received(&mut self, lines: &mut LineContext<'_, WithRawMode>, mut data: Bytes) {
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
pub type LineReceiver<H> = LineProtocol<H, WithRawMode>;
