#[microprofile::timed(tags(region = "eu-west-1", region = "us-east-1"))]
fn call() {}

fn main() {
    call();
}
