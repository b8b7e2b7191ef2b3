//! Calling a function that may or may not be asynchronous: [`maybe_deferred`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Deferred, Outcome};
use crate::Error;

/// Calls `f` now and returns its outcome as a Deferred. Twisted's `maybeDeferred`.
///
/// `f` may return anything a callback may: a `Result` (`Ok` becomes a fired Deferred, `Err`
/// a failed one), a `Deferred` (returned as it is), or an [`Outcome`]. A panic in `f`
/// becomes a failed Deferred ([`Error::Panicked`]) and is logged, as in a callback. For an
/// async function, return [`Deferred::from_future`] from `f`.
///
/// # Examples
///
/// ```
/// use torsade::{maybe_deferred, Deferred, Failure, Outcome};
///
/// let mut plain = maybe_deferred(|| Outcome::Value(7));
/// assert_eq!(plain.take_result().unwrap().unwrap(), 7);
///
/// let mut parsed = maybe_deferred(|| "x".parse::<u32>());
/// assert!(parsed.take_result().unwrap().is_err());
///
/// let (later, resolver) = Deferred::<u32>::new();
/// let mut waiting = maybe_deferred(move || later);
/// assert!(waiting.take_result().is_none());
/// resolver.callback(3).unwrap();
/// assert_eq!(waiting.take_result().unwrap().unwrap(), 3);
///
/// let mut panicked = maybe_deferred(|| -> Result<u32, Failure> { panic!("oops") });
/// assert!(panicked.take_result().unwrap().is_err());
/// ```
#[doc(alias = "maybeDeferred")]
#[doc(alias = "execute")]
pub fn maybe_deferred<U, R, F>(f: F) -> Deferred<U>
where
    U: Send + 'static,
    R: Into<Outcome<U>>,
    F: FnOnce() -> R,
{
    match catch_unwind(AssertUnwindSafe(|| f().into())) {
        Ok(Outcome::Value(value)) => Deferred::succeed(value),
        Ok(Outcome::Failure(failure)) => Deferred::fail(failure),
        Ok(Outcome::Deferred(deferred)) => deferred,
        Err(payload) => {
            let error = Error::from_panic(&*payload);
            tracing::error!("a function called by maybe_deferred panicked: {error}");
            Deferred::fail(error)
        }
    }
}
