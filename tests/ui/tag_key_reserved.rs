#[microprofile::timed(tags(le = "1", quantile = "0.5", mp_scope = "x", mp_app = "y", __name = "z"))]
fn call() {}

fn main() {
    call();
}
