//! Row 7: one scrape of the base scope, alone and with 64 concurrent clients (p50 / p99 latency).
//!
//! In process, no HTTP: each client calls the encoder into its own `String`, so the figures are
//! the collector's and the encoder's, not a server's. The peer is the `prometheus` crate's
//! `ProcessCollector` (feature `process`), the only peer with built-in process metrics; it reads
//! `/proc` on every gather, so microprofile is shown both with its default cache (a refresh at
//! most once a second, shared by concurrent scrapes) and refreshing on every scrape.
//!
//! Each of the 64 client threads makes one untimed scrape before the timed ones start together
//! (a scraper is a long-lived thread; its first allocations are not the library's cost), then
//! 200 timed scrapes. The calibration row does no metrics work: what CPU work of a cached
//! scrape's length gets from the scheduler with 64 threads on the machine's cores.
//!
//! Not a criterion benchmark (percentiles under concurrency): prints a Markdown table.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use microprofile::{Format, Registry, Scope, Selection};
use microprofile_base::Collector;

const SINGLE: usize = 300;
const CLIENTS: usize = 64;
const PER_CLIENT: usize = 200;

struct Case {
    name: &'static str,
    scrape: Box<dyn Fn(&mut String) + Sync>,
}

/// With `refresh`, every scrape first re-reads `/proc` (the collector's cache interval cannot go
/// below 100 ms, so the refresh is asked for explicitly); otherwise the default 1 s cache serves.
fn microprofile_case(name: &'static str, refresh: bool, scope_only: bool) -> Case {
    let collector = Arc::new(Collector::new());
    let registry = Registry::new();
    collector.register_into(&registry).unwrap();
    Case {
        name,
        scrape: Box::new(move |out| {
            if refresh {
                collector.refresh();
            }
            out.clear();
            let selection = if scope_only {
                Selection::Scope(&Scope::Base)
            } else {
                Selection::All
            };
            registry.encode(out, Format::Prometheus, selection).unwrap();
        }),
    }
}

fn prometheus_case() -> Case {
    let registry = prometheus::Registry::new();
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .unwrap();
    Case {
        name: "prometheus ProcessCollector (reads /proc each scrape)",
        scrape: Box::new(move |out| {
            out.clear();
            prometheus::TextEncoder::new()
                .encode_utf8(&registry.gather(), out)
                .unwrap();
        }),
    }
}

/// No metrics at all: spins on the CPU for `work`, the length of a cached scrape. With more
/// clients than cores its 64-client p99 is the scheduler's share alone: a client preempted
/// mid-scrape waits for the others' time slices.
fn spin_case(work: Duration) -> Case {
    Case {
        name: "calibration: 30 µs of CPU work, no metrics",
        scrape: Box::new(move |out| {
            out.clear();
            let start = Instant::now();
            while start.elapsed() < work {
                std::hint::spin_loop();
            }
            out.push('.');
        }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let cases = [
        microprofile_case("microprofile base scope, cached (default 1 s)", false, true),
        microprofile_case("microprofile base scope, refresh every scrape", true, true),
        microprofile_case(
            "microprofile base + vendor (process) scopes, refresh every scrape",
            true,
            false,
        ),
        prometheus_case(),
        spin_case(Duration::from_micros(30)),
    ];

    println!("| scrape | bytes | 1 client p50 | 1 client p99 | {CLIENTS} clients p50 | {CLIENTS} clients p99 | {CLIENTS} clients scrapes/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for case in &cases {
        let mut out = String::new();
        for _ in 0..20 {
            (case.scrape)(&mut out);
        }
        let bytes = out.len();
        let mut single: Vec<Duration> = (0..SINGLE)
            .map(|_| {
                let start = Instant::now();
                (case.scrape)(&mut out);
                black_box(out.len());
                start.elapsed()
            })
            .collect();
        single.sort();

        let barrier = Barrier::new(CLIENTS);
        let wall = Instant::now();
        let mut concurrent: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let mut out = String::new();
                        (case.scrape)(&mut out);
                        barrier.wait();
                        (0..PER_CLIENT)
                            .map(|_| {
                                let start = Instant::now();
                                (case.scrape)(&mut out);
                                black_box(out.len());
                                start.elapsed()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let wall = wall.elapsed();
        concurrent.sort();
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} |",
            case.name,
            bytes,
            micros(percentile(&single, 0.5)),
            micros(percentile(&single, 0.99)),
            micros(percentile(&concurrent, 0.5)),
            micros(percentile(&concurrent, 0.99)),
            (CLIENTS * PER_CLIENT) as f64 / wall.as_secs_f64(),
        );
    }
}
