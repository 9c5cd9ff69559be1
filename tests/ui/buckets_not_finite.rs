#[microprofile::timed(buckets = [0.1, f64::INFINITY])]
fn call() {}

#[microprofile::timed(buckets = linear(0.0, -1.0, 5))]
fn call2() {}

fn main() {
    call();
    call2();
}
