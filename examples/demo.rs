//! A small demo "service": a request handler that calls two outbound HTTP endpoints, instrumented
//! with the attribute macros exactly as a user of the crate would write them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use std::sync::atomic::AtomicU64;

use microprofile::{concurrent_gauge, counted, gauge, timed, Metadata, Summary};

/// Sizes of the responses the demo sends.
pub static RESPONSE_SIZE: Summary = Summary::new();
microprofile::register!(
    RESPONSE_SIZE,
    Metadata::new("demo_response_size")
        .unit("bytes")
        .description("Sizes of the responses the demo sends.")
);

/// A cheap deterministic pseudo-random sequence, so the demo needs no extra crate.
fn jitter(i: u64) -> u64 {
    i.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33
}

static QUEUE: AtomicU64 = AtomicU64::new(0);

/// Latency of outbound HTTP calls.
///
/// The tags take their values from the arguments at each call, so every (region, path) pair is a
/// series of `outbound_http_latency_seconds`. Only pass values from a small, fixed set: each
/// distinct value is a new series.
#[timed(name = "outbound_http_latency_seconds", tags(region = region, path = path))]
fn call_outbound(region: &'static str, path: &'static str, i: u64) {
    let base_ms = if path == "/foo" { 5 } else { 15 };
    thread::sleep(Duration::from_millis(base_ms + jitter(i) % 20));
}

/// Time spent rendering responses.
#[timed(name = "demo_render", quantiles = [0.5, 0.9, 0.99])]
fn render(i: u64) -> u64 {
    let size = 200 + jitter(i) % 4000;
    RESPONSE_SIZE.observe(size as f64);
    size
}

/// Jobs waiting in the demo's queue.
#[gauge(name = "demo_queue_depth", unit = "none")]
fn queue_depth() -> u64 {
    QUEUE.load(Ordering::Relaxed)
}

/// Requests handled by the demo service.
#[counted(name = "demo_requests")]
#[concurrent_gauge(
    name = "demo_requests_in_flight",
    description = "Requests of the demo service being handled."
)]
pub fn handle_request(i: u64) -> u64 {
    call_outbound("eu-west-1", "/foo", i);
    if i % 3 == 0 {
        call_outbound("us-east-1", "/bar", i);
    }
    QUEUE.store(jitter(i) % 10, Ordering::Relaxed);
    render(i)
}

/// Drives requests from a background thread until `stop` is set; returns how many it handled.
pub fn spawn_traffic(stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            handle_request(i);
            i += 1;
        }
        i
    })
}
