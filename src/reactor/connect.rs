//! Making connections: [`Reactor::connect_tcp`] and [`Reactor::connect_tls`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use tokio_rustls::{TlsConnector, TlsStream};

use super::connection::{Connection, Hooks, OnLost, OnMade};
use super::net_stream::NetStream;
use super::registry::Registry;
use super::shared::Shared;
use super::stats::Counter;
use super::Reactor;
use crate::tls::rustls::pki_types::ServerName;
use crate::tls::rustls::{self, ClientConfig};
use crate::{Address, ClientFactory, Deferred, Error, ProtocolHandle, Resolver};

/// How long [`Reactor::connect_tcp`] waits for a connection (Twisted's default).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Reactor {
    /// Connects to `address` (`"host:port"`, a `SocketAddr`...) and runs a protocol built
    /// by `factory` on the connection. Twisted's `connectTCP`, with the endpoint-style
    /// result: the Deferred fires with a [`ProtocolHandle`] once `connection_made` has run.
    ///
    /// Host names are resolved without blocking the loop; addresses are tried in turn.
    /// The attempt gives up after [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// On failure the factory's [`client_connection_failed`] runs and the Deferred fails
    /// with [`Error::ConnectFailed`], [`Error::ConnectTimeout`], [`Error::NoProtocol`] or
    /// [`Error::ReactorStopped`]. When a made connection ends, the factory's
    /// [`client_connection_lost`] runs after the protocol's `connection_lost`.
    ///
    /// [`client_connection_failed`]: ClientFactory::client_connection_failed
    /// [`client_connection_lost`]: ClientFactory::client_connection_lost
    #[doc(alias = "connectTCP")]
    pub fn connect_tcp<F: ClientFactory>(
        &self,
        address: impl fmt::Display,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        self.connect_tcp_with_timeout(address, factory, DEFAULT_CONNECT_TIMEOUT)
    }

    /// [`connect_tcp`](Reactor::connect_tcp) giving up after `timeout`.
    pub fn connect_tcp_with_timeout<F: ClientFactory>(
        &self,
        address: impl fmt::Display,
        factory: F,
        timeout: Duration,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        self.connect_with(address, factory, timeout, None)
    }

    /// Connects to `address` over TLS, checking that the server's certificate is valid for
    /// `server_name` (also sent as SNI). Twisted's `connectSSL`.
    ///
    /// The handshake completes before the protocol is built, so the protocol's transport is
    /// encrypted from `connection_made` on, and [`Transport::tls_info`](crate::Transport::tls_info)
    /// tells the outcome. A failed handshake — an untrusted, expired or wrong-name
    /// certificate, a peer that does not speak TLS, one that stalls past
    /// the handshake timeout (see [`Reactor::set_tls_handshake_timeout`]) — fails the attempt like a refused connection:
    /// [`Error::Tls`], [`Error::TlsHandshakeTimeout`] or [`Error::ConnectFailed`], to the
    /// factory's `client_connection_failed` and the Deferred. Build `config` with
    /// [`tls::client_config_with_ca`](crate::tls::client_config_with_ca) or
    /// [`tls::client_config_with_platform_roots`](crate::tls::client_config_with_platform_roots).
    #[doc(alias = "connectSSL")]
    pub fn connect_tls<F: ClientFactory>(
        &self,
        address: impl fmt::Display,
        server_name: &str,
        factory: F,
        config: Arc<ClientConfig>,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        match crate::tls::parse_server_name(server_name) {
            Ok(name) => self.connect_with(
                address,
                factory,
                DEFAULT_CONNECT_TIMEOUT,
                Some((name, config)),
            ),
            Err(error) => {
                let (deferred, resolver) = Deferred::new();
                fail(&factory, &resolver, error);
                deferred
            }
        }
    }

    fn connect_with<F: ClientFactory>(
        &self,
        address: impl fmt::Display,
        factory: F,
        timeout: Duration,
        tls: Option<(ServerName<'static>, Arc<ClientConfig>)>,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let address = address.to_string();
        let factory = Arc::new(factory);
        let (deferred, resolver) = Deferred::new();
        factory.started_connecting(&address);
        factory.start_factory();
        let registry = self.registry().clone();
        if registry.is_stopping() {
            fail(&factory, &resolver, Error::ReactorStopped);
            return deferred;
        }
        let alive = registry.register_task();
        self.handle().spawn(async move {
            let _alive = alive;
            let (stream, peer, host) = match dial(&registry, &address, timeout).await {
                Ok(dialed) => dialed,
                Err(error) => return fail(&factory, &resolver, error),
            };
            let server_name = tls.as_ref().map(|(name, _)| name.to_str().into_owned());
            let stream = match tls {
                None => NetStream::Tcp(stream),
                Some((name, config)) => {
                    match handshake(&registry, stream, name, config, &address).await {
                        Ok(stream) => stream,
                        Err(error) => return fail(&factory, &resolver, error),
                    }
                }
            };
            let Some(protocol) = factory.build_protocol(&peer) else {
                return fail(&factory, &resolver, Error::NoProtocol { address });
            };
            let on_made: OnMade<F::Protocol> = Box::new(move |handle| {
                // The resolver is fired only here.
                let _ = resolver.callback(handle);
            });
            let lost_factory = factory.clone();
            let on_lost: OnLost = Box::new(move |reason| {
                lost_factory.client_connection_lost(reason);
                lost_factory.stop_factory();
            });
            let shared = Arc::new(Shared::new(peer, host));
            let mut connection = Connection::new(protocol, stream, shared, registry);
            connection.count(Counter::Connected, 1);
            if let Some(name) = &server_name {
                connection = connection.with_server_name(name);
            }
            connection
                .run(Some(Box::new(Hooks {
                    on_made: Some(on_made),
                    on_lost: Some(on_lost),
                })))
                .await;
        });
        deferred
    }
}

