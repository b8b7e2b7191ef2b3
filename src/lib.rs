//! Twisted's networking model — reactor, protocols, transports, factories and Deferreds —
//! rebuilt on tokio.
//!
//! PLACEHOLDER
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
pub mod prelude;
mod protocol;
mod reactor;
pub mod testing;
mod time;
mod transport;

pub use crate::address::Address;
pub use crate::defer::{Deferred, Failure, Outcome, Resolver};
pub use crate::error::{DisconnectReason, Error, Result};
pub use crate::factory::{factory_fn, ClientFactory, FnFactory, ProtocolFactory};
pub use crate::protocol::Protocol;
pub use crate::reactor::{ListeningPort, ProtocolHandle, Reactor, DEFAULT_CONNECT_TIMEOUT};
pub use crate::time::{Clock, DelayedCall};
pub use crate::transport::{Transport, TransportRef};
