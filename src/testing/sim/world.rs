//! The simulated network's state and its rules: hosts, connections, segments in flight,
//! partitions, crashes, and the loop that drives connections on the fake clock.
//!
//! Every change happens on the fake clock's calls or in [`Shared::drain`], on the thread
//! running the simulation, in an order fixed by the seed: the clock runs calls due at the
//! same time in the order they were scheduled, connections are driven in the order they
//! were woken, and every random draw comes from one generator.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::connection::{Driven, Endpoint};
use super::link::Link;
use super::trace::{Trace, TraceKind};
use crate::testing::random::SplitMix64;
use crate::testing::{DatagramNetwork, FakeClock};
use crate::{Address, Clock, ConnectionError, DisconnectReason, Error, ListeningPort};

/// A host's index in the world.
pub(crate) type HostId = usize;
/// A connection's index in the world (its number in the trace).
pub(crate) type ConnId = usize;

/// How many bytes one direction of a connection may have in flight (sent, not yet read
/// by the peer's protocol) before the network stops taking what the sender writes: the
/// TCP window. The sender's own buffer then fills, and its producer is paused.
const WINDOW: usize = 256 * 1024;

/// How long a connection attempt waits before sending its SYN again, when the first one
/// was lost to a partition or a host that is down.
const SYN_RETRY: Duration = Duration::from_secs(1);

/// Mixed into the seed for the datagram network's own generator.
const DATAGRAM_SEED: u64 = 0x6461_7461_6772_616d;

/// The first port handed out for outgoing connections and for listening on port 0.
const FIRST_EPHEMERAL_PORT: u16 = 49152;

/// The simulation, shared by its handles, the fake clock's calls and the connections'
/// wakers.
pub(crate) struct Shared {
    pub(crate) clock: FakeClock,
    pub(crate) seed: u64,
    /// Itself, for the clock's calls and the hosts' clocks to hold weakly.
    me: Weak<Shared>,
    world: Mutex<World>,
    /// The hosts' datagram ports, on the same clock, asking the world whether each
    /// datagram gets through.
    pub(crate) datagrams: DatagramNetwork,
    /// Connections woken and waiting to be driven, in the order they were woken (shared
    /// with their wakers).
    ready: Ready,
}

struct World {
    random: SplitMix64,
    hosts: Vec<HostState>,
    conns: Vec<Option<Slot>>,
    default_link: Link,
    links: BTreeMap<(HostId, HostId), Link>,
    /// When each direction between two hosts is free to send again (with a bandwidth).
    busy_until: BTreeMap<(HostId, HostId), Duration>,
    partitions: BTreeMap<u64, (BTreeSet<HostId>, BTreeSet<HostId>)>,
    next_partition: u64,
    trace: Trace,
    panics: Vec<String>,
    /// Segments in flight, by landing time (then by when they were sent). They are the
    /// bulk of a run's events, so they have their own queue beside the clock's.
    landings: BinaryHeap<Reverse<(Duration, u64, usize)>>,
    /// The segments the queue's keys point into; `None` for free places.
    flying: Vec<Option<Landing>>,
    free: Vec<usize>,
    sent: u64,
    /// The clock's time at the current step.
    now: Duration,
}

/// A segment in flight.
struct Landing {
    from: ConnId,
    from_host: HostId,
    to: ConnId,
    to_host: HostId,
    segment: Segment,
}

/// Runs on a host when it boots: at once if it is up, and after every restart.
pub(crate) type Boot = Arc<dyn Fn(HostId) + Send + Sync>;

pub(crate) struct HostState {
    pub(crate) name: String,
    pub(crate) ip: IpAddr,
    pub(crate) up: bool,
    /// Bumped at each crash: timers and attempts of an earlier life do nothing.
    pub(crate) generation: u64,
    listeners: BTreeMap<u16, Listener>,
    next_port: u16,
    boot: Vec<Boot>,
}

/// Builds the server's end of an accepted connection.
pub(crate) trait Acceptor: Send + Sync {
    /// Starts the server's protocol on connection `id`; `None` if the factory refused.
    fn accept(
        &self,
        shared: &Arc<Shared>,
        id: ConnId,
        local: Address,
        peer: Address,
        clock: Arc<dyn Clock>,
    ) -> Option<Arc<dyn Endpoint>>;
}

struct Listener {
    acceptor: Arc<dyn Acceptor>,
    port: ListeningPort,
}

/// A connection attempt waiting to be settled: started, or failed.
pub(crate) trait PendingConnect: Send {
    /// Starts the client's protocol on connection `id`; `None` if the factory refused
    /// (the attempt has then failed).
    fn start(
        self: Box<Self>,
        shared: &Arc<Shared>,
        id: ConnId,
        local: Address,
        peer: Address,
        clock: Arc<dyn Clock>,
    ) -> Option<Arc<dyn Endpoint>>;

    /// Fails the attempt.
    fn fail(self: Box<Self>, error: Error);
}

/// A connection attempt, settled once: by its SYN-ACK, a refusal, its timeout, or its
/// cancellation.
pub(crate) struct Attempt {
    pending: Mutex<Option<Box<dyn PendingConnect>>>,
    pub(crate) address: String,
    timeout: Duration,
    /// The timeout's call, cancelled once the attempt is settled otherwise (so that a
    /// quiet network is idle, not waiting for a timeout that does nothing).
    timer: Mutex<Option<crate::DelayedCall>>,
}

