//! The loop both line receivers share: connection events in, framer events out to the
//! handler.
//!
//! `Dispatcher` owns a handler and a framer, and implements the `Protocol` callbacks for
//! both receivers; they differ only in whether raw mode is allowed. After every callback
//! that may have fed or steered the framer, it delivers the framer's events one by one,
//! checking before each whether the protocol asked to close — once it has, nothing more is
//! delivered (the bytes stay buffered).

use std::fmt;

use bytes::Bytes;
use torsade::{DisconnectReason, LentWrites, TransportRef};

use crate::line_framer::{
    LentEvent, LineFramer, LineSource, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH,
};
use crate::{Line, LineContext, LineHandler};

/// A handler, its framer, and the loop between them.
pub(crate) struct Dispatcher<H> {
    handler: H,
    framer: LineFramer,
    raw_mode_allowed: bool,
}

impl<H: LineHandler> Dispatcher<H> {
    /// A dispatcher with the default delimiter and limit.
    pub(crate) fn new(handler: H, raw_mode_allowed: bool) -> Dispatcher<H> {
        Dispatcher {
            handler,
            framer: LineFramer::new(Bytes::from_static(DEFAULT_DELIMITER), DEFAULT_MAX_LENGTH),
            raw_mode_allowed,
        }
    }

    /// Replaces the delimiter (before the connection starts).
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    pub(crate) fn set_delimiter(&mut self, delimiter: Bytes) {
        self.framer = LineFramer::new(delimiter, self.framer.max_length());
    }

    /// Replaces the line limit (before the connection starts).
    pub(crate) fn set_max_length(&mut self, max_length: usize) {
        self.framer = LineFramer::new(self.framer.delimiter().clone(), max_length);
    }

    pub(crate) fn handler(&self) -> &H {
        &self.handler
    }

    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    pub(crate) fn into_handler(self) -> H {
        self.handler
    }

    pub(crate) fn delimiter(&self) -> &[u8] {
        self.framer.delimiter()
    }

    pub(crate) fn max_length(&self) -> usize {
        self.framer.max_length()
    }

    pub(crate) fn connection_made(&mut self, transport: &TransportRef) {
        self.call(transport, None, |handler, lines| {
            handler.connection_made(lines)
        });
        self.deliver(transport);
    }

    #[inline]
    pub(crate) fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
        self.framer.push(data);
        self.deliver(transport);
    }

    pub(crate) fn eof_received(&mut self, transport: &TransportRef) -> bool {
        let keep_open = self.call(transport, None, |handler, lines| {
            handler.eof_received(lines)
        });
        self.deliver(transport);
        keep_open
    }

    /// Calls a handler method that takes only the context, then delivers what it made
    /// parseable (a pushed-back chunk, say).
    pub(crate) fn notify(
        &mut self,
        transport: &TransportRef,
        event: impl FnOnce(&mut H, &mut LineContext<'_>),
    ) {
        self.call(transport, None, event);
        self.deliver(transport);
    }

    pub(crate) fn connection_lost(&mut self, reason: DisconnectReason) {
        self.handler.connection_lost(reason);
    }

    /// Hands the framer's events to the handler until it needs more input or the
    /// protocol asked to close.
    ///
    /// A line found whole in a chunk is lent from `held`, this call's own handle on that
    /// chunk: one reference-count increment per chunk rather than one per line, and the
    /// framer stays free to change (a handler may switch modes or push bytes back) while
    /// the line is lent. The transport's lent write buffer, if it has one, is taken once
    /// for the whole call, not once per line.
    #[inline]
    fn deliver(&mut self, transport: &TransportRef) {
        let mut held = Bytes::new();
        // Taken once: every line's writes go through it (see `LineContext::write_many`).
        let lent = transport.lent_writes();
        let lent = lent.as_ref();
        while !transport.is_closing() {
            // The common case first: a line whole in the chunk, without the general event.
            let range = match self.framer.next_chunk_line() {
                Some(range) => range,
                None => match self.framer.next_lent_event() {
                    None => return,
                    Some(LentEvent::Line(LineSource::Chunk(range))) => range,
                    Some(LentEvent::Line(LineSource::Assembled(line))) => {
                        self.call(transport, lent, |handler, lines| {
                            handler.line_received(lines, Line::new(&line, &line));
                        });
                        continue;
                    }
                    Some(LentEvent::Raw(data)) => {
                        self.call(transport, lent, |handler, lines| {
                            handler.raw_data_received(lines, data);
                        });
                        continue;
                    }
                    Some(LentEvent::TooLong(partial)) => {
                        self.call(transport, lent, |handler, lines| {
                            handler.line_length_exceeded(lines, partial);
                        });
                        continue;
                    }
                },
            };
            let chunk = self.framer.chunk();
            if !same_view(&held, chunk) {
                held = chunk.clone();
            }
            // The framer's ranges lie inside its chunk; `get` keeps a broken promise from
            // turning into a panic.
            let Some(line) = held.get(range) else {
                continue;
            };
            self.call(transport, lent, |handler, lines| {
                handler.line_received(lines, Line::new(line, &held));
            });
        }
    }

    /// Runs `callback` on the handler with a context for this connection.
    #[inline]
    fn call<R>(
        &mut self,
        transport: &TransportRef,
        lent: Option<&LentWrites>,
        callback: impl FnOnce(&mut H, &mut LineContext<'_>) -> R,
    ) -> R {
        let mut lines = LineContext::new(transport, lent, &mut self.framer, self.raw_mode_allowed);
        callback(&mut self.handler, &mut lines)
    }
}

impl<H: fmt::Debug> fmt::Debug for Dispatcher<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("handler", &self.handler)
            .field("framer", &self.framer)
            .field("raw_mode_allowed", &self.raw_mode_allowed)
            .finish()
    }
}

/// Whether `a` and `b` view the same bytes (the same memory, so the same contents: memory
/// a `Bytes` views does not change while it does).
fn same_view(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}
