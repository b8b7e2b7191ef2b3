//! Blocking work off the loop: [`Reactor::defer_to_thread`] and the size of the reactor's
//! thread pool.
//!
//! The work runs on a thread of the reactor's pool (`thread_pool`); its result is handed
//! back to the loop that asked for it, and the Deferred fires there, so its callbacks run
//! on the loop like every other callback. Twisted's `threads.deferToThread`.

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::runtime::Handle;

use super::thread_pool::Job;
use super::{Deferred, Failure, Resolver};
use crate::{Error, Reactor};

impl Reactor {
    /// Runs the blocking function `f` on a thread of the reactor's pool; the Deferred
    /// fires with its value on the reactor's loop (the loop this is called from, with
    /// several; the next one in turn from outside the reactor). Twisted's
    /// `deferToThread`.
    ///
    /// - The pool runs at most [`thread_pool_size`](Reactor::thread_pool_size) functions
    ///   at once (10 unless [set](Reactor::set_thread_pool_size)); more wait their turn,
    ///   first come, first served.
    /// - A panic in `f` fails the Deferred with [`Error::Panicked`]. For fallible work,
    ///   return the `Result` and add `.and_then(|result| result)`.
    /// - The pool is shut down with the reactor: when [`run`](Reactor::run) returns,
    ///   functions still waiting never run, and their Deferreds — and those of functions
    ///   still running then, or submitted afterwards — fail with
    ///   [`Error::ReactorStopped`]. `run` waits for the functions already running (a
    ///   thread cannot be interrupted), as Twisted's reactor does.
    /// - Cancelling the Deferred does not stop `f` (a thread cannot be interrupted); it
    ///   fails the Deferred at once, and `f`'s result is then dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::Reactor;
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let loop_thread = std::thread::current().id();
    /// let r = reactor.clone();
    /// reactor.call_when_running(move || {
    ///     let stopper = r.clone();
    ///     r.defer_to_thread(move || {
    ///         assert_ne!(std::thread::current().id(), loop_thread); // off the loop
    ///         (1..=20u64).product::<u64>()
    ///     })
    ///     .add_callback(move |factorial| {
    ///         assert_eq!(std::thread::current().id(), loop_thread); // back on the loop
    ///         assert_eq!(factorial, 2_432_902_008_176_640_000);
    ///         stopper.stop().unwrap();
    ///     })
    ///     .detach();
    /// });
    /// reactor.run().unwrap();
    /// ```
    #[doc(alias = "deferToThread")]
    pub fn defer_to_thread<T, F>(&self, f: F) -> Deferred<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        self.thread_pool().submit(Box::new(Work {
            f,
            delivery: Delivery {
                resolver: Some(resolver),
                home: self.handle().clone(),
            },
        }));
        deferred
    }

    /// Sets the most threads [`defer_to_thread`](Reactor::defer_to_thread) runs at once.
    /// Lowering it lets threads above the new size end once their work is done. Twisted's
    /// `suggestThreadPoolSize`.
    #[doc(alias = "suggestThreadPoolSize")]
    pub fn set_thread_pool_size(&self, size: NonZeroUsize) {
        self.thread_pool().set_size(size.get());
    }

    /// The most threads [`defer_to_thread`](Reactor::defer_to_thread) runs at once.
    pub fn thread_pool_size(&self) -> usize {
        self.thread_pool().size()
    }

    /// How many threads the pool has started and not ended (idle ones included). All
    /// have ended once [`run`](Reactor::run) has returned.
    pub fn thread_pool_threads(&self) -> usize {
        self.thread_pool().threads()
    }
}

/// `f`, and where its result goes.
struct Work<T: Send + 'static, F> {
    f: F,
    delivery: Delivery<T>,
}

impl<T, F> Job for Work<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    fn run(self: Box<Self>) {
        let Work { f, delivery } = *self;
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let error = Error::from_panic(&*payload);
            tracing::error!("a function run by defer_to_thread panicked: {error}");
            Failure::new(error)
        });
        delivery.send(result);
    }

    fn fail(self: Box<Self>, error: Error) {
        self.delivery.fire(Err(Failure::new(error)));
    }
}

/// The way back to the loop: fires the Deferred there, or, if it never gets there (the
/// loop's runtime is gone, or the task carrying it is dropped unrun), fails it with
/// [`Error::ReactorStopped`] wherever it is dropped.
struct Delivery<T: Send + 'static> {
    /// `None` once fired.
    resolver: Option<Resolver<T>>,
    home: Handle,
}

impl<T: Send + 'static> Delivery<T> {
    /// Carries `result` to the loop in a task of its own.
    fn send(self, result: Result<T, Failure>) {
        let home = self.home.clone();
        // A runtime that has shut down drops the task at once, and with it this
        // delivery, which then fails the Deferred.
        drop(home.spawn(async move { self.fire(result) }));
    }

    fn fire(mut self, result: Result<T, Failure>) {
        if let Some(resolver) = self.resolver.take() {
            // Fails only if the Deferred was cancelled; then nobody wants the result.
            let _ = resolver.resolve(result);
        }
    }
}

impl<T: Send + 'static> Drop for Delivery<T> {
    fn drop(&mut self) {
        if let Some(resolver) = self.resolver.take() {
            // Fails only if the Deferred was cancelled; then nobody waits for it.
            let _ = resolver.errback(Error::ReactorStopped);
        }
    }
}
