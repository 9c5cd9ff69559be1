//! A small demo "service": a request handler that calls two outbound HTTP endpoints, with its
//! metrics declared once as statics, exactly as a user of the crate would write them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use microprofile::{Counter, Gauge, Metadata, Summary, Timer};

/// Requests handled by the demo service.
pub static REQUESTS: Counter = Counter::new();
microprofile::register!(
    REQUESTS,
    Metadata::new("demo_requests").description("Requests handled by the demo service.")
);

/// Outbound calls to /foo in eu-west-1.
pub static OUTBOUND_FOO: Timer = Timer::new();
microprofile::register!(
    OUTBOUND_FOO,
    Metadata::new("outbound_http_latency_seconds")
        .description("Latency of outbound HTTP calls.")
        .tags(&[("region", "eu-west-1"), ("path", "/foo")])
);

/// Outbound calls to /bar in us-east-1: another series of the same metric.
pub static OUTBOUND_BAR: Timer = Timer::new();
microprofile::register!(
    OUTBOUND_BAR,
    Metadata::new("outbound_http_latency_seconds")
        .description("Latency of outbound HTTP calls.")
        .tags(&[("region", "us-east-1"), ("path", "/bar")])
);

/// Jobs waiting in the demo's queue.
pub static QUEUE_DEPTH: Gauge = Gauge::new();
microprofile::register!(
    QUEUE_DEPTH,
    Metadata::new("demo_queue_depth").description("Jobs waiting in the demo's queue.")
);

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

fn call_outbound(timer: &Timer, i: u64, base_ms: u64) {
    let _timing = timer.start_timer();
    thread::sleep(Duration::from_millis(base_ms + jitter(i) % 20));
}

/// Handles one simulated request: two timed outbound calls, a response size, a queue change.
pub fn handle_request(i: u64) {
    REQUESTS.inc();
    call_outbound(&OUTBOUND_FOO, i, 5);
    if i % 3 == 0 {
        call_outbound(&OUTBOUND_BAR, i, 15);
    }
    RESPONSE_SIZE.observe((200 + jitter(i) % 4000) as f64);
    QUEUE_DEPTH.set((jitter(i) % 10) as i64);
}

/// Drives requests from a background thread until `stop` is set.
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
