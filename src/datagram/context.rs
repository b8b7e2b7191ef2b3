//! What a [`DatagramProtocol`](super::DatagramProtocol)'s callbacks act through:
//! [`DatagramContext`] — writes, connect, reading control, socket options, stop.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::socket::DatagramSocket;
use super::stats::{Count, Counters};
use super::{DatagramError, Membership, MulticastInterface, MAX_DATAGRAM_SIZE};

/// The state of a port that its callbacks change: pause, stop, connected peer.
#[derive(Debug)]
pub(crate) struct PortState {
    pub(crate) paused: bool,
    pub(crate) stop_requested: bool,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) max_size: usize,
}

impl PortState {
    pub(crate) fn new(max_size: usize) -> PortState {
        PortState {
            paused: false,
            stop_requested: false,
            peer: None,
            max_size,
        }
    }
}

/// The transport a [`DatagramProtocol`](super::DatagramProtocol)'s callbacks get: Twisted's
/// UDP port (`IUDPTransport`, `IMulticastTransport`).
///
/// A datagram is sent whole or not at all. When the socket's send buffer is full the
/// datagram is dropped and counted ([`DatagramStats::dropped`](super::DatagramStats)),
/// never queued: UDP is lossy, and a protocol that needs delivery retries (see the
/// `udp_echo` example).
///
/// After [`connect`](DatagramContext::connect), datagrams from other addresses are not
/// delivered (the operating system filters them), [`write_connected`] sends to the peer,
/// and a refusal by the peer calls
/// [`connection_refused`](super::DatagramProtocol::connection_refused). [`write`] still
/// sends to the address it is given.
///
/// [`write_connected`]: DatagramContext::write_connected
/// [`write`]: DatagramContext::write
pub struct DatagramContext<'a> {
    pub(crate) socket: &'a dyn DatagramSocket,
    pub(crate) state: &'a mut PortState,
    pub(crate) counters: &'a Counters,
}

