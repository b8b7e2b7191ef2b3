//! The simulated network's state: its hosts and their lives, the connections' ends,
//! segments in flight, links and partitions, the trace. Opening connections is in
//! `connecting`, carrying their bytes in `carrying`.
//!
//! Every change happens on the fake clock's calls or in `Shared::drain`, on the thread
//! running the simulation, in an order fixed by the seed: the clock runs calls due at the
//! same time in the order they were scheduled, connections are driven in the order they
//! were woken, and every random draw comes from one generator.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use super::carrying::{Landing, Segment};
use super::connecting::Listener;
use super::connection::Endpoint;
use super::link::Link;
use super::trace::{Trace, TraceKind};
use crate::testing::random::SplitMix64;
use crate::testing::{DatagramNetwork, FakeClock};
use crate::{Clock, ListeningPort};

/// A host's index in the world.
pub(crate) type HostId = usize;
/// A connection's index in the world (its number in the trace).
pub(crate) type ConnId = usize;

/// Mixed into the seed for the datagram network's own generator.
const DATAGRAM_SEED: u64 = 0x6461_7461_6772_616d;

/// The first port handed out for outgoing connections and for listening on port 0.
pub(super) const FIRST_EPHEMERAL_PORT: u16 = 49152;

/// The simulation, shared by its handles, the fake clock's calls and the connections'
/// wakers.
pub(crate) struct Shared {
    pub(crate) clock: FakeClock,
    pub(crate) seed: u64,
    /// Itself, for the clock's calls and the hosts' clocks to hold weakly.
    pub(super) me: Weak<Shared>,
    pub(super) world: Mutex<World>,
    /// The hosts' datagram ports, on the same clock, asking the world whether each
    /// datagram gets through.
    pub(crate) datagrams: DatagramNetwork,
    /// Connections woken and waiting to be driven, in the order they were woken (shared
    /// with their wakers).
    pub(super) ready: Ready,
}

pub(super) struct World {
    pub(super) random: SplitMix64,
    pub(super) hosts: Vec<HostState>,
    pub(super) conns: Vec<Option<Slot>>,
    pub(super) default_link: Link,
    pub(super) links: BTreeMap<(HostId, HostId), Link>,
    /// When each direction between two hosts is free to send again (with a bandwidth).
    pub(super) busy_until: BTreeMap<(HostId, HostId), Duration>,
    pub(super) partitions: BTreeMap<u64, (BTreeSet<HostId>, BTreeSet<HostId>)>,
    pub(super) next_partition: u64,
    pub(super) trace: Trace,
    pub(super) panics: Vec<String>,
    /// Segments in flight, by landing time (then by when they were sent). They are the
    /// bulk of a run's events, so they have their own queue beside the clock's.
    pub(super) landings: BinaryHeap<Reverse<(Duration, u64, usize)>>,
    /// The segments the queue's keys point into; `None` for free places.
    pub(super) flying: Vec<Option<Landing>>,
    pub(super) free: Vec<usize>,
    pub(super) sent: u64,
    /// The clock's time at the current step.
    pub(super) now: Duration,
}

/// Runs on a host when it boots: at once if it is up, and after every restart.
pub(crate) type Boot = Arc<dyn Fn(HostId) + Send + Sync>;

pub(crate) struct HostState {
    pub(crate) name: String,
    pub(crate) ip: IpAddr,
    pub(crate) up: bool,
    /// Bumped at each crash: timers and attempts of an earlier life do nothing.
    pub(crate) generation: u64,
    pub(super) listeners: BTreeMap<u16, Listener>,
    pub(super) next_port: u16,
    pub(super) boot: Vec<Boot>,
}

/// One end of a connection, as the network sees it.
pub(super) struct Slot {
    pub(super) host: HostId,
    pub(super) generation: u64,
    pub(super) local: SocketAddr,
    pub(super) peer: Option<ConnId>,
    pub(super) peer_host: HostId,
    /// `None` until the protocol starts (a client, until its SYN-ACK lands).
    pub(super) endpoint: Option<Arc<dyn Endpoint>>,
    /// What landed before the protocol started.
    pub(super) early: VecDeque<Segment>,
    /// When this end's last segment lands: later ones never land before it.
    pub(super) last_landing: Duration,
    /// Data bytes sent and not yet delivered.
    pub(super) in_flight: usize,
    /// At least the bytes handed to this end's protocol and not yet read by it: its
    /// stream's exact count is read (touching its memory) only when this bound says its
    /// peer's window may be full.
    pub(super) unread_at_most: usize,
    /// `Some` while a partition holds this end's segments, in order.
    pub(super) held: Option<VecDeque<Segment>>,
    pub(super) fin_sent: bool,
    /// The network ended it (a reset): nothing more is sent for it.
    pub(super) ended: bool,
    /// The window was full when it last wrote: look again when the peer reads.
    pub(super) blocked: bool,
}

