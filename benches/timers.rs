//! `call_later` at scale: scheduling, cancelling and firing 100 000 pending timers, and
//! resetting an idle timeout, on the timer queue the reactor and the fake clock share
//! (driven here by the fake clock, so no real time passes).
//!
//! `cargo bench --bench timers`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use torsade::testing::FakeClock;
use torsade::DelayedCall;

const TIMERS: u64 = 100_000;

fn schedule_all(clock: &FakeClock) -> Vec<DelayedCall> {
    (0..TIMERS)
        .map(|i| clock.call_later(Duration::from_millis(1 + i % 5000), || {}))
        .collect()
}

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers_100k");
    group.throughput(Throughput::Elements(TIMERS));
    group.sample_size(20);
    group.bench_function("schedule", |b| {
        b.iter_batched(
            FakeClock::new,
            |clock| schedule_all(&clock),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("cancel", |b| {
        b.iter_batched(
            || {
                let clock = FakeClock::new();
                let calls = schedule_all(&clock);
                (clock, calls)
            },
            |(clock, calls)| {
                for call in &calls {
                    call.cancel().unwrap();
                }
                clock
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("fire", |b| {
        b.iter_batched(
            || {
                let clock = FakeClock::new();
                let calls = schedule_all(&clock);
                (clock, calls)
            },
            |(clock, calls)| {
                clock.advance(Duration::from_secs(10));
                (clock, calls)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    c.bench_function("idle_timeout_reset", |b| {
        let clock = FakeClock::new();
        let call = clock.call_later(Duration::from_secs(60), || {});
        b.iter(|| call.reset(Duration::from_secs(60)).unwrap())
    });
}

criterion_group!(benches, timers);
criterion_main!(benches);
