//! Where hyper runs its background work: [`ReactorExecutor`], the reactor's tasks.

use std::future::Future;

use torsade::Reactor;

/// Spawns hyper's connection tasks (and the pool's idle sweeper) as tasks of the
/// reactor, from any thread: a request may then be awaited anywhere, in a
/// [`Deferred::from_future`](torsade::Deferred::from_future) or on another runtime, and its
/// connection still runs on the reactor with the connection it speaks over.
#[derive(Clone, Debug)]
pub(crate) struct ReactorExecutor(pub(crate) Reactor);

impl<F> hyper::rt::Executor<F> for ReactorExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, task: F) {
        self.0.spawn(task).detach();
    }
}