impl Slot {
    pub(super) fn new(host: HostId, generation: u64, local: SocketAddr, peer_host: HostId) -> Slot {
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
            unread_at_most: 0,
            held: None,
            fin_sent: false,
            ended: false,
            blocked: false,
        }
    }
}

/// What to do after the world's lock is released.
#[derive(Default)]
pub(super) struct After {
    /// Endpoints to hand segments to, in order.
    pub(super) deliveries: Vec<(Arc<dyn Endpoint>, Segment)>,
    /// Connections to queue for a drive.
    pub(super) wake: Vec<ConnId>,
    /// Dropped outside the lock: dropping a protocol runs its code.
    pub(super) dropped: Vec<Slot>,
    pub(super) ports: Vec<ListeningPort>,
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

    pub(super) fn world(&self) -> MutexGuard<'_, World> {
        // Every change under the lock is made whole before any code that could panic runs.
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The world, its time caught up with the clock's: for calls from outside the
    /// simulation's steps (a test, or code run by the clock's calls).
    pub(super) fn world_now(&self) -> MutexGuard<'_, World> {
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

    pub(super) fn finish(&self, after: After) {
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
    pub(super) fn datagram_reaches(&self, from: SocketAddr, to: SocketAddr, bytes: usize) -> bool {
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

    pub(super) fn weak_self(&self) -> Weak<Shared> {
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
        let (conns, listeners, boots) = {
            let mut world = self.world();
            let conns = std::mem::take(&mut world.conns);
            let mut listeners = Vec::new();
            let mut boots = Vec::new();
            // The hosts stay (as down), so that a protocol's drop that reaches one finds
            // it, and nothing runs on it.
            for host in &mut world.hosts {
                host.up = false;
                listeners.extend(std::mem::take(&mut host.listeners).into_values());
                boots.append(&mut host.boot);
            }
            (conns, listeners, boots)
        };
        drop(conns);
        drop(listeners);
        drop(boots);
        self.ready.clear();
    }
}

/// The connections woken and waiting to be driven, in the order woken. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Ready(Arc<ReadyQueue>);

/// What [`Ready`] shares.
#[derive(Default)]
struct ReadyQueue {
    queue: Mutex<VecDeque<ConnId>>,
    /// How many are queued, written under the lock: whether any is, in one read.
    len: AtomicUsize,
}

impl Ready {
    pub(crate) fn push(&self, id: ConnId) {
        let mut queue = self.lock();
        queue.push_back(id);
        self.0.len.store(queue.len(), Ordering::Release);
    }

    /// Takes every queued connection into `batch` (empty), leaving the queue with
    /// `batch`'s room; returns false, taking nothing, if none is queued.
    pub(super) fn take_into(&self, batch: &mut VecDeque<ConnId>) -> bool {
        if self.0.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut queue = self.lock();
        std::mem::swap(&mut *queue, batch);
        self.0.len.store(0, Ordering::Release);
        !batch.is_empty()
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
        self.0.len.store(0, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<ConnId>> {
        // Each change under the lock is one push, swap or clear.
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `call` on the simulation if it still exists.
pub(super) fn with(weak: &Weak<Shared>, call: impl FnOnce(&Arc<Shared>)) {
    if let Some(shared) = weak.upgrade() {
        call(&shared);
    }
}

impl World {
    /// Puts a segment in flight from `from` to `to`, landing `delay` from now.
    pub(super) fn schedule_landing(
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
    pub(super) fn next_landing(&self) -> Option<Duration> {
        self.landings.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next segment landing at `now` or before, taken out of flight.
    pub(super) fn pop_landing(&mut self, now: Duration) -> Option<Landing> {
        if self.next_landing()? > now {
            return None;
        }
        let Reverse((_, _, place)) = self.landings.pop()?;
        self.free.push(place);
        self.flying[place].take()
    }

    pub(super) fn link(&self, from: HostId, to: HostId) -> &Link {
        self.links.get(&(from, to)).unwrap_or(&self.default_link)
    }

    pub(super) fn latency(&mut self, from: HostId, to: HostId) -> Duration {
        let latency = self.link(from, to).latency;
        latency.draw(&mut self.random)
    }

    pub(super) fn partitioned(&self, a: HostId, b: HostId) -> bool {
        self.partitions.values().any(|(left, right)| {
            (left.contains(&a) && right.contains(&b)) || (left.contains(&b) && right.contains(&a))
        })
    }

    /// The next port for an outgoing connection from `host`.
    pub(super) fn ephemeral(&mut self, host: HostId) -> SocketAddr {
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
    pub(super) shared: Weak<Shared>,
    pub(super) clock: FakeClock,
    pub(super) host: HostId,
    pub(super) generation: u64,
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
