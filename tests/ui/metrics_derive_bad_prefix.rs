use microprofile::Counter;

#[derive(microprofile::Metrics)]
#[metrics(register = APP, prefix = "9_")]
struct AppMetrics {
    requests: Counter,
}

fn main() {}
