//! A simulated host's reactor face: [`SimHost`], a [`Network`] and a [`Clock`] that
//! production code takes unchanged.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::connecting::{Acceptor, Attempt, PendingConnect};
use super::connection::{Cell, Endpoint, Opening};
use super::world::{ConnId, HostId, Shared};
use crate::connection::drive::{OnLost, OnMade};
use crate::datagram::{DatagramPort, DatagramProtocol};
use crate::endpoints::parse::Description;
use crate::endpoints::{IntoClientEndpoint, IntoServerEndpoint, DEFAULT_CONNECT_TIMEOUT};
use crate::{
    ClientFactory, Clock, Deferred, DelayedCall, Error, ListeningPort, Network, ProtocolFactory,
    ProtocolHandle, Resolver, Result,
};

/// One host of a [`Simulation`](super::Simulation): what a reactor is to production code.
///
/// It is a [`Network`] (listen and connect by endpoint, `tcp:` strings or socket
/// addresses) and a [`Clock`], so factories, protocols,
/// [`ReconnectingClient`](crate::ReconnectingClient)s and any code written against
/// `impl Network` run on it unchanged. Hosts are reached by name or address:
/// `tcp:host=server:port=8000` and `tcp:host=10.0.0.1:port=8000` both reach the host
/// named `server` at `10.0.0.1`.
///
/// What a host schedules (its connections' timers, its `call_later`s) dies with it when
/// it [crashes](super::Simulation::crash); [`on_boot`](SimHost::on_boot) is how it comes
/// back to life after a restart. Cheap to clone; it holds the simulation weakly (after
/// the simulation is dropped, connecting fails with [`Error::ReactorStopped`]).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::Simulation;
/// use torsade::Network;
/// use torsade_protocols::{GreetingGetter, GreetingServer, RemoteGreetingGetter};
///
/// let sim = Simulation::new(1);
/// let server = sim.add_host("server");
/// server.listen("tcp:8000", GreetingServer::factory()).unwrap();
///
/// let client = sim.add_host("client");
/// let mut greeting = client
///     .connect("tcp:host=server:port=8000", GreetingGetter::factory())
///     .and_then(|getter| getter.get_greeting("World"));
/// sim.run_for(Duration::from_secs(1));
/// assert_eq!(greeting.take_result().unwrap().unwrap(), "Hello, World!");
/// ```
#[derive(Clone)]
pub struct SimHost {
    shared: Weak<Shared>,
    id: HostId,
    name: Arc<str>,
    ip: IpAddr,
}

impl SimHost {
    pub(crate) fn new(shared: &Arc<Shared>, id: HostId) -> SimHost {
        let (name, ip, _, _) = shared.host_info(id);
        SimHost {
            shared: Arc::downgrade(shared),
            id,
            name: name.into(),
            ip,
        }
    }

    pub(crate) fn id(&self) -> HostId {
        self.id
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Whether the host is up (not crashed, or restarted since).
    pub fn is_up(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|shared| shared.host_info(self.id).2)
    }

    /// Runs `boot` on this host now (if it is up) and again after every restart: where a
    /// server starts listening, so that it comes back after a crash.
    pub fn on_boot(&self, boot: impl Fn(&SimHost) + Send + Sync + 'static) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let host = self.clone();
        let boot = Arc::new(move |_: HostId| boot(&host));
        if shared.add_boot(self.id, boot.clone()) {
            boot(self.id);
        }
    }

    /// Runs `call` once, `delay` from now, unless the host crashes first. Twisted's
    /// `callLater`.
    #[doc(alias = "callLater")]
    pub fn call_later(&self, delay: Duration, call: impl FnOnce() + Send + 'static) -> DelayedCall {
        Clock::schedule(self, delay, Box::new(call))
    }

    /// Binds `protocol` to this host's `port` for datagrams (0 picks a free one). Twisted's
    /// `listenUDP`. Datagrams between hosts go through the simulation's
    /// [datagram faults](super::Simulation::set_datagram_faults) and its partitions; a
    /// crash unbinds the host's ports, without a callback.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if the port is taken; [`Error::ReactorStopped`] if the
    /// host is down.
    pub fn listen_udp<P: DatagramProtocol>(
        &self,
        port: u16,
        protocol: P,
    ) -> Result<DatagramPort<P>> {
        let (shared, _, _) = self.clock().ok_or(Error::ReactorStopped)?;
        shared
            .datagrams
            .bind(std::net::SocketAddr::new(self.ip, port), protocol)
    }

    /// This life's clock (what it schedules dies with a crash).
    fn clock(&self) -> Option<(Arc<Shared>, Arc<dyn Clock>, u64)> {
        let shared = self.shared.upgrade()?;
        let (_, _, up, generation) = shared.host_info(self.id);
        if !up {
            return None;
        }
        let clock = shared.host_clock(self.id, generation);
        Some((shared, clock, generation))
    }
}

impl Clock for SimHost {
    fn now(&self) -> Duration {
        self.shared
            .upgrade()
            .map_or(Duration::ZERO, |shared| shared.clock.now())
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        match self.clock() {
            Some((_, clock, _)) => clock.schedule(delay, call),
            // A crashed host (or a dropped simulation) runs nothing: a call that is
            // already cancelled.
            None => {
                let clock = crate::testing::FakeClock::new();
                let call = clock.schedule(delay, Box::new(|| {}));
                let _ = call.cancel();
                call
            }
        }
    }
}

