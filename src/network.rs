//! The TCP operations of a reactor as a trait: [`Network`].
//!
//! Code that listens or connects can take any `N: Network` instead of a [`Reactor`], and
//! be tested against [`testing::MemoryReactor`](crate::testing::MemoryReactor), which
//! records the calls instead of opening sockets. Twisted's `IReactorTCP` + `IReactorTime`.

use crate::{
    ClientFactory, Clock, Deferred, ListeningPort, ProtocolFactory, ProtocolHandle, Reactor, Result,
};

/// Listening, connecting and time: what application code asks of a reactor.
///
/// # Examples
///
/// A function that works on the real reactor and on the memory reactor alike:
///
/// ```
/// use torsade::testing::MemoryReactor;
/// use torsade::{Network, Result};
/// use torsade_protocols::GreetingServer;
///
/// fn start(network: &impl Network, port: u16) -> Result<()> {
///     network.listen_tcp(&format!("127.0.0.1:{port}"), GreetingServer::factory())?;
///     Ok(())
/// }
///
/// let memory = MemoryReactor::new();
/// start(&memory, 9999).unwrap();
/// assert_eq!(memory.listen_addresses(), ["127.0.0.1:9999"]);
/// ```
pub trait Network: Clock {
    /// Listens on `address`; see [`Reactor::listen_tcp`].
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`](crate::Error::CannotListen).
    fn listen_tcp<F: ProtocolFactory>(&self, address: &str, factory: F) -> Result<ListeningPort>;

    /// Connects to `address`; see [`Reactor::connect_tcp`].
    fn connect_tcp<F: ClientFactory>(
        &self,
        address: &str,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>>;
}

impl Network for Reactor {
    fn listen_tcp<F: ProtocolFactory>(&self, address: &str, factory: F) -> Result<ListeningPort> {
        Reactor::listen_tcp(self, address, factory)
    }

    fn connect_tcp<F: ClientFactory>(
        &self,
        address: &str,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        Reactor::connect_tcp(self, address, factory)
    }
}

impl<N: Network> Network for std::sync::Arc<N> {
    fn listen_tcp<F: ProtocolFactory>(&self, address: &str, factory: F) -> Result<ListeningPort> {
        (**self).listen_tcp(address, factory)
    }

    fn connect_tcp<F: ClientFactory>(
        &self,
        address: &str,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        (**self).connect_tcp(address, factory)
    }
}
