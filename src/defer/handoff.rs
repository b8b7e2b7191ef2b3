//! Passing a result on to a resolver: [`Resolver::resolve`] (a `Result`, in one call) and
//! [`Deferred::chain_deferred`] (a Deferred's outcome, when it comes).

use super::{Deferred, Failure, Resolver};
use crate::Error;

impl<T: Send + 'static> Resolver<T> {
    /// Fires the Deferred with `result`: [`callback`](Resolver::callback) for `Ok`,
    /// [`errback`](Resolver::errback) for `Err`.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyCalled`] if it was already fired.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::Deferred;
    ///
    /// let (mut parsed, resolver) = Deferred::<u32>::new();
    /// resolver.resolve("42".parse::<u32>()).unwrap();
    /// assert_eq!(parsed.take_result().unwrap().unwrap(), 42);
    ///
    /// let (mut failed, resolver) = Deferred::<u32>::new();
    /// resolver.resolve("x".parse::<u32>()).unwrap();
    /// assert!(failed.take_result().unwrap().unwrap_err().is::<std::num::ParseIntError>());
    /// ```
    #[track_caller]
    pub fn resolve<E: Into<Failure>>(&self, result: Result<T, E>) -> Result<(), Error> {
        match result {
            Ok(value) => self.callback(value),
            Err(error) => self.errback(error),
        }
    }
}

impl<T: Send + 'static> Deferred<T> {
    /// Hands this Deferred's result, when it comes, to `other`'s Deferred; this chain then
    /// goes on with `()`. Twisted's `chainDeferred`.
    ///
    /// A value goes to `other` by [`callback`](Resolver::callback), a failure by
    /// [`errback`](Resolver::errback) — and the failure is then `other`'s to handle, not
    /// this chain's. If `other` was already fired, this chain goes on with
    /// [`Error::AlreadyCalled`] instead (unless `other` was cancelled without a
    /// canceller: that first firing is ignored, as any producer's would be).
    ///
    /// Unlike a callback that returns a Deferred, this does not tie the two chains
    /// together any further: cancelling `other` does not cancel this one. Handing on is
    /// done by the chain itself, not by a callback, so a line of any length of
    /// Deferreds, each handing on to the next, uses constant stack (Twisted's recursion
    /// limit there is its issue #3229).
    ///
    /// # Examples
    ///
    /// A Deferred of someone else's making, handed to the resolver of one you returned:
    ///
    /// ```
    /// use torsade::Deferred;
    ///
    /// let (promised, resolver) = Deferred::<String>::new();
    /// let (work, finish_work) = Deferred::<String>::new();
    /// work.chain_deferred(resolver).detach();
    ///
    /// finish_work.callback("done".to_string()).unwrap();
    /// let mut promised = promised;
    /// assert_eq!(promised.take_result().unwrap().unwrap(), "done");
    /// ```
    #[doc(alias = "chainDeferred")]
    pub fn chain_deferred(self, other: Resolver<T>) -> Deferred<()> {
        let chain = self.into_chain();
        chain.push_hand_over(other.into_chain());
        Deferred::from_chain(chain)
    }
}
