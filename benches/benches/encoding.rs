//! Row 5: encoding one counter family of 100 and of 100,000 series (one label, `id="<n>"`) to
//! Prometheus text, into a buffer kept across iterations where the crate's API allows it.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use measured::metric::group::MetricGroup as _;
use microprofile::{Family, Format, Metadata, Registry, Selection};

#[derive(measured::MetricGroup)]
struct MeMetrics {
    /// help
    counters: measured::CounterVec<MeIdSet>,
}

fn encode(c: &mut Criterion) {
    for n in [100usize, 100_000] {
        let mut group = c.benchmark_group(format!("encode/{n}_series"));
        if n > 1000 {
            group.sample_size(10);
        }
        let id = |name: &str| BenchmarkId::from_parameter(name);

        {
            let family: Family<MpId, microprofile::Counter> =
                Family::with_max_series(microprofile::Counter::new(), 2 * n);
            for i in 0..n {
                family.with(&MpId(i.to_string())).inc();
            }
            let registry = Registry::new();
            registry
                .register(
                    Metadata::new("counters").description("help"),
                    Arc::new(family),
                )
                .unwrap();
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
            let registry = prometheus::Registry::new();
            let vec =
                prometheus::IntCounterVec::new(prometheus::Opts::new("counters", "help"), &["id"])
                    .unwrap();
            registry.register(Box::new(vec.clone())).unwrap();
            for i in 0..n {
                vec.with_label_values(&[i.to_string().as_str()]).inc();
            }
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
            let mut registry = prometheus_client::registry::Registry::default();
            let family = prometheus_client::metrics::family::Family::<
                PcId,
                prometheus_client::metrics::counter::Counter,
            >::default();
            registry.register("counters", "help", family.clone());
            for i in 0..n {
                family.get_or_create(&PcId { id: i.to_string() }).inc();
            }
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
            // A recorder of its own (not the global one), so each size starts empty.
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::with_local_recorder(&recorder, || {
                metrics::describe_counter!("counters", "help");
                for i in 0..n {
                    metrics::counter!("counters", "id" => i.to_string()).increment(1);
                }
            });
            group.bench_function(id("metrics"), |b| {
                b.iter(|| black_box(handle.render().len()))
            });
        }
        {
            let metrics = MeMetrics {
                counters: measured::CounterVec::with_label_set(MeIdSet {
                    id: paracord::ParaCord::default(),
                }),
            };
            for i in 0..n {
                metrics.counters.inc(MeId { id: &i.to_string() });
            }
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
