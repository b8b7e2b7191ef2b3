//! Listening for WebSocket clients in one line: [`WebSocketServerFactory`].

use std::fmt;

use torsade::{Address, ProtocolFactory};

use super::{WebSocketHandler, WebSocketOptions, WebSocketServer};

/// A [`ProtocolFactory`] making a [`WebSocketServer`] with a new handler for each
/// accepted connection: pass it to [`Reactor::listen`](torsade::Reactor::listen).
/// Autobahn's `WebSocketServerFactory`.
///
/// # Examples
///
/// ```no_run
/// use bytes::Bytes;
/// use torsade::Reactor;
/// use torsade_protocols::websocket::{WebSocketContext, WebSocketHandler, WebSocketServerFactory};
///
/// struct Echo;
/// impl WebSocketHandler for Echo {
///     fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
///         let _ = ws.send_message(payload, is_binary);
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// reactor.listen("tcp:9000", WebSocketServerFactory::new(|| Echo))?;
/// reactor.run()?;
/// # Ok::<(), torsade::Error>(())
/// ```
pub struct WebSocketServerFactory<F> {
    make: F,
    options: WebSocketOptions,
}

impl<F, H> WebSocketServerFactory<F>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: WebSocketHandler,
{
    /// A factory calling `make` for each connection's handler, with the default options.
    pub fn new(make: F) -> WebSocketServerFactory<F> {
        WebSocketServerFactory::with_options(make, WebSocketOptions::default())
    }

    /// A factory calling `make` for each connection's handler, with `options`.
    pub fn with_options(make: F, options: WebSocketOptions) -> WebSocketServerFactory<F> {
        WebSocketServerFactory { make, options }
    }

    /// The options each connection gets.
    pub fn options(&self) -> &WebSocketOptions {
        &self.options
    }
}

impl<F, H> ProtocolFactory for WebSocketServerFactory<F>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: WebSocketHandler,
{
    type Protocol = WebSocketServer<H>;

    fn build_protocol(&self, _: &Address) -> Option<WebSocketServer<H>> {
        Some(WebSocketServer::with_options(
            (self.make)(),
            self.options.clone(),
        ))
    }
}

impl<F> fmt::Debug for WebSocketServerFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketServerFactory")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
