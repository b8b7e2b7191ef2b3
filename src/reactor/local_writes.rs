//! Writes a connection's own callbacks make, taken without the transport's lock.
//!
//! While the connection's task runs a protocol callback, it lends a buffer to this
//! thread: writes to *that* connection's transport from this thread land in it with no
//! atomic operation at all. When the callback returns, the task takes the buffer back and
//! appends it to the shared write buffer under one lock. Writes to any other transport, or
//! from any other thread, take the ordinary locked path. Order is kept: the lent buffer
//! only holds writes made after everything already in the shared buffer.

use std::cell::RefCell;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

struct Sink {
    /// The address of the connection's shared state: who may write here.
    owner: usize,
    /// A `Vec` rather than a `BytesMut`: appending small slices is several times cheaper.
    buffer: Vec<u8>,
}

/// Lends `buffer` to this thread for writes to the transport at `owner`.
pub(crate) fn lend(owner: usize, buffer: Vec<u8>) {
    SINK.with(|sink| *sink.borrow_mut() = Some(Sink { owner, buffer }));
}

/// Takes the lent buffer back (empty if nothing was lent).
pub(crate) fn reclaim() -> Vec<u8> {
    SINK.with(|sink| {
        sink.borrow_mut()
            .take()
            .map(|sink| sink.buffer)
            .unwrap_or_default()
    })
}

/// Appends `chunks` to the lent buffer if it is lent for `owner`; returns whether it did.
#[inline]
pub(crate) fn try_write(owner: usize, chunks: &[&[u8]]) -> bool {
    SINK.with(|sink| {
        let Ok(mut sink) = sink.try_borrow_mut() else {
            return false;
        };
        let Some(sink) = sink.as_mut().filter(|sink| sink.owner == owner) else {
            return false;
        };
        for chunk in chunks {
            sink.buffer.extend_from_slice(chunk);
        }
        true
    })
}

/// Drops what the lent buffer holds for `owner` (the connection was aborted).
pub(crate) fn discard(owner: usize) {
    SINK.with(|sink| {
        if let Ok(mut sink) = sink.try_borrow_mut() {
            if let Some(sink) = sink.as_mut().filter(|sink| sink.owner == owner) {
                sink.buffer.clear();
            }
        }
    });
}

/// How many bytes the lent buffer holds for `owner`.
pub(crate) fn pending(owner: usize) -> usize {
    SINK.with(|sink| match sink.try_borrow() {
        Ok(sink) => sink
            .as_ref()
            .filter(|sink| sink.owner == owner)
            .map_or(0, |sink| sink.buffer.len()),
        Err(_) => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_writes_into_the_lent_buffer() {
        lend(1, Vec::new());
        assert!(try_write(1, &[b"ab", b"c"]));
        assert!(!try_write(2, &[b"x"]));
        assert_eq!(pending(1), 3);
        assert_eq!(pending(2), 0);
        assert_eq!(&reclaim()[..], b"abc");
        assert!(!try_write(1, &[b"late"]));
        assert!(reclaim().is_empty());
    }

    #[test]
    fn another_thread_does_not_see_the_lent_buffer() {
        lend(7, Vec::new());
        let elsewhere = std::thread::spawn(|| try_write(7, &[b"x"])).join().unwrap();
        assert!(!elsewhere);
        assert!(reclaim().is_empty());
    }
}
