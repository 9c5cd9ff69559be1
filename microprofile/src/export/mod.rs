//! Sinks that send the registry's metrics elsewhere: a Prometheus Pushgateway (feature `push`).

feature! {
    #![feature = "push"]
    pub mod push;
}
