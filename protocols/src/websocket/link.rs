//! An open WebSocket: tungstenite's protocol state over [`Buffers`], and this side's
//! close handshake ([`Link`]).

use std::time::Duration;

use bytes::Bytes;
use torsade::{ClockExt, Context, DelayedCall, Transport};
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::WebSocket;
use tungstenite::Utf8Bytes;

use super::adapter::Buffers;
use super::sender::Command;
use super::{CloseCode, WebSocketError, WebSocketSender};

/// The longest close reason a close frame carries (125 bytes less the code).
const MAX_CLOSE_REASON: usize = 123;

/// An open WebSocket connection's protocol state.
#[derive(Debug)]
pub(crate) struct Link {
    ws: WebSocket<Buffers>,
    sender: WebSocketSender,
    subprotocol: Option<String>,
    close_timeout: Duration,
    /// Closes the connection if the peer does not answer this side's close in time.
    close_timer: Option<DelayedCall>,
}

impl Link {
    pub(crate) fn new(
        ws: WebSocket<Buffers>,
        sender: WebSocketSender,
        subprotocol: Option<String>,
        close_timeout: Duration,
    ) -> Link {
        Link {
            ws,
            sender,
            subprotocol,
            close_timeout,
            close_timer: None,
        }
    }

    pub(crate) fn ws(&mut self) -> &mut WebSocket<Buffers> {
        &mut self.ws
    }

    pub(crate) fn sender(&self) -> &WebSocketSender {
        &self.sender
    }

    pub(crate) fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    pub(crate) fn send_message(
        &mut self,
        payload: Bytes,
        is_binary: bool,
    ) -> Result<(), WebSocketError> {
        let message = if is_binary {
            tungstenite::Message::Binary(payload)
        } else {
            let text = Utf8Bytes::try_from(payload).map_err(|_| WebSocketError::InvalidText)?;
            tungstenite::Message::Text(text)
        };
        self.send(message)
    }

    pub(crate) fn send(&mut self, message: tungstenite::Message) -> Result<(), WebSocketError> {
        if !self.ws.can_write() {
            return Err(closed());
        }
        self.ws.write(message).map_err(send_error)
    }

    pub(crate) fn send_ping(&mut self, payload: Bytes) -> Result<(), WebSocketError> {
        if payload.len() > 125 {
            return Err(WebSocketError::Send(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ControlFrameTooBig,
            )));
        }
        self.send(tungstenite::Message::Ping(payload))
    }

    /// Sends a close frame and arms the close timeout.
    pub(crate) fn send_close(
        &mut self,
        cx: &mut Context<'_>,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), WebSocketError> {
        if !code.is_sendable() {
            return Err(WebSocketError::Send(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::InvalidCloseSequence,
            )));
        }
        if !self.ws.can_write() {
            return Err(closed());
        }
        self.ws
            .close(Some(close_frame(code, reason)))
            .map_err(send_error)?;
        let sender = self.sender.clone();
        self.close_timer = Some(cx.clock().call_later(self.close_timeout, move || {
            sender.command(Command::CloseTimedOut).detach();
        }));
        Ok(())
    }

    /// Sends a close frame, if none was sent yet, for a connection this side fails.
    pub(crate) fn fail(&mut self, code: CloseCode, reason: &str) {
        if self.ws.can_write() {
            // The connection is being failed and closed: an error here changes nothing.
            let _ = self.ws.close(Some(close_frame(code, reason)));
        }
    }

    /// Hands what tungstenite has framed to the connection, in one write.
    pub(crate) fn flush(&mut self, cx: &mut Context<'_>) {
        // Writing into `Buffers` never fails, so neither does flushing into them; an
        // error here is one of the ends tungstenite reports (already closed).
        let _ = self.ws.flush();
        self.ws.get_mut().take_outgoing(|bytes| cx.write(bytes));
    }

    /// Stops the close timeout: the close handshake is over.
    pub(crate) fn stop_timer(&mut self) {
        if let Some(timer) = self.close_timer.take() {
            let _ = timer.cancel();
        }
    }
}

/// A close frame with `code` and `reason`, cut to what a close frame holds.
pub(crate) fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from(&reason[..end]),
    }
}

fn closed() -> WebSocketError {
    WebSocketError::Closed {
        code: CloseCode::NORMAL,
        reason: "the close handshake has begun".into(),
    }
}

fn send_error(error: tungstenite::Error) -> WebSocketError {
    match error {
        tungstenite::Error::AlreadyClosed
        | tungstenite::Error::ConnectionClosed
        | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::SendAfterClosing) => {
            closed()
        }
        other => WebSocketError::Send(other),
    }
}
