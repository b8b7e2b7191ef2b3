//! Dropping nested Deferreds without recursion: [`drop_iteratively`].
//!
//! A chain owns its links, and a link may own another chain (a waiting chain's
//! `Continue` link, a Deferred captured by a callback), which owns its links, and so on.
//! Dropping the outermost one would recurse once per level, and 100 000 nested unfired
//! Deferreds would overflow the stack. So the first drop on a thread becomes the
//! *drainer*: values dropped while it runs (by the drops it causes) are queued on the
//! thread and dropped one after the other by the drainer, at constant stack depth.

use std::any::Any;
use std::cell::{Cell, RefCell};

thread_local! {
    static DRAIN: Drain = const {
        Drain {
            active: Cell::new(false),
            queue: RefCell::new(Vec::new()),
        }
    };
}

struct Drain {
    /// Some frame of this thread is draining the queue.
    active: Cell<bool>,
    queue: RefCell<Vec<Box<dyn Any>>>,
}

/// Drops `value` now, or — if this thread is already dropping such values — queues it for
/// the drop in progress, so nested drops never recurse.
pub(crate) fn drop_iteratively<T: 'static>(value: T) {
    let mut value = Some(value);
    // `try_with` fails only while the thread's locals are being destroyed; the value is
    // then dropped directly.
    let drainer = DRAIN.try_with(|drain| {
        if drain.active.get() {
            if let Some(value) = value.take() {
                drain.queue.borrow_mut().push(Box::new(value));
            }
            false
        } else {
            drain.active.set(true);
            true
        }
    });
    if !matches!(drainer, Ok(true)) {
        drop(value);
        return;
    }
    let _active = Active;
    drop(value);
    loop {
        let next = DRAIN.try_with(|drain| drain.queue.borrow_mut().pop());
        match next {
            Ok(Some(next)) => drop(next),
            _ => break,
        }
    }
}

/// Clears the drainer flag when draining ends, even by a panic in some value's `Drop`.
struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        let _ = DRAIN.try_with(|drain| drain.active.set(false));
    }
}
