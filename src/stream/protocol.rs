//! The protocol under an async [`Connection`](super::Connection): [`StreamProtocol`]
//! moves what the connection's task receives into the shared buffer and wakes the reader.
//!
//! It is an ordinary [`Protocol`] on the ordinary reactor: the async face is built on the
//! callback core, not beside it.

use std::sync::Arc;

use bytes::Bytes;

use super::shared::StreamShared;
use super::Connection;
use crate::{Context, DisconnectReason, Protocol, Transport};

/// What to do with the [`Connection`] once the transport is up (a server's handler).
pub(crate) type OnConnection = Box<dyn FnOnce(Connection) + Send>;

pub(crate) struct StreamProtocol {
    shared: Arc<StreamShared>,
    on_connection: Option<OnConnection>,
}

impl StreamProtocol {
    pub(crate) fn new(shared: Arc<StreamShared>) -> StreamProtocol {
        StreamProtocol {
            shared,
            on_connection: None,
        }
    }

    /// A protocol that hands a fresh [`Connection`] to `on_connection` when it is made.
    pub(crate) fn serving(on_connection: OnConnection) -> StreamProtocol {
        StreamProtocol {
            shared: super::shared::StreamShared::new(),
            on_connection: Some(on_connection),
        }
    }
}

impl Protocol for StreamProtocol {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(on_connection) = self.on_connection.take() {
            on_connection(Connection::new(self.shared.clone(), cx.transport_handle()));
        }
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let reader = {
            let mut state = self.shared.lock();
            state.framer.push(data);
            if state.framer.buffered() >= state.limit && !state.read_paused {
                state.read_paused = true;
                cx.pause_reading();
            }
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
        let reader = {
            let mut state = self.shared.lock();
            state.eof = true;
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        // Stay half-open: the async side may still write, and closes when it is done.
        true
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let wakers = {
            let mut state = self.shared.lock();
            state.ended = Some(reason);
            state.take_all_wakers()
        };
        for waker in wakers {
            waker.wake();
        }
    }
}
