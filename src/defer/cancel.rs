//! Cancelling a Deferred: [`Deferred::with_canceller`] and [`Deferred::cancel`].
//!
//! Twisted's rules, on the untyped chain (so cancelling any typed view of a chain cancels
//! the chain):
//!
//! - an unfired Deferred runs its canceller (at most once, on the cancelling thread); if
//!   it is still unfired afterwards it fails with [`Error::Cancelled`](crate::Error);
//! - with no canceller, the producer's next firing is ignored once (it cannot know about
//!   the cancellation), and a further one is [`Error::AlreadyCalled`](crate::Error);
//! - a fired Deferred waiting on another one (a callback returned it) cancels that one;
//! - any other fired Deferred ignores `cancel`.

use super::{Deferred, Resolver};

impl<T: Send + 'static> Deferred<T> {
    /// A Deferred with no result yet, its resolver, and the function that stops the work
    /// producing its result when the Deferred is [cancelled](Deferred::cancel).
    /// Twisted's `Deferred(canceller)`.
    ///
    /// The canceller runs at most once, on the thread that calls `cancel`, and only if
    /// the Deferred has not fired. It receives a resolver: it may fire the Deferred with
    /// any result; if it does not, the Deferred fails with
    /// [`Error::Cancelled`](crate::Error::Cancelled). Unlike a Deferred without a
    /// canceller, the producer's later firings are not ignored: they return
    /// [`Error::AlreadyCalled`](crate::Error::AlreadyCalled).
    ///
    /// The canceller is dropped as soon as the Deferred fires. A canceller that panics is
    /// logged, and the Deferred fails with `Cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use torsade::{Deferred, Error};
    ///
    /// let stopped = Arc::new(AtomicBool::new(false));
    /// let flag = stopped.clone();
    /// let (mut deferred, producer) = Deferred::<u32>::with_canceller(move |_resolver| {
    ///     flag.store(true, Ordering::SeqCst); // stop the work here
    /// });
    /// deferred.cancel();
    /// assert!(stopped.load(Ordering::SeqCst));
    /// let failure = deferred.take_result().unwrap().unwrap_err();
    /// assert!(matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled)));
    /// assert!(matches!(producer.callback(1), Err(Error::AlreadyCalled)));
    /// ```
    ///
    /// A canceller may give the Deferred a result of its choosing:
    ///
    /// ```
    /// use torsade::Deferred;
    ///
    /// let (mut deferred, _producer) =
    ///     Deferred::with_canceller(|resolver| resolver.callback("partial result").unwrap());
    /// deferred.cancel();
    /// assert_eq!(deferred.take_result().unwrap().unwrap(), "partial result");
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn with_canceller<F>(canceller: F) -> (Deferred<T>, Resolver<T>)
    where
        F: FnOnce(Resolver<T>) + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        deferred.chain().set_canceller(Box::new(move |chain| {
            canceller(Resolver::from_chain(chain))
        }));
        (deferred, resolver)
    }

    /// Asks for the result to be abandoned. Twisted's `Deferred.cancel`.
    ///
    /// - **Not fired yet:** runs the canceller, if any (see
    ///   [`with_canceller`](Deferred::with_canceller)); if the Deferred is still unfired
    ///   afterwards, it fails with [`Error::Cancelled`](crate::Error::Cancelled), running
    ///   its errbacks now. Without a canceller, the producer's next
    ///   [`callback`](Resolver::callback) or [`errback`](Resolver::errback) is then
    ///   ignored (it returns `Ok` and logs at debug level), since the producer could not
    ///   know; a second one returns [`Error::AlreadyCalled`](crate::Error::AlreadyCalled).
    /// - **Fired, and waiting on a Deferred returned by one of its callbacks:** cancels
    ///   that Deferred instead (and so on down a nest of them). Its result — usually the
    ///   `Cancelled` failure — then continues down this chain.
    /// - **Fired otherwise:** does nothing.
    ///
    /// Cancelling is iterative: a nest of any depth costs constant stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, Error, Failure};
    ///
    /// let (deferred, producer) = Deferred::<u32>::new();
    /// let mut chain = deferred.add_errback(|failure: Failure| {
    ///     assert!(matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled)));
    ///     Ok::<u32, Failure>(0)
    /// });
    /// chain.cancel();
    /// assert_eq!(chain.take_result().unwrap().unwrap(), 0);
    ///
    /// // The producer did not know: its next firing is ignored, once.
    /// assert!(producer.callback(5).is_ok());
    /// assert!(matches!(producer.callback(6), Err(Error::AlreadyCalled)));
    /// ```
    ///
    /// Cancelling a Deferred that waits on another cancels the other one:
    ///
    /// ```
    /// use torsade::{Deferred, Error};
    ///
    /// let (inner, _inner_producer) = Deferred::<u32>::new();
    /// let mut outer = Deferred::succeed(()).and_then(move |()| inner);
    /// outer.cancel();
    /// let failure = outer.take_result().unwrap().unwrap_err();
    /// assert!(matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled)));
    /// ```
    pub fn cancel(&self) {
        self.chain().cancel();
    }
}
