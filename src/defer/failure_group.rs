//! The failure of a [`race`](crate::race) that nothing won: [`FailureGroup`].

use std::error::Error as StdError;
use std::fmt;

use super::Failure;

/// Every Deferred of a [`race`](crate::race) failed; here are their failures, in input
/// order. Twisted's `FailureGroup`.
///
/// A race of no Deferreds fails with an empty group at once. The first failure's error,
/// if any, is this error's [`source`](std::error::Error::source).
///
/// # Examples
///
/// ```
/// use torsade::{race, Deferred, Error, Failure, FailureGroup};
///
/// let mut raced = race([
///     Deferred::<u32>::fail(Error::Cancelled),
///     Deferred::fail(Failure::new("no route")),
/// ]);
/// let failure = raced.take_result().unwrap().unwrap_err();
/// let group = failure.downcast_ref::<FailureGroup>().unwrap();
/// assert_eq!(group.failures.len(), 2);
/// assert_eq!(group.failures[1].to_string(), "no route");
/// ```
#[derive(Clone, Debug)]
pub struct FailureGroup {
    /// One failure per input, in input order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failures.as_slice() {
            [] => f.write_str("nothing to wait for: a race of no Deferreds"),
            [only] => write!(f, "the only Deferred failed: {only}"),
            [first, ..] => write!(
                f,
                "all {} Deferreds failed; the first: {first}",
                self.failures.len()
            ),
        }
    }
}

impl StdError for FailureGroup {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.failures
            .first()
            .map(|failure| failure.error() as &(dyn StdError + 'static))
    }
}
