//! The rules of one WebSocket connection, shared by the server and the client protocol
//! and by the async face: [`Session`].
//!
//! Sans-I/O: received bytes go into [`Buffers`], tungstenite's handshake and protocol
//! core read them from there, and what they write goes out in one write per callback.
//! The session enforces what tungstenite reports (limits → 1009, bad UTF-8 → 1007,
//! protocol errors and masking → 1002, by failing the connection), runs both timeouts
//! on the connection's clock, and tells the handler of the close exactly once.

use bytes::{Bytes, BytesMut};
use torsade::{ClockExt, Context, DelayedCall, DisconnectReason, Transport};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::server::{self as server_handshake, ErrorResponse};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::{self, HeaderValue};
use tungstenite::protocol::WebSocket;

use super::adapter::Buffers;
use super::link::Link;
use super::sender::Command;
use super::{
    CloseCode, ConnectionRequest, ConnectionResponse, WebSocketContext, WebSocketError,
    WebSocketHandler, WebSocketOptions, WebSocketSender,
};

/// The largest handshake head (a client's request, a server's response) read: a server
/// answers a larger request with 431, a client fails.
const MAX_HEAD: usize = 16 << 10;

/// Where the connection is.
#[derive(Debug)]
enum Phase {
    /// (Server) Reading the client's request, up to its blank line.
    AwaitingRequest(BytesMut),
    /// (Client) Before `connection_made`: the request to send.
    Starting(Box<tungstenite::handshake::client::Request>),
    /// (Client) The request is sent; reading the response up to its blank line.
    AwaitingResponse(Box<MidHandshake<ClientHandshake<Buffers>>>, BytesMut),
    /// The WebSocket is open (or closing).
    Open(Box<Link>),
    /// Closed, failed or refused: nothing more is read or sent.
    Ended,
}

/// One WebSocket connection's state and its handler.
#[derive(Debug)]
pub(crate) struct Session<H> {
    handler: H,
    options: WebSocketOptions,
    phase: Phase,
    sender: Option<WebSocketSender>,
    handshake_timer: Option<DelayedCall>,
    close_reported: bool,
}

impl<H: WebSocketHandler> Session<H> {
    pub(crate) fn server(handler: H, options: WebSocketOptions) -> Session<H> {
        Session::with_phase(handler, options, Phase::AwaitingRequest(BytesMut::new()))
    }

    pub(crate) fn client(
        handler: H,
        options: WebSocketOptions,
        request: tungstenite::handshake::client::Request,
    ) -> Session<H> {
        Session::with_phase(handler, options, Phase::Starting(Box::new(request)))
    }

    fn with_phase(handler: H, options: WebSocketOptions, phase: Phase) -> Session<H> {
        Session {
            handler,
            options,
            phase,
            sender: None,
            handshake_timer: None,
            close_reported: false,
        }
    }

    pub(crate) fn handler(&self) -> &H {
        &self.handler
    }

    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    pub(crate) fn connection_made(&mut self, cx: &mut Context<'_>, sender: WebSocketSender) {
        if let Some(timeout) = self.options.get_handshake_timeout() {
            let sender = sender.clone();
            self.handshake_timer = Some(cx.clock().call_later(timeout, move || {
                sender.command(Command::HandshakeTimedOut).detach();
            }));
        }
        self.sender = Some(sender);
        if let Phase::Starting(_) = self.phase {
            let Phase::Starting(request) = std::mem::replace(&mut self.phase, Phase::Ended) else {
                return;
            };
            let started = tungstenite::client::client_with_config(
                *request,
                Buffers::default(),
                Some(self.options.config()),
            );
            self.client_handshake_step(cx, started);
        }
    }

    pub(crate) fn data_received(&mut self, cx: &mut Context<'_>, data: Bytes) {
        match &mut self.phase {
            Phase::AwaitingRequest(head) => {
                head.extend_from_slice(&data);
                self.try_accept(cx);
            }
            Phase::AwaitingResponse(handshake, received) => {
                // The response goes to tungstenite whole (with what follows it): fed in
                // small pieces, its handshake would take them for an attack.
                received.extend_from_slice(&data);
                if memchr::memmem::find(received, b"\r\n\r\n").is_none() {
                    if received.len() > MAX_HEAD {
                        tracing::debug!(peer = %cx.peer_addr(), "WebSocket response head too large");
                        self.handshake_failed(
                            cx,
                            WebSocketError::Handshake(tungstenite::Error::Capacity(
                                tungstenite::error::CapacityError::TooManyHeaders,
                            )),
                        );
                    }
                    return;
                }
                handshake
                    .get_mut()
                    .get_mut()
                    .push(received.split().freeze());
                let Phase::AwaitingResponse(handshake, _) =
                    std::mem::replace(&mut self.phase, Phase::Ended)
                else {
                    return;
                };
                self.client_handshake_step(cx, handshake.handshake());
            }
            Phase::Open(link) => {
                link.ws().get_mut().push(data);
                self.deliver(cx);
            }
            Phase::Starting(_) | Phase::Ended => {}
        }
    }

