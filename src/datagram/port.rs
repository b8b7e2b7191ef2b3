//! An open datagram port: [`DatagramPort`].

use std::fmt;
use std::net::SocketAddr;

use super::{DatagramHandle, DatagramProtocol, DatagramStats};
use crate::Deferred;

/// A datagram port, open on an address: what
/// [`Reactor::listen_udp`](crate::Reactor::listen_udp) and
/// [`DatagramNetwork::bind`](crate::testing::DatagramNetwork::bind) return. Twisted's
/// `udp.Port`. Dropping it leaves the port open; stop it with
/// [`stop_listening`](DatagramPort::stop_listening) (or from a callback with
/// [`DatagramContext::stop`](super::DatagramContext::stop)).
pub struct DatagramPort<P> {
    local: SocketAddr,
    handle: DatagramHandle<P>,
}

impl<P: DatagramProtocol> DatagramPort<P> {
    pub(crate) fn new(local: SocketAddr, handle: DatagramHandle<P>) -> Self {
        DatagramPort { local, handle }
    }

    /// The address the port is bound to, with the real port number when 0 was asked for.
    #[doc(alias = "getHost")]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Closes the port; the Deferred fires once
    /// [`stopped`](DatagramProtocol::stopped) has run. Calling it again is harmless.
    #[doc(alias = "stopListening")]
    pub fn stop_listening(&self) -> Deferred<()> {
        self.handle.stop()
    }

    /// What the port has done so far.
    pub fn stats(&self) -> DatagramStats {
        self.handle.stats()
    }

    /// A handle reaching the protocol from outside its callbacks.
    pub fn handle(&self) -> &DatagramHandle<P> {
        &self.handle
    }
}

impl<P> fmt::Debug for DatagramPort<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramPort")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}
