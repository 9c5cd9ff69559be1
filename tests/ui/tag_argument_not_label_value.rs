struct Request;

#[microprofile::counted(tags(request = request))]
fn handle(request: Request) {
    let _ = request;
}

fn main() {
    handle(Request);
}
