//! Reaching a live protocol from outside its task: [`ProtocolHandle`].
//!
//! A handle queues closures for a connection's task through the [`CommandQueue`] the
//! connection provides (the reactor's TCP connections implement it).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::{Address, Deferred, Error, Protocol, TransportRef};

/// Work queued for the protocol by a [`ProtocolHandle`]: called with the protocol inside
/// the connection's task, or with `None` if the connection ended first. Returns
/// `Err(Error::Panicked)` if the work panicked (the task then aborts the connection: the
/// protocol may be half-updated).
pub(crate) type Command<P> = Box<dyn FnOnce(Option<&mut P>) -> Result<(), Error> + Send>;

/// A live connection as seen by its handles.
pub(crate) trait CommandQueue<P>: Send + Sync {
    /// Queues a command and wakes the connection's task, or hands the command back if the
    /// connection has ended.
    fn push_command(&self, command: Command<P>) -> Result<(), Command<P>>;
    /// The connection's transport.
    fn transport(self: Arc<Self>) -> TransportRef;
    /// Whether the connection has not ended yet.
    fn is_connected(&self) -> bool;
}

/// A `Send + Sync`, cheap-to-clone handle on one connection's protocol.
///
/// [`call`](ProtocolHandle::call) runs a closure on the protocol inside the connection's
/// own task — between two of its callbacks, never at the same time as one — and returns a
/// [`Deferred`] of the closure's result. This is how a timer, another connection, a
/// factory or an async task talks to a connection: the Rust form of Twisted's "only the
/// reactor thread touches a protocol".
///
/// Closures run in the order they were queued. If the connection ends before a closure
/// runs (or had already ended), its Deferred fails with [`Error::ConnectionClosed`]; if
/// the closure panics, it fails with [`Error::Panicked`] and the connection is aborted.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::{factory_fn, Address, Protocol, Reactor, TransportRef};
///
/// #[derive(Default)]
/// struct Counter {
///     bytes: usize,
/// }
///
/// impl Protocol for Counter {
///     fn data_received(&mut self, _: &TransportRef, data: Bytes) {
///         self.bytes += data.len();
///     }
/// }
///
/// let reactor = Reactor::new().unwrap();
/// let server = reactor.listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Counter::default())).unwrap();
/// let r = reactor.clone();
/// let connecting = reactor.connect_tcp(server.local_addr(), factory_fn(|_: &Address| Counter::default()));
/// connecting
///     .and_then(|handle| {
///         // Ask the live client protocol something from outside its task.
///         handle.call(|counter| counter.bytes)
///     })
///     .add_both(move |bytes| {
///         assert_eq!(bytes.unwrap(), 0);
///         r.stop().unwrap();
///         Ok::<(), torsade::Failure>(())
///     }).detach();
/// reactor.run().unwrap();
/// ```
pub struct ProtocolHandle<P> {
    queue: Arc<dyn CommandQueue<P>>,
}

impl<P: Protocol> ProtocolHandle<P> {
    pub(crate) fn new(queue: Arc<dyn CommandQueue<P>>) -> ProtocolHandle<P> {
        ProtocolHandle { queue }
    }

    /// Runs `f` on the protocol inside its connection's task; the Deferred fires with what
    /// `f` returns.
    pub fn call<R, F>(&self, f: F) -> Deferred<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut P) -> R + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        let command: Command<P> = Box::new(move |protocol: Option<&mut P>| {
            let Some(protocol) = protocol else {
                let _ = resolver.errback(Error::ConnectionClosed);
                return Ok(());
            };
            match catch_unwind(AssertUnwindSafe(|| f(protocol))) {
                Ok(value) => {
                    // A fresh resolver is fired only here, so this cannot fail.
                    let _ = resolver.callback(value);
                    Ok(())
                }
                Err(payload) => {
                    let _ = resolver.errback(Error::from_panic(&*payload));
                    // The protocol may be half-updated: the task aborts the connection.
                    Err(Error::from_panic(&*payload))
                }
            }
        });
        if let Err(command) = self.queue.push_command(command) {
            let _ = command(None);
        }
        deferred
    }

    /// The connection's transport: write to it, or close it, from anywhere.
    pub fn transport(&self) -> TransportRef {
        self.queue.clone().transport()
    }

    /// Whether the connection is still open (it may be closing).
    pub fn is_connected(&self) -> bool {
        self.queue.is_connected()
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> Address {
        self.queue.clone().transport().peer_addr()
    }

    /// The address of this end.
    pub fn host_addr(&self) -> Address {
        self.queue.clone().transport().host_addr()
    }
}

impl<P> Clone for ProtocolHandle<P> {
    fn clone(&self) -> Self {
        ProtocolHandle {
            queue: self.queue.clone(),
        }
    }
}

impl<P> fmt::Debug for ProtocolHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolHandle")
            .field("protocol", &std::any::type_name::<P>())
            .field("transport", &self.queue.clone().transport())
            .finish()
    }
}
