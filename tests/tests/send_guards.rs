//! Every guard the crate hands out is `Send` where its target is `Sync`, so it can be held across
//! an `.await` in a task of a multi-threaded runtime: timers (`TimerGuard` of a `Timer`,
//! `Histogram`, `Summary`, a family series and the Redis store's histograms and summaries),
//! in-flight guards, family handles (`SeriesRef`), the call guards the attributes put into
//! `async fn`s, and the handles a service keeps (the listener's, the Redis store's).
//!
//! This file is a compile test first: if a guard stops being `Send`, the static assertions and the
//! `tokio::spawn` calls below stop compiling (a `tokio::spawn`ed future must be `Send`, and an
//! axum handler's future too). The tests then run the futures and check that each guard recorded.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use microprofile::__private::{
    CallGuard, CountedByOutcome, CountedFamily, InFlightFamily, SetOutcome, Timed, TimedByOutcome,
    TimedFamily,
};
use microprofile::redis::{RedisHistogram, RedisSummary, SharedStore, StoreConfig};
use microprofile::{
    concurrent_gauge, counted, timed, ConcurrentGauge, Counter, Family, Histogram, InFlightGuard,
    LabelSet, Metadata, SeriesRef, Summary, Timer, TimerGuard,
};
use tower::ServiceExt;

fn assert_send<T: Send>() {}
fn assert_send_value<T: Send>(value: T) -> T {
    value
}

/// The guard types themselves, for `'static` targets (every `static` metric is `Sync`).
#[test]
fn guard_types_are_send() {
    assert_send::<TimerGuard<'static>>();
    assert_send::<InFlightGuard<'static>>();
    assert_send::<SeriesRef<'static, Timer>>();
    assert_send::<SeriesRef<'static, Histogram>>();
    assert_send::<SeriesRef<'static, Summary>>();
    assert_send::<SeriesRef<'static, Counter>>();
    assert_send::<SeriesRef<'static, ConcurrentGauge>>();
    assert_send::<SharedStore>();
    assert_send::<RedisHistogram>();
    assert_send::<RedisSummary>();
    assert_send::<microprofile::redis::PeriodicTransfer>();
    assert_send::<microprofile::redis::LiveExposition>();
    assert_send::<microprofile::ServerHandle>();
    // The guards the attribute macros expand to (`#[timed]`, `#[counted(outcome)]`,
    // `#[concurrent_gauge]`, with and without `tags(key = argument)`).
    assert_send::<CallGuard<Timed<'static, Timer>>>();
    assert_send::<CallGuard<Timed<'static, Summary>>>();
    assert_send::<CallGuard<TimedByOutcome<'static, Timer>>>();
    assert_send::<CallGuard<CountedByOutcome<'static>>>();
    assert_send::<CallGuard<TimedFamily<'static, Path, Timer>>>();
    assert_send::<CallGuard<CountedFamily<'static, Path>>>();
    assert_send::<InFlightFamily<'static, Path>>();
}

/// A label set like the ones the attributes generate for `tags(key = argument)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Path {
    path: String,
}

impl SetOutcome for Path {
    const HAS_OUTCOME: bool = false;
    fn set_outcome(&mut self, _: microprofile::__private::Outcome) {}
}

static TIMER: Timer = Timer::new();
static HISTOGRAM: Histogram = Histogram::new();
static SUMMARY: Summary = Summary::new();
static IN_FLIGHT: ConcurrentGauge = ConcurrentGauge::new();
static TIMED_SERIES: Family<Path, Timer> = Family::new(Timer::new());
static COUNTED_SERIES: Family<Path, Counter> = Family::new(Counter::new());
static IN_FLIGHT_SERIES: Family<Path, ConcurrentGauge> = Family::new(ConcurrentGauge::new());

/// Lets the task be moved to another worker thread while it holds its guards.
async fn pause() {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(2)).await;
}

