//! Writes a connection's own callbacks make, taken without the transport's lock.
//!
//! While the connection's task runs a protocol callback, it opens this thread's buffer for
//! that connection: writes to *that* connection's transport from this thread land in it
//! with no lock and no atomic read-modify-write (one flag is read). When the callback
//! returns, the task hands what was written over under one lock: appended to the shared
//! write buffer, or, when nothing is queued before it, the buffer itself becomes the bytes
//! to send (no copy) and the thread gets an empty one back. Writes to any other
//! transport, or from any other thread, take the ordinary locked path. Order is kept: the
//! buffer only holds writes made after everything already in the shared buffer.
//!
//! There is one buffer per thread, not per connection: only one callback runs on a thread
//! at a time, and an idle connection then holds no write buffer at all.
//!
//! A framer can hold the buffer itself for the length of a callback ([`LentWrites`]) and
//! skip the transport's virtual call and the thread-local lookup on every write; its
//! writes still land in this one buffer, so order is kept with writes made through the
//! transport meanwhile.
//!
//! Writes from other threads while the buffer is lent ([`LendState::lent`]) wait in a
//! side buffer of the connection's and follow the callback's writes. If the callback
//! writes again after one of them ([`LendState::foreign`]), its write first moves what it
//! wrote before, then the waiting writes, to the shared buffer: a write another thread
//! makes after the callback's (say, once the callback handed it the transport) never
//! overtakes it, and one the callback waits for comes before what it writes next.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// The address of the connection whose callback runs on this thread, or 0. Apart from
    /// the buffer so that the check every write makes is one plain load: a `Cell<usize>`
    /// needs no destructor, so reaching it costs no lazy-registration check.
    static OWNER: Cell<usize> = const { Cell::new(0) };
    /// What that callback wrote. A `Vec` rather than a `BytesMut`: appending small slices
    /// is several times cheaper. Shared (`Rc`) with the [`LentWrites`] handed out for it,
    /// so that a framer writes through one without reaching the thread-local each time.
    static BUFFER: Rc<RefCell<Vec<u8>>> = Rc::new(RefCell::new(Vec::new()));
}

/// The write buffer a connection lends to the callback running now, on this thread:
/// appending to it is writing to the connection, in order with every other write made to
/// it meanwhile (they land in the same buffer), and it costs no virtual call, no lock and
/// no thread-local lookup per write. From
/// [`Transport::lent_writes`](crate::Transport::lent_writes).
///
/// For framers that write many small pieces per read, such as a line receiver answering
/// every line: take it once per `data_received`, write through it for each line. It is
/// neither `Send` nor meant to be kept: once the callback it was lent to has returned,
/// [`write_many`](LentWrites::write_many) refuses (returns `false`) and the caller writes
/// through the transport instead.
///
/// It also answers [`is_closing`](LentWrites::is_closing) without a virtual call, for a
/// framer that stops delivering once its protocol asked to close.
pub struct LentWrites<'a> {
    owner: usize,
    buffer: Rc<RefCell<Vec<u8>>>,
    /// The transport's flags.
    state: &'a LendState,
}

/// The flags a connection shares with the buffer it lends, read without its lock.
#[derive(Debug, Default)]
pub(crate) struct LendState {
    /// A close was requested, or the connection ended
    /// ([`Transport::is_closing`](crate::Transport::is_closing)).
    pub(crate) closing: AtomicBool,
    /// One of the connection's callbacks runs with this thread's buffer lent: writes from
    /// elsewhere wait in the connection's side buffer. Set when the callback starts,
    /// cleared under the connection's lock when it ends.
    pub(crate) lent: AtomicBool,
    /// Writes from elsewhere wait in the side buffer: the callback's next write goes the
    /// locked way, which moves the lent buffer's bytes and then theirs to the shared
    /// buffer first. Changed only under the connection's lock.
    pub(crate) foreign: AtomicBool,
}

impl LentWrites<'_> {
    /// Whether the connection is closing or closed:
    /// [`Transport::is_closing`](crate::Transport::is_closing), read directly.
    #[inline]
    pub fn is_closing(&self) -> bool {
        self.state.closing.load(Ordering::Acquire)
    }

    /// Appends `chunks` to the connection's output, in order; `false` (nothing written)
    /// if the buffer is no longer lent to the connection it came from, or if writes from
    /// another thread wait to go after what it holds (the transport's own write then
    /// keeps the order).
    #[inline]
    pub fn write_many(&self, chunks: &[&[u8]]) -> bool {
        if OWNER.get() != self.owner || self.state.foreign.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut buffer) = self.buffer.try_borrow_mut() else {
            return false;
        };
        for chunk in chunks {
            append(&mut buffer, chunk);
        }
        true
    }
}

impl fmt::Debug for LentWrites<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LentWrites")
            .field("lent", &(OWNER.get() == self.owner))
            .finish_non_exhaustive()
    }
}

/// The buffer lent to `owner`'s running callback, if it runs on this thread now;
/// `state` is that connection's.
pub(crate) fn lent(owner: usize, state: &LendState) -> Option<LentWrites<'_>> {
    if OWNER.get() != owner {
        return None;
    }
    Some(LentWrites {
        owner,
        buffer: BUFFER.with(Rc::clone),
        state,
    })
}

/// The buffer keeps at most this much capacity between callbacks.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Opens this thread's buffer for writes to the transport at `owner` (never 0: it is the
/// address of a live value).
pub(crate) fn lend(owner: usize) {
    OWNER.set(owner);
    BUFFER.with(|buffer| {
        if let Ok(mut buffer) = buffer.try_borrow_mut() {
            buffer.clear();
        }
    });
}

