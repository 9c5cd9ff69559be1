//! Row 3: histogram observe with the Prometheus default buckets (11 bounds).
//! - `fixed_cardinality`: 18 labelled series (enum labels where the crate has a fixed-cardinality
//!   path, their strings otherwise), every thread observing in the same pseudo-random order;
//! - `one_histogram`: no labels, every thread observing into the same histogram.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use microprofile::Family;

type PcHistogram = prometheus_client::metrics::histogram::Histogram;

fn pc_histogram() -> PcHistogram {
    PcHistogram::new(BUCKETS.iter().copied())
}

fn fixed_cardinality(c: &mut Criterion) {
    let mp: Family<MpEnum, microprofile::Histogram> =
        Family::new(microprofile::Histogram::with_buckets(&BUCKETS));
    let prom = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("latency", "help").buckets(BUCKETS.to_vec()),
        &["method", "status"],
    )
    .unwrap();
    let pc = prometheus_client::metrics::family::Family::<PcEnum, PcHistogram, fn() -> PcHistogram>::new_with_constructor(pc_histogram);
    let handle = metrics_handle();
    let me = measured::HistogramVec::with_label_set_and_metadata(
        me_enum_set(),
        measured::metric::histogram::Thresholds::<11>::with_buckets(BUCKETS),
    );

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!(
            "histogram_observe/fixed_cardinality/{threads}_thread"
        ));
        let id = |name: &str| BenchmarkId::from_parameter(name);
        group.bench_function(id("microprofile"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    mp.with(black_box(&MpEnum { method, status }))
                        .observe(value(i));
                })
            })
        });
        group.bench_function(id("prometheus"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    prom.with_label_values(black_box(&[method.as_str(), status.as_str()]))
                        .observe(value(i));
                })
            })
        });
        group.bench_function(id("prometheus-client"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    pc.get_or_create(black_box(&PcEnum { method, status }))
                        .observe(value(i));
                })
            })
        });
        group.bench_function(id("metrics"), |b| {
            b.iter_custom(|iters| {
                let elapsed = run_threads(threads, iters, |t, i| {
                    let (method, status) = black_box(enum_labels(series_index(t, i)));
                    metrics::histogram!(
                        "latency_labelled",
                        "method" => method.as_str(),
                        "status" => status.as_str()
                    )
                    .record(value(i));
                });
                // The recorder buffers raw observations until upkeep folds them into buckets;
                // folding outside the timed region keeps memory bounded.
                handle.run_upkeep();
                elapsed
            })
        });
        group.bench_function(id("measured"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    me.observe(black_box(MeEnum { method, status }), value(i));
                })
            })
        });
        group.finish();
    }
}

fn one_histogram(c: &mut Criterion) {
    let mp = microprofile::Histogram::with_buckets(&BUCKETS);
    let prom = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("latency", "help").buckets(BUCKETS.to_vec()),
    )
    .unwrap();
    let pc = pc_histogram();
    let handle = metrics_handle();
    let metrics_histogram = metrics::histogram!("latency");
    let me = measured::Histogram::<11>::with_metadata(
        measured::metric::histogram::Thresholds::<11>::with_buckets(BUCKETS),
    );

    for threads in [1usize, 2] {
        let mut group =
            c.benchmark_group(format!("histogram_observe/one_histogram/{threads}_thread"));
        let id = |name: &str| BenchmarkId::from_parameter(name);
        group.bench_function(id("microprofile"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, i| black_box(&mp).observe(value(i)))
            })
        });
        group.bench_function(id("prometheus"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, i| black_box(&prom).observe(value(i)))
            })
        });
        group.bench_function(id("prometheus-client"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, i| black_box(&pc).observe(value(i)))
            })
        });
        group.bench_function(id("metrics (handle)"), |b| {
            b.iter_custom(|iters| {
                let elapsed = run_threads(threads, iters, |_, i| {
                    black_box(&metrics_histogram).record(value(i))
                });
                handle.run_upkeep();
                elapsed
            })
        });
        group.bench_function(id("measured"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, i| {
                    black_box(&me).get_metric().observe(value(i))
                })
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = fixed_cardinality, one_histogram
}
criterion_main!(benches);
