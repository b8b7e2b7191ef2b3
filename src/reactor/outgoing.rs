//! The bytes a connection's task has taken to send and the kernel has not yet accepted:
//! [`Outgoing`].
//!
//! A `Vec` and a count of bytes sent, rather than a `BytesMut` advanced as it goes: the
//! write buffers a connection's callbacks fill are `Vec`s (see `local_writes`), and a
//! `Vec` can become the outgoing buffer as it is, with no copy, and go back to the thread
//! once it has been sent.

/// Bytes being sent: `bytes[sent..]` are still to go.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    bytes: Vec<u8>,
    sent: usize,
}

impl Outgoing {
    /// The bytes still to send.
    pub(crate) fn unsent(&self) -> &[u8] {
        self.bytes.get(self.sent..).unwrap_or_default()
    }

    /// How many bytes are still to send.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len().saturating_sub(self.sent)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks `count` more bytes sent; once all are, the buffer is empty again (its
    /// capacity kept).
    pub(crate) fn advance(&mut self, count: usize) {
        self.sent = self.sent.saturating_add(count).min(self.bytes.len());
        if self.sent == self.bytes.len() {
            self.bytes.clear();
            self.sent = 0;
        }
    }

    /// Appends `data` after what is still to send.
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Swaps the buffer, which must be empty, for `next` (the bytes to send from now on);
    /// `next` is left holding the old, empty allocation.
    pub(crate) fn swap_in(&mut self, next: &mut Vec<u8>) {
        debug_assert!(self.is_empty());
        self.bytes.clear();
        self.sent = 0;
        std::mem::swap(&mut self.bytes, next);
    }

    /// Takes the allocation out, if nothing is left to send (the buffer is left with
    /// none).
    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        if !self.is_empty() || self.bytes.capacity() == 0 {
            return None;
        }
        self.sent = 0;
        Some(std::mem::take(&mut self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_in_pieces_then_empties_keeping_the_allocation() {
        let mut out = Outgoing::default();
        let mut next = b"hello".to_vec();
        out.swap_in(&mut next);
        assert!(next.is_empty());
        out.advance(2);
        assert_eq!(out.unsent(), b"llo");
        out.extend_from_slice(b"!");
        assert_eq!(out.len(), 4);
        out.advance(10);
        assert!(out.is_empty());
        assert_eq!(out.unsent(), b"");
        let spare = out
            .take_spare()
            .expect("the allocation is kept until taken");
        assert!(spare.capacity() >= 5);
        assert!(out.take_spare().is_none());
    }
}
