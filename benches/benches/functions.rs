//! Row 4: the overhead of instrumenting a trivial function, one thread.
//!
//! The floor for a timed call is two clock reads (`Instant::now()` and `elapsed()`) plus one
//! histogram observe, written out by hand; `#[timed]` should cost at most 1.5× that.

mod common;

use std::hint::black_box;
use std::time::Instant;

use autometrics::autometrics;
use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use microprofile::{counted, timed};

/// The work: small enough that the instrumentation dominates, not inlined away.
#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[timed]
#[inline(never)]
fn timed_fn(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[counted]
#[inline(never)]
fn counted_fn(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

// One metric declared by two functions (MicroProfile's "Reusing Metrics"): the registry reads
// both `static`s as one counter and one timer; a call updates its own, as any other does.
#[timed(name = "bench_reused_timer")]
#[inline(never)]
fn timed_reused_a(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[timed(name = "bench_reused_timer")]
#[inline(never)]
fn timed_reused_b(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[counted(name = "bench_reused_calls")]
#[inline(never)]
fn counted_reused_a(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[counted(name = "bench_reused_calls")]
#[inline(never)]
fn counted_reused_b(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[autometrics]
#[inline(never)]
fn autometrics_fn(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

static FLOOR: microprofile::Histogram = microprofile::Histogram::new();
static TIMER: microprofile::Timer = microprofile::Timer::new();

fn function_overhead(c: &mut Criterion) {
    let prom =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("calls", "help")).unwrap();
    let me = measured::Histogram::<11>::with_metadata(
        measured::metric::histogram::Thresholds::<11>::with_buckets(BUCKETS),
    );

    let mut group = c.benchmark_group("function_overhead");
    let id = |name: &str| BenchmarkId::from_parameter(name);
    group.bench_function(id("bare fn"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            bare(i)
        })
    });
    group.bench_function(id("two Instant::now"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let start = Instant::now();
            let r = bare(i);
            (r, start.elapsed())
        })
    });
    group.bench_function(id("floor: two clock reads + observe"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let start = Instant::now();
            let r = bare(i);
            FLOOR.observe(start.elapsed().as_secs_f64());
            r
        })
    });
    group.bench_function(id("microprofile #[timed]"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            timed_fn(i)
        })
    });
    group.bench_function(id("microprofile #[counted]"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            counted_fn(i)
        })
    });
    // The reused metrics are registered (the registry started) before they are measured; the
    // rows alternate the two declarations, as two call sites of one metric would.
    assert!(microprofile::global().registration_errors().is_empty());
    group.bench_function(id("microprofile #[timed], reused by 2 fns"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            if i & 1 == 0 {
                timed_reused_a(i)
            } else {
                timed_reused_b(i)
            }
        })
    });
    group.bench_function(id("microprofile #[counted], reused by 2 fns"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            if i & 1 == 0 {
                counted_reused_a(i)
            } else {
                counted_reused_b(i)
            }
        })
    });
    group.bench_function(id("microprofile Timer::start_timer"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let _t = TIMER.start_timer();
            bare(i)
        })
    });
    group.bench_function(id("prometheus Histogram::start_timer"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let _t = prom.start_timer();
            bare(i)
        })
    });
    group.bench_function(id("measured Histogram::start_timer"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let _t = me.start_timer();
            bare(i)
        })
    });
    group.bench_function(id("#[autometrics] (prometheus backend)"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            autometrics_fn(i)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = function_overhead
}
criterion_main!(benches);
