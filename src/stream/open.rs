//! Getting an async [`Connection`]: [`Reactor::open_connection`] and
//! [`Reactor::start_server`], through any endpoint.

use std::fmt;
use std::future::Future;

use futures::FutureExt;

use super::protocol::StreamProtocol;
use super::shared::StreamShared;
use super::Connection;
use crate::endpoints::{IntoClientEndpoint, IntoServerEndpoint};
use crate::reactor::establish;
use crate::{factory_fn, Address, Error, ListeningPort, Reactor, Result, TransportHandle};

impl Reactor {
    /// Connects through `endpoint` (an endpoint, an endpoint string, `host:port`, an
    /// [`Address`]; see [`Reactor::connect`]) and returns the connection to drive with
    /// async/await. asyncio's `open_connection`.
    ///
    /// The connection runs on this reactor like any other (an adapter protocol on a
    /// connection's driver); this future may be awaited from any task. Over TLS the
    /// handshake completes before this returns.
    ///
    /// # Errors
    ///
    /// As [`Reactor::connect`]: [`Error::InvalidEndpoint`], [`Error::ConnectFailed`],
    /// [`Error::ConnectTimeout`], [`Error::Tls`], [`Error::TlsHandshakeTimeout`],
    /// [`Error::ReactorStopped`].
    #[doc(alias = "connectTCP")]
    pub async fn open_connection(&self, endpoint: impl IntoClientEndpoint) -> Result<Connection> {
        let endpoint = endpoint.into_client_endpoint()?;
        let registry = self.registry().clone();
        if registry.is_stopping() {
            return Err(Error::ReactorStopped);
        }
        let (handle, clock) = self.pick_loop();
        let attempt = handle.spawn(async move {
            let _alive = registry.register_task();
            let shared = StreamShared::new();
            let protocol = StreamProtocol::new(shared.clone());
            let mut driver = establish(&registry, clock, &*endpoint, |_| Some(protocol)).await?;
            let transport = TransportHandle::new(driver.inbox().clone());
            tokio::spawn(std::future::poll_fn(move |cx| driver.poll(cx)));
            Ok(Connection::new(shared, transport))
        });
        attempt.await.unwrap_or(Err(Error::ReactorStopped))
    }

    /// Listens on `endpoint` (see [`Reactor::listen`]) and runs `handler` as a task for
    /// each accepted connection: a server written as `async fn handle(connection)`.
    /// asyncio's `start_server`.
    ///
    /// When the handler returns, the connection is closed gracefully (unless the handler
    /// kept it elsewhere). A handler returning `Err` has the error logged; one that panics
    /// has the panic logged; either way only its own connection is affected. Over TLS the
    /// handler starts at once and its reads and writes wait for the handshake.
    ///
    /// # Errors
    ///
    /// As [`Reactor::listen`].
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Connection, Reactor};
    ///
    /// async fn shout(mut connection: Connection) -> torsade::Result<()> {
    ///     while let Some(line) = connection.read_line().await? {
    ///         connection.write_line(&line.to_ascii_uppercase()).await?;
    ///     }
    ///     Ok(())
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.start_server("127.0.0.1:0", shout).unwrap();
    /// let r = reactor.clone();
    /// let answer = reactor.spawn(async move {
    ///     let mut connection = r.open_connection(port.local_addr()).await?;
    ///     connection.write_line(b"hello").await?;
    ///     let answer = connection.read_line().await?;
    ///     r.stop()?;
    ///     Ok::<_, torsade::Error>(answer)
    /// });
    /// reactor.run().unwrap();
    /// # let mut answer = answer;
    /// let answer = answer.take_result().unwrap().unwrap().unwrap();
    /// assert_eq!(answer.as_deref(), Some(&b"HELLO"[..]));
    /// ```
    #[doc(alias = "listenTCP")]
    pub fn start_server<H, F, O>(
        &self,
        endpoint: impl IntoServerEndpoint,
        handler: H,
    ) -> Result<ListeningPort>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = O> + Send + 'static,
        O: HandlerOutput,
    {
        let handler = std::sync::Arc::new(handler);
        let factory = factory_fn(move |peer: &Address| {
            let (handler, peer) = (handler.clone(), peer.clone());
            StreamProtocol::serving(Box::new(move |connection| {
                let task = std::panic::AssertUnwindSafe(handler(connection)).catch_unwind();
                tokio::spawn(async move {
                    match task.await {
                        Ok(output) => output.report(&peer),
                        Err(payload) => {
                            tracing::error!(%peer, "connection handler panicked: {}", Error::from_panic(&*payload))
                        }
                    }
                });
            }))
        });
        self.listen(endpoint, factory)
    }
}

/// What a [`Reactor::start_server`] handler may return: `()`, or a `Result` whose error
/// is logged.
pub trait HandlerOutput: Send + 'static {
    /// Reports the outcome of the handler for the connection with `peer`.
    fn report(self, peer: &Address);
}

impl HandlerOutput for () {
    fn report(self, _: &Address) {}
}

impl<E: fmt::Display + Send + 'static> HandlerOutput for std::result::Result<(), E> {
    fn report(self, peer: &Address) {
        if let Err(error) = self {
            tracing::warn!(%peer, "connection handler failed: {error}");
        }
    }
}
