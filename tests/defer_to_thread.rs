//! `Reactor::defer_to_thread`: blocking work on the reactor's bounded thread pool, its
//! result back on the loop, and the pool shut down with the reactor (Twisted's
//! `deferToThread`). Threads are coordinated with channels, never with sleeps.

mod deferred_helpers;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use deferred_helpers::{is_cancelled, run_bounded, LIMIT};
use torsade::{Error, Failure, Reactor};

/// What each Deferred ended with, as text, in the order they ended.
type Outcomes = Arc<Mutex<Vec<String>>>;

fn describe<T: std::fmt::Debug>(result: &Result<T, Failure>) -> String {
    match result {
        Ok(value) => format!("ok:{value:?}"),
        Err(failure) => match failure.downcast_ref::<Error>() {
            Some(Error::ReactorStopped) => "reactor stopped".to_string(),
            _ => format!("err:{failure}"),
        },
    }
}

#[test]
fn the_work_runs_off_the_loop_and_its_deferred_fires_on_the_loop() {
    let reactor = Reactor::new().unwrap();
    let threads = Arc::new(Mutex::new(Vec::<(&str, ThreadId)>::new()));
    let (r, log) = (reactor.clone(), threads.clone());
    reactor.call_when_running(move || {
        log.lock()
            .unwrap()
            .push(("loop", std::thread::current().id()));
        let (work_log, done_log, stopper) = (log.clone(), log.clone(), r.clone());
        r.defer_to_thread(move || {
            work_log
                .lock()
                .unwrap()
                .push(("work", std::thread::current().id()));
            6 * 7
        })
        .add_callback(move |answer| {
            assert_eq!(answer, 42);
            done_log
                .lock()
                .unwrap()
                .push(("callback", std::thread::current().id()));
            stopper.stop().unwrap();
        })
        .detach();
    });
    run_bounded(&reactor);
    let threads = threads.lock().unwrap().clone();
    let [("loop", on_loop), ("work", worker), ("callback", called_back)] = threads[..] else {
        panic!("unexpected order: {threads:?}");
    };
    assert_ne!(worker, on_loop, "the work ran on the loop");
    assert_eq!(called_back, on_loop, "the callback ran off the loop");
}

#[test]
fn a_panic_in_the_work_fails_the_deferred_with_panicked() {
    let reactor = Reactor::new().unwrap();
    let outcome = Arc::new(Mutex::new(None));
    let (r, record) = (reactor.clone(), outcome.clone());
    reactor.call_when_running(move || {
        let stopper = r.clone();
        r.defer_to_thread(|| -> u32 { panic!("blocking work failed") })
            .add_both(move |result| {
                *record.lock().unwrap() = Some(result.map_err(|failure| failure.to_string()));
                stopper.stop().unwrap();
            })
            .detach();
    });
    run_bounded(&reactor);
    assert_eq!(
        outcome.lock().unwrap().clone(),
        Some(Err("panicked: blocking work failed".to_string()))
    );
}

/// Work that reports `started` and then blocks until a token arrives on `gate`.
fn gated_work(
    started: mpsc::Sender<()>,
    gate: Arc<Mutex<mpsc::Receiver<()>>>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
) -> impl FnOnce() -> usize + Send + 'static {
    move || {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        started.send(()).unwrap();
        gate.lock()
            .unwrap()
            .recv_timeout(LIMIT)
            .expect("released within the limit");
        running.fetch_sub(1, Ordering::SeqCst);
        now
    }
}

#[test]
fn the_pool_runs_at_most_its_size_at_once_and_the_rest_wait_their_turn() {
    let reactor = Reactor::new().unwrap();
    reactor.set_thread_pool_size(NonZeroUsize::new(2).unwrap());
    assert_eq!(reactor.thread_pool_size(), 2);
    let (started_sender, started) = mpsc::channel();
    let (release, gate) = mpsc::channel();
    let gate = Arc::new(Mutex::new(gate));
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let finished = Arc::new(AtomicUsize::new(0));
    let r = reactor.clone();
    let (seen_most, seen_finished) = (most.clone(), finished.clone());
    reactor.call_when_running(move || {
        for _ in 0..4 {
            let (count, stopper) = (finished.clone(), r.clone());
            r.defer_to_thread(gated_work(
                started_sender.clone(),
                gate.clone(),
                running.clone(),
                most.clone(),
            ))
            .add_callback(move |_| {
                if count.fetch_add(1, Ordering::SeqCst) + 1 == 4 {
                    stopper.stop().unwrap();
                }
            })
            .detach();
        }
        // Four jobs, every thread busy: the pool started exactly its size.
        assert_eq!(r.thread_pool_threads(), 2);
        // Two start; the others wait for one of them to finish.
        std::thread::spawn(move || {
            for _ in 0..4 {
                started.recv_timeout(LIMIT).expect("a job starts");
                release.send(()).unwrap();
            }
        });
    });
    run_bounded(&reactor);
    assert_eq!(seen_finished.load(Ordering::SeqCst), 4);
    assert!(seen_most.load(Ordering::SeqCst) <= 2);
    assert_eq!(reactor.thread_pool_threads(), 0, "run joined the threads");
}

