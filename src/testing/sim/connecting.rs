//! Opening connections in the simulation: an attempt's SYN, the listener's accept, the
//! SYN-ACK that starts the client, and refusals, timeouts and cancellations.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::carrying::Segment;
use super::connection::{Endpoint, Opening};
use super::trace::TraceKind;
use super::world::{with, After, ConnId, HostId, Shared, Slot, FIRST_EPHEMERAL_PORT};
use crate::{Address, Error, ListeningPort};

/// How long a connection attempt waits before sending its SYN again, when the first one
/// was lost to a partition or a host that is down.
const SYN_RETRY: Duration = Duration::from_secs(1);

/// Builds the server's end of an accepted connection.
pub(crate) trait Acceptor: Send + Sync {
    /// Starts the server's protocol on the connection `opening`; `None` if the factory
    /// refused.
    fn accept(&self, shared: &Arc<Shared>, opening: Opening) -> Option<Arc<dyn Endpoint>>;
}

pub(super) struct Listener {
    pub(super) acceptor: Arc<dyn Acceptor>,
    pub(super) port: ListeningPort,
}

/// A connection attempt waiting to be settled: started, or failed.
pub(crate) trait PendingConnect: Send {
    /// Starts the client's protocol on the connection `opening`; `None` if the factory
    /// refused (the attempt has then failed).
    fn start(self: Box<Self>, shared: &Arc<Shared>, opening: Opening) -> Option<Arc<dyn Endpoint>>;

    /// Fails the attempt.
    fn fail(self: Box<Self>, error: Error);
}

/// A connection attempt, settled once: by its SYN-ACK, a refusal, its timeout, or its
/// cancellation.
pub(crate) struct Attempt {
    pub(super) pending: Mutex<Option<Box<dyn PendingConnect>>>,
    pub(crate) address: String,
    pub(super) timeout: Duration,
    /// The timeout's call, cancelled once the attempt is settled otherwise (so that a
    /// quiet network is idle, not waiting for a timeout that does nothing).
    pub(super) timer: Mutex<Option<crate::DelayedCall>>,
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

    pub(super) fn is_settled(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

impl Shared {
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
    pub(super) fn syn(
        self: &Arc<Self>,
        client: ConnId,
        to: HostId,
        port: u16,
        attempt: Arc<Attempt>,
    ) {
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
        let opening = Opening {
            id: server,
            local: Address::Tcp(server_addr),
            peer: Address::Tcp(client_addr),
            clock,
        };
        let endpoint = acceptor.accept(self, opening);
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
    pub(super) fn refused(&self, client: ConnId, attempt: &Attempt) {
        let conn = client as u64;
        self.fail_attempt(client, attempt, TraceKind::Refuse { conn }, || {
            Error::ConnectFailed {
                address: attempt.address.clone(),
                source: io::ErrorKind::ConnectionRefused.into(),
            }
        });
    }

    /// Attempt `client` gave up waiting.
    pub(super) fn connect_timeout(&self, client: ConnId, attempt: &Attempt) {
        let conn = client as u64;
        self.fail_attempt(client, attempt, TraceKind::Timeout { conn }, || {
            Error::ConnectTimeout {
                address: attempt.address.clone(),
                timeout: attempt.timeout,
            }
        });
    }

    /// Settles attempt `client` as failed with `error` (recorded as `event`), unless it
    /// was settled already.
    fn fail_attempt(
        &self,
        client: ConnId,
        attempt: &Attempt,
        event: TraceKind,
        error: impl FnOnce() -> Error,
    ) {
        let Some(pending) = attempt.take() else {
            return;
        };
        let slot = {
            let mut world = self.world();
            let now = world.now;
            world.trace.record(now, event);
            world.conns.get_mut(client).and_then(Option::take)
        };
        if slot.is_none() {
            // Its host crashed: nothing of its code runs.
            return;
        }
        pending.fail(error());
    }

    /// The SYN-ACK lands at attempt `client`: its protocol starts.
    pub(super) fn syn_ack(self: &Arc<Self>, client: ConnId, server: ConnId, attempt: &Attempt) {
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
        let opening = Opening {
            id: client,
            local: Address::Tcp(local),
            peer: Address::Tcp(peer),
            clock,
        };
        let endpoint = pending.start(self, opening);
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
                        if let Segment::Data(data) = &segment {
                            slot.unread_at_most = slot.unread_at_most.saturating_add(data.len());
                        }
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

    /// Resets the server's end of an attempt given up before its SYN-ACK landed.
    pub(super) fn reset_orphan(self: &Arc<Self>, server: ConnId) {
        let mut after = After::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            let now = world.now;
            if let Some(Some(slot)) = world.conns.get_mut(server) {
                slot.ended = true;
                // Resetting runs the protocol's `connection_lost`: after the lock.
                if let Some(endpoint) = slot.endpoint.clone() {
                    after.deliveries.push((endpoint, Segment::Reset));
                }
                world.trace.record(
                    now,
                    TraceKind::Reset {
                        conn: server as u64,
                    },
                );
            }
        }
        self.finish(after);
    }

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
}
