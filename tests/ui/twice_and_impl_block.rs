#[microprofile::counted(name = "a")]
#[microprofile::counted(name = "b")]
fn twice() {}

struct Service;

#[microprofile::timed(tags(path = path), skip)]
impl Service {
    fn get(&self, path: &str) -> usize {
        path.len()
    }
}

#[microprofile::gauge(unit = "none")]
impl Service {}

fn main() {
    twice();
    Service.get("/");
}