/// Closes the buffer and hands it, holding what was written (perhaps nothing), to
/// `deliver`. `deliver` may copy the bytes out, or take the buffer itself and leave
/// another (empty) one in its place; either way the buffer is empty afterwards.
pub(crate) fn reclaim(deliver: impl FnOnce(&mut Vec<u8>)) {
    OWNER.set(0);
    BUFFER.with(|buffer| {
        // Only a `LentWrites` borrows it otherwise, and only inside a write; `deliver`
        // runs either way (it also ends the callback for the connection).
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            deliver(&mut Vec::new());
            return;
        };
        deliver(&mut buffer);
        buffer.clear();
        if buffer.capacity() > KEEP_CAPACITY {
            *buffer = Vec::new();
        }
    });
}

/// Offers an empty buffer back to this thread (one a connection took in `reclaim` and is
/// done with): kept if it is larger than the thread's own and within the bound, so the
/// next callback writes into it without growing one from scratch.
pub(crate) fn give_back(spare: Vec<u8>) {
    if !spare.is_empty() || spare.capacity() > KEEP_CAPACITY || OWNER.get() != 0 {
        return;
    }
    BUFFER.with(|buffer| {
        if let Ok(mut buffer) = buffer.try_borrow_mut() {
            if buffer.is_empty() && buffer.capacity() < spare.capacity() {
                *buffer = spare;
            }
        }
    });
}

/// Appends `chunks` to the buffer if it is open for `owner`; returns whether it did.
#[inline(always)]
pub(crate) fn try_write(owner: usize, chunks: &[&[u8]]) -> bool {
    if OWNER.get() != owner {
        return false;
    }
    BUFFER.with(|buffer| {
        // Only `deliver` in `reclaim` could hold it, and it runs with OWNER at 0.
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            return false;
        };
        for chunk in chunks {
            append(&mut buffer, chunk);
        }
        true
    })
}

/// Appends `chunk` to `buffer`. Line endings and other one- or two-byte chunks are copied
/// inline: a call to `memcpy` costs more than the copy (measured: the `\r\n` of a line
/// echo cost about 17 instructions per line that way).
/// Longer chunks are tested for first: one comparison for the common case.
#[inline(always)]
fn append(buffer: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.len() > 2 {
        buffer.extend_from_slice(chunk);
        return;
    }
    match *chunk {
        [byte] => buffer.push(byte),
        [first, second] => buffer.extend_from_slice(&[first, second]),
        _ => {}
    }
}

/// Drops what the buffer holds for `owner` (the connection was aborted).
pub(crate) fn discard(owner: usize) {
    if OWNER.get() == owner {
        BUFFER.with(|buffer| {
            if let Ok(mut buffer) = buffer.try_borrow_mut() {
                buffer.clear();
            }
        });
    }
}

/// Moves what the buffer holds for `owner` to the end of `into`.
pub(crate) fn drain_pending(owner: usize, into: &mut Vec<u8>) {
    if OWNER.get() != owner {
        return;
    }
    BUFFER.with(|buffer| {
        if let Ok(mut buffer) = buffer.try_borrow_mut() {
            into.extend_from_slice(&buffer);
            buffer.clear();
        }
    });
}

/// Whether the buffer is lent to `owner` on this thread now.
pub(crate) fn is_lent_to(owner: usize) -> bool {
    OWNER.get() == owner
}

/// How many bytes the buffer holds for `owner`.
pub(crate) fn pending(owner: usize) -> usize {
    if OWNER.get() != owner {
        return 0;
    }
    BUFFER.with(|buffer| buffer.try_borrow().map_or(0, |buffer| buffer.len()))
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
    fn a_taken_buffer_is_replaced_and_a_spare_one_reused() {
        lend(9);
        assert!(try_write(9, &[b"taken whole"]));
        let mut taken = Vec::new();
        reclaim(|written| taken = std::mem::take(written));
        assert_eq!(taken, b"taken whole");
        taken.clear();
        taken.reserve(4096);
        let capacity = taken.capacity();
        give_back(taken);
        lend(9);
        assert!(try_write(9, &[b"x"]));
        let mut reused = 0;
        reclaim(|written| reused = written.capacity());
        assert_eq!(reused, capacity, "the spare buffer was written into");
        give_back(vec![1]);
        give_back(Vec::with_capacity(KEEP_CAPACITY + 1));
        assert!(reclaimed().is_empty());
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
    fn lent_writes_interleave_in_order_with_transport_writes() {
        let state = LendState::default();
        assert!(
            lent(5, &state).is_none(),
            "nothing is lent outside a callback"
        );
        lend(5);
        assert!(lent(6, &state).is_none(), "lent only to its own connection");
        let writes = lent(5, &state).expect("lent to the running callback");
        assert!(!writes.is_closing());
        state.closing.store(true, Ordering::Release);
        assert!(writes.is_closing(), "reads the transport's flag");
        state.foreign.store(true, Ordering::Release);
        assert!(
            !writes.write_many(&[b"x"]),
            "refused while writes from elsewhere wait"
        );
        state.foreign.store(false, Ordering::Release);
        assert!(writes.write_many(&[b"a", b"\r\n"]));
        assert!(try_write(5, &[b"b"]));
        assert!(writes.write_many(&[b"c", b"", b"long enough for memcpy"]));
        assert_eq!(pending(5), 27);
        assert_eq!(reclaimed(), b"a\r\nbclong enough for memcpy");
        assert!(
            !writes.write_many(&[b"late"]),
            "refused once the callback returned"
        );
        lend(6);
        assert!(
            !writes.write_many(&[b"x"]),
            "refused in another connection's callback"
        );
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
