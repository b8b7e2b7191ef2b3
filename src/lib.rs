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
//!   Reactor ── listen_tcp / connect_tcp ──> ProtocolFactory ──builds──> Protocol
//!      │                                                                 ^   │
//!      │ one task per connection: reads ──> data_received ───────────────┘   │ write
//!      │                                                                     v
//!      └── call_later (Clock) ── Deferred callbacks ── ProtocolHandle ──> Transport
//! ```
//!
//! Everything that is not the reactor is sans-I/O: protocols are tested with
//! [`testing::TestConnection`] (an in-memory transport) and [`testing::FakeClock`] (a fake
//! clock), with no sockets and no sleeping.
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
//!     fn connection_made(&mut self, transport: &TransportRef) {
//!         transport.write(b"welcome\r\n");
//!     }
//!     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
//!         transport.write(&data);
//!     }
//! }
//!
//! let mut connection = TestConnection::new(Echo);
//! connection.receive(b"ping");
//! assert_eq!(connection.take_written(), &b"welcome\r\nping"[..]);
//! ```
//!
//! The same protocol on real sockets: `reactor.listen_tcp("127.0.0.1:8000",
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
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![doc(test(attr(deny(warnings))))]

mod address;
mod defer;
mod error;
mod factory;
mod handle;
mod network;
pub mod prelude;
mod producer;
mod protocol;
mod reactor;
mod reconnect;
mod stream;
pub mod testing;
mod time;
pub mod tls;
mod transport;
mod wakers;

pub use crate::address::Address;
pub use crate::defer::{
    gather_results, maybe_deferred, race, sleep, Deferred, DeferredList, DeferredLock,
    DeferredQueue, DeferredSemaphore, Failure, FailureGroup, FirstError, LockGuard, Outcome,
    PauseGuard, QueueOverflow, Resolver, SemaphorePermit,
};
pub use crate::error::{DisconnectReason, Error, Result};
pub use crate::factory::{factory_fn, ClientFactory, FnFactory, ProtocolFactory};
pub use crate::handle::ProtocolHandle;
pub use crate::network::Network;
pub use crate::producer::{Producer, ProducerKind};
pub use crate::protocol::Protocol;
pub use crate::reactor::{
    LentWrites, LimitPolicy, ListeningPort, PortStats, Reactor, ReactorStats,
    DEFAULT_CONNECT_TIMEOUT,
};
pub use crate::reconnect::{Backoff, ReconnectingClient};
pub use crate::stream::{
    Connection, HandlerOutput, StreamWriter, DEFAULT_LINE_DELIMITER, DEFAULT_MAX_LINE_LENGTH,
    READ_BUFFER_LIMIT,
};
pub use crate::time::{ticks, Clock, ClockExt, DelayedCall, LoopingCall, Ticks};
pub use crate::transport::{
    Transport, TransportRef, WriteBufferLimits, WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW,
};
