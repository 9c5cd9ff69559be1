use microprofile::{Counter, Timer};

#[derive(microprofile::Metrics)]
#[metrics(register = APP)]
struct AppMetrics {
    #[metric(name = "bad name")]
    requests: Counter,
    #[metric(quantiles = [0.5])]
    latency: Timer,
    #[metric(buckets = [1.0])]
    hits: Counter,
    other: String,
}

fn main() {}
