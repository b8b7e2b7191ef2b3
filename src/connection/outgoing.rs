//! The bytes a connection has been asked to send and the stream has not yet taken:
//! [`Outgoing`].
//!
//! One `Vec` and a count of bytes sent. Callbacks append to it directly (through their
//! [`Context`](crate::Context)); the driver writes `unsent()` to the stream and marks what
//! the stream took. Once everything is sent the `Vec` is cleared and keeps its capacity,
//! so a busy connection does not allocate per write; an idle one gives the allocation back
//! (see `buffers`).

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
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `chunk` after what is still to send.
    #[inline(always)]
    pub(crate) fn append(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
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

    /// Drops everything still to send (an abort).
    pub(crate) fn discard(&mut self) {
        self.bytes.clear();
        self.sent = 0;
    }

    /// Gives a buffer to write into, when this one has no allocation (the connection was
    /// idle and gave its own back).
    pub(crate) fn provide(&mut self, spare: impl FnOnce() -> Vec<u8>) {
        if self.bytes.capacity() == 0 {
            self.bytes = spare();
            self.bytes.clear();
            self.sent = 0;
        }
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
        out.append(b"hel");
        out.append(b"lo");
        out.advance(2);
        assert_eq!(out.unsent(), b"llo");
        out.append(b"!");
        out.append(b"");
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

    #[test]
    fn a_provided_buffer_is_used_only_when_there_is_none() {
        let mut out = Outgoing::default();
        out.provide(|| Vec::with_capacity(4096));
        assert!(out.bytes.capacity() >= 4096);
        out.append(b"abc");
        out.provide(|| unreachable!("it has a buffer"));
        out.discard();
        assert!(out.is_empty());
    }
}
