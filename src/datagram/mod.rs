//! Datagrams (UDP): [`DatagramProtocol`], the [`DatagramContext`] its callbacks act
//! through, and [`DatagramHandle`] to reach it from outside. Twisted's `DatagramProtocol`,
//! `IReactorUDP` and `IReactorMulticast`.
//!
//! A datagram protocol runs on a port, not a connection: one protocol receives every
//! datagram sent to the port's address, each whole, with the address it came from.
//! Datagrams are never merged or split; one longer than the protocol's
//! [`max_size`](DatagramProtocol::max_size) is reported to
//! [`datagram_too_long`](DatagramProtocol::datagram_too_long) and counted, never delivered
//! cut short. Sending never waits and never queues: when the socket's send buffer is full
//! the datagram is dropped and counted in [`DatagramStats::dropped`].
//!
//! On real sockets, [`Reactor::listen_udp`](crate::Reactor::listen_udp) opens a port; in
//! tests, a [`DatagramNetwork`](crate::testing::DatagramNetwork) runs the same port core
//! on the fake clock, with latency, loss, duplication and reordering.
//!
//! # Examples
//!
//! An echo server and a client that counts the answers, in memory:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use torsade::datagram::{DatagramContext, DatagramProtocol};
//! use torsade::testing::DatagramNetwork;
//!
//! struct Echo;
//! impl DatagramProtocol for Echo {
//!     fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
//!         cx.write(&data, from).unwrap();
//!     }
//! }
//!
//! #[derive(Default)]
//! struct Client { answers: Vec<Bytes> }
//! impl DatagramProtocol for Client {
//!     fn started(&mut self, cx: &mut DatagramContext<'_>) {
//!         cx.connect("10.0.0.1:7".parse().unwrap()).unwrap();
//!         cx.write_connected(b"ping").unwrap();
//!         cx.write_connected(b"pong").unwrap();
//!     }
//!     fn datagram_received(&mut self, _: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
//!         self.answers.push(data);
//!     }
//! }
//!
//! let network = DatagramNetwork::new();
//! network.bind("10.0.0.1:7".parse().unwrap(), Echo).unwrap();
//! let client = network.bind("10.0.0.2:4000".parse().unwrap(), Client::default()).unwrap();
//! network.clock().advance(Duration::from_secs(1));
//! client.handle().call(|client, _| assert_eq!(client.answers, ["ping", "pong"]));
//! ```

mod context;
mod error;
mod multicast;
mod port;
pub(crate) mod port_core;
mod protocol;
pub(crate) mod socket;
mod stats;

pub use self::context::DatagramContext;
pub use self::error::{DatagramError, DatagramTooLong};
pub(crate) use self::multicast::Membership;
pub use self::multicast::MulticastInterface;
pub use self::port::DatagramPort;
pub use self::port_core::DatagramHandle;
pub use self::protocol::DatagramProtocol;
pub use self::stats::DatagramStats;

/// The largest UDP payload over IPv4 (65 535 less the IP and UDP headers): the default
/// [`max_size`](DatagramProtocol::max_size).
pub const DEFAULT_MAX_SIZE: usize = 65_507;

/// The longest datagram [`DatagramContext::write`] sends, on either family.
pub const MAX_DATAGRAM_SIZE: usize = 65_507;
