//! Driving one protocol in memory, the way the reactor does: [`TestConnection`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::task::{Context as TaskContext, Wake, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;

use super::memory_stream::{MemoryStream, Pipe};
use super::FakeClock;
use crate::connection::drive::{Driver, Host, OnLost};
use crate::connection::inbox::Inbox;
use crate::{
    Address, Clock, ConnectionError, DisconnectReason, ProducerKind, Protocol, ProtocolHandle,
    TransportHandle,
};

/// How many times one drive polls a connection that keeps waking itself before deciding
/// it never settles (a protocol that writes for ever to a peer that reads everything).
const MAX_POLLS_PER_DRIVE: usize = 100_000;

/// A protocol on a connection in memory, driven by the same code as the reactor's
/// connections (the connection core and its I/O loop), over an in-memory stream whose
/// other end is the test, on a [`FakeClock`]. Twisted's `makeConnection` +
/// `StringTransport`, with every rule of the real thing.
///
/// - [`receive`](TestConnection::receive) is the peer sending a chunk: it is delivered as
///   one `data_received` (unless the connection is not reading: paused, closing — then it
///   waits, as it would in a socket).
/// - [`take_written`](TestConnection::take_written) is the peer reading everything written
///   so far. Until the test takes them, written bytes count as unsent: write pressure
///   ([`pause_producing`](Protocol::pause_producing) past the high-water mark) and a close
///   waiting for them to be sent behave as with a peer that does not read.
/// - [`lose_connection`](crate::Transport::lose_connection) ends the connection as on the
///   reactor: once the bytes written before it are taken (at once if there are none), the
///   write side shuts down and `connection_lost(Done)` runs.
/// - Time is the connection's [`FakeClock`]: [`advance`](TestConnection::advance) it (or
///   the clock itself) and the connection's timers — its idle timeout, the protocol's own
///   `cx.clock().call_later(...)` — fire at their due times.
/// - [`handle`](TestConnection::handle)s reach the protocol as on the reactor; what they
///   ask is applied at the test's next call on the connection (or
///   [`run_pending`](TestConnection::run_pending)).
/// - A panic in one of the protocol's callbacks fails the test: it is raised again from the
///   call that drove the connection (after the connection was aborted, as the reactor
///   does), unless [`allow_panics`](TestConnection::allow_panics) was called.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// #[derive(Default)]
/// struct Recorder {
///     seen: Vec<u8>,
///     lost: Option<DisconnectReason>,
/// }
///
/// impl Protocol for Recorder {
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         self.seen.extend_from_slice(&data);
///         if self.seen.ends_with(b"bye") {
///             cx.write(b"ok, bye");
///             cx.lose_connection();
///         }
///     }
///     fn connection_lost(&mut self, reason: DisconnectReason) {
///         self.lost = Some(reason);
///     }
/// }
///
/// let mut connection = TestConnection::new(Recorder::default());
/// for byte in b"one byte at a time, bye" {
///     connection.receive(&[*byte]);
/// }
/// assert!(connection.is_closing() && !connection.is_lost()); // "ok, bye" is unread
/// assert_eq!(connection.take_written(), &b"ok, bye"[..]);
/// assert!(connection.is_lost());
/// assert_eq!(connection.protocol().seen, b"one byte at a time, bye");
/// assert!(connection.protocol().lost.as_ref().unwrap().is_clean());
/// ```
pub struct TestConnection<P: Protocol> {
    shared: Arc<DriverCell<P>>,
    /// What the test sends to the connection.
    to_connection: Arc<Pipe>,
    /// What the connection sends to the test.
    from_connection: Arc<Pipe>,
    clock: FakeClock,
}

/// The driver, shared with the waker the connection's timer wakes.
struct DriverCell<P: Protocol> {
    driver: Mutex<Driver<P, MemoryStream, TestHost>>,
    /// Set by the driver's waker: something changed, poll again.
    woken: Arc<Flag>,
    /// Raise a panic of the protocol's in the test.
    raise_panics: AtomicBool,
    /// The thread holding a [`ProtocolGuard`], if one does: the driver is locked until it
    /// is dropped, so that thread must not wait for the lock itself.
    guard_thread: Mutex<Option<ThreadId>>,
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// A waker that drives the connection at once (its timer fired: the callback must run
/// while the clock reads its due time).
struct DriveNow<P: Protocol>(Weak<DriverCell<P>>);

impl<P: Protocol> Wake for DriveNow<P> {
    fn wake(self: Arc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            shared.drive();
        }
    }
}

