//! Benchmarks: one full refresh of the collector, and one scrape of the base scope.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use microprofile::{Format, Registry, Scope, Selection};
use microprofile_base::Collector;

fn refresh(c: &mut Criterion) {
    let collector = Collector::new();
    c.bench_function("base/full_refresh", |b| {
        b.iter(|| black_box(collector.refresh()))
    });
}

fn scrape(c: &mut Criterion) {
    // Cached: the snapshot is younger than the minimum interval, as for every scrape but one per
    // interval.
    let cached = Arc::new(Collector::new().min_refresh_interval(Duration::from_secs(3600)));
    let registry = Registry::new();
    let _ = cached.register_into(&registry);
    c.bench_function("base/scrape_cached", |b| {
        b.iter(|| {
            black_box(registry.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Base)))
        })
    });
    // The one scrape per interval that finds the snapshot expired: a refresh, then the encoding.
    c.bench_function("base/scrape_with_refresh", |b| {
        b.iter(|| {
            cached.refresh();
            black_box(registry.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Base)))
        })
    });
}

criterion_group!(benches, refresh, scrape);
criterion_main!(benches);
