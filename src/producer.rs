//! Writing at the pace the peer reads: [`Producer`], registered on a connection.
//!
//! Twisted's producer/consumer pair, with asyncio's watermarks. A *push* producer writes
//! on its own (a protocol relaying another stream, a ticker) and is paused while more than
//! the high-water mark is unsent ([`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) unless
//! [set](crate::Transport::set_write_buffer_limits)), resumed once they drain to the low
//! one ([`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW)). A *pull* producer writes one
//! chunk each time it is asked: at registration, then whenever the unsent bytes are down
//! to the low-water mark — so a large file streams through a bounded buffer.

use crate::Context;

/// Something that writes to a connection at the pace the connection asks for. Twisted's
/// `IPushProducer` / `IPullProducer`.
///
/// Its methods are called by the connection's driver, between the protocol's callbacks,
/// with the connection's (untyped) [`Context`] to write to. A push producer that writes on its own (from a timer,
/// another thread) holds a [`TransportHandle`](crate::TransportHandle) for that.
///
/// # Examples
///
/// A pull producer streaming a large payload in chunks, never holding more than the
/// watermarks in the connection's buffer:
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::prelude::*;
///
/// struct Chunks {
///     left: usize,
/// }
///
/// impl Producer for Chunks {
///     fn resume_producing(&mut self, cx: &mut Context<'_>) {
///         if self.left == 0 {
///             cx.unregister_producer();
///             cx.lose_connection();
///             return;
///         }
///         let chunk = self.left.min(8192);
///         cx.write(&vec![b'x'; chunk]);
///         self.left -= chunk;
///     }
/// }
///
/// struct Download;
/// impl Protocol for Download {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         let producer = Chunks { left: 100_000 };
///         cx.register_producer(Box::new(producer), ProducerKind::Pull).unwrap();
///     }
///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
/// }
///
/// let mut connection = TestConnection::new(Download);
/// let mut received = 0;
/// while !connection.is_lost() {
///     let taken = connection.take_written(); // the peer reads what was sent
///     assert!(taken.len() <= 16 * 1024 + 8192);
///     received += taken.len();
/// }
/// assert_eq!(received, 100_000);
/// ```
#[doc(alias = "IProducer")]
#[doc(alias = "IPushProducer")]
#[doc(alias = "IPullProducer")]
pub trait Producer: Send + 'static {
    /// A push producer: stop writing until [`resume_producing`](Producer::resume_producing).
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self, cx: &mut Context<'_>) {
        let _ = cx;
    }

    /// A push producer: writing may go on. A pull producer: write one more chunk now.
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self, cx: &mut Context<'_>);

    /// The connection is ending: stop for good. The connection drops the producer after.
    #[doc(alias = "stopProducing")]
    fn stop_producing(&mut self, cx: &mut Context<'_>) {
        let _ = cx;
    }
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
