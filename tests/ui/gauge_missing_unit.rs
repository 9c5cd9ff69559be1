#[microprofile::gauge]
fn depth() -> usize {
    3
}

fn main() {
    depth();
}
