//! Metrics for Rust services, inspired by Eclipse MicroProfile Metrics: put an attribute on a
//! function and its count, duration or value is exposed as Prometheus text or OpenMetrics, with
//! names, tags and units checked at compile time. Metrics are `static`s, registered with no call at
//! run time, in one global [`Registry`] split into the scopes base (host metrics), vendor (process
//! and library metrics) and application (yours).
//!
//! ```
//! use microprofile::{counted, gauge, timed, Format, Selection};
//!
//! /// Orders placed.
//! #[counted(name = "orders", outcome)]
//! fn place_order(id: u32) -> Result<u32, String> { Ok(id) }
//!
//! /// Latency of outbound HTTP calls.
//! #[timed(name = "outbound_http_latency_seconds", tags(region = "eu-west-1"))]
//! fn call_foo() { /* … */ }
//!
//! /// Jobs waiting in the queue.
//! #[gauge(name = "queue_depth", unit = "none")] // read at scrape time
//! fn queue_depth() -> usize { 3 }
//!
//! let _ = place_order(7);
//! call_foo();
//! let text = microprofile::global().encode_to_string(Format::Prometheus, Selection::All);
//! assert!(text.contains(r#"orders_total{outcome="ok",mp_scope="application"} 1"#));
//! assert!(text.contains(r#"queue_depth{mp_scope="application"} 3"#));
//! ```
//!
//! Serving that text is one more line: `let _server = microprofile::Server::start()?;` (feature
//! `server`, on by default) serves `/metrics` on `127.0.0.1:9981` (or the address in
//! `MICROPROFILE_ADDR`) from a thread of its own, until the handle is dropped.
//!
//! # Map of the crate
//!
//! **Instrumenting code.** The attributes [`#[counted]`](macro@counted) (calls),
//! [`#[timed]`](macro@timed) (durations, into a histogram or a summary),
//! [`#[gauge]`](macro@gauge) (a function's return value, read at scrape time) and
//! [`#[concurrent_gauge]`](macro@concurrent_gauge) (calls in flight) go on functions, methods and
//! whole `impl` blocks. [`#[derive(Metrics)]`](derive@Metrics) declares a struct of metrics and
//! registers it; [`#[derive(LabelSet)]`](derive@LabelSet) and
//! [`#[derive(LabelValue)]`](derive@LabelValue) make typed label sets for a [`Family`].
//!
//! **Metrics, the registry and scopes.** The metric types ([`metric`]): [`Counter`],
//! [`FloatCounter`], [`Gauge`], [`FloatGauge`], [`ConcurrentGauge`], [`CallbackGauge`],
//! [`Histogram`], [`Timer`] and [`Summary`]; [`Family`] (in [`metric::family`]) holds one of them
//! per label set. A metric is described by its [`Metadata`] (name, description, unit, tags,
//! [`Scope`]; the rules are in [`naming`]) and declared as a `static` with [`register!`], or
//! created at run time through a [`Registry`] (which returns a [`Handle`]). [`global()`] is the
//! registry the attributes and [`register!`] use; [`GlobalTags`] adds the tags of
//! `MP_METRICS_TAGS` to every series. Host and process metrics (scopes base and vendor) are in
//! the crate [`microprofile-base`](https://docs.rs/microprofile-base).
//!
//! **Reading and encoding.** [`Registry::gather`] is the one read path every consumer uses
//! ([`registry`]): families with their metadata, series as label pairs (with the rendered text
//! kept for the text encoders) and values, and a per-consumer
//! [`DeltaCursor`](registry::DeltaCursor) for sinks that send what changed.
//! [`Registry::encode`] and [`Registry::encode_to_string`] write the [`Selection`] (everything, a
//! scope, one metric) in a [`Format`]: Prometheus text 0.0.4 or OpenMetrics 1.0 ([`encoding`],
//! with the content negotiation). [`Registry::snapshot`] and [`Registry::visit`] give the values
//! to code.
//!
//! **Serving** ([`serve`]). The endpoint is the routing every transport shares (`/metrics`,
//! `/metrics/{scope}`, `/metrics/{scope}/{name}`), [`serve::auth`] its bearer or basic
//! authentication.
//! - The built-in listener, [`Server`] (feature `server`): hyper on a thread of its own, for
//!   programs with or without an async runtime.
//! - An axum router serving `/metrics` ([`serve::router`], feature `axum`) and [`serve::serve`]
//!   to run an axum application with the listener's limits.
//! - TLS for both, with rustls: [`serve::tls`] (feature `tls`).
//!
//! **Instrumenting a service** ([`instrument`]): the macros' run time, and a tower layer measuring
//! every request of a service ([`instrument::HttpMetricsLayer`], feature `tower`).
//!
//! **Many processes and batch jobs.** [`redis`] (feature `redis`): a shared store adding up the
//! metrics of many processes in Redis ([`redis::SharedStore`]), exposed by the listener or by
//! the `microprofile-exporter` binary. [`export`]: sinks, such as pushing a registry or a scope
//! to a Prometheus Pushgateway ([`export::push::Pushgateway`], feature `push`).
//!
//! # Features
//!
//! | feature | adds | default |
//! |---|---|---|
//! | `server` | the built-in listener [`Server`] (hyper 1, tokio on its own thread) | yes |
//! | `tower` | [`instrument::HttpMetricsLayer`], a tower `Layer` recording latency, count and in-flight requests | no |
//! | `axum` | [`serve::router`] and, with `server`, [`serve::serve`]; the route template as the layer's `route` label (implies `tower`) | no |
//! | `tls` | [`serve::tls::TlsConfig`] for [`ServerBuilder::tls`] and [`serve::serve_tls`] (rustls, *ring*; implies `server`) | no |
//! | `redis` | the shared store [`redis`] and, with `server`, the `microprofile-exporter` binary | no |
//! | `push` | the Pushgateway client [`export::push`] | no |
//!
//! # Declaring metrics by hand
//!
//! Without the attributes, a metric is a `static` and [`register!`] adds it to the global
//! registry, also with no call at run time:
//!
//! ```
//! use microprofile::{Counter, Format, Metadata, Selection, Timer};
//!
//! static REQUESTS: Counter = Counter::new();
//! microprofile::register!(REQUESTS, Metadata::new("requests").description("Requests served."));
//!
//! static OUTBOUND: Timer = Timer::new();
//! microprofile::register!(OUTBOUND, Metadata::new("outbound_http_latency_seconds")
//!     .description("Latency of outbound HTTP calls.")
//!     .tags(&[("region", "eu-west-1"), ("path", "/foo")]));
//!
//! REQUESTS.inc();
//! OUTBOUND.time(|| { /* the call */ });
//! let text = microprofile::global().encode_to_string(Format::Prometheus, Selection::All);
//! assert!(text.contains("requests_total{mp_scope=\"application\"} 1"));
//! assert!(text.contains("outbound_http_latency_seconds_count{path=\"/foo\",region=\"eu-west-1\",mp_scope=\"application\"} 1"));
//! ```
//!
// The links to feature-gated items resolve to the items when their feature is on (docs.rs builds
// with every feature) and to the features table otherwise, so that `cargo doc` with any set of
// features has no broken link.
#![cfg_attr(feature = "server", doc = "[`Server`]: crate::Server")]
#![cfg_attr(not(feature = "server"), doc = "[`Server`]: #features")]
#![cfg_attr(
    feature = "tls",
    doc = "[`ServerBuilder::tls`]: crate::ServerBuilder::tls"
)]
#![cfg_attr(not(feature = "tls"), doc = "[`ServerBuilder::tls`]: #features")]
#![cfg_attr(feature = "axum", doc = "[`serve::router`]: crate::serve::router")]
#![cfg_attr(not(feature = "axum"), doc = "[`serve::router`]: #features")]
#![cfg_attr(
    all(feature = "axum", feature = "server"),
    doc = "[`serve::serve`]: crate::serve::serve"
)]
#![cfg_attr(
    not(all(feature = "axum", feature = "server")),
    doc = "[`serve::serve`]: #features"
)]
#![cfg_attr(
    all(feature = "axum", feature = "tls"),
    doc = "[`serve::serve_tls`]: crate::serve::serve_tls"
)]
#![cfg_attr(
    not(all(feature = "axum", feature = "tls")),
    doc = "[`serve::serve_tls`]: #features"
)]
#![cfg_attr(feature = "tls", doc = "[`serve::tls`]: crate::serve::tls")]
#![cfg_attr(not(feature = "tls"), doc = "[`serve::tls`]: #features")]
#![cfg_attr(
    feature = "tls",
    doc = "[`serve::tls::TlsConfig`]: crate::serve::tls::TlsConfig"
)]
#![cfg_attr(not(feature = "tls"), doc = "[`serve::tls::TlsConfig`]: #features")]
#![cfg_attr(
    feature = "tower",
    doc = "[`instrument::HttpMetricsLayer`]: crate::instrument::HttpMetricsLayer"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "[`instrument::HttpMetricsLayer`]: #features"
)]
#![cfg_attr(feature = "redis", doc = "[`redis`]: crate::redis")]
#![cfg_attr(not(feature = "redis"), doc = "[`redis`]: #features")]
#![cfg_attr(
    feature = "redis",
    doc = "[`redis::SharedStore`]: crate::redis::SharedStore"
)]
#![cfg_attr(not(feature = "redis"), doc = "[`redis::SharedStore`]: #features")]
#![cfg_attr(feature = "push", doc = "[`export`]: crate::export")]
#![cfg_attr(not(feature = "push"), doc = "[`export`]: #features")]
#![cfg_attr(feature = "push", doc = "[`export::push`]: crate::export::push")]
#![cfg_attr(not(feature = "push"), doc = "[`export::push`]: #features")]
#![cfg_attr(
    feature = "push",
    doc = "[`export::push::Pushgateway`]: crate::export::push::Pushgateway"
)]
#![cfg_attr(
    not(feature = "push"),
    doc = "[`export::push::Pushgateway`]: #features"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
