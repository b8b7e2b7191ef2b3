//! Results that are not there yet: [`Deferred`], [`Resolver`], [`Failure`] and [`Outcome`].
//!
//! Twisted's `twisted.internet.defer`, typed: a `Deferred<T>` is one step of a callback
//! chain whose value is a `T` at that step, and also a `Future`. See [`Deferred`] for the
//! rules and `docs/ARCHITECTURE.md` for how chains run.

mod chain;
mod deferred;
mod failure;
mod outcome;

pub use self::deferred::{Deferred, Resolver};
pub use self::failure::Failure;
pub use self::outcome::Outcome;
