//! The names most programs need: `use torsade::prelude::*;`.
//!
//! The core traits (the [`Clock`](crate::Clock) and [`ClockExt`](crate::ClockExt) traits
//! under `_`, so `now` and `call_later` are in scope without taking the name `Clock`), the
//! Deferred types, and the error types.

#[doc(no_inline)]
pub use crate::{
    ClientFactory, ConnectionError, Context, Deferred, DisconnectReason, Error, Failure, Producer,
    ProducerKind, Protocol, ProtocolFactory, ProtocolHandle, Resolver, Transport, TransportHandle,
};
#[doc(no_inline)]
pub use crate::{Clock as _, ClockExt as _};
