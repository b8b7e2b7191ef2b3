//! The error value that travels down a Deferred's errback chain: [`Failure`].
//!
//! A `Failure` wraps any `std::error::Error` (it stays downcastable to its own type) and
//! records where it was raised. It is cheap to clone (one reference count), so the same
//! failure can be handed to several consumers.

use std::error::Error as StdError;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// An error travelling down a [`Deferred`](crate::Deferred)'s chain. Twisted's `Failure`.
///
/// Any error type converts into a `Failure` with `?` or `.into()`; the place of that
/// conversion is recorded as [`location`](Failure::location).
///
/// `Failure` does not implement `std::error::Error` itself (that would conflict with the
/// blanket conversion); use [`error`](Failure::error) to get at the wrapped error.
///
/// # Examples
///
/// ```
/// use torsade::Failure;
///
/// let failure = Failure::from(std::io::Error::other("disk on fire"));
/// assert_eq!(failure.to_string(), "disk on fire");
/// assert!(failure.downcast_ref::<std::io::Error>().is_some());
/// assert!(failure.location().file().ends_with(".rs"));
///
/// let failure = Failure::new("plain text works too");
/// assert!(failure.downcast_ref::<std::io::Error>().is_none());
/// ```
#[derive(Clone)]
pub struct Failure {
    inner: Arc<FailureInner>,
}

struct FailureInner {
    error: Box<dyn StdError + Send + Sync + 'static>,
    location: &'static Location<'static>,
}

impl Failure {
    /// Wraps `error` (any error type, a `Box<dyn Error>`, a `String` or a `&str`),
    /// recording the caller's location.
    #[track_caller]
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Failure {
        Failure {
            inner: Arc::new(FailureInner {
                error: error.into(),
                location: Location::caller(),
            }),
        }
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner.error
    }

    /// The wrapped error as `E`, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.error.downcast_ref::<E>()
    }

    /// Whether the wrapped error is an `E`. Twisted's `Failure.check`.
    #[doc(alias = "check")]
    #[doc(alias = "trap")]
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.inner.error.is::<E>()
    }

    /// Where the failure was created.
    pub fn location(&self) -> &'static Location<'static> {
        self.inner.location
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Failure {
    #[track_caller]
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.error, f)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("error", &self.inner.error)
            .field("location", &format_args!("{}", self.inner.location))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn assert_send_sync_static<T: Send + Sync + 'static>() {}

    #[test]
    fn failure_is_send_sync_static() {
        assert_send_sync_static::<Failure>();
    }

    #[test]
    fn question_mark_records_its_own_location() {
        fn fails() -> Result<(), Failure> {
            Err(Error::Cancelled)?;
            Ok(())
        }
        let failure = fails().unwrap_err();
        assert!(failure.is::<Error>());
        assert_eq!(failure.location().file(), file!());
    }
}
