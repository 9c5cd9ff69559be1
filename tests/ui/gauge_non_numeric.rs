#[microprofile::gauge(unit = "none")]
fn name() -> String {
    String::new()
}

fn main() {
    name();
}