// A metrics library must never take the host program down: no panic path in library code.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

/// Declares the items of one feature group: each gets the `cfg` and, on docs.rs, the `doc(cfg)`
/// badge naming the feature, so that a gate is written once per group (as tracing-subscriber's
/// `feature!`). Used in this file and in `serve`, `instrument` and `export`.
macro_rules! feature {
    (#![$meta:meta] $($item:item)*) => {
        $(
            #[cfg($meta)]
            #[cfg_attr(docsrs, doc(cfg($meta)))]
            $item
        )*
    };
}

pub mod encoding;
mod error;
pub mod instrument;
mod metadata;
pub mod metric;
pub mod naming;
pub mod registry;
pub mod serve;

feature! {
    #![feature = "push"]
    pub mod export;
}

feature! {
    #![feature = "redis"]
    pub mod redis;
}

pub use encoding::{FamilySnapshot, Format, SeriesSnapshot, SeriesVisitor, Value};
pub use error::Error;
pub use instrument::{LabelValue, Outcome};
pub use metadata::{Metadata, Scope, Site, Str};
pub use metric::counter::{Counter, FloatCounter};
pub use metric::family::{Family, LabelSet, SeriesRef};
pub use metric::gauge::{CallbackGauge, ConcurrentGauge, FloatGauge, Gauge, InFlightGuard};
pub use metric::histogram::{Buckets, Histogram, Observe, Timer, TimerGuard, DEFAULT_BUCKETS};
pub use metric::summary::{Summary, DEFAULT_QUANTILES, DEFAULT_WINDOW};
pub use metric::{Collect, Metric, MetricType, NewLike};
pub use registry::global_tags::GlobalTags;
pub use registry::{global, FamilyInfo, Handle, Registry, Selection, StaticMetric};
feature! {
    #![feature = "server"]
    pub use serve::listener::{
        BindAddr, Server, ServerBuilder, ServerError, ServerHandle, ADDR_ENV, DEFAULT_ADDR,
    };
}

/// Paths the macros expand to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::instrument::default_name::{
        default_name_bytes, default_name_len, default_name_str,
    };
    pub use crate::instrument::{
        cardinality_product, CallGuard, CallRecorder, CountedByOutcome, CountedFamily,
        InFlightFamily, SetOutcome, Timed, TimedByOutcome, TimedFamily,
    };
    pub use crate::metadata::{Metadata, Scope, Site};
    pub use crate::metric::counter::Counter;
    pub use crate::metric::family::{Family, LabelSet};
    pub use crate::metric::gauge::{CallbackGauge, ConcurrentGauge, Gauge};
    pub use crate::metric::histogram::Timer;
    pub use crate::metric::summary::{Summary, DEFAULT_WINDOW};
    pub use crate::registry::StaticMetric;
    pub use crate::{LabelValue, Outcome};
    pub use inventory;
}

// The macros' documentation (prose, arguments, tested examples) is in microprofile-macros; a
// doc comment here would come before it on the re-exported pages.
pub use microprofile_macros::{
    concurrent_gauge, counted, gauge, timed, LabelSet, LabelValue, Metrics,
};
