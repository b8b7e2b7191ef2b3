//! A reactor that records instead of opening sockets: [`MemoryReactor`].

use std::any::{Any, TypeId};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{FakeClock, TestConnection};
use crate::connection::drive::OnLost;
use crate::endpoints::{IntoClientEndpoint, IntoServerEndpoint};
use crate::{
    Address, ClientFactory, Clock, Deferred, DelayedCall, Error, ListeningPort, Network, Protocol,
    ProtocolFactory, ProtocolHandle, Result,
};

/// Fake ports handed out for port 0 start here.
const FIRST_FAKE_PORT: u16 = 50000;

/// A [`Network`] that records `listen` and `connect` calls instead of touching the
/// network, with a [`FakeClock`] for time. Twisted's `MemoryReactorClock`.
///
/// A test gives it to the code under test, then looks at what was asked: the endpoints
/// (in their string form), and the factories themselves (to build protocols and drive them
/// with a [`TestConnection`]). Connection attempts never complete by themselves: the test
/// completes one with [`complete_connect`](MemoryReactor::complete_connect) (the
/// attempt's Deferred fires with a handle on the returned [`TestConnection`]) or fails it
/// with [`fail_connect`](MemoryReactor::fail_connect). Cancelling an attempt's Deferred
/// settles it as cancelled.
///
/// # Examples
///
/// ```
/// use torsade::testing::MemoryReactor;
/// use torsade::Network;
/// use torsade_protocols::{GreetingGetter, LineOnlyReceiver, RemoteGreetingGetter};
///
/// let memory = MemoryReactor::new();
/// let mut greeting = memory
///     .connect("tcp:host=greeter.example:port=9999", GreetingGetter::factory())
///     .and_then(|getter| getter.get_greeting("World"));
/// assert_eq!(memory.connect_endpoints(), ["tcp:host=greeter.example:port=9999"]);
///
/// let mut connection = memory
///     .complete_connect::<LineOnlyReceiver<GreetingGetter>>(0)
///     .unwrap();
/// assert_eq!(connection.take_written(), &b"World\r\n"[..]);
/// connection.receive(b"Hello, World!\r\n");
/// assert_eq!(greeting.take_result().unwrap().unwrap(), "Hello, World!");
/// ```
pub struct MemoryReactor {
    clock: FakeClock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    listens: Vec<ListenRecord>,
    connects: Vec<ConnectRecord>,
    next_port: u16,
}

struct ListenRecord {
    endpoint: String,
    factory: Arc<dyn Any + Send + Sync>,
}

/// Completes an attempt: builds the protocol and its test connection (boxed), or fails
/// the attempt if the factory refuses.
type Complete = Box<dyn FnOnce(&FakeClock) -> Option<Box<dyn Any>> + Send>;
type Fail = Box<dyn FnOnce(Error) + Send>;

struct ConnectRecord {
    endpoint: String,
    factory: Arc<dyn Any + Send + Sync>,
    protocol: TypeId,
    settle: Option<(Complete, Fail)>,
    /// Settled by the test or cancelled by the code under test.
    settled: Arc<AtomicBool>,
}

