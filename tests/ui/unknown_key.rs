#[microprofile::timed(nmae = "outbound_http_latency_seconds")]
fn call() {}

#[microprofile::counted(buckets = [1.0])]
fn count() {}

fn main() {
    call();
    count();
}
