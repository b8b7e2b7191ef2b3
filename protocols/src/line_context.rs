//! What a line handler can do from inside a callback: [`LineContext`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
#[cfg(feature = "tls")]
use torsade::tls::StartTls;
#[cfg(feature = "tls")]
use torsade::ConnectionError;
use torsade::{Context, Transport};

#[cfg(feature = "tls")]
use crate::{Error, Result};
use crate::{LineSender, LinesOnly, WithRawMode};
use torsade::lines::LineFramer;

/// The connection and its framer, as seen from inside a
/// [`LineHandler`](crate::LineHandler) callback: Twisted's `self.transport`,
/// `sendLine`, `setRawMode`, `setLineMode` and `clearLineBuffer`.
///
/// `M` says whether the receiver has a raw mode ([`LineMode`](crate::LineMode)): only a
/// `LineContext<'_, WithRawMode>`, which the handlers of a
/// [`LineReceiver`](crate::LineReceiver) get, has [`set_raw_mode`](LineContext::set_raw_mode).
///
/// It derefs to the connection's [`Context`], so everything a protocol's callback can do
/// (write, close, pause, time — through [`Transport`], in torsade's prelude) a line
/// handler does the same way: `lines.write(..)`, `lines.lose_connection()`.
///
/// Mode switches and pushed-back bytes take effect at once, in the same
/// `data_received` call: the rest of the chunk being parsed is read the new way. The
/// result never depends on how the peer's bytes were chunked.
///
/// # Examples
///
/// A handler that answers `PING` and hangs up on `QUIT`:
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade::Transport;
/// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
///
/// struct Pinger;
///
/// impl LineHandler for Pinger {
///     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
///         match &line[..] {
///             b"PING" => lines.send_line(b"PONG"),
///             b"QUIT" => lines.lose_connection(),
///             _ => lines.send_line(b"ERR unknown command"),
///         }
///     }
/// }
///
/// let mut connection = TestConnection::new(LineOnlyReceiver::new(Pinger));
/// connection.receive(b"PING\r\nQUIT\r\nPING\r\n");
/// assert_eq!(connection.take_written(), &b"PONG\r\n"[..]); // nothing after QUIT
/// assert!(connection.is_lost());
/// ```
pub struct LineContext<'a, M = LinesOnly> {
    cx: Context<'a>,
    pub(crate) framer: &'a mut LineFramer,
    mode: PhantomData<fn() -> M>,
}

