//! What a datagram port needs from its socket, real or in memory: [`DatagramSocket`].

use std::io;
use std::net::SocketAddr;

use super::{Membership, MulticastInterface};

/// A datagram socket without waiting: the reactor's tokio `UdpSocket` or an endpoint of a
/// [`DatagramNetwork`](crate::testing::DatagramNetwork). Sends never wait: a full send
/// buffer is `io::ErrorKind::WouldBlock`, which the context counts as a drop.
pub(crate) trait DatagramSocket: Send + Sync {
    fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()>;
    /// Sends to the connected peer.
    fn send(&self, data: &[u8]) -> io::Result<()>;
    fn connect(&self, peer: SocketAddr) -> io::Result<()>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn set_broadcast(&self, on: bool) -> io::Result<()>;
    fn join_group(&self, membership: Membership) -> io::Result<()>;
    fn leave_group(&self, membership: Membership) -> io::Result<()>;
    /// Sends multicast datagrams from `interface`, of the port's family.
    fn set_outgoing_interface(&self, interface: MulticastInterface) -> io::Result<()>;
    fn set_ttl(&self, ttl: u32) -> io::Result<()>;
    fn set_loopback(&self, on: bool) -> io::Result<()>;
    /// Reading was resumed or a stop was asked for: whatever reads should look again.
    fn wake(&self);
    /// The port has stopped: release the address.
    fn close(&self);
}
