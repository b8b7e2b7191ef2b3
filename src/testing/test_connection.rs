//! Driving one protocol over a [`StringTransport`]: [`TestConnection`].

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::{FakeClock, StringTransport};
use crate::handle::{Command, CommandQueue};
use crate::producer::{Signal, WritePressure};
use crate::{
    Clock as _, DisconnectReason, Error, Protocol, ProtocolHandle, Transport, TransportRef,
};

/// A protocol connected to a [`StringTransport`], with the reactor's side of the contract
/// played by method calls: Twisted's `makeConnection` + `dataReceived` in a test.
///
/// It keeps the reactor's promises: `connection_made` first; no empty `data_received`;
/// nothing delivered once the protocol asked to close; `connection_lost` exactly once;
/// [`pause_producing`](Protocol::pause_producing) when the bytes written and not yet taken
/// by the test cross the high-water mark ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH)
/// unless the protocol [set](Transport::set_write_buffer_limits) its own) and
/// [`resume_producing`](Protocol::resume_producing) when taking them brings them down to
/// the low one ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW)) (to a registered
/// [`Producer`](crate::Producer) instead, if there is one; a pull producer is asked for
/// chunks while the bytes are at or below the low-water mark); and [`ProtocolHandle`] calls run between events, in order
/// (before each delivery, or when you call [`run_commands`](TestConnection::run_commands)).
///
/// Time is a fake [`FakeClock`] ([`clock`](TestConnection::clock), or one you share with
/// [`with_clock`](TestConnection::with_clock)): [`advance`](TestConnection::advance) moves
/// it and fires an [idle timeout](Transport::set_idle_timeout) at the moment it is due,
/// as the reactor would. Activity, for the idle timeout, is data delivered by
/// [`receive`](TestConnection::receive) and bytes the test takes from the transport (the
/// peer reading them). A timeout that passed while the clock was advanced some other way
/// fires at the next `receive`, `receive_eof` or `advance`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::{DisconnectReason, Protocol, TransportRef};
///
/// #[derive(Default)]
/// struct Recorder {
///     seen: Vec<u8>,
///     lost: Option<DisconnectReason>,
/// }
///
/// impl Protocol for Recorder {
///     fn data_received(&mut self, _: &TransportRef, data: Bytes) {
///         self.seen.extend_from_slice(&data);
///     }
///     fn connection_lost(&mut self, reason: DisconnectReason) {
///         self.lost = Some(reason);
///     }
/// }
///
/// let mut connection = TestConnection::new(Recorder::default());
/// for byte in b"one byte at a time" {
///     connection.receive(&[*byte]);
/// }
/// connection.disconnect(DisconnectReason::Done);
/// assert_eq!(connection.protocol().seen, b"one byte at a time");
/// assert!(connection.protocol().lost.as_ref().unwrap().is_clean());
/// ```
pub struct TestConnection<P> {
    protocol: P,
    transport: Arc<StringTransport>,
    transport_ref: TransportRef,
    queue: Arc<TestQueue<P>>,
    lost: bool,
    pressure: WritePressure,
    /// Run after `connection_lost` (a client factory's `client_connection_lost`).
    on_lost: Option<LostHook>,
    clock: FakeClock,
    idle: Option<IdleCountdown>,
    /// The transport's `taken_total` last seen.
    taken_seen: u64,
}

/// An armed idle timeout, on the fake clock.
#[derive(Debug)]
struct IdleCountdown {
    timeout: Duration,
    last_activity: Duration,
}

impl IdleCountdown {
    fn due(&self) -> Duration {
        self.last_activity.saturating_add(self.timeout)
    }
}

/// Run once the connection is lost.
pub(crate) type LostHook = Box<dyn FnOnce(&DisconnectReason) + Send>;

/// The command queue behind a test connection's handles.
struct TestQueue<P> {
    state: Mutex<QueueState<P>>,
    transport: TransportRef,
}

struct QueueState<P> {
    commands: Vec<Command<P>>,
    ended: bool,
}

impl<P> TestQueue<P> {
    fn lock(&self) -> MutexGuard<'_, QueueState<P>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<P: Protocol> CommandQueue<P> for TestQueue<P> {
    fn push_command(&self, command: Command<P>) -> Result<(), Command<P>> {
        let mut state = self.lock();
        if state.ended {
            return Err(command);
        }
        state.commands.push(command);
        Ok(())
    }

    fn transport(self: Arc<Self>) -> TransportRef {
        self.transport.clone()
    }

    fn is_connected(&self) -> bool {
        !self.lock().ended
    }
}

impl<P: Protocol> TestConnection<P> {
    /// Connects `protocol` to a new [`StringTransport`] and calls `connection_made`.
    pub fn new(protocol: P) -> TestConnection<P> {
        TestConnection::with_transport(protocol, StringTransport::new())
    }

