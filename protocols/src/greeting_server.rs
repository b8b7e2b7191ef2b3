//! The server side of the greeting story: [`GreetingServer`].
//!
//! The wire format is documented on the type.

use bytes::Bytes;
use torsade::{factory_fn, Address, ClientFactory};

use crate::greeting_wire::{
    EMPTY_NAME, ERROR_PREFIX, HELLO_PREFIX, HELLO_SUFFIX, NAME_HAS_LINE_BREAK, NAME_NOT_UTF8,
    NAME_TOO_LONG,
};
use crate::{Line, LineContext, LineHandler, LineOnlyReceiver};

/// Answers each name it receives with a greeting.
///
/// # Wire format
///
/// The client sends a name as one line, `NAME\r\n`. The server answers with one line:
///
/// | the name is                              | the answer                               |
/// |------------------------------------------|------------------------------------------|
/// | valid                                    | `Hello, NAME!\r\n`                       |
/// | empty                                    | `ERROR empty name\r\n`                   |
/// | not valid UTF-8                          | `ERROR name is not valid UTF-8\r\n`      |
/// | holding a lone `\r` or `\n`              | `ERROR name contains a line break\r\n`   |
/// | longer than the line limit (16384 bytes) | `ERROR name too long\r\n`                |
///
/// After an error line the connection stays open for the next name. An over-long name is
/// answered as soon as it is known to be too long, and the rest of that line is discarded
/// up to its `\r\n`. Names are answered in order, one line each, so clients may pipeline.
///
/// # Examples
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade_protocols::GreetingServer;
///
/// let mut connection = TestConnection::new(GreetingServer::protocol());
/// connection.receive(b"World\r\n\r\nAda\r\n");
/// assert_eq!(
///     connection.take_written(),
///     &b"Hello, World!\r\nERROR empty name\r\nHello, Ada!\r\n"[..]
/// );
/// assert!(!connection.is_closing());
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct GreetingServer;

impl GreetingServer {
    /// A server handler.
    pub fn new() -> GreetingServer {
        GreetingServer
    }

    /// The server's protocol for one connection: a [`LineOnlyReceiver`] with the `\r\n`
    /// delimiter and the default 16384-byte limit on names.
    pub fn protocol() -> LineOnlyReceiver<GreetingServer> {
        LineOnlyReceiver::new(GreetingServer::new())
    }

    /// A factory building [`GreetingServer::protocol`] for every connection, to listen
    /// with: a [`ProtocolFactory`](torsade::ProtocolFactory), and (with no-op hooks) a
    /// [`ClientFactory`].
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Address, ProtocolFactory};
    /// use torsade_protocols::GreetingServer;
    ///
    /// let factory = GreetingServer::factory();
    /// let peer = Address::Tcp("127.0.0.1:40000".parse().unwrap());
    /// assert!(factory.build_protocol(&peer).is_some());
    /// ```
    pub fn factory() -> impl ClientFactory<Protocol = LineOnlyReceiver<GreetingServer>> {
        factory_fn(|_peer: &Address| GreetingServer::protocol())
    }

    fn send_error(lines: &mut LineContext<'_>, reason: &str) {
        lines.send_line_parts(&[ERROR_PREFIX, reason.as_bytes()]);
    }
}

impl LineHandler for GreetingServer {
    fn line_received(&mut self, lines: &mut LineContext<'_>, name: Line<'_>) {
        if name.is_empty() {
            return GreetingServer::send_error(lines, EMPTY_NAME);
        }
        let Ok(text) = std::str::from_utf8(&name) else {
            return GreetingServer::send_error(lines, NAME_NOT_UTF8);
        };
        if text.contains(['\r', '\n']) {
            return GreetingServer::send_error(lines, NAME_HAS_LINE_BREAK);
        }
        lines.send_line_parts(&[HELLO_PREFIX, text.as_bytes(), HELLO_SUFFIX]);
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_>, partial: Bytes) {
        tracing::debug!(
            bytes = partial.len(),
            "greeting server: name too long, skipping the rest of its line"
        );
        GreetingServer::send_error(lines, NAME_TOO_LONG);
    }
}
