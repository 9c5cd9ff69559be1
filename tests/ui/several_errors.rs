#[microprofile::timed(name = "1st", tags(le = "x", region = "a", region = "b"), scope = "a b", buckets = [2.0, 1.0], colour = "red")]
fn call() {}

fn main() {
    call();
}
