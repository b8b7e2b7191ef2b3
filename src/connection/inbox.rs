//! The way into a live connection from outside its callbacks: [`Inbox`].
//!
//! A connection's state belongs to whoever drives it (the reactor's task, or the test
//! driver); its own callbacks reach it through their [`Context`]. Everyone else — timers,
//! other connections, other threads, async code — holds a handle
//! ([`ProtocolHandle`](crate::ProtocolHandle), [`TransportHandle`](crate::TransportHandle))
//! onto this inbox: they leave bytes to write, requests (close, pause, a closure to run on
//! the protocol) and wake the driver, which takes everything in the order it was left,
//! between two callbacks.
//!
//! # Order
//!
//! Everything left here is applied in the order it was left: a request sits after the
//! bytes written before it, so a closure queued after a write sees that write sent before
//! its own, and a close queued after a write closes after sending it.
//!
//! Bytes left here while one of the connection's callbacks runs follow what that callback
//! writes (it runs first; the driver takes the inbox after it returns). If the callback
//! writes again after bytes were left here, it first moves them (up to the first request
//! waiting among them) behind its earlier writes: so a write another thread makes after
//! the callback's never overtakes them, and one the callback waited for comes before what
//! it writes next. The callback checks for that with one atomic load per write
//! ([`Inbox::is_waiting`]).

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use super::state::State;
use crate::tls::TlsInfo;
use crate::{Address, Clock, Error, WriteBufferLimits};

/// A closure left for the protocol by a [`ProtocolHandle`](crate::ProtocolHandle): run with
/// the protocol (as `Any`: the handle that made it knows its type) and the connection's
/// state between two callbacks, or with `None` if the connection ended first. Returns
/// `Err(Error::Panicked)` if it panicked (the connection is then aborted: the protocol may
/// be half-updated).
pub(crate) type Call =
    Box<dyn FnOnce(Option<(&mut dyn Any, &mut State)>) -> Result<(), Error> + Send>;

/// Something asked of the connection from outside.
pub(crate) enum Request {
    /// Run a closure on the protocol.
    Call(Call),
    /// Close once everything before is sent.
    LoseConnection,
    /// Shut down the write side once everything before is sent.
    LoseWriteConnection,
    /// Close now, dropping what is unsent.
    Abort,
    /// Stop reading.
    PauseReading,
    /// Read again.
    ResumeReading,
}

/// What the driver takes from the inbox in one go: the bytes, and the requests with how
/// many of the bytes were left before each.
pub(crate) struct Taken {
    pub(crate) bytes: Vec<u8>,
    pub(crate) requests: VecDeque<(usize, Request)>,
}

/// A connection's inbox, shared by its driver and its handles.
pub(crate) struct Inbox {
    queue: Mutex<Queue>,
    /// Bytes or requests wait in the queue: a callback's next write moves them first.
    waiting: AtomicBool,
    /// A close or an abort was asked for, or the connection ended.
    closing: AtomicBool,
    /// The connection ended: nothing left here is applied any more.
    ended: AtomicBool,
    /// Bytes the driver holds unsent (updated after each of its rounds).
    unsent: AtomicUsize,
    /// A task waits (or has just looked) for the unsent bytes to drain or to be flushed,
    /// so the driver, reporting them, looks; the next report that finds no waiter clears
    /// it.
    drain_watched: AtomicBool,
    /// The driver's surroundings want it to stop what it does after the end (lingering):
    /// the reactor's stop deadline passed, or the linger did.
    interrupted: AtomicBool,
    peer: Address,
    host: Address,
    clock: Arc<dyn Clock>,
}

struct Queue {
    bytes: Vec<u8>,
    requests: VecDeque<(usize, Request)>,
    /// The driver, while it waits for something to do.
    driver: Option<Waker>,
    /// The driver's timer fired (see `Driver::arm_timer`).
    timer_due: bool,
    /// What few connections use, behind one pointer.
    rare: Option<Box<Rare>>,
}

