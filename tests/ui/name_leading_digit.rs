#[microprofile::timed(name = "9lives")]
fn call() {}

fn main() {
    call();
}
