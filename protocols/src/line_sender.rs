//! Sending lines from anywhere: [`LineSender`].

use std::fmt;

use bytes::Bytes;
use torsade::lines::IntoDelimiter;
use torsade::TransportHandle;

/// A handle that sends lines on one connection: its transport and its delimiter.
///
/// Get one from [`LineContext::line_sender`](crate::LineContext::line_sender) and keep it
/// in a handler, a timer or a Deferred callback to send lines outside the handler's
/// callbacks. Cheap to clone (two reference counts); `Send` and `Sync`.
///
/// # Examples
///
/// A handler that keeps a sender, so its owner can send lines later:
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver, LineSender};
///
/// #[derive(Default)]
/// struct Notifier {
///     sender: Option<LineSender>,
/// }
///
/// impl LineHandler for Notifier {
///     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
///         self.sender = Some(lines.line_sender());
///     }
///     fn line_received(&mut self, _: &mut LineContext<'_>, _: Line<'_>) {}
/// }
///
/// let mut connection = TestConnection::new(LineOnlyReceiver::new(Notifier::default()));
/// let sender = connection.protocol().handler().sender.clone().unwrap();
/// sender.send_line(b"build finished");
/// assert_eq!(connection.take_written(), &b"build finished\r\n"[..]);
/// ```
#[derive(Clone)]
pub struct LineSender {
    transport: TransportHandle,
    delimiter: Bytes,
}

impl LineSender {
    /// A sender writing to `transport`, ending each line with `delimiter`.
    pub fn new(transport: TransportHandle, delimiter: impl IntoDelimiter) -> LineSender {
        LineSender {
            transport,
            delimiter: delimiter.into_delimiter(),
        }
    }

    /// Writes `line` followed by the delimiter, in one
    /// [`write_many`](torsade::TransportHandle::write_many) call.
    ///
    /// `line` should not contain the delimiter (it is not checked): the peer would read
    /// two lines.
    #[doc(alias = "sendLine")]
    pub fn send_line(&self, line: &[u8]) {
        self.transport.write_many(&[line, &self.delimiter]);
    }

    /// The connection lines are written to.
    pub fn transport(&self) -> &TransportHandle {
        &self.transport
    }

    /// The delimiter ending each line.
    pub fn delimiter(&self) -> &[u8] {
        &self.delimiter
    }
}

impl fmt::Debug for LineSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineSender")
            .field("transport", &self.transport)
            .field("delimiter", &self.delimiter)
            .finish()
    }
}
