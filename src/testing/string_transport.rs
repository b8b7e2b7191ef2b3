//! A transport that records instead of sending: [`StringTransport`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::producer::Registered;
use crate::{Address, Error, Producer, ProducerKind, Transport, WriteBufferLimits};

/// A [`Transport`] that keeps everything written to it, for tests. Twisted's
/// `StringTransport`.
///
/// - [`value`](StringTransport::value) is everything written since the last
///   [`clear`](StringTransport::clear) or [`take`](StringTransport::take).
/// - [`lose_connection`](Transport::lose_connection) only records the request
///   ([`is_closing`](Transport::is_closing)); nothing calls `connection_lost` by itself
///   (use [`TestConnection`](super::TestConnection) for that).
/// - After [`abort_connection`](Transport::abort_connection), writes are dropped, as on a
///   real connection; so are writes after
///   [`lose_write_connection`](Transport::lose_write_connection)
///   ([`is_write_closed`](StringTransport::is_write_closed)), which takes effect at once
///   (everything written before it counts as sent), while reading goes on.
/// - [`write_buffer_size`](Transport::write_buffer_size) is the number of bytes written and
///   not yet taken by the test, so a test can play a slow peer: above the low-water mark
///   ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW) unless
///   [set](Transport::set_write_buffer_limits)), [`poll_drain`](Transport::poll_drain)
///   waits until the test calls [`take`](StringTransport::take) or
///   [`clear`](StringTransport::clear).
/// - [`set_idle_timeout`](Transport::set_idle_timeout) records the timeout
///   ([`idle_timeout`](StringTransport::idle_timeout)); a
///   [`TestConnection`](super::TestConnection) runs it on its fake clock.
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
    write_closed: bool,
    limits: WriteBufferLimits,
    idle_timeout: Option<Duration>,
    /// The idle timeout was set since `TestConnection` last looked.
    idle_changed: bool,
    /// Bytes the test has taken (read as the peer), ever: a `TestConnection`'s activity.
    taken_total: u64,
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
            let taken = state.written.split().freeze();
            state.taken_total += taken.len() as u64;
            (taken, std::mem::take(&mut state.drain_wakers))
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

    /// Whether [`lose_write_connection`](Transport::lose_write_connection) was called:
    /// the write side is shut down.
    pub fn is_write_closed(&self) -> bool {
        self.lock().write_closed
    }

    /// The idle timeout last set with [`set_idle_timeout`](Transport::set_idle_timeout).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.lock().idle_timeout
    }

    /// The idle timeout, if it was set since the last call (`Some(None)`: unset).
    pub(crate) fn take_idle_change(&self) -> Option<Option<Duration>> {
        let mut state = self.lock();
        std::mem::take(&mut state.idle_changed).then_some(state.idle_timeout)
    }

    /// Bytes taken by the test, ever.
    pub(crate) fn taken_total(&self) -> u64 {
        self.lock().taken_total
    }
}

impl Transport for StringTransport {
    fn write(&self, data: &[u8]) {
        let mut state = self.lock();
        if !state.aborted && !state.write_closed {
            state.written.extend_from_slice(data);
        }
    }

    fn lose_connection(&self) {
        self.lock().closing = true;
    }

    fn lose_write_connection(&self) {
        self.lock().write_closed = true;
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

    fn set_write_buffer_limits(&self, high: usize, low: usize) -> crate::Result<()> {
        self.lock().limits = WriteBufferLimits::new(high, low)?;
        Ok(())
    }

    fn write_buffer_limits(&self) -> WriteBufferLimits {
        self.lock().limits
    }

    fn set_idle_timeout(&self, timeout: Option<Duration>) -> crate::Result<()> {
        let mut state = self.lock();
        state.idle_timeout = timeout;
        state.idle_changed = true;
        Ok(())
    }

    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.aborted || state.written.len() <= state.limits.low {
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
            .field("write_closed", &state.write_closed)
            .field("limits", &state.limits)
            .field("idle_timeout", &state.idle_timeout)
            .field("producer", &state.producer)
            .field("host", &self.host)
            .field("peer", &self.peer)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn writes_after_the_write_side_is_closed_are_dropped_and_reading_goes_on() {
        let transport = StringTransport::new();
        transport.write(b"last words");
        transport.lose_write_connection();
        transport.write(b"too late");
        assert!(transport.is_write_closed());
        assert!(!transport.is_closing());
        assert!(transport.is_reading());
        assert_eq!(transport.take(), &b"last words"[..]);
    }

    #[test]
    fn invalid_limits_are_refused_and_change_nothing() {
        let transport = StringTransport::new();
        assert!(matches!(
            transport.set_write_buffer_limits(1, 2),
            Err(Error::InvalidWriteBufferLimits { high: 1, low: 2 })
        ));
        assert_eq!(transport.write_buffer_limits(), WriteBufferLimits::DEFAULT);
    }

    #[test]
    fn drain_and_fullness_follow_the_limits_set() {
        let transport = StringTransport::new();
        transport.set_write_buffer_limits(8, 4).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        transport.write(b"12345");
        assert!(!transport.is_write_buffer_full());
        assert!(transport.poll_drain(&mut cx).is_pending());
        transport.write(b"6789");
        assert!(transport.is_write_buffer_full());
        transport.take();
        transport.write(b"1234");
        assert!(transport.poll_drain(&mut cx).is_ready());
    }

    #[test]
    fn the_idle_timeout_is_recorded() {
        let transport = StringTransport::new();
        assert_eq!(transport.idle_timeout(), None);
        transport
            .set_idle_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(transport.idle_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(
            transport.take_idle_change(),
            Some(Some(Duration::from_secs(5)))
        );
        assert_eq!(transport.take_idle_change(), None);
    }
}