/// The test driver's host: its timer drives the connection at once.
struct TestHost {
    timer: Waker,
}

impl Host for TestHost {
    fn timer_waker(&self) -> Option<Waker> {
        Some(self.timer.clone())
    }
}

impl<P: Protocol> DriverCell<P> {
    fn lock(&self) -> MutexGuard<'_, Driver<P, MemoryStream, TestHost>> {
        match self.driver.try_lock() {
            Ok(driver) => driver,
            // A panic inside the driver is caught by it; the state stays consistent.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.refuse_while_guarded();
                self.driver.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }
    }

    /// Fails the test with a message rather than deadlocking (or, for `drive`, silently
    /// delivering nothing) when this thread still holds the guard that
    /// [`TestConnection::protocol`] returned. A test helper: panicking is how it fails.
    fn refuse_while_guarded(&self) {
        let holder = *self
            .guard_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if holder == Some(std::thread::current().id()) {
            panic!(
                "TestConnection: the value protocol() or protocol_mut() returned is still \
                 alive on this thread, and it locks the connection; let it go first (read what \
                 you need into a variable, ending the statement) before calling another \
                 TestConnection method"
            );
        }
    }

    /// Polls the driver until it has nothing left to do. From inside one of its own
    /// callbacks (the clock advanced there), it only notes that it must look again.
    fn drive(&self) {
        let waker = Waker::from(self.woken.clone());
        let mut cx = TaskContext::from_waker(&waker);
        loop {
            let Ok(mut driver) = self.driver.try_lock() else {
                // Locked by a callback of its own (the clock advanced there): it looks again
                // when it is done. Locked by the test's own guard: that is a mistake.
                self.refuse_while_guarded();
                self.woken.0.store(true, Ordering::Release);
                return;
            };
            let mut polls = 0;
            loop {
                self.woken.0.store(false, Ordering::Release);
                if driver.poll(&mut cx).is_ready() || !self.woken.0.load(Ordering::Acquire) {
                    break;
                }
                polls += 1;
                assert!(
                    polls < MAX_POLLS_PER_DRIVE,
                    "the connection never settles: it keeps working after {MAX_POLLS_PER_DRIVE} polls"
                );
            }
            drop(driver);
            if !self.woken.0.load(Ordering::Acquire) {
                return;
            }
        }
    }
}

impl<P: Protocol> TestConnection<P> {
    /// Connects `protocol` in memory on a new fake clock and runs `connection_made`. The
    /// addresses are Twisted's `StringTransport`'s: this end `10.0.0.1:12345`, the peer
    /// `192.168.1.1:54321`.
    pub fn new(protocol: P) -> TestConnection<P> {
        TestConnection::with_clock(protocol, &FakeClock::new())
    }

