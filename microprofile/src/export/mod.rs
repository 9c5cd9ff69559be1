//! Sinks that send the registry's metrics elsewhere: a Prometheus Pushgateway (feature `push`).

#[cfg(feature = "push")]
#[cfg_attr(docsrs, doc(cfg(feature = "push")))]
pub mod push;
