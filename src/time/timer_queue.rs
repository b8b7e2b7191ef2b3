//! The queue of scheduled calls behind every clock, real or fake.
//!
//! One binary heap ordered by `(due time, sequence number)`, plus a map from call id to
//! the call. Rules (shared by the reactor and `testing::FakeClock`, see `docs/ARCHITECTURE.md`):
//!
//! - calls due at the same time run in the order they were first scheduled: `reset` and
//!   `delay` move a call in time but keep its place among calls due at the same time
//!   (Twisted's clock re-sorts its calls with a stable sort, which keeps that place too);
//! - a call scheduled while a batch of calls runs, and already due (zero delay), waits for
//!   the next batch, so a zero-delay call that reschedules itself cannot spin;
//! - moving a call later is lazy (its heap node is re-queued when it surfaces), so an idle
//!   timeout that is reset on every read costs no heap traffic;
//! - cancelled or superseded nodes are dropped when they surface, and the heap is rebuilt
//!   when they outnumber the live calls, so memory stays proportional to live calls.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::Error;

/// A scheduled function.
pub(crate) type Call = Box<dyn FnOnce() + Send>;

/// Where a queue's time comes from.
#[derive(Debug)]
pub(crate) enum TimeSource {
    /// Time moves only when `advance` is called.
    Fake,
    /// Time since `origin`, read from tokio's clock.
    System { origin: tokio::time::Instant },
}

/// The state of one scheduled call, shared with its [`DelayedCall`](super::DelayedCall).
pub(crate) const PENDING: u8 = 0;
pub(crate) const CALLED: u8 = 1;
pub(crate) const CANCELLED: u8 = 2;

/// A queue of scheduled calls and the time they are measured in.
pub(crate) struct TimerQueue {
    state: Mutex<QueueState>,
    source: TimeSource,
    /// Wakes the reactor's timer task when a call is scheduled earlier than all others.
    pub(crate) notify: Notify,
    /// Set when the clock's owner is gone: the timer task ends.
    closed: AtomicBool,
}

#[derive(Default)]
struct QueueState {
    heap: BinaryHeap<Reverse<Node>>,
    calls: HashMap<u64, Entry>,
    next_id: u64,
    next_seq: u64,
    /// The fake clock's current time.
    fake_now: Duration,
    /// Counts batches; a call stamped with a later epoch waits for a later batch.
    epoch: u64,
    /// Set while a batch of calls runs: calls due at or before this time that are
    /// scheduled during the batch wait for the next one.
    batch_reference: Option<Duration>,
    /// Nodes skipped by the running batch, re-queued when it ends.
    parked: Vec<Node>,
    /// The thread running the fake clock's `advance`, while it runs: an `advance` from a
    /// call it runs (on that thread) is a slow call.
    advancing: Option<std::thread::ThreadId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    time: Duration,
    seq: u64,
    id: u64,
}

struct Entry {
    time: Duration,
    /// Its place among calls due at the same time: set when it is scheduled, kept when it
    /// is moved.
    seq: u64,
    /// The one heap node that stands for this call.
    queued: (Duration, u64),
    min_epoch: u64,
    call: Call,
    status: Arc<AtomicU8>,
}