impl fmt::Debug for DatagramContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramContext")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl DatagramContext<'_> {
    /// Sends `data` as one datagram to `to`. Twisted's `write(data, addr)`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Stopped`] once the port has stopped; [`DatagramError::TooLong`]
    /// over [`MAX_DATAGRAM_SIZE`] bytes; [`DatagramError::Io`] if the datagram cannot be sent;
    /// [`DatagramError::Refused`] on a connected port whose peer refused an earlier
    /// datagram. A full send buffer is not an error: the datagram is dropped and counted.
    pub fn write(&mut self, data: &[u8], to: SocketAddr) -> Result<(), DatagramError> {
        self.check_sendable(data)?;
        let sent = self.socket.send_to(data, to);
        self.count_send(sent)
    }

    /// Sends `data` as one datagram to the [connected](DatagramContext::connect) peer.
    /// Twisted's `write(data)` on a connected port.
    ///
    /// # Errors
    ///
    /// [`DatagramError::NotConnected`] if the port is not connected; otherwise as
    /// [`write`](DatagramContext::write).
    pub fn write_connected(&mut self, data: &[u8]) -> Result<(), DatagramError> {
        self.check_sendable(data)?;
        if self.state.peer.is_none() {
            return Err(DatagramError::NotConnected);
        }
        let sent = self.socket.send(data);
        self.count_send(sent)
    }

    /// Connects the port to `peer`: only its datagrams are delivered from now on, and
    /// [`write_connected`](DatagramContext::write_connected) sends to it. Twisted's
    /// `connect(host, port)`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses.
    pub fn connect(&mut self, peer: SocketAddr) -> Result<(), DatagramError> {
        self.check_sendable(&[])?;
        self.socket.connect(peer)?;
        self.state.peer = Some(peer);
        Ok(())
    }

    /// The connected peer, if [`connect`](DatagramContext::connect) was called.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.state.peer
    }

    /// Stops delivering datagrams until [`resume_reading`](DatagramContext::resume_reading);
    /// meanwhile they wait in the socket's receive buffer (and are lost when it is full).
    #[doc(alias = "pauseProducing")]
    pub fn pause_reading(&mut self) {
        self.state.paused = true;
    }

    /// Delivers datagrams again after [`pause_reading`](DatagramContext::pause_reading).
    #[doc(alias = "resumeProducing")]
    pub fn resume_reading(&mut self) {
        if self.state.paused {
            self.state.paused = false;
            self.socket.wake();
        }
    }

    /// Whether reading is paused.
    pub fn is_reading_paused(&self) -> bool {
        self.state.paused
    }

    /// The address the port is bound to. Twisted's `getHost`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system cannot say.
    #[doc(alias = "getHost")]
    pub fn local_addr(&self) -> Result<SocketAddr, DatagramError> {
        Ok(self.socket.local_addr()?)
    }

    /// The longest datagram delivered; longer ones go to
    /// [`datagram_too_long`](super::DatagramProtocol::datagram_too_long).
    pub fn max_size(&self) -> usize {
        self.state.max_size
    }

    /// Allows (or forbids) sending to broadcast addresses. Twisted's `setBroadcastAllowed`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses.
    #[doc(alias = "setBroadcastAllowed")]
    pub fn set_broadcast(&mut self, allowed: bool) -> Result<(), DatagramError> {
        Ok(self.socket.set_broadcast(allowed)?)
    }

    /// Joins the multicast group `group` on the interface the system chooses (the one its
    /// routes send `group`'s datagrams through). Twisted's `joinGroup(addr)`.
    ///
    /// A port hears a group's datagrams sent to its own port number; on Linux it must be
    /// bound to the group's address or the wildcard address to hear them.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses (not a multicast address, or
    /// of the other family than the port).
    #[doc(alias = "joinGroup")]
    pub fn join_group(&mut self, group: IpAddr) -> Result<(), DatagramError> {
        Ok(self.socket.join_group(Membership::new(group, None)?)?)
    }

    /// Joins the multicast group `group` on `interface`: an IPv4 interface by its address,
    /// an IPv6 one by its index (see [`MulticastInterface`]). Twisted's
    /// `joinGroup(addr, interface)`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::InterfaceFamily`] if `interface` is not of `group`'s family;
    /// otherwise as [`join_group`](DatagramContext::join_group), and
    /// [`DatagramError::Io`] if there is no such interface.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddr};
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use torsade::datagram::{DatagramContext, DatagramError, DatagramProtocol, MulticastInterface};
    /// use torsade::testing::DatagramNetwork;
    ///
    /// #[derive(Default)]
    /// struct Member { heard: Vec<Bytes> }
    /// impl DatagramProtocol for Member {
    ///     fn started(&mut self, cx: &mut DatagramContext<'_>) {
    ///         let group = "239.255.0.1".parse().unwrap();
    ///         cx.join_group_on(group, MulticastInterface::V4(Ipv4Addr::LOCALHOST)).unwrap();
    ///         let wrong = cx.join_group_on(group, MulticastInterface::V6(1));
    ///         assert!(matches!(wrong, Err(DatagramError::InterfaceFamily { .. })));
    ///     }
    ///     fn datagram_received(&mut self, _: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
    ///         self.heard.push(data);
    ///     }
    /// }
    ///
    /// let network = DatagramNetwork::new();
    /// let member = network.bind("10.0.0.1:5000".parse().unwrap(), Member::default()).unwrap();
    /// let sender = network.bind("10.0.0.2:0".parse().unwrap(), Member::default()).unwrap();
    /// sender.handle().call(|_, cx| cx.write(b"hello", "239.255.0.1:5000".parse().unwrap()).unwrap());
    /// network.clock().advance(Duration::from_secs(1));
    /// member.handle().call(|member, _| assert_eq!(member.heard, ["hello"]));
    /// ```
    #[doc(alias = "joinGroup")]
    pub fn join_group_on(
        &mut self,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<(), DatagramError> {
        Ok(self
            .socket
            .join_group(Membership::new(group, Some(interface))?)?)
    }

    /// Leaves the multicast group `group` joined with
    /// [`join_group`](DatagramContext::join_group). Twisted's `leaveGroup(addr)`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the port had not joined it.
    #[doc(alias = "leaveGroup")]
    pub fn leave_group(&mut self, group: IpAddr) -> Result<(), DatagramError> {
        Ok(self.socket.leave_group(Membership::new(group, None)?)?)
    }

    /// Leaves the multicast group `group` joined on `interface` with
    /// [`join_group_on`](DatagramContext::join_group_on). Twisted's
    /// `leaveGroup(addr, interface)`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::InterfaceFamily`] if `interface` is not of `group`'s family;
    /// [`DatagramError::Io`] if the port had not joined `group` on `interface`.
    #[doc(alias = "leaveGroup")]
    pub fn leave_group_on(
        &mut self,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<(), DatagramError> {
        Ok(self
            .socket
            .leave_group(Membership::new(group, Some(interface))?)?)
    }

    /// Sends this port's multicast datagrams from `interface` rather than the one the
    /// system's routes choose. Twisted's `setOutgoingInterface`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::InterfaceFamily`] if `interface` is not of the family of the
    /// port's address; [`DatagramError::Io`] if there is no such interface.
    #[doc(alias = "setOutgoingInterface")]
    pub fn set_outgoing_interface(
        &mut self,
        interface: MulticastInterface,
    ) -> Result<(), DatagramError> {
        let local = self.socket.local_addr()?.ip();
        if !interface.is_of_family(local) {
            return Err(interface.family_error(local));
        }
        Ok(self.socket.set_outgoing_interface(interface)?)
    }

    /// Sets the time-to-live (hop limit) of outgoing multicast datagrams. Twisted's `setTTL`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses.
    #[doc(alias = "setTTL")]
    pub fn set_ttl(&mut self, ttl: u32) -> Result<(), DatagramError> {
        Ok(self.socket.set_ttl(ttl)?)
    }

    /// Whether this host's own members of a group receive what the port sends to it.
    /// Twisted's `setLoopbackMode`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses.
    #[doc(alias = "setLoopbackMode")]
    pub fn set_loopback(&mut self, on: bool) -> Result<(), DatagramError> {
        Ok(self.socket.set_loopback(on)?)
    }

    /// Closes the port once this callback returns; [`stopped`](super::DatagramProtocol::stopped)
    /// is called then. Twisted's `stopListening`.
    #[doc(alias = "stopListening")]
    pub fn stop(&mut self) {
        if !self.state.stop_requested {
            self.state.stop_requested = true;
            self.socket.wake();
        }
    }

    fn check_sendable(&self, data: &[u8]) -> Result<(), DatagramError> {
        if self.state.stop_requested {
            Err(DatagramError::Stopped)
        } else if data.len() > MAX_DATAGRAM_SIZE {
            Err(DatagramError::TooLong {
                length: data.len(),
                max_length: MAX_DATAGRAM_SIZE,
            })
        } else {
            Ok(())
        }
    }

    fn count_send(&self, sent: io::Result<()>) -> Result<(), DatagramError> {
        match sent {
            Ok(()) => {
                self.counters.add(Count::Sent);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.counters.add(Count::Dropped);
                tracing::trace!("send buffer full: datagram dropped");
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                self.counters.add(Count::Refused);
                Err(DatagramError::Refused)
            }
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;

    use super::{DatagramContext, PortState};
    use crate::datagram::socket::DatagramSocket;
    use crate::datagram::stats::Counters;
    use crate::datagram::{DatagramError, Membership, MulticastInterface, DEFAULT_MAX_SIZE};

    /// A socket whose sends all fail with one kind of error.
    struct Failing(io::ErrorKind);

    impl DatagramSocket for Failing {
        fn send_to(&self, _: &[u8], _: SocketAddr) -> io::Result<()> {
            Err(self.0.into())
        }
        fn send(&self, _: &[u8]) -> io::Result<()> {
            Err(self.0.into())
        }
        fn connect(&self, _: SocketAddr) -> io::Result<()> {
            Ok(())
        }
        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(([127, 0, 0, 1], 9).into())
        }
        fn set_broadcast(&self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn join_group(&self, _: Membership) -> io::Result<()> {
            Ok(())
        }
        fn leave_group(&self, _: Membership) -> io::Result<()> {
            Ok(())
        }
        fn set_outgoing_interface(&self, _: MulticastInterface) -> io::Result<()> {
            Ok(())
        }
        fn set_ttl(&self, _: u32) -> io::Result<()> {
            Ok(())
        }
        fn set_loopback(&self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn wake(&self) {}
        fn close(&self) {}
    }

    /// Runs `act` on a context over a [`Failing`] socket of `kind` bound to 127.0.0.1.
    fn with_context<T>(
        kind: io::ErrorKind,
        act: impl FnOnce(&mut DatagramContext<'_>) -> T,
    ) -> (T, Counters) {
        let socket = Failing(kind);
        let mut state = PortState::new(DEFAULT_MAX_SIZE);
        let counters = Counters::default();
        let mut cx = DatagramContext {
            socket: &socket,
            state: &mut state,
            counters: &counters,
        };
        (act(&mut cx), counters)
    }

    fn write_through(kind: io::ErrorKind) -> (Result<(), DatagramError>, Counters) {
        with_context(kind, |cx| cx.write(b"x", ([127, 0, 0, 1], 10).into()))
    }

    #[test]
    fn an_outgoing_interface_of_the_other_family_than_the_port_is_a_typed_error() {
        let (results, _) = with_context(io::ErrorKind::Other, |cx| {
            (
                cx.set_outgoing_interface(MulticastInterface::V6(1)),
                cx.set_outgoing_interface(MulticastInterface::V4([127, 0, 0, 1].into())),
            )
        });
        assert!(matches!(
            results.0,
            Err(DatagramError::InterfaceFamily { interface: MulticastInterface::V6(1), address })
                if address == std::net::IpAddr::from([127, 0, 0, 1])
        ));
        assert!(results.1.is_ok());
    }

    #[test]
    fn a_full_send_buffer_drops_the_datagram_and_counts_it() {
        let (result, counters) = write_through(io::ErrorKind::WouldBlock);
        assert!(result.is_ok(), "a drop is not an error");
        let stats = counters.snapshot();
        assert_eq!((stats.dropped, stats.sent), (1, 0));
    }

    #[test]
    fn a_refused_send_is_a_typed_error_and_counted() {
        let (result, counters) = write_through(io::ErrorKind::ConnectionRefused);
        assert!(matches!(result, Err(DatagramError::Refused)));
        assert_eq!(counters.snapshot().refused, 1);
    }

    #[test]
    fn other_send_failures_are_io_errors() {
        let (result, counters) = write_through(io::ErrorKind::PermissionDenied);
        assert!(
            matches!(result, Err(DatagramError::Io(error)) if error.kind() == io::ErrorKind::PermissionDenied)
        );
        assert_eq!(counters.snapshot(), Default::default());
    }
}
