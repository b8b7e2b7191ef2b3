//! Deterministic doubles for testing protocols: no sockets, no real time.
//!
//! - [`StringTransport`] records what a protocol writes and whether it asked to close.
//! - [`TestConnection`] drives a protocol over a `StringTransport`: feed it bytes in any
//!   chunking, read what it wrote, end the connection with any reason.
//! - [`Clock`] is a fake clock you advance by hand; it implements the same
//!   [`Clock`](crate::Clock) trait as the reactor.
//!
//! Twisted's `twisted.internet.testing` (`StringTransport`, `task.Clock`).
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use torsade::testing::TestConnection;
//! use torsade::{Protocol, TransportRef};
//!
//! /// Answers every chunk with its length, and hangs up on "bye".
//! struct Counter;
//!
//! impl Protocol for Counter {
//!     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
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
//! assert!(connection.is_closing());
//! ```

mod clock;
mod every_split;
mod loopback;
mod memory_reactor;
mod string_transport;
mod test_connection;

pub use self::clock::Clock;
pub use self::every_split::{every_split, EVERY_CHUNKING_UP_TO};
pub use self::loopback::{stream_loopback, Loopback, Side, MAX_PUMP_ROUNDS};
pub use self::memory_reactor::MemoryReactor;
pub use self::string_transport::StringTransport;
pub use self::test_connection::TestConnection;
