//! Deferreds and futures without a runtime: from_future driven inline, sleep on the fake
//! clock, maybe_deferred.

mod common;
mod deferred_helpers;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{run_bounded, LIMIT};
use deferred_helpers::*;
use torsade::testing::FakeClock;
use torsade::{maybe_deferred, sleep, Deferred, Error, Failure, Outcome, Reactor};

const SECOND: Duration = Duration::from_secs(1);

/// Pending once, waking itself first (tokio's `yield_now`).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        context.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs `body` on a thread with a small stack, so that recursion would show.
fn on_small_stack(body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(body)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn from_future_runs_a_ready_future_at_once() {
    let deferred = Deferred::from_future(async { 7 });
    assert_eq!(value(deferred), 7);
}

#[test]
fn from_future_resumes_during_the_fake_clocks_advance() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let steps = Seen::default();
    let log = steps.clone();
    let mut deferred = Deferred::from_future(async move {
        log.push("started");
        sleep(&timer, SECOND).await.unwrap();
        log.push("slept");
        42
    });
    assert_eq!(steps.get(), ["started"]);
    assert_no_result(&mut deferred);
    clock.advance(SECOND);
    assert_eq!(steps.get(), ["started", "slept"]);
    assert_eq!(value(deferred), 42);
}

#[test]
fn from_future_resumes_when_an_awaited_deferred_fires() {
    let (input, resolver) = Deferred::<u32>::new();
    let mut doubled = Deferred::from_future(async move { input.await.unwrap() * 2 });
    assert_no_result(&mut doubled);
    resolver.callback(21).unwrap();
    assert_eq!(value(doubled), 42);
}

#[test]
fn a_future_awaiting_a_failed_deferred_sees_the_failure() {
    let (input, resolver) = Deferred::<u32>::new();
    let outcome = Deferred::from_future(async move {
        match input.await {
            Ok(_) => "value".to_string(),
            Err(failure) => format!("failure: {failure}"),
        }
    });
    resolver.errback(Error::Cancelled).unwrap();
    assert_eq!(value(outcome), "failure: the Deferred was cancelled");
}

#[test]
fn from_try_future_fails_the_deferred_with_the_futures_error() {
    let ok = Deferred::from_try_future(async { Ok::<u32, Error>(1) });
    assert_eq!(value(ok), 1);
    let failed = Deferred::<u32>::from_try_future(async { Err(std::io::Error::other("nope")) });
    assert_eq!(failure(failed).to_string(), "nope");
}

