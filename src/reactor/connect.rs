//! Making connections: [`Reactor::connect`] through any client endpoint, and
//! [`Reactor::connect_stream`] over a stream you opened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::host::ReactorHost;
use super::registry::Registry;
use super::stats::Counter;
use super::{NetStream, Reactor};
use crate::connection::drive::{Driver, OnLost, OnMade};
use crate::connection::inbox::Inbox;
#[cfg(feature = "tls")]
use crate::connection::layer::Layer;
use crate::endpoints::{ClientEndpoint, Connected, IntoClientEndpoint};
use crate::record::Side;
#[cfg(feature = "tls")]
use crate::tls::StartTls;
use crate::{
    Address, ByteStream, ClientFactory, Clock, Deferred, Error, Protocol, ProtocolHandle, Resolver,
};

impl Reactor {
    /// Connects through `endpoint` and runs a protocol built by `factory` on the
    /// connection. Twisted's `endpoint.connect(factory)` (and `connectTCP`, `connectSSL`,
    /// `connectUNIX`): the Deferred fires with a [`ProtocolHandle`] once `connection_made`
    /// has run.
    ///
    /// `endpoint` is any [`ClientEndpoint`], an endpoint string
    /// (`"tcp:host=example.com:port=80"`, `"tls:host=example.com:port=443"`,
    /// `"unix:path=/run/app.sock"`), `"host:port"`, or an [`Address`] (a listening port's
    /// [`local_addr`](crate::ListeningPort::local_addr), say). Over TLS the handshake
    /// completes before the protocol is built, so a wrong name, an untrusted or expired
    /// certificate is a failed attempt, never a connection that dies later.
    ///
    /// On failure the factory's [`client_connection_failed`] runs and the Deferred fails
    /// with [`Error::InvalidEndpoint`], [`Error::ConnectFailed`], [`Error::ConnectTimeout`],
    /// [`Error::Tls`], [`Error::TlsHandshakeTimeout`], [`Error::NoProtocol`] or
    /// [`Error::ReactorStopped`]. Cancelling the Deferred while the attempt is under way
    /// abandons it (Twisted's `stopConnecting`): the factory is told, with
    /// [`Error::ConnectCancelled`]. When a made connection ends, the factory's
    /// [`client_connection_lost`] runs after the protocol's `connection_lost`.
    ///
    /// [`client_connection_failed`]: ClientFactory::client_connection_failed
    /// [`client_connection_lost`]: ClientFactory::client_connection_lost
    #[doc(alias = "connectTCP")]
    #[doc(alias = "connectSSL")]
    #[doc(alias = "connectUNIX")]
    pub fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let factory = Arc::new(factory);
        let endpoint = match endpoint.into_client_endpoint() {
            Ok(endpoint) => endpoint,
            Err(error) => {
                let (deferred, resolver) = Deferred::new();
                Attempt::new(factory, resolver, String::new()).fail(error);
                return deferred;
            }
        };
        let name = endpoint.to_string();
        factory.started_connecting(&name);
        factory.start_factory();
        let abort: Arc<Mutex<Option<tokio::task::AbortHandle>>> = Arc::default();
        let settled = Arc::new(AtomicBool::new(false));
        let (deferred, resolver) = {
            let (abort, settled, factory, name) = (
                abort.clone(),
                settled.clone(),
                factory.clone(),
                name.clone(),
            );
            Deferred::with_canceller(move |resolver| {
                if settled.swap(true, Ordering::AcqRel) {
                    return;
                }
                if let Some(task) = abort.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    task.abort();
                }
                let attempt = Attempt {
                    factory,
                    resolver,
                    name: name.clone(),
                    settled: Arc::new(AtomicBool::new(false)),
                };
                attempt.fail(Error::ConnectCancelled { address: name });
            })
        };
        let attempt = Attempt {
            factory,
            resolver,
            name,
            settled,
        };
        let registry = self.registry().clone();
        if registry.is_stopping() {
            attempt.fail(Error::ReactorStopped);
            return deferred;
        }
        let alive = registry.register_task();
        let (handle, clock) = self.pick_loop();
        let task = handle.spawn(async move {
            let _alive = alive;
            let factory = attempt.factory.clone();
            let established = establish(&registry, clock, &*endpoint, |peer| {
                factory.build_protocol(peer)
            })
            .await;
            match established {
                Ok(driver) => {
                    let driver = match factory.recorder() {
                        Some(recorder) => driver.with_recorder(recorder, Side::Client),
                        None => driver,
                    };
                    attempt.run(driver).await;
                }
                Err(error) => attempt.fail(error),
            }
        });
        *abort.lock().unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        deferred
    }

    /// Runs a protocol built by `factory` over `stream`, a connection you opened yourself
    /// (any [`ByteStream`]: a socket from another library, an in-memory stream, a pipe),
    /// with the addresses of its ends. The Deferred fires with the protocol's handle once
    /// `connection_made` has run. Twisted's `protocol.makeConnection(transport)`, for any
    /// transport.
    pub fn connect_stream<F: ClientFactory>(
        &self,
        stream: impl ByteStream,
        peer: Address,
        host: Address,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let connected = Connected::new(stream, peer, host);
        struct Given(Mutex<Option<Connected>>);
        impl std::fmt::Debug for Given {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Given")
            }
        }
        impl std::fmt::Display for Given {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a given stream")
            }
        }
        #[async_trait::async_trait]
        impl ClientEndpoint for Given {
            async fn connect(&self) -> crate::Result<Connected> {
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or(Error::ConnectionClosed)
            }
        }
        self.connect(Given(Mutex::new(Some(connected))), factory)
    }
}

