// The gauge reads the body from a nested function, where `Self` is not known.
struct Queue;

impl Queue {
    const DEPTH: u32 = 3;

    #[microprofile::gauge(unit = "none")]
    fn depth() -> u32 {
        Self::DEPTH
    }
}

fn main() {
    Queue::depth();
}
