//! Two protocols connected in memory: [`Loopback`], and [`stream_loopback`] for the async
//! face.
//!
//! Twisted's `iosim` (`connectedServerAndClient` + `IOPump`), with the faults a real
//! network has: chunking, latency on the fake clock, a reset, a half-close, a slow reader.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

use super::{FakeClock, StringTransport, TestConnection};
use crate::stream::{Connection, StreamProtocol, StreamShared};
use crate::{Address, Clock as _, DisconnectReason, Protocol, TransportRef};

/// How many pump rounds [`Loopback::pump`] allows before deciding the pair never goes
/// quiet (a protocol that answers every message with a message, forever).
pub const MAX_PUMP_ROUNDS: usize = 1000;

/// One end of a [`Loopback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that was connected to.
    Server,
    /// The end that connected.
    Client,
}

/// A server protocol and a client protocol connected in memory: what one writes, the
/// other receives when you [`pump`](Loopback::pump).
///
/// Each end is a [`TestConnection`] (so handles, write pressure and the reactor's other
/// promises hold). Closing behaves as on TCP: once an end that asked to close has had all
/// its bytes delivered, its peer receives EOF and the closing end its `connection_lost`;
/// an end that shut down only its write side
/// ([`lose_write_connection`](crate::Transport::lose_write_connection)) has its peer
/// receive EOF once its bytes are delivered, and goes on receiving; bytes sent to an end
/// whose connection is over are dropped.
///
/// Control: [`set_chunk_size`](Loopback::set_chunk_size) (deliver in pieces),
/// [`set_server_first`](Loopback::set_server_first) (order within a step),
/// [`with_latency`](Loopback::with_latency) (bytes arrive after a delay on the fake
/// clock), [`set_reading`](Loopback::set_reading) (a slow reader: bytes for it stay in
/// its peer's write buffer, so the peer's producer is paused), [`send_eof`](Loopback::send_eof)
/// (a half-close) and [`reset`](Loopback::reset) (a connection reset).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::Loopback;
/// use torsade::{Protocol, TransportRef};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
///         transport.write(&data);
///     }
/// }
///
/// #[derive(Default)]
/// struct Client(Vec<u8>);
/// impl Protocol for Client {
///     fn connection_made(&mut self, transport: &TransportRef) {
///         transport.write(b"ping");
///     }
///     fn data_received(&mut self, _: &TransportRef, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// let mut pair = Loopback::new(Echo, Client::default());
/// pair.set_chunk_size(Some(1));
/// pair.pump();
/// assert_eq!(pair.client().protocol().0, b"ping");
/// ```
pub struct Loopback<S, C> {
    server: TestConnection<S>,
    client: TestConnection<C>,
    chunk_size: Option<usize>,
    server_first: bool,
    latency: Option<(FakeClock, Duration)>,
    /// Bytes on their way, toward the server and toward the client, with when they land.
    to_server: Wire,
    to_client: Wire,
}

/// One direction of the pair.
#[derive(Default)]
struct Wire {
    /// Segments in flight, with the time they arrive.
    in_flight: VecDeque<(Duration, Bytes)>,
    /// The receiving end takes bytes (a slow reader does not).
    paused: bool,
    /// The sending end half-closed: EOF follows the bytes in flight.
    eof_pending: bool,
    /// EOF was delivered.
    eof_sent: bool,
}

