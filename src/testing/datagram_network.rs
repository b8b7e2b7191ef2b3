//! An in-memory network of datagram ports on the fake clock: [`DatagramNetwork`], with
//! latency, loss, duplication and reordering drawn from a seeded generator.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::random::SplitMix64;
use super::FakeClock;
use crate::datagram::port_core::PortCore;
use crate::datagram::socket::DatagramSocket;
use crate::datagram::{
    DatagramHandle, DatagramPort, DatagramProtocol, Membership, MulticastInterface,
};
use crate::endpoints::cannot_listen;
use crate::Result;

/// How many datagrams wait for a paused port before more are dropped: its receive buffer.
pub const MEMORY_RECEIVE_BUFFER: usize = 256;

/// Where ports bound to port 0 are given a port from.
const FIRST_EPHEMERAL_PORT: u16 = 49_152;

/// What the network does to each datagram. Probabilities are from 0.0 (never) to 1.0
/// (always); each datagram's fate is drawn from the network's seeded generator, so the
/// same seed and the same traffic give the same run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// How long every datagram takes to arrive.
    pub latency: Duration,
    /// Up to how much longer a datagram may take (uniformly drawn): datagrams sent close
    /// together arrive out of order.
    pub jitter: Duration,
    /// The chance a datagram is lost.
    pub loss: f64,
    /// The chance a datagram arrives twice (each copy with its own jitter).
    pub duplication: f64,
}

impl Default for Faults {
    /// One millisecond of latency, nothing else: everything arrives, once, in order.
    fn default() -> Faults {
        Faults {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplication: 0.0,
        }
    }
}

impl Faults {
    /// No faults, with `latency`.
    pub fn with_latency(latency: Duration) -> Faults {
        Faults {
            latency,
            ..Faults::default()
        }
    }
}

/// A network of datagram ports in memory, on a [`FakeClock`]: bind protocols to any
/// addresses, and what one writes to another arrives when the clock has advanced by the
/// network's latency — or not, or twice, or late, as the [`Faults`] say. Twisted has no
/// such double; it is `iosim` for datagrams.
///
/// Each datagram arrives whole. A datagram to an address nobody is bound to is lost, and
/// a port [connected](crate::datagram::DatagramContext::connect) to that address hears
/// [`connection_refused`](DatagramProtocol::connection_refused), as from an ICMP port
/// unreachable. Multicast groups and broadcast (to `255.255.255.255`) reach every member
/// bound to the port sent to. The network is one link: a port's membership of a group
/// does not depend on the [interface](crate::datagram::MulticastInterface) it joined on,
/// nor delivery on the sender's outgoing interface (an interface of the wrong family is
/// still refused, as on real sockets). Cheap to clone; clones are the same network.
///
/// # Examples
///
/// A lossy network loses the same datagrams on every run with the same seed:
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use bytes::Bytes;
/// use torsade::datagram::{DatagramContext, DatagramProtocol};
/// use torsade::testing::{DatagramNetwork, Faults};
///
/// #[derive(Default)]
/// struct Sink { got: Vec<Bytes> }
/// impl DatagramProtocol for Sink {
///     fn datagram_received(&mut self, _: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
///         self.got.push(data);
///     }
/// }
///
/// let run = |seed| {
///     let network = DatagramNetwork::with_seed(seed);
///     network.set_faults(Faults { loss: 0.5, ..Faults::default() });
///     let sink = network.bind("10.0.0.1:9".parse().unwrap(), Sink::default()).unwrap();
///     let source = network.bind("10.0.0.2:0".parse().unwrap(), Sink::default()).unwrap();
///     for n in 0..20u8 {
///         source.handle().call(move |_, cx| cx.write(&[n], "10.0.0.1:9".parse().unwrap()).unwrap());
///     }
///     network.clock().advance(Duration::from_secs(1));
///     let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
///     let out = got.clone();
///     sink.handle().call(move |sink, _| *out.lock().unwrap() = sink.got.clone());
///     let got = got.lock().unwrap().clone();
///     got
/// };
/// let first = run(7);
/// assert!(first.len() < 20, "some were lost");
/// assert_eq!(first, run(7));
/// ```
#[derive(Clone)]
pub struct DatagramNetwork {
    net: Arc<Net>,
}

struct Net {
    clock: FakeClock,
    state: Mutex<NetState>,
}

