//! Two protocols connected in memory: [`Loopback`], and [`stream_loopback`] for the async
//! face.
//!
//! Twisted's `iosim` (`connectedServerAndClient` + `IOPump`), with the faults a real
//! network has: chunking, latency on the fake clock, a reset, a half-close, a slow reader.
//! Each end is a [`TestConnection`], so both run the connection core the reactor runs.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

use super::{FakeClock, TestConnection};
use crate::stream::{Connection, StreamProtocol, StreamShared};
use crate::{Address, Clock, DisconnectReason, Protocol};

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

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Server => Side::Client,
            Side::Client => Side::Server,
        }
    }
}

/// A server protocol and a client protocol connected in memory: what one writes, the
/// other receives when you [`pump`](Loopback::pump).
///
/// Each end is a [`TestConnection`] (so handles, write pressure, timers and every other
/// rule of the reactor's connections hold), on one [`FakeClock`]. Closing behaves as on
/// TCP: an end that closes (or shuts down its write side) sends what it wrote, then its
/// peer receives EOF; an end that aborts is followed by EOF too; bytes sent to an end whose
/// connection is over are dropped.
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
/// use torsade::prelude::*;
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         cx.write(&data);
///     }
/// }
///
/// #[derive(Default)]
/// struct Client(Vec<u8>);
/// impl Protocol for Client {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         cx.write(b"ping");
///     }
///     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// let mut pair = Loopback::new(Echo, Client::default());
/// pair.set_chunk_size(Some(1));
/// pair.pump();
/// assert_eq!(pair.client().protocol().0, b"ping");
/// ```
pub struct Loopback<S: Protocol, C: Protocol> {
    server: TestConnection<S>,
    client: TestConnection<C>,
    clock: FakeClock,
    chunk_size: Option<usize>,
    server_first: bool,
    latency: Duration,
    /// Bytes on their way, toward the server and toward the client.
    to_server: Wire,
    to_client: Wire,
}

/// One direction of the pair.
#[derive(Default)]
struct Wire {
    /// Segments in flight, with the time they arrive.
    in_flight: VecDeque<(Duration, Bytes)>,
    /// The receiving end does not read (a slow reader).
    paused: bool,
    /// The test half-closed the sending end: EOF follows the bytes in flight.
    eof_pending: bool,
    /// EOF was delivered.
    eof_sent: bool,
}

impl<S: Protocol, C: Protocol> Loopback<S, C> {
    /// Connects `server` and `client` (`connection_made` on the server first) on a new
    /// fake clock, with addresses `10.0.0.1:8000` (server) and `10.0.0.2:40000` (client).
    pub fn new(server: S, client: C) -> Loopback<S, C> {
        Loopback::with_clock(server, client, &FakeClock::new())
    }

    /// [`new`](Loopback::new), on `clock`.
    pub fn with_clock(server: S, client: C, clock: &FakeClock) -> Loopback<S, C> {
        let server_address = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 8000)));
        let client_address = Address::Tcp(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40000)));
        let server = TestConnection::start(
            server,
            server_address.clone(),
            client_address.clone(),
            clock,
            None,
        );
        let client = TestConnection::start(client, client_address, server_address, clock, None);
        Loopback {
            server,
            client,
            clock: clock.clone(),
            chunk_size: None,
            server_first: false,
            latency: Duration::ZERO,
            to_server: Wire::default(),
            to_client: Wire::default(),
        }
    }

    /// The pair's fake clock.
    pub fn clock(&self) -> &FakeClock {
        &self.clock
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

    /// Bytes take `latency` on the pair's clock to arrive: [`pump`](Loopback::pump)
    /// delivers only what has landed, so advance the clock between pumps.
    pub fn with_latency(mut self, latency: Duration) -> Loopback<S, C> {
        self.latency = latency;
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
        self.wire_to(side.other()).eof_pending = true;
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
            let (step, changed) = self.step();
            if step == 0 && !changed {
                return moved;
            }
            moved += step;
        }
        panic!("the loopback pair was still talking after {MAX_PUMP_ROUNDS} rounds");
    }

    /// One step: runs what handles asked, then delivers what each side wrote (in the
    /// configured order). Returns how many bytes were delivered.
    pub fn pump_once(&mut self) -> usize {
        self.step().0
    }

    /// One step; how many bytes were delivered, and whether an EOF was.
    fn step(&mut self) -> (usize, bool) {
        self.server.run_pending();
        self.client.run_pending();
        let order = if self.server_first {
            [Side::Client, Side::Server]
        } else {
            [Side::Server, Side::Client]
        };
        // Each side's bytes are carried to the other: `Client` means "to the client".
        order
            .into_iter()
            .fold((0, false), |(bytes, eof), destination| {
                let (more, delivered_eof) = self.carry(destination);
                (bytes + more, eof || delivered_eof)
            })
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

    /// Moves what `destination`'s peer wrote onto the wire, and delivers what has landed
    /// (then EOF, once its peer has shut its write side or ended and nothing is left in
    /// flight). Returns the bytes delivered and whether EOF was.
    fn carry(&mut self, destination: Side) -> (usize, bool) {
        let now = self.clock.now();
        let landing = now.saturating_add(self.latency);
        let chunk_size = self.chunk_size;
        let (source_done, destination_lost) = match destination {
            Side::Server => (
                self.client.is_write_shut() || self.client.is_lost(),
                self.server.is_lost(),
            ),
            Side::Client => (
                self.server.is_write_shut() || self.server.is_lost(),
                self.client.is_lost(),
            ),
        };
        if self.wire_to(destination).paused && !destination_lost {
            return (0, false);
        }
        let sent = match destination {
            Side::Server => self.client.take_written(),
            Side::Client => self.server.take_written(),
        };
        let wire = self.wire_to(destination);
        if !sent.is_empty() {
            wire.in_flight.push_back((landing, sent));
        }
        let mut landed = Vec::new();
        while wire.in_flight.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, bytes)) = wire.in_flight.pop_front() {
                landed.push(bytes);
            }
        }
        let eof = (wire.eof_pending || source_done) && !wire.eof_sent && wire.in_flight.is_empty();
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
        if eof && !destination_lost {
            match destination {
                Side::Server => self.server.receive_eof(),
                Side::Client => self.client.receive_eof(),
            };
        }
        (delivered, eof)
    }
}

/// `bytes` in pieces of at most `size`.
fn pieces(bytes: &[u8], size: Option<usize>) -> impl Iterator<Item = &[u8]> {
    bytes.chunks(size.unwrap_or(bytes.len().max(1)))
}

/// An async [`Connection`] to `server`, in memory: the client side is the async face, the
/// server a protocol. Pump the pair to move bytes.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::stream_loopback;
/// use torsade::prelude::*;
///
/// struct Shout;
/// impl Protocol for Shout {
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         cx.write(&data.to_ascii_uppercase());
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
    let transport = pair.client().transport_handle();
    (Connection::new(shared, transport), pair)
}

impl<S: Protocol, C: Protocol> fmt::Debug for Loopback<S, C> {
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
    use crate::{Context, Transport};

    /// Sends a request, shuts its write side, and collects the answer.
    #[derive(Default)]
    struct Asker {
        answer: Vec<u8>,
        lost: Option<DisconnectReason>,
    }

    impl Protocol for Asker {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"question");
            cx.lose_write_connection();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
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
        fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
            self.request.extend_from_slice(&data);
        }
        fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
            cx.write(&self.request.to_ascii_uppercase());
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
