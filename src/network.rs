//! Listening, connecting and time as a trait: [`Network`].
//!
//! Code that listens or connects can take any `N: Network` instead of a [`Reactor`], and
//! be tested against [`testing::MemoryReactor`](crate::testing::MemoryReactor), which
//! records the calls instead of opening sockets. Twisted's `IReactorTCP` + `IReactorTime`,
//! through endpoints.

use crate::endpoints::{IntoClientEndpoint, IntoServerEndpoint};
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
///     network.listen(format!("tcp:{port}:interface=127.0.0.1"), GreetingServer::factory())?;
///     Ok(())
/// }
///
/// let memory = MemoryReactor::new();
/// start(&memory, 9999).unwrap();
/// assert_eq!(memory.listen_endpoints(), ["tcp:9999:interface=127.0.0.1"]);
/// ```
pub trait Network: Clock {
    /// Listens on `endpoint`; see [`Reactor::listen`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`](crate::Error::InvalidEndpoint),
    /// [`Error::CannotListen`](crate::Error::CannotListen).
    fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort>;

    /// Connects through `endpoint`; see [`Reactor::connect`]. Cancelling the Deferred
    /// abandons an attempt under way.
    fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>>;
}

impl Network for Reactor {
    fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort> {
        Reactor::listen(self, endpoint, factory)
    }

    fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        Reactor::connect(self, endpoint, factory)
    }
}

impl<N: Network> Network for std::sync::Arc<N> {
    fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort> {
        (**self).listen(endpoint, factory)
    }

    fn connect<F: ClientFactory>(
        &self,
        endpoint: impl IntoClientEndpoint,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        (**self).connect(endpoint, factory)
    }
}
