//! What a length-prefixed protocol implements: the [`StringHandler`] trait.

use bytes::Bytes;
use torsade::frames::FramingError;
use torsade::{ConnectionError, DisconnectReason, Transport};

use crate::StringContext;

/// The events of a connection framed in netstrings or length prefixes, as delivered by a
/// [`StringReceiver`](crate::StringReceiver) ([`NetstringReceiver`](crate::NetstringReceiver),
/// [`Int32StringReceiver`](crate::Int32StringReceiver), ...).
///
/// Only [`string_received`](StringHandler::string_received) is required. "String" is
/// Twisted's word for a frame's payload: any bytes, not necessarily text. Every callback
/// gets a [`StringContext`]: the transport and
/// [`send_string`](StringContext::send_string).
///
/// # Examples
///
/// A netstring echo that counts what it answered:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{NetstringReceiver, StringContext, StringHandler};
///
/// #[derive(Default)]
/// struct Echo {
///     answered: usize,
/// }
///
/// impl StringHandler for Echo {
///     fn string_received(&mut self, strings: &mut StringContext<'_>, string: Bytes) {
///         strings.send_string(&string).expect("a netstring holds any length");
///         self.answered += 1;
///     }
/// }
///
/// let mut connection = TestConnection::new(NetstringReceiver::new(Echo::default()));
/// connection.receive(b"5:hello,3:a");
/// connection.receive(b"bc,");
/// assert_eq!(connection.take_written(), &b"5:hello,3:abc,"[..]);
/// assert_eq!(connection.protocol().handler().answered, 2);
/// ```
pub trait StringHandler: Send + 'static {
    /// The connection is up.
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, strings: &mut StringContext<'_>) {
        let _ = strings;
    }

    /// A whole frame arrived; `string` is its payload (header and trailer removed), at
    /// most [`max_length`](StringContext::max_length) bytes. It shares the received
    /// buffer when it arrived in one piece (keeping it keeps that buffer alive).
    #[doc(alias = "stringReceived")]
    fn string_received(&mut self, strings: &mut StringContext<'_>, string: Bytes);

    /// The peer announced a frame of `length` bytes, over
    /// [`max_length`](StringContext::max_length); called before any of its payload is
    /// read, and the payload is never buffered.
    ///
    /// The default closes the connection, reporting
    /// [`FramingError::TooLong`] as the reason. A handler may answer first (an error
    /// reply, say). If it keeps the connection open, a length-prefixed receiver skips the
    /// frame as it arrives and goes on with the next one; a netstring receiver cannot
    /// (the length is not known yet) and closes the connection anyway.
    #[doc(alias = "lengthLimitExceeded")]
    fn length_limit_exceeded(&mut self, strings: &mut StringContext<'_>, length: u64) {
        let max_length = strings.max_length();
        strings.lose_connection_with(ConnectionError::Framing(FramingError::TooLong {
            length,
            max_length,
        }));
    }

    /// The peer shut down its writing side. Return `true` to keep the connection
    /// half-open and finish writing, `false` (the default) to close it. An unfinished
    /// frame is not delivered.
    #[doc(alias = "readConnectionLost")]
    fn eof_received(&mut self, strings: &mut StringContext<'_>) -> bool {
        let _ = strings;
        false
    }

    /// The TLS handshake completed (see
    /// [`Protocol::handshake_completed`](torsade::Protocol::handshake_completed)).
    fn handshake_completed(&mut self, strings: &mut StringContext<'_>) {
        let _ = strings;
    }

    /// Too much is waiting to be sent: stop sending until
    /// [`resume_producing`](StringHandler::resume_producing).
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self, strings: &mut StringContext<'_>) {
        let _ = strings;
    }

    /// Sending may go on.
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self, strings: &mut StringContext<'_>) {
        let _ = strings;
    }

    /// The connection is gone. Called exactly once, with the reason.
    #[doc(alias = "connectionLost")]
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}