/// Connects to `address` within `timeout`, unless the reactor stops first; returns the
/// stream with `TCP_NODELAY` set, and its peer and host addresses.
pub(crate) async fn dial(
    registry: &Registry,
    address: &str,
    timeout: Duration,
) -> Result<(TcpStream, Address, Address), Error> {
    let mut stopping = registry.stop_signal();
    let stream = tokio::select! {
        biased;
        _ = stopping.wait_for(|stopping| *stopping) => return Err(Error::ReactorStopped),
        attempt = tokio::time::timeout(timeout, open_stream(address)) => match attempt {
            Err(_) => return Err(Error::ConnectTimeout { address: address.to_string(), timeout }),
            Ok(Err(source)) => return Err(Error::ConnectFailed { address: address.to_string(), source }),
            Ok(Ok(stream)) => stream,
        },
    };
    // Failing to set the option only costs latency; the connection is still good.
    let _ = stream.set_nodelay(true);
    match (stream.peer_addr(), stream.local_addr()) {
        (Ok(peer), Ok(host)) => Ok((stream, Address::Tcp(peer), Address::Tcp(host))),
        (Err(source), _) | (_, Err(source)) => Err(Error::ConnectFailed {
            address: address.to_string(),
            source,
        }),
    }
}

/// Runs the client side of a TLS handshake on `stream`, within the reactor's handshake
/// timeout, unless the reactor's stop deadline passes first.
pub(crate) async fn handshake(
    registry: &Registry,
    stream: TcpStream,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
    address: &str,
) -> Result<NetStream, Error> {
    let timeout = registry.tls_handshake_timeout();
    let mut aborted = registry.abort_signal();
    let connect = TlsConnector::from(config).connect(name, stream);
    tokio::select! {
        biased;
        _ = aborted.wait_for(|aborted| *aborted) => Err(Error::ReactorStopped),
        outcome = tokio::time::timeout(timeout, connect) => match outcome {
            Err(_) => Err(Error::TlsHandshakeTimeout { timeout }),
            Ok(Ok(stream)) => Ok(NetStream::Tls(Box::new(TlsStream::Client(stream)))),
            Ok(Err(error)) => Err(tls_error(error, address)),
        },
    }
}

/// A handshake's I/O error as torsade's: the rustls error inside it when there is one.
fn tls_error(error: io::Error, address: &str) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::ConnectFailed {
            address: address.to_string(),
            source: error,
        },
    }
}

/// Resolves `address` and connects to the first of its addresses that accepts.
async fn open_stream(address: &str) -> io::Result<TcpStream> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(address).await? {
        match TcpStream::connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

fn fail<F: ClientFactory, T: Send + 'static>(factory: &F, resolver: &Resolver<T>, error: Error) {
    tracing::debug!("connection attempt failed: {error}");
    factory.client_connection_failed(&error);
    factory.stop_factory();
    // The resolver is fired only once: either here or on success.
    let _ = resolver.errback(error);
}