    pub(crate) fn reading_resumed(&mut self, cx: &mut Context<'_>) {
        self.deliver(cx);
    }

    /// Tells the handler of write pressure while open: `pause` (crossed the high-water
    /// mark) or not (drained to the low-water mark).
    pub(crate) fn write_pressure(&mut self, cx: &mut Context<'_>, pause: bool) {
        if let Phase::Open(link) = &mut self.phase {
            let mut ws = WebSocketContext::new(cx.untyped(), link);
            if pause {
                self.handler.pause_producing(&mut ws);
            } else {
                self.handler.resume_producing(&mut ws);
            }
            link.flush(cx);
        }
        // Reading may have resumed in the callback.
        self.deliver(cx);
    }

    pub(crate) fn connection_lost(&mut self, reason: &DisconnectReason) {
        self.stop_handshake_timer();
        if let Phase::Open(link) = &mut self.phase {
            link.stop_timer();
        }
        self.phase = Phase::Ended;
        let reason = match reason.error() {
            Some(error) => error.to_string(),
            None => "the connection ended without a close handshake".to_string(),
        };
        self.report_close(CloseCode::ABNORMAL, &reason);
    }

    /// Runs what a [`WebSocketSender`] asked.
    pub(crate) fn command(
        &mut self,
        cx: &mut Context<'_>,
        command: Command,
    ) -> Result<(), WebSocketError> {
        match command {
            Command::HandshakeTimedOut => {
                if !matches!(self.phase, Phase::Open(_) | Phase::Ended) {
                    self.phase = Phase::Ended;
                    self.handler
                        .on_handshake_failed(WebSocketError::HandshakeTimeout);
                    cx.abort_connection();
                }
                return Ok(());
            }
            Command::CloseTimedOut => {
                if let Phase::Open(_) = self.phase {
                    tracing::debug!(peer = %cx.peer_addr(), "the peer did not answer the WebSocket close in time");
                    self.phase = Phase::Ended;
                    cx.lose_connection();
                    self.report_close(CloseCode::ABNORMAL, "the close handshake timed out");
                }
                return Ok(());
            }
            _ => {}
        }
        let Phase::Open(link) = &mut self.phase else {
            return Err(ended("the WebSocket is not open"));
        };
        let outcome = match command {
            Command::Send(message) => link.send(message.into_tungstenite()),
            Command::Ping(payload) => link.send_ping(payload),
            Command::Close(code, reason) => link.send_close(cx, code, &reason),
            Command::HandshakeTimedOut | Command::CloseTimedOut => Ok(()),
        };
        link.flush(cx);
        outcome
    }

