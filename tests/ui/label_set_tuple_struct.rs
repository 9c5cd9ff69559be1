#[derive(Clone, PartialEq, Eq, Hash, microprofile::LabelSet)]
struct Labels(&'static str, u16);

fn main() {}
