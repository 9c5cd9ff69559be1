//! Behaviour of the attribute macros and derives: every supported target, values read back through
//! the global registry, panics, cancellation, the outcome tag and tags taken from arguments.

use std::future::Future;
use std::panic::catch_unwind;
use std::task::{Context, Waker};

use microprofile::{
    concurrent_gauge, counted, gauge, global, timed, Counter, Family, LabelSet, LabelValue,
    Metrics, Scope, Selection, Timer, Value,
};

/// Every series of the family declared as `name` in `scope`: (labels without global tags, value).
fn series(scope: &Scope, name: &str) -> Vec<(Vec<(String, String)>, Value)> {
    global()
        .snapshot(Selection::Metric(scope, name))
        .into_iter()
        .flat_map(|f| {
            f.series.into_iter().map(|s| {
                let mut labels = s.labels;
                // Fixed tags come before labels taken at the call; compare them as a set.
                labels.sort();
                (labels, s.value)
            })
        })
        .collect()
}

fn app(name: &str) -> Vec<(Vec<(String, String)>, Value)> {
    series(&Scope::Application, name)
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    labels
}

/// The value of the single series with these labels.
fn value(name: &str, pairs: &[(&str, &str)]) -> Value {
    let wanted = labels(pairs);
    app(name)
        .into_iter()
        .find(|(l, _)| *l == wanted)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no series {name}{pairs:?} in {:?}", app(name)))
}