struct NetState {
    ports: HashMap<SocketAddr, Arc<dyn Inbound>>,
    groups: HashMap<IpAddr, BTreeSet<SocketAddr>>,
    faults: Faults,
    random: SplitMix64,
    next_port: u16,
    /// Asked before each delivery (a simulation's partitions and crashed hosts).
    reach: Option<Reach>,
}

/// Decides whether a datagram of `bytes` from one address reaches another: false drops
/// it, silently (no refusal).
pub(crate) type Reach = Arc<dyn Fn(SocketAddr, SocketAddr, usize) -> bool + Send + Sync>;

/// A bound port as the network sees it.
trait Inbound: Send + Sync {
    fn receive(&self, data: Bytes, from: SocketAddr);
    fn refused(&self);
    /// Whether this port's own multicast datagrams come back to it.
    fn loops_back(&self) -> bool;
    fn broadcast_allowed(&self) -> bool;
}

impl fmt::Debug for DatagramNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.net.lock();
        f.debug_struct("DatagramNetwork")
            .field("ports", &state.ports.len())
            .field("faults", &state.faults)
            .finish_non_exhaustive()
    }
}

impl Default for DatagramNetwork {
    fn default() -> Self {
        DatagramNetwork::new()
    }
}

impl DatagramNetwork {
    /// A network on a new fake clock, with the default [`Faults`] and seed 0.
    pub fn new() -> DatagramNetwork {
        DatagramNetwork::with_seed(0)
    }

    /// A network whose faults are drawn from a generator seeded with `seed`.
    pub fn with_seed(seed: u64) -> DatagramNetwork {
        DatagramNetwork::on_clock(FakeClock::new(), seed)
    }

    /// A network on `clock` (shared with the protocols' timers), seeded with `seed`.
    pub fn on_clock(clock: FakeClock, seed: u64) -> DatagramNetwork {
        DatagramNetwork {
            net: Arc::new(Net {
                clock,
                state: Mutex::new(NetState {
                    ports: HashMap::new(),
                    groups: HashMap::new(),
                    faults: Faults::default(),
                    random: SplitMix64(seed),
                    reach: None,
                    next_port: FIRST_EPHEMERAL_PORT,
                }),
            }),
        }
    }

    /// The network's clock: advance it to deliver datagrams.
    pub fn clock(&self) -> &FakeClock {
        &self.net.clock
    }

