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

pub mod auth;
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
#[cfg(feature = "tower")]
pub mod web;

pub use counter::{Counter, FloatCounter};
pub use encoding::{FamilySnapshot, Format, SeriesSnapshot, Value};
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

pub use microprofile_macros::{
    concurrent_gauge, counted, gauge, timed, LabelSet, LabelValue, Metrics,
};