impl Attempt {
    pub(crate) fn new(
        pending: Box<dyn PendingConnect>,
        address: String,
        timeout: Duration,
    ) -> Arc<Attempt> {
        Arc::new(Attempt {
            pending: Mutex::new(Some(pending)),
            address,
            timeout,
            timer: Mutex::new(None),
        })
    }

    /// Settles the attempt: what to start or fail, unless it was settled already.
    pub(crate) fn take(&self) -> Option<Box<dyn PendingConnect>> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let timer = self
            .timer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(timer) = timer {
            // The timeout itself settling it is running: cancelling it then is refused,
            // harmlessly.
            let _ = timer.cancel();
        }
        pending
    }

    fn is_settled(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

/// What travels on a connection.
enum Segment {
    Data(Bytes),
    Fin,
    Reset,
}

/// One end of a connection, as the network sees it.
struct Slot {
    host: HostId,
    generation: u64,
    local: SocketAddr,
    peer: Option<ConnId>,
    peer_host: HostId,
    /// `None` until the protocol starts (a client, until its SYN-ACK lands).
    endpoint: Option<Arc<dyn Endpoint>>,
    /// What landed before the protocol started.
    early: VecDeque<Segment>,
    /// When this end's last segment lands: later ones never land before it.
    last_landing: Duration,
    /// Data bytes sent and not yet delivered.
    in_flight: usize,
    /// `Some` while a partition holds this end's segments, in order.
    held: Option<VecDeque<Segment>>,
    fin_sent: bool,
    /// The network ended it (a reset): nothing more is sent for it.
    ended: bool,
    /// The window was full when it last wrote: look again when the peer reads.
    blocked: bool,
}

impl Slot {
    fn new(host: HostId, generation: u64, local: SocketAddr, peer_host: HostId) -> Slot {
        Slot {
            host,
            generation,
            local,
            peer: None,
            peer_host,
            endpoint: None,
            early: VecDeque::new(),
            last_landing: Duration::ZERO,
            in_flight: 0,
            held: None,
            fin_sent: false,
            ended: false,
            blocked: false,
        }
    }
}

/// What to do after the world's lock is released.
#[derive(Default)]
struct After {
    /// Endpoints to hand segments to, in order.
    deliveries: Vec<(Arc<dyn Endpoint>, Segment)>,
    /// Connections to queue for a drive.
    wake: Vec<ConnId>,
    /// Dropped outside the lock: dropping a protocol runs its code.
    dropped: Vec<Slot>,
    ports: Vec<ListeningPort>,
}

impl Shared {
    pub(crate) fn new(seed: u64) -> Arc<Shared> {
        let clock = FakeClock::new();
        // Datagram faults draw from their own generator, so adding datagrams to a run
        // leaves its connections' draws as they were.
        let datagrams = DatagramNetwork::on_clock(clock.clone(), seed ^ DATAGRAM_SEED);
        Arc::new_cyclic(|me: &Weak<Shared>| {
            let weak = me.clone();
            datagrams.set_reach(Arc::new(move |from, to, bytes| {
                weak.upgrade()
                    .is_some_and(|shared| shared.datagram_reaches(from, to, bytes))
            }));
            Shared {
                clock,
                datagrams,
                seed,
                me: me.clone(),
                world: Mutex::new(World {
                    random: SplitMix64(seed),
                    hosts: Vec::new(),
                    conns: Vec::new(),
                    default_link: Link::new(),
                    links: BTreeMap::new(),
                    busy_until: BTreeMap::new(),
                    partitions: BTreeMap::new(),
                    next_partition: 0,
                    trace: Trace::new(),
                    panics: Vec::new(),
                    landings: BinaryHeap::new(),
                    flying: Vec::new(),
                    free: Vec::new(),
                    sent: 0,
                    now: Duration::ZERO,
                }),
                ready: Ready::default(),
            }
        })
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // Every change under the lock is made whole before any code that could panic runs.
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The world, its time caught up with the clock's: for calls from outside the
    /// simulation's steps (a test, or code run by the clock's calls).
    fn world_now(&self) -> MutexGuard<'_, World> {
        let now = self.clock.now();
        let mut world = self.world();
        world.now = now;
        world
    }

    /// Queues connection `id` to be driven.
    pub(crate) fn queue(&self, id: ConnId) {
        self.ready.push(id);
    }

    /// The queue of connections to drive, for their wakers.
    pub(crate) fn ready(&self) -> &Ready {
        &self.ready
    }

    fn finish(&self, after: After) {
        for (endpoint, segment) in after.deliveries {
            match segment {
                Segment::Data(data) => endpoint.deliver(data),
                Segment::Fin => endpoint.deliver_eof(),
                Segment::Reset => endpoint.reset(),
            }
        }
        for id in after.wake {
            self.queue(id);
        }
        for port in after.ports {
            drop(port.stop_listening());
        }
        drop(after.dropped);
    }

    // ---- hosts -------------------------------------------------------------------

    /// The host named `name`, added (up, at the next free address) if there is none.
    pub(crate) fn add_host(&self, name: &str) -> HostId {
        let mut world = self.world();
        if let Some(id) = world.hosts.iter().position(|host| host.name == name) {
            return id;
        }
        let id = world.hosts.len();
        let number = id + 1;
        let ip = IpAddr::V4(Ipv4Addr::new(
            10,
            (number >> 16) as u8,
            (number >> 8) as u8,
            number as u8,
        ));
        world.hosts.push(HostState {
            name: name.to_string(),
            ip,
            up: true,
            generation: 0,
            listeners: BTreeMap::new(),
            next_port: FIRST_EPHEMERAL_PORT,
            boot: Vec::new(),
        });
        id
    }

    pub(crate) fn host_info(&self, host: HostId) -> (String, IpAddr, bool, u64) {
        let world = self.world();
        let state = &world.hosts[host];
        (state.name.clone(), state.ip, state.up, state.generation)
    }

    /// Whether `host` is up and still in life `generation`.
    pub(crate) fn is_alive(&self, host: HostId, generation: u64) -> bool {
        let world = self.world();
        let state = &world.hosts[host];
        state.up && state.generation == generation
    }

    pub(crate) fn add_boot(&self, host: HostId, boot: Boot) -> bool {
        let mut world = self.world();
        world.hosts[host].boot.push(boot);
        world.hosts[host].up
    }

    pub(crate) fn crash(&self, host: HostId) {
        let mut after = After::default();
        let ip = {
            let mut world = self.world_now();
            let world = &mut *world;
            let now = world.now;
            let state = &mut world.hosts[host];
            if !state.up {
                return;
            }
            state.up = false;
            state.generation += 1;
            let ip = state.ip;
            after.ports.extend(
                std::mem::take(&mut state.listeners)
                    .into_values()
                    .map(|l| l.port),
            );
            world.trace.record(now, TraceKind::Crash { host: ip });
            for id in 0..world.conns.len() {
                if world.conns[id]
                    .as_ref()
                    .is_some_and(|slot| slot.host == host)
                {
                    if let Some(mut slot) = world.conns[id].take() {
                        if let Some(endpoint) = &slot.endpoint {
                            endpoint.retire();
                        }
                        if let Some(peer) = slot.peer {
                            // The peer learns of it when its next segment is answered: a
                            // reset, one crossing later.
                            self.send_segment(world, id, &mut slot, peer, Segment::Reset);
                        }
                        after.dropped.push(slot);
                    }
                }
            }
            ip
        };
        self.datagrams.forget(ip);
        self.finish(after);
    }

    pub(crate) fn restart(&self, host: HostId) -> Vec<Boot> {
        let mut world = self.world_now();
        let now = world.now;
        let state = &mut world.hosts[host];
        if state.up {
            return Vec::new();
        }
        state.up = true;
        let (ip, boot) = (state.ip, state.boot.clone());
        world.trace.record(now, TraceKind::Restart { host: ip });
        boot
    }

    /// Whether a datagram from `from` gets to `to`: both hosts up, and no partition
    /// between them (a datagram is lost, not held).
    fn datagram_reaches(&self, from: SocketAddr, to: SocketAddr, bytes: usize) -> bool {
        let mut world = self.world();
        let host = |ip: IpAddr| world.hosts.iter().position(|host| host.ip == ip && host.up);
        let delivered = match (host(from.ip()), host(to.ip())) {
            (Some(a), Some(b)) => !world.partitioned(a, b),
            _ => false,
        };
        let now = self.clock.now();
        world.trace.record(
            now,
            TraceKind::Datagram {
                from,
                to,
                bytes,
                delivered,
            },
        );
        delivered
    }

    // ---- links and partitions ----------------------------------------------------

    pub(crate) fn set_link(&self, link: Link) {
        self.world().default_link = link;
    }

    pub(crate) fn set_link_between(&self, a: HostId, b: HostId, link: Link) {
        let mut world = self.world();
        world.links.insert((a, b), link.clone());
        world.links.insert((b, a), link);
    }

    pub(crate) fn partition(&self, a: BTreeSet<HostId>, b: BTreeSet<HostId>) -> u64 {
        let mut world = self.world_now();
        let id = world.next_partition;
        world.next_partition += 1;
        world.partitions.insert(id, (a, b));
        let now = world.now;
        world.trace.record(now, TraceKind::Partition { id });
        id
    }

    /// Heals partition `id` (every partition with `None`); segments it held land one
    /// crossing later, in order.
    pub(crate) fn heal(self: &Arc<Self>, id: Option<u64>) {
        let mut world = self.world_now();
        let now = world.now;
        let healed: Vec<u64> = match id {
            Some(id) => world
                .partitions
                .remove(&id)
                .map(|_| id)
                .into_iter()
                .collect(),
            None => std::mem::take(&mut world.partitions).into_keys().collect(),
        };
        for id in healed {
            world.trace.record(now, TraceKind::Heal { id });
        }
        let world = &mut *world;
        for id in 0..world.conns.len() {
            let Some(slot) = world.conns[id].as_ref() else {
                continue;
            };
            if slot.held.is_none() || world.partitioned(slot.host, slot.peer_host) {
                continue;
            }
            let delay = world.latency(slot.host, slot.peer_host);
            let weak = Arc::downgrade(self);
            self.clock
                .call_later(delay, move || with(&weak, |shared| shared.release(id)));
        }
    }

    // ---- connecting --------------------------------------------------------------

    /// Starts an attempt from `from` to `target` (a host's name or address) on `port`.
    pub(crate) fn connect(
        self: &Arc<Self>,
        from: HostId,
        target: &str,
        port: u16,
        attempt: Arc<Attempt>,
    ) -> Option<ConnId> {
        let mut world = self.world_now();
        let now = world.now;
        let found = world
            .hosts
            .iter()
            .position(|host| host.name == target || host.ip.to_string() == target);
        let Some(to) = found else {
            drop(world);
            let weak_attempt = attempt.clone();
            self.clock.call_later(Duration::ZERO, move || {
                if let Some(pending) = weak_attempt.take() {
                    pending.fail(Error::ConnectFailed {
                        address: weak_attempt.address.clone(),
                        source: io::Error::new(
                            io::ErrorKind::NotFound,
                            "no simulated host has that name or address",
                        ),
                    });
                }
            });
            return None;
        };
        let generation = world.hosts[from].generation;
        let local = world.ephemeral(from);
        let remote = SocketAddr::new(world.hosts[to].ip, port);
        let id = world.conns.len();
        world
            .conns
            .push(Some(Slot::new(from, generation, local, to)));
        world.trace.record(
            now,
            TraceKind::Connect {
                conn: id as u64,
                from: local,
                to: remote,
            },
        );
        let delay = world.latency(from, to);
        drop(world);
        let (weak, syn) = (Arc::downgrade(self), attempt.clone());
        self.clock.call_later(delay, move || {
            with(&weak, |shared| shared.syn(id, to, port, syn));
        });
        let weak = Arc::downgrade(self);
        let timing = attempt.clone();
        let timer = self.clock.call_later(attempt.timeout, move || {
            with(&weak, |shared| shared.connect_timeout(id, &timing));
        });
        *attempt.timer.lock().unwrap_or_else(PoisonError::into_inner) = Some(timer);
        Some(id)
    }

    /// Abandons attempt `id` (cancelled): the client's slot goes.
    pub(crate) fn abandon(&self, id: ConnId) {
        let dropped = {
            let mut world = self.world();
            match world.conns.get(id) {
                Some(Some(slot)) if slot.endpoint.is_none() && slot.peer.is_none() => {
                    world.conns[id].take()
                }
                _ => None,
            }
        };
        drop(dropped);
    }

    /// The SYN of attempt `client` lands at `to`.
    fn syn(self: &Arc<Self>, client: ConnId, to: HostId, port: u16, attempt: Arc<Attempt>) {
        if attempt.is_settled() {
            return;
        }
        let mut world = self.world();
        let now = world.now;
        let Some(slot) = world.conns.get(client).and_then(Option::as_ref) else {
            return;
        };
        let (from, client_addr) = (slot.host, slot.local);
        let back = world.latency(to, from);
        let lost = world.partitioned(from, to) || !world.hosts[to].up;
        if lost {
            drop(world);
            let weak = Arc::downgrade(self);
            self.clock.call_later(SYN_RETRY, move || {
                with(&weak, |shared| shared.syn(client, to, port, attempt));
            });
            return;
        }
        let refuse_chance = world.link(from, to).refuse_chance;
        let listener = world.hosts[to]
            .listeners
            .get(&port)
            .filter(|listener| listener.port.is_listening())
            .map(|listener| listener.acceptor.clone());
        let refused = world.random.chance(refuse_chance);
        let acceptor = match listener {
            Some(acceptor) if !refused => acceptor,
            _ => {
                drop(world);
                let weak = Arc::downgrade(self);
                self.clock.call_later(back, move || {
                    with(&weak, |shared| shared.refused(client, &attempt));
                });
                return;
            }
        };
        let server = world.conns.len();
        let server_addr = SocketAddr::new(world.hosts[to].ip, port);
        let generation = world.hosts[to].generation;
        let mut slot = Slot::new(to, generation, server_addr, from);
        slot.peer = Some(client);
        // Nothing the server writes lands before its SYN-ACK.
        slot.last_landing = now + back;
        world.conns.push(Some(slot));
        if let Some(Some(slot)) = world.conns.get_mut(client) {
            slot.peer = Some(server);
        }
        world.trace.record(
            now,
            TraceKind::Accept {
                conn: server as u64,
                client: client as u64,
            },
        );
        drop(world);
        let weak = Arc::downgrade(self);
        self.clock.call_later(back, move || {
            with(&weak, |shared| shared.syn_ack(client, server, &attempt));
        });
        let clock = self.host_clock(to, generation);
        let endpoint = acceptor.accept(
            self,
            server,
            Address::Tcp(server_addr),
            Address::Tcp(client_addr),
            clock,
        );
        let mut world = self.world();
        let world = &mut *world;
        let Some(Some(slot)) = world.conns.get_mut(server) else {
            return;
        };
        match endpoint {
            Some(endpoint) => slot.endpoint = Some(endpoint),
            None => {
                // The factory refused: the server closes the connection at once.
                if let Some(mut slot) = world.conns[server].take() {
                    self.send_segment(world, server, &mut slot, client, Segment::Fin);
                }
            }
        }
    }

    /// A refusal lands at attempt `client`.
    fn refused(&self, client: ConnId, attempt: &Attempt) {
        let Some(pending) = attempt.take() else {
            return;
        };
        let slot = {
            let mut world = self.world();
            let now = world.now;
            world.trace.record(
                now,
                TraceKind::Refuse {
                    conn: client as u64,
                },
            );
            world.conns.get_mut(client).and_then(Option::take)
        };
        if slot.is_none() {
            // Its host crashed: nothing of its code runs.
            return;
        }
        pending.fail(Error::ConnectFailed {
            address: attempt.address.clone(),
            source: io::ErrorKind::ConnectionRefused.into(),
        });
    }

    /// The SYN-ACK lands at attempt `client`: its protocol starts.
    fn syn_ack(self: &Arc<Self>, client: ConnId, server: ConnId, attempt: &Attempt) {
        let pending = attempt.take();
        let (local, peer, host, generation) = {
            let world = self.world();
            let server_addr = world
                .conns
                .get(server)
                .and_then(Option::as_ref)
                .map(|slot| slot.local);
            match (world.conns.get(client).and_then(Option::as_ref), &pending) {
                (Some(slot), Some(_)) => (
                    slot.local,
                    server_addr
                        .unwrap_or_else(|| SocketAddr::new(world.hosts[slot.peer_host].ip, 0)),
                    slot.host,
                    slot.generation,
                ),
                _ => {
                    // Given up (timed out or cancelled) meanwhile: the server's end is
                    // reset.
                    drop(world);
                    self.reset_orphan(server);
                    return;
                }
            }
        };
        let Some(pending) = pending else {
            return;
        };
        let clock = self.host_clock(host, generation);
        let endpoint = pending.start(self, client, Address::Tcp(local), Address::Tcp(peer), clock);
        let mut after = After::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            let Some(Some(slot)) = world.conns.get_mut(client) else {
                return;
            };
            match endpoint {
                Some(endpoint) => {
                    for segment in slot.early.drain(..) {
                        after.deliveries.push((endpoint.clone(), segment));
                    }
                    slot.endpoint = Some(endpoint);
                }
                None => {
                    if let Some(mut slot) = world.conns[client].take() {
                        self.send_segment(world, client, &mut slot, server, Segment::Reset);
                        after.dropped.push(slot);
                    }
                }
            }
        }
        self.finish(after);
    }

    fn reset_orphan(self: &Arc<Self>, server: ConnId) {
        let mut world = self.world();
        let world = &mut *world;
        if let Some(Some(slot)) = world.conns.get_mut(server) {
            slot.ended = true;
            let endpoint = slot.endpoint.clone();
            let now = world.now;
            world.trace.record(
                now,
                TraceKind::Reset {
                    conn: server as u64,
                },
            );
            if let Some(endpoint) = endpoint {
                endpoint.reset();
            }
        }
    }

    fn connect_timeout(&self, client: ConnId, attempt: &Attempt) {
        let Some(pending) = attempt.take() else {
            return;
        };
        let slot = {
            let mut world = self.world();
            let now = world.now;
            world.trace.record(
                now,
                TraceKind::Timeout {
                    conn: client as u64,
                },
            );
            world.conns.get_mut(client).and_then(Option::take)
        };
        if slot.is_none() {
            // Its host crashed: nothing of its code runs.
            return;
        }
        pending.fail(Error::ConnectTimeout {
            address: attempt.address.clone(),
            timeout: attempt.timeout,
        });
    }

    // ---- listening ---------------------------------------------------------------

    /// Listens on `host`'s `port` (0: the next free one) with `acceptor`.
    pub(crate) fn listen(
        &self,
        host: HostId,
        port: u16,
        acceptor: Arc<dyn Acceptor>,
        endpoint: &str,
    ) -> crate::Result<ListeningPort> {
        let mut world = self.world_now();
        let now = world.now;
        let state = &mut world.hosts[host];
        let port = if port == 0 {
            let mut port = state.next_port;
            while state.listeners.contains_key(&port) {
                port = port.checked_add(1).unwrap_or(FIRST_EPHEMERAL_PORT);
            }
            state.next_port = port.checked_add(1).unwrap_or(FIRST_EPHEMERAL_PORT);
            port
        } else {
            port
        };
        if state
            .listeners
            .get(&port)
            .is_some_and(|listener| listener.port.is_listening())
        {
            return Err(Error::CannotListen {
                address: endpoint.to_string(),
                source: io::ErrorKind::AddrInUse.into(),
            });
        }
        let address = SocketAddr::new(state.ip, port);
        let listening = ListeningPort::in_memory(Address::Tcp(address));
        state.listeners.insert(
            port,
            Listener {
                acceptor,
                port: listening.share(),
            },
        );
        world.trace.record(now, TraceKind::Listen { address });
        Ok(listening)
    }

    // ---- carrying bytes ----------------------------------------------------------

    /// Drives every queued connection, and carries what they wrote, until none is queued.
    pub(crate) fn drain(&self) {
        let mut batch = VecDeque::new();
        let mut endpoints = Vec::new();
        loop {
            {
                let mut ready = self.ready.lock();
                if ready.is_empty() {
                    return;
                }
                // In the order woken; what wakes meanwhile queues behind this batch.
                std::mem::swap(&mut *ready, &mut batch);
            }
            {
                let world = self.world();
                endpoints.extend(batch.drain(..).filter_map(|id| {
                    let slot = world.conns.get(id)?.as_ref()?;
                    Some((id, slot.endpoint.clone()?))
                }));
            }
            for (id, endpoint) in endpoints.drain(..) {
                endpoint.unqueue();
                let driven = endpoint.drive();
                self.after_drive(id, &endpoint, driven);
            }
        }
    }

    /// Carries what connection `id` wrote, and ends it if it was lost.
    fn after_drive(&self, id: ConnId, endpoint: &Arc<dyn Endpoint>, driven: Driven) {
        let mut after = After::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            let now = world.now;
            // Out of the world while it is worked on; put back unless it ended.
            let Some(mut slot) = world.conns.get_mut(id).and_then(Option::take) else {
                return;
            };
            let peer = slot.peer;
            if let (Some(peer), false) = (peer, slot.ended) {
                let unread = world
                    .conns
                    .get(peer)
                    .and_then(Option::as_ref)
                    .and_then(|peer| peer.endpoint.as_ref())
                    .map_or(0, |peer| peer.unread());
                slot.blocked = slot.in_flight + unread >= WINDOW;
                let mut finished = false;
                if !slot.blocked {
                    let (data, done) = endpoint.take_output();
                    finished = done;
                    if !data.is_empty() {
                        self.send_data(world, id, &mut slot, peer, data);
                    }
                }
                if !slot.fin_sent && finished {
                    slot.fin_sent = true;
                    self.send_segment(world, id, &mut slot, peer, Segment::Fin);
                }
            }
            match driven {
                Driven::Lost(reason) => {
                    let conn = id as u64;
                    if let DisconnectReason::Lost(ConnectionError::Panicked { message }) = &reason {
                        world.trace.record(now, TraceKind::Panic { conn });
                        world.panics.push(message.clone());
                    }
                    let clean = reason.is_clean();
                    world.trace.record(now, TraceKind::Lost { conn, clean });
                    if let (Some(peer), false) = (peer, slot.ended) {
                        if !clean {
                            self.send_segment(world, id, &mut slot, peer, Segment::Reset);
                        } else if !slot.fin_sent {
                            self.send_segment(world, id, &mut slot, peer, Segment::Fin);
                        }
                    }
                    after.dropped.push(slot);
                }
                Driven::Open | Driven::Idle => world.conns[id] = Some(slot),
            }
            // The peer may have waited for room in its window, which this drive's reads
            // made.
            if let Some(Some(peer_slot)) = peer.and_then(|peer| world.conns.get_mut(peer)) {
                if peer_slot.blocked {
                    peer_slot.blocked = false;
                    after.wake.extend(peer);
                }
            }
        }
        self.finish(after);
    }

    /// Sends `data` from connection `id` (its `slot`, taken out of the world meanwhile)
    /// to `peer`: cut into segments if the link says so, each landing after its latency
    /// and never before the one before it.
    fn send_data(&self, world: &mut World, id: ConnId, slot: &mut Slot, peer: ConnId, data: Bytes) {
        let link = world.link(slot.host, slot.peer_host).clone();
        let now = world.now;
        let mut pieces = Vec::new();
        match link.segmentation {
            Some(segmentation) => {
                let mut offset = 0;
                let mut gap_total = Duration::ZERO;
                segmentation.cut(data.len(), &mut world.random, |size, gap| {
                    gap_total += gap;
                    pieces.push((data.slice(offset..offset + size), gap_total));
                    offset += size;
                });
            }
            None => pieces.push((data, Duration::ZERO)),
        }
        for (piece, gap) in pieces {
            let mut depart = now;
            if let Some(bandwidth) = link.bandwidth {
                let busy = world
                    .busy_until
                    .entry((slot.host, slot.peer_host))
                    .or_insert(Duration::ZERO);
                depart = depart.max(*busy);
                let sending = Duration::from_nanos(
                    (piece.len() as u128 * 1_000_000_000 / u128::from(bandwidth)) as u64,
                );
                *busy = depart + sending;
                depart = *busy;
            }
            let lands =
                (depart + gap + link.latency.draw(&mut world.random)).max(slot.last_landing);
            slot.last_landing = lands;
            slot.in_flight += piece.len();
            world.trace.record(
                now,
                TraceKind::Send {
                    conn: id as u64,
                    bytes: piece.len(),
                    lands,
                },
            );
            world.schedule_landing(
                id,
                slot.host,
                peer,
                slot.peer_host,
                lands - now,
                Segment::Data(piece),
            );
        }
    }

    /// Sends a FIN or a reset from connection `id` (its `slot`, out of the world) to
    /// `peer`, after what it sent before.
    fn send_segment(
        &self,
        world: &mut World,
        id: ConnId,
        slot: &mut Slot,
        peer: ConnId,
        segment: Segment,
    ) {
        let now = world.now;
        let lands = (now + world.latency(slot.host, slot.peer_host)).max(slot.last_landing);
        slot.last_landing = lands;
        world.schedule_landing(id, slot.host, peer, slot.peer_host, lands - now, segment);
    }

    /// Moves the clock to the next time something is due, no later than `target`, runs
    /// what is due then (the clock's calls first, then the segments landing), and drives
    /// the connections that have work. Returns false, doing nothing, if nothing is due by
    /// `target`.
    pub(crate) fn step(&self, target: Duration) -> bool {
        let mut world = self.world();
        // Most steps land segments, with none of the clock's calls due before them: the
        // clock only moves.
        if let Some(landing) = world.next_landing().filter(|at| *at <= target) {
            if landing >= world.now && self.clock.skip_to(landing) {
                world.now = landing;
                self.land_due(world);
                return true;
            }
        }
        let now = world.now;
        let call_due = self.clock.next_due();
        let due = match (call_due, world.next_landing()) {
            (Some(call), Some(landing)) => call.min(landing),
            (Some(due), None) | (None, Some(due)) => due,
            (None, None) => return false,
        };
        if due > target {
            return false;
        }
        let due = due.max(now);
        // The clock's calls due now (SYNs, timeouts, timers) run in the advance and see
        // the world's time as theirs.
        world.now = due;
        if due > now || call_due.is_some_and(|call| call <= due) {
            drop(world);
            self.clock.advance(due - now);
            self.drain();
            world = self.world();
            // A slow call may have moved the clock further.
            world.now = world.now.max(self.clock.now());
        }
        self.land_due(world);
        true
    }

    /// Lands every segment due by the world's time, then drives the connections that
    /// have work.
    fn land_due(&self, mut world: MutexGuard<'_, World>) {
        let now = world.now;
        let mut after = After::default();
        while let Some(landing) = world.pop_landing(now) {
            self.land(&mut world, landing, &mut after);
        }
        drop(world);
        self.finish(after);
        self.drain();
    }

    /// Catches the world's time up with the clock's (moved by `run_for` past the last
    /// event, or by hand).
    pub(crate) fn sync_time(&self) {
        let now = self.clock.now();
        self.world().now = now;
    }

    /// A segment from `from` lands at `to` (unless a partition holds it).
    fn land(&self, world: &mut World, landing: Landing, after: &mut After) {
        let Landing {
            from,
            from_host,
            to,
            to_host,
            segment,
        } = landing;
        let now = world.now;
        let partitioned = world.partitioned(from_host, to_host);
        if let Some(Some(sender)) = world.conns.get_mut(from) {
            if partitioned || sender.held.is_some() {
                if let Segment::Data(data) = &segment {
                    world.trace.record(
                        now,
                        TraceKind::Hold {
                            conn: from as u64,
                            bytes: data.len(),
                        },
                    );
                }
                sender
                    .held
                    .get_or_insert_with(VecDeque::new)
                    .push_back(segment);
                return;
            }
            if let Segment::Data(data) = &segment {
                sender.in_flight = sender.in_flight.saturating_sub(data.len());
            }
        } else if partitioned {
            return;
        }
        self.arrive(world, from, to, segment, after);
    }

    /// Hands a segment that landed to connection `to`'s protocol.
    fn arrive(
        &self,
        world: &mut World,
        from: ConnId,
        to: ConnId,
        segment: Segment,
        after: &mut After,
    ) {
        let now = world.now;
        let conn = to as u64;
        let Some(Some(receiver)) = world.conns.get_mut(to) else {
            // Data for a connection that is gone is answered with a reset.
            if let Segment::Data(_) = segment {
                if let Some(Some(sender)) = world.conns.get(from) {
                    if !sender.ended {
                        let (host, peer_host) = (sender.host, sender.peer_host);
                        let delay = world.latency(peer_host, host);
                        world.schedule_landing(to, peer_host, from, host, delay, Segment::Reset);
                    }
                }
            }
            return;
        };
        if receiver.ended {
            return;
        }
        if receiver.endpoint.is_none() {
            receiver.early.push_back(segment);
            return;
        }
        let (host, peer_host) = (receiver.host, receiver.peer_host);
        // Handing bytes or EOF to a connection only fills its stream and queues it (no
        // protocol code runs), so it happens here, in order; a reset runs the protocol's
        // `connection_lost`, so it waits for the world's lock to be released.
        let endpoint = |world: &World| {
            world
                .conns
                .get(to)
                .and_then(Option::as_ref)
                .and_then(|slot| slot.endpoint.clone())
        };
        match segment {
            Segment::Data(data) => {
                let reset_chance = world.link(peer_host, host).reset_chance;
                if world.random.chance(reset_chance) {
                    world.trace.record(now, TraceKind::Reset { conn });
                    self.reset_both(world, from, to, after);
                    return;
                }
                world.trace.record(
                    now,
                    TraceKind::Deliver {
                        conn,
                        bytes: data.len(),
                    },
                );
                if let Some(Some(Slot {
                    endpoint: Some(endpoint),
                    ..
                })) = world.conns.get(to)
                {
                    endpoint.deliver(data);
                }
            }
            Segment::Fin => {
                world.trace.record(now, TraceKind::Eof { conn });
                if let Some(Some(Slot {
                    endpoint: Some(endpoint),
                    ..
                })) = world.conns.get(to)
                {
                    endpoint.deliver_eof();
                }
            }
            Segment::Reset => {
                world.trace.record(now, TraceKind::Reset { conn });
                if let Some(endpoint) = endpoint(world) {
                    after.deliveries.push((endpoint, Segment::Reset));
                }
                if let Some(Some(receiver)) = world.conns.get_mut(to) {
                    receiver.ended = true;
                }
            }
        }
        if let Some(Some(sender)) = world.conns.get_mut(from) {
            if sender.blocked {
                sender.blocked = false;
                after.wake.push(from);
            }
        }
    }

    /// Resets both ends of a connection at once (a fault drawn on the link).
    fn reset_both(&self, world: &mut World, a: ConnId, b: ConnId, after: &mut After) {
        for id in [a, b] {
            if let Some(Some(slot)) = world.conns.get_mut(id) {
                slot.ended = true;
                slot.held = None;
                if let Some(endpoint) = slot.endpoint.clone() {
                    after.deliveries.push((endpoint, Segment::Reset));
                }
            }
        }
    }

    /// Delivers, in order, what a healed partition held for connection `id`.
    fn release(&self, id: ConnId) {
        let mut after = After::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            let Some(Some(slot)) = world.conns.get_mut(id) else {
                return;
            };
            let (host, peer_host, peer) = (slot.host, slot.peer_host, slot.peer);
            if world.partitioned(host, peer_host) {
                return;
            }
            let Some(Some(slot)) = world.conns.get_mut(id) else {
                return;
            };
            let held = slot.held.take().unwrap_or_default();
            for segment in &held {
                if let Segment::Data(data) = segment {
                    slot.in_flight = slot.in_flight.saturating_sub(data.len());
                }
            }
            let Some(peer) = peer else {
                return;
            };
            for segment in held {
                self.arrive(world, id, peer, segment, &mut after);
            }
        }
        self.finish(after);
    }

    // ---- time ----------------------------------------------------------------------

    /// A clock for code on `host` in life `generation`: what it schedules does nothing
    /// once the host has crashed.
    pub(crate) fn host_clock(&self, host: HostId, generation: u64) -> Arc<dyn Clock> {
        Arc::new(HostClock {
            shared: self.weak_self(),
            clock: self.clock.clone(),
            host,
            generation,
        })
    }

    fn weak_self(&self) -> Weak<Shared> {
        self.me.clone()
    }

    // ---- what a run reports ------------------------------------------------------

    pub(crate) fn with_trace<T>(&self, read: impl FnOnce(&mut Trace) -> T) -> T {
        read(&mut self.world().trace)
    }

    pub(crate) fn panics(&self) -> Vec<String> {
        self.world().panics.clone()
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.world()
            .conns
            .iter()
            .filter(|slot| slot.is_some())
            .count()
    }

    /// Drops every connection and listener: what the simulation holds of its protocols and
    /// factories, which may hold handles on it.
    pub(crate) fn tear_down(&self) {
        let (conns, hosts) = {
            let mut world = self.world();
            (
                std::mem::take(&mut world.conns),
                std::mem::take(&mut world.hosts),
            )
        };
        drop(conns);
        drop(hosts);
        self.ready.lock().clear();
    }
}

