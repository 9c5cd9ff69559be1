//! Throughput of the Redis shared store: the cost of an update on a handle (local, no I/O), and
//! updates per second through one `redis-server` with batched transfer (one `MULTI`/`EXEC`
//! round trip per transfer). Starts its own `redis-server` on a free loopback port.

#[path = "../tests/redis_support/mod.rs"]
mod redis_support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use microprofile::redis::{RedisCounter, SharedStore, StoreConfig};

fn counters(store: &SharedStore, n: usize) -> Vec<RedisCounter> {
    (0..n)
        .map(|i| {
            store
                .counter(
                    "bench_requests",
                    &[("route", &format!("/r{i}")), ("method", "GET")],
                )
                .expect("counter")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let server = redis_support::RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "bench")).expect("store");

    let mut local = c.benchmark_group("redis_update");
    let one = counters(&store, 1).remove(0);
    local.throughput(Throughput::Elements(1));
    local.bench_function("counter_inc_local", |b| b.iter(|| one.inc()));
    let histogram = store
        .histogram("bench_latency_seconds", &[], None)
        .expect("histogram");
    local.bench_function("histogram_observe_local", |b| {
        b.iter(|| histogram.observe(0.042))
    });
    let summary = store.summary("bench_size_bytes", &[]).expect("summary");
    local.bench_function("summary_observe_local", |b| {
        b.iter(|| summary.observe(512.0))
    });
    local.finish();
    store.transfer().expect("transfer");

    // Each iteration: `updates` increments spread over `fields` series, then one transfer.
    let mut group = c.benchmark_group("redis_transfer");
    for (fields, updates) in [
        (1usize, 1u64),
        (100, 100),
        (100, 10_000),
        (1_000, 1_000),
        (1_000, 100_000),
    ] {
        let handles = counters(&store, fields);
        store.transfer().expect("transfer");
        group.throughput(Throughput::Elements(updates));
        group.bench_with_input(
            BenchmarkId::new(format!("{fields}_fields"), updates),
            &updates,
            |b, &updates| {
                b.iter(|| {
                    for i in 0..updates {
                        handles[i as usize % fields].inc();
                    }
                    store.transfer().expect("transfer")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
