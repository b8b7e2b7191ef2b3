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
use torsade::{DisconnectReason, TransportRef};

use crate::line_framer::{
    LentEvent, LineFramer, LineSource, PlainRun, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH,
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
        self.call(transport, |handler, lines| handler.connection_made(lines));
        self.deliver(transport);
    }

    #[inline]
    pub(crate) fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
        self.framer.push(data);
        self.deliver(transport);
    }

    pub(crate) fn eof_received(&mut self, transport: &TransportRef) -> bool {
        let keep_open = self.call(transport, |handler, lines| handler.eof_received(lines));
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
        self.call(transport, event);
        self.deliver(transport);
    }

    pub(crate) fn connection_lost(&mut self, reason: DisconnectReason) {
        self.handler.connection_lost(reason);
    }

    /// Hands the framer's events to the handler until it needs more input or the
    /// protocol asked to close.
    ///
    /// The transport's lent write buffer, if it has one, is taken once for the whole
    /// call, and so is the context every handler call gets.
    #[inline]
    fn deliver(&mut self, transport: &TransportRef) {
        let lent = transport.lent_writes();
        let mut lines = LineContext::new(
            transport,
            lent.as_ref(),
            &mut self.framer,
            self.raw_mode_allowed,
        );
        deliver_events(&mut self.handler, &mut lines);
    }

    /// Runs `callback` on the handler with a context for this connection (callbacks
    /// other than the framer's events: no lent buffer needed).
    fn call<R>(
        &mut self,
        transport: &TransportRef,
        callback: impl FnOnce(&mut H, &mut LineContext<'_>) -> R,
    ) -> R {
        let mut lines = LineContext::new(transport, None, &mut self.framer, self.raw_mode_allowed);
        callback(&mut self.handler, &mut lines)
    }
}

/// The loop of [`Dispatcher::deliver`].
///
/// A line found whole in the chunk starts a run: while the framer stays plain (nothing
/// but the chunk pending) and the handler does not steer it, the lines that follow are
/// taken straight from the chunk, with a delimiter search set up once for the run.
/// Lines are lent from `held`, this call's own handle on the chunk (or on a line
/// assembled from pieces): one reference-count increment per chunk rather than one per
/// line, and the framer stays free to change while a line is lent. Every line goes
/// through the one call at the bottom, so the compiler can fold a small handler into
/// the loop.
#[inline]
fn deliver_events<H: LineHandler>(handler: &mut H, lines: &mut LineContext<'_>) {
    let mut held = Bytes::new();
    let mut run: Option<PlainRun> = None;
    'events: while !lines.is_closing() {
        let range = 'line: {
            if let (Some(plain), false) = (&run, lines.steered) {
                if let Some(range) = lines.framer.next_plain_line(plain) {
                    break 'line range;
                }
            }
            run = None;
            match lines.framer.next_lent_event() {
                None => return,
                Some(LentEvent::Line(LineSource::Chunk(range))) => {
                    hold(&mut held, lines.framer.chunk());
                    if lines.framer.is_plain() {
                        run = Some(lines.framer.start_run());
                        lines.steered = false;
                    }
                    range
                }
                Some(LentEvent::Line(LineSource::Assembled(line))) => {
                    held = line;
                    0..held.len()
                }
                Some(LentEvent::Raw(data)) => {
                    handler.raw_data_received(lines, data);
                    continue 'events;
                }
                Some(LentEvent::TooLong(partial)) => {
                    handler.line_length_exceeded(lines, partial);
                    continue 'events;
                }
            }
        };
        // The framer's ranges lie inside its chunk, which `held` views; `get` keeps a
        // broken promise from turning into a panic.
        if let Some(line) = held.get(range) {
            handler.line_received(lines, Line::new(line, &held));
        }
    }
}

/// Makes `held` view `chunk` (a reference-count increment only if it does not already).
#[inline]
fn hold(held: &mut Bytes, chunk: &Bytes) {
    if !same_view(held, chunk) {
        *held = chunk.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet;

    impl LineHandler for Quiet {
        fn line_received(&mut self, _: &mut LineContext<'_>, _: Line<'_>) {}
    }

    #[test]
    fn a_dispatcher_stays_within_its_budget() {
        // One lives in every connection's task, in tokio's 128-byte-aligned task cell:
        // eight bytes more once cost an idle connection 128 (1 260 -> 1 387 bytes per
        // connection at 10 000, `benches/line_echo.sh`).
        assert!(std::mem::size_of::<Dispatcher<Quiet>>() <= 200);
    }
}
