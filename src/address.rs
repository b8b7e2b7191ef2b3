//! Where a connection's ends are: [`Address`].
//!
//! Twisted's `IAddress`. Only TCP addresses exist today; the enum is non-exhaustive so that
//! UNIX-domain sockets can join without breaking matches.

use std::fmt;
use std::net::SocketAddr;

/// One end of a connection.
///
/// # Examples
///
/// ```
/// use torsade::Address;
///
/// let address = Address::Tcp("127.0.0.1:8000".parse().unwrap());
/// assert_eq!(address.to_string(), "127.0.0.1:8000");
/// assert_eq!(address.socket_addr().map(|a| a.port()), Some(8000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP/IP address (IPv4 or IPv6).
    Tcp(SocketAddr),
}

impl Address {
    /// The socket address, for the kinds of address that have one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(address) => Some(*address),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Address {
        Address::Tcp(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(address) => address.fmt(f),
        }
    }
}
