#[microprofile::counted(name = "requests served!")]
fn serve() {}

fn main() {
    serve();
}
