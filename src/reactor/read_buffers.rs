//! Read buffers shared by the connections of one thread, so an idle connection holds none.
//!
//! A connection takes a buffer when it reads and gives it back when it parks with nothing
//! buffered. A buffer comes back into the pool only if nothing else still points into it
//! (the protocol may keep `Bytes` it was handed); otherwise it is dropped, and freed when
//! the last of those `Bytes` goes. The pool is bounded, so it never holds more than
//! `POOL_SIZE` buffers per thread.

use std::cell::RefCell;

use bytes::BytesMut;

/// The size of a read buffer: the most one read can deliver.
pub(crate) const READ_BUFFER: usize = 16 * 1024;

/// Buffers kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// A buffer with room for a full read.
pub(crate) fn take() -> BytesMut {
    POOL.with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .unwrap_or_else(|| BytesMut::with_capacity(READ_BUFFER))
}

/// Returns an empty buffer to the pool, if nothing else points into it.
pub(crate) fn give_back(mut buffer: BytesMut) {
    if !buffer.is_empty() || !buffer.try_reclaim(READ_BUFFER) {
        return;
    }
    POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < POOL_SIZE {
                pool.push(buffer);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused() {
        let mut buffer = take();
        buffer.extend_from_slice(b"data");
        let address = buffer.as_ptr();
        drop(buffer.split());
        give_back(buffer);
        assert_eq!(take().as_ptr(), address);
    }

    #[test]
    fn a_buffer_still_shared_is_not_pooled() {
        let mut buffer = take();
        buffer.extend_from_slice(b"kept");
        let kept = buffer.split().freeze();
        let address = kept.as_ptr();
        give_back(buffer);
        assert_ne!(take().as_ptr(), address);
        assert_eq!(&kept[..], b"kept");
    }
}
