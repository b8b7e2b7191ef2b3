//! Writing at the pace the peer reads: [`Producer`], registered on a transport.
//!
//! Twisted's producer/consumer pair, with asyncio's watermarks. A *push* producer writes
//! on its own (a protocol relaying another stream, a ticker) and is paused while more than
//! the high-water mark is unsent ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) unless
//! [set](crate::Transport::set_write_buffer_limits)), resumed once they drain to the low
//! one ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW)). A *pull* producer writes one
//! chunk each time it is asked: at registration, then whenever the unsent bytes are down
//! to the low-water mark — so a large file streams through a bounded buffer.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::WriteBufferLimits;

/// Something that writes to a transport at the pace the transport asks for. Twisted's
/// `IPushProducer` / `IPullProducer`.
///
/// Its methods are called from the connection's own task (never concurrently with the
/// protocol's callbacks); it writes through a transport it holds.
///
/// # Examples
///
/// A pull producer streaming a large payload in chunks, never holding more than the
/// watermarks in the transport's buffer:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::{Producer, ProducerKind, Protocol, TransportRef};
///
/// struct Chunks {
///     transport: TransportRef,
///     left: usize,
/// }
///
/// impl Producer for Chunks {
///     fn resume_producing(&mut self) {
///         if self.left == 0 {
///             self.transport.unregister_producer();
///             self.transport.lose_connection();
///             return;
///         }
///         let chunk = self.left.min(8192);
///         self.transport.write(&vec![b'x'; chunk]);
///         self.left -= chunk;
///     }
/// }
///
/// struct Download;
/// impl Protocol for Download {
///     fn connection_made(&mut self, transport: &TransportRef) {
///         let producer = Chunks { transport: transport.clone(), left: 100_000 };
///         transport.register_producer(Box::new(producer), ProducerKind::Pull).unwrap();
///     }
///     fn data_received(&mut self, _: &TransportRef, _: Bytes) {}
/// }
///
/// let mut connection = TestConnection::new(Download);
/// let mut received = 0;
/// while !connection.is_closing() {
///     let taken = connection.take_written(); // the peer reads what was sent
///     assert!(taken.len() <= 16 * 1024 + 8192);
///     received += taken.len();
/// }
/// assert_eq!(received + connection.take_written().len(), 100_000);
/// ```
#[doc(alias = "IProducer")]
#[doc(alias = "IPushProducer")]
#[doc(alias = "IPullProducer")]
pub trait Producer: Send + 'static {
    /// A push producer: stop writing until [`resume_producing`](Producer::resume_producing).
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self) {}

    /// A push producer: writing may go on. A pull producer: write one more chunk now.
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self);

    /// The connection is ending: stop for good. The transport drops the producer after.
    #[doc(alias = "stopProducing")]
    fn stop_producing(&mut self) {}
}

/// How a [`Producer`] is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerKind {
    /// Writes on its own; paused above the high-water mark, resumed at the low one.
    /// Twisted's `streaming=True`.
    Push,
    /// Writes one chunk each time it is asked. Twisted's `streaming=False`.
    Pull,
}

/// A registered producer, as a transport keeps it.
#[derive(Clone)]
pub(crate) struct Registered {
    producer: Arc<Mutex<Box<dyn Producer>>>,
    pub(crate) kind: ProducerKind,
}

impl Registered {
    pub(crate) fn new(producer: Box<dyn Producer>, kind: ProducerKind) -> Registered {
        Registered {
            producer: Arc::new(Mutex::new(producer)),
            kind,
        }
    }

    /// The producer, to call (never while holding the transport's own lock: the producer
    /// writes to the transport).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Box<dyn Producer>> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("kind", &self.kind)
            .finish()
    }
}

/// What write pressure asks of whom, once per check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Nothing,
    /// Pause the push producer, or the protocol if none is registered.
    Pause,
    /// Resume the push producer, or the protocol.
    Resume,
    /// Ask the pull producer for a chunk.
    Pull,
}

/// The watermark logic shared by the reactor's connections and `TestConnection`.
#[derive(Debug, Default)]
pub(crate) struct WritePressure {
    paused: bool,
}

impl WritePressure {
    /// What to signal now that `unsent` bytes wait, with `producer` registered, under
    /// `limits`.
    pub(crate) fn check(
        &mut self,
        unsent: usize,
        producer: Option<ProducerKind>,
        limits: WriteBufferLimits,
    ) -> Signal {
        if producer == Some(ProducerKind::Pull) {
            return if unsent <= limits.low {
                Signal::Pull
            } else {
                Signal::Nothing
            };
        }
        if !self.paused && unsent > limits.high {
            self.paused = true;
            Signal::Pause
        } else if self.paused && unsent <= limits.low {
            self.paused = false;
            Signal::Resume
        } else {
            Signal::Nothing
        }
    }

    /// A push producer was registered: it starts unpaused (Twisted's contract).
    pub(crate) fn registered(&mut self) {
        self.paused = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW};

    const DEFAULT: WriteBufferLimits = WriteBufferLimits::DEFAULT;

    #[test]
    fn a_push_producer_is_paused_above_high_and_resumed_at_low_once_each() {
        let mut pressure = WritePressure::default();
        let mut check = |unsent| pressure.check(unsent, Some(ProducerKind::Push), DEFAULT);
        assert_eq!(check(WRITE_BUFFER_HIGH), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_HIGH + 1), Signal::Pause);
        assert_eq!(check(WRITE_BUFFER_HIGH + 9), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_LOW + 1), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_LOW), Signal::Resume);
        assert_eq!(check(0), Signal::Nothing);
    }

    #[test]
    fn a_pull_producer_is_asked_whenever_the_buffer_is_at_or_below_low() {
        let mut pressure = WritePressure::default();
        let mut check = |unsent| pressure.check(unsent, Some(ProducerKind::Pull), DEFAULT);
        assert_eq!(check(0), Signal::Pull);
        assert_eq!(check(WRITE_BUFFER_LOW), Signal::Pull);
        assert_eq!(check(WRITE_BUFFER_LOW + 1), Signal::Nothing);
    }

    #[test]
    fn set_limits_move_both_marks() {
        let limits = WriteBufferLimits::new(100, 10).unwrap();
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(100, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(101, None, limits), Signal::Pause);
        assert_eq!(pressure.check(11, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(10, None, limits), Signal::Resume);
        let pull = Some(ProducerKind::Pull);
        assert_eq!(pressure.check(10, pull, limits), Signal::Pull);
        assert_eq!(pressure.check(11, pull, limits), Signal::Nothing);
    }

    #[test]
    fn zero_limits_pause_whenever_anything_is_unsent() {
        let limits = WriteBufferLimits::new(0, 0).unwrap();
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(0, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(1, None, limits), Signal::Pause);
        assert_eq!(pressure.check(0, None, limits), Signal::Resume);
    }

    #[test]
    fn lowering_the_marks_while_paused_resumes_at_the_new_low() {
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(70_000, None, DEFAULT), Signal::Pause);
        let raised = WriteBufferLimits::new(1 << 20, 100_000).unwrap();
        assert_eq!(pressure.check(70_000, None, raised), Signal::Resume);
    }

    #[test]
    fn a_low_mark_above_the_high_one_is_refused() {
        assert!(matches!(
            WriteBufferLimits::new(10, 11),
            Err(crate::Error::InvalidWriteBufferLimits { high: 10, low: 11 })
        ));
        assert_eq!(WriteBufferLimits::new(7, 7).unwrap().low, 7);
    }
}
