//! Procedural macros for `microprofile`. Use them through the `microprofile` crate, which re-exports
//! them; the generated code only names paths under `::microprofile::__private`.
//!
//! The attributes share the arguments below; each macro's page lists them too.
//!
#![doc = include_str!("arguments.md")]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use proc_macro::TokenStream;

mod args;
mod check;
mod derive;
mod errors;
mod expand;

use args::Kind;

/// Counts every call of the function, at entry (as MicroProfile's `@Counted`).
///
/// Exposed as a counter `<name>_total`. Arguments: `name`, `absolute`, `description`, `unit`,
/// `tags(…)`, `scope`, `outcome`, `skip` (below). With `outcome`, a call is counted when it
/// ends, into the series of its outcome (`ok`, `error`, `panic`, `cancelled`).
///
/// ```
/// use microprofile::{counted, global, Format, Scope, Selection, Value};
///
/// /// Orders placed.
/// #[counted(name = "orders", tags(shop = "main"))]
/// fn place_order() { /* … */ }
/// // orders_total{shop="main",mp_scope="application"}
///
/// #[counted] // name: "<module path>.charge", exposed as `<module>_charge_total`
/// fn charge() {}
///
/// #[counted(absolute, outcome)] // name: "parse", exposed as `parse_total{outcome="ok"}`…
/// fn parse(s: &str) -> Result<u32, std::num::ParseIntError> { s.parse() }
///
/// place_order();
/// let _ = parse("42");
/// let families = global().snapshot(Selection::Metric(&Scope::Application, "orders"));
/// assert_eq!(families[0].info.name, "orders_total");
/// assert_eq!(families[0].info.description, "Orders placed."); // the doc comment
/// assert_eq!(families[0].series[0].value, Value::Counter(1.0));
/// let text = global().encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains(r#"parse_total{outcome="ok",mp_scope="application"} 1"#));
/// # charge();
/// ```
///
/// Per call: one relaxed atomic add.
///
#[doc = include_str!("arguments.md")]
#[proc_macro_attribute]
pub fn counted(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Kind::Counted, attr.into(), item.into()).into()
}

/// Records the duration of every call, in seconds, into a timer (a histogram exposed as
/// `<name>_seconds`, unless the name already ends in `_seconds`) or, with `quantiles`, a summary.
///
/// Arguments: `name`, `absolute`, `description`, `tags(…)`, `scope`, `outcome`, and either
/// `buckets = [0.01, 0.1, 1.0]` / `buckets = exponential(0.001, 2.0, 12)` /
/// `buckets = linear(0.1, 0.1, 10)`, or `quantiles = [0.5, 0.99]`, and `skip` (below). `unit` may
/// only be `"seconds"`.
///
/// ```
/// use microprofile::{global, timed, Format, Selection};
/// # #[derive(Debug)]
/// # struct Error;
///
/// #[timed(name = "outbound_http_latency_seconds", tags(region = "eu-west-1", path = "/foo"))]
/// fn call_foo() -> u32 { 42 }
/// // outbound_http_latency_seconds_bucket{path="/foo",region="eu-west-1",mp_scope="application",le="0.005"} …
///
/// #[timed(name = "fetch", tags(path = path), outcome, buckets = exponential(0.001, 2.0, 10))]
/// async fn fetch(path: &str) -> Result<Vec<u8>, Error> { Ok(path.as_bytes().to_vec()) }
/// // fetch_seconds_count{outcome="ok",path="/a",mp_scope="application"} …
///
/// call_foo();
/// let text = global().encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains(
///     r#"outbound_http_latency_seconds_count{path="/foo",region="eu-west-1",mp_scope="application"} 1"#
/// ));
/// # let _ = fetch("/a"); // a future: it records when awaited
/// ```
///
/// Works on free functions, `async fn`, methods (`&self`, `&mut self`, `self`), associated
/// functions, trait-impl methods (also under `#[async_trait]`), generic functions (one metric per
/// declaration), functions returning `impl Trait`, and `unsafe fn`; not on `const fn`. For an
/// `async fn` the clock starts at the first poll. A panic records with `outcome="panic"`, a future
/// dropped before completion with `outcome="cancelled"`.
///
/// Per call: two clock reads and one lock-free histogram observation.
///
#[doc = include_str!("arguments.md")]
#[proc_macro_attribute]
pub fn timed(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Kind::Timed, attr.into(), item.into()).into()
}

/// Tracks how many calls of the function are in flight, as a gauge.
///
/// Arguments: `name`, `absolute`, `description`, `unit`, `tags(…)`, `scope`, `skip`. The gauge goes back
/// down when the call returns, panics, or (for `async fn`) when the future is dropped.
///
/// ```
/// use microprofile::{concurrent_gauge, global, Format, Selection};
///
/// #[concurrent_gauge(name = "uploads_in_flight")]
/// async fn upload(data: Vec<u8>) -> usize { data.len() }
///
/// let text = global().encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains(r#"uploads_in_flight{mp_scope="application"} 0"#));
/// # let _ = upload(vec![]);
/// ```
///
#[doc = include_str!("arguments.md")]
#[proc_macro_attribute]
pub fn concurrent_gauge(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Kind::ConcurrentGauge, attr.into(), item.into()).into()
}

