//! Carrying bytes in the simulation: each step of the clock, the segments that land,
//! the connections driven, and what they wrote put back in flight.

use std::collections::VecDeque;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::connection::{Driven, Endpoint};
use super::link::Link;
use super::trace::TraceKind;
use super::world::{After, ConnId, HostId, Shared, Slot, World};
use crate::{Clock, ConnectionError, DisconnectReason};

/// How many bytes one direction of a connection may have in flight (sent, not yet read
/// by the peer's protocol) before the network stops taking what the sender writes: the
/// TCP window. The sender's own buffer then fills, and its producer is paused.
const WINDOW: usize = 256 * 1024;

/// A segment in flight.
pub(super) struct Landing {
    pub(super) from: ConnId,
    pub(super) from_host: HostId,
    pub(super) to: ConnId,
    pub(super) to_host: HostId,
    pub(super) segment: Segment,
}

/// What travels on a connection.
pub(super) enum Segment {
    Data(Bytes),
    Fin,
    Reset,
}

impl Shared {
    /// Drives every queued connection, and carries what they wrote, until none is queued.
    pub(crate) fn drain(&self) {
        let mut batch = VecDeque::new();
        let mut endpoints = Vec::new();
        // In the order woken; what wakes meanwhile queues behind this batch.
        while self.ready.take_into(&mut batch) {
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
    pub(super) fn after_drive(&self, id: ConnId, endpoint: &Arc<dyn Endpoint>, driven: Driven) {
        let mut after = After::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            let now = world.now;
            // Out of the world while it is worked on; put back unless it ended.
            let Some(mut slot) = world.conns.get_mut(id).and_then(Option::take) else {
                return;
            };
            // Exact after its drive, which read what it would.
            slot.unread_at_most = endpoint.unread();
            let peer = slot.peer;
            if let (Some(peer), false) = (peer, slot.ended) {
                let peer_slot = world.conns.get(peer).and_then(Option::as_ref);
                slot.blocked = match peer_slot {
                    Some(peer) if slot.in_flight + peer.unread_at_most < WINDOW => false,
                    _ => {
                        let unread = peer_slot
                            .and_then(|peer| peer.endpoint.as_ref())
                            .map_or(0, |peer| peer.unread());
                        slot.in_flight + unread >= WINDOW
                    }
                };
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
                Driven::Open | Driven::Idle => {
                    if let Some(place) = world.conns.get_mut(id) {
                        *place = Some(slot);
                    }
                }
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
    pub(super) fn send_data(
        &self,
        world: &mut World,
        id: ConnId,
        slot: &mut Slot,
        peer: ConnId,
        data: Bytes,
    ) {
        let link = world.link(slot.host, slot.peer_host).clone();
        let Some(segmentation) = link.segmentation else {
            self.send_piece(world, id, slot, peer, &link, data, Duration::ZERO);
            return;
        };
        let mut pieces = Vec::new();
        let mut offset = 0;
        let mut gap_total = Duration::ZERO;
        segmentation.cut(data.len(), &mut world.random, |size, gap| {
            gap_total += gap;
            pieces.push((data.slice(offset..offset + size), gap_total));
            offset += size;
        });
        for (piece, gap) in pieces {
            self.send_piece(world, id, slot, peer, &link, piece, gap);
        }
    }

    /// Puts one piece of what connection `id` sent in flight, `gap` after the first.
    #[allow(clippy::too_many_arguments)]
    fn send_piece(
        &self,
        world: &mut World,
        id: ConnId,
        slot: &mut Slot,
        peer: ConnId,
        link: &Link,
        piece: Bytes,
        gap: Duration,
    ) {
        let now = world.now;
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
        let lands = (depart + gap + link.latency.draw(&mut world.random)).max(slot.last_landing);
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

    /// Sends a FIN or a reset from connection `id` (its `slot`, out of the world) to
    /// `peer`, after what it sent before.
    pub(super) fn send_segment(
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
    pub(super) fn land_due(&self, mut world: MutexGuard<'_, World>) {
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
    pub(super) fn land(&self, world: &mut World, landing: Landing, after: &mut After) {
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
    pub(super) fn arrive(
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
                    unread_at_most,
                    ..
                })) = world.conns.get_mut(to)
                {
                    *unread_at_most = unread_at_most.saturating_add(data.len());
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
    pub(super) fn reset_both(&self, world: &mut World, a: ConnId, b: ConnId, after: &mut After) {
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
    pub(super) fn release(&self, id: ConnId) {
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
}
