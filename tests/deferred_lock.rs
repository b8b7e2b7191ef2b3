//! DeferredLock and DeferredSemaphore: acquiring, FIFO waiters, cancelling, `run`.

mod common;
mod deferred_helpers;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deferred_helpers::*;
use torsade::{Deferred, DeferredLock, DeferredSemaphore, Error, Failure, Outcome};

fn tokens(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn a_free_lock_is_acquired_at_once_and_a_held_one_makes_acquirers_wait() {
    let lock = DeferredLock::new();
    assert!(!lock.locked());
    let guard = value(lock.acquire());
    assert!(lock.locked());
    let mut waiting = lock.acquire();
    assert_no_result(&mut waiting);
    guard.release();
    let second = value(waiting);
    assert!(lock.locked());
    drop(second);
    assert!(!lock.locked());
}

#[test]
fn releasing_a_lock_hands_it_to_waiters_first_come_first_served() {
    let lock = DeferredLock::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = value(lock.acquire());
    for name in ["a", "b", "c"] {
        let order = order.clone();
        lock.acquire()
            .add_callback(move |guard| {
                order.lock().unwrap().push(name);
                drop(guard);
            })
            .detach();
    }
    assert!(order.lock().unwrap().is_empty());
    drop(first);
    assert_eq!(*order.lock().unwrap(), ["a", "b", "c"]);
    assert!(!lock.locked());
}

#[test]
fn lock_run_holds_the_lock_until_the_returned_deferred_fires() {
    let lock = DeferredLock::new();
    let (control, control_resolver) = Deferred::<&str>::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let mut result = lock.run(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        control
    });
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(lock.locked());
    let mut next = lock.acquire();
    assert_no_result(&mut next);
    assert_no_result(&mut result);

    control_resolver.callback("second unique").unwrap();
    assert_eq!(value(result), "second unique");
    // The lock went straight to the waiter.
    assert!(lock.locked());
    drop(value(next));
    assert!(!lock.locked());
}

#[test]
fn cancelling_a_waiting_acquire_fails_it_with_cancelled_and_skips_it() {
    let lock = DeferredLock::new();
    let holder = value(lock.acquire());
    let cancelled = lock.acquire();
    let mut after = lock.acquire();
    cancelled.cancel();
    assert!(is_cancelled(&failure(cancelled)));
    assert_no_result(&mut after);
    drop(holder);
    drop(value(after));
    assert!(!lock.locked());
}

#[test]
fn cancelling_an_acquire_that_already_has_the_lock_does_nothing() {
    let lock = DeferredLock::new();
    let acquired = lock.acquire();
    acquired.cancel();
    let guard = value(acquired);
    assert!(lock.locked());
    drop(guard);
    assert!(!lock.locked());
}

#[test]
fn a_semaphore_lets_limit_holders_in_at_once_and_queues_the_rest() {
    const N: usize = 13;
    let semaphore = DeferredSemaphore::new(tokens(N));
    assert_eq!(semaphore.limit(), N);
    let permits: Vec<_> = (0..N).map(|_| value(semaphore.acquire())).collect();
    assert_eq!(semaphore.tokens(), 0);

    let cancelled = semaphore.acquire();
    let mut waiting = semaphore.acquire();
    assert_eq!(semaphore.waiting(), 2);
    cancelled.cancel();
    assert!(is_cancelled(&failure(cancelled)));
    assert_eq!(semaphore.waiting(), 1);

    let mut permits = permits.into_iter();
    drop(permits.next());
    let permit = waiting.take_result().unwrap().unwrap();
    assert_eq!(semaphore.tokens(), 0);
    drop(permit);
    drop(permits);
    assert_eq!(semaphore.tokens(), N);
}

#[test]
fn semaphore_run_passes_the_functions_outcome_and_releases_its_token() {
    let semaphore = DeferredSemaphore::new(tokens(1));
    let ok = semaphore.run(|| Outcome::Value(5));
    assert_eq!(value(ok), 5);
    assert_eq!(semaphore.tokens(), 1);

    let failed = semaphore.run(|| Err::<u32, _>(Error::Cancelled));
    assert!(is_cancelled(&failure(failed)));
    assert_eq!(semaphore.tokens(), 1);

    let panicked = semaphore.run(|| -> Result<u32, Failure> { panic!("in run") });
    assert!(matches!(
        failure(panicked).downcast_ref::<Error>(),
        Some(Error::Panicked { .. })
    ));
    assert_eq!(semaphore.tokens(), 1);
}

#[test]
fn cancelling_a_run_waiting_for_its_function_cancels_that_and_releases_the_token() {
    let semaphore = DeferredSemaphore::new(tokens(1));
    let (work, _work_resolver) = Deferred::<u32>::new();
    let running = semaphore.run(move || work);
    assert_eq!(semaphore.tokens(), 0);
    running.cancel();
    assert!(is_cancelled(&failure(running)));
    assert_eq!(semaphore.tokens(), 1);
}

#[test]
fn a_hundred_thousand_waiters_releasing_inside_their_callbacks_do_not_nest() {
    let semaphore = DeferredSemaphore::new(tokens(1));
    let served = Arc::new(AtomicUsize::new(0));
    let holder = value(semaphore.acquire());
    for _ in 0..100_000 {
        let served = served.clone();
        semaphore
            .acquire()
            .add_callback(move |permit| {
                served.fetch_add(1, Ordering::SeqCst);
                permit.release();
            })
            .detach();
    }
    drop(holder);
    assert_eq!(served.load(Ordering::SeqCst), 100_000);
    assert_eq!(semaphore.tokens(), 1);
}

#[test]
fn a_semaphore_shared_across_threads_never_exceeds_its_limit() {
    let semaphore = DeferredSemaphore::new(tokens(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (semaphore, inside, most, done) = (
                semaphore.clone(),
                inside.clone(),
                most.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let (inside, most, done) = (inside.clone(), most.clone(), done.clone());
                    semaphore
                        .run(move || {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            inside.fetch_sub(1, Ordering::SeqCst);
                            done.fetch_add(1, Ordering::SeqCst);
                            Outcome::Value(())
                        })
                        .detach();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 8 * 500);
    assert!(most.load(Ordering::SeqCst) <= 3);
    assert_eq!(semaphore.tokens(), 3);
    assert_eq!(semaphore.waiting(), 0);
}