    /// (Server) Once the request's head is complete, runs tungstenite's server handshake
    /// on it, with the handler's decision.
    fn try_accept(&mut self, cx: &mut Context<'_>) {
        let Phase::AwaitingRequest(received) = &mut self.phase else {
            return;
        };
        let Some(end) = memchr::memmem::find(received, b"\r\n\r\n") else {
            if received.len() > MAX_HEAD {
                self.refuse(cx, 431, "request header fields too large");
            }
            return;
        };
        let head = received.split_to(end + 4).freeze();
        let rest = received.split().freeze();
        let peer = cx.peer_addr().clone();
        let handler = &mut self.handler;
        let mut refusal = None;
        let mut subprotocol = None;
        let callback = |request: &server_handshake::Request,
                        mut response: server_handshake::Response|
         -> Result<server_handshake::Response, ErrorResponse> {
            let decision = handler.on_connect(&ConnectionRequest::new(request, &peer));
            if let Some((status, reason)) = decision.refusal() {
                refusal = Some((status, reason.to_string()));
                return Err(error_response(status, reason));
            }
            if let Some(chosen) = decision.subprotocol() {
                match HeaderValue::from_str(chosen) {
                    Ok(value) => {
                        response
                            .headers_mut()
                            .insert("sec-websocket-protocol", value);
                        subprotocol = Some(chosen.to_string());
                    }
                    Err(_) => {
                        refusal = Some((500, "invalid subprotocol chosen".to_string()));
                        return Err(error_response(500, "invalid subprotocol chosen"));
                    }
                }
            }
            Ok(response)
        };
        let accepted = tungstenite::accept_hdr_with_config(
            Buffers::with_incoming(head),
            callback,
            Some(self.options.config()),
        );
        match accepted {
            Ok(mut ws) => {
                ws.get_mut().take_outgoing(|response| cx.write(response));
                ws.get_mut().push(rest);
                self.open(cx, ws, subprotocol);
            }
            Err(failure) => {
                let error = match failure {
                    HandshakeError::Failure(error) => error,
                    HandshakeError::Interrupted(_) => tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::HandshakeIncomplete,
                    ),
                };
                let (status, reason) =
                    refusal.unwrap_or_else(|| (400, format!("bad WebSocket request: {error}")));
                tracing::debug!(peer = %cx.peer_addr(), status, %reason, "WebSocket handshake refused");
                self.refuse(cx, status, &reason);
            }
        }
    }

    /// (Server) Answers the request with an HTTP error and closes the connection.
    fn refuse(&mut self, cx: &mut Context<'_>, status: u16, reason: &str) {
        let response = error_response(status, reason);
        let mut bytes = Vec::new();
        // Writing into a `Vec` cannot fail.
        let _ = server_handshake::write_response(&mut bytes, &response);
        bytes.extend_from_slice(reason.as_bytes());
        cx.write(&bytes);
        self.phase = Phase::Ended;
        self.stop_handshake_timer();
        self.handler.on_handshake_failed(WebSocketError::Refused {
            status: response.status().as_u16(),
            reason: reason.to_string(),
        });
        cx.lose_connection();
    }

    /// (Client) Goes on with the handshake after a step of tungstenite's.
    fn client_handshake_step(
        &mut self,
        cx: &mut Context<'_>,
        step: Result<
            (WebSocket<Buffers>, tungstenite::handshake::client::Response),
            HandshakeError<ClientHandshake<Buffers>>,
        >,
    ) {
        match step {
            Ok((ws, response)) => {
                self.handler
                    .on_connect_response(&ConnectionResponse::new(&response));
                let subprotocol = ConnectionResponse::new(&response)
                    .subprotocol()
                    .map(str::to_string);
                self.open(cx, ws, subprotocol);
            }
            Err(HandshakeError::Interrupted(mut handshake)) => {
                handshake
                    .get_mut()
                    .get_mut()
                    .take_outgoing(|request| cx.write(request));
                self.phase = Phase::AwaitingResponse(Box::new(handshake), BytesMut::new());
            }
            Err(HandshakeError::Failure(error)) => {
                let error = match error {
                    tungstenite::Error::Http(response) => {
                        let status = response.status();
                        let reason = response
                            .body()
                            .as_deref()
                            .filter(|body| !body.is_empty())
                            .map(|body| String::from_utf8_lossy(body).trim().to_string())
                            .unwrap_or_else(|| {
                                status.canonical_reason().unwrap_or_default().to_string()
                            });
                        WebSocketError::Refused {
                            status: status.as_u16(),
                            reason,
                        }
                    }
                    other => WebSocketError::Handshake(other),
                };
                self.handshake_failed(cx, error);
            }
        }
    }

    /// (Client) The handshake failed: the handler hears why, the connection closes.
    fn handshake_failed(&mut self, cx: &mut Context<'_>, error: WebSocketError) {
        tracing::debug!(peer = %cx.peer_addr(), %error, "WebSocket handshake failed");
        self.phase = Phase::Ended;
        self.stop_handshake_timer();
        self.handler.on_handshake_failed(error);
        cx.lose_connection();
    }

    /// The handshake is done: the WebSocket is open.
    fn open(&mut self, cx: &mut Context<'_>, ws: WebSocket<Buffers>, subprotocol: Option<String>) {
        self.stop_handshake_timer();
        let Some(sender) = self.sender.clone() else {
            // `connection_made` sets the sender before any handshake step can run.
            return;
        };
        self.phase = Phase::Open(Box::new(Link::new(
            ws,
            sender,
            subprotocol,
            self.options.get_close_timeout(),
        )));
        if let Phase::Open(link) = &mut self.phase {
            self.handler
                .on_open(&mut WebSocketContext::new(cx.untyped(), link));
            link.flush(cx);
        }
        self.deliver(cx);
    }

    /// Reads messages out of tungstenite and hands them to the handler, until more bytes
    /// are needed, reading is paused, or the WebSocket ends.
    fn deliver(&mut self, cx: &mut Context<'_>) {
        loop {
            let Phase::Open(link) = &mut self.phase else {
                return;
            };
            if cx.is_closing() || !cx.is_reading() {
                link.flush(cx);
                return;
            }
            let read = link.ws().read();
            match read {
                Ok(tungstenite::Message::Text(text)) => {
                    let mut ws = WebSocketContext::new(cx.untyped(), link);
                    self.handler.on_message(&mut ws, text.into(), false);
                }
                Ok(tungstenite::Message::Binary(payload)) => {
                    let mut ws = WebSocketContext::new(cx.untyped(), link);
                    self.handler.on_message(&mut ws, payload, true);
                }
                Ok(tungstenite::Message::Ping(payload)) => {
                    let mut ws = WebSocketContext::new(cx.untyped(), link);
                    self.handler.on_ping(&mut ws, payload);
                }
                Ok(tungstenite::Message::Pong(payload)) => {
                    let mut ws = WebSocketContext::new(cx.untyped(), link);
                    self.handler.on_pong(&mut ws, payload);
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    let (code, reason) = match &frame {
                        Some(frame) => (CloseCode::from(frame.code), frame.reason.to_string()),
                        None => (CloseCode::NO_STATUS, String::new()),
                    };
                    self.closed(cx, code, &reason);
                    return;
                }
                Ok(tungstenite::Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(error))
                    if error.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    link.flush(cx);
                    return;
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.closed(cx, CloseCode::NORMAL, "");
                    return;
                }
                Err(error) => {
                    self.fail(cx, error);
                    return;
                }
            }
        }
    }

    /// The close handshake is over: the peer's close answered, or its answer to ours
    /// received.
    fn closed(&mut self, cx: &mut Context<'_>, code: CloseCode, reason: &str) {
        if let Phase::Open(link) = &mut self.phase {
            link.stop_timer();
            link.flush(cx);
        }
        self.phase = Phase::Ended;
        cx.lose_connection();
        self.report_close(code, reason);
    }

    /// Fails the WebSocket connection (RFC 6455, 7.1.7): a close frame with the code for
    /// `error`, then the connection is closed without waiting for an answer.
    fn fail(&mut self, cx: &mut Context<'_>, error: tungstenite::Error) {
        let code = close_code_for(&error);
        let reason = error.to_string();
        tracing::debug!(peer = %cx.peer_addr(), %code, %reason, "failing the WebSocket connection");
        if let Phase::Open(link) = &mut self.phase {
            link.stop_timer();
            link.fail(code, &reason);
            link.flush(cx);
        }
        self.phase = Phase::Ended;
        cx.lose_connection();
        self.report_close(code, &reason);
    }

    fn report_close(&mut self, code: CloseCode, reason: &str) {
        if !self.close_reported {
            self.close_reported = true;
            self.handler.on_close(code, reason);
        }
    }

    fn stop_handshake_timer(&mut self) {
        if let Some(timer) = self.handshake_timer.take() {
            let _ = timer.cancel();
        }
    }
}

/// The close code for a failure tungstenite reports while reading.
pub(crate) fn close_code_for(error: &tungstenite::Error) -> CloseCode {
    match error {
        tungstenite::Error::Capacity(_) => CloseCode::MESSAGE_TOO_BIG,
        tungstenite::Error::Utf8(_) => CloseCode::INVALID_PAYLOAD,
        tungstenite::Error::AttackAttempt => CloseCode::POLICY_VIOLATION,
        _ => CloseCode::PROTOCOL_ERROR,
    }
}

/// An HTTP error response with `reason` as its plain-text body.
fn error_response(status: u16, reason: &str) -> ErrorResponse {
    let status = http::StatusCode::from_u16(status)
        .ok()
        .filter(|status| status.is_client_error() || status.is_server_error())
        .unwrap_or(http::StatusCode::FORBIDDEN);
    let mut response = ErrorResponse::new(Some(reason.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("content-length", HeaderValue::from(reason.len()));
    headers.insert("connection", HeaderValue::from_static("close"));
    response
}

/// The error for a command the session can no longer run.
pub(super) fn ended(reason: &str) -> WebSocketError {
    WebSocketError::Closed {
        code: CloseCode::ABNORMAL,
        reason: reason.to_string(),
    }
}
