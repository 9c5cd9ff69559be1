#[derive(Clone, PartialEq, Eq, Hash, microprofile::LabelSet)]
struct Labels {
    method: &'static str,
    le: u16,
    __kind: bool,
    mp_overflow: bool,
}

fn main() {}