    /// Connects `protocol` to `transport` and calls `connection_made`.
    pub fn with_transport(mut protocol: P, transport: Arc<StringTransport>) -> TestConnection<P> {
        let transport_ref: TransportRef = transport.clone();
        protocol.connection_made(&transport_ref);
        let queue = Arc::new(TestQueue {
            state: Mutex::new(QueueState {
                commands: Vec::new(),
                ended: false,
            }),
            transport: transport_ref.clone(),
        });
        let mut connection = TestConnection {
            protocol,
            transport,
            transport_ref,
            queue,
            lost: false,
            pressure: WritePressure::default(),
            on_lost: None,
            clock: FakeClock::new(),
            idle: None,
            taken_seen: 0,
        };
        connection.after_event();
        connection
    }

    /// Uses `clock` (shared with the protocol, say) as the connection's time. An idle
    /// countdown under way starts again at `clock`'s present time.
    pub fn with_clock(mut self, clock: FakeClock) -> TestConnection<P> {
        self.clock = clock;
        let now = self.clock.now();
        if let Some(idle) = self.idle.as_mut() {
            idle.last_activity = now;
        }
        self
    }

    /// The connection's fake clock.
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// Moves the connection's clock `by` forward (running the clock's due calls, as
    /// [`FakeClock::advance`] does), firing the idle timeout each time it comes due on the way
    /// — at its due time, so `now()` in `timeout_connection` reads it — then runs queued
    /// handle calls. A timeout set again with a zero duration from `timeout_connection`
    /// fires at the next `advance`, not in this one (it cannot spin).
    #[doc(alias = "advance_clock")]
    pub fn advance(&mut self, by: Duration) {
        let end = self.clock.now().saturating_add(by);
        let mut fired_at = None;
        loop {
            self.sync_idle();
            let Some(due) = self.idle.as_ref().map(IdleCountdown::due) else {
                break;
            };
            if self.lost || due > end || fired_at.is_some_and(|at| due <= at) {
                break;
            }
            let now = self.clock.now();
            if due > now {
                self.clock.advance(due - now);
            }
            fired_at = Some(self.clock.now());
            self.fire_idle_if_due();
        }
        let now = self.clock.now();
        if end > now {
            self.clock.advance(end - now);
        }
        self.run_commands();
    }

    /// A handle on the protocol, as [`Reactor::connect_tcp`](crate::Reactor::connect_tcp)
    /// gives: its calls run at the next event or [`run_commands`](TestConnection::run_commands).
    pub fn handle(&self) -> ProtocolHandle<P> {
        ProtocolHandle::new(self.queue.clone())
    }

    /// Runs the calls queued through [`handle`](TestConnection::handle)s, in order.
    pub fn run_commands(&mut self) {
        loop {
            let commands = std::mem::take(&mut self.queue.lock().commands);
            if commands.is_empty() {
                break;
            }
            for command in commands {
                // A panicking call fails its own Deferred; the test sees that there.
                let _ = command(Some(&mut self.protocol));
            }
        }
        self.after_event();
    }

    /// Delivers `data` as one chunk. Returns whether it was delivered: empty data, data
    /// after the protocol asked to close, and data after the connection ended are not (a
    /// real connection stops reading at those points).
    pub fn receive(&mut self, data: &[u8]) -> bool {
        self.run_commands();
        self.fire_idle_if_due();
        if data.is_empty() || self.lost || self.transport.is_closing() {
            return false;
        }
        self.touch_idle();
        self.protocol
            .data_received(&self.transport_ref, Bytes::copy_from_slice(data));
        self.after_event();
        true
    }

    /// Delivers `data` split into chunks of `size` bytes (the last may be shorter).
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    pub fn receive_in_chunks(&mut self, data: &[u8], size: usize) {
        for chunk in data.chunks(size) {
            self.receive(chunk);
        }
    }

    /// Tells the protocol the peer sent EOF. If it does not ask to stay half-open, or if
    /// its own write side is shut down
    /// ([`lose_write_connection`](Transport::lose_write_connection)), the transport is asked
    /// to close, as the reactor would. Returns what `eof_received` returned (`false` if it
    /// was not called: the connection was closing or over).
    pub fn receive_eof(&mut self) -> bool {
        self.run_commands();
        self.fire_idle_if_due();
        if self.lost || self.transport.is_closing() {
            return false;
        }
        let keep_open = self.protocol.eof_received(&self.transport_ref);
        if !keep_open || self.transport.is_write_closed() {
            self.transport.lose_connection();
        }
        self.after_event();
        keep_open
    }

