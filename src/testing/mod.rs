//! Deterministic doubles for testing protocols: no sockets, no real time.
//!
//! - [`TestConnection`] runs a protocol on the very connection core the reactor runs,
//!   over an in-memory stream whose other end is the test: feed it bytes in any chunking,
//!   read what it wrote, end the connection with any reason; reach it through a
//!   [`ProtocolHandle`](crate::ProtocolHandle); see write pressure, closes, half-closes,
//!   STARTTLS and its timers behave exactly as on the reactor, on a fake clock.
//! - [`MemoryStream`] is an in-memory byte stream pair any connection can run over.
//! - [`every_split`] feeds an input at every split point (and, when short, in every
//!   chunking) and checks every run observes the same thing; `every_split_decoder`
//!   (feature `codec`) does it for any tokio-util `Decoder`.
//! - [`FakeClock`] is a fake clock you advance by hand; it implements the same
//!   [`Clock`](crate::Clock) trait as the reactor, with the same ordering rules.
//! - [`Loopback`] connects a server and a client protocol in memory, with chunking,
//!   latency on the fake clock, and faults (reset, half-close, slow reader);
//!   [`stream_loopback`] does it for an async [`Connection`](crate::Connection).
//! - [`MemoryReactor`] is a [`Network`](crate::Network) that records `listen` and
//!   `connect` instead of opening sockets.
//! - [`DatagramNetwork`] runs [`DatagramProtocol`](crate::datagram::DatagramProtocol)s
//!   in memory on the fake clock, with seeded loss, duplication and reordering.
//! - [`Simulation`] runs whole networks of unmodified protocols in memory: hosts (each a
//!   [`Network`](crate::Network) and a clock), links with latency, segmentation and
//!   faults, partitions that heal, crashes and restarts, all decided by one seed (a digest
//!   tells two runs apart); [`explore`] runs a property over many seeds and reports the
//!   first that fails.
//! - [`FakeProcess`] runs a [`ProcessProtocol`](crate::process::ProcessProtocol) against
//!   a child process played by the test (step by step, or [`ProcessStep`]s scripted on a
//!   [`FakeClock`]), recording what it wrote to stdin and the signals it sent.
//! - [`replay`] replays a [`Transcript`](crate::record::Transcript) recorded on the
//!   reactor against a protocol on a [`TestConnection`], and reports the first byte
//!   where what it sends differs from the recording.
//! - `TestCertificates` generates a throwaway CA and server certificate for TLS tests
//!   (with the `test-certificates` feature).
//!
//! The [`guide`] walks through testing a protocol with all of these. Twisted's
//! `twisted.internet.testing` (`StringTransport`, `MemoryReactorClock`), `task.Clock` and
//! `twisted.test.iosim`. None of these tools opens a socket (CI runs the in-memory test
//! binaries under `strace` to check).
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use torsade::testing::TestConnection;
//! use torsade::prelude::*;
//!
//! /// Answers every chunk with its length, and hangs up on "bye".
//! struct Counter;
//!
//! impl Protocol for Counter {
//!     fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
//!         if &data[..] == b"bye" {
//!             transport.lose_connection();
//!         } else {
//!             transport.write(data.len().to_string().as_bytes());
//!         }
//!     }
//! }
//!
//! let mut connection = TestConnection::new(Counter);
//! connection.receive(b"abc");
//! assert_eq!(connection.take_written(), &b"3"[..]);
//! connection.receive(b"bye");
//! assert!(connection.is_lost()); // nothing was unsent: the close completed
//! ```

#[cfg(feature = "test-certificates")]
mod certificates;
mod clock;
mod datagram_network;
mod every_split;
mod fake_process;
pub mod guide;
mod loopback;
mod memory_reactor;
mod memory_stream;
mod random;
mod replay;
mod sim;
mod test_connection;

#[cfg(feature = "test-certificates")]
pub use self::certificates::TestCertificates;
pub use self::clock::FakeClock;
pub use self::datagram_network::{DatagramNetwork, Faults, MEMORY_RECEIVE_BUFFER};
#[cfg(feature = "codec")]
pub use self::every_split::every_split_decoder;
pub use self::every_split::{every_split, EVERY_CHUNKING_UP_TO};
pub use self::fake_process::{FakeProcess, ProcessStep};
pub use self::loopback::{stream_loopback, Loopback, Side, MAX_PUMP_ROUNDS};
pub use self::memory_reactor::MemoryReactor;
pub use self::memory_stream::MemoryStream;
pub use self::replay::{replay, ReplayMismatch, ReplayReport};
pub use self::sim::{
    explore, Exploration, Failure, Latency, Link, PartitionId, Segmentation, SimHost, Simulation,
    TraceEvent, TraceKind, MAX_IDLE_STEPS,
};
pub use self::test_connection::TestConnection;
