#[microprofile::timed(quantiles = [0.5, 0.99, 0.9])]
fn call() {}

fn main() {
    call();
}
