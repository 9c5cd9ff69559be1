#[microprofile::counted(name = "")]
fn serve() {}

fn main() {
    serve();
}