impl<'a, M> LineContext<'a, M> {
    pub(crate) fn new(cx: Context<'a>, framer: &'a mut LineFramer) -> LineContext<'a, M> {
        LineContext {
            cx,
            framer,
            mode: PhantomData,
        }
    }

    /// Writes `line` followed by the delimiter, in one
    /// [`write_many`](Transport::write_many) call.
    ///
    /// `line` should not contain the delimiter (it is not checked): the peer would read
    /// two lines.
    #[doc(alias = "sendLine")]
    #[inline]
    pub fn send_line(&mut self, line: &[u8]) {
        // The usual delimiters as constants: copying one is then a store, not a call.
        match &self.framer.delimiter()[..] {
            b"\r\n" => self.cx.write_many(&[line, b"\r\n"]),
            b"\n" => self.cx.write_many(&[line, b"\n"]),
            delimiter => self.cx.write_many(&[line, delimiter]),
        }
    }

    /// Writes `parts` one after the other, then the delimiter: one line made of pieces,
    /// with no copy to join them first.
    pub fn send_line_parts(&mut self, parts: &[&[u8]]) {
        self.cx.write_many(parts);
        self.cx.write(self.framer.delimiter());
    }

    /// The delimiter that ends lines, both ways.
    pub fn delimiter(&self) -> &[u8] {
        self.framer.delimiter()
    }

    /// The longest line accepted from the peer, in bytes, delimiter excluded.
    #[doc(alias = "MAX_LENGTH")]
    pub fn max_length(&self) -> usize {
        self.framer.max_length()
    }

    /// A handle that sends lines on this connection from outside the callbacks.
    pub fn line_sender(&self) -> LineSender {
        LineSender::new(self.cx.transport_handle(), self.framer.delimiter().clone())
    }

    /// Whether incoming bytes are split into lines (`false` in raw mode).
    pub fn is_line_mode(&self) -> bool {
        self.framer.is_line_mode()
    }

    /// Splits incoming bytes into lines again, starting with `extra`: bytes the handler
    /// took but did not use (typically the tail of a raw chunk). `extra` is parsed before
    /// anything not yet parsed, in this same call; pass `Bytes::new()` for none.
    ///
    /// Called from [`line_length_exceeded`](crate::LineHandler::line_length_exceeded) with
    /// non-empty `extra`, the handler takes the stream back: nothing of the over-long line
    /// is discarded. `extra` is parsed first, then everything after the bytes reported,
    /// so pushing back the report's tail (`partial.slice(n..)`) makes the line start
    /// there. Bytes that still make a line over the limit are reported again (a handler
    /// that always pushes back never stops). Empty `extra` is no push-back: the rest of
    /// the over-long line is discarded as usual.
    ///
    /// # Examples
    ///
    /// Keeping the end of an over-long line:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::testing::TestConnection;
    /// use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
    ///
    /// #[derive(Default)]
    /// struct KeepTheEnd(Vec<String>);
    ///
    /// impl LineHandler for KeepTheEnd {
    ///     fn line_received(&mut self, _: &mut LineContext<'_>, line: Line<'_>) {
    ///         self.0.push(String::from_utf8_lossy(&line).into_owned());
    ///     }
    ///     fn line_length_exceeded(&mut self, lines: &mut LineContext<'_>, partial: Bytes) {
    ///         lines.set_line_mode(partial.slice(4..)); // drop the first four bytes only
    ///     }
    /// }
    ///
    /// let receiver = LineOnlyReceiver::new(KeepTheEnd::default()).with_max_length(8);
    /// let mut connection = TestConnection::new(receiver);
    /// connection.receive(b"0123456789\r\nok\r\n");
    /// assert_eq!(connection.protocol().handler().0, ["456789", "ok"]);
    /// ```
    #[doc(alias = "setLineMode")]
    pub fn set_line_mode(&mut self, extra: Bytes) {
        self.framer.set_line_mode(extra);
    }

    /// Returns and drops everything buffered: an unfinished line and every byte received
    /// but not yet parsed, including the rest of the current chunk. Twisted's
    /// `clearLineBuffer`.
    ///
    /// What it returns depends on how the peer's bytes were chunked (it is what has
    /// arrived so far). If the rest of an over-long line is being discarded, it still is.
    #[doc(alias = "clearLineBuffer")]
    pub fn clear_line_buffer(&mut self) -> Bytes {
        self.framer.clear()
    }

    /// Switches the connection to TLS (STARTTLS) — see
    /// [`Transport::start_tls`](torsade::Transport::start_tls): what was written before goes
    /// out in the clear, what is written after is encrypted.
    ///
    /// Refuses if bytes the peer sent after the line being handled are already buffered:
    /// they arrived in the clear, and parsing them after the switch would pass them off as
    /// protected (the STARTTLS command injection of CVE-2011-0411). The connection is then
    /// aborted, lost with [`ConnectionError::PlaintextAfterStartTls`]. A protocol that
    /// wants to drop such bytes instead calls
    /// [`clear_line_buffer`](LineContext::clear_line_buffer) first.
    ///
    /// # Errors
    ///
    /// [`Error::PlaintextAfterStartTls`] (the connection is aborted);
    /// [`Error::StartTlsFailed`] if the connection is TLS, or becoming TLS, already.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::testing::{TestCertificates, TestConnection};
    /// use torsade::tls::StartTls;
    /// use torsade::ConnectionError;
    /// use torsade_protocols::{Error, Line, LineContext, LineHandler, LineOnlyReceiver};
    ///
    /// struct Smtpish(StartTls);
    ///
    /// impl LineHandler for Smtpish {
    ///     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
    ///         if &line[..] == b"STARTTLS" {
    ///             lines.send_line(b"220 go ahead");
    ///             let refused = lines.start_tls(self.0.clone());
    ///             assert!(matches!(refused, Err(Error::PlaintextAfterStartTls { bytes: 18 })));
    ///         }
    ///     }
    /// }
    ///
    /// let config = TestCertificates::new(&["localhost"]).unwrap().server_config().unwrap();
    /// let mut connection = TestConnection::new(LineOnlyReceiver::new(Smtpish(StartTls::server(config))));
    /// // An attacker pipelines a command behind STARTTLS, in the clear:
    /// connection.receive(b"STARTTLS\r\nRCPT TO:<victim>\r\n");
    /// let reason = connection.lost_reason().unwrap();
    /// assert!(matches!(reason.error(), Some(ConnectionError::PlaintextAfterStartTls { bytes: 18 })));
    /// ```
    #[doc(alias = "startTLS")]
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn start_tls(&mut self, tls: StartTls) -> Result<()> {
        let buffered = self.framer.buffered();
        if buffered > 0 {
            tracing::warn!(
                peer = %self.cx.peer_addr(),
                bytes = buffered,
                "plaintext after STARTTLS; aborting the connection"
            );
            self.cx
                .abort_connection_with(ConnectionError::PlaintextAfterStartTls { bytes: buffered });
            return Err(Error::PlaintextAfterStartTls { bytes: buffered });
        }
        self.cx
            .start_tls(tls)
            .map_err(|error| Error::StartTlsFailed {
                reason: error.to_string(),
            })
    }
}

/// Raw mode, under a [`LineReceiver`](crate::LineReceiver) only.
impl LineContext<'_, WithRawMode> {
    /// Hands the bytes that follow to
    /// [`raw_data_received`](crate::LineHandler::raw_data_received) as they arrive,
    /// starting with the rest of the current chunk, until
    /// [`set_line_mode`](LineContext::set_line_mode).
    ///
    /// An unfinished line still buffered is handed over as raw data too. If the rest of an
    /// over-long line was being discarded, that stops: in raw mode every byte is
    /// delivered (from `line_length_exceeded`, every byte after the ones reported).
    #[doc(alias = "setRawMode")]
    pub fn set_raw_mode(&mut self) {
        self.framer.set_raw_mode();
    }
}

impl<'a, M> Deref for LineContext<'a, M> {
    type Target = Context<'a>;

    fn deref(&self) -> &Context<'a> {
        &self.cx
    }
}

impl<'a, M> DerefMut for LineContext<'a, M> {
    fn deref_mut(&mut self) -> &mut Context<'a> {
        &mut self.cx
    }
}

impl<M> fmt::Debug for LineContext<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineContext")
            .field("connection", &self.cx)
            .field("framer", &self.framer)
            .field("mode", &std::any::type_name::<M>())
            .finish()
    }
}