impl<S: Protocol, C: Protocol> Loopback<S, C> {
    /// Connects `server` and `client` (`connection_made` on the server first), with
    /// addresses `10.0.0.1:8000` (server) and `10.0.0.2:40000` (client).
    pub fn new(server: S, client: C) -> Loopback<S, C> {
        let server_address = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 8000)));
        let client_address = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40000)));
        let server = TestConnection::with_transport(
            server,
            StringTransport::with_addresses(server_address, client_address),
        );
        let client = TestConnection::with_transport(
            client,
            StringTransport::with_addresses(client_address, server_address),
        );
        Loopback {
            server,
            client,
            chunk_size: None,
            server_first: false,
            latency: None,
            to_server: Wire::default(),
            to_client: Wire::default(),
        }
    }

    /// Delivers bytes in pieces of at most `size` (`None`: as written).
    ///
    /// # Panics
    ///
    /// If `size` is `Some(0)`.
    pub fn set_chunk_size(&mut self, size: Option<usize>) {
        assert_ne!(size, Some(0), "chunks must hold at least one byte");
        self.chunk_size = size;
    }

    /// Within a step, delivers the server's bytes before the client's (default: client's
    /// first).
    pub fn set_server_first(&mut self, server_first: bool) {
        self.server_first = server_first;
    }

    /// Bytes take `latency` on `clock` to arrive: [`pump`](Loopback::pump) delivers only
    /// what has landed, so advance the clock between pumps.
    pub fn with_latency(mut self, clock: &FakeClock, latency: Duration) -> Loopback<S, C> {
        self.latency = Some((clock.clone(), latency));
        self
    }

    /// Whether `side` reads what is sent to it. A side that does not read leaves the bytes
    /// in its peer's write buffer (a slow reader); its peer is paused past the high-water
    /// mark, and resumed once reading resumes and the buffer drains.
    pub fn set_reading(&mut self, side: Side, reading: bool) {
        self.wire_to(side).paused = !reading;
    }

    /// `side` shuts down its writing side: its peer receives EOF after the bytes already
    /// sent. (The connection stays open the other way.)
    pub fn send_eof(&mut self, side: Side) {
        self.wire_to(opposite(side)).eof_pending = true;
    }

    /// The connection is reset: both ends lose it at once with `ConnectionReset`; bytes in
    /// flight are lost.
    pub fn reset(&mut self) {
        let reason = DisconnectReason::lost(std::io::ErrorKind::ConnectionReset.into());
        self.to_server.in_flight.clear();
        self.to_client.in_flight.clear();
        self.server.disconnect(reason.clone());
        self.client.disconnect(reason);
    }

    /// Moves bytes both ways until nothing moves; returns how many bytes moved.
    ///
    /// # Panics
    ///
    /// After [`MAX_PUMP_ROUNDS`] rounds that all moved something: the protocols talk
    /// forever.
    pub fn pump(&mut self) -> usize {
        let mut moved = 0;
        for _ in 0..MAX_PUMP_ROUNDS {
            let step = self.pump_once();
            if step == 0 && !self.settle_closes() {
                return moved;
            }
            moved += step;
        }
        panic!("the loopback pair was still talking after {MAX_PUMP_ROUNDS} rounds");
    }

    /// One step: runs queued handle calls, then delivers what each side wrote (in the
    /// configured order). Returns how many bytes were delivered.
    pub fn pump_once(&mut self) -> usize {
        self.server.run_commands();
        self.client.run_commands();
        let order = if self.server_first {
            [Side::Client, Side::Server]
        } else {
            [Side::Server, Side::Client]
        };
        // Each side's bytes are carried to the other: `Client` means "to the client".
        order
            .into_iter()
            .map(|destination| self.carry(destination))
            .sum()
    }

    /// The server's end.
    pub fn server(&self) -> &TestConnection<S> {
        &self.server
    }

    /// The server's end, mutably.
    pub fn server_mut(&mut self) -> &mut TestConnection<S> {
        &mut self.server
    }

    /// The client's end.
    pub fn client(&self) -> &TestConnection<C> {
        &self.client
    }

    /// The client's end, mutably.
    pub fn client_mut(&mut self) -> &mut TestConnection<C> {
        &mut self.client
    }

    fn wire_to(&mut self, side: Side) -> &mut Wire {
        match side {
            Side::Server => &mut self.to_server,
            Side::Client => &mut self.to_client,
        }
    }

    fn now(&self) -> Duration {
        self.latency
            .as_ref()
            .map_or(Duration::ZERO, |(clock, _)| clock.now())
    }

    /// Moves what `destination`'s peer wrote onto the wire, and delivers what has landed.
    fn carry(&mut self, destination: Side) -> usize {
        let landing = self.now() + self.latency.as_ref().map_or(Duration::ZERO, |(_, d)| *d);
        let chunk_size = self.chunk_size;
        let now = self.now();
        let (wire, source_lost, destination_lost) = match destination {
            Side::Server => (
                &mut self.to_server,
                self.client.is_lost(),
                self.server.is_lost(),
            ),
            Side::Client => (
                &mut self.to_client,
                self.server.is_lost(),
                self.client.is_lost(),
            ),
        };
        if wire.paused && !destination_lost {
            return 0;
        }
        let sent = match destination {
            Side::Server => self.client.take_written(),
            Side::Client => self.server.take_written(),
        };
        if !sent.is_empty() && !source_lost {
            wire.in_flight.push_back((landing, sent));
        }
        let mut landed = Vec::new();
        while wire.in_flight.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, bytes)) = wire.in_flight.pop_front() {
                landed.push(bytes);
            }
        }
        let eof = wire.eof_pending && !wire.eof_sent && wire.in_flight.is_empty();
        if eof {
            wire.eof_sent = true;
        }
        let mut delivered = 0;
        for bytes in landed {
            delivered += bytes.len();
            for piece in pieces(&bytes, chunk_size) {
                match destination {
                    Side::Server => self.server.receive(piece),
                    Side::Client => self.client.receive(piece),
                };
            }
        }
        if eof {
            match destination {
                Side::Server => self.server.receive_eof(),
                Side::Client => self.client.receive_eof(),
            };
        }
        delivered
    }

    /// Once nothing moves: ends connections that asked to close and whose bytes are all
    /// delivered (their peer gets EOF first), and sends EOF for an end that shut down its
    /// write side. Returns whether anything changed.
    fn settle_closes(&mut self) -> bool {
        let mut changed = false;
        for side in [Side::Client, Side::Server] {
            let write_closed = self.transport(side).is_write_closed()
                && self.transport(side).value().is_empty()
                && self.wire_to(opposite(side)).in_flight.is_empty();
            if write_closed && !self.wire_to(opposite(side)).eof_sent && !self.peer_lost(side) {
                self.wire_to(opposite(side)).eof_sent = true;
                match side {
                    Side::Server => self.client.receive_eof(),
                    Side::Client => self.server.receive_eof(),
                };
                changed = true;
            }
        }
        for side in [Side::Client, Side::Server] {
            let (closing, lost, unsent) = match side {
                Side::Server => (
                    self.server.is_closing(),
                    self.server.is_lost(),
                    !self.server.written().is_empty() || !self.to_client.in_flight.is_empty(),
                ),
                Side::Client => (
                    self.client.is_closing(),
                    self.client.is_lost(),
                    !self.client.written().is_empty() || !self.to_server.in_flight.is_empty(),
                ),
            };
            // A registered producer holds a close until it is unregistered, as on TCP.
            let producing = self.transport(side).producer_kind().is_some();
            if !closing || lost || producing || (unsent && !self.peer_lost(side)) {
                continue;
            }
            let reason = if self.transport(side).is_aborted() {
                DisconnectReason::Aborted
            } else {
                DisconnectReason::Done
            };
            let wire = self.wire_to(opposite(side));
            if !wire.eof_sent {
                wire.eof_sent = true;
                match side {
                    Side::Server => self.client.receive_eof(),
                    Side::Client => self.server.receive_eof(),
                };
            }
            match side {
                Side::Server => self.server.disconnect(reason),
                Side::Client => self.client.disconnect(reason),
            }
            changed = true;
        }
        changed
    }

    fn peer_lost(&self, side: Side) -> bool {
        match side {
            Side::Server => self.client.is_lost(),
            Side::Client => self.server.is_lost(),
        }
    }

    fn transport(&self, side: Side) -> &StringTransport {
        match side {
            Side::Server => self.server.transport(),
            Side::Client => self.client.transport(),
        }
    }
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Server => Side::Client,
        Side::Client => Side::Server,
    }
}

