#[microprofile::gauge(unit = "none")]
fn depth(queue: &str) -> usize {
    queue.len()
}

fn main() {
    depth("a");
}
