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

    use std::sync::Arc;
    use std::task::Wake;

    struct Task;

    impl Wake for Task {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn the_same_task_is_registered_once() {
        let (one, other) = (Waker::from(Arc::new(Task)), Waker::from(Arc::new(Task)));
        let mut waiting = Vec::new();
        register(&mut waiting, &one);
        register(&mut waiting, &one.clone());
        register(&mut waiting, &other);
        assert_eq!(waiting.len(), 2);
    }
}