/// What a task waits for the unsent bytes to come down to.
#[derive(Clone, Copy)]
enum Wait {
    /// The low-water mark.
    Drain,
    /// Nothing.
    Flush,
}

/// State of the inbox that most connections never touch.
#[derive(Default)]
struct Rare {
    /// Tasks waiting for the unsent bytes to drain to the low-water mark.
    drain_waiters: Vec<Waker>,
    /// Tasks waiting for every unsent byte to be handed to the stream.
    flush_waiters: Vec<Waker>,
    /// The connection's watermarks, as last set (for `is_write_buffer_full` from outside).
    limits: Option<WriteBufferLimits>,
    /// The outcome of the TLS handshake, once there is one.
    tls: Option<TlsInfo>,
    /// Who is at the other end of a Unix domain socket.
    #[cfg(unix)]
    credentials: Option<crate::endpoints::PeerCredentials>,
}

impl Inbox {
    pub(crate) fn new(peer: Address, host: Address, clock: Arc<dyn Clock>) -> Arc<Inbox> {
        Arc::new(Inbox {
            queue: Mutex::new(Queue {
                bytes: Vec::new(),
                requests: VecDeque::new(),
                driver: None,
                timer_due: false,
                rare: None,
            }),
            waiting: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            unsent: AtomicUsize::new(0),
            drain_watched: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            peer,
            host,
            clock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // No user code runs under this lock, so a poisoned lock is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `leave` on the queue and wakes the driver; `false` (nothing left) if the
    /// connection has ended.
    fn leave(&self, leave: impl FnOnce(&mut Queue)) -> bool {
        let driver = {
            let mut queue = self.lock();
            if self.ended.load(Ordering::Acquire) {
                return false;
            }
            leave(&mut queue);
            self.waiting.store(true, Ordering::Release);
            queue.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
        true
    }

    /// Leaves `chunks` to be written, in order.
    pub(crate) fn write_many(&self, chunks: &[&[u8]]) {
        let total: usize = chunks.iter().map(|chunk| chunk.len()).sum();
        if total == 0 {
            return;
        }
        let left = self.leave(|queue| {
            queue.bytes.reserve(total);
            for chunk in chunks {
                queue.bytes.extend_from_slice(chunk);
            }
        });
        if !left {
            tracing::debug!(peer = %self.peer, bytes = total, "write after the connection ended; dropped");
        }
    }

    /// Leaves a request, after the bytes left so far. Hands it back if the connection
    /// has ended.
    pub(crate) fn request(&self, request: Request) -> Result<(), Request> {
        let closing = matches!(request, Request::LoseConnection | Request::Abort);
        let mut request = Some(request);
        let left = self.leave(|queue| {
            let at = queue.bytes.len();
            if let Some(request) = request.take() {
                queue.requests.push_back((at, request));
            }
        });
        if closing {
            self.closing.store(true, Ordering::Release);
        }
        match request {
            Some(request) if !left => Err(request),
            _ => Ok(()),
        }
    }

    /// Whether bytes or requests wait: read by a callback's every write, so it is one
    /// atomic load.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// For the driver: takes everything left, in order.
    pub(crate) fn take(&self) -> Option<Taken> {
        if !self.is_waiting() {
            return None;
        }
        let mut queue = self.lock();
        self.waiting.store(false, Ordering::Release);
        if queue.bytes.is_empty() && queue.requests.is_empty() {
            return None;
        }
        Some(Taken {
            bytes: std::mem::take(&mut queue.bytes),
            requests: std::mem::take(&mut queue.requests),
        })
    }

    /// For a running callback about to write: moves the bytes left so far, up to the
    /// first request among them, to the end of `into` (the requests stay for the driver).
    pub(crate) fn take_bytes_before_requests(&self, into: impl FnOnce(&[u8])) {
        let mut queue = self.lock();
        let before = queue
            .requests
            .front()
            .map_or(queue.bytes.len(), |(at, _)| *at);
        into(&queue.bytes[..before]);
        queue.bytes.drain(..before);
        for (at, _) in queue.requests.iter_mut() {
            *at -= before;
        }
        if queue.bytes.is_empty() && queue.requests.is_empty() {
            self.waiting.store(false, Ordering::Release);
        }
    }

    /// For the driver, when it has nothing to do: stores `waker` to be woken by the next
    /// thing left here (or the timer), unless something is already waiting; returns
    /// whether it may park.
    pub(crate) fn park(&self, waker: &Waker) -> bool {
        let mut queue = self.lock();
        if self.is_waiting() || queue.timer_due {
            return false;
        }
        match &mut queue.driver {
            Some(driver) if driver.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        true
    }

    /// The driver's timer fired: wakes it.
    pub(crate) fn timer_fired(&self) {
        let driver = {
            let mut queue = self.lock();
            queue.timer_due = true;
            queue.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    /// For the driver: whether its timer fired since it last asked.
    pub(crate) fn take_timer_due(&self) -> bool {
        std::mem::take(&mut self.lock().timer_due)
    }

    /// Records that a close was asked for from inside (for handles' `is_closing`).
    pub(crate) fn mark_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// The connection ended: nothing left here from now on is applied. Returns what was
    /// left and not yet taken (its calls must be told), and wakes tasks waiting to drain
    /// or flush.
    pub(crate) fn end(&self) -> Option<Taken> {
        let (taken, waiters) = {
            let mut queue = self.lock();
            self.ended.store(true, Ordering::Release);
            self.closing.store(true, Ordering::Release);
            self.waiting.store(false, Ordering::Release);
            queue.driver = None;
            self.unsent.store(0, Ordering::Release);
            let waiters = queue
                .rare
                .as_mut()
                .map(|rare| {
                    let mut waiters = std::mem::take(&mut rare.drain_waiters);
                    waiters.append(&mut rare.flush_waiters);
                    waiters
                })
                .unwrap_or_default();
            let taken = Taken {
                bytes: std::mem::take(&mut queue.bytes),
                requests: std::mem::take(&mut queue.requests),
            };
            (taken, waiters)
        };
        for waiter in waiters {
            waiter.wake();
        }
        (!taken.requests.is_empty()).then_some(taken)
    }

    /// For the driver, after a round: records how many bytes it holds unsent, and wakes
    /// the tasks waiting to drain if that is at or below the low-water mark (and those
    /// waiting to flush if it is zero).
    pub(crate) fn set_unsent(&self, unsent: usize, low: usize) {
        // SeqCst: see `poll_unsent`.
        self.unsent.store(unsent, Ordering::SeqCst);
        if unsent > low || !self.drain_watched.load(Ordering::SeqCst) {
            return;
        }
        let waiters = {
            let mut queue = self.lock();
            let Some(rare) = queue.rare.as_mut() else {
                self.drain_watched.store(false, Ordering::Release);
                return;
            };
            let mut waiters = std::mem::take(&mut rare.drain_waiters);
            if unsent == 0 {
                waiters.append(&mut rare.flush_waiters);
            }
            // Flush waiters left behind still need a look after later rounds.
            self.drain_watched
                .store(!rare.flush_waiters.is_empty(), Ordering::Release);
            waiters
        };
        for waiter in waiters {
            waiter.wake();
        }
    }

    /// Asks the driver to stop what it does after the end (lingering), and wakes it.
    pub(crate) fn interrupt(&self) {
        let driver = {
            let mut queue = self.lock();
            self.interrupted.store(true, Ordering::Release);
            queue.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Acquire)
    }

    /// For the driver after the end: stores `waker` for [`interrupt`](Inbox::interrupt).
    pub(crate) fn park_ended(&self, waker: &Waker) {
        let mut queue = self.lock();
        if !self.is_interrupted() {
            queue.driver = Some(waker.clone());
        }
    }

    /// Records the connection's watermarks, for handles.
    pub(crate) fn set_limits(&self, limits: WriteBufferLimits) {
        self.lock().rare.get_or_insert_with(Box::default).limits = Some(limits);
    }

    /// Records the outcome of the TLS handshake, for handles.
    #[cfg(feature = "tls")]
    pub(crate) fn set_tls_info(&self, info: TlsInfo) {
        self.lock().rare.get_or_insert_with(Box::default).tls = Some(info);
    }

    /// Records who is at the other end (of a Unix domain socket).
    #[cfg(unix)]
    pub(crate) fn set_credentials(&self, credentials: crate::endpoints::PeerCredentials) {
        self.lock()
            .rare
            .get_or_insert_with(Box::default)
            .credentials = Some(credentials);
    }

    /// Who is at the other end, where the OS tells.
    #[cfg(unix)]
    pub(crate) fn credentials(&self) -> Option<crate::endpoints::PeerCredentials> {
        self.lock().rare.as_ref().and_then(|rare| rare.credentials)
    }

    /// The outcome of the TLS handshake, once there is one.
    pub(crate) fn tls_info(&self) -> Option<TlsInfo> {
        self.lock().rare.as_ref().and_then(|rare| rare.tls.clone())
    }

    /// The connection's watermarks.
    pub(crate) fn limits(&self) -> WriteBufferLimits {
        self.lock()
            .rare
            .as_ref()
            .and_then(|rare| rare.limits)
            .unwrap_or_default()
    }

    /// Bytes left here and not yet taken by the driver.
    pub(crate) fn queued(&self) -> usize {
        self.lock().bytes.len()
    }

    /// Bytes written and not yet sent: left here, or held by the driver.
    pub(crate) fn write_buffer_size(&self) -> usize {
        let queued = self.lock().bytes.len();
        queued + self.unsent.load(Ordering::Acquire)
    }

    /// Ready once the unsent bytes are at or below the low-water mark, or the connection
    /// ended; otherwise `cx` is woken when they are.
    pub(crate) fn poll_drain(&self, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.poll_unsent(cx, Wait::Drain)
    }

    /// Ready once nothing written is unsent (every byte was handed to the stream), or the
    /// connection ended; otherwise `cx` is woken when that holds.
    pub(crate) fn poll_flushed(&self, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.poll_unsent(cx, Wait::Flush)
    }

    fn poll_unsent(&self, cx: &mut TaskContext<'_>, wait: Wait) -> Poll<()> {
        let mut queue = self.lock();
        // The wait is announced before the count is read, both in the order `set_unsent`
        // writes the count and reads the announcement (SeqCst): either this sees the
        // driver's report, or the driver sees this wait (and takes the lock held here
        // until the waker is in).
        self.drain_watched.store(true, Ordering::SeqCst);
        let unsent = queue.bytes.len() + self.unsent.load(Ordering::SeqCst);
        let level = match wait {
            Wait::Drain => {
                let limits = queue.rare.as_ref().and_then(|rare| rare.limits);
                limits.unwrap_or_default().low
            }
            Wait::Flush => 0,
        };
        if self.ended.load(Ordering::Acquire) || unsent <= level {
            return Poll::Ready(());
        }
        let rare = queue.rare.get_or_insert_with(Box::default);
        let waiters = match wait {
            Wait::Drain => &mut rare.drain_waiters,
            Wait::Flush => &mut rare.flush_waiters,
        };
        crate::wakers::register(waiters, cx.waker());
        Poll::Pending
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(crate) fn peer(&self) -> &Address {
        &self.peer
    }

    pub(crate) fn host(&self) -> &Address {
        &self.host
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("peer", &self.peer)
            .field("host", &self.host)
            .field("closing", &self.is_closing())
            .field("ended", &self.is_ended())
            .finish_non_exhaustive()
    }
}
