//! Polling futures inline on the thread that wakes them, without nesting: [`wake`] and
//! [`start`].
//!
//! [`Deferred::from_future`](crate::Deferred::from_future) has no executor: a task is
//! polled by whoever wakes it. Done naively, a chain of tasks each awaiting the next
//! would poll each other recursively (a wake during a poll polls another task, which
//! fires a Deferred, which wakes a third...). So the first wake on a thread *drives*: it
//! polls its task, then every task woken meanwhile on this thread, in order, at constant
//! stack depth. A wake on a thread that is already driving only queues the task.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

/// A task that can be polled once (until it is pending again).
pub(crate) trait Poll: Send + Sync {
    fn poll_now(self: Arc<Self>);
}

thread_local! {
    static DRIVER: Driver = const {
        Driver {
            active: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

struct Driver {
    /// Some frame of this thread is polling tasks.
    active: Cell<bool>,
    /// Tasks woken on this thread while it was polling, in wake order.
    queue: RefCell<VecDeque<Arc<dyn Poll>>>,
}

/// A task was woken: poll it now, or after the poll in progress on this thread.
pub(crate) fn wake(task: Arc<dyn Poll>) {
    run(task, false);
}

/// A task was created: poll it now, even inside another task's poll (Twisted runs a new
/// coroutine up to its first wait at once).
pub(crate) fn start(task: Arc<dyn Poll>) {
    run(task, true);
}

fn run(task: Arc<dyn Poll>, nested_ok: bool) {
    let mut task = Some(task);
    // `try_with` fails only while the thread's locals are being destroyed; the task is
    // then polled directly.
    let role = DRIVER.try_with(|driver| {
        if !driver.active.get() {
            driver.active.set(true);
            Role::Driver
        } else if nested_ok {
            Role::Nested
        } else {
            if let Some(task) = task.take() {
                driver.queue.borrow_mut().push_back(task);
            }
            Role::Queued
        }
    });
    let Some(task) = task else { return };
    match role {
        Ok(Role::Driver) => {
            let _active = Active;
            task.poll_now();
            while let Ok(Some(next)) =
                DRIVER.try_with(|driver| driver.queue.borrow_mut().pop_front())
            {
                next.poll_now();
            }
        }
        Ok(Role::Nested | Role::Queued) | Err(_) => task.poll_now(),
    }
}

enum Role {
    Driver,
    Nested,
    Queued,
}

/// Clears the driver flag when driving ends, even by a panic.
struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        let _ = DRIVER.try_with(|driver| driver.active.set(false));
    }
}