fn pieces(bytes: &Bytes, size: Option<usize>) -> Vec<&[u8]> {
    match size {
        Some(size) => bytes.chunks(size).collect(),
        None => vec![&bytes[..]],
    }
}

/// An async [`Connection`] connected in memory to `server`: drive the connection from a
/// future (e.g. [`Deferred::from_future`](crate::Deferred::from_future), which needs no
/// runtime) and move the bytes with [`Loopback::pump`].
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::stream_loopback;
/// use torsade::{Deferred, Protocol, TransportRef};
///
/// struct Shout;
/// impl Protocol for Shout {
///     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
///         transport.write(&data.to_ascii_uppercase());
///     }
/// }
///
/// let (mut connection, mut pair) = stream_loopback(Shout);
/// let mut answer = Deferred::from_future(async move {
///     connection.write_line(b"hello").await?;
///     connection.read_line().await
/// });
/// pair.pump();
/// let line = answer.take_result().unwrap().unwrap().unwrap();
/// assert_eq!(line.as_deref(), Some(&b"HELLO"[..]));
/// ```
pub fn stream_loopback<S: Protocol>(server: S) -> (Connection, Loopback<S, impl Protocol>) {
    let shared = StreamShared::new();
    let pair = Loopback::new(server, StreamProtocol::new(shared.clone()));
    let transport: TransportRef = pair.client().transport().clone();
    (Connection::new(shared, transport), pair)
}

impl<S, C> fmt::Debug for Loopback<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loopback")
            .field("server", &self.server)
            .field("client", &self.client)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends a request, shuts its write side, and collects the answer.
    #[derive(Default)]
    struct Asker {
        answer: Vec<u8>,
        lost: Option<DisconnectReason>,
    }

    impl Protocol for Asker {
        fn connection_made(&mut self, transport: &TransportRef) {
            transport.write(b"question");
            transport.lose_write_connection();
        }
        fn data_received(&mut self, _: &TransportRef, data: Bytes) {
            self.answer.extend_from_slice(&data);
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.lost = Some(reason);
        }
    }

    /// Answers only once the whole request is in (at EOF), then closes.
    #[derive(Default)]
    struct AnswerAtEof {
        request: Vec<u8>,
    }

    impl Protocol for AnswerAtEof {
        fn data_received(&mut self, _: &TransportRef, data: Bytes) {
            self.request.extend_from_slice(&data);
        }
        fn eof_received(&mut self, transport: &TransportRef) -> bool {
            transport.write(&self.request.to_ascii_uppercase());
            false
        }
    }

    #[test]
    fn a_half_closed_end_still_receives_until_its_peer_closes() {
        let mut pair = Loopback::new(AnswerAtEof::default(), Asker::default());
        pair.set_chunk_size(Some(3));
        pair.pump();
        assert_eq!(pair.client().protocol().answer, b"QUESTION");
        assert!(pair.client().protocol().lost.as_ref().unwrap().is_clean());
        assert!(pair.server().is_lost());
    }
}
