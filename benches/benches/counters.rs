//! Row 1: an unlabelled counter incremented by one, on 1 thread and by 2 threads on the same counter,
//! next to a bare `AtomicU64::fetch_add(1, Relaxed)`, the physical floor.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

static ATOMIC: AtomicU64 = AtomicU64::new(0);
static MP: microprofile::Counter = microprofile::Counter::new();

fn counter_inc(c: &mut Criterion) {
    let prom = prometheus::IntCounter::new("requests", "help").unwrap();
    let pc: prometheus_client::metrics::counter::Counter = Default::default();
    let _ = metrics_handle();
    let metrics_counter = metrics::counter!("requests");
    let me = measured::Counter::new();

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("counter_inc/{threads}_thread"));
        let id = |name: &str| BenchmarkId::from_parameter(name);
        group.bench_function(id("atomic_fetch_add"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    black_box(&ATOMIC).fetch_add(1, Ordering::Relaxed);
                })
            })
        });
        group.bench_function(id("microprofile"), |b| {
            b.iter_custom(|iters| run_threads(threads, iters, |_, _| black_box(&MP).inc()))
        });
        group.bench_function(id("prometheus"), |b| {
            b.iter_custom(|iters| run_threads(threads, iters, |_, _| black_box(&prom).inc()))
        });
        group.bench_function(id("prometheus-client"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    black_box(&pc).inc();
                })
            })
        });
        group.bench_function(id("metrics (handle)"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    black_box(&metrics_counter).increment(1)
                })
            })
        });
        group.bench_function(id("metrics (macro per call)"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    metrics::counter!("requests").increment(1)
                })
            })
        });
        group.bench_function(id("measured"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| black_box(&me).get_metric().inc())
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_inc
}
criterion_main!(benches);