/// The connections woken and waiting to be driven, in the order woken. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Ready(Arc<Mutex<VecDeque<ConnId>>>);

impl Ready {
    pub(crate) fn push(&self, id: ConnId) {
        self.lock().push_back(id);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<ConnId>> {
        // Each change under the lock is one push, swap or clear.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `call` on the simulation if it still exists.
fn with(weak: &Weak<Shared>, call: impl FnOnce(&Arc<Shared>)) {
    if let Some(shared) = weak.upgrade() {
        call(&shared);
    }
}

impl World {
    /// Puts a segment in flight from `from` to `to`, landing `delay` from now.
    fn schedule_landing(
        &mut self,
        from: ConnId,
        from_host: HostId,
        to: ConnId,
        to_host: HostId,
        delay: Duration,
        segment: Segment,
    ) {
        self.sent += 1;
        let landing = Landing {
            from,
            from_host,
            to,
            to_host,
            segment,
        };
        let place = match self.free.pop() {
            Some(place) => {
                self.flying[place] = Some(landing);
                place
            }
            None => {
                self.flying.push(Some(landing));
                self.flying.len() - 1
            }
        };
        // Ties at one time land in the order sent.
        self.landings
            .push(Reverse((self.now + delay, self.sent, place)));
    }

    /// When the next segment lands.
    fn next_landing(&self) -> Option<Duration> {
        self.landings.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next segment landing at `now` or before, taken out of flight.
    fn pop_landing(&mut self, now: Duration) -> Option<Landing> {
        if self.next_landing()? > now {
            return None;
        }
        let Reverse((_, _, place)) = self.landings.pop()?;
        self.free.push(place);
        self.flying[place].take()
    }

    fn link(&self, from: HostId, to: HostId) -> &Link {
        self.links.get(&(from, to)).unwrap_or(&self.default_link)
    }

    fn latency(&mut self, from: HostId, to: HostId) -> Duration {
        let latency = self.link(from, to).latency;
        latency.draw(&mut self.random)
    }

    fn partitioned(&self, a: HostId, b: HostId) -> bool {
        self.partitions.values().any(|(left, right)| {
            (left.contains(&a) && right.contains(&b)) || (left.contains(&b) && right.contains(&a))
        })
    }

    /// The next port for an outgoing connection from `host`.
    fn ephemeral(&mut self, host: HostId) -> SocketAddr {
        let state = &mut self.hosts[host];
        let port = state.next_port;
        state.next_port = port.checked_add(1).unwrap_or(FIRST_EPHEMERAL_PORT);
        SocketAddr::new(state.ip, port)
    }
}

/// A host's clock face: the simulation's clock, whose calls do nothing once the host
/// has crashed.
#[derive(Debug)]
struct HostClock {
    shared: Weak<Shared>,
    clock: FakeClock,
    host: HostId,
    generation: u64,
}

impl Clock for HostClock {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    fn schedule(&self, delay: Duration, call: Box<dyn FnOnce() + Send>) -> crate::DelayedCall {
        let (shared, host, generation) = (self.shared.clone(), self.host, self.generation);
        self.clock.schedule(
            delay,
            Box::new(move || {
                if shared
                    .upgrade()
                    .is_some_and(|shared| shared.is_alive(host, generation))
                {
                    call();
                }
            }),
        )
    }
}
