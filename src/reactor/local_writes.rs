//! Writes a connection's own callbacks make, taken without the transport's lock.
//!
//! While the connection's task runs a protocol callback, it opens this thread's buffer for
//! that connection: writes to *that* connection's transport from this thread land in it
//! with no atomic operation at all. When the callback returns, the task appends what was
//! written to the shared write buffer under one lock. Writes to any other transport, or
//! from any other thread, take the ordinary locked path. Order is kept: the buffer only
//! holds writes made after everything already in the shared buffer.
//!
//! There is one buffer per thread, not per connection: only one callback runs on a thread
//! at a time, and an idle connection then holds no write buffer at all.

use std::cell::RefCell;

thread_local! {
    static SINK: RefCell<Sink> = const { RefCell::new(Sink { owner: None, buffer: Vec::new() }) };
}

struct Sink {
    /// The address of the connection's shared state while its callback runs.
    owner: Option<usize>,
    /// A `Vec` rather than a `BytesMut`: appending small slices is several times cheaper.
    buffer: Vec<u8>,
}

/// The buffer keeps at most this much capacity between callbacks.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Opens this thread's buffer for writes to the transport at `owner`.
pub(crate) fn lend(owner: usize) {
    SINK.with(|sink| {
        if let Ok(mut sink) = sink.try_borrow_mut() {
            sink.owner = Some(owner);
            sink.buffer.clear();
        }
    });
}

/// Closes the buffer and hands what was written to `deliver` (not called if nothing was).
pub(crate) fn reclaim(deliver: impl FnOnce(&[u8])) {
    SINK.with(|sink| {
        let Ok(mut sink) = sink.try_borrow_mut() else {
            return;
        };
        sink.owner = None;
        if !sink.buffer.is_empty() {
            deliver(&sink.buffer);
            sink.buffer.clear();
        }
        if sink.buffer.capacity() > KEEP_CAPACITY {
            sink.buffer = Vec::new();
        }
    });
}

/// Appends `chunks` to the buffer if it is open for `owner`; returns whether it did.
#[inline]
pub(crate) fn try_write(owner: usize, chunks: &[&[u8]]) -> bool {
    SINK.with(|sink| {
        let Ok(mut sink) = sink.try_borrow_mut() else {
            return false;
        };
        if sink.owner != Some(owner) {
            return false;
        }
        for chunk in chunks {
            sink.buffer.extend_from_slice(chunk);
        }
        true
    })
}

/// Drops what the buffer holds for `owner` (the connection was aborted).
pub(crate) fn discard(owner: usize) {
    SINK.with(|sink| {
        if let Ok(mut sink) = sink.try_borrow_mut() {
            if sink.owner == Some(owner) {
                sink.buffer.clear();
            }
        }
    });
}

/// Takes what the buffer holds for `owner` (STARTTLS: those bytes go out in the clear).
pub(crate) fn take_pending(owner: usize) -> Vec<u8> {
    SINK.with(|sink| match sink.try_borrow_mut() {
        Ok(mut sink) if sink.owner == Some(owner) => std::mem::take(&mut sink.buffer),
        _ => Vec::new(),
    })
}

/// How many bytes the buffer holds for `owner`.
pub(crate) fn pending(owner: usize) -> usize {
    SINK.with(|sink| match sink.try_borrow() {
        Ok(sink) if sink.owner == Some(owner) => sink.buffer.len(),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reclaimed() -> Vec<u8> {
        let mut out = Vec::new();
        reclaim(|written| out.extend_from_slice(written));
        out
    }

    #[test]
    fn only_the_owner_writes_into_the_open_buffer() {
        lend(1);
        assert!(try_write(1, &[b"ab", b"c"]));
        assert!(!try_write(2, &[b"x"]));
        assert_eq!(pending(1), 3);
        assert_eq!(pending(2), 0);
        assert_eq!(reclaimed(), b"abc");
        assert!(!try_write(1, &[b"late"]));
        assert!(reclaimed().is_empty());
    }

    #[test]
    fn another_thread_does_not_see_the_open_buffer() {
        lend(7);
        let elsewhere = std::thread::spawn(|| try_write(7, &[b"x"])).join().unwrap();
        assert!(!elsewhere);
        assert!(reclaimed().is_empty());
    }

    #[test]
    fn a_discarded_buffer_delivers_nothing() {
        lend(3);
        assert!(try_write(3, &[b"dropped"]));
        discard(3);
        assert!(reclaimed().is_empty());
    }
}
