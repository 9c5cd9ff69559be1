#[microprofile::timed(quantiles = [0.5, 1.0, 0.0, -0.5, 0.99])]
fn call() {}

fn main() {
    call();
}
