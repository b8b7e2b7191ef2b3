//! Reaching a live connection from outside its callbacks: [`TransportHandle`] and
//! [`ProtocolHandle`].
//!
//! Both leave what they ask in the connection's inbox and wake its driver, which applies
//! it between two callbacks, in the order it was asked (see `inbox`).

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::inbox::{Inbox, Request};
use super::state::State;
use crate::tls::TlsInfo;
use crate::{Address, Clock, Context, Deferred, Error, Protocol, WriteBufferLimits};

/// A `Send + Sync`, cheap-to-clone handle on a connection, for writing and closing it from
/// anywhere: a timer, another connection, another thread, async code. Twisted's kept
/// `self.transport`.
///
/// Everything asked through it is applied by the connection's driver between two of its
/// callbacks, in the order asked; bytes written through it follow what the callback
/// running at the time writes (and come before what it writes after them). Once the
/// connection has ended, writes are dropped and requests ignored.
///
/// From [`Transport::transport_handle`](crate::Transport::transport_handle), or
/// [`ProtocolHandle`] (which derefs to one).
///
/// # Examples
///
/// A broadcast to every connection, from outside their callbacks:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// type Table = Arc<Mutex<Vec<TransportHandle>>>;
///
/// struct Member(Table);
/// impl Protocol for Member {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         self.0.lock().unwrap().push(cx.transport_handle());
///     }
///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
/// }
///
/// let table = Table::default();
/// let mut alice = TestConnection::new(Member(table.clone()));
/// let mut bob = TestConnection::new(Member(table.clone()));
/// for member in table.lock().unwrap().iter() {
///     member.write(b"news\r\n");
/// }
/// assert_eq!(alice.take_written(), &b"news\r\n"[..]);
/// assert_eq!(bob.take_written(), &b"news\r\n"[..]);
/// ```
#[derive(Clone)]
pub struct TransportHandle {
    inbox: Arc<Inbox>,
}

impl TransportHandle {
    pub(crate) fn new(inbox: Arc<Inbox>) -> TransportHandle {
        TransportHandle { inbox }
    }

    /// Queues `data` to be sent (dropped if the connection has ended).
    pub fn write(&self, data: &[u8]) {
        self.inbox.write_many(&[data]);
    }

    /// Queues several chunks to be sent in order, as one write.
    #[doc(alias = "writeSequence")]
    pub fn write_many(&self, chunks: &[&[u8]]) {
        self.inbox.write_many(chunks);
    }

    /// Closes the connection once everything written before is sent; see
    /// [`Transport::lose_connection`](crate::Transport::lose_connection).
    #[doc(alias = "loseConnection")]
    pub fn lose_connection(&self) {
        let _ = self.inbox.request(Request::LoseConnection);
    }

    /// Shuts down the write side once everything written before is sent; see
    /// [`Transport::lose_write_connection`](crate::Transport::lose_write_connection).
    #[doc(alias = "loseWriteConnection")]
    pub fn lose_write_connection(&self) {
        let _ = self.inbox.request(Request::LoseWriteConnection);
    }

    /// Closes the connection at once, dropping unsent data.
    #[doc(alias = "abortConnection")]
    pub fn abort_connection(&self) {
        let _ = self.inbox.request(Request::Abort);
    }

    /// Stops reading; see [`Transport::pause_reading`](crate::Transport::pause_reading).
    pub fn pause_reading(&self) {
        let _ = self.inbox.request(Request::PauseReading);
    }

    /// Reads again.
    pub fn resume_reading(&self) {
        let _ = self.inbox.request(Request::ResumeReading);
    }

    /// Whether a close or an abort was asked for, or the connection has ended.
    pub fn is_closing(&self) -> bool {
        self.inbox.is_closing()
    }

    /// Whether the connection has not ended yet (it may be closing).
    pub fn is_connected(&self) -> bool {
        !self.inbox.is_ended()
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> &Address {
        self.inbox.peer()
    }

    /// The address of this end.
    pub fn host_addr(&self) -> &Address {
        self.inbox.host()
    }

    /// The connection's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.inbox.clock()
    }

    /// Bytes written and not yet handed to the operating system.
    pub fn write_buffer_size(&self) -> usize {
        self.inbox.write_buffer_size()
    }

    /// The connection's watermarks.
    pub fn write_buffer_limits(&self) -> WriteBufferLimits {
        self.inbox.limits()
    }

    /// Whether more than the high-water mark is unsent: a writer that can wait should
    /// [`drain`](TransportHandle::drain) first.
    pub fn is_write_buffer_full(&self) -> bool {
        self.write_buffer_size() > self.write_buffer_limits().high
    }

    /// Ready once the unsent bytes are down to the low-water mark or the connection has
    /// ended; otherwise `cx` is woken when they are.
    pub fn poll_drain(&self, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.inbox.poll_drain(cx)
    }