/// One connection attempt: its factory and the Deferred to fire, exactly once.
struct Attempt<F: ClientFactory> {
    factory: Arc<F>,
    resolver: Resolver<ProtocolHandle<F::Protocol>>,
    name: String,
    /// The attempt succeeded, failed or was cancelled: nothing else reports it.
    settled: Arc<AtomicBool>,
}

impl<F: ClientFactory> Attempt<F> {
    fn new(factory: Arc<F>, resolver: Resolver<ProtocolHandle<F::Protocol>>, name: String) -> Self {
        Attempt {
            factory,
            resolver,
            name,
            settled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Reports the failure, unless the attempt was settled already.
    fn fail(&self, error: Error) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(endpoint = %self.name, "connection attempt failed: {error}");
        self.factory.client_connection_failed(&error);
        self.factory.stop_factory();
        // The resolver is fired only once: here, or when the connection is made.
        let _ = self.resolver.errback(error);
    }

    /// The connection is established: tells whoever connected once `connection_made`
    /// has run, and the factory once it is lost; drives it until it ends.
    async fn run(self, driver: Driver<F::Protocol, NetStream, ReactorHost>) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return; // Cancelled meanwhile.
        }
        let Attempt {
            factory, resolver, ..
        } = self;
        let on_made: OnMade<F::Protocol> = Box::new(move |handle| {
            // The resolver is fired only here.
            let _ = resolver.callback(handle);
        });
        let on_lost: OnLost = Box::new(move |reason| {
            factory.client_connection_lost(reason);
            factory.stop_factory();
        });
        let mut driver = driver.with_hooks(Some(on_made), Some(on_lost));
        std::future::poll_fn(move |cx| driver.poll(cx)).await;
    }
}

/// Opens a stream through `endpoint` (unless the reactor stops first), runs the TLS
/// handshake if the endpoint asks for one, and builds the protocol with `build`: a
/// connection ready to run on this loop, or why not.
pub(crate) async fn establish<P: Protocol>(
    registry: &Arc<Registry>,
    clock: Arc<dyn Clock>,
    endpoint: &dyn ClientEndpoint,
    build: impl FnOnce(&Address) -> Option<P>,
) -> Result<Driver<P, NetStream, ReactorHost>, Error> {
    let mut stopping = registry.stop_signal();
    let connected = tokio::select! {
        biased;
        _ = stopping.wait_for(|stopping| *stopping) => Err(Error::ReactorStopped),
        connected = endpoint.connect() => connected,
    }?;
    let Connected {
        stream,
        peer,
        host,
        #[cfg(feature = "tls")]
        tls,
        #[cfg(unix)]
        credentials,
    } = connected;
    #[cfg(feature = "tls")]
    let stream = match tls {
        None => Err(stream),
        Some(tls) => Ok(handshake(registry, stream, tls).await?),
    };
    let protocol = build(&peer).ok_or_else(|| Error::NoProtocol {
        address: endpoint.to_string(),
    })?;
    let inbox = Inbox::new(peer, host, clock);
    #[cfg(unix)]
    if let Some(credentials) = credentials {
        inbox.set_credentials(credentials);
    }
    let host = ReactorHost::new(registry.clone(), Counter::Connected);
    #[cfg(feature = "tls")]
    let driver = match stream {
        Ok(layer) => Driver::with_tls_layer(protocol, layer, inbox, host),
        Err(stream) => Driver::new(protocol, stream, inbox, host),
    };
    #[cfg(not(feature = "tls"))]
    let driver = Driver::new(protocol, stream, inbox, host);
    Ok(driver)
}

/// Runs the client side of a TLS handshake on `stream`, within the reactor's handshake
/// timeout, unless the reactor's stop deadline passes first.
#[cfg(feature = "tls")]
async fn handshake(
    registry: &Registry,
    stream: NetStream,
    tls: StartTls,
) -> Result<Layer<NetStream>, Error> {
    if let StartTls::Server { .. } = tls {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a client endpoint asked for the server side of TLS",
        )));
    }
    let timeout = registry.tls_handshake_timeout();
    let mut aborted = registry.abort_signal();
    let mut layer = Layer::Plain(stream);
    layer.begin_handshake(tls);
    let outcome = {
        let handshake = std::future::poll_fn(|cx| layer.poll_handshake(cx));
        tokio::select! {
            biased;
            _ = aborted.wait_for(|aborted| *aborted) => Err(Error::ReactorStopped),
            outcome = tokio::time::timeout(timeout, handshake) => match outcome {
                Err(_) => Err(Error::TlsHandshakeTimeout { timeout }),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(match crate::tls::tls_error_in(&error) {
                    Some(tls) => Error::Tls(tls),
                    None => Error::Io(error),
                }),
            },
        }
    };
    outcome.map(|()| layer)
}
