//! Row 6 (and the allocation half of row 5): heap bytes per series of a counter family holding
//! 100,000 series (one label, `id="<n>"`), counted by a global allocator that tracks live bytes;
//! the allocations made by one encode of that family once the output buffer is warm; and the
//! live bytes per series after those encodes, with the output buffer freed (what a crate keeps
//! between scrapes).
//!
//! Not a criterion benchmark: it prints a Markdown table (`cargo bench --bench memory`).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use common::*;
use measured::metric::group::MetricGroup as _;
use microprofile::{Format, Selection};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const N: usize = 100_000;

struct Row {
    name: &'static str,
    bytes_per_series: f64,
    bytes_after_scrape: f64,
    allocs_per_encode: usize,
    output_len: usize,
}

/// Measures the live bytes `build` leaves behind, then the allocations of the second call of the
/// encoder it returns (the first sizes any reused buffer), then the live bytes once `release`
/// has freed the output buffer the encoder keeps.
fn measure<S>(
    name: &'static str,
    build: impl FnOnce() -> S,
    mut encode: impl FnMut(&mut S) -> usize,
    release: impl FnOnce(&mut S),
) -> Row {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut state = build();
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    black_box(encode(&mut state));
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    let output_len = black_box(encode(&mut state));
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;
    release(&mut state);
    let after_scrape = LIVE_BYTES.load(Ordering::Relaxed);
    drop(state);
    Row {
        name,
        bytes_per_series: (after - before) as f64 / N as f64,
        bytes_after_scrape: (after_scrape - before) as f64 / N as f64,
        allocs_per_encode: allocs,
        output_len,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let mut rows = Vec::new();

    rows.push(measure(
        "microprofile",
        || (mp_id_registry(N), String::new()),
        |(registry, out)| {
            out.clear();
            registry
                .encode(out, Format::Prometheus, Selection::All)
                .unwrap();
            out.len()
        },
        |(_, out)| *out = String::new(),
    ));

    rows.push(measure(
        "prometheus",
        || (prometheus_id_registry(N), String::new()),
        |(registry, out)| {
            out.clear();
            prometheus::TextEncoder::new()
                .encode_utf8(&registry.gather(), out)
                .unwrap();
            out.len()
        },
        |(_, out)| *out = String::new(),
    ));

    rows.push(measure(
        "prometheus-client",
        || (pc_id_registry(N), String::new()),
        |(registry, out)| {
            out.clear();
            prometheus_client::encoding::text::encode(out, registry).unwrap();
            out.len()
        },
        |(_, out)| *out = String::new(),
    ));

    rows.push(measure(
        "metrics",
        || metrics_id_recorder(N),
        |recorder| recorder.handle().render().len(),
        |_| {},
    ));

    rows.push(measure(
        "measured",
        || (me_id_metrics(N), measured::text::BufferedTextEncoder::new()),
        |(metrics, enc)| {
            metrics.collect_group_into(enc).unwrap();
            enc.finish().len()
        },
        |(_, enc)| *enc = measured::text::BufferedTextEncoder::new(),
    ));

    let ours = rows[0].bytes_per_series;
    let ours_after = rows[0].bytes_after_scrape;
    println!("| crate | bytes per series | ratio to microprofile | bytes per series kept after a scrape | ratio to microprofile | allocations per encode of {N} series | output bytes |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.1} | {:.2}× | {:.1} | {:.2}× | {} | {} |",
            row.name,
            row.bytes_per_series,
            row.bytes_per_series / ours,
            row.bytes_after_scrape,
            row.bytes_after_scrape / ours_after,
            row.allocs_per_encode,
            row.output_len
        );
    }
}
