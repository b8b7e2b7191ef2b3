//! The loop both line receivers share: connection events in, framer events out to the
//! handler.
//!
//! `Dispatcher` owns a handler and a framer (torsade's [`LineFramer`]), and implements the
//! `Protocol` callbacks for both receivers; they differ only in their mode (whether the
//! handler's context offers raw mode), a type parameter. After every callback that may have fed or steered the framer, it delivers the
//! framer's frames one by one, checking before each whether the connection still reads:
//! once the protocol asked to close, nothing more is delivered, and once it paused
//! reading, nothing more until reading resumes (`reading_resumed`); the bytes stay
//! buffered meanwhile.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Transport};

use crate::{Line, LineContext, LineHandler, LineMode};
use torsade::lines::{Frame, Lent, LineFramer, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};

/// A handler, its framer, and the loop between them.
pub(crate) struct Dispatcher<H, M> {
    handler: H,
    framer: LineFramer,
    mode: PhantomData<fn() -> M>,
}

impl<H: LineHandler<M>, M: LineMode> Dispatcher<H, M> {
    /// A dispatcher with the default delimiter and limit.
    pub(crate) fn new(handler: H) -> Dispatcher<H, M> {
        Dispatcher {
            handler,
            framer: LineFramer::new(Bytes::from_static(DEFAULT_DELIMITER), DEFAULT_MAX_LENGTH),
            mode: PhantomData,
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

    /// Ends lines with `\n` or `\r\n` (before the connection starts).
    pub(crate) fn set_any_line_ending(&mut self) {
        self.framer = LineFramer::any_line_ending(self.framer.max_length());
    }

    /// Replaces the line limit (before the connection starts), keeping the line ending.
    pub(crate) fn set_max_length(&mut self, max_length: usize) {
        self.framer = if self.framer.accepts_any_line_ending() {
            LineFramer::any_line_ending(max_length)
        } else {
            LineFramer::new(self.framer.delimiter().clone(), max_length)
        };
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

    pub(crate) fn connection_made(&mut self, mut cx: Context<'_>) {
        self.call(cx.untyped(), |handler, lines| {
            handler.connection_made(lines)
        });
        self.deliver(cx);
    }

    #[inline]
    pub(crate) fn data_received(&mut self, cx: Context<'_>, data: Bytes) {
        self.framer.push(data);
        self.deliver(cx);
    }

    pub(crate) fn eof_received(&mut self, mut cx: Context<'_>) -> bool {
        let keep_open = self.call(cx.untyped(), |handler, lines| handler.eof_received(lines));
        self.deliver(cx);
        keep_open
    }

    /// Calls a handler method that takes only the context, then delivers what it made
    /// parseable (a pushed-back chunk, say).
    pub(crate) fn notify(
        &mut self,
        mut cx: Context<'_>,
        event: impl FnOnce(&mut H, &mut LineContext<'_, M>),
    ) {
        self.call(cx.untyped(), event);
        self.deliver(cx);
    }

    /// Reading resumed after a pause: delivers what the pause held back.
    pub(crate) fn reading_resumed(&mut self, cx: Context<'_>) {
        self.deliver(cx);
    }

    pub(crate) fn connection_lost(&mut self, reason: DisconnectReason) {
        self.handler.connection_lost(reason);
    }

    /// Hands the framer's events to the handler until it needs more input, or the
    /// protocol asked to close or paused reading. One context serves every handler call
    /// of the delivery.
    #[inline]
    fn deliver(&mut self, cx: Context<'_>) {
        let mut lines = LineContext::new(cx, &mut self.framer);
        deliver_events(&mut self.handler, &mut lines);
    }

    /// Runs `callback` on the handler with a context for this connection.
    fn call<R>(
        &mut self,
        cx: Context<'_>,
        callback: impl FnOnce(&mut H, &mut LineContext<'_, M>) -> R,
    ) -> R {
        let mut lines = LineContext::new(cx, &mut self.framer);
        callback(&mut self.handler, &mut lines)
    }
}

/// The loop of [`Dispatcher::deliver`]: the framer's frames to the handler until the
/// framer needs more input or the connection stops reading (the protocol asked to close,
/// or paused reading: Twisted's `_PauseableMixin`, between two lines). Lines are lent from `lent`,
/// which the framer keeps viewing the chunk they lie in (see [`LineFramer::next_lent`]):
/// no copy and no reference count per line. Every line goes through one call site.
#[inline]
fn deliver_events<H: LineHandler<M>, M: LineMode>(handler: &mut H, lines: &mut LineContext<'_, M>) {
    let mut lent = Lent::new();
    while lines.is_reading() {
        match lines.framer.next_lent(&mut lent) {
            None => return,
            Some(Frame::Line(range)) => {
                // The framer's ranges lie inside `held`; `get` keeps a broken promise from
                // turning into a panic.
                if let Some(line) = lent.bytes().get(range) {
                    handler.line_received(lines, Line::new(line, lent.bytes()));
                }
            }
            Some(Frame::Raw(data)) => handler.raw_data_received(lines, data),
            Some(Frame::TooLong(partial)) => handler.line_length_exceeded(lines, partial),
        }
    }
}

impl<H: fmt::Debug, M> fmt::Debug for Dispatcher<H, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("handler", &self.handler)
            .field("framer", &self.framer)
            .field("mode", &std::any::type_name::<M>())
            .finish()
    }
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
        // every byte it adds may cost an idle connection 128.
        let size = std::mem::size_of::<Dispatcher<Quiet, crate::LinesOnly>>();
        assert!(size <= 256, "the dispatcher is {size} bytes");
    }
}
