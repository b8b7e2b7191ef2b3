//! What a [`DatagramProtocol`](super::DatagramProtocol)'s callbacks act through:
//! [`DatagramContext`] — writes, connect, reading control, socket options, stop.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::socket::DatagramSocket;
use super::stats::{Count, Counters};
use super::{DatagramError, MAX_DATAGRAM_SIZE};

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

    /// Joins the multicast group `group` on the default interface. Twisted's `joinGroup`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the operating system refuses (not a multicast address, or
    /// of the other family than the port).
    #[doc(alias = "joinGroup")]
    pub fn join_group(&mut self, group: IpAddr) -> Result<(), DatagramError> {
        Ok(self.socket.join_group(group)?)
    }

    /// Leaves the multicast group `group`. Twisted's `leaveGroup`.
    ///
    /// # Errors
    ///
    /// [`DatagramError::Io`] if the port had not joined it.
    #[doc(alias = "leaveGroup")]
    pub fn leave_group(&mut self, group: IpAddr) -> Result<(), DatagramError> {
        Ok(self.socket.leave_group(group)?)
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
    use std::net::{IpAddr, SocketAddr};

    use super::{DatagramContext, PortState};
    use crate::datagram::socket::DatagramSocket;
    use crate::datagram::stats::Counters;
    use crate::datagram::{DatagramError, DEFAULT_MAX_SIZE};

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
        fn join_group(&self, _: IpAddr) -> io::Result<()> {
            Ok(())
        }
        fn leave_group(&self, _: IpAddr) -> io::Result<()> {
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

    fn write_through(kind: io::ErrorKind) -> (Result<(), DatagramError>, Counters) {
        let socket = Failing(kind);
        let mut state = PortState::new(DEFAULT_MAX_SIZE);
        let counters = Counters::default();
        let mut cx = DatagramContext {
            socket: &socket,
            state: &mut state,
            counters: &counters,
        };
        let result = cx.write(b"x", ([127, 0, 0, 1], 10).into());
        (result, counters)
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