    /// Ends the connection: calls `connection_lost(reason)` unless it was already called.
    /// Calls still queued through handles then fail with
    /// [`Error::ConnectionClosed`](crate::Error::ConnectionClosed).
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        if self.lost {
            return;
        }
        self.run_commands();
        self.lost = true;
        let commands = {
            let mut state = self.queue.lock();
            state.ended = true;
            std::mem::take(&mut state.commands)
        };
        for command in commands {
            let _ = command(None);
        }
        if let Some(producer) = self.transport.take_producer() {
            producer.lock().stop_producing();
        }
        self.protocol.connection_lost(reason.clone());
        if let Some(on_lost) = self.on_lost.take() {
            on_lost(&reason);
        }
    }

    /// Runs `hook` once the connection is lost, after the protocol's `connection_lost`.
    pub(crate) fn on_lost(&mut self, hook: LostHook) {
        self.on_lost = Some(hook);
    }

    /// Everything the protocol wrote since the last `take_written`.
    pub fn written(&self) -> Bytes {
        self.transport.value()
    }

    /// Everything the protocol wrote since the last `take_written`, forgetting it: the
    /// peer read it. A protocol paused for write pressure is resumed.
    pub fn take_written(&mut self) -> Bytes {
        let taken = self.transport.take();
        self.after_event();
        taken
    }

    /// Whether the protocol asked to close (or abort) the connection.
    pub fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// Whether `connection_lost` has been called.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol, mutably (to call its own methods as outside code would).
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// The transport the protocol writes to.
    pub fn transport(&self) -> &Arc<StringTransport> {
        &self.transport
    }

    /// What the reactor's connection does after every callback: write pressure, and the
    /// idle timeout's settings and activity.
    fn after_event(&mut self) {
        self.signal_write_pressure();
        self.sync_idle();
    }

    /// Takes in a new idle timeout, and the peer's reading as activity.
    fn sync_idle(&mut self) {
        if let Some(change) = self.transport.take_idle_change() {
            let now = self.clock.now();
            self.idle = change.map(|timeout| IdleCountdown {
                timeout,
                last_activity: now,
            });
        }
        let taken = self.transport.taken_total();
        if taken != self.taken_seen {
            self.taken_seen = taken;
            self.touch_idle();
        }
    }

    fn touch_idle(&mut self) {
        let now = self.clock.now();
        if let Some(idle) = self.idle.as_mut() {
            idle.last_activity = now;
        }
    }

    /// Fires the idle timeout if it is due, as the reactor does: `timeout_connection`
    /// once; or, for a connection already closing whose last bytes the peer is not taking,
    /// the end of the connection (`Lost` with [`Error::IdleTimeout`]).
    fn fire_idle_if_due(&mut self) {
        self.sync_idle();
        let now = self.clock.now();
        let Some(idle) = self.idle.as_mut().filter(|idle| idle.due() <= now) else {
            return;
        };
        let timeout = idle.timeout;
        idle.last_activity = now;
        if self.lost {
            return;
        }
        if self.transport.is_closing() {
            // On the reactor a close with nothing left to send is over already, and an
            // abort is the test's to finish: only a stuck close is ended here.
            self.idle = None;
            if !self.transport.is_aborted() && self.transport.write_buffer_size() > 0 {
                let error = io::Error::new(io::ErrorKind::TimedOut, Error::IdleTimeout { timeout });
                self.disconnect(DisconnectReason::lost(error));
            }
            return;
        }
        self.protocol.timeout_connection(&self.transport_ref);
        if !self.transport.is_closing() {
            // One shot, unless the protocol sets it again (taken in below).
            self.idle = None;
        }
        self.after_event();
    }

    /// Tells the producer (or the protocol) when what was written and not yet taken by
    /// the test crosses the watermarks, and asks a pull producer for more, as the reactor
    /// does. A pull producer that writes is asked again until the buffer is above the
    /// low-water mark or it stops writing.
    fn signal_write_pressure(&mut self) {
        for _ in 0..MAX_PULLS_PER_EVENT {
            if self.lost {
                return;
            }
            let unsent = self.transport.write_buffer_size();
            let producer = self.transport.producer();
            let limits = self.transport.write_buffer_limits();
            match (
                self.pressure
                    .check(unsent, producer.as_ref().map(|p| p.kind), limits),
                producer,
            ) {
                (Signal::Nothing, _) | (Signal::Pull, None) => return,
                (Signal::Pause, None) => return self.protocol.pause_producing(&self.transport_ref),
                (Signal::Resume, None) => {
                    return self.protocol.resume_producing(&self.transport_ref)
                }
                (Signal::Pause, Some(producer)) => return producer.lock().pause_producing(),
                (Signal::Resume, Some(producer)) => return producer.lock().resume_producing(),
                (Signal::Pull, Some(producer)) => {
                    producer.lock().resume_producing();
                    if self.transport.write_buffer_size() == unsent {
                        return; // it wrote nothing: ask again at the next event
                    }
                }
            }
        }
    }
}

