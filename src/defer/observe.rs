//! Errbacks that only look at a failure, or only end it: [`Deferred::inspect_failure`]
//! and [`Deferred::swallow_failure`].
//!
//! [`add_errback`](Deferred::add_errback) is the general errback: it recovers with a
//! value, fails again, or waits on another Deferred, and its return type says which. These
//! two cover the common cases where nothing is returned, so nothing needs naming either.

use super::chain::Step;
use super::deferred::unbox;
use super::{Deferred, Failure};

impl<T: Send + 'static> Deferred<T> {
    /// Adds an errback that looks at the failure and lets it go on down the chain (for
    /// logging, counting, cleaning up). Values pass by it untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, Error};
    ///
    /// let mut chain = Deferred::<u32>::fail(Error::Cancelled)
    ///     .inspect_failure(|failure| tracing::warn!("lookup failed: {failure}"));
    /// assert!(chain.take_result().unwrap().is_err()); // still failed
    /// ```
    #[doc(alias = "observe")]
    pub fn inspect_failure<F>(self, inspect: F) -> Deferred<T>
    where
        F: FnOnce(&Failure) + Send + 'static,
    {
        self.push(move |result| {
            if let Err(failure) = &result {
                inspect(failure);
            }
            Step::Done(result)
        })
    }

    /// Adds an errback that takes the failure and ends it there: the chain goes on with
    /// `None` after a failure, `Some(value)` after a value. For a Deferred whose value
    /// cannot be made up by an errback — a [`ProtocolHandle`](crate::ProtocolHandle) from
    /// `Reactor::connect`, say — where the failure is to be handled (reported elsewhere,
    /// logged) and the chain is done.
    ///
    /// A failure handled here is not reported as unhandled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use torsade::{Deferred, Error};
    ///
    /// let (reports, reported) = mpsc::channel();
    /// let (connecting, resolver) = Deferred::<u32>::new(); // a connection's handle, say
    /// let mut done = connecting.swallow_failure(move |failure| {
    ///     reports.send(failure.to_string()).unwrap();
    /// });
    /// resolver.errback(Error::Cancelled).unwrap();
    /// assert_eq!(done.take_result().unwrap().unwrap(), None);
    /// assert_eq!(reported.recv().unwrap(), "the Deferred was cancelled");
    /// ```
    pub fn swallow_failure<F>(self, swallow: F) -> Deferred<Option<T>>
    where
        F: FnOnce(Failure) + Send + 'static,
    {
        self.push(move |result| match result {
            Ok(value) => Step::Done(Ok(Box::new(Some(unbox::<T>(value))))),
            Err(failure) => {
                swallow(failure);
                Step::Done(Ok(Box::new(None::<T>)))
            }
        })
    }
}