fn path(p: &str) -> Path {
    Path { path: p.to_owned() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_guards_live_across_await_in_spawned_tasks() {
    let task = tokio::spawn(async {
        let timer = TIMER.start_timer();
        let histogram = HISTOGRAM.start_timer();
        let summary = SUMMARY.start_timer();
        let in_flight = IN_FLIGHT.enter();
        let series = TIMED_SERIES.with(&path("/a"));
        let series_timer = TIMED_SERIES.with(&path("/b")).start_timer();
        let counted = COUNTED_SERIES.with(&path("/a"));
        let series_in_flight = IN_FLIGHT_SERIES.with(&path("/a")).enter();
        pause().await;
        assert_eq!(IN_FLIGHT.get(), 1);
        assert_eq!(IN_FLIGHT_SERIES.with(&path("/a")).get(), 1);
        series.record(Duration::from_millis(1));
        counted.inc();
        drop((timer, histogram, summary, in_flight, series_timer));
        drop(series_in_flight);
    });
    task.await.unwrap();
    assert_eq!(TIMER.count(), 1);
    assert_eq!(HISTOGRAM.count(), 1);
    assert_eq!(SUMMARY.count(), 1);
    assert_eq!(IN_FLIGHT.get(), 0);
    assert_eq!(TIMED_SERIES.with(&path("/a")).count(), 1);
    assert_eq!(TIMED_SERIES.with(&path("/b")).count(), 1);
    assert_eq!(COUNTED_SERIES.with(&path("/a")).get(), 1);
    assert_eq!(IN_FLIGHT_SERIES.with(&path("/a")).get(), 0);
}

/// The Redis store's timers, held across an `.await`. The store does not connect before its first
/// transfer, so no server is needed: the observations are counted as pending updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_timers_live_across_await_in_spawned_tasks() {
    // A port nothing listens on; nothing is ever transferred.
    let url = format!("redis://127.0.0.1:{}", microprofile_tests::free_port());
    let store = SharedStore::new(StoreConfig::new(url, "send_guards")).unwrap();
    let histogram = store.histogram("redis_latency", &[], None).unwrap();
    let summary = store.summary("redis_sizes", &[]).unwrap();
    let task = tokio::spawn(async move {
        let histogram_timer = histogram.start_timer();
        let summary_timer = summary.start_timer();
        pause().await;
        let seconds = histogram_timer.stop() + summary_timer.stop();
        assert!(seconds >= 2.0 * 0.002, "{seconds}");
    });
    task.await.unwrap();
}

/// Instrumented `async fn`s: the call guards live in the returned future across its `.await`s.
#[timed(name = "send_guards_timed")]
async fn timed_call() {
    pause().await;
}

#[timed(name = "send_guards_timed_outcome", outcome)]
async fn timed_outcome_call() -> Result<(), String> {
    pause().await;
    Ok(())
}

#[timed(name = "send_guards_timed_summary", quantiles = [0.5, 0.99])]
async fn timed_summary_call() {
    pause().await;
}

#[timed(name = "send_guards_timed_by_path", tags(path = path), outcome)]
async fn timed_by_path_call(path: &str) -> Result<usize, String> {
    pause().await;
    Ok(path.len())
}

#[counted(name = "send_guards_counted_outcome", outcome)]
async fn counted_outcome_call() -> Result<(), String> {
    pause().await;
    Ok(())
}

#[counted(name = "send_guards_counted_by_path", tags(path = path), outcome)]
async fn counted_by_path_call(path: String) -> Result<(), String> {
    pause().await;
    drop(path);
    Ok(())
}

#[concurrent_gauge(name = "send_guards_in_flight")]
async fn in_flight_call() {
    pause().await;
}

#[concurrent_gauge(name = "send_guards_in_flight_by_path", tags(path = path))]
async fn in_flight_by_path_call(path: &'static str) {
    pause().await;
    let _ = path;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_async_fns_run_in_spawned_tasks() {
    let tasks = vec![
        tokio::spawn(assert_send_value(timed_call())),
        tokio::spawn(async { timed_outcome_call().await.unwrap() }),
        tokio::spawn(timed_summary_call()),
        tokio::spawn(async {
            timed_by_path_call("/x").await.unwrap();
        }),
        tokio::spawn(async { counted_outcome_call().await.unwrap() }),
        tokio::spawn(async { counted_by_path_call("/x".to_owned()).await.unwrap() }),
        tokio::spawn(in_flight_call()),
        tokio::spawn(in_flight_by_path_call("/x")),
    ];
    for task in tasks {
        task.await.unwrap();
    }
    let text = microprofile::global().encode_to_string(
        microprofile::Format::Prometheus,
        microprofile::Selection::All,
    );
    for line in [
        "send_guards_timed_seconds_count{mp_scope=\"application\"} 1",
        "send_guards_timed_outcome_seconds_count{outcome=\"ok\",mp_scope=\"application\"} 1",
        "send_guards_timed_summary_seconds_count{mp_scope=\"application\"} 1",
        "send_guards_timed_by_path_seconds_count{outcome=\"ok\",path=\"/x\",mp_scope=\"application\"} 1",
        "send_guards_counted_outcome_total{outcome=\"ok\",mp_scope=\"application\"} 1",
        "send_guards_counted_by_path_total{outcome=\"ok\",path=\"/x\",mp_scope=\"application\"} 1",
        "send_guards_in_flight{mp_scope=\"application\"} 0",
        "send_guards_in_flight_by_path{path=\"/x\",mp_scope=\"application\"} 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

/// The README's timer, as it is written there.
static OUTBOUND: Timer = Timer::new();
microprofile::register!(
    OUTBOUND,
    Metadata::new("outbound_http_latency_seconds")
        .description("Latency of outbound HTTP calls.")
        .tags(&[("region", "eu-west-1"), ("path", "/foo")])
);

/// An axum handler that holds the README's timer across an `.await`: it compiles only if the
/// handler's future is `Send` (axum's `Handler` requires it).
async fn handler() -> &'static str {
    let _timing = OUTBOUND.start_timer(); // records the seconds when dropped
    tokio::time::sleep(Duration::from_millis(2)).await;
    "done"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_timer_in_an_axum_handler() {
    let app: Router = Router::new().route("/call", get(handler));
    let request = Request::builder().uri("/call").body(Body::empty()).unwrap();
    let response = tokio::spawn(app.oneshot(request)).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&body[..], b"done");
    assert_eq!(OUTBOUND.count(), 1);
    assert!(OUTBOUND.sum() >= 0.002);
}
