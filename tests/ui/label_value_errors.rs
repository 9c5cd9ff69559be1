#[derive(microprofile::LabelValue)]
enum Method {
    Get,
    Custom(String),
    #[label(name = "x")]
    Post,
}

#[derive(microprofile::LabelValue)]
struct NotAnEnum {
    value: String,
}

fn main() {}