    /// What happens to datagrams sent from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.net.lock().faults = faults;
    }

    /// Asks `reach` before each delivery (see [`Reach`]).
    pub(crate) fn set_reach(&self, reach: Reach) {
        self.net.lock().reach = Some(reach);
    }

    /// Unbinds every port on `ip` without a callback: its host crashed.
    pub(crate) fn forget(&self, ip: IpAddr) {
        let gone: Vec<Arc<dyn Inbound>> = {
            let mut state = self.net.lock();
            let addresses: Vec<SocketAddr> = state
                .ports
                .keys()
                .copied()
                .filter(|address| address.ip() == ip)
                .collect();
            for members in state.groups.values_mut() {
                members.retain(|member| member.ip() != ip);
            }
            addresses
                .iter()
                .filter_map(|address| state.ports.remove(address))
                .collect()
        };
        // Dropped outside the lock: a protocol's drop is its own code.
        drop(gone);
    }

    /// Binds `protocol` to `address` (port 0 picks a free port) and calls its
    /// [`started`](DatagramProtocol::started).
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`](crate::Error::CannotListen) if a port is bound to the
    /// address already.
    pub fn bind<P: DatagramProtocol>(
        &self,
        address: SocketAddr,
        protocol: P,
    ) -> Result<DatagramPort<P>> {
        let local = {
            let mut state = self.net.lock();
            let local = if address.port() == 0 {
                state.free_port(address.ip())
            } else {
                Some(address)
            };
            match local {
                Some(local) if !state.ports.contains_key(&local) => local,
                _ => {
                    return Err(cannot_listen(
                        &format!("udp:{address}"),
                        io::ErrorKind::AddrInUse.into(),
                    ))
                }
            }
        };
        let max_size = protocol.max_size();
        let endpoint = Arc::new_cyclic(|endpoint: &Weak<MemoryEndpoint<P>>| {
            let socket = Arc::new(MemorySocket {
                net: Arc::downgrade(&self.net),
                local,
                endpoint: endpoint.clone(),
                options: Mutex::new(Options {
                    peer: None,
                    broadcast: false,
                    loopback: true,
                }),
            });
            MemoryEndpoint {
                core: PortCore::new(protocol, socket.clone(), max_size),
                socket,
                pending: Mutex::new(VecDeque::new()),
            }
        });
        self.net.lock().ports.insert(local, endpoint.clone());
        endpoint.core.start();
        Ok(DatagramPort::new(
            local,
            DatagramHandle::new(endpoint.core.clone()),
        ))
    }
}

impl Net {
    fn lock(&self) -> MutexGuard<'_, NetState> {
        // No user code runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `data` from `from` to `to` through the faults; `refusable` when the sender is
    /// connected to `to`, so an absent receiver refuses.
    fn send(self: &Arc<Self>, data: &[u8], from: SocketAddr, to: SocketAddr, refusable: bool) {
        let data = Bytes::copy_from_slice(data);
        let mut state = self.lock();
        let faults = state.faults;
        if state.random.chance(faults.loss) {
            tracing::trace!(%from, %to, "datagram lost");
            return;
        }
        let copies = if state.random.chance(faults.duplication) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = faults.latency + state.random.up_to(faults.jitter);
            let net = Arc::downgrade(self);
            let data = data.clone();
            self.clock.call_later(delay, move || {
                if let Some(net) = net.upgrade() {
                    net.arrive(data, from, to, refusable);
                }
            });
        }
    }

    fn arrive(&self, data: Bytes, from: SocketAddr, to: SocketAddr, refusable: bool) {
        let (mut receivers, sender, reach) = {
            let state = self.lock();
            (
                state.receivers(from, to),
                state.ports.get(&from).cloned(),
                state.reach.clone(),
            )
        };
        if let Some(reach) = reach {
            if !to.ip().is_multicast() && !is_broadcast(to.ip()) && !reach(from, to, data.len()) {
                return;
            }
            receivers.retain(|(member, _)| *member == to || reach(from, *member, data.len()));
        }
        if receivers.is_empty() {
            if let (true, Some(sender)) = (refusable, sender) {
                sender.refused();
            }
            return;
        }
        for (_, receiver) in receivers {
            receiver.receive(data.clone(), from);
        }
    }
}

impl NetState {
    fn free_port(&mut self, ip: IpAddr) -> Option<SocketAddr> {
        for _ in FIRST_EPHEMERAL_PORT..=u16::MAX {
            let candidate = SocketAddr::new(ip, self.next_port);
            self.next_port = self
                .next_port
                .checked_add(1)
                .unwrap_or(FIRST_EPHEMERAL_PORT);
            if !self.ports.contains_key(&candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// Who receives a datagram from `from` to `to`.
    fn receivers(&self, from: SocketAddr, to: SocketAddr) -> Vec<(SocketAddr, Arc<dyn Inbound>)> {
        let sender_allows = |check: fn(&dyn Inbound) -> bool| {
            self.ports.get(&from).is_some_and(|sender| check(&**sender))
        };
        let members: Vec<SocketAddr> = if to.ip().is_multicast() {
            let loops_back = sender_allows(|port| port.loops_back());
            self.groups
                .get(&to.ip())
                .into_iter()
                .flatten()
                .copied()
                .filter(|member| member.port() == to.port() && (loops_back || *member != from))
                .collect()
        } else if is_broadcast(to.ip()) {
            if !sender_allows(|port| port.broadcast_allowed()) {
                return Vec::new();
            }
            let mut ports: Vec<SocketAddr> = self
                .ports
                .keys()
                .copied()
                .filter(|port| port.is_ipv4() && port.port() == to.port())
                .collect();
            // In address order, whatever the table's: runs repeat exactly.
            ports.sort();
            ports
        } else {
            vec![to]
        };
        members
            .iter()
            .filter_map(|member| Some((*member, self.ports.get(member)?.clone())))
            .collect()
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(ip) if ip.is_broadcast())
}

/// A bound port: its core, and the datagrams waiting while it is paused.
struct MemoryEndpoint<P> {
    core: Arc<PortCore<P>>,
    socket: Arc<MemorySocket<P>>,
    pending: Mutex<VecDeque<(Bytes, SocketAddr)>>,
}

impl<P: DatagramProtocol> MemoryEndpoint<P> {
    fn lock_pending(&self) -> MutexGuard<'_, VecDeque<(Bytes, SocketAddr)>> {
        // No user code runs under this lock.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Delivers waiting datagrams while the port reads.
    fn pump(&self) {
        while !self.core.is_paused() && !self.core.is_stopped() {
            let next = self.lock_pending().pop_front();
            match next {
                Some((data, from)) => self.core.deliver(data, from),
                None => break,
            }
        }
    }
}

impl<P: DatagramProtocol> Inbound for MemoryEndpoint<P> {
    fn receive(&self, data: Bytes, from: SocketAddr) {
        let peer = self.socket.lock_options().peer;
        if peer.is_some_and(|peer| peer != from) || self.core.is_stopped() {
            return; // A connected socket hears only its peer.
        }
        {
            let mut pending = self.lock_pending();
            if pending.len() >= MEMORY_RECEIVE_BUFFER {
                drop(pending);
                self.core.count_dropped();
                return;
            }
            pending.push_back((data, from));
        }
        self.pump();
    }

    fn refused(&self) {
        self.core.refused();
    }

    fn loops_back(&self) -> bool {
        self.socket.lock_options().loopback
    }

    fn broadcast_allowed(&self) -> bool {
        self.socket.lock_options().broadcast
    }
}

/// The options a [`MemorySocket`] keeps.
struct Options {
    peer: Option<SocketAddr>,
    broadcast: bool,
    loopback: bool,
}

/// A port's socket on the network.
struct MemorySocket<P> {
    net: Weak<Net>,
    local: SocketAddr,
    endpoint: Weak<MemoryEndpoint<P>>,
    options: Mutex<Options>,
}

impl<P> MemorySocket<P> {
    fn lock_options(&self) -> MutexGuard<'_, Options> {
        // No user code runs under this lock.
        self.options.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn net(&self) -> io::Result<Arc<Net>> {
        self.net
            .upgrade()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the network is gone"))
    }
}

impl<P: DatagramProtocol> DatagramSocket for MemorySocket<P> {
    fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let (peer, broadcast) = {
            let options = self.lock_options();
            (options.peer, options.broadcast)
        };
        if is_broadcast(to.ip()) && !broadcast {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        self.net()?.send(data, self.local, to, peer == Some(to));
        Ok(())
    }

    fn send(&self, data: &[u8]) -> io::Result<()> {
        let peer = self
            .lock_options()
            .peer
            .ok_or(io::ErrorKind::NotConnected)?;
        self.net()?.send(data, self.local, peer, true);
        Ok(())
    }

    fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.lock_options().peer = Some(peer);
        Ok(())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.lock_options().broadcast = on;
        Ok(())
    }

    fn join_group(&self, membership: Membership) -> io::Result<()> {
        let group = membership.group();
        if !group.is_multicast() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let net = self.net()?;
        net.lock()
            .groups
            .entry(group)
            .or_default()
            .insert(self.local);
        Ok(())
    }

    fn leave_group(&self, membership: Membership) -> io::Result<()> {
        let group = membership.group();
        let net = self.net()?;
        let left = net
            .lock()
            .groups
            .get_mut(&group)
            .is_some_and(|members| members.remove(&self.local));
        if left {
            Ok(())
        } else {
            Err(io::ErrorKind::AddrNotAvailable.into())
        }
    }

    fn set_outgoing_interface(&self, _interface: MulticastInterface) -> io::Result<()> {
        Ok(()) // The network is one link: every interface reaches every member.
    }

    fn set_ttl(&self, _ttl: u32) -> io::Result<()> {
        Ok(()) // The network has no hops.
    }

    fn set_loopback(&self, on: bool) -> io::Result<()> {
        self.lock_options().loopback = on;
        Ok(())
    }

    fn wake(&self) {
        // Called from inside a callback: pump once it has returned.
        let (Ok(net), endpoint) = (self.net(), self.endpoint.clone()) else {
            return;
        };
        net.clock.call_later(Duration::ZERO, move || {
            if let Some(endpoint) = endpoint.upgrade() {
                endpoint.pump();
            }
        });
    }

    fn close(&self) {
        if let Ok(net) = self.net() {
            let mut state = net.lock();
            state.ports.remove(&self.local);
            for members in state.groups.values_mut() {
                members.remove(&self.local);
            }
        }
    }
}
