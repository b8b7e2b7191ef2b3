//! What can go wrong with a datagram: [`DatagramError`], and the report of an oversized
//! datagram, [`DatagramTooLong`].

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::MulticastInterface;

/// Why a datagram operation failed.
///
/// A datagram dropped because the socket's send buffer was full is not an error (UDP is
/// lossy): it is counted in [`DatagramStats::dropped`](super::DatagramStats::dropped).
///
/// # Examples
///
/// ```
/// use torsade::datagram::DatagramError;
///
/// let error = DatagramError::NotConnected;
/// assert_eq!(error.to_string(), "the datagram port is not connected");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// [`write_connected`](super::DatagramContext::write_connected) on a port that was
    /// never [connected](super::DatagramContext::connect).
    #[error("the datagram port is not connected")]
    NotConnected,

    /// The port has stopped.
    #[error("the datagram port is stopped")]
    Stopped,

    /// A datagram longer than can be sent.
    #[error("a datagram of {length} bytes, over the limit of {max_length}")]
    TooLong {
        /// The datagram's length.
        length: usize,
        /// The largest that can be sent.
        max_length: usize,
    },

    /// On a connected port: the peer refused the datagram (ICMP port unreachable).
    #[error("the peer refused the datagram")]
    Refused,

    /// A multicast interface of the other family than the group joined or left, or, for
    /// [`set_outgoing_interface`](super::DatagramContext::set_outgoing_interface), than
    /// the port's address: an IPv4 interface is an address, an IPv6 one an index.
    #[error("the multicast {interface} is not of the family of {address}")]
    InterfaceFamily {
        /// The interface given.
        interface: MulticastInterface,
        /// The group, or the port's address.
        address: IpAddr,
    },

    /// The operating system failed the operation.
    #[error("datagram I/O error: {0}")]
    Io(#[from] io::Error),
}

/// A datagram longer than the port's maximum size, reported to
/// [`DatagramProtocol::datagram_too_long`](super::DatagramProtocol::datagram_too_long)
/// instead of being delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramTooLong {
    /// Who sent it.
    pub from: SocketAddr,
    /// The port's maximum size; the datagram was longer.
    pub max_length: usize,
}
