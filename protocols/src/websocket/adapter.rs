//! The byte buffers tungstenite reads from and writes to: [`Buffers`], its "socket".
//!
//! Received bytes wait here until tungstenite reads them (`Read` answers `WouldBlock`
//! when none wait: the sans-I/O form of "no more data yet"); what tungstenite writes is
//! collected here and handed to the connection in one write after each callback.

use std::collections::VecDeque;
use std::io;

use bytes::{Buf, Bytes};

/// Received chunks not yet read by tungstenite, and bytes it wrote not yet handed to the
/// connection.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    incoming: VecDeque<Bytes>,
    outgoing: Vec<u8>,
}

/// The write buffer keeps at most this much capacity between callbacks: a rare huge
/// message does not pin its memory for the connection's life.
const KEPT_OUTGOING_CAPACITY: usize = 64 << 10;

impl Buffers {
    /// Buffers holding `incoming` to be read first.
    pub(crate) fn with_incoming(incoming: Bytes) -> Buffers {
        let mut buffers = Buffers::default();
        buffers.push(incoming);
        buffers
    }

    /// Keeps `data` for tungstenite to read.
    pub(crate) fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.incoming.push_back(data);
        }
    }

    /// The bytes written since the last call, to hand to the connection, and empties them.
    pub(crate) fn take_outgoing(&mut self, into: impl FnOnce(&[u8])) {
        if !self.outgoing.is_empty() {
            into(&self.outgoing);
            self.outgoing.clear();
            if self.outgoing.capacity() > KEPT_OUTGOING_CAPACITY {
                self.outgoing = Vec::new();
            }
        }
    }
}

impl io::Read for Buffers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(front) = self.incoming.front_mut() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let count = front.len().min(buf.len());
        buf[..count].copy_from_slice(&front[..count]);
        front.advance(count);
        if front.is_empty() {
            self.incoming.pop_front();
        }
        Ok(count)
    }
}

impl io::Write for Buffers {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