    /// Ready once every byte written was handed to the stream, or the connection has
    /// ended; otherwise `cx` is woken when that holds.
    pub(crate) fn poll_flushed(&self, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.inbox.poll_flushed(cx)
    }

    /// Waits until the unsent bytes are down to the low-water mark, or the connection
    /// has ended. asyncio's `drain()`: what an async writer awaits so that a slow peer
    /// slows it down. Cancel safe.
    pub async fn drain(&self) {
        poll_fn(|cx| self.poll_drain(cx)).await;
    }

    /// What the TLS handshake settled, once it has completed.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.inbox.tls_info()
    }
}

impl fmt::Debug for TransportHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportHandle")
            .field("peer", self.inbox.peer())
            .field("host", self.inbox.host())
            .field("closing", &self.inbox.is_closing())
            .finish()
    }
}

/// A `Send + Sync`, cheap-to-clone handle on one connection's protocol: a
/// [`TransportHandle`] (it derefs to one) that can also run closures on the protocol.
///
/// [`call`](ProtocolHandle::call) runs a closure on the protocol inside the connection's
/// driver — between two of its callbacks, never at the same time as one — with the
/// protocol's [`Context`], and returns a [`Deferred`] of the closure's result. This is how
/// a timer, another connection, a factory or an async task talks to a connection: the
/// Rust form of Twisted's "only the reactor thread touches a protocol".
///
/// Closures run in the order they were queued, after the bytes written before them. If the
/// connection ends before a closure runs (or had already ended), its Deferred fails with
/// [`Error::ConnectionClosed`]; if the closure panics, it fails with [`Error::Panicked`]
/// and the connection is aborted.
///
/// From [`Context::handle`] (both sides of a connection) or a connect call.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// #[derive(Default)]
/// struct Counter {
///     bytes: usize,
/// }
///
/// impl Protocol for Counter {
///     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
///         self.bytes += data.len();
///     }
/// }
///
/// let mut connection = TestConnection::new(Counter::default());
/// connection.receive(b"four");
/// let handle = connection.handle();
/// let mut seen = handle.call(|counter, cx| {
///     cx.write(b"you sent me bytes\r\n");
///     counter.bytes
/// });
/// connection.run_pending();
/// assert_eq!(seen.take_result().unwrap().unwrap(), 4);
/// assert_eq!(connection.take_written(), &b"you sent me bytes\r\n"[..]);
/// ```
pub struct ProtocolHandle<P> {
    transport: TransportHandle,
    protocol: PhantomData<fn() -> P>,
}

impl<P: Protocol> ProtocolHandle<P> {
    /// A handle on the connection behind `inbox`, whose protocol is a `P`.
    pub(crate) fn new(inbox: Arc<Inbox>) -> ProtocolHandle<P> {
        ProtocolHandle {
            transport: TransportHandle::new(inbox),
            protocol: PhantomData,
        }
    }

    /// Runs `f` on the protocol, with its context, inside its connection's driver; the
    /// Deferred fires with what `f` returns.
    pub fn call<R, F>(&self, f: F) -> Deferred<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut P, &mut Context<'_, P>) -> R + Send + 'static,
    {
        let (deferred, resolver) = Deferred::new();
        let call = Box::new(move |target: Option<(&mut dyn Any, &mut State)>| {
            // The connection's protocol is a `P`: this handle was made for it.
            let Some((protocol, state)) =
                target.and_then(|(protocol, state)| Some((protocol.downcast_mut::<P>()?, state)))
            else {
                let _ = resolver.errback(Error::ConnectionClosed);
                return Ok(());
            };
            let mut cx = Context::new(state);
            match catch_unwind(AssertUnwindSafe(|| f(protocol, &mut cx))) {
                Ok(value) => {
                    // A fresh resolver is fired only here, so this cannot fail.
                    let _ = resolver.callback(value);
                    Ok(())
                }
                Err(payload) => {
                    let _ = resolver.errback(Error::from_panic(&*payload));
                    // The protocol may be half-updated: the driver aborts the connection.
                    Err(Error::from_panic(&*payload))
                }
            }
        });
        if let Err(Request::Call(call)) = self.transport.inbox.request(Request::Call(call)) {
            let _ = call(None);
        }
        deferred
    }

    /// The connection's [`TransportHandle`].
    pub fn transport(&self) -> &TransportHandle {
        &self.transport
    }
}

impl<P> Deref for ProtocolHandle<P> {
    type Target = TransportHandle;

    fn deref(&self) -> &TransportHandle {
        &self.transport
    }
}

impl<P> Clone for ProtocolHandle<P> {
    fn clone(&self) -> Self {
        ProtocolHandle {
            transport: self.transport.clone(),
            protocol: PhantomData,
        }
    }
}

impl<P> fmt::Debug for ProtocolHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolHandle")
            .field("protocol", &std::any::type_name::<P>())
            .field("transport", &self.transport)
            .finish()
    }
}
