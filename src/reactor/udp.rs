//! UDP on the reactor: [`Reactor::listen_udp`], and the task that owns a port's tokio
//! `UdpSocket` and feeds its datagrams to the port core.

use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::registry::{Guard, Registry};
use super::Reactor;
use crate::datagram::port_core::PortCore;
use crate::datagram::socket::DatagramSocket;
use crate::datagram::{
    DatagramHandle, DatagramPort, DatagramProtocol, Membership, MulticastInterface,
};
use crate::endpoints::{cannot_listen, IntoDatagramAddress};
use crate::Result;

impl Reactor {
    /// Opens a UDP port on `address` (IPv4 or IPv6; port 0 picks a free one) running
    /// `protocol`. The address is a [`SocketAddr`], its text (`127.0.0.1:9007`), or a
    /// UDP endpoint string (`udp:9007:interface=127.0.0.1`); see [`IntoDatagramAddress`].
    /// Twisted's `listenUDP` (and `listenMulticast`: join groups from
    /// [`started`](DatagramProtocol::started)). `started` runs on the reactor's loop soon
    /// after this returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`](crate::Error::InvalidEndpoint) for a malformed string;
    /// [`Error::CannotListen`](crate::Error::CannotListen) if the address cannot be
    /// bound, or the reactor is stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use bytes::Bytes;
    /// use torsade::datagram::{DatagramContext, DatagramProtocol};
    /// use torsade::Reactor;
    ///
    /// struct Echo;
    /// impl DatagramProtocol for Echo {
    ///     fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
    ///         let _ = cx.write(&data, from);
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen_udp("udp:0:interface=127.0.0.1", Echo).unwrap();
    /// assert_ne!(port.local_addr().port(), 0);
    /// let address: SocketAddr = "127.0.0.1:0".parse().unwrap();
    /// let other = reactor.listen_udp(address, Echo).unwrap();
    /// assert_ne!(other.local_addr(), port.local_addr());
    /// ```
    #[doc(alias = "listenUDP")]
    #[doc(alias = "listenMulticast")]
    pub fn listen_udp<P: DatagramProtocol>(
        &self,
        address: impl IntoDatagramAddress,
        protocol: P,
    ) -> Result<DatagramPort<P>> {
        let address = address.into_datagram_address()?;
        let cannot = |error| cannot_listen(&format!("udp:{address}"), error);
        if self.registry().is_stopping() {
            return Err(cannot(io::Error::other("the reactor is stopping")));
        }
        let (handle, _clock) = self.pick_loop();
        let socket = std::net::UdpSocket::bind(address).map_err(cannot)?;
        socket.set_nonblocking(true).map_err(cannot)?;
        let socket = {
            let _runtime = handle.enter();
            UdpSocket::from_std(socket).map_err(cannot)?
        };
        let local = socket.local_addr().map_err(cannot)?;
        let max_size = protocol.max_size();
        let udp = Arc::new(Udp {
            socket,
            wake: Notify::new(),
        });
        let core = PortCore::new(protocol, udp.clone(), max_size);
        let guard = self.registry().register_task();
        handle.spawn(drive(udp, core.clone(), self.registry().clone(), guard));
        tracing::debug!(%local, "listening (udp)");
        Ok(DatagramPort::new(local, DatagramHandle::new(core)))
    }
}

/// A port's socket, and the signal that its reading state changed.
struct Udp {
    socket: UdpSocket,
    wake: Notify,
}

impl Udp {
    fn is_ipv4(&self) -> io::Result<bool> {
        Ok(self.socket.local_addr()?.is_ipv4())
    }
}