    /// [`new`](TestConnection::new), on `clock` (shared with other connections, say).
    pub fn with_clock(protocol: P, clock: &FakeClock) -> TestConnection<P> {
        let host = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 12345));
        let peer = SocketAddr::from((Ipv4Addr::new(192, 168, 1, 1), 54321));
        TestConnection::start(protocol, host.into(), peer.into(), clock, None)
    }

    /// Connects `protocol` in memory with these addresses, on `clock`; `on_lost` runs
    /// after `connection_lost`.
    pub(crate) fn start(
        protocol: P,
        host: Address,
        peer: Address,
        clock: &FakeClock,
        on_lost: Option<OnLost>,
    ) -> TestConnection<P> {
        let (stream, to_connection, from_connection) = MemoryStream::for_test();
        let clock_ref: Arc<dyn Clock> = Arc::new(clock.clone());
        let inbox = Inbox::new(peer, host, clock_ref);
        let shared = Arc::new_cyclic(|weak: &Weak<DriverCell<P>>| {
            let timer = Waker::from(Arc::new(DriveNow(weak.clone())));
            let driver =
                Driver::new(protocol, stream, inbox, TestHost { timer }).with_hooks(None, on_lost);
            DriverCell {
                driver: Mutex::new(driver),
                woken: Arc::new(Flag::default()),
                raise_panics: AtomicBool::new(true),
                guard_thread: Mutex::new(None),
            }
        });
        let connection = TestConnection {
            shared,
            to_connection,
            from_connection,
            clock: clock.clone(),
        };
        connection.drive();
        connection
    }

    /// Drives the connection, then raises a panic of the protocol's in the test.
    fn drive(&self) {
        self.shared.drive();
        if !self.shared.raise_panics.load(Ordering::Acquire) {
            return;
        }
        let message = match self.shared.lock().reason() {
            Some(DisconnectReason::Lost(ConnectionError::Panicked { message })) => message.clone(),
            _ => return,
        };
        self.shared.raise_panics.store(false, Ordering::Release);
        panic!("a callback of the protocol under test panicked: {message}");
    }

    /// Lets a callback's panic end the connection (aborted, with
    /// [`ConnectionError::Panicked`]) without failing the test: for a test of exactly that.
    pub fn allow_panics(&mut self) {
        self.shared.raise_panics.store(false, Ordering::Release);
    }

    /// The connection's fake clock.
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// Moves the connection's clock `by` forward, running what falls due on the way, each
    /// at its own due time (see [`FakeClock::advance`]), then what handles asked.
    #[doc(alias = "advance_clock")]
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.drive();
    }

    /// A handle on the protocol, as a connect call gives: what it asks is applied at the
    /// test's next call on the connection.
    pub fn handle(&self) -> ProtocolHandle<P> {
        ProtocolHandle::new(self.shared.lock().inbox().clone())
    }

    /// A handle on the connection, for writing and closing from outside the protocol.
    pub fn transport_handle(&self) -> TransportHandle {
        TransportHandle::new(self.shared.lock().inbox().clone())
    }

    /// Applies what handles asked (and anything else pending), in order.
    #[doc(alias = "run_commands")]
    pub fn run_pending(&mut self) {
        self.drive();
    }

    /// The peer sends `data`, as one chunk. Returns whether the protocol got it now:
    /// empty data is not sent; data sent while the connection is not reading (paused, or
    /// closing) waits as it would in a socket, and is delivered if reading resumes (or
    /// never, once the connection closes).
    pub fn receive(&mut self, data: &[u8]) -> bool {
        self.drive();
        if data.is_empty() || self.is_lost() {
            return false;
        }
        self.to_connection.push(Bytes::copy_from_slice(data));
        self.drive();
        self.to_connection.peek().is_empty()
    }

    /// The peer sends `data` split into chunks of `size` bytes (the last may be shorter).
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    pub fn receive_in_chunks(&mut self, data: &[u8], size: usize) {
        for chunk in data.chunks(size) {
            self.receive(chunk);
        }
    }

    /// The peer shuts down its writing side: EOF, after what it sent before. Returns
    /// whether the connection read it now (it was reading; a connection that is not
    /// reads it if it resumes).
    pub fn receive_eof(&mut self) -> bool {
        self.drive();
        if self.is_lost() || self.to_connection.is_closed() {
            return false;
        }
        self.to_connection.close();
        self.drive();
        self.shared.lock().eof_read()
    }

    /// The network ends the connection with `reason` (a reset, say):
    /// `connection_lost(reason)` runs unless it already has. Calls still queued through
    /// handles then fail with [`Error::ConnectionClosed`](crate::Error::ConnectionClosed).
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        self.drive();
        self.shared.lock().end_now(reason);
        self.drive();
    }

    /// Everything the connection has written and the peer has not taken yet (for a TLS
    /// connection: what is sent, encrypted).
    pub fn written(&self) -> Bytes {
        self.drive();
        let sent = self.from_connection.peek();
        let driver = self.shared.lock();
        if driver.stream().is_tls() || driver.unsent().is_empty() {
            return sent;
        }
        let mut all = Vec::with_capacity(sent.len() + driver.unsent().len());
        all.extend_from_slice(&sent);
        all.extend_from_slice(driver.unsent());
        Bytes::from(all)
    }

    /// The peer reads everything the connection has written so far, which this returns.
    /// A producer paused for write pressure is resumed (and may write more, for the next
    /// take); a close that waited for these bytes completes.
    pub fn take_written(&mut self) -> Bytes {
        self.drive();
        let grant = {
            let driver = self.shared.lock();
            if driver.stream().is_tls() {
                usize::MAX
            } else {
                driver.unsent().len()
            }
        };
        self.from_connection.grant(grant);
        self.drive();
        self.from_connection.revoke();
        let taken = self.from_connection.take_all();
        self.drive();
        taken
    }

    /// Whether the protocol asked to close (or abort) the connection, or it ended.
    pub fn is_closing(&self) -> bool {
        self.shared.lock().is_closing()
    }

    /// Whether `connection_lost` has been called.
    pub fn is_lost(&self) -> bool {
        self.shared.lock().is_lost()
    }

    /// Why the connection ended, once it has.
    pub fn lost_reason(&self) -> Option<DisconnectReason> {
        self.shared.lock().reason().cloned()
    }

    /// Whether the connection shut down its write side (the peer reads EOF after what it
    /// has not taken yet).
    pub fn is_write_shut(&self) -> bool {
        self.from_connection.is_closed()
    }

    /// The kind of producer registered, if one is.
    pub fn producer_kind(&self) -> Option<ProducerKind> {
        self.shared.lock().producer_kind()
    }

    /// The protocol.
    ///
    /// The value returned locks the connection until it is dropped: read what you need
    /// from it in one statement (`let seen = connection.protocol().seen.clone();`). Calling
    /// another method of the connection while it is alive fails the test with a message
    /// saying so.
    pub fn protocol(&self) -> impl Deref<Target = P> + '_ {
        ProtocolGuard::new(&self.shared)
    }

    /// The protocol, mutably (to call its own methods as outside code would).
    pub fn protocol_mut(&mut self) -> impl DerefMut<Target = P> + '_ {
        ProtocolGuard::new(&self.shared)
    }
}

