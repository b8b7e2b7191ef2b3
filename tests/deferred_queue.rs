//! `DeferredQueue`: puts go to waiting gets first come, first served; size and backlog
//! limits answer with typed overflow and underflow errors; waiting gets can be cancelled
//! (Twisted's `testQueue` and its cancellation tests).

mod deferred_helpers;

use std::sync::{Arc, Mutex};

use deferred_helpers::{assert_no_result, failure, is_cancelled, value};
use torsade::{Deferred, DeferredQueue, Error, QueueOverflow};

type Gotten = Arc<Mutex<Vec<u32>>>;

/// A get whose value is recorded in `gotten` when it comes.
fn get_into(queue: &DeferredQueue<u32>, gotten: &Gotten) {
    let gotten = gotten.clone();
    queue
        .get()
        .unwrap()
        .add_callback(move |value| gotten.lock().unwrap().push(value))
        .detach();
}

fn got(gotten: &Gotten) -> Vec<u32> {
    gotten.lock().unwrap().clone()
}

/// Twisted's `testQueue`, with N = M = 2.
#[test]
fn puts_and_gets_meet_first_come_first_served_within_the_size_and_backlog_limits() {
    let queue = DeferredQueue::with_limits(Some(2), Some(2));
    let gotten = Gotten::default();
    for _ in 0..2 {
        get_into(&queue, &gotten);
    }
    assert!(matches!(
        queue.get(),
        Err(Error::QueueUnderflow { backlog: 2 })
    ));
    for i in 0..2 {
        queue.put(i).unwrap();
        assert_eq!(got(&gotten), (0..=i).collect::<Vec<_>>());
    }
    for i in 0..2 {
        queue.put(2 + i).unwrap();
        assert_eq!(got(&gotten), [0, 1]);
    }
    let overflow: QueueOverflow<u32> = queue.put(99).unwrap_err();
    assert_eq!((overflow.size, overflow.into_inner()), (2, 99));

    let gotten = Gotten::default();
    for i in 0..2 {
        get_into(&queue, &gotten);
        assert_eq!(got(&gotten), (2..=2 + i).collect::<Vec<_>>());
    }
    assert!(queue.is_empty());
}

#[test]
fn an_unlimited_queue_serves_waiting_gets_in_order() {
    let queue = DeferredQueue::new();
    let gotten = Gotten::default();
    for _ in 0..3 {
        get_into(&queue, &gotten);
    }
    assert_eq!(queue.waiting(), 3);
    for i in 0..3 {
        queue.put(i).unwrap();
    }
    assert_eq!(got(&gotten), [0, 1, 2]);
    assert_eq!((queue.size(), queue.backlog()), (None, None));
}

#[test]
fn a_queue_of_size_zero_takes_a_put_only_for_a_waiting_get() {
    let queue = DeferredQueue::with_limits(Some(0), None);
    assert_eq!(queue.put(1).unwrap_err().value, 1);
    let waiting = queue.get().unwrap();
    queue.put(2).unwrap();
    assert_eq!(value(waiting), 2);
}

#[test]
fn a_queue_with_a_backlog_of_zero_answers_a_get_only_from_kept_values() {
    let queue = DeferredQueue::<u32>::with_limits(None, Some(0));
    assert!(matches!(
        queue.get(),
        Err(Error::QueueUnderflow { backlog: 0 })
    ));
    queue.put(5).unwrap();
    assert_eq!(value(queue.get().unwrap()), 5);
}

/// Twisted's `test_cancelQueueAfterSynchronousGet`.
#[test]
fn cancelling_a_get_that_has_its_value_does_nothing() {
    let queue = DeferredQueue::new();
    let get = queue.get().unwrap();
    queue.put(1).unwrap();
    get.cancel();
    assert_eq!(value(get), 1);
}

/// Twisted's `test_cancelQueueAfterGet`.
#[test]
fn a_cancelled_get_fails_with_cancelled_and_leaves_the_queue() {
    let queue = DeferredQueue::new();
    let get = queue.get().unwrap();
    get.cancel();
    assert!(is_cancelled(&failure(get)));
    assert_eq!(queue.waiting(), 0);
    // The queue no longer tries to fire it: the value is kept for the next get.
    queue.put(3).unwrap();
    assert_eq!(value(queue.get().unwrap()), 3);
}

#[test]
fn a_value_skips_cancelled_gets_and_goes_to_the_next_waiting_one() {
    let queue = DeferredQueue::new();
    let first = queue.get().unwrap();
    let mut second = queue.get().unwrap();
    first.cancel();
    assert_no_result(&mut second);
    queue.put(7).unwrap();
    assert_eq!(value(second), 7);
    assert!(is_cancelled(&failure(first)));
}

#[test]
fn a_getter_may_use_the_queue_from_its_callback() {
    let queue = DeferredQueue::new();
    let inner = queue.clone();
    let gotten = Gotten::default();
    let log = gotten.clone();
    let chained = queue.get().unwrap().and_then(move |first| {
        log.lock().unwrap().push(first);
        inner.put(first + 1).unwrap();
        inner.get().unwrap()
    });
    queue.put(10).unwrap();
    assert_eq!(value(chained), 11);
    assert_eq!(got(&gotten), [10]);
    assert!(queue.is_empty());
}

#[test]
fn an_overflow_converts_into_torsades_error_for_question_mark() {
    fn fill(queue: &DeferredQueue<u32>) -> torsade::Result<()> {
        queue.put(1)?;
        queue.put(2)?;
        Ok(())
    }
    let queue = DeferredQueue::with_limits(Some(1), None);
    assert!(matches!(
        fill(&queue),
        Err(Error::QueueOverflow { size: 1 })
    ));
    assert_eq!(
        Error::QueueOverflow { size: 1 }.to_string(),
        "the queue is full: it keeps at most 1 values"
    );
}

#[test]
fn a_get_waiting_on_a_dropped_queue_can_still_be_cancelled() {
    let queue = DeferredQueue::<u32>::new();
    let get: Deferred<u32> = queue.get().unwrap();
    drop(queue);
    get.cancel();
    assert!(is_cancelled(&failure(get)));
}
