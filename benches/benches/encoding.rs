//! Row 5: encoding one counter family of 100 and of 100,000 series (one label, `id="<n>"`) to
//! Prometheus text, into a buffer kept across iterations where the crate's API allows it.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use measured::metric::group::MetricGroup as _;
use microprofile::{Format, Selection};

fn encode(c: &mut Criterion) {
    for n in [100usize, 100_000] {
        let mut group = c.benchmark_group(format!("encode/{n}_series"));
        if n > 1000 {
            group.sample_size(10);
        }
        let id = |name: &str| BenchmarkId::from_parameter(name);

        {
            let registry = mp_id_registry(n);
            let mut out = String::new();
            group.bench_function(id("microprofile"), |b| {
                b.iter(|| {
                    out.clear();
                    registry
                        .encode(&mut out, Format::Prometheus, Selection::All)
                        .unwrap();
                    black_box(out.len())
                })
            });
        }
        {
            let registry = prometheus_id_registry(n);
            let mut out = String::new();
            group.bench_function(id("prometheus"), |b| {
                b.iter(|| {
                    out.clear();
                    prometheus::TextEncoder::new()
                        .encode_utf8(&registry.gather(), &mut out)
                        .unwrap();
                    black_box(out.len())
                })
            });
        }
        {
            let registry = pc_id_registry(n);
            let mut out = String::new();
            group.bench_function(id("prometheus-client"), |b| {
                b.iter(|| {
                    out.clear();
                    prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
                    black_box(out.len())
                })
            });
        }
        {
            let handle = metrics_id_recorder(n).handle();
            group.bench_function(id("metrics"), |b| {
                b.iter(|| black_box(handle.render().len()))
            });
        }
        {
            let metrics = me_id_metrics(n);
            let mut enc = measured::text::BufferedTextEncoder::new();
            group.bench_function(id("measured"), |b| {
                b.iter(|| {
                    metrics.collect_group_into(&mut enc).unwrap();
                    black_box(enc.finish().len())
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode
}
criterion_main!(benches);
