//! The cost of a `Deferred` callback: chains of 1, 10 and 1 000 value-transforming
//! callbacks, fired and read back; and a callback returning a nested Deferred.
//!
//! `cargo bench --bench deferred`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use torsade::Deferred;

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("deferred_chain");
    for length in [1u64, 10, 1000] {
        group.throughput(Throughput::Elements(length));
        group.bench_with_input(
            BenchmarkId::from_parameter(length),
            &length,
            |b, &length| {
                b.iter(|| {
                    let (mut deferred, resolver) = Deferred::<u64>::new();
                    for _ in 0..length {
                        deferred = deferred.add_callback(|n| n + 1);
                    }
                    resolver.callback(0).unwrap();
                    deferred.take_result().unwrap().unwrap()
                })
            },
        );
    }
    group.finish();
}

fn nested(c: &mut Criterion) {
    c.bench_function("deferred_nested_wait", |b| {
        b.iter(|| {
            let (inner, resolver) = Deferred::<u64>::new();
            let mut outer = Deferred::succeed(())
                .and_then(move |()| inner)
                .add_callback(|n| n + 1);
            resolver.callback(41).unwrap();
            outer.take_result().unwrap().unwrap()
        })
    });
}

criterion_group!(benches, chain, nested);
criterion_main!(benches);
