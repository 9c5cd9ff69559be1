//! Row 2: a counter with 2 labels and 18 series (6 methods × 3 status classes), every thread
//! updating series in the same pseudo-random order; once with string label values, once with enum
//! values. Crates without a fixed-cardinality path take the enum's string (as their users would).

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use microprofile::Family;

fn strings(c: &mut Criterion) {
    let mp: Family<MpStr, microprofile::Counter> = Family::new(microprofile::Counter::new());
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests", "help"),
        &["method", "status"],
    )
    .unwrap();
    let pc = prometheus_client::metrics::family::Family::<
        PcStr,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let _ = metrics_handle();
    let me = measured::CounterVec::with_label_set(me_str_set());

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("labelled_inc/strings/{threads}_thread"));
        let id = |name: &str| BenchmarkId::from_parameter(name);
        group.bench_function(id("microprofile"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = str_labels(series_index(t, i));
                    mp.with(black_box(&MpStr { method, status })).inc();
                })
            })
        });
        group.bench_function(id("prometheus"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = str_labels(series_index(t, i));
                    prom.with_label_values(black_box(&[method, status])).inc();
                })
            })
        });
        group.bench_function(id("prometheus-client"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = str_labels(series_index(t, i));
                    pc.get_or_create(black_box(&PcStr { method, status })).inc();
                })
            })
        });
        group.bench_function(id("metrics"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = black_box(str_labels(series_index(t, i)));
                    metrics::counter!("requests_labelled", "method" => method, "status" => status)
                        .increment(1);
                })
            })
        });
        group.bench_function(id("measured"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = str_labels(series_index(t, i));
                    me.inc(black_box(MeStr { method, status }));
                })
            })
        });
        group.finish();
    }
}

fn enums(c: &mut Criterion) {
    let mp: Family<MpEnum, microprofile::Counter> = Family::new(microprofile::Counter::new());
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests", "help"),
        &["method", "status"],
    )
    .unwrap();
    let pc = prometheus_client::metrics::family::Family::<
        PcEnum,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let _ = metrics_handle();
    let me = measured::CounterVec::with_label_set(me_enum_set());

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("labelled_inc/enums/{threads}_thread"));
        let id = |name: &str| BenchmarkId::from_parameter(name);
        group.bench_function(id("microprofile"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    mp.with(black_box(&MpEnum { method, status })).inc();
                })
            })
        });
        group.bench_function(id("prometheus"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    prom.with_label_values(black_box(&[method.as_str(), status.as_str()]))
                        .inc();
                })
            })
        });
        group.bench_function(id("prometheus-client"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    pc.get_or_create(black_box(&PcEnum { method, status }))
                        .inc();
                })
            })
        });
        group.bench_function(id("metrics"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = black_box(enum_labels(series_index(t, i)));
                    metrics::counter!(
                        "requests_enum",
                        "method" => method.as_str(),
                        "status" => status.as_str()
                    )
                    .increment(1);
                })
            })
        });
        group.bench_function(id("measured"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |t, i| {
                    let (method, status) = enum_labels(series_index(t, i));
                    me.inc(black_box(MeEnum { method, status }));
                })
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = strings, enums
}
criterion_main!(benches);
