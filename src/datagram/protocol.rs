//! The callbacks of a datagram protocol: [`DatagramProtocol`].

use std::net::SocketAddr;

use bytes::Bytes;

use super::{DatagramContext, DatagramTooLong, DEFAULT_MAX_SIZE};

/// A protocol over datagrams (UDP). Twisted's `DatagramProtocol`.
///
/// The port calls these one at a time with `&mut self`, as the reactor calls a
/// [`Protocol`](crate::Protocol)'s. Each datagram arrives whole, as it was sent: datagrams
/// are never merged or split. Run one on real sockets with
/// [`Reactor::listen_udp`](crate::Reactor::listen_udp), or in memory on a
/// [`DatagramNetwork`](crate::testing::DatagramNetwork).
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use bytes::Bytes;
/// use torsade::datagram::{DatagramContext, DatagramProtocol};
///
/// /// Sends every datagram back where it came from.
/// struct Echo;
///
/// impl DatagramProtocol for Echo {
///     fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
///         let _ = cx.write(&data, from);
///     }
/// }
///
/// let network = torsade::testing::DatagramNetwork::new();
/// let port = network.bind("10.0.0.1:7".parse().unwrap(), Echo).unwrap();
/// assert_eq!(port.local_addr().port(), 7);
/// ```
pub trait DatagramProtocol: Send + 'static {
    /// The longest datagram delivered; a longer one goes to
    /// [`datagram_too_long`](DatagramProtocol::datagram_too_long). Read once, when the
    /// port opens. Twisted's `maxPacketSize`.
    #[doc(alias = "maxPacketSize")]
    fn max_size(&self) -> usize {
        DEFAULT_MAX_SIZE
    }

    /// The port is open: the protocol may write, connect and set socket options.
    /// Twisted's `startProtocol`.
    #[doc(alias = "startProtocol")]
    fn started(&mut self, cx: &mut DatagramContext<'_>) {
        let _ = cx;
    }

    /// A datagram arrived from `from`, whole. Twisted's `datagramReceived`.
    #[doc(alias = "datagramReceived")]
    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr);

    /// A datagram longer than the port's maximum size arrived (or was cut short by the
    /// operating system at that size); it is not delivered. It is counted in
    /// [`DatagramStats::too_long`](super::DatagramStats::too_long) whatever this does; by
    /// default nothing else happens.
    fn datagram_too_long(&mut self, cx: &mut DatagramContext<'_>, error: DatagramTooLong) {
        let _ = (cx, error);
    }

    /// On a [connected](DatagramContext::connect) port: the peer refused a datagram (an
    /// ICMP "port unreachable"). Twisted's `connectionRefused`. Datagrams may still be
    /// sent; the peer may start listening later.
    #[doc(alias = "connectionRefused")]
    fn connection_refused(&mut self, cx: &mut DatagramContext<'_>) {
        let _ = cx;
    }

    /// The port has closed; nothing more is delivered. Twisted's `stopProtocol`.
    #[doc(alias = "stopProtocol")]
    fn stopped(&mut self) {}
}
