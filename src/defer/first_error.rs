//! The failure of a list of Deferreds that gave up at its first failure: [`FirstError`].

use std::error::Error as StdError;
use std::fmt;

use super::Failure;

/// Input number `index` of a [`DeferredList`](crate::DeferredList) with
/// [`fire_on_one_errback`](crate::DeferredList::fire_on_one_errback), or of
/// [`gather_results`](crate::gather_results), failed with `failure`, so the whole list
/// failed. Twisted's `defer.FirstError` (its `index` and `subFailure`).
///
/// The wrapped failure's error is also this error's
/// [`source`](std::error::Error::source).
///
/// # Examples
///
/// ```
/// use torsade::{gather_results, Deferred, Error, FirstError};
///
/// let inputs = vec![Deferred::succeed(1), Deferred::fail(Error::Cancelled)];
/// let mut gathered = gather_results(inputs);
/// let failure = gathered.take_result().unwrap().unwrap_err();
/// let first = failure.downcast_ref::<FirstError>().unwrap();
/// assert_eq!(first.index, 1);
/// assert!(matches!(first.failure.downcast_ref::<Error>(), Some(Error::Cancelled)));
/// ```
#[derive(Clone, Debug)]
#[doc(alias = "subFailure")]
pub struct FirstError {
    /// The position of the failed Deferred in the list.
    pub index: usize,
    /// Its failure.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Deferred #{} in the list failed: {}",
            self.index, self.failure
        )
    }
}

impl StdError for FirstError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.failure.error())
    }
}