impl DatagramSocket for Udp {
    // Sends go straight to the non-blocking socket, not through tokio's `try_send`: that
    // one answers `WouldBlock` until the loop has first seen the socket writable, which
    // would drop every datagram sent from `started`. Only a full send buffer is
    // `WouldBlock` here.
    fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        socket2::SockRef::from(&self.socket)
            .send_to(data, &to.into())
            .map(drop)
    }

    fn send(&self, data: &[u8]) -> io::Result<()> {
        socket2::SockRef::from(&self.socket).send(data).map(drop)
    }

    fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        socket2::SockRef::from(&self.socket).connect(&peer.into())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.socket.set_broadcast(on)
    }

    fn join_group(&self, membership: Membership) -> io::Result<()> {
        match membership {
            Membership::V4 { group, interface } => self.socket.join_multicast_v4(group, interface),
            Membership::V6 { group, interface } => self.socket.join_multicast_v6(&group, interface),
        }
    }

    fn leave_group(&self, membership: Membership) -> io::Result<()> {
        match membership {
            Membership::V4 { group, interface } => self.socket.leave_multicast_v4(group, interface),
            Membership::V6 { group, interface } => {
                self.socket.leave_multicast_v6(&group, interface)
            }
        }
    }

    fn set_outgoing_interface(&self, interface: MulticastInterface) -> io::Result<()> {
        let socket = socket2::SockRef::from(&self.socket);
        match interface {
            MulticastInterface::V4(address) => socket.set_multicast_if_v4(&address),
            MulticastInterface::V6(index) => socket.set_multicast_if_v6(index),
        }
    }

    fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        if self.is_ipv4()? {
            self.socket.set_multicast_ttl_v4(ttl)
        } else {
            socket2::SockRef::from(&self.socket).set_multicast_hops_v6(ttl)
        }
    }

    fn set_loopback(&self, on: bool) -> io::Result<()> {
        if self.is_ipv4()? {
            self.socket.set_multicast_loop_v4(on)
        } else {
            self.socket.set_multicast_loop_v6(on)
        }
    }

    fn wake(&self) {
        self.notify();
    }

    fn close(&self) {
        self.notify();
    }
}

impl Udp {
    /// Waits for the socket's pending error, and takes it.
    async fn pending_error(&self) -> io::Error {
        let taken = self
            .socket
            .async_io(Interest::ERROR, || match self.socket.take_error() {
                Ok(Some(error)) => Ok(error),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(error) => Ok(error),
            })
            .await;
        taken.unwrap_or_else(|error| error)
    }

    fn notify(&self) {
        // `notify_one` keeps the wake-up for a task not waiting yet.
        self.wake.notify_one();
    }
}

/// Receives datagrams into a buffer one byte longer than the maximum size — so one the
/// operating system cut short at that size still shows as too long — and hands each to
/// the core, until the port or the reactor stops.
async fn drive<P: DatagramProtocol>(
    udp: Arc<Udp>,
    core: Arc<PortCore<P>>,
    registry: Arc<Registry>,
    _alive: Guard,
) {
    let mut reactor_stopping = registry.stop_signal();
    let mut buffer = vec![0; core.max_size().saturating_add(1)];
    contained(&core, || core.start());
    while !core.is_stopped() {
        if core.is_paused() {
            tokio::select! {
                biased;
                _ = reactor_stopping.wait_for(|stopping| *stopping) => {
                    contained(&core, || core.stop().detach());
                }
                () = udp.wake.notified() => {}
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = reactor_stopping.wait_for(|stopping| *stopping) => {
                contained(&core, || core.stop().detach());
            }
            () = udp.wake.notified() => {}
            // A refusal (ICMP port unreachable) on a connected socket is a pending socket
            // error, which does not make the socket readable.
            error = udp.pending_error() => match error.kind() {
                io::ErrorKind::ConnectionRefused => contained(&core, || core.refused()),
                _ => tracing::debug!(%error, "datagram socket error"),
            },
            received = udp.socket.recv_from(&mut buffer) => match received {
                Ok((length, from)) => {
                    let datagram = Bytes::copy_from_slice(&buffer[..length]);
                    contained(&core, || core.deliver(datagram, from));
                }
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    contained(&core, || core.refused());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::warn!(%error, "receiving a datagram failed; the port stops");
                    contained(&core, || core.stop().detach());
                }
            },
        }
    }
}

/// Runs `work` on the port core. A callback that panics stops the port (its `stopped`
/// runs), as a panic aborts a connection, rather than ending the task with the port open
/// and deaf; a `stopped` that panics ends it stopped all the same.
fn contained<P: DatagramProtocol>(core: &PortCore<P>, work: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(work)).is_err() {
        tracing::error!("a datagram protocol's callback panicked; the port stops");
        let stopping = catch_unwind(AssertUnwindSafe(|| core.stop().detach()));
        if stopping.is_err() {
            tracing::error!("the datagram protocol's `stopped` panicked");
        }
    }
}
