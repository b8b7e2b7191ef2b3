//! Where a UDP port binds, given as an address or a string: [`IntoDatagramAddress`],
//! which [`Reactor::listen_udp`](crate::Reactor::listen_udp) takes.

use std::net::SocketAddr;

use super::parse::Description;
use crate::Result;

/// Something [`Reactor::listen_udp`](crate::Reactor::listen_udp) takes as where to bind:
/// a [`SocketAddr`], its text (`127.0.0.1:9007`, `[::1]:0`), or a UDP endpoint string
/// `udp:PORT[:interface=IP]`, written as a TCP one is (`udp:0:interface=\:\:1`; without
/// an interface, every IPv4 one). Twisted's `listenUDP(port, protocol, interface)`.
///
/// # Examples
///
/// ```
/// use torsade::endpoints::IntoDatagramAddress;
/// use torsade::Error;
///
/// let address = "udp:9007:interface=127.0.0.1".into_datagram_address().unwrap();
/// assert_eq!(address, "127.0.0.1:9007".parse().unwrap());
/// let address = r"udp:0:interface=\:\:1".into_datagram_address().unwrap();
/// assert_eq!(address, "[::1]:0".parse().unwrap());
///
/// let error = "udp:53:backlog=5".into_datagram_address().unwrap_err();
/// assert!(matches!(error, Error::InvalidEndpoint { ref field, .. } if field == "backlog"));
/// ```
pub trait IntoDatagramAddress {
    /// The address to bind.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`](crate::Error::InvalidEndpoint) for a malformed string,
    /// naming the string, the field and what was expected.
    fn into_datagram_address(self) -> Result<SocketAddr>;
}

impl IntoDatagramAddress for SocketAddr {
    fn into_datagram_address(self) -> Result<SocketAddr> {
        Ok(self)
    }
}

impl IntoDatagramAddress for &str {
    fn into_datagram_address(self) -> Result<SocketAddr> {
        datagram_address_from_string(self)
    }
}

impl IntoDatagramAddress for &String {
    fn into_datagram_address(self) -> Result<SocketAddr> {
        datagram_address_from_string(self)
    }
}

impl IntoDatagramAddress for String {
    fn into_datagram_address(self) -> Result<SocketAddr> {
        datagram_address_from_string(&self)
    }
}

/// The address `description` names: a socket address, or `udp:PORT[:interface=IP]`.
fn datagram_address_from_string(description: &str) -> Result<SocketAddr> {
    if let Ok(address) = description.parse::<SocketAddr>() {
        return Ok(address);
    }
    let parsed = Description::parse(description)?;
    if parsed.kind != "udp" {
        return Err(parsed.invalid(
            "type",
            "a UDP endpoint (udp:PORT[:interface=IP]) or an IP address and port",
        ));
    }
    parsed.only(1, &["port", "interface"])?;
    parsed.bind_address()
}
