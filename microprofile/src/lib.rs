//! # microprofile
//!
//! Metrics instrumentation inspired by Eclipse MicroProfile Metrics: metrics declared once as
//! `static`s (by hand or with the attribute macros), collected into one global registry split into
//! the scopes base, vendor and application, and exposed as Prometheus text or OpenMetrics.
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

pub mod auth;
#[cfg(feature = "server")]
mod conn;
mod counter;
mod encoding;
mod error;
pub mod family;
mod gauge;
mod global_tags;
mod histogram;
pub mod http;
mod instrument;
mod internal;
mod metadata;
pub mod metric;
pub mod naming;
#[cfg(feature = "push")]
pub mod push;
#[cfg(feature = "redis")]
pub mod redis;
mod registry;
#[cfg(feature = "server")]
mod server;
mod summary;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tower")]
pub mod web;

pub use counter::{Counter, FloatCounter};
pub use encoding::{FamilySnapshot, Format, SeriesSnapshot, SeriesVisitor, Value};
pub use error::Error;
pub use family::{Family, LabelSet, SeriesRef};
pub use gauge::{CallbackGauge, ConcurrentGauge, FloatGauge, Gauge, InFlightGuard};
pub use global_tags::GlobalTags;
pub use histogram::{Buckets, Histogram, Observe, Timer, TimerGuard, DEFAULT_BUCKETS};
pub use instrument::{LabelValue, Outcome};
pub use metadata::{Metadata, MetricType, Scope, Site, Str};
pub use metric::{Collect, Metric, NewLike};
pub use registry::{global, FamilyInfo, Handle, Registry, Selection, StaticMetric};
#[cfg(feature = "server")]
pub use server::{Server, ServerBuilder, ServerError, ServerHandle, ADDR_ENV, DEFAULT_ADDR};
pub use summary::{Summary, DEFAULT_QUANTILES, DEFAULT_WINDOW};

/// Paths the macros expand to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::instrument::{
        cardinality_product, CallGuard, CallRecorder, CountedByOutcome, CountedFamily,
        InFlightFamily, SetOutcome, Timed, TimedByOutcome, TimedFamily,
    };
    pub use crate::*;
    pub use inventory;
}

/// ```
/// use microprofile::{global, timed, Scope, Selection, Value};
///
/// #[timed(name = "outbound_http_latency_seconds", tags(region = "eu-west-1", path = "/foo"))]
/// fn call_foo() -> u32 { 42 }
///
/// /// Fetches a page.
/// #[timed(name = "fetch", tags(route = route), outcome, buckets = exponential(0.001, 2.0, 10))]
/// async fn fetch(route: &str) -> Result<usize, String> { Ok(route.len()) }
///
/// call_foo();
/// let text = global().encode_to_string(microprofile::Format::Prometheus, Selection::All);
/// assert!(text.contains("outbound_http_latency_seconds_count{path=\"/foo\",region=\"eu-west-1\",mp_scope=\"application\"} 1"));
/// # let _ = fetch("/a");
/// ```
pub use microprofile_macros::timed;

/// ```
/// use microprofile::{counted, global, Scope, Selection, Value};
///
/// /// Orders placed.
/// #[counted(name = "orders", tags(shop = "main"))]
/// fn place_order() {}
///
/// place_order();
/// let families = global().snapshot(Selection::Metric(&Scope::Application, "orders"));
/// assert_eq!(families[0].info.name, "orders_total");
/// assert_eq!(families[0].info.description, "Orders placed.");
/// assert_eq!(families[0].series[0].value, Value::Counter(1.0));
/// ```
pub use microprofile_macros::counted;

/// ```
/// use microprofile::{gauge, global, Scope, Selection, Value};
///
/// /// Jobs waiting.
/// #[gauge(name = "queue_depth", unit = "none")]
/// fn queue_depth() -> usize { 3 }
///
/// let families = global().snapshot(Selection::Metric(&Scope::Application, "queue_depth"));
/// assert_eq!(families[0].series[0].value, Value::Gauge(3.0));
/// ```
pub use microprofile_macros::gauge;

/// ```
/// #[microprofile::concurrent_gauge(name = "uploads_in_flight")]
/// async fn upload(data: Vec<u8>) -> usize { data.len() }
/// # let _ = upload(vec![]);
/// ```
pub use microprofile_macros::concurrent_gauge;

/// ```
/// use microprofile::{Counter, Family, LabelSet, LabelValue, Metrics, Timer};
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, LabelValue)]
/// enum Method { #[label(rename = "GET")] Get, #[label(rename = "POST")] Post }
///
/// #[derive(Clone, PartialEq, Eq, Hash, LabelSet)]
/// struct HttpLabels { method: Method, status: u16 }
///
/// #[derive(Metrics)]
/// #[metrics(register = HTTP, prefix = "http_")]
/// struct HttpMetrics {
///     /// Requests served.
///     requests: Family<HttpLabels, Counter>,
///     /// Time to first byte.
///     #[metric(buckets = [0.01, 0.1, 1.0], tags(server = "edge"))]
///     latency: Timer,
/// }
///
/// HTTP.requests.with(&HttpLabels { method: Method::Get, status: 200 }).inc();
/// let text = microprofile::global().encode_to_string(microprofile::Format::Prometheus, microprofile::Selection::All);
/// assert!(text.contains("http_requests_total{method=\"GET\",status=\"200\",mp_scope=\"application\"} 1"));
/// ```
pub use microprofile_macros::Metrics;

pub use microprofile_macros::{LabelSet, LabelValue};
