//! Getting an async [`Connection`]: [`Reactor::open_connection`] and
//! [`Reactor::start_server`].

use std::fmt;
use std::future::Future;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use futures::FutureExt;

use super::protocol::StreamProtocol;
use super::shared::StreamShared;
use super::Connection;
use crate::reactor::{dial, handshake, ConnectionTask, Counter, NetStream, Shared};
use crate::tls::rustls::pki_types::ServerName;
use crate::tls::rustls::{ClientConfig, ServerConfig};
use crate::{
    factory_fn, Address, Error, ListeningPort, Reactor, Result, TransportRef,
    DEFAULT_CONNECT_TIMEOUT,
};

impl Reactor {
    /// Connects to `address` and returns the connection to drive with async/await.
    /// asyncio's `open_connection`.
    ///
    /// The connection runs on this reactor like any other (an adapter protocol on a
    /// connection task); this future may be awaited from any task. The attempt gives up
    /// after [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Error::ConnectFailed`], [`Error::ConnectTimeout`], or [`Error::ReactorStopped`].
    #[doc(alias = "connectTCP")]
    pub async fn open_connection(&self, address: impl fmt::Display) -> Result<Connection> {
        self.open_with(address.to_string(), None).await
    }

    /// [`open_connection`](Reactor::open_connection) over TLS: the handshake (checking
    /// the server's certificate for `server_name`) completes before this returns.
    ///
    /// # Errors
    ///
    /// As [`open_connection`](Reactor::open_connection), and [`Error::InvalidServerName`],
    /// [`Error::Tls`], [`Error::TlsHandshakeTimeout`].
    pub async fn open_tls_connection(
        &self,
        address: impl fmt::Display,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> Result<Connection> {
        let name = crate::tls::parse_server_name(server_name)?;
        self.open_with(address.to_string(), Some((name, config)))
            .await
    }

    async fn open_with(
        &self,
        address: String,
        tls: Option<(ServerName<'static>, Arc<ClientConfig>)>,
    ) -> Result<Connection> {
        let registry = self.registry().clone();
        if registry.is_stopping() {
            return Err(Error::ReactorStopped);
        }
        let attempt = self.handle().spawn(async move {
            let _alive = registry.register_task();
            let (stream, peer, host) = dial(&registry, &address, DEFAULT_CONNECT_TIMEOUT).await?;
            let server_name = tls.as_ref().map(|(name, _)| name.to_str().into_owned());
            let stream = match tls {
                None => NetStream::Tcp(stream),
                Some((name, config)) => {
                    handshake(&registry, stream, name, config, &address).await?
                }
            };
            let stream_shared = StreamShared::new();
            let shared = Arc::new(Shared::new(peer, host));
            let transport: TransportRef = shared.clone();
            let connection = Connection::new(stream_shared.clone(), transport);
            let protocol = StreamProtocol::new(stream_shared);
            let mut task = ConnectionTask::new(protocol, stream, shared, registry.clone());
            task.count(Counter::Connected, 1);
            if let Some(name) = &server_name {
                task = task.with_server_name(name);
            }
            tokio::spawn(task.run(None));
            Ok(connection)
        });
        attempt.await.unwrap_or(Err(Error::ReactorStopped))
    }

    /// Listens on `address` and runs `handler` as a task for each accepted connection:
    /// a server written as `async fn handle(connection)`. asyncio's `start_server`.
    ///
    /// When the handler returns, the connection is closed gracefully (unless the handler
    /// kept it elsewhere). A handler returning `Err` has the error logged; one that panics
    /// has the panic logged; either way only its own connection is affected.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`], as [`listen_tcp`](Reactor::listen_tcp).
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
        address: impl ToSocketAddrs + fmt::Display,
        handler: H,
    ) -> Result<ListeningPort>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = O> + Send + 'static,
        O: HandlerOutput,
    {
        self.serve_with(address, handler, None)
    }

    /// [`start_server`](Reactor::start_server) over TLS: each connection's handler starts
    /// at once and its reads and writes wait for the handshake (see
    /// [`listen_tls`](Reactor::listen_tls)).
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`], as [`listen_tcp`](Reactor::listen_tcp).
    pub fn start_tls_server<H, F, O>(
        &self,
        address: impl ToSocketAddrs + fmt::Display,
        handler: H,
        config: Arc<ServerConfig>,
    ) -> Result<ListeningPort>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = O> + Send + 'static,
        O: HandlerOutput,
    {
        self.serve_with(address, handler, Some(config))
    }

    fn serve_with<H, F, O>(
        &self,
        address: impl ToSocketAddrs + fmt::Display,
        handler: H,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<ListeningPort>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = O> + Send + 'static,
        O: HandlerOutput,
    {
        let handler = Arc::new(handler);
        let factory = factory_fn(move |peer: &Address| {
            let (handler, peer) = (handler.clone(), *peer);
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
        match tls {
            None => self.listen_tcp(address, factory),
            Some(config) => self.listen_tls(address, factory, config),
        }
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
