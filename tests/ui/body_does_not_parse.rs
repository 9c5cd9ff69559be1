#[microprofile::counted]
fn broken() {
    let x = ;
}

fn main() {
    broken();
}
