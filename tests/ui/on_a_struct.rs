#[microprofile::counted]
struct NotAFunction;

fn main() {}
