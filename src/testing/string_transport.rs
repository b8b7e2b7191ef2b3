//! A transport that records instead of sending: [`StringTransport`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

use crate::producer::Registered;
use crate::{Address, Error, Producer, ProducerKind, Transport, WRITE_BUFFER_LOW};

/// A [`Transport`] that keeps everything written to it, for tests. Twisted's
/// `StringTransport`.
///
/// - [`value`](StringTransport::value) is everything written since the last
///   [`clear`](StringTransport::clear) or [`take`](StringTransport::take).
/// - [`lose_connection`](Transport::lose_connection) only records the request
///   ([`is_closing`](Transport::is_closing)); nothing calls `connection_lost` by itself
///   (use [`TestConnection`](super::TestConnection) for that).
/// - After [`abort_connection`](Transport::abort_connection), writes are dropped, as on a
///   real connection.
/// - [`write_buffer_size`](Transport::write_buffer_size) is the number of bytes written and
///   not yet taken by the test, so a test can play a slow peer: above
///   [`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW), [`poll_drain`](Transport::poll_drain)
///   waits until the test calls [`take`](StringTransport::take) or
///   [`clear`](StringTransport::clear).
/// - [`register_producer`](Transport::register_producer) records the producer
///   ([`producer_kind`](StringTransport::producer_kind)); a
///   [`TestConnection`](super::TestConnection) drives it as the reactor would.
/// - The addresses default to Twisted's: peer `192.168.1.1:54321`, host `10.0.0.1:12345`.
///
/// # Examples
///
/// ```
/// use torsade::testing::StringTransport;
/// use torsade::Transport;
///
/// let transport = StringTransport::new();
/// transport.write(b"abc");
/// assert_eq!(transport.take(), &b"abc"[..]);
/// assert!(transport.value().is_empty());
/// assert_eq!(transport.peer_addr().to_string(), "192.168.1.1:54321");
/// ```
pub struct StringTransport {
    state: Mutex<State>,
    host: Address,
    peer: Address,
}

#[derive(Default)]
struct State {
    written: BytesMut,
    /// Tasks waiting in `poll_drain` for the test to take what was written.
    drain_wakers: Vec<Waker>,
    producer: Option<Registered>,
    closing: bool,
    aborted: bool,
    reading_paused: bool,
}

impl StringTransport {
    /// A transport with Twisted's default addresses.
    pub fn new() -> Arc<StringTransport> {
        StringTransport::with_addresses(
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 12345)).into(),
            SocketAddr::from((Ipv4Addr::new(192, 168, 1, 1), 54321)).into(),
        )
    }

    /// A transport reporting the given addresses for this end (`host`) and the other
    /// (`peer`).
    pub fn with_addresses(host: Address, peer: Address) -> Arc<StringTransport> {
        Arc::new(StringTransport {
            state: Mutex::new(State::default()),
            host,
            peer,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything written since the last `clear` or `take`.
    pub fn value(&self) -> Bytes {
        Bytes::copy_from_slice(&self.lock().written)
    }

    /// Forgets what was written so far.
    pub fn clear(&self) {
        drop(self.take());
    }

    /// Returns everything written since the last `clear` or `take`, and forgets it.
    ///
    /// Taking plays the peer reading: it wakes writers waiting in
    /// [`poll_drain`](Transport::poll_drain).
    pub fn take(&self) -> Bytes {
        let (taken, wakers) = {
            let mut state = self.lock();
            (
                state.written.split().freeze(),
                std::mem::take(&mut state.drain_wakers),
            )
        };
        for waker in wakers {
            waker.wake();
        }
        taken
    }

    /// The kind of producer registered, if one is.
    #[doc(alias = "streaming")]
    pub fn producer_kind(&self) -> Option<ProducerKind> {
        self.lock().producer.as_ref().map(|producer| producer.kind)
    }

    /// The registered producer (for `TestConnection` to drive).
    pub(crate) fn producer(&self) -> Option<Registered> {
        self.lock().producer.clone()
    }

    /// Removes the registered producer (the connection ended).
    pub(crate) fn take_producer(&self) -> Option<Registered> {
        self.lock().producer.take()
    }

    /// Whether [`abort_connection`](Transport::abort_connection) was called.
    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }
}

impl Transport for StringTransport {
    fn write(&self, data: &[u8]) {
        let mut state = self.lock();
        if !state.aborted {
            state.written.extend_from_slice(data);
        }
    }

    fn lose_connection(&self) {
        self.lock().closing = true;
    }

    fn abort_connection(&self) {
        let mut state = self.lock();
        state.closing = true;
        state.aborted = true;
    }

    fn is_closing(&self) -> bool {
        self.lock().closing
    }

    fn peer_addr(&self) -> Address {
        self.peer
    }

    fn host_addr(&self) -> Address {
        self.host
    }

    fn pause_reading(&self) {
        self.lock().reading_paused = true;
    }

    fn resume_reading(&self) {
        self.lock().reading_paused = false;
    }

    fn is_reading(&self) -> bool {
        let state = self.lock();
        !state.reading_paused && !state.closing
    }

    fn write_buffer_size(&self) -> usize {
        self.lock().written.len()
    }

    fn register_producer(
        &self,
        producer: Box<dyn Producer>,
        kind: ProducerKind,
    ) -> crate::Result<()> {
        let mut state = self.lock();
        if state.producer.is_some() {
            return Err(Error::ProducerAlreadyRegistered);
        }
        state.producer = Some(Registered::new(producer, kind));
        Ok(())
    }

    fn unregister_producer(&self) {
        self.lock().producer = None;
    }

    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.aborted || state.written.len() <= WRITE_BUFFER_LOW {
            return Poll::Ready(());
        }
        crate::wakers::register(&mut state.drain_wakers, cx.waker());
        Poll::Pending
    }
}

impl fmt::Debug for StringTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("StringTransport")
            .field("written", &state.written.len())
            .field("closing", &state.closing)
            .field("aborted", &state.aborted)
            .field("reading_paused", &state.reading_paused)
            .field("producer", &state.producer)
            .field("host", &self.host)
            .field("peer", &self.peer)
            .finish()
    }
}