/// The protocol, borrowed from its driver: the driver stays locked until it is dropped.
struct ProtocolGuard<'a, P: Protocol> {
    driver: MutexGuard<'a, Driver<P, MemoryStream, TestHost>>,
    cell: &'a DriverCell<P>,
}

impl<'a, P: Protocol> ProtocolGuard<'a, P> {
    fn new(cell: &'a DriverCell<P>) -> ProtocolGuard<'a, P> {
        let driver = cell.lock();
        *cell
            .guard_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(std::thread::current().id());
        ProtocolGuard { driver, cell }
    }
}

impl<P: Protocol> Drop for ProtocolGuard<'_, P> {
    fn drop(&mut self) {
        *self
            .cell
            .guard_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl<P: Protocol> Deref for ProtocolGuard<'_, P> {
    type Target = P;

    fn deref(&self) -> &P {
        self.driver.protocol()
    }
}

impl<P: Protocol> DerefMut for ProtocolGuard<'_, P> {
    fn deref_mut(&mut self) -> &mut P {
        self.driver.protocol_mut()
    }
}

impl<P: Protocol> fmt::Debug for TestConnection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("protocol", &std::any::type_name::<P>())
            .field("closing", &self.is_closing())
            .field("lost", &self.is_lost())
            .field("clock", &self.clock.now())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Transport};

    const SECOND: Duration = Duration::from_secs(1);

    /// What `Idler` does when its idle timeout fires.
    #[derive(Clone, Copy, PartialEq)]
    enum OnTimeout {
        /// The default: close.
        Close,
        /// Write a keep-alive and watch again.
        KeepAlive(Duration),
        /// Nothing (the timeout does not fire again).
        Ignore,
    }

    struct Idler {
        timeout: Option<Duration>,
        on_timeout: OnTimeout,
        fired_at: Vec<Duration>,
        lost: Option<DisconnectReason>,
    }

    impl Idler {
        fn new(timeout: Duration, on_timeout: OnTimeout) -> Idler {
            Idler {
                timeout: Some(timeout),
                on_timeout,
                fired_at: Vec::new(),
                lost: None,
            }
        }
    }

    impl Protocol for Idler {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.set_idle_timeout(self.timeout);
        }

        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

        fn timeout_connection(&mut self, cx: &mut Context<'_, Self>) {
            self.fired_at.push(cx.clock().now());
            match self.on_timeout {
                OnTimeout::Close => cx.lose_connection(),
                OnTimeout::KeepAlive(again) => {
                    cx.write(b"ping");
                    cx.set_idle_timeout(Some(again));
                }
                OnTimeout::Ignore => {}
            }
        }

        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.lost = Some(reason);
        }
    }

    fn idler(timeout: Duration, on_timeout: OnTimeout) -> TestConnection<Idler> {
        TestConnection::new(Idler::new(timeout, on_timeout))
    }

    #[test]
    fn the_idle_timeout_fires_at_its_due_time_and_the_default_closes() {
        let mut connection = idler(3 * SECOND, OnTimeout::Close);
        connection.advance(10 * SECOND);
        assert_eq!(connection.protocol().fired_at, [3 * SECOND]);
        assert_eq!(connection.clock().now(), 10 * SECOND);
        assert!(connection.is_closing());
    }

    #[test]
    fn data_received_restarts_the_countdown() {
        let mut connection = idler(3 * SECOND, OnTimeout::Close);
        connection.advance(2 * SECOND);
        connection.receive(b"x");
        connection.advance(2 * SECOND);
        assert!(connection.protocol().fired_at.is_empty());
        connection.advance(SECOND);
        assert_eq!(connection.protocol().fired_at, [5 * SECOND]);
    }

    #[test]
    fn bytes_the_peer_reads_are_activity_and_bytes_it_leaves_are_not() {
        let mut connection = idler(3 * SECOND, OnTimeout::Ignore);
        connection.advance(2 * SECOND);
        connection.transport_handle().write(b"unread");
        connection.advance(SECOND);
        assert_eq!(connection.protocol().fired_at, [3 * SECOND]);

        let mut connection = idler(3 * SECOND, OnTimeout::Ignore);
        connection.transport_handle().write(b"read");
        connection.advance(2 * SECOND);
        connection.take_written();
        connection.advance(2 * SECOND);
        assert!(connection.protocol().fired_at.is_empty());
        connection.advance(SECOND);
        assert_eq!(connection.protocol().fired_at, [5 * SECOND]);
    }

    #[test]
    fn it_fires_once_unless_set_again() {
        let mut connection = idler(SECOND, OnTimeout::Ignore);
        connection.advance(10 * SECOND);
        assert_eq!(connection.protocol().fired_at, [SECOND]);
        assert!(!connection.is_closing());

        let mut connection = idler(SECOND, OnTimeout::KeepAlive(2 * SECOND));
        connection.advance(6 * SECOND);
        assert_eq!(
            connection.protocol().fired_at,
            [SECOND, 3 * SECOND, 5 * SECOND]
        );
        assert_eq!(connection.take_written(), &b"pingpingping"[..]);
    }

    #[test]
    fn a_zero_timeout_set_again_from_the_callback_waits_for_the_next_advance() {
        let mut connection = idler(SECOND, OnTimeout::KeepAlive(Duration::ZERO));
        connection.advance(5 * SECOND);
        assert_eq!(connection.protocol().fired_at, [SECOND]);
        connection.advance(Duration::ZERO);
        assert_eq!(connection.protocol().fired_at, [SECOND, 5 * SECOND]);
    }

    #[test]
    fn none_stops_watching() {
        let mut connection = idler(SECOND, OnTimeout::Close);
        connection
            .handle()
            .call(|_, cx| cx.set_idle_timeout(None))
            .detach();
        connection.advance(10 * SECOND);
        assert!(connection.protocol().fired_at.is_empty());
    }

    #[test]
    fn a_close_the_peer_does_not_take_ends_one_more_timeout_later() {
        let mut connection = idler(SECOND, OnTimeout::Close);
        connection.transport_handle().write(b"never read");
        connection.advance(SECOND);
        assert!(connection.is_closing() && !connection.is_lost());
        connection.advance(SECOND);
        assert!(connection.is_lost());
        let reason = connection.protocol().lost.clone().unwrap();
        assert!(matches!(
            reason.error(),
            Some(ConnectionError::IdleTimeout { timeout }) if *timeout == SECOND
        ));
    }

    #[test]
    fn a_timeout_fires_on_time_when_the_clock_is_moved_directly() {
        let mut connection = idler(SECOND, OnTimeout::Close);
        connection.clock().advance(2 * SECOND);
        assert_eq!(connection.protocol().fired_at, [SECOND]);
        assert!(
            connection.is_lost(),
            "nothing was unsent: the close completed"
        );
        assert!(!connection.receive(b"too late"));
    }

    /// Records write pressure.
    #[derive(Default)]
    struct Pressured(Vec<&'static str>);

    impl Protocol for Pressured {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.set_write_buffer_limits(10, 4).unwrap();
        }
        fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
            cx.write(&data);
        }
        fn pause_producing(&mut self, _: &mut Context<'_, Self>) {
            self.0.push("pause");
        }
        fn resume_producing(&mut self, _: &mut Context<'_, Self>) {
            self.0.push("resume");
        }
    }

    #[test]
    fn limits_the_protocol_sets_move_its_pause_and_resume() {
        let mut connection = TestConnection::new(Pressured::default());
        connection.receive(b"0123456789");
        assert!(connection.protocol().0.is_empty());
        connection.receive(b"a");
        assert_eq!(connection.protocol().0, ["pause"]);
        // New limits apply at the next check: 11 unsent is at or below the new low mark.
        connection
            .handle()
            .call(|_, cx| cx.set_write_buffer_limits(20, 12).unwrap())
            .detach();
        connection.run_pending();
        assert_eq!(connection.protocol().0, ["pause", "resume"]);
        connection.receive(b"0123456789");
        assert_eq!(connection.protocol().0, ["pause", "resume", "pause"]);
        connection.take_written();
        assert_eq!(
            connection.protocol().0,
            ["pause", "resume", "pause", "resume"]
        );
    }

    /// Wants to stay half-open after EOF, and shuts its write side after one reply.
    struct Replier(Option<DisconnectReason>);

    impl Replier {
        fn lost_clean(&self) -> bool {
            self.0.as_ref().is_some_and(DisconnectReason::is_clean)
        }
    }

    impl Protocol for Replier {
        fn data_received(&mut self, cx: &mut Context<'_, Self>, _: Bytes) {
            cx.write(b"reply");
            cx.lose_write_connection();
        }
        fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
            true
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.0 = Some(reason);
        }
    }

    #[test]
    fn eof_after_the_write_side_is_closed_closes_whatever_eof_received_says() {
        let mut connection = TestConnection::new(Replier(None));
        connection.receive(b"question");
        assert_eq!(connection.take_written(), &b"reply"[..]);
        assert!(
            connection.is_write_shut(),
            "shut once what came before is sent"
        );
        assert!(connection.receive(b"more is still delivered"));
        assert!(
            connection.take_written().is_empty(),
            "written after the shutdown: dropped"
        );
        assert!(!connection.is_closing());
        assert!(connection.receive_eof());
        assert!(connection.is_lost());
        assert!(connection.protocol_mut().lost_clean());
    }

    /// Counts what it received.
    #[derive(Default)]
    struct Counter(usize);

    impl Protocol for Counter {
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
            self.0 += data.len();
        }
    }

    #[test]
    #[should_panic(expected = "protocol() or protocol_mut() returned is still alive")]
    fn asking_the_connection_while_holding_its_protocol_fails_with_a_message() {
        let connection = TestConnection::new(Counter::default());
        let counter = connection.protocol();
        let _ = (counter.0, connection.is_closing());
    }

    /// Counts what it received, and closes when idle for a second.
    #[derive(Default)]
    struct IdleCounter;

    impl Protocol for IdleCounter {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.set_idle_timeout(Some(SECOND));
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }

    #[test]
    #[should_panic(expected = "protocol() or protocol_mut() returned is still alive")]
    fn a_timer_firing_while_the_test_holds_the_protocol_fails_rather_than_waiting() {
        let connection = TestConnection::new(IdleCounter);
        let clock = connection.clock().clone();
        let _held = connection.protocol();
        clock.advance(2 * SECOND);
    }

    #[test]
    fn the_protocol_can_be_read_again_once_the_guard_is_gone() {
        let mut connection = TestConnection::new(Counter::default());
        connection.receive(b"abc");
        let received = connection.protocol().0;
        connection.receive(b"de");
        assert_eq!((received, connection.protocol().0), (3, 5));
        assert!(!connection.is_closing());
    }
}
