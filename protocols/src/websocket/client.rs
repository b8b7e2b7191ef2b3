//! The client side of a WebSocket: [`WebSocketClient`], a torsade protocol.

use std::fmt;

use bytes::Bytes;
use torsade::{Context, DisconnectReason, Protocol};
use tungstenite::client::{ClientRequestBuilder, IntoClientRequest};
use tungstenite::http::Uri;

use super::session::{sender_for, Session, SessionProtocol};
use super::{WebSocketError, WebSocketHandler, WebSocketOptions};

/// A [`Protocol`] that opens a WebSocket to a URL's path (sending the opening handshake
/// when the connection is made) and then runs RFC 6455 for a [`WebSocketHandler`]:
/// Autobahn's `WebSocketClientProtocol`.
///
/// The rules are the server's (see [`WebSocketServer`](super::WebSocketServer)), from
/// the other side: frames sent are masked, a masked frame from the server closes the
/// connection with 1002; a refused handshake (an HTTP error status) or a wrong accept key
/// is [`on_handshake_failed`](WebSocketHandler::on_handshake_failed), then the connection
/// closes.
///
/// The URL's host and path go in the request; connecting to that host is the caller's
/// (through [`Reactor::connect`](torsade::Reactor::connect), or
/// [`websocket::connect`](super::connect) for the async face).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade_protocols::websocket::{WebSocketClient, WebSocketContext, WebSocketHandler};
///
/// struct Quiet;
/// impl WebSocketHandler for Quiet {
///     fn on_message(&mut self, _: &mut WebSocketContext<'_>, _: Bytes, _: bool) {}
/// }
///
/// let client = WebSocketClient::new("ws://example.com/chat", Quiet).unwrap();
/// let mut connection = TestConnection::new(client);
/// let request = connection.take_written();
/// assert!(request.starts_with(b"GET /chat HTTP/1.1\r\n"));
/// ```
pub struct WebSocketClient<H> {
    session: Session<H>,
}

impl<H: WebSocketHandler> WebSocketClient<H> {
    /// A client for `handler` opening `url` (`ws://host[:port]/path` or `wss://...`),
    /// with the default options.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::InvalidUrl`] for a URL that is not `ws://` or `wss://` with a
    /// host.
    pub fn new(url: &str, handler: H) -> Result<WebSocketClient<H>, WebSocketError> {
        WebSocketClient::with_options(url, handler, WebSocketOptions::default())
    }

    /// A client for `handler` opening `url`, with `options` (the subprotocols offered,
    /// the limits).
    ///
    /// # Errors
    ///
    /// As [`new`](WebSocketClient::new).
    pub fn with_options(
        url: &str,
        handler: H,
        options: WebSocketOptions,
    ) -> Result<WebSocketClient<H>, WebSocketError> {
        let uri = parse_url(url)?;
        let mut builder = ClientRequestBuilder::new(uri);
        for subprotocol in options.get_subprotocols() {
            builder = builder.with_sub_protocol(subprotocol.clone());
        }
        let request = builder
            .into_client_request()
            .map_err(|error| invalid(url, &error.to_string()))?;
        Ok(WebSocketClient {
            session: Session::client(handler, options, request),
        })
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        self.session.handler()
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        self.session.handler_mut()
    }

    /// Whether the opening handshake is done and the close not yet.
    pub fn is_open(&self) -> bool {
        self.session.is_open()
    }
}

/// `url` as a URI, if it is `ws://` or `wss://` with a host.
pub(crate) fn parse_url(url: &str) -> Result<Uri, WebSocketError> {
    let uri: Uri = url
        .parse()
        .map_err(|error: tungstenite::http::uri::InvalidUri| invalid(url, &error.to_string()))?;
    match uri.scheme_str() {
        Some("ws" | "wss") => {}
        _ => return Err(invalid(url, "the scheme must be ws or wss")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(url, "no host"));
    }
    Ok(uri)
}

fn invalid(url: &str, reason: &str) -> WebSocketError {
    WebSocketError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

impl<H: WebSocketHandler> SessionProtocol for WebSocketClient<H> {
    type Handler = H;

    fn session(&mut self) -> &mut Session<H> {
        &mut self.session
    }
}

impl<H: WebSocketHandler> Protocol for WebSocketClient<H> {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let sender = sender_for(cx);
        self.session.connection_made(&mut cx.untyped(), sender);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.session.data_received(&mut cx.untyped(), data);
    }

    fn reading_resumed(&mut self, cx: &mut Context<'_, Self>) {
        self.session.reading_resumed(&mut cx.untyped());
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.session.write_pressure(&mut cx.untyped(), true);
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        self.session.write_pressure(&mut cx.untyped(), false);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.session.connection_lost(&reason);
    }
}

impl<H: fmt::Debug> fmt::Debug for WebSocketClient<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClient")
            .field("session", &self.session)
            .finish()
    }
}