fn counter(name: &str, pairs: &[(&str, &str)]) -> f64 {
    match value(name, pairs) {
        Value::Counter(v) => v,
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

fn gauge_value(name: &str, pairs: &[(&str, &str)]) -> f64 {
    match value(name, pairs) {
        Value::Gauge(v) => v,
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn histogram_count(name: &str, pairs: &[(&str, &str)]) -> u64 {
    match value(name, pairs) {
        Value::Histogram { count, .. } | Value::Summary { count, .. } => count,
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(future)
}

struct NoopWake;

impl std::task::Wake for NoopWake {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Polls a future once, then drops it.
fn poll_once_then_drop<F: Future>(future: F) {
    let mut future = Box::pin(future);
    let waker = Waker::from(std::sync::Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    assert!(future.as_mut().poll(&mut cx).is_pending());
}

// --- free fn, default names, doc description ------------------------------------------------------

/// Counts the free function.
#[counted]
fn free_default() {}

#[counted(absolute)]
fn free_absolute() {}

#[test]
fn free_fn_default_and_absolute_names() {
    free_default();
    free_default();
    free_absolute();
    assert_eq!(counter("macros.free_default", &[]), 2.0);
    assert_eq!(counter("free_absolute", &[]), 1.0);
    let info = global().families(Selection::Metric(
        &Scope::Application,
        "macros.free_default",
    ));
    assert_eq!(info[0].name, "macros_free_default_total");
    assert_eq!(info[0].description, "Counts the free function.");
}

mod api {
    pub mod v2 {
        #[microprofile::counted]
        pub fn fetch() {}
    }
}

/// The default name is the module path with `::` written `.`, then the function: exposed with
/// single underscores (`macros_api_v2_fetch_total`, not `macros__api__v2_fetch_total`).
#[test]
fn default_names_of_nested_modules_use_dots() {
    api::v2::fetch();
    assert_eq!(counter("macros.api.v2.fetch", &[]), 1.0);
    let info = global().families(Selection::Metric(
        &Scope::Application,
        "macros.api.v2.fetch",
    ));
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].name, "macros_api_v2_fetch_total");
    let text = global().encode_to_string(microprofile::Format::Prometheus, Selection::All);
    assert!(!text.contains("__"), "a double underscore in {text}");
}

/// Orders taken.
#[counted(name = "stacked_orders")]
#[concurrent_gauge(name = "stacked_orders_in_flight")]
#[timed(name = "stacked_order_time", description = "Time to take an order.")]
fn take_order() {}

/// Of stacked attributes, the first takes the doc comment as its description; the others have
/// none unless they give `description = "…"`.
#[test]
fn stacked_attributes_do_not_share_the_doc_comment() {
    take_order();
    let description = |name: &str| {
        let info = global().families(Selection::Metric(&Scope::Application, name));
        assert_eq!(info.len(), 1, "{name}");
        info[0].description.clone()
    };
    assert_eq!(description("stacked_orders"), "Orders taken.");
    assert_eq!(description("stacked_orders_in_flight"), "");
    assert_eq!(description("stacked_order_time"), "Time to take an order.");
}

// --- the example users copy first ------------------------------------------------------------------

#[timed(
    name = "outbound_http_latency_seconds",
    tags(region = "eu-west-1", path = "/foo")
)]
fn outbound() -> u32 {
    7
}

#[test]
fn timed_with_static_tags() {
    assert_eq!(outbound(), 7);
    assert_eq!(
        histogram_count(
            "outbound_http_latency_seconds",
            &[("path", "/foo"), ("region", "eu-west-1")]
        ),
        1
    );
    let text = global().encode_to_string(microprofile::Format::Prometheus, Selection::All);
    assert!(
        text.contains("outbound_http_latency_seconds_count{path=\"/foo\",region=\"eu-west-1\",mp_scope=\"application\"} 1"),
        "{text}"
    );
}

// --- arguments ---------------------------------------------------------------------------------------

#[counted(
    name = "args_all",
    description = "Given description.",
    unit = "bytes",
    scope = "vendor",
    tags(kind = "x", n = 3, flag = true)
)]
fn all_args() {}

#[counted(name = "custom_scope", scope = "billing")]
fn custom_scope() {}

#[timed(name = "buckets_list", buckets = [0.5, 1, 2.5])]
fn buckets_list() {}

#[timed(name = "buckets_exp", buckets = exponential(0.001, 2.0, 4))]
fn buckets_exp() {}

#[timed(name = "buckets_lin", buckets = linear(1.0, 0.5, 3))]
fn buckets_lin() {}

#[timed(name = "quantiles_summary", quantiles = [0.5, 0.99])]
fn with_quantiles() {}

fn bucket_bounds(name: &str) -> Vec<f64> {
    match value(name, &[]) {
        Value::Histogram { buckets, .. } => buckets.into_iter().map(|(b, _)| b).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_argument() {
    all_args();
    let vendor = series(&Scope::Vendor, "args_all");
    assert_eq!(
        vendor[0].0,
        labels(&[("flag", "true"), ("kind", "x"), ("n", "3")])
    );
    let info = global().families(Selection::Metric(&Scope::Vendor, "args_all"));
    assert_eq!(info[0].name, "args_all_bytes_total");
    assert_eq!(info[0].description, "Given description.");
    custom_scope();
    let billing = Scope::new("billing").unwrap();
    assert_eq!(series(&billing, "custom_scope")[0].1, Value::Counter(1.0));

    buckets_list();
    buckets_exp();
    buckets_lin();
    assert_eq!(
        bucket_bounds("buckets_list"),
        vec![0.5, 1.0, 2.5, f64::INFINITY]
    );
    assert_eq!(
        bucket_bounds("buckets_exp"),
        vec![0.001, 0.002, 0.004, 0.008, f64::INFINITY]
    );
    assert_eq!(
        bucket_bounds("buckets_lin"),
        vec![1.0, 1.5, 2.0, f64::INFINITY]
    );
    with_quantiles();
    match value("quantiles_summary", &[]) {
        Value::Summary {
            quantiles, count, ..
        } => {
            assert_eq!(count, 1);
            assert_eq!(
                quantiles.iter().map(|q| q.0).collect::<Vec<_>>(),
                vec![0.5, 0.99]
            );
        }
        other => panic!("{other:?}"),
    }
    let info = global().families(Selection::Metric(&Scope::Application, "quantiles_summary"));
    assert_eq!(info[0].name, "quantiles_summary_seconds");
    assert!(
        global().registration_errors().is_empty(),
        "{:?}",
        global().registration_errors()
    );
}

// --- async fn, methods, traits, generics, impl Trait, early return, unsafe ---------------------

#[timed(name = "async_free")]
#[counted(name = "async_free_calls")]
async fn async_free(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x + 1
}

struct Service {
    hits: u32,
}

trait Greeter {
    fn greet(&self) -> String;
}

#[async_trait::async_trait]
trait AsyncGreeter {
    async fn greet_async(&self, name: &str) -> Result<String, String>;
}

impl Service {
    #[counted(name = "method_ref")]
    fn by_ref(&self) -> u32 {
        self.hits
    }

    #[counted(name = "method_mut")]
    fn by_mut(&mut self) {
        self.hits += 1;
    }

    #[counted(name = "method_value")]
    fn by_value(self) -> u32 {
        self.hits
    }

    #[counted(name = "associated")]
    fn associated() -> Service {
        Service { hits: 0 }
    }

    #[timed(name = "async_method")]
    async fn async_method(&mut self) -> u32 {
        self.hits += 10;
        self.hits
    }
}

impl Greeter for Service {
    #[counted(name = "trait_method")]
    fn greet(&self) -> String {
        format!("hi {}", self.hits)
    }
}

#[async_trait::async_trait]
impl AsyncGreeter for Service {
    #[timed(name = "async_trait_method", outcome, tags(who = name))]
    #[counted(name = "async_trait_calls")]
    async fn greet_async(&self, name: &str) -> Result<String, String> {
        tokio::task::yield_now().await;
        if name.is_empty() {
            return Err("no name".into());
        }
        Ok(format!("hi {name}"))
    }
}

#[counted(name = "generic_fn")]
fn generic<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

#[timed(name = "impl_trait")]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[counted(name = "early_return")]
fn early(n: i32) -> Result<i32, std::num::ParseIntError> {
    if n < 0 {
        return Ok(0);
    }
    let parsed: i32 = "12".parse()?;
    Ok(parsed + n)
}

#[counted(name = "unsafe_fn")]
unsafe fn dangerous(p: *const u32) -> u32 {
    *p
}

#[test]
fn every_target() {
    assert_eq!(block_on(async_free(1)), 2);
    assert_eq!(histogram_count("async_free", &[]), 1);
    assert_eq!(counter("async_free_calls", &[]), 1.0);

    let mut s = Service::associated();
    s.by_mut();
    assert_eq!(s.by_ref(), 1);
    assert_eq!(s.greet(), "hi 1");
    assert_eq!(block_on(s.async_method()), 11);
    assert_eq!(block_on(s.greet_async("ann")).as_deref(), Ok("hi ann"));
    assert!(block_on(s.greet_async("")).is_err());
    assert_eq!(s.by_value(), 11);
    for name in [
        "associated",
        "method_mut",
        "method_ref",
        "method_value",
        "trait_method",
    ] {
        assert_eq!(counter(name, &[]), 1.0, "{name}");
    }
    assert_eq!(histogram_count("async_method", &[]), 1);
    assert_eq!(counter("async_trait_calls", &[]), 2.0);
    assert_eq!(
        histogram_count("async_trait_method", &[("outcome", "ok"), ("who", "ann")]),
        1
    );
    assert_eq!(
        histogram_count("async_trait_method", &[("outcome", "error"), ("who", "")]),
        1
    );

    assert_eq!(generic(1u8), "1");
    assert_eq!(generic("x"), "\"x\"");
    assert_eq!(counter("generic_fn", &[]), 2.0);
    assert_eq!(app("generic_fn").len(), 1);

    assert_eq!(evens(5).collect::<Vec<_>>(), vec![0, 2, 4]);
    assert_eq!(histogram_count("impl_trait", &[]), 1);

    assert_eq!(early(-1), Ok(0));
    assert_eq!(early(1), Ok(13));
    assert_eq!(counter("early_return", &[]), 2.0);

    let x = 5u32;
    // SAFETY: points at a live u32.
    assert_eq!(unsafe { dangerous(&x) }, 5);
    assert_eq!(counter("unsafe_fn", &[]), 1.0);
}

// --- failure: panics, cancellation, in-flight ----------------------------------------------------

#[timed(name = "panicking")]
#[counted(name = "panicking_calls")]
#[concurrent_gauge(name = "panicking_in_flight")]
fn panicking() {
    panic!("boom");
}

#[timed(name = "outcomes", outcome)]
#[counted(name = "outcome_calls", outcome)]
#[concurrent_gauge(name = "outcomes_in_flight")]
async fn fallible(fail: bool, hang: bool) -> Result<u32, String> {
    if hang {
        std::future::pending::<()>().await;
    }
    if fail {
        Err("failed".to_owned())
    } else {
        let n: u32 = "5".parse().map_err(|_| "parse".to_owned())?;
        Ok(n)
    }
}

#[timed(name = "sync_outcomes", outcome)]
fn sync_fallible(mode: u8) -> Result<u8, String> {
    match mode {
        0 => Ok(0),
        1 => Err("no".into()),
        _ => panic!("mode {mode}"),
    }
}

#[test]
fn panics_still_record() {
    assert!(catch_unwind(panicking).is_err());
    assert_eq!(histogram_count("panicking", &[]), 1);
    assert_eq!(counter("panicking_calls", &[]), 1.0);
    assert_eq!(gauge_value("panicking_in_flight", &[]), 0.0);
}

#[test]
fn outcome_tag() {
    assert_eq!(block_on(fallible(false, false)), Ok(5));
    assert!(block_on(fallible(true, false)).is_err());
    poll_once_then_drop(fallible(false, true));
    // A future dropped before its first poll never started the call: nothing is recorded.
    drop(fallible(false, true));
    let ok = [("outcome", "ok")];
    assert_eq!(histogram_count("outcomes", &ok), 1);
    assert_eq!(histogram_count("outcomes", &[("outcome", "error")]), 1);
    assert_eq!(histogram_count("outcomes", &[("outcome", "cancelled")]), 1);
    assert_eq!(histogram_count("outcomes", &[("outcome", "panic")]), 0);
    assert_eq!(counter("outcome_calls", &ok), 1.0);
    assert_eq!(counter("outcome_calls", &[("outcome", "cancelled")]), 1.0);
    assert_eq!(gauge_value("outcomes_in_flight", &[]), 0.0);

    assert_eq!(sync_fallible(0), Ok(0));
    assert!(sync_fallible(1).is_err());
    assert!(catch_unwind(|| sync_fallible(2)).is_err());
    for outcome in ["ok", "error", "panic"] {
        assert_eq!(
            histogram_count("sync_outcomes", &[("outcome", outcome)]),
            1,
            "{outcome}"
        );
    }
}

#[timed(name = "cancelled_timer")]
#[concurrent_gauge(name = "cancelled_in_flight")]
async fn slow() {
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
}

#[test]
fn cancellation_records_and_releases() {
    block_on(async {
        let result = tokio::time::timeout(std::time::Duration::from_millis(20), slow()).await;
        assert!(result.is_err());
    });
    assert_eq!(histogram_count("cancelled_timer", &[]), 1);
    assert_eq!(gauge_value("cancelled_in_flight", &[]), 0.0);
}

#[concurrent_gauge(name = "in_flight_now")]
fn observe_in_flight() -> f64 {
    gauge_value("in_flight_now", &[])
}

#[test]
fn in_flight_counts_during_the_call() {
    assert_eq!(observe_in_flight(), 1.0);
    assert_eq!(gauge_value("in_flight_now", &[]), 0.0);
}

// --- tags from arguments ---------------------------------------------------------------------------

#[counted(name = "requests_by_path", tags(path = path, service = "api"))]
#[concurrent_gauge(name = "requests_by_path_in_flight", tags(path = path))]
fn handle(path: &str, status: u16) -> u16 {
    status
}

#[counted(name = "by_status", tags(status = status, ok = ok))]
fn by_status(status: u16, ok: bool) {}

#[test]
fn tags_from_arguments() {
    handle("/a", 200);
    handle("/a", 200);
    handle("/b", 500);
    assert_eq!(
        counter("requests_by_path", &[("path", "/a"), ("service", "api")]),
        2.0
    );
    assert_eq!(
        counter("requests_by_path", &[("path", "/b"), ("service", "api")]),
        1.0
    );
    assert_eq!(
        gauge_value("requests_by_path_in_flight", &[("path", "/a")]),
        0.0
    );
    by_status(404, false);
    assert_eq!(
        counter("by_status", &[("ok", "false"), ("status", "404")]),
        1.0
    );
}

// --- gauge -----------------------------------------------------------------------------------------

/// Jobs waiting.
#[gauge(name = "queue_depth", unit = "none")]
fn queue_depth() -> usize {
    3
}

#[gauge(absolute, unit = "bytes", tags(pool = "main"))]
fn heap_used() -> f32 {
    1.5
}

#[test]
fn gauges_read_at_scrape_time() {
    assert_eq!(gauge_value("queue_depth", &[]), 3.0);
    assert_eq!(gauge_value("heap_used", &[("pool", "main")]), 1.5);
    let info = global().families(Selection::Metric(&Scope::Application, "queue_depth"));
    assert_eq!(info[0].description, "Jobs waiting.");
    let info = global().families(Selection::Metric(&Scope::Application, "heap_used"));
    assert_eq!(info[0].name, "heap_used_bytes");
    assert_eq!(queue_depth(), 3);
    assert_eq!(heap_used(), 1.5);
}

// --- derives -----------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
enum Method {
    #[label(rename = "GET")]
    Get,
    #[label(rename = "POST")]
    Post,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
enum Class {
    Success,
    Failure,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct HttpLabels {
    status: u16,
    method: Method,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelSet)]
struct DenseLabels {
    class: Class,
    method: Method,
    cached: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct TextLabels {
    r#type: &'static str,
    #[label(rename = "team")]
    owner: String,
}

#[derive(Metrics)]
#[metrics(register = HTTP, prefix = "http_")]
struct HttpMetrics {
    /// Requests served.
    requests: Family<HttpLabels, Counter>,
    /// Time to first byte.
    #[metric(buckets = [0.1, 1.0], tags(server = "edge"))]
    latency: Timer,
    /// Dense family.
    #[metric(name = "dense_requests", scope = "vendor")]
    dense: Family<DenseLabels, Counter>,
    #[metric(name = "text_requests", description = "By text.")]
    text: Family<TextLabels, Counter>,
}

#[test]
fn derive_metrics_registers_itself() {
    HTTP.requests
        .with(&HttpLabels {
            method: Method::Get,
            status: 200,
        })
        .inc();
    HTTP.latency.observe(0.5);
    assert_eq!(
        counter("http_requests", &[("method", "GET"), ("status", "200")]),
        1.0
    );
    assert_eq!(histogram_count("http_latency", &[("server", "edge")]), 1);
    let info = global().families(Selection::Metric(&Scope::Application, "http_requests"));
    assert_eq!(info[0].description, "Requests served.");
    assert_eq!(info[0].tag_names, vec!["method", "status"]);

    HTTP.dense
        .with(&DenseLabels {
            class: Class::Failure,
            method: Method::Delete,
            cached: true,
        })
        .inc();
    assert_eq!(
        series(&Scope::Vendor, "dense_requests"),
        vec![(
            labels(&[
                ("cached", "true"),
                ("class", "Failure"),
                ("method", "Delete")
            ]),
            Value::Counter(1.0)
        )]
    );
    HTTP.text
        .with(&TextLabels {
            r#type: "t",
            owner: "me".into(),
        })
        .inc();
    assert_eq!(
        counter("text_requests", &[("team", "me"), ("type", "t")]),
        1.0
    );
}

#[test]
fn derive_label_set_names_and_dense_index() {
    assert_eq!(HttpLabels::NAMES, &["method", "status"]);
    assert_eq!(HttpLabels::CARDINALITY, None);
    assert_eq!(TextLabels::NAMES, &["team", "type"]);
    assert_eq!(DenseLabels::NAMES, &["cached", "class", "method"]);
    assert_eq!(DenseLabels::CARDINALITY, Some(2 * 2 * 3));
    let mut seen = std::collections::HashSet::new();
    for i in 0..12 {
        let labels = DenseLabels::from_dense_index(i).expect("in range");
        assert_eq!(labels.dense_index(), i);
        assert!(seen.insert(labels));
    }
    assert_eq!(DenseLabels::from_dense_index(12), None);
    assert_eq!(<Method as LabelValue>::CARDINALITY, Some(3));
    assert_eq!(Method::Get.to_label_string(), "GET");
    assert_eq!(Method::Delete.to_label_string(), "Delete");
    assert_eq!(Method::from_label_index(1), Some(Method::Post));
}

#[test]
fn no_registration_errors() {
    // Touch everything first so that every static is registered.
    let _ = global().snapshot(Selection::All);
    assert!(
        global().registration_errors().is_empty(),
        "{:?}",
        global().registration_errors()
    );
}

// --- a whole impl block ------------------------------------------------------------------------------

struct Repository;

#[counted(name = "repository")]
impl Repository {
    fn load(&self) -> u32 {
        1
    }

    fn store(&mut self, _value: u32) -> Result<(), String> {
        Ok(())
    }

    #[counted(skip)]
    fn helper(&self) -> u32 {
        2
    }

    #[counted(name = "repository_custom")]
    fn custom(&self) {}

    const fn constant() -> u32 {
        3
    }
}

#[timed(name = "async_repository", outcome)]
#[async_trait::async_trait]
impl AsyncGreeter for Repository {
    async fn greet_async(&self, name: &str) -> Result<String, String> {
        Ok(name.to_owned())
    }
}

#[test]
fn impl_block_instruments_every_method() {
    let mut repo = Repository;
    assert_eq!(repo.load() + repo.helper() + Repository::constant(), 6);
    repo.store(1).unwrap();
    repo.custom();
    assert_eq!(counter("repository.load", &[]), 1.0);
    assert_eq!(counter("repository.store", &[]), 1.0);
    assert_eq!(counter("repository_custom", &[]), 1.0);
    assert!(app("repository.helper").is_empty());
    assert!(app("repository.constant").is_empty());
    assert_eq!(block_on(repo.greet_async("x")).as_deref(), Ok("x"));
    assert_eq!(
        histogram_count("async_repository.greet_async", &[("outcome", "ok")]),
        1
    );
}

#[test]
fn instrumented_futures_stay_send() {
    fn assert_send<T: Send>(_: T) {}
    assert_send(fallible(false, false));
    assert_send(async_free(1));
    assert_send(slow());
    let repo = Repository;
    assert_send(repo.greet_async("x"));
}

// --- outcome with receivers, generics, borrowed results and error conversion ----------------------

#[derive(Debug)]
struct AppError(String);

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError(e.to_string())
    }
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[counted(name = "store_push", outcome)]
    fn push(&mut self, raw: &str) -> Result<usize, AppError> {
        let n: usize = raw.parse()?;
        self.items.push(raw.to_owned());
        Ok(n)
    }

    #[counted(name = "store_first", outcome)]
    fn first(&self) -> Result<&str, AppError> {
        self.items
            .first()
            .map(String::as_str)
            .ok_or_else(|| AppError("empty".into()))
    }

    #[timed(name = "store_into", outcome)]
    fn into_items(self) -> Result<Vec<String>, AppError> {
        Ok(self.items)
    }

    #[timed(name = "store_async", outcome)]
    async fn lookup(&self, index: &str) -> Result<&String, AppError> {
        let i: usize = index.parse()?;
        self.items.get(i).ok_or_else(|| AppError("missing".into()))
    }
}

#[counted(name = "generic_parse", outcome)]
fn parse_as<T: std::str::FromStr>(raw: &str) -> Result<T, T::Err> {
    let value = raw.trim().parse::<T>()?;
    Ok(value)
}

#[test]
fn outcome_with_receivers_and_generics() {
    let mut store = Store { items: Vec::new() };
    assert_eq!(store.first().unwrap_err().0, "empty");
    assert_eq!(store.push("7").unwrap(), 7);
    assert!(store.push("x").is_err());
    assert_eq!(store.first().unwrap(), "7");
    assert_eq!(block_on(store.lookup("0")).unwrap(), "7");
    assert!(block_on(store.lookup("9")).is_err());
    assert!(block_on(store.lookup("z")).is_err());
    assert_eq!(store.into_items().unwrap(), vec!["7".to_owned()]);
    assert_eq!(counter("store_push", &[("outcome", "ok")]), 1.0);
    assert_eq!(counter("store_push", &[("outcome", "error")]), 1.0);
    assert_eq!(counter("store_first", &[("outcome", "ok")]), 1.0);
    assert_eq!(counter("store_first", &[("outcome", "error")]), 1.0);
    assert_eq!(histogram_count("store_into", &[("outcome", "ok")]), 1);
    assert_eq!(histogram_count("store_async", &[("outcome", "ok")]), 1);
    assert_eq!(histogram_count("store_async", &[("outcome", "error")]), 2);

    assert_eq!(parse_as::<u8>(" 3 "), Ok(3));
    assert!(parse_as::<u8>("300").is_err());
    assert_eq!(parse_as::<i64>("-1"), Ok(-1));
    assert_eq!(counter("generic_parse", &[("outcome", "ok")]), 2.0);
    assert_eq!(counter("generic_parse", &[("outcome", "error")]), 1.0);
    assert_eq!(app("generic_parse").len(), 4);
}

#[counted(name = "classified", tags(kind = kind, source = "test"), outcome)]
fn classify(kind: &str) -> Result<(), ()> {
    if kind == "bad" {
        Err(())
    } else {
        Ok(())
    }
}

#[test]
fn labels_from_arguments_with_outcome() {
    classify("good").unwrap();
    classify("bad").unwrap_err();
    classify("bad").unwrap_err();
    assert_eq!(
        counter(
            "classified",
            &[("kind", "good"), ("outcome", "ok"), ("source", "test")]
        ),
        1.0
    );
    assert_eq!(
        counter(
            "classified",
            &[("kind", "bad"), ("outcome", "error"), ("source", "test")]
        ),
        2.0
    );
}

#[timed(name = "impl_result", outcome)]
fn numbers(n: u32) -> Result<impl Iterator<Item = u32>, String> {
    if n == 0 {
        return Err("zero".into());
    }
    Ok(0..n)
}

#[test]
fn outcome_with_impl_trait_in_the_result() {
    assert_eq!(numbers(3).map(|i| i.sum::<u32>()), Ok(3));
    assert!(numbers(0).is_err());
    assert_eq!(histogram_count("impl_result", &[("outcome", "ok")]), 1);
    assert_eq!(histogram_count("impl_result", &[("outcome", "error")]), 1);
}