impl TimerQueue {
    pub(crate) fn new(source: TimeSource) -> Arc<TimerQueue> {
        Arc::new(TimerQueue {
            state: Mutex::new(QueueState::default()),
            source,
            notify: Notify::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// Tells the reactor's timer task to end (the reactor is gone).
    ///
    /// The calls still pending will never run: they are cancelled and dropped now, so
    /// what they hold is freed — a repeating call's next call, which holds the call's
    /// owner, which holds the call, would otherwise keep both alive.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
        let pending: Vec<Entry> = {
            let mut state = self.lock();
            state.heap.clear();
            state.parked.clear();
            state.calls.drain().map(|(_, entry)| entry).collect()
        };
        for entry in &pending {
            entry.status.store(CANCELLED, Ordering::Release);
        }
        // Dropped outside the lock: their captures may do anything.
        drop(pending);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Scheduled calls never run under the lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current time of this queue's clock.
    pub(crate) fn now(&self) -> Duration {
        match &self.source {
            TimeSource::Fake => self.lock().fake_now,
            TimeSource::System { origin } => origin.elapsed(),
        }
    }

    fn now_locked(&self, state: &QueueState) -> Duration {
        match &self.source {
            TimeSource::Fake => state.fake_now,
            TimeSource::System { origin } => origin.elapsed(),
        }
    }

    /// Schedules `call` to run `delay` from now; returns its id and status cell.
    pub(crate) fn schedule(&self, delay: Duration, call: Call) -> (u64, Arc<AtomicU8>) {
        let status = Arc::new(AtomicU8::new(PENDING));
        let mut state = self.lock();
        let time = self.now_locked(&state).saturating_add(delay);
        let id = state.next_id;
        state.next_id += 1;
        let seq = state.bump_seq();
        let min_epoch = state.min_epoch_for(time);
        let earliest = state.is_earliest(time);
        state.heap.push(Reverse(Node { time, seq, id }));
        state.calls.insert(
            id,
            Entry {
                time,
                seq,
                queued: (time, seq),
                min_epoch,
                call,
                status: status.clone(),
            },
        );
        drop(state);
        if earliest {
            self.notify.notify_one();
        }
        (id, status)
    }

    /// Cancels call `id`.
    pub(crate) fn cancel(&self, id: u64, status: &AtomicU8) -> Result<(), Error> {
        let mut state = self.lock();
        match state.calls.remove(&id) {
            Some(entry) => {
                entry.status.store(CANCELLED, Ordering::Release);
                state.compact();
                drop(state);
                // The call is dropped outside the lock: its captures may do anything.
                drop(entry);
                Ok(())
            }
            None => Err(inactive_error(status)),
        }
    }

    /// Moves call `id` to `delay` from now.
    pub(crate) fn reset(&self, id: u64, status: &AtomicU8, delay: Duration) -> Result<(), Error> {
        let mut state = self.lock();
        let time = self.now_locked(&state).saturating_add(delay);
        self.move_to(&mut state, id, status, |_| time)
    }

    /// Moves call `id` later by `more`.
    pub(crate) fn delay(&self, id: u64, status: &AtomicU8, more: Duration) -> Result<(), Error> {
        let mut state = self.lock();
        self.move_to(&mut state, id, status, |old| old.saturating_add(more))
    }

    fn move_to(
        &self,
        state: &mut MutexGuard<'_, QueueState>,
        id: u64,
        status: &AtomicU8,
        new_time: impl FnOnce(Duration) -> Duration,
    ) -> Result<(), Error> {
        // The call keeps the sequence number it was first scheduled with: that is its
        // place among calls due at the same time.
        let Some((old_time, seq)) = state.calls.get(&id).map(|entry| (entry.time, entry.seq))
        else {
            return Err(inactive_error(status));
        };
        let time = new_time(old_time);
        let min_epoch = state.min_epoch_for(time);
        let earliest = state.is_earliest(time);
        let Some(entry) = state.calls.get_mut(&id) else {
            return Err(inactive_error(status));
        };
        entry.time = time;
        entry.min_epoch = min_epoch;
        if time < entry.queued.0 {
            // Earlier than its heap node: queue a new node (the old one goes stale).
            entry.queued = (time, seq);
            state.heap.push(Reverse(Node { time, seq, id }));
            if earliest {
                self.notify.notify_one();
            }
        }
        Ok(())
    }

    /// The due time of call `id`, if it is still pending.
    pub(crate) fn due_time(&self, id: u64) -> Option<Duration> {
        self.lock().calls.get(&id).map(|entry| entry.time)
    }

    /// The time the earliest pending call is due, if any.
    pub(crate) fn next_due_time(&self) -> Option<Duration> {
        self.lock().clean_top()
    }

    /// Moves a fake clock's time to `time` if nothing is due by then and no advance is
    /// under way; returns whether it did. (An `advance` with nothing to run, in one look:
    /// the simulation's steps between its own events.)
    pub(crate) fn skip_to(&self, time: Duration) -> bool {
        let mut state = self.lock();
        if state.advancing.is_some()
            || time < state.fake_now
            || state.clean_top().is_some_and(|due| due <= time)
        {
            return false;
        }
        state.fake_now = time;
        true
    }

    /// How many calls are pending.
    pub(crate) fn pending(&self) -> usize {
        self.lock().calls.len()
    }

    /// Runs, in order, every call due by the clock's current time (the reactor's timer
    /// task). A call that panics is logged and does not stop the others.
    pub(crate) fn run_due(&self) {
        let mut state = self.lock();
        let now = self.now_locked(&state);
        state.begin_batch(now);
        while let Some(entry) = state.pop_due(now) {
            drop(state);
            if let Err(payload) = catch_unwind(AssertUnwindSafe(entry.call)) {
                tracing::error!(
                    "a scheduled call panicked: {}",
                    Error::from_panic(&*payload)
                );
            }
            state = self.lock();
        }
        state.end_batch();
    }

    /// Moves the fake clock forward by `amount`, running each call that falls due at its
    /// own due time (`now` inside it reads that time). A panic in a call propagates after
    /// the queue is made consistent; the remaining calls wait for the next advance.
    ///
    /// Called from inside one of the calls it runs (on the advancing thread), it moves
    /// time on from that call's time and runs nothing: the call took that long, as a slow
    /// call blocks a real loop. The outer advance then goes on from the later of the two
    /// targets, and calls that fell due meanwhile run then, late.
    pub(crate) fn advance(&self, amount: Duration) {
        let me = std::thread::current().id();
        let mut state = self.lock();
        match state.advancing {
            Some(thread) if thread == me => {
                state.fake_now = state.fake_now.saturating_add(amount);
                // Zero-delay calls the slow call schedules from here on wait for the
                // next advance, as they do at the call's own time.
                state.batch_reference = Some(state.fake_now);
                return;
            }
            Some(_) => {
                tracing::warn!(
                    "FakeClock::advance called from another thread while an advance runs \
                     calls; ignored"
                );
                return;
            }
            None => {}
        }
        let target = state.fake_now.saturating_add(amount);
        state.advancing = Some(me);
        let start = state.fake_now;
        state.begin_batch(start);
        loop {
            // A slow call may have moved time past the target: go on from there.
            let limit = target.max(state.fake_now);
            let Some(entry) = state.pop_due(limit) else {
                break;
            };
            state.fake_now = state.fake_now.max(entry.time);
            state.batch_reference = Some(state.fake_now);
            drop(state);
            let outcome = catch_unwind(AssertUnwindSafe(entry.call));
            state = self.lock();
            if let Err(payload) = outcome {
                state.advancing = None;
                state.end_batch();
                drop(state);
                resume_unwind(payload);
            }
        }
        state.fake_now = target.max(state.fake_now);
        state.advancing = None;
        state.end_batch();
    }
}

impl QueueState {
    fn bump_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A call due at `time` that is scheduled now: if a batch is running and the call is
    /// already due, it must wait for the next batch.
    fn min_epoch_for(&self, time: Duration) -> u64 {
        match self.batch_reference {
            Some(reference) if time <= reference => self.epoch + 1,
            _ => 0,
        }
    }

    fn is_earliest(&mut self, time: Duration) -> bool {
        self.clean_top().is_none_or(|earliest| time < earliest)
    }

    fn begin_batch(&mut self, reference: Duration) {
        self.epoch += 1;
        self.batch_reference = Some(reference);
    }

    fn end_batch(&mut self) {
        self.batch_reference = None;
        for node in self.parked.drain(..) {
            self.heap.push(Reverse(node));
        }
    }

    /// Drops stale nodes and re-queues lazily moved ones until the top node is live;
    /// returns its time.
    fn clean_top(&mut self) -> Option<Duration> {
        loop {
            let Reverse(node) = *self.heap.peek()?;
            match self.classify(node) {
                NodeKind::Stale => {
                    self.heap.pop();
                }
                NodeKind::Moved => self.requeue(node),
                NodeKind::Live | NodeKind::NotYet => return Some(node.time),
            }
        }
    }

    /// Removes and returns the next call due at or before `limit` that this batch may run.
    fn pop_due(&mut self, limit: Duration) -> Option<Entry> {
        loop {
            let Reverse(node) = *self.heap.peek()?;
            if node.time > limit {
                return None;
            }
            match self.classify(node) {
                NodeKind::Stale => {
                    self.heap.pop();
                }
                NodeKind::Moved => self.requeue(node),
                NodeKind::NotYet => {
                    self.heap.pop();
                    self.parked.push(node);
                }
                NodeKind::Live => {
                    self.heap.pop();
                    let entry = self.calls.remove(&node.id)?;
                    entry.status.store(CALLED, Ordering::Release);
                    return Some(entry);
                }
            }
        }
    }

    fn classify(&self, node: Node) -> NodeKind {
        match self.calls.get(&node.id) {
            None => NodeKind::Stale,
            Some(entry) if entry.queued != (node.time, node.seq) => NodeKind::Stale,
            Some(entry) if (entry.time, entry.seq) != (node.time, node.seq) => NodeKind::Moved,
            Some(entry) if entry.min_epoch > self.epoch => NodeKind::NotYet,
            Some(_) => NodeKind::Live,
        }
    }

    /// Replaces a lazily moved call's node by one at its current time.
    fn requeue(&mut self, node: Node) {
        self.heap.pop();
        if let Some(entry) = self.calls.get_mut(&node.id) {
            entry.queued = (entry.time, entry.seq);
            self.heap.push(Reverse(Node {
                time: entry.time,
                seq: entry.seq,
                id: node.id,
            }));
        }
    }

    /// Rebuilds the heap when stale nodes outnumber live calls.
    fn compact(&mut self) {
        if self.batch_reference.is_some()
            || self.heap.len() <= 64
            || self.heap.len() <= 2 * self.calls.len()
        {
            return;
        }
        let mut nodes = Vec::with_capacity(self.calls.len());
        for (&id, entry) in self.calls.iter_mut() {
            entry.queued = (entry.time, entry.seq);
            nodes.push(Reverse(Node {
                time: entry.time,
                seq: entry.seq,
                id,
            }));
        }
        self.heap = BinaryHeap::from(nodes);
    }
}

enum NodeKind {
    /// Its call is gone, or another node stands for it.
    Stale,
    /// Its call was moved later; re-queue at the new time.
    Moved,
    /// Its call was scheduled during the running batch and waits for the next one.
    NotYet,
    /// Its call is due.
    Live,
}

fn inactive_error(status: &AtomicU8) -> Error {
    match status.load(Ordering::Acquire) {
        CANCELLED => Error::DelayedCallAlreadyCancelled,
        _ => Error::DelayedCallAlreadyCalled,
    }
}

impl fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TimerQueue")
            .field("source", &self.source)
            .field("pending", &state.calls.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_len(queue: &TimerQueue) -> usize {
        queue.lock().heap.len()
    }

    #[test]
    fn resetting_later_adds_no_heap_nodes() {
        let queue = TimerQueue::new(TimeSource::Fake);
        let (id, status) = queue.schedule(Duration::from_secs(1), Box::new(|| {}));
        for _ in 0..10_000 {
            queue.advance(Duration::from_millis(1));
            queue.reset(id, &status, Duration::from_secs(1)).unwrap();
        }
        assert!(heap_len(&queue) <= 2, "heap grew to {}", heap_len(&queue));
    }

    #[test]
    fn stale_nodes_are_compacted_away() {
        let queue = TimerQueue::new(TimeSource::Fake);
        let keep = queue.schedule(Duration::from_secs(1_000), Box::new(|| {}));
        for i in 0..10_000 {
            let (id, status) = queue.schedule(Duration::from_secs(i + 1), Box::new(|| {}));
            queue.cancel(id, &status).unwrap();
        }
        assert!(
            heap_len(&queue) <= 64 + 2,
            "heap holds {} nodes",
            heap_len(&queue)
        );
        assert_eq!(queue.pending(), 1);
        assert_eq!(queue.due_time(keep.0), Some(Duration::from_secs(1_000)));
    }

    #[test]
    fn closing_cancels_and_drops_the_pending_calls() {
        let queue = TimerQueue::new(TimeSource::Fake);
        let token = Arc::new(());
        let held = token.clone();
        let (_, status) = queue.schedule(Duration::from_secs(1), Box::new(move || drop(held)));
        queue.close();
        assert_eq!(Arc::strong_count(&token), 1);
        assert_eq!(status.load(Ordering::SeqCst), CANCELLED);
        assert_eq!(queue.pending(), 0);
    }

    #[test]
    fn moving_earlier_and_later_again_runs_once() {
        let queue = TimerQueue::new(TimeSource::Fake);
        let runs = Arc::new(AtomicU8::new(0));
        let counter = runs.clone();
        let (id, status) = queue.schedule(
            Duration::from_secs(10),
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        queue.reset(id, &status, Duration::from_secs(1)).unwrap();
        queue.reset(id, &status, Duration::from_secs(20)).unwrap();
        queue.advance(Duration::from_secs(19));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        queue.advance(Duration::from_secs(100));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(status.load(Ordering::SeqCst), CALLED);
    }
}
