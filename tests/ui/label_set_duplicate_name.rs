#[derive(Clone, PartialEq, Eq, Hash, microprofile::LabelSet)]
struct Labels {
    method: &'static str,
    #[label(rename = "method")]
    verb: &'static str,
    #[label(rename = "bad-name")]
    other: u16,
}

fn main() {}
