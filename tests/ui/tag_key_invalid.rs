#[microprofile::counted(tags("bad-key" = "x"))]
fn serve() {}

fn main() {
    serve();
}