#[test]
fn a_panicking_future_fails_its_deferred_with_panicked() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let deferred = Deferred::<u32>::from_future(async move {
        sleep(&timer, SECOND).await.unwrap();
        panic!("inside the future");
    });
    clock.advance(SECOND);
    match failure(deferred).downcast_ref::<Error>() {
        Some(Error::Panicked { message }) => assert_eq!(message, "inside the future"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cancelling_from_future_drops_the_future_and_fails_with_cancelled() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let token = Arc::new(());
    let held = token.clone();
    let resumed = Arc::new(AtomicUsize::new(0));
    let flag = resumed.clone();
    let deferred = Deferred::from_future(async move {
        let _held = held;
        sleep(&timer, SECOND).await.unwrap();
        flag.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(Arc::strong_count(&token), 2);
    deferred.cancel();
    assert_eq!(Arc::strong_count(&token), 1, "the future was dropped");
    assert!(is_cancelled(&failure(deferred)));
    assert_eq!(
        clock.pending_calls(),
        0,
        "the sleep it awaited was cancelled"
    );
    clock.advance(SECOND);
    assert_eq!(resumed.load(Ordering::SeqCst), 0);
}

#[test]
fn cancelling_from_future_cancels_the_deferreds_it_awaits_without_logging_them() {
    let logs = common::capture_logs(|| {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let counter = cancelled.clone();
        let (with_canceller, _resolver) = Deferred::<u32>::with_canceller(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let (plain, plain_resolver) = Deferred::<u32>::new();
        let deferred = Deferred::from_future(async move {
            let first = with_canceller.await.unwrap();
            first + plain.await.unwrap()
        });
        deferred.cancel();
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
        assert!(is_cancelled(&failure(deferred)));
        // `plain` was never awaited, so it was dropped, not cancelled.
        assert!(matches!(plain_resolver.callback(2), Ok(())));
        assert!(plain_resolver.callback(3).is_err());
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn a_future_woken_during_its_own_poll_is_polled_again_at_once() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let deferred = Deferred::from_future(async move {
        for _ in 0..1000 {
            counter.fetch_add(1, Ordering::SeqCst);
            YieldOnce(false).await;
        }
        "done"
    });
    assert_eq!(value(deferred), "done");
    assert_eq!(polls.load(Ordering::SeqCst), 1000);
}

#[test]
fn a_future_woken_from_another_thread_is_polled_on_that_thread() {
    let (input, resolver) = Deferred::<()>::new();
    let deferred = Deferred::from_future(async move {
        input.await.unwrap();
        std::thread::current().id()
    });
    let firer = std::thread::spawn(move || {
        resolver.callback(()).unwrap();
        std::thread::current().id()
    });
    let firer_id = firer.join().unwrap();
    assert_eq!(value(deferred), firer_id);
}

#[test]
fn from_future_inside_a_future_runs_up_to_its_first_await_at_once() {
    let steps = Seen::default();
    let log = steps.clone();
    let (gate, gate_resolver) = Deferred::<()>::new();
    let outer = Deferred::from_future(async move {
        let inner_log = log.clone();
        let inner = Deferred::from_future(async move {
            inner_log.push("inner started");
            gate.await.unwrap();
            inner_log.push("inner done");
            1
        });
        log.push("outer continues");
        inner.await.unwrap() + 1
    });
    assert_eq!(steps.get(), ["inner started", "outer continues"]);
    gate_resolver.callback(()).unwrap();
    assert_eq!(
        steps.get(),
        ["inner started", "outer continues", "inner done"]
    );
    assert_eq!(value(outer), 2);
}

#[test]
fn a_chain_of_100_000_futures_each_awaiting_the_next_resumes_without_recursion() {
    on_small_stack(|| {
        let (innermost, resolver) = Deferred::<u64>::new();
        let mut chain = innermost;
        for _ in 0..100_000 {
            let inner = chain;
            chain = Deferred::from_future(async move { inner.await.unwrap() + 1 });
        }
        resolver.callback(0).unwrap();
        assert_eq!(value(chain), 100_000);
    });
}

#[test]
fn a_timeout_on_from_future_drops_the_future_and_fails_with_timeout() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let deferred = Deferred::from_future(async move {
        sleep(&timer, Duration::from_secs(60)).await.unwrap();
        "too late"
    })
    .add_timeout(Duration::from_secs(5), &clock);
    clock.advance(Duration::from_secs(5));
    assert!(is_timeout(&failure(deferred)));
    assert_eq!(
        clock.pending_calls(),
        0,
        "the sleep was dropped with the future"
    );
}

#[test]
fn an_unhandled_failure_of_from_future_is_logged_when_dropped() {
    let logs = common::capture_logs(|| {
        let deferred = Deferred::<u32>::from_try_future(async { Err(Error::Cancelled) });
        drop(deferred);
    });
    assert_eq!(
        logs.matches("Unhandled error in Deferred").count(),
        1,
        "{logs}"
    );
}

// sleep

#[test]
fn sleep_fires_after_its_delay_on_the_fake_clock() {
    let clock = FakeClock::new();
    let mut slept = sleep(&clock, Duration::from_secs(3)).add_callback(|()| "woke");
    clock.advance(Duration::from_secs(2));
    assert_no_result(&mut slept);
    clock.advance(SECOND);
    assert_eq!(value(slept), "woke");
}

#[test]
fn cancelling_sleep_cancels_its_delayed_call_and_fails_with_cancelled() {
    let clock = FakeClock::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let slept = sleep(&clock, SECOND).add_callback(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(clock.pending_calls(), 1);
    slept.cancel();
    assert_eq!(clock.pending_calls(), 0);
    clock.advance(SECOND);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(is_cancelled(&failure(slept)));
}

#[test]
fn sleep_works_with_a_dyn_clock() {
    let clock = FakeClock::new();
    let shared: Arc<dyn torsade::Clock> = Arc::new(clock.clone());
    let slept = sleep(&*shared, SECOND);
    let also = sleep(&shared, SECOND);
    clock.advance(SECOND);
    value(slept);
    value(also);
}

#[test]
fn sleep_works_with_the_reactors_clock() {
    let reactor = Reactor::new().unwrap();
    let stopper = reactor.clone();
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = order.clone();
    sleep(&reactor, Duration::ZERO)
        .add_callback(move |()| {
            log.lock().unwrap().push("slept");
            stopper.stop().unwrap();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*order.lock().unwrap(), ["slept"]);
}

// maybe_deferred

#[test]
fn maybe_deferred_turns_a_value_into_a_fired_deferred() {
    assert_eq!(value(maybe_deferred(|| Outcome::Value("result"))), "result");
    assert_eq!(value(maybe_deferred(|| Ok::<_, Failure>(3))), 3);
}

#[test]
fn maybe_deferred_turns_an_error_into_a_failed_deferred() {
    let failed = maybe_deferred(|| "x".parse::<u32>());
    assert!(failure(failed).is::<std::num::ParseIntError>());
}

#[test]
fn maybe_deferred_passes_a_returned_deferred_through() {
    let (later, resolver) = Deferred::<u32>::new();
    let mut passed = maybe_deferred(move || later);
    assert_no_result(&mut passed);
    resolver.callback(9).unwrap();
    assert_eq!(value(passed), 9);
}

#[test]
fn maybe_deferred_turns_a_panic_into_a_failure() {
    let logs = common::capture_logs(|| {
        let panicked = maybe_deferred(|| -> Result<u32, Failure> { panic!("sync boom") });
        match failure(panicked).downcast_ref::<Error>() {
            Some(Error::Panicked { message }) => assert_eq!(message, "sync boom"),
            other => panic!("unexpected {other:?}"),
        }
    });
    assert!(logs.contains("panicked"), "{logs}");
}

#[test]
fn maybe_deferred_runs_an_async_function_through_from_future() {
    let clock = FakeClock::new();
    let timer = clock.clone();
    let deferred = maybe_deferred(move || {
        Deferred::from_future(async move {
            sleep(&timer, SECOND).await.unwrap();
            5
        })
    });
    clock.advance(SECOND);
    assert_eq!(value(deferred), 5);
}

// from_future: letting go of the Deferred cancels the task; handing it on does not.

/// A future that sleeps a second on `clock` and then counts in `finished`; it holds
/// `token` while it exists.
fn sleeper(
    clock: &FakeClock,
    token: &Arc<()>,
    finished: &Arc<AtomicUsize>,
) -> impl Future<Output = ()> + Send + 'static {
    let (timer, held, count) = (clock.clone(), token.clone(), finished.clone());
    async move {
        let _held = held;
        sleep(&timer, SECOND).await.unwrap();
        count.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_from_future_deferred_cancels_its_task_and_drops_the_future() {
    let logs = common::capture_logs(|| {
        let (clock, token, finished) = (FakeClock::new(), Arc::new(()), Arc::default());
        let deferred = Deferred::from_future(sleeper(&clock, &token, &finished));
        assert_eq!(Arc::strong_count(&token), 2);
        drop(deferred);
        assert_eq!(Arc::strong_count(&token), 1, "the future was dropped");
        assert_eq!(clock.pending_calls(), 0, "its sleep was cancelled");
        clock.advance(SECOND);
        assert_eq!(finished.load(Ordering::SeqCst), 0);
    });
    assert!(!logs.contains("Unhandled error"), "{logs}");
}

#[test]
fn a_detached_from_future_task_runs_to_its_end() {
    let (clock, token, finished) = (FakeClock::new(), Arc::new(()), Arc::default());
    Deferred::from_future(sleeper(&clock, &token, &finished)).detach();
    clock.advance(SECOND);
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn adding_a_callback_hands_the_task_on_and_dropping_that_deferred_cancels_it() {
    let (clock, token, finished) = (FakeClock::new(), Arc::new(()), Arc::default());
    let chained = Deferred::from_future(sleeper(&clock, &token, &finished)).add_callback(|()| 1);
    assert_eq!(clock.pending_calls(), 1, "still running");
    drop(chained);
    assert_eq!(clock.pending_calls(), 0);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn a_from_future_deferred_returned_by_a_callback_runs_on() {
    let (clock, token, finished) = (
        FakeClock::new(),
        Arc::new(()),
        Arc::<AtomicUsize>::default(),
    );
    let (outer, resolver) = Deferred::<()>::new();
    let (c, t, f) = (clock.clone(), token.clone(), finished.clone());
    let outer = outer.and_then(move |()| Deferred::from_future(sleeper(&c, &t, &f)));
    resolver.callback(()).unwrap();
    clock.advance(SECOND);
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    value(outer);
}

#[test]
fn from_future_deferreds_in_a_list_or_a_race_run_on_when_the_list_is_dropped() {
    let (clock, token, finished) = (
        FakeClock::new(),
        Arc::new(()),
        Arc::<AtomicUsize>::default(),
    );
    let list = torsade::DeferredList::new([
        Deferred::from_future(sleeper(&clock, &token, &finished)),
        Deferred::from_future(sleeper(&clock, &token, &finished)),
    ])
    .into_deferred();
    let raced = torsade::race([Deferred::from_future(sleeper(&clock, &token, &finished))]);
    drop((list, raced));
    clock.advance(SECOND);
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

#[test]
fn dropping_an_outer_task_cancels_the_task_it_awaits() {
    let (clock, token, finished) = (
        FakeClock::new(),
        Arc::new(()),
        Arc::<AtomicUsize>::default(),
    );
    let inner = Deferred::from_future(sleeper(&clock, &token, &finished));
    let outer = Deferred::from_future(async move { inner.await.unwrap() });
    assert_eq!(clock.pending_calls(), 1);
    drop(outer);
    assert_eq!(
        clock.pending_calls(),
        0,
        "the inner task's sleep was cancelled"
    );
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn a_future_that_stops_awaiting_a_task_cancels_it() {
    let (clock, token, finished) = (
        FakeClock::new(),
        Arc::new(()),
        Arc::<AtomicUsize>::default(),
    );
    let inner = Deferred::from_future(sleeper(&clock, &token, &finished));
    let outer = Deferred::from_future(async move {
        let mut inner = std::pin::pin!(inner);
        // Polled once, then abandoned (as a `select!` that took another branch would).
        let pending =
            std::future::poll_fn(|context| Poll::Ready(inner.as_mut().poll(context).is_pending()))
                .await;
        assert!(pending);
        "gave up"
    });
    assert_eq!(value(outer), "gave up");
    assert_eq!(clock.pending_calls(), 0);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn dropping_a_finished_from_future_deferred_changes_nothing() {
    let (clock, token, finished) = (
        FakeClock::new(),
        Arc::new(()),
        Arc::<AtomicUsize>::default(),
    );
    let mut deferred = Deferred::from_future(sleeper(&clock, &token, &finished));
    clock.advance(SECOND);
    assert_eq!(deferred.take_result().unwrap().ok(), Some(()));
    drop(deferred);
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}
