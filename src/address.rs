//! Where a connection's ends are: [`Address`].
//!
//! Twisted's `IAddress`: a TCP/IP address, a Unix domain socket's path, or a name for an
//! end that has neither (an in-memory stream, a pipe).

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

/// One end of a connection.
///
/// # Examples
///
/// ```
/// use torsade::Address;
///
/// let address = Address::Tcp("127.0.0.1:8000".parse().unwrap());
/// assert_eq!(address.to_string(), "127.0.0.1:8000");
/// assert_eq!(address.port(), Some(8000));
///
/// let socket = Address::unix("/run/app.sock");
/// assert_eq!(socket.to_string(), "unix:/run/app.sock");
/// assert_eq!(socket.path().unwrap().to_str(), Some("/run/app.sock"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP/IP address (IPv4 or IPv6).
    Tcp(SocketAddr),
    /// A Unix domain socket: its path, or `None` for an unnamed one (the client end of a
    /// connection, usually).
    Unix(Option<Arc<Path>>),
    /// An end with neither (an in-memory stream, a pipe), named for logs.
    Named(Arc<str>),
}

impl Address {
    /// The address of a Unix domain socket at `path`.
    pub fn unix(path: impl AsRef<Path>) -> Address {
        Address::Unix(Some(Arc::from(path.as_ref())))
    }

    /// An address that is only a name (for logs).
    pub fn named(name: impl Into<Arc<str>>) -> Address {
        Address::Named(name.into())
    }

    /// The socket address, for a TCP address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(address) => Some(*address),
            _ => None,
        }
    }

    /// The port, for a TCP address.
    pub fn port(&self) -> Option<u16> {
        self.socket_addr().map(|address| address.port())
    }

    /// The path, for a named Unix domain socket.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Address::Unix(Some(path)) => Some(path),
            _ => None,
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
            Address::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Address::Unix(None) => f.write_str("unix:(unnamed)"),
            Address::Named(name) => f.write_str(name),
        }
    }
}

/// A TCP address resolves to itself (so `std::net::TcpStream::connect(port.local_addr())`
/// works); other addresses are an `InvalidInput` error.
impl ToSocketAddrs for Address {
    type Iter = std::option::IntoIter<SocketAddr>;

    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        match self.socket_addr() {
            Some(address) => Ok(Some(address).into_iter()),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{self} is not a TCP address"),
            )),
        }
    }
}
