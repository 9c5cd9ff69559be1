#[microprofile::timed(buckets = [])]
fn call() {}

#[microprofile::timed(buckets = exponential(0.001, 2.0, 0))]
fn call2() {}

fn main() {
    call();
    call2();
}
