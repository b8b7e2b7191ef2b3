//! The client side of a WebSocket: [`WebSocketClient`], its rules and how one is made
//! from a URL.

use tungstenite::client::{ClientRequestBuilder, IntoClientRequest};
use tungstenite::http::Uri;

use super::session::Session;
use super::{ClientSide, WebSocketError, WebSocketHandler, WebSocketOptions, WebSocketProtocol};

/// A [`Protocol`](torsade::Protocol) that opens a WebSocket to a URL's path (sending the
/// opening handshake when the connection is made) and then runs RFC 6455 for a
/// [`WebSocketHandler`]: Autobahn's `WebSocketClientProtocol`. A [`WebSocketProtocol`] on
/// the [`ClientSide`], made with [`new`](WebSocketClient::new) or
/// [`with_options`](WebSocketClient::with_options).
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
pub type WebSocketClient<H> = WebSocketProtocol<H, ClientSide>;

impl<H: WebSocketHandler> WebSocketProtocol<H, ClientSide> {
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
        Ok(WebSocketProtocol::with_session(Session::client(
            handler, options, request,
        )))
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
