//! What every protocol callback gets: [`Context`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::state::State;
use crate::tls::{StartTls, TlsInfo};
use crate::{
    Address, Clock, ConnectionError, IdleActivity, Producer, ProducerKind, Protocol,
    ProtocolHandle, Result, Transport, TransportHandle, WriteBufferLimits,
};

/// The connection, as seen from inside one of its protocol's callbacks: write to it,
/// close it, pause it, switch it to TLS (through [`Transport`], in the
/// [prelude](crate::prelude)), and get a [`handle`](Context::handle) on it to keep. Netty's
/// `ChannelHandlerContext`; Twisted's `self.transport`.
///
/// A write appends to a buffer the connection owns, reached through `&mut`; everything
/// a callback writes goes out together once it returns.
///
/// # Examples
///
/// A protocol that answers, keeps a handle for later, and reads its connection's clock:
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// #[derive(Default)]
/// struct Ticker {
///     handle: Option<ProtocolHandle<Ticker>>,
/// }
///
/// impl Protocol for Ticker {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         self.handle = Some(cx.handle());
///         let transport = cx.transport_handle();
///         cx.clock().call_later(Duration::from_secs(1), move || transport.write(b"tick\r\n"));
///     }
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         cx.write(&data);
///     }
/// }
///
/// let mut connection = TestConnection::new(Ticker::default());
/// connection.receive(b"echo\r\n");
/// connection.advance(Duration::from_secs(1));
/// assert_eq!(connection.take_written(), &b"echo\r\ntick\r\n"[..]);
/// ```
///
/// # Typed and untyped
///
/// `Context<'_, P>` knows its protocol's type, so [`handle`](Context::handle) gives a
/// [`ProtocolHandle<P>`]. Code that serves any protocol — a framer that wraps a handler, a
/// [`Producer`] — takes the untyped `Context<'_>` ([`untyped`](Context::untyped) lends
/// one), which does everything else the same way.
pub struct Context<'a, P = ()> {
    state: &'a mut State,
    protocol: PhantomData<fn() -> P>,
}

impl<'a, P> Context<'a, P> {
    pub(crate) fn new(state: &'a mut State) -> Context<'a, P> {
        Context {
            state,
            protocol: PhantomData,
        }
    }

    /// The same connection, without its protocol's type: for code that serves any
    /// protocol (a framer passing its context on to a handler, say).
    pub fn untyped(&mut self) -> Context<'_> {
        Context::new(self.state)
    }
}

impl<P: Protocol> Context<'_, P> {
    /// A handle on this connection's protocol, to keep: reach it later from a timer,
    /// another connection or another thread ([`ProtocolHandle::call`]), or write to the
    /// connection through it.
    pub fn handle(&self) -> ProtocolHandle<P> {
        ProtocolHandle::new(self.state.inbox.clone())
    }
}

impl<P> Transport for Context<'_, P> {
    #[inline]
    fn write(&mut self, data: &[u8]) {
        self.state.write_many(&[data]);
    }

    #[inline]
    fn write_many(&mut self, chunks: &[&[u8]]) {
        self.state.write_many(chunks);
    }

    fn lose_connection(&mut self) {
        self.state.lose_connection();
    }

    fn lose_connection_with(&mut self, error: ConnectionError) {
        self.state.lose_connection_with(error);
    }

    fn lose_write_connection(&mut self) {
        self.state.lose_write_connection();
    }

    fn abort_connection(&mut self) {
        self.state.abort();
    }

    fn abort_connection_with(&mut self, error: ConnectionError) {
        self.state.extras_mut().close_error = Some(error);
        self.state.abort();
    }

    #[inline]
    fn is_closing(&self) -> bool {
        self.state.is_closing()
    }

    fn peer_addr(&self) -> &Address {
        self.state.inbox.peer()
    }

    fn host_addr(&self) -> &Address {
        self.state.inbox.host()
    }

    #[cfg(unix)]
    fn peer_credentials(&self) -> Option<crate::endpoints::PeerCredentials> {
        self.state.inbox.credentials()
    }

    fn pause_reading(&mut self) {
        self.state.pause_reading();
    }

    fn resume_reading(&mut self) {
        self.state.resume_reading();
    }

    #[inline]
    fn is_reading(&self) -> bool {
        self.state.is_reading()
    }

    fn write_buffer_size(&self) -> usize {
        self.state.write_buffer_size()
    }

    fn set_write_buffer_limits(&mut self, high: usize, low: usize) -> Result<()> {
        self.state.set_limits(high, low)
    }

    fn write_buffer_limits(&self) -> WriteBufferLimits {
        self.state.limits()
    }

    fn register_producer(&mut self, producer: Box<dyn Producer>, kind: ProducerKind) -> Result<()> {
        self.state.register_producer(producer, kind)
    }

    fn unregister_producer(&mut self) {
        self.state.unregister_producer();
    }

    fn start_tls(&mut self, tls: StartTls) -> Result<()> {
        self.state.start_tls(tls)
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.state.tls_info()
    }

    fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.state.set_idle_timeout(timeout);
    }

    fn set_idle_activity(&mut self, activity: IdleActivity) {
        self.state.set_idle_activity(activity);
    }

    fn reset_idle_timeout(&mut self) {
        self.state.reset_idle_timeout();
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        self.state.inbox.clock()
    }

    fn transport_handle(&self) -> TransportHandle {
        TransportHandle::new(self.state.inbox.clone())
    }
}

impl<P> fmt::Debug for Context<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("peer", self.state.inbox.peer())
            .field("close", &self.state.close())
            .field("unsent", &self.state.out.len())
            .finish_non_exhaustive()
    }
}