#[test]
fn raising_the_size_starts_threads_for_work_already_waiting() {
    let reactor = Reactor::new().unwrap();
    reactor.set_thread_pool_size(NonZeroUsize::MIN);
    let (started_sender, started) = mpsc::channel();
    let (release, gate) = mpsc::channel();
    let gate = Arc::new(Mutex::new(gate));
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let done = Arc::new(AtomicUsize::new(0));
    let r = reactor.clone();
    reactor.call_when_running(move || {
        for _ in 0..3 {
            let (count, stopper) = (done.clone(), r.clone());
            r.defer_to_thread(gated_work(
                started_sender.clone(),
                gate.clone(),
                running.clone(),
                most.clone(),
            ))
            .add_callback(move |_| {
                if count.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                    stopper.stop().unwrap();
                }
            })
            .detach();
        }
        assert_eq!(r.thread_pool_threads(), 1);
        r.set_thread_pool_size(NonZeroUsize::new(3).unwrap());
        assert_eq!(r.thread_pool_threads(), 3);
        // All three are running at once now: wait for the three starts, then release.
        std::thread::spawn(move || {
            for _ in 0..3 {
                started.recv_timeout(LIMIT).expect("a job starts");
            }
            assert_eq!(most.load(Ordering::SeqCst), 3);
            for _ in 0..3 {
                release.send(()).unwrap();
            }
        });
    });
    run_bounded(&reactor);
}

#[test]
fn when_the_reactor_stops_waiting_work_never_runs_and_running_work_is_waited_for() {
    let reactor = Reactor::new().unwrap();
    reactor.set_thread_pool_size(NonZeroUsize::MIN);
    let outcomes = Outcomes::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let (release, gate) = mpsc::channel::<()>();
    let (started_sender, started) = mpsc::channel();
    let r = reactor.clone();
    let (log, count) = (outcomes.clone(), ran.clone());
    reactor.call_when_running(move || {
        let running_log = log.clone();
        let running_count = count.clone();
        r.defer_to_thread(move || {
            started_sender.send(()).unwrap();
            // Released by the waiting job's failure, as the pool shuts down.
            gate.recv_timeout(LIMIT).expect("released within the limit");
            running_count.fetch_add(1, Ordering::SeqCst);
            "running"
        })
        .add_both(move |result| running_log.lock().unwrap().push(describe(&result)))
        .detach();
        let waiting_count = count.clone();
        r.defer_to_thread(move || {
            waiting_count.fetch_add(1, Ordering::SeqCst);
            "waiting"
        })
        .add_both(move |result| {
            log.lock().unwrap().push(describe(&result));
            release.send(()).unwrap();
        })
        .detach();
        started.recv_timeout(LIMIT).expect("the first job starts");
        r.stop().unwrap();
    });
    run_bounded(&reactor);
    assert_eq!(
        *outcomes.lock().unwrap(),
        ["reactor stopped", "reactor stopped"],
        "the waiting job's Deferred fails first, then the running one's"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1, "only the running job ran");
    assert_eq!(reactor.thread_pool_threads(), 0);
}

#[test]
fn work_asked_for_after_the_reactor_stopped_fails_at_once() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    run_bounded(&reactor);
    let mut late = reactor.defer_to_thread(|| 1);
    let failure = late.take_result().unwrap().unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::ReactorStopped)
    ));
}

#[test]
fn cancelling_fails_the_deferred_at_once_and_the_work_finishes_unobserved() {
    let reactor = Reactor::new().unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let outcomes = Outcomes::default();
    let r = reactor.clone();
    let log = outcomes.clone();
    reactor.call_when_running(move || {
        let stopper = r.clone();
        let work = r.defer_to_thread(move || {
            gate.recv_timeout(LIMIT).expect("released within the limit");
            "finished"
        });
        let watched = work.add_both(move |result| {
            assert!(result.as_ref().is_err_and(is_cancelled));
            log.lock().unwrap().push(describe(&result));
        });
        watched.cancel();
        release.send(()).unwrap();
        // The result arrives on a later turn of the loop and is dropped; stop after it.
        let finisher = stopper.clone();
        stopper
            .defer_to_thread(|| ())
            .add_callback(move |()| finisher.stop().unwrap())
            .detach();
        watched.detach();
    });
    run_bounded(&reactor);
    assert_eq!(outcomes.lock().unwrap().len(), 1);
}
