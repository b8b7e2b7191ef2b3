//! Results that are not there yet: [`Deferred`], [`Resolver`], [`Failure`] and [`Outcome`],
//! and the tools built on them.
//!
//! Twisted's `twisted.internet.defer`, typed: a `Deferred<T>` is one step of a callback
//! chain whose value is a `T` at that step, and also a `Future`. See [`Deferred`] for the
//! rules and `docs/ARCHITECTURE.md` for how chains run.
//!
//! - making Deferreds: [`Deferred::new`], [`Deferred::with_canceller`],
//!   [`Deferred::succeed`], [`Deferred::fail`], [`maybe_deferred`], [`sleep`],
//!   [`Deferred::from_future`];
//! - using them: callbacks (and [`Deferred::inspect_failure`],
//!   [`Deferred::swallow_failure`]), [`Deferred::cancel`], [`Deferred::add_timeout`],
//!   [`Deferred::pause`], `.await`;
//! - passing results on: [`Resolver::resolve`], [`Deferred::chain_deferred`];
//! - several at once: [`DeferredList`], [`gather_results`], [`race`];
//! - limiting concurrency: [`DeferredLock`], [`DeferredSemaphore`];
//! - handing values to consumers that wait: [`DeferredQueue`];
//! - blocking work off the loop: [`Reactor::defer_to_thread`](crate::Reactor::defer_to_thread).

mod cancel;
mod chain;
mod deferred;
mod dispose;
mod drive;
mod failure;
mod failure_group;
mod first_error;
mod future;
mod handoff;
mod list;
mod lock;
mod maybe;
mod observe;
mod outcome;
mod pause;
mod queue;
mod race;
mod semaphore;
mod sleep;
mod thread_pool;
mod timeout;
mod to_thread;

pub use self::deferred::{Deferred, Resolver};
pub use self::failure::Failure;
pub use self::failure_group::FailureGroup;
pub use self::first_error::FirstError;
pub use self::list::{gather_results, DeferredList};
pub use self::lock::{DeferredLock, LockGuard};
pub use self::maybe::maybe_deferred;
pub use self::outcome::Outcome;
pub use self::pause::PauseGuard;
pub use self::queue::{DeferredQueue, QueueOverflow};
pub use self::race::race;
pub use self::semaphore::{DeferredSemaphore, SemaphorePermit};
pub use self::sleep::sleep;
pub(crate) use self::thread_pool::{ThreadPool, DEFAULT_THREAD_POOL_SIZE};
