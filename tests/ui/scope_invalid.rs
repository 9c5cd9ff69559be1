#[microprofile::counted(scope = "my-scope")]
fn serve() {}

fn main() {
    serve();
}
