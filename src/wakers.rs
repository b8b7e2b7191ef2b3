//! Lists of tasks waiting for something: registering without duplicates.

use std::task::Waker;

/// Adds `waker` to `waiting` unless a waker for the same task is already there.
pub(crate) fn register(waiting: &mut Vec<Waker>, waker: &Waker) {
    if !waiting.iter().any(|waiting| waiting.will_wake(waker)) {
        waiting.push(waker.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_task_is_registered_once() {
        let mut waiting = Vec::new();
        register(&mut waiting, Waker::noop());
        register(&mut waiting, Waker::noop());
        assert_eq!(waiting.len(), 1);
    }
}