impl Network for SimHost {
    /// Listens on this host: `tcp:PORT` (with `interface=` this host's address or
    /// `0.0.0.0`), or a socket address whose IP is this host's or unspecified. Port 0 picks
    /// a free port.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for something else; [`Error::CannotListen`] if the port
    /// is taken or the interface is not this host's; [`Error::ReactorStopped`] if the host
    /// is down.
    fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort> {
        let endpoint = endpoint.into_server_endpoint()?.to_string();
        let (shared, _, _) = self.clock().ok_or(Error::ReactorStopped)?;
        let description = Description::parse(&endpoint)?;
        if description.kind != "tcp" {
            return Err(description.invalid("type", "tcp (the simulation carries TCP)"));
        }
        let address = description.bind_address()?;
        if !address.ip().is_unspecified() && address.ip() != self.ip {
            return Err(Error::CannotListen {
                address: endpoint,
                source: std::io::ErrorKind::AddrNotAvailable.into(),
            });
        }
        let factory = Arc::new(factory);
        let acceptor = Arc::new(FactoryAcceptor(factory.clone()));
        let port = shared.listen(self.id, address.port(), acceptor, &endpoint)?;
        factory.start_factory();
        Ok(port)
    }

    /// Connects from this host: `tcp:host=NAME-OR-ADDRESS:port=PORT[:timeout=SECONDS]`,
    /// or a socket address. Cancelling the Deferred abandons the attempt.
    fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let factory = Arc::new(factory);
        let target = endpoint
            .into_client_endpoint()
            .and_then(|endpoint| Target::parse(&endpoint.to_string()));
        let target = match target {
            Ok(target) => target,
            Err(error) => {
                factory.client_connection_failed(&error);
                return Deferred::fail(error);
            }
        };
        let Some((shared, _, _)) = self.clock() else {
            let error = Error::ReactorStopped;
            factory.client_connection_failed(&error);
            return Deferred::fail(error);
        };
        factory.started_connecting(&target.endpoint);
        factory.start_factory();
        let cancelled = Arc::new(std::sync::Mutex::new(
            None::<(Weak<Shared>, Arc<Attempt>, ConnId)>,
        ));
        let (deferred, resolver) = {
            let cancelled = cancelled.clone();
            Deferred::with_canceller(move |_| {
                let taken = cancelled
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some((shared, attempt, id)) = taken {
                    if let Some(pending) = attempt.take() {
                        pending.fail(Error::ConnectCancelled {
                            address: attempt.address.clone(),
                        });
                        if let Some(shared) = shared.upgrade() {
                            shared.abandon(id);
                        }
                    }
                }
            })
        };
        let pending = Box::new(ClientPending { factory, resolver });
        let attempt = Attempt::new(pending, target.endpoint.clone(), target.timeout);
        if let Some(id) = shared.connect(self.id, &target.host, target.port, attempt.clone()) {
            *cancelled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((Arc::downgrade(&shared), attempt, id));
        }
        deferred
    }
}

impl fmt::Debug for SimHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHost")
            .field("name", &self.name)
            .field("ip", &self.ip)
            .finish()
    }
}

/// Where a client endpoint string points.
struct Target {
    endpoint: String,
    host: String,
    port: u16,
    timeout: Duration,
}

impl Target {
    fn parse(endpoint: &str) -> Result<Target> {
        let description = Description::parse(endpoint)?;
        if description.kind != "tcp" {
            return Err(description.invalid("type", "tcp (the simulation carries TCP)"));
        }
        let host = description
            .required("host", Some(0), "a host's name or address")?
            .to_string();
        let port = description
            .parsed::<u16>("port", Some(1), "a port number (1 to 65535)")?
            .ok_or_else(|| description.invalid("port", "a port number (1 to 65535)"))?;
        let timeout = description
            .seconds("timeout")?
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        Ok(Target {
            endpoint: endpoint.to_string(),
            host,
            port,
            timeout,
        })
    }
}

/// A listening factory: builds the server's end of each connection.
struct FactoryAcceptor<F>(Arc<F>);

impl<F: ProtocolFactory> Acceptor for FactoryAcceptor<F> {
    fn accept(&self, shared: &Arc<Shared>, opening: Opening) -> Option<Arc<dyn Endpoint>> {
        let protocol = self.0.build_protocol(&opening.peer)?;
        Some(Cell::start(shared, protocol, opening, None, None))
    }
}

/// A client's attempt: its factory and the Deferred the caller holds.
struct ClientPending<F: ClientFactory> {
    factory: Arc<F>,
    resolver: Resolver<ProtocolHandle<F::Protocol>>,
}

impl<F: ClientFactory> PendingConnect for ClientPending<F> {
    fn start(self: Box<Self>, shared: &Arc<Shared>, opening: Opening) -> Option<Arc<dyn Endpoint>> {
        let ClientPending { factory, resolver } = *self;
        let Some(protocol) = factory.build_protocol(&opening.peer) else {
            let error = Error::NoProtocol {
                address: opening.peer.to_string(),
            };
            factory.client_connection_failed(&error);
            factory.stop_factory();
            let _ = resolver.errback(error);
            return None;
        };
        let on_made: OnMade<F::Protocol> = Box::new(move |handle| {
            // Each attempt's resolver is fired once: here, or by `fail`.
            let _ = resolver.callback(handle);
        });
        let on_lost: OnLost = Box::new(move |reason| {
            factory.client_connection_lost(reason);
            factory.stop_factory();
        });
        Some(Cell::start(
            shared,
            protocol,
            opening,
            Some(on_made),
            Some(on_lost),
        ))
    }

    fn fail(self: Box<Self>, error: Error) {
        self.factory.client_connection_failed(&error);
        self.factory.stop_factory();
        let _ = self.resolver.errback(error);
    }
}
