//! A reactor that records instead of opening sockets: [`MemoryReactor`].

use std::any::{Any, TypeId};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{FakeClock, StringTransport, TestConnection};
use crate::{
    Address, ClientFactory, Deferred, DelayedCall, Error, ListeningPort, Network, ProtocolFactory,
    ProtocolHandle, Result,
};

/// Fake ports handed out for `:0` start here.
const FIRST_FAKE_PORT: u16 = 50000;

/// A [`Network`] that records `listen_tcp` and `connect_tcp` calls instead of touching the
/// network, with a fake [`FakeClock`] for time. Twisted's `MemoryReactorClock`.
///
/// A test gives it to the code under test, then looks at what was asked: the addresses,
/// and the factories themselves (to build protocols and drive them with a
/// [`TestConnection`]). Connection attempts never complete by themselves: the test
/// completes one with [`complete_connect`](MemoryReactor::complete_connect) (the
/// attempt's Deferred fires with a handle on the returned [`TestConnection`]) or fails it
/// with [`fail_connect`](MemoryReactor::fail_connect).
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
///     .connect_tcp("greeter.example:9999", GreetingGetter::factory())
///     .and_then(|getter| getter.get_greeting("World"));
/// assert_eq!(memory.connect_addresses(), ["greeter.example:9999"]);
///
/// let mut connection = memory
///     .complete_connect::<LineOnlyReceiver<GreetingGetter>>(0)
///     .unwrap();
/// connection.run_commands();
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
    address: String,
    factory: Arc<dyn Any + Send + Sync>,
}

/// Completes an attempt: builds the protocol and its test connection (boxed), or fails
/// the attempt if the factory refuses.
type Complete = Box<dyn FnOnce() -> Option<Box<dyn Any>> + Send>;
type Fail = Box<dyn FnOnce(Error) + Send>;

struct ConnectRecord {
    address: String,
    factory: Arc<dyn Any + Send + Sync>,
    protocol: TypeId,
    settle: Option<(Complete, Fail)>,
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
        crate::Clock::schedule(self, delay, Box::new(call))
    }

    /// The addresses passed to `listen_tcp`, in order.
    pub fn listen_addresses(&self) -> Vec<String> {
        self.lock()
            .listens
            .iter()
            .map(|listen| listen.address.clone())
            .collect()
    }

    /// The factory of the `index`th `listen_tcp`, if it was an `F`.
    pub fn listen_factory<F: Send + Sync + 'static>(&self, index: usize) -> Option<Arc<F>> {
        let factory = self.lock().listens.get(index)?.factory.clone();
        factory.downcast::<F>().ok()
    }

    /// The addresses passed to `connect_tcp`, in order.
    pub fn connect_addresses(&self) -> Vec<String> {
        self.lock()
            .connects
            .iter()
            .map(|connect| connect.address.clone())
            .collect()
    }

    /// The factory of the `index`th `connect_tcp`, if it was an `F`.
    pub fn connect_factory<F: Send + Sync + 'static>(&self, index: usize) -> Option<Arc<F>> {
        let factory = self.lock().connects.get(index)?.factory.clone();
        factory.downcast::<F>().ok()
    }

    /// Completes the `index`th connection attempt: the factory builds a `P`, which is
    /// connected to a [`StringTransport`]; the attempt's Deferred fires with a handle on
    /// it; the [`TestConnection`] is returned for the test to drive.
    ///
    /// `None` if there is no such attempt, it was already settled, its protocol is not a
    /// `P`, or the factory refused (the attempt then fails with
    /// [`Error::NoProtocol`](crate::Error::NoProtocol)).
    pub fn complete_connect<P: crate::Protocol>(&self, index: usize) -> Option<TestConnection<P>> {
        let (complete, _) = {
            let mut state = self.lock();
            let record = state.connects.get_mut(index)?;
            if record.protocol != TypeId::of::<P>() {
                return None;
            }
            record.settle.take()?
        };
        complete()?
            .downcast::<TestConnection<P>>()
            .ok()
            .map(|boxed| *boxed)
    }

    /// Fails the `index`th connection attempt with `error` (the factory's
    /// `client_connection_failed` runs). Returns whether there was such an unsettled
    /// attempt.
    pub fn fail_connect(&self, index: usize, error: Error) -> bool {
        let settle = self
            .lock()
            .connects
            .get_mut(index)
            .and_then(|record| record.settle.take());
        match settle {
            Some((_, fail)) => {
                fail(error);
                true
            }
            None => false,
        }
    }
}

impl Default for MemoryReactor {
    fn default() -> MemoryReactor {
        MemoryReactor::new()
    }
}

impl crate::Clock for MemoryReactor {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> DelayedCall {
        self.clock.schedule(delay, call)
    }
}

impl Network for MemoryReactor {
    fn listen_tcp<F: ProtocolFactory>(&self, address: &str, factory: F) -> Result<ListeningPort> {
        let mut local_addr: SocketAddr = address.parse().map_err(|_| Error::CannotListen {
            address: address.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an IP:port address"),
        })?;
        let factory = Arc::new(factory);
        factory.start_factory();
        let mut state = self.lock();
        if local_addr.port() == 0 {
            local_addr.set_port(state.next_port);
            state.next_port = state.next_port.wrapping_add(1);
        }
        state.listens.push(ListenRecord {
            address: address.to_string(),
            factory,
        });
        Ok(ListeningPort::in_memory(local_addr))
    }

    fn connect_tcp<F: ClientFactory>(
        &self,
        address: &str,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        let factory = Arc::new(factory);
        let (deferred, resolver) = Deferred::new();
        factory.started_connecting(address);
        factory.start_factory();
        let peer = address
            .parse()
            .map(Address::Tcp)
            .unwrap_or(Address::Tcp(SocketAddr::from((
                Ipv4Addr::new(10, 0, 0, 1),
                8000,
            ))));
        let host = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40000)));
        let (f, r, name) = (factory.clone(), resolver.clone(), address.to_string());
        let complete: Complete = Box::new(move || {
            let Some(protocol) = f.build_protocol(&peer) else {
                let error = Error::NoProtocol { address: name };
                f.client_connection_failed(&error);
                f.stop_factory();
                let _ = r.errback(error);
                return None;
            };
            let mut connection = TestConnection::with_transport(
                protocol,
                StringTransport::with_addresses(host, peer),
            );
            let lost = f.clone();
            connection.on_lost(Box::new(move |reason| {
                lost.client_connection_lost(reason);
                lost.stop_factory();
            }));
            // Each attempt's resolver is fired once: here or in `fail`.
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
            address: address.to_string(),
            factory,
            protocol: TypeId::of::<F::Protocol>(),
            settle: Some((complete, fail)),
        });
        deferred
    }
}

impl fmt::Debug for MemoryReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReactor")
            .field("clock", &self.clock)
            .field("listens", &self.listen_addresses())
            .field("connects", &self.connect_addresses())
            .finish()
    }
}