/// Exposes the value a function returns as a gauge, read at scrape time.
///
/// The function must be a non-generic, non-async function with no arguments (no `self` either)
/// returning a number. `unit` is required, as in MicroProfile (`"none"` for a plain number).
/// Arguments: `name`, `absolute`, `description`, `unit`, `tags(…)` (fixed values), `scope`.
///
/// ```
/// use microprofile::{gauge, global, Format, Selection};
/// use std::sync::Mutex;
///
/// static QUEUE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
///
/// /// Jobs waiting in the queue.
/// #[gauge(name = "queue_depth", unit = "none")]
/// fn queue_depth() -> usize { QUEUE.lock().map_or(0, |queue| queue.len()) }
///
/// struct Pool { idle: Vec<u32> }
/// static POOL: Pool = Pool { idle: Vec::new() };
///
/// impl Pool {
///     fn global() -> &'static Pool { &POOL }
///
///     /// Idle connections.
///     #[gauge(name = "pool_idle", unit = "none")]
///     fn idle() -> usize { Pool::global().idle.len() } // `Pool::`, not `Self::`
/// }
///
/// QUEUE.lock().unwrap().extend([1, 2, 3]);
/// let text = global().encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains(r#"queue_depth{mp_scope="application"} 3"#));
/// assert!(text.contains(r#"pool_idle{mp_scope="application"} 0"#));
/// ```
///
/// It may be a free function or an associated function (of an inherent or a trait `impl`, generic
/// or not); the gauge reads that function, whatever other function of the same name is in scope.
/// The gauge reads the body from a function nested in it (the attribute cannot see the `impl`), so
/// the body cannot name `Self` or the `impl`'s generic parameters: write the type's name. A gauge
/// function that nothing else calls is not reported as dead code, since every scrape calls it.
///
/// A callback that panics does not break the scrape: its series is left out of that scrape.
///
#[doc = include_str!("arguments.md")]
#[proc_macro_attribute]
pub fn gauge(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Kind::Gauge, attr.into(), item.into()).into()
}

/// Declares a group of metrics as a struct, one field per metric, registered without any call.
///
/// Generates `const fn new()` (every metric at zero). With `#[metrics(register = NAME)]` it also
/// declares `static NAME: Struct = Struct::new();` (with the struct's visibility) and registers
/// every field with the global registry, so `NAME.field.inc()` is all the code needs.
///
/// Struct options: `#[metrics(register = NAME, prefix = "http_")]` (the prefix goes before field
/// names used as metric names). Field options, in `#[metric(…)]`: `name`, `description` (default:
/// the field's doc comment), `unit`, `tags(key = "value")`, `scope`, `buckets` (`Timer`,
/// `Histogram`), `quantiles` (`Summary`). The metric name defaults to the field name.
///
/// Field types: `Counter`, `FloatCounter`, `Gauge`, `FloatGauge`, `ConcurrentGauge`, `Timer`,
/// `Histogram`, `Summary`, and `Family<Labels, M>` of one of them.
///
/// ```
/// use microprofile::{global, Counter, Family, Format, LabelSet, LabelValue, Metrics, Selection, Timer};
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, LabelValue)]
/// enum Method { Get, Post }
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
///     #[metric(buckets = exponential(0.001, 2.0, 12), tags(server = "edge"))]
///     latency: Timer,
/// }
///
/// HTTP.requests.with(&HttpLabels { method: Method::Get, status: 200 }).inc();
/// let text = global().encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains(r#"http_requests_total{method="Get",status="200",mp_scope="application"} 1"#));
/// ```
#[proc_macro_derive(Metrics, attributes(metrics, metric))]
pub fn derive_metrics(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => derive::metrics(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `LabelSet` for a struct of label fields: the field names are the label names
/// (checked at compile time: valid, not reserved), emitted sorted. A field may carry another label
/// name with `#[label(rename = "…")]` (`r#type` is the label `type`).
///
/// Field types implement `LabelValue`: `&'static str`, `String`, integers, `bool`, or enums with
/// `#[derive(LabelValue)]`. The struct also needs `Clone, PartialEq, Eq, Hash`. A label set made
/// only of `bool`s and `#[derive(LabelValue)]` enums has a fixed cardinality (the product of the
/// fields') and its family indexes series densely, with no hashing.
///
/// ```
/// use microprofile::{Counter, Family, LabelSet, LabelValue};
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, LabelValue)]
/// enum Method { Get, Post }
///
/// #[derive(Clone, PartialEq, Eq, Hash, LabelSet)]
/// struct HttpLabels { method: Method, status: u16, #[label(rename = "type")] kind: &'static str }
///
/// static REQUESTS: Family<HttpLabels, Counter> = Family::new(Counter::new());
/// REQUESTS.with(&HttpLabels { method: Method::Get, status: 200, kind: "api" }).inc();
/// assert_eq!(REQUESTS.with(&HttpLabels { method: Method::Get, status: 200, kind: "api" }).get(), 1);
/// ```
#[proc_macro_derive(LabelSet, attributes(label))]
pub fn derive_label_set(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => derive::label_set(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `LabelValue` for an enum of unit variants: the value is the variant's name, or the
/// one given with `#[label(rename = "…")]`. Its cardinality is the number of variants.
///
/// ```
/// use microprofile::LabelValue;
///
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, LabelValue)]
/// enum Method { #[label(rename = "GET")] Get, #[label(rename = "POST")] Post }
///
/// assert_eq!(Method::Get.to_label_string(), "GET");
/// assert_eq!(Method::CARDINALITY, Some(2));
/// ```
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => derive::label_value(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
