//! Driving one protocol over a [`StringTransport`]: [`TestConnection`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::StringTransport;
use crate::handle::{Command, CommandQueue};
use crate::producer::{Signal, WritePressure};
use crate::{DisconnectReason, Protocol, ProtocolHandle, Transport, TransportRef};

/// A protocol connected to a [`StringTransport`], with the reactor's side of the contract
/// played by method calls: Twisted's `makeConnection` + `dataReceived` in a test.
///
/// It keeps the reactor's promises: `connection_made` first; no empty `data_received`;
/// nothing delivered once the protocol asked to close; `connection_lost` exactly once;
/// [`pause_producing`](Protocol::pause_producing) when the bytes written and not yet taken
/// by the test cross [`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) and
/// [`resume_producing`](Protocol::resume_producing) when taking them brings them down to
/// [`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW) (to a registered
/// [`Producer`](crate::Producer) instead, if there is one; a pull producer is asked for
/// chunks while the bytes are at or below the low-water mark); and [`ProtocolHandle`] calls run between events, in order
/// (before each delivery, or when you call [`run_commands`](TestConnection::run_commands)).
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
        };
        connection.signal_write_pressure();
        connection
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
        self.signal_write_pressure();
    }

    /// Delivers `data` as one chunk. Returns whether it was delivered: empty data, data
    /// after the protocol asked to close, and data after the connection ended are not (a
    /// real connection stops reading at those points).
    pub fn receive(&mut self, data: &[u8]) -> bool {
        self.run_commands();
        if data.is_empty() || self.lost || self.transport.is_closing() {
            return false;
        }
        self.protocol
            .data_received(&self.transport_ref, Bytes::copy_from_slice(data));
        self.signal_write_pressure();
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

    /// Tells the protocol the peer sent EOF. If it does not ask to stay half-open, the
    /// transport is asked to close, as the reactor would. Returns what `eof_received`
    /// returned (`false` if it was not called: the connection was closing or over).
    pub fn receive_eof(&mut self) -> bool {
        self.run_commands();
        if self.lost || self.transport.is_closing() {
            return false;
        }
        let keep_open = self.protocol.eof_received(&self.transport_ref);
        if !keep_open {
            self.transport.lose_connection();
        }
        self.signal_write_pressure();
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
        self.signal_write_pressure();
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
            match (
                self.pressure
                    .check(unsent, producer.as_ref().map(|p| p.kind)),
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
            .finish()
    }
}
