//! Read and write buffers shared by the connections of one thread, so that an idle
//! connection holds none.
//!
//! A connection takes a read buffer when it reads and a write buffer when it may write,
//! and gives them back when it parks with nothing in them. A read buffer comes back into
//! the pool only if nothing else still points into it (the protocol may keep `Bytes` it
//! was handed); otherwise it is dropped, and freed when the last of those `Bytes` goes.
//! The pools are bounded, so they never hold more than `POOL_SIZE` buffers each per
//! thread.

use std::cell::RefCell;

use bytes::BytesMut;

/// The size of a read buffer: the most one read can deliver.
pub(crate) const READ_BUFFER: usize = 16 * 1024;

/// Write buffers larger than this are freed rather than pooled.
const KEEP_WRITE_CAPACITY: usize = 64 * 1024;

/// Buffers kept per thread, in each pool.
const POOL_SIZE: usize = 64;

thread_local! {
    static READ_POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static WRITE_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer with room for a full read.
pub(crate) fn take_read() -> BytesMut {
    READ_POOL
        .with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .unwrap_or_else(|| BytesMut::with_capacity(READ_BUFFER))
}

/// Returns an empty read buffer to the pool, if nothing else points into it.
pub(crate) fn give_back_read(mut buffer: BytesMut) {
    if !buffer.is_empty() || !buffer.try_reclaim(READ_BUFFER) {
        return;
    }
    READ_POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < POOL_SIZE {
                pool.push(buffer);
            }
        }
    });
}

/// A write buffer (empty; with some capacity if one was pooled).
pub(crate) fn take_write() -> Vec<u8> {
    WRITE_POOL
        .with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .unwrap_or_default()
}

/// Returns an empty write buffer to the pool, unless it is too large to keep.
pub(crate) fn give_back_write(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_WRITE_CAPACITY {
        return;
    }
    buffer.clear();
    WRITE_POOL.with(|pool| {
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
    fn a_returned_read_buffer_is_reused() {
        let mut buffer = take_read();
        buffer.extend_from_slice(b"data");
        let address = buffer.as_ptr();
        drop(buffer.split());
        give_back_read(buffer);
        assert_eq!(take_read().as_ptr(), address);
    }

    #[test]
    fn a_read_buffer_still_shared_is_not_pooled() {
        let mut buffer = take_read();
        buffer.extend_from_slice(b"kept");
        let kept = buffer.split().freeze();
        let address = kept.as_ptr();
        give_back_read(buffer);
        assert_ne!(take_read().as_ptr(), address);
        assert_eq!(&kept[..], b"kept");
    }

    #[test]
    fn write_buffers_are_reused_unless_too_large() {
        let mut buffer = Vec::with_capacity(4096);
        buffer.extend_from_slice(b"sent");
        let address = buffer.as_ptr();
        give_back_write(buffer);
        let reused = take_write();
        assert_eq!(reused.as_ptr(), address);
        assert!(reused.is_empty());
        give_back_write(Vec::with_capacity(KEEP_WRITE_CAPACITY + 1));
        assert_eq!(take_write().capacity(), 0);
    }
}