impl MemoryReactor {
    /// A memory reactor at time zero that has recorded nothing.
    pub fn new() -> MemoryReactor {
        MemoryReactor {
            clock: FakeClock::new(),
            state: Mutex::new(State {
                next_port: FIRST_FAKE_PORT,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fake clock (advance it to run `call_later` calls).
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// Runs `call` once, `delay` from now (in this clock's time). Twisted's `callLater`.
    ///
    /// Dropping the returned [`DelayedCall`] does not cancel the call.
    #[doc(alias = "callLater")]
    pub fn call_later(&self, delay: Duration, call: impl FnOnce() + Send + 'static) -> DelayedCall {
        self.clock.schedule(delay, Box::new(call))
    }

    /// The endpoints passed to `listen`, in their string form, in order.
    pub fn listen_endpoints(&self) -> Vec<String> {
        self.lock()
            .listens
            .iter()
            .map(|listen| listen.endpoint.clone())
            .collect()
    }

    /// The factory of the `index`th `listen`, if it was an `F`.
    pub fn listen_factory<F: Send + Sync + 'static>(&self, index: usize) -> Option<Arc<F>> {
        let factory = self.lock().listens.get(index)?.factory.clone();
        factory.downcast::<F>().ok()
    }

    /// The endpoints passed to `connect`, in their string form, in order.
    pub fn connect_endpoints(&self) -> Vec<String> {
        self.lock()
            .connects
            .iter()
            .map(|connect| connect.endpoint.clone())
            .collect()
    }

    /// The factory of the `index`th `connect`, if it was an `F`.
    pub fn connect_factory<F: Send + Sync + 'static>(&self, index: usize) -> Option<Arc<F>> {
        let factory = self.lock().connects.get(index)?.factory.clone();
        factory.downcast::<F>().ok()
    }

    /// Completes the `index`th connection attempt: the factory builds a `P`, which is
    /// connected in memory on this reactor's clock; the attempt's Deferred fires with a
    /// handle on it; the [`TestConnection`] is returned for the test to drive.
    ///
    /// `None` if there is no such attempt, it was already settled (or cancelled), its
    /// protocol is not a `P`, or the factory refused (the attempt then fails with
    /// [`Error::NoProtocol`]).
    pub fn complete_connect<P: Protocol>(&self, index: usize) -> Option<TestConnection<P>> {
        let (complete, _) = {
            let mut state = self.lock();
            let record = state.connects.get_mut(index)?;
            if record.protocol != TypeId::of::<P>() || record.settled.swap(true, Ordering::AcqRel) {
                return None;
            }
            record.settle.take()?
        };
        complete(&self.clock)?
            .downcast::<TestConnection<P>>()
            .ok()
            .map(|boxed| *boxed)
    }

    /// Fails the `index`th connection attempt with `error` (the factory's
    /// `client_connection_failed` runs). Returns whether there was such an unsettled
    /// attempt.
    pub fn fail_connect(&self, index: usize, error: Error) -> bool {
        let settle = {
            let mut state = self.lock();
            let Some(record) = state.connects.get_mut(index) else {
                return false;
            };
            if record.settled.swap(true, Ordering::AcqRel) {
                return false;
            }
            record.settle.take()
        };
        match settle {
            Some((_, fail)) => {
                fail(error);
                true
            }
            None => false,
        }
    }

    /// Whether the `index`th connection attempt is still waiting to be settled.
    pub fn is_connect_pending(&self, index: usize) -> bool {
        self.lock()
            .connects
            .get(index)
            .is_some_and(|record| !record.settled.load(Ordering::Acquire))
    }
}

/// The address a server endpoint's string names, for a TCP one (a fake port for port 0).
fn listen_address(endpoint: &str, next_port: &mut u16) -> Address {
    let mut parts = endpoint.split(':');
    if parts.next() != Some("tcp") {
        return Address::named(endpoint);
    }
    let Some(port) = parts.next().and_then(|port| port.parse::<u16>().ok()) else {
        return Address::named(endpoint);
    };
    let interface = endpoint
        .split(":interface=")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port = if port == 0 {
        let fake = *next_port;
        *next_port = next_port.wrapping_add(1);
        fake
    } else {
        port
    };
    Address::Tcp(SocketAddr::new(interface, port))
}

/// The peer a client endpoint's string names, when it is an IP address and port.
fn peer_address(endpoint: &str) -> Address {
    let field = |name: &str| {
        endpoint
            .split(':')
            .find_map(|part| part.strip_prefix(name))
            .map(str::to_string)
    };
    match (
        field("host=").and_then(|h| h.parse::<IpAddr>().ok()),
        field("port=").and_then(|p| p.parse::<u16>().ok()),
    ) {
        (Some(ip), Some(port)) => Address::Tcp(SocketAddr::new(ip, port)),
        _ => Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 8000))),
    }
}

impl Default for MemoryReactor {
    fn default() -> MemoryReactor {
        MemoryReactor::new()
    }
}

impl Clock for MemoryReactor {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        self.clock.schedule(delay, call)
    }
}

impl Network for MemoryReactor {
    fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort> {
        let endpoint = endpoint.into_server_endpoint()?.to_string();
        let factory = Arc::new(factory);
        factory.start_factory();
        let mut state = self.lock();
        let local = listen_address(&endpoint, &mut state.next_port);
        state.listens.push(ListenRecord { endpoint, factory });
        Ok(ListeningPort::in_memory(local))
    }

    fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let factory = Arc::new(factory);
        let endpoint = match endpoint.into_client_endpoint() {
            Ok(endpoint) => endpoint.to_string(),
            Err(error) => {
                factory.client_connection_failed(&error);
                return Deferred::fail(error);
            }
        };
        factory.started_connecting(&endpoint);
        factory.start_factory();
        let settled = Arc::new(AtomicBool::new(false));
        let (deferred, resolver) = {
            let (factory, settled, name) = (factory.clone(), settled.clone(), endpoint.clone());
            Deferred::with_canceller(move |resolver| {
                if settled.swap(true, Ordering::AcqRel) {
                    return;
                }
                let error = Error::ConnectCancelled { address: name };
                factory.client_connection_failed(&error);
                factory.stop_factory();
                let _ = resolver.errback(error);
            })
        };
        let peer = peer_address(&endpoint);
        let host = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40000)));
        let (f, r, name) = (factory.clone(), resolver.clone(), endpoint.clone());
        let complete: Complete = Box::new(move |clock| {
            let Some(protocol) = f.build_protocol(&peer) else {
                let error = Error::NoProtocol { address: name };
                f.client_connection_failed(&error);
                f.stop_factory();
                let _ = r.errback(error);
                return None;
            };
            let lost = f.clone();
            let on_lost: OnLost = Box::new(move |reason| {
                lost.client_connection_lost(reason);
                lost.stop_factory();
            });
            let connection = TestConnection::start(protocol, host, peer, clock, Some(on_lost));
            // Each attempt's resolver is fired once: here, in `fail`, or by the canceller.
            let _ = r.callback(connection.handle());
            Some(Box::new(connection))
        });
        let f = factory.clone();
        let fail: Fail = Box::new(move |error| {
            f.client_connection_failed(&error);
            f.stop_factory();
            let _ = resolver.errback(error);
        });
        self.lock().connects.push(ConnectRecord {
            endpoint,
            factory,
            protocol: TypeId::of::<F::Protocol>(),
            settle: Some((complete, fail)),
            settled,
        });
        deferred
    }
}

impl fmt::Debug for MemoryReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReactor")
            .field("clock", &self.clock)
            .field("listens", &self.listen_endpoints())
            .field("connects", &self.connect_endpoints())
            .finish()
    }
}
