//! The names most line-based programs need: `use torsade_protocols::prelude::*;`.
//!
//! The handler trait, the lines it gets, the receivers and their context (and the mode a
//! `LineReceiver`'s handler names), the greeting pair, and this crate's error types.

#[doc(no_inline)]
pub use crate::RemoteGreetingGetter as _;
#[doc(no_inline)]
pub use crate::{
    Error, GreetingGetter, GreetingServer, Line, LineContext, LineHandler, LineOnlyReceiver,
    LineReceiver, LineSender, Result, WithRawMode,
};
