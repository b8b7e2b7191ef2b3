//! What a callback or errback may return: [`Outcome`].
//!
//! Twisted callbacks return a value, raise, or return another Deferred. In Rust a callback
//! returns anything that converts into an `Outcome<U>`: a `Result<U, E>` (an `Err` goes
//! down the errback side) or a `Deferred<U>` (the chain waits for it).

use super::{Deferred, Failure};

/// The result of one step of a chain: a value, a failure, or a Deferred to wait for.
///
/// You rarely name this type: return a `Result` or a `Deferred` from a callback and it
/// converts.
///
/// # Examples
///
/// ```
/// use torsade::Deferred;
///
/// // A fallible callback: an Err goes to the errback side.
/// let parsed = Deferred::succeed("42").and_then(|text| text.parse::<u32>());
/// // A callback returning a Deferred: the chain waits for it.
/// let mut doubled = parsed.and_then(|n| Deferred::succeed(n * 2));
/// assert_eq!(doubled.take_result().unwrap().unwrap(), 84);
///
/// let mut bad = Deferred::succeed("forty-two").and_then(|text| text.parse::<u32>());
/// assert!(bad.take_result().unwrap().is_err());
/// ```
#[derive(Debug)]
pub enum Outcome<U> {
    /// Continue on the callback side with this value.
    Value(U),
    /// Continue on the errback side with this failure.
    Failure(Failure),
    /// Wait for this Deferred and continue with its result.
    Deferred(Deferred<U>),
}

impl<U, E: Into<Failure>> From<Result<U, E>> for Outcome<U> {
    fn from(result: Result<U, E>) -> Outcome<U> {
        match result {
            Ok(value) => Outcome::Value(value),
            Err(error) => Outcome::Failure(error.into()),
        }
    }
}

impl<U> From<Deferred<U>> for Outcome<U> {
    fn from(deferred: Deferred<U>) -> Outcome<U> {
        Outcome::Deferred(deferred)
    }
}

/// A callback or errback that returns nothing leaves `()` on the callback side: an
/// errback on a `Deferred<()>` that only logs the failure swallows it, with no
/// `Ok::<(), Failure>(())` to write.
///
/// ```
/// use torsade::{Deferred, Error};
///
/// let mut handled = Deferred::<()>::fail(Error::Cancelled).add_errback(|failure| {
///     tracing::warn!("gave up: {failure}");
/// });
/// assert!(handled.take_result().unwrap().is_ok());
/// ```
impl From<()> for Outcome<()> {
    fn from((): ()) -> Outcome<()> {
        Outcome::Value(())
    }
}
