//! Twisted's networking model — reactor, protocols, transports, factories and Deferreds —
//! rebuilt on tokio.
//!
//! A [`Reactor`] runs the event loop. For each connection, a [`ProtocolFactory`] builds a
//! [`Protocol`]: a plain state machine whose callbacks (`connection_made`,
//! `data_received`, `eof_received`, `connection_lost`) the reactor calls one at a time
//! with `&mut self`. The protocol talks back through its [`Transport`]. Results that are
//! not there yet are [`Deferred`]s: chain callbacks on them Twisted-style, or `.await`
//! them.
//!
//! ```text
//!   Reactor ── listen / connect (endpoints) ──> ProtocolFactory ──builds──> Protocol
//!      │                                                                 ^   │
//!      │ one task per connection: reads ──> data_received ───────────────┘   │ write
//!      │                                                                     v
//!      └── call_later (Clock) ── Deferred callbacks ── ProtocolHandle ──> Transport
//! ```
//!
//! Everything that is not the reactor is sans-I/O: protocols are tested with
//! [`testing::TestConnection`] (an in-memory transport) and [`testing::FakeClock`] (a fake
//! clock), with no sockets and no sleeping; a connection [`record`]ed on the reactor
//! replays as a test ([`testing::replay`]).
//!
//! # Example
//!
//! A protocol that greets, then echoes, tested in memory:
//!
//! ```
//! use bytes::Bytes;
//! use torsade::testing::TestConnection;
//! use torsade::prelude::*;
//!
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, transport: &mut Context<'_, Self>) {
//!         transport.write(b"welcome\r\n");
//!     }
//!     fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
//!         transport.write(&data);
//!     }
//! }
//!
//! let mut connection = TestConnection::new(Echo);
//! connection.receive(b"ping");
//! assert_eq!(connection.take_written(), &b"welcome\r\nping"[..]);
//! ```
//!
//! The same protocol on real sockets: `reactor.listen("tcp:8000:interface=127.0.0.1",
//! torsade::factory_fn(|_| Echo))?` then `reactor.run()?` (see the `line_echo` and
//! `greeting_server` examples).
//!
//! # Threads
//!
//! [`Reactor::new`] runs one loop on the thread that calls [`Reactor::run`]. Protocols must
//! be `Send` (a connection task may be polled by any thread of a tokio runtime) but never
//! `Sync`. Deferreds, transports, handles and the reactor itself are `Send + Sync` and can
//! be used from any thread; see `docs/ARCHITECTURE.md`.
//!
//! # Cancel safety
//!
//! A [`Deferred`] is `Unpin`: poll `&mut deferred` (in `tokio::select!`, say) and abandon
//! the poll, and nothing is lost — the result stays in the Deferred until it is taken.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![doc(test(attr(deny(warnings))))]

mod address;
mod connection;
pub mod datagram;
mod defer;
pub mod endpoints;
mod error;
mod factory;
pub mod frames;
pub mod lines;
mod log_limit;
mod network;
pub mod prelude;
pub mod process;
mod producer;
mod protocol;
mod reactor;
mod reconnect;
pub mod record;
mod stream;
pub mod testing;
mod time;
pub mod tls;
mod transport;
mod wakers;

pub use crate::address::Address;
pub use crate::connection::{Context, ProtocolHandle, TransportHandle};
pub use crate::defer::{
    gather_results, maybe_deferred, race, sleep, Deferred, DeferredList, DeferredLock,
    DeferredQueue, DeferredSemaphore, Failure, FailureGroup, FirstError, LockGuard, Outcome,
    PauseGuard, QueueOverflow, Resolver, SemaphorePermit,
};
pub use crate::endpoints::DEFAULT_CONNECT_TIMEOUT;
pub use crate::error::{ConnectionError, DisconnectReason, Error, Result};
pub use crate::factory::{factory_fn, ClientFactory, FnFactory, ProtocolFactory};
pub use crate::network::Network;
pub use crate::producer::{Producer, ProducerKind};
pub use crate::protocol::Protocol;
pub use crate::reactor::{
    ByteStream, LimitPolicy, ListeningPort, PortStats, Reactor, ReactorStats, SignalHandling,
    CLOSE_LINGER, SIGNAL_STOP_DEADLINE,
};
pub use crate::reconnect::{Backoff, ReconnectingClient};
pub use crate::stream::{Connection, HandlerOutput, StreamWriter, READ_BUFFER_LIMIT};
pub use crate::time::{ticks, Clock, ClockExt, DelayedCall, LoopingCall, Ticks};
pub use crate::transport::{
    IdleActivity, Transport, WriteBufferLimits, WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW,
};
