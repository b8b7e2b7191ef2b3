//! Opening and serving WebSockets through the reactor: [`connect`], [`connect_with`] and
//! [`serve`], which give [`WebSocketStream`]s, and [`connect_handler`] for a callback
//! handler.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use torsade::endpoints::{ClientEndpoint, IntoServerEndpoint, TcpClient};
use torsade::{
    Address, ClientFactory, Deferred, ListeningPort, ProtocolFactory, ProtocolHandle, Reactor,
};

use super::client::parse_url;
use super::stream::StreamHandler;
use super::{
    WebSocketClient, WebSocketError, WebSocketHandler, WebSocketOptions, WebSocketServer,
    WebSocketStream,
};

/// Opens a WebSocket to `url` (`ws://host[:port]/path`, or `wss://...` with the `tls`
/// feature, checking the server's certificate with the platform's roots) with the
/// default options. Autobahn's `connectWS`; the async form of a
/// [`WebSocketClient`] on [`Reactor::connect`].
///
/// # Errors
///
/// [`WebSocketError::InvalidUrl`], [`WebSocketError::Connect`] (the connection could not
/// be made), [`WebSocketError::Refused`] (an HTTP error status),
/// [`WebSocketError::Handshake`], [`WebSocketError::HandshakeTimeout`].
///
/// # Examples
///
/// See [`WebSocketStream`].
pub async fn connect(reactor: &Reactor, url: &str) -> Result<WebSocketStream, WebSocketError> {
    connect_with(reactor, url, &WebSocketOptions::default()).await
}

/// [`connect`] with `options`: the subprotocols offered, limits, timeouts, and for
/// `wss://` the TLS configuration ([`WebSocketOptions::tls_client_config`]).
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_with(
    reactor: &Reactor,
    url: &str,
    options: &WebSocketOptions,
) -> Result<WebSocketStream, WebSocketError> {
    let endpoint = client_endpoint(url, options)?;
    let handler = StreamHandler::new(options.get_queue_capacity(), None);
    let opened = handler.opened();
    let client = WebSocketClient::with_options(url, handler, options.clone())?;
    let factory = OneClient::new(client);
    reactor
        .connect(endpoint, factory)
        .await
        .map_err(WebSocketError::Connect)?;
    opened.await
}

/// Opens a WebSocket to `url` for a callback `handler` (the callback face of
/// [`connect`]; Autobahn's `connectWS`): connects to the URL's host and port (over TLS
/// for `wss://`) and runs a [`WebSocketClient`] there. The Deferred fires with the
/// protocol's handle once the connection is made; the handshake goes on from there, and
/// the handler hears of it ([`on_open`](WebSocketHandler::on_open), or
/// [`on_handshake_failed`](WebSocketHandler::on_handshake_failed)).
///
/// # Errors
///
/// The Deferred fails with [`WebSocketError::InvalidUrl`] (or
/// [`WebSocketError::TlsDisabled`]) for a URL that cannot be opened, and with
/// [`Reactor::connect`]'s error when the connection cannot be made.
pub fn connect_handler<H: WebSocketHandler>(
    reactor: &Reactor,
    url: &str,
    options: &WebSocketOptions,
    handler: H,
) -> Deferred<ProtocolHandle<WebSocketClient<H>>> {
    let client = client_endpoint(url, options).and_then(|endpoint| {
        WebSocketClient::with_options(url, handler, options.clone())
            .map(|client| (endpoint, client))
    });
    match client {
        Ok((endpoint, client)) => reactor.connect(endpoint, OneClient::new(client)),
        Err(error) => Deferred::fail(error),
    }
}

/// Listens on `endpoint` and runs `handler` as a task for each WebSocket opened there,
/// with its [`WebSocketStream`]: a server written as `async fn handle(ws)`. The async
/// form of a [`WebSocketServerFactory`](super::WebSocketServerFactory), as
/// [`Reactor::start_server`] is of a protocol factory. Every handshake is accepted (use
/// a [`WebSocketHandler`](super::WebSocketHandler) to choose).
///
/// When the handler returns, the WebSocket is closed (1000) unless it was already.
///
/// # Errors
///
/// As [`Reactor::listen`].
///
/// # Examples
///
/// ```no_run
/// use futures::StreamExt;
/// use torsade::Reactor;
/// use torsade_protocols::websocket::{self, WebSocketOptions, WebSocketStream};
///
/// async fn echo(mut ws: WebSocketStream) {
///     while let Some(Ok(message)) = ws.next().await {
///         if ws.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// websocket::serve(&reactor, "tcp:9000", WebSocketOptions::new(), echo)?;
/// reactor.run()?;
/// # Ok::<(), torsade::Error>(())
/// ```
pub fn serve<H, F>(
    reactor: &Reactor,
    endpoint: impl IntoServerEndpoint,
    options: WebSocketOptions,
    handler: H,
) -> torsade::Result<ListeningPort>
where
    H: Fn(WebSocketStream) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let handler = Arc::new(handler);
    let factory = torsade::factory_fn(move |_: &Address| {
        let handler = handler.clone();
        let on_open = Box::new(move |stream: WebSocketStream| {
            tokio::spawn(handler(stream));
        });
        WebSocketServer::with_options(
            StreamHandler::new(options.get_queue_capacity(), Some(on_open)),
            options.clone(),
        )
    });
    reactor.listen(endpoint, factory)
}

/// The endpoint `url` names: TCP to its host and port, under TLS for `wss://`.
fn client_endpoint(
    url: &str,
    options: &WebSocketOptions,
) -> Result<Arc<dyn ClientEndpoint>, WebSocketError> {
    let uri = parse_url(url)?;
    let secure = uri.scheme_str() == Some("wss");
    let host = uri.host().unwrap_or_default();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpClient::new(host.clone(), port);
    if !secure {
        return Ok(Arc::new(tcp));
    }
    secure_endpoint(tcp, &host, options)
}

#[cfg(feature = "tls")]
fn secure_endpoint(
    tcp: TcpClient,
    host: &str,
    options: &WebSocketOptions,
) -> Result<Arc<dyn ClientEndpoint>, WebSocketError> {
    let config = match options.get_tls_client_config() {
        Some(config) => config.clone(),
        None => torsade::tls::client_config_with_platform_roots()
            .map_err(|error| WebSocketError::Connect(error.into()))?,
    };
    let tls = torsade::endpoints::TlsClient::new(tcp, host, config)
        .map_err(|error| WebSocketError::Connect(error.into()))?;
    Ok(Arc::new(tls))
}

#[cfg(not(feature = "tls"))]
fn secure_endpoint(
    _: TcpClient,
    _: &str,
    _: &WebSocketOptions,
) -> Result<Arc<dyn ClientEndpoint>, WebSocketError> {
    Err(WebSocketError::TlsDisabled)
}

/// A client factory that builds its one protocol once.
struct OneClient<H>(Mutex<Option<WebSocketClient<H>>>);

impl<H> OneClient<H> {
    fn new(client: WebSocketClient<H>) -> OneClient<H> {
        OneClient(Mutex::new(Some(client)))
    }
}

impl<H: WebSocketHandler> ProtocolFactory for OneClient<H> {
    type Protocol = WebSocketClient<H>;

    fn build_protocol(&self, _: &Address) -> Option<WebSocketClient<H>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<H: WebSocketHandler> ClientFactory for OneClient<H> {}