/// How many chunks a pull producer is asked for in one event, at most.
const MAX_PULLS_PER_EVENT: usize = 64;

impl<P> fmt::Debug for TestConnection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("protocol", &std::any::type_name::<P>())
            .field("transport", &self.transport)
            .field("lost", &self.lost)
            .field("pressure", &self.pressure)
            .field("clock", &self.clock.now())
            .field("idle", &self.idle)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        clock: FakeClock,
        fired_at: Vec<Duration>,
        lost: Option<DisconnectReason>,
    }

    impl Idler {
        fn new(timeout: Duration, on_timeout: OnTimeout, clock: &FakeClock) -> Idler {
            Idler {
                timeout: Some(timeout),
                on_timeout,
                clock: clock.clone(),
                fired_at: Vec::new(),
                lost: None,
            }
        }
    }

    impl Protocol for Idler {
        fn connection_made(&mut self, transport: &TransportRef) {
            transport.set_idle_timeout(self.timeout).unwrap();
        }

        fn data_received(&mut self, _: &TransportRef, _: Bytes) {}

        fn timeout_connection(&mut self, transport: &TransportRef) {
            self.fired_at.push(self.clock.now());
            match self.on_timeout {
                OnTimeout::Close => transport.lose_connection(),
                OnTimeout::KeepAlive(again) => {
                    transport.write(b"ping");
                    transport.set_idle_timeout(Some(again)).unwrap();
                }
                OnTimeout::Ignore => {}
            }
        }

        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.lost = Some(reason);
        }
    }

    fn idler(timeout: Duration, on_timeout: OnTimeout) -> TestConnection<Idler> {
        let clock = FakeClock::new();
        TestConnection::new(Idler::new(timeout, on_timeout, &clock)).with_clock(clock)
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
        connection.transport().write(b"unread");
        connection.advance(SECOND);
        assert_eq!(connection.protocol().fired_at, [3 * SECOND]);

        let mut connection = idler(3 * SECOND, OnTimeout::Ignore);
        connection.transport().write(b"read");
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
        connection.transport().set_idle_timeout(None).unwrap();
        connection.advance(10 * SECOND);
        assert!(connection.protocol().fired_at.is_empty());
    }

    #[test]
    fn a_close_the_peer_does_not_take_ends_one_more_timeout_later() {
        let mut connection = idler(SECOND, OnTimeout::Close);
        connection.transport().write(b"never read");
        connection.advance(SECOND);
        assert!(connection.is_closing() && !connection.is_lost());
        connection.advance(SECOND);
        assert!(connection.is_lost());
        let reason = connection.protocol().lost.clone().unwrap();
        let error = reason.error().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(matches!(
            error.get_ref().unwrap().downcast_ref::<Error>(),
            Some(Error::IdleTimeout { timeout }) if *timeout == SECOND
        ));
    }

    #[test]
    fn a_timeout_past_while_the_clock_moved_elsewhere_fires_before_the_next_delivery() {
        let mut connection = idler(SECOND, OnTimeout::Close);
        connection.clock().advance(2 * SECOND);
        assert!(!connection.receive(b"too late"));
        assert_eq!(connection.protocol().fired_at, [2 * SECOND]);
    }

    /// Records write pressure.
    #[derive(Default)]
    struct Pressured(Vec<&'static str>);

    impl Protocol for Pressured {
        fn connection_made(&mut self, transport: &TransportRef) {
            transport.set_write_buffer_limits(10, 4).unwrap();
        }
        fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
            transport.write(&data);
        }
        fn pause_producing(&mut self, _: &TransportRef) {
            self.0.push("pause");
        }
        fn resume_producing(&mut self, _: &TransportRef) {
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
            .transport()
            .set_write_buffer_limits(20, 12)
            .unwrap();
        connection.run_commands();
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
    struct Replier;

    impl Protocol for Replier {
        fn data_received(&mut self, transport: &TransportRef, _: Bytes) {
            transport.write(b"reply");
            transport.lose_write_connection();
        }
        fn eof_received(&mut self, _: &TransportRef) -> bool {
            true
        }
    }

    #[test]
    fn eof_after_the_write_side_is_closed_closes_whatever_eof_received_says() {
        let mut connection = TestConnection::new(Replier);
        connection.receive(b"question");
        assert!(connection.receive(b"more is still delivered"));
        assert_eq!(connection.take_written(), &b"reply"[..]);
        assert!(!connection.is_closing());
        assert!(connection.receive_eof());
        assert!(connection.is_closing());
    }
}
