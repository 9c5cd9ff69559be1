//! MicroProfile Metrics 5.1 conformance, issue 16 item 1: reusing metrics.
//!
//! The spec ("Reusing Metrics", `architecture.adoc`) and the TCK's `ReusedMetricsTest`
//! (`MetricAppBean2`: `countMeA`/`countMeB` both `@Counted(name = "countMe2", absolute = true,
//! tags = {"tier=integration"})`, `timeMeA`/`timeMeB` a shared `@Timed`): several declarations
//! with the same name, type, metadata and tags are one metric. Here that holds for counters,
//! timers, histograms and summaries, declared by the attribute macros or `register!`, with fixed
//! tags, tags taken from arguments and `outcome`. Gauges, and declarations that differ in type,
//! unit, tag names, description, buckets or quantiles, stay conflicts, reported with both sites.
//!
//! Every exposition is checked with promtool and the Python reference parsers.

use std::time::Duration;

use microprofile::registry::{Change, DeltaCursor};
use microprofile::{
    counted, gauge, timed, Error, Format, GlobalTags, Histogram, Metadata, Registry, Scope,
    Selection, Summary, Timer, Value,
};
use microprofile_tests::{promtool_check_allowing, python_parse, samples, value_of, Parser};

/// The registry of this test binary's statics, without the environment's global tags.
fn registry() -> Registry {
    Registry::with_statics(GlobalTags::none())
}

/// The value of the one series of `name` (declared name) with these tags in the application
/// scope.
fn value(registry: &Registry, name: &str, tags: &[(&str, &str)]) -> Value {
    let mut wanted: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    wanted.sort();
    let series: Vec<_> = registry
        .snapshot(Selection::Metric(&Scope::Application, name))
        .into_iter()
        .flat_map(|f| f.series)
        .collect();
    let mut found = series.iter().filter(|s| {
        let mut labels = s.labels.clone();
        labels.sort();
        labels == wanted
    });
    let one = found
        .next()
        .unwrap_or_else(|| panic!("no series {name}{tags:?} in {series:?}"));
    assert!(found.next().is_none(), "{name}{tags:?} twice: {series:?}");
    one.value.clone()
}

fn counter(registry: &Registry, name: &str, tags: &[(&str, &str)]) -> f64 {
    match value(registry, name, tags) {
        Value::Counter(v) => v,
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

/// The refusal reported for `name`, with both declaration sites in this file.
fn conflict(registry: &Registry, name: &str) -> String {
    let errors = registry.registration_errors();
    let error = errors
        .iter()
        .find(|e| matches!(e, Error::Conflict { name: n, .. } if n == name))
        .unwrap_or_else(|| panic!("no conflict for {name}: {errors:?}"));
    let Error::Conflict {
        first: Some(first),
        second: Some(second),
        ..
    } = error
    else {
        panic!("{name}: the conflict does not name both sites: {error:?}");
    };
    assert_eq!((first.file, second.file), (file!(), file!()), "{error}");
    assert!(first.line < second.line, "{error}");
    error.to_string()
}

/// No refusal is reported for `name`.
fn no_conflict(registry: &Registry, name: &str) {
    let errors = registry.registration_errors();
    assert!(
        !errors
            .iter()
            .any(|e| matches!(e, Error::Conflict { name: n, .. } if n == name)),
        "{name}: {errors:?}"
    );
}

/// promtool and both Python parsers on the whole registry; the TCK's camelCase names draw a
/// lint finding, nothing else may.
/// Values are compared between the formats for the families named `owned` only: other tests of
/// this file update theirs at the same time.
fn check_exposition(registry: &Registry, owned: &[&str]) -> Vec<microprofile_tests::Sample> {
    let prometheus = registry.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    if let Err(e) = promtool_check_allowing(
        &prometheus,
        &["should be written in 'snake_case' not 'camelCase'"],
    ) {
        panic!("{e}\n---\n{prometheus}");
    }
    let prom = python_parse(Parser::Prometheus, &prometheus).unwrap_or_else(|e| panic!("{e}"));
    let om = python_parse(Parser::OpenMetrics, &openmetrics).unwrap_or_else(|e| panic!("{e}"));
    let (prom, om) = (samples(&prom), samples(&om));
    // The same values of the caller's metrics in both formats.
    for sample in prom
        .iter()
        .filter(|s| owned.iter().any(|o| s.name.starts_with(o)))
    {
        let labels: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let value = value_of(&om, &sample.name, &labels);
        if let Some(value) = value {
            assert!(
                value == sample.value || (value.is_nan() && sample.value.is_nan()),
                "{}: {value} {}",
                sample.name,
                sample.value
            );
        }
    }
    assert!(!om.is_empty());
    prom
}

// `MetricAppBean2`, as attribute macros.

#[counted(name = "countMe2", absolute, tags(tier = "integration"))]
fn count_me_a() {}

#[counted(name = "countMe2", absolute, tags(tier = "integration"))]
fn count_me_b() {}

#[timed(name = "timeMe2", absolute, tags(tier = "integration"))]
fn time_me_a() {
    std::thread::sleep(Duration::from_millis(2));
}

#[timed(name = "timeMe2", absolute, tags(tier = "integration"))]
fn time_me_b() {
    std::thread::sleep(Duration::from_millis(4));
}

/// `ReusedMetricsTest`: `setA` (one call of each A), then `testSharedCounter` expects
/// `countMe2_total{…tier="integration"} 1` and `timeMe2_seconds_count{…} 1`; `setB`, then
/// `testSharedCounterAgain` expects 2 and 2. The TCK's timer is a summary; here it is a histogram
/// with the same `_count` and a `_max`.
#[test]
fn tck_reused_counter_and_timer() {
    let registry = registry();
    no_conflict(&registry, "countMe2");
    no_conflict(&registry, "timeMe2");
    let tier = [("tier", "integration")];
    let read = |registry: &Registry| {
        let text =
            registry.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Application));
        let samples = check_exposition(registry, &["countMe2", "timeMe2"]);
        let labels = [("tier", "integration"), ("mp_scope", "application")];
        (
            value_of(&samples, "countMe2_total", &labels),
            value_of(&samples, "timeMe2_seconds_count", &labels),
            text,
        )
    };

    count_me_a();
    time_me_a();
    let (count, timed, text) = read(&registry);
    assert_eq!((count, timed), (Some(1.0), Some(1.0)), "{text}");
    assert!(text.contains("# TYPE countMe2_total counter\n"), "{text}");
    assert!(
        text.contains("countMe2_total{tier=\"integration\",mp_scope=\"application\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE timeMe2_seconds histogram\n"),
        "{text}"
    );
    assert_eq!(text.matches("# TYPE countMe2_total").count(), 1, "{text}");
    assert_eq!(text.matches("# TYPE timeMe2_seconds ").count(), 1, "{text}");

    count_me_b();
    time_me_b();
    let (count, timed, text) = read(&registry);
    assert_eq!((count, timed), (Some(2.0), Some(2.0)), "{text}");
    // Still one series of each: the second declaration did not add one.
    assert_eq!(text.matches("countMe2_total{").count(), 1, "{text}");
    assert_eq!(text.matches("timeMe2_seconds_count{").count(), 1, "{text}");

    // The timer's sum holds both calls (2 ms and 4 ms at least), its `_max` the longer one.
    let (_, sum, count) = histogram(&registry, "timeMe2", &tier);
    assert_eq!(count, 2);
    assert!(sum >= 0.006, "{sum}");
    let samples = check_exposition(&registry, &["countMe2", "timeMe2"]);
    let max = value_of(
        &samples,
        "timeMe2_seconds_max",
        &[("tier", "integration"), ("mp_scope", "application")],
    )
    .expect("timeMe2_seconds_max");
    assert!(max >= 0.004 && max <= sum, "{max} {sum}");

    // The run-time API finds the one metric and counts into it.
    let handle = registry
        .counter(Metadata::new("countMe2").with_tag("tier", "integration"))
        .unwrap();
    handle.inc();
    assert_eq!(counter(&registry, "countMe2", &tier), 3.0);
}

// Histograms, timers and summaries declared twice by `register!`, each beside a reference that
// takes every observation of both: the reused metric must read exactly as the reference does
// (bucket counts add up, and DDSketch merges to the sketch of all the observations).

static SIZES_A: Histogram = Histogram::with_buckets(&[10.0, 50.0, 90.0]);
microprofile::register!(SIZES_A, Metadata::new("reuse_sizes").unit("bytes"));
static SIZES_B: Histogram = Histogram::with_buckets(&[10.0, 50.0, 90.0]);
microprofile::register!(SIZES_B, Metadata::new("reuse_sizes").unit("bytes"));
static SIZES_ALL: Histogram = Histogram::with_buckets(&[10.0, 50.0, 90.0]);

static LATENCY_A: Timer = Timer::new();
microprofile::register!(LATENCY_A, Metadata::new("reuse_latency"));
static LATENCY_B: Timer = Timer::new();
microprofile::register!(LATENCY_B, Metadata::new("reuse_latency"));
static LATENCY_ALL: Timer = Timer::new();

static QUANTILES: &[f64] = &[0.5, 0.9, 0.99];
static PAYLOAD_A: Summary = Summary::with_quantiles(QUANTILES, Duration::from_secs(600));
microprofile::register!(PAYLOAD_A, Metadata::new("reuse_payload"));
static PAYLOAD_B: Summary = Summary::with_quantiles(QUANTILES, Duration::from_secs(600));
microprofile::register!(PAYLOAD_B, Metadata::new("reuse_payload"));
static PAYLOAD_ALL: Summary = Summary::with_quantiles(QUANTILES, Duration::from_secs(600));

/// The cumulative buckets, sum and count of the histogram or timer `name` with these tags.
fn histogram(
    registry: &Registry,
    name: &str,
    tags: &[(&str, &str)],
) -> (Vec<(f64, u64)>, f64, u64) {
    match value(registry, name, tags) {
        Value::Histogram {
            buckets,
            sum,
            count,
        } => (buckets, sum, count),
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

fn cumulative(histogram: &Histogram) -> Vec<(f64, u64)> {
    let mut buckets = Vec::new();
    histogram.read(|v| buckets = v.cumulative().collect());
    buckets
}

#[test]
fn reused_distributions_read_as_one() {
    let registry = registry();
    for name in ["reuse_sizes", "reuse_latency", "reuse_payload"] {
        no_conflict(&registry, name);
    }
    // A takes 1..=60, B 61..=100 and one larger value.
    for v in (1..=100).map(f64::from).chain([250.0]) {
        let (sizes, latency, payload) = if v <= 60.0 {
            (&SIZES_A, &LATENCY_A, &PAYLOAD_A)
        } else {
            (&SIZES_B, &LATENCY_B, &PAYLOAD_B)
        };
        sizes.observe(v);
        SIZES_ALL.observe(v);
        latency.observe(v / 1000.0);
        LATENCY_ALL.observe(v / 1000.0);
        payload.observe(v);
        PAYLOAD_ALL.observe(v);
    }

    let (buckets, sum, count) = histogram(&registry, "reuse_sizes", &[]);
    let reference = cumulative(&SIZES_ALL);
    assert_eq!(buckets, reference);
    assert_eq!(
        buckets,
        [(10.0, 10), (50.0, 50), (90.0, 90), (f64::INFINITY, 101)]
    );
    assert_eq!((sum, count), (SIZES_ALL.sum(), 101));

    let (buckets, sum, count) = histogram(&registry, "reuse_latency", &[]);
    let reference = cumulative(LATENCY_ALL.histogram());
    assert_eq!(buckets, reference);
    assert_eq!(count, 101);
    assert!((sum - LATENCY_ALL.sum()).abs() < 1e-9, "{sum}");

    let Value::Summary {
        quantiles,
        sum,
        count,
        max,
    } = value(&registry, "reuse_payload", &[])
    else {
        panic!("reuse_payload is not a summary");
    };
    let (ref_quantiles, ref_max) = PAYLOAD_ALL.read(|v| (v.quantiles.to_vec(), v.max));
    assert_eq!(quantiles, ref_quantiles);
    assert_eq!((sum, count), (PAYLOAD_ALL.sum(), 101));
    assert_eq!(max, ref_max);
    // Within DDSketch's 1%: the median of 1..=100 and 250 is 51.
    let median = quantiles.first().map(|q| q.1).unwrap_or(f64::NAN);
    assert!((median - 51.0).abs() <= 0.51, "{quantiles:?}");
    assert!((max - 250.0).abs() <= 2.5, "{max}");

    // The outputs: one family each, the timer's `_max` the largest of both, and the reference
    // parsers read the combined values.
    let samples = check_exposition(
        &registry,
        &["reuse_sizes", "reuse_latency", "reuse_payload"],
    );
    let scope = [("mp_scope", "application")];
    assert_eq!(
        value_of(&samples, "reuse_sizes_bytes_count", &scope),
        Some(101.0)
    );
    assert_eq!(
        value_of(
            &samples,
            "reuse_sizes_bytes_bucket",
            &[("mp_scope", "application"), ("le", "50.0")]
        ),
        Some(50.0)
    );
    assert_eq!(
        value_of(&samples, "reuse_latency_seconds_max", &scope),
        Some(LATENCY_ALL.max())
    );
    assert_eq!(
        value_of(&samples, "reuse_payload_count", &scope),
        Some(101.0)
    );
}

// Tags taken from arguments (a labelled family per declaration) and `outcome` (four series per
// declaration): the series of both declarations are merged by their labels.

#[counted(name = "reuse_jobs", tags(queue = queue))]
fn enqueue_a(queue: &str) {
    let _ = queue;
}

#[counted(name = "reuse_jobs", tags(queue = queue))]
fn enqueue_b(queue: &str) {
    let _ = queue;
}

#[counted(name = "reuse_orders", outcome)]
fn order_a(ok: bool) -> Result<(), ()> {
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

#[counted(name = "reuse_orders", outcome)]
fn order_b(ok: bool) -> Result<(), ()> {
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

#[test]
fn reused_families_merge_by_labels() {
    let registry = registry();
    no_conflict(&registry, "reuse_jobs");
    no_conflict(&registry, "reuse_orders");
    enqueue_a("mail");
    enqueue_b("mail");
    enqueue_b("sms");
    enqueue_a("push");
    let _ = order_a(true);
    let _ = order_b(true);
    let _ = order_b(false);
    assert_eq!(counter(&registry, "reuse_jobs", &[("queue", "mail")]), 2.0);
    assert_eq!(counter(&registry, "reuse_jobs", &[("queue", "sms")]), 1.0);
    assert_eq!(counter(&registry, "reuse_jobs", &[("queue", "push")]), 1.0);
    assert_eq!(
        counter(&registry, "reuse_orders", &[("outcome", "ok")]),
        2.0
    );
    assert_eq!(
        counter(&registry, "reuse_orders", &[("outcome", "error")]),
        1.0
    );
    assert_eq!(
        counter(&registry, "reuse_orders", &[("outcome", "panic")]),
        0.0
    );

    let samples = check_exposition(&registry, &["reuse_jobs", "reuse_orders"]);
    let jobs = |queue| {
        value_of(
            &samples,
            "reuse_jobs_total",
            &[("queue", queue), ("mp_scope", "application")],
        )
    };
    assert_eq!(
        (jobs("mail"), jobs("sms"), jobs("push")),
        (Some(2.0), Some(1.0), Some(1.0))
    );
    let series = samples
        .iter()
        .filter(|s| s.name == "reuse_jobs_total")
        .count();
    assert_eq!(series, 3);
}

/// A sink reading deltas (the Redis store, OTLP) sees one series: what either declaration adds.
#[test]
fn reused_metric_reports_one_delta() {
    let registry = registry();
    let selection = Selection::Metric(&Scope::Application, "reuse_deltas");
    let mut cursor = DeltaCursor::new();
    let mut read = |registry: &Registry| {
        let mut deltas = Vec::new();
        registry.gather_changes(selection, &mut cursor, &mut |_, change| {
            if let Change::Counter(c) = change {
                deltas.push((c.delta.as_f64(), c.total.as_f64()));
            }
        });
        deltas
    };
    DELTAS_A.inc_by(3);
    DELTAS_B.inc_by(4);
    assert_eq!(read(&registry), [(7.0, 7.0)]);
    DELTAS_B.inc();
    assert_eq!(read(&registry), [(1.0, 8.0)]);
    assert_eq!(read(&registry), []);
}

static DELTAS_A: microprofile::Counter = microprofile::Counter::new();
microprofile::register!(DELTAS_A, Metadata::new("reuse_deltas"));
static DELTAS_B: microprofile::Counter = microprofile::Counter::new();
microprofile::register!(DELTAS_B, Metadata::new("reuse_deltas"));

// What stays a conflict. In each pair the first declaration stays in use and the second is
// reported, naming both sites.

#[gauge(name = "reuse_depth", unit = "none")]
fn depth_a() -> u64 {
    1
}

#[gauge(name = "reuse_depth", unit = "none")]
fn depth_b() -> u64 {
    2
}

#[counted(name = "reuse_described", description = "Jobs taken.")]
fn described_a() {}

#[counted(name = "reuse_described", description = "Jobs refused.")]
fn described_b() {}

#[counted(name = "reuse_tagged", tags(tier = "web"))]
fn tagged_a() {}

#[counted(name = "reuse_tagged", tags(layer = "web"))]
fn tagged_b() {}

#[counted(name = "reuse_kind")]
fn kind_a() {}

#[timed(name = "reuse_kind")]
fn kind_b() {}

static BUCKETS_A: Histogram = Histogram::with_buckets(&[1.0, 2.0]);
microprofile::register!(BUCKETS_A, Metadata::new("reuse_buckets"));
static BUCKETS_B: Histogram = Histogram::with_buckets(&[1.0, 5.0]);
microprofile::register!(BUCKETS_B, Metadata::new("reuse_buckets"));

static UNIT_A: Histogram = Histogram::new();
microprofile::register!(UNIT_A, Metadata::new("reuse_unit").unit("bytes"));
static UNIT_B: Histogram = Histogram::new();
microprofile::register!(UNIT_B, Metadata::new("reuse_unit").unit("seconds"));

static WINDOW_A: Summary = Summary::with_quantiles(&[0.5], Duration::from_secs(60));
microprofile::register!(WINDOW_A, Metadata::new("reuse_window"));
static WINDOW_B: Summary = Summary::with_quantiles(&[0.5], Duration::from_secs(120));
microprofile::register!(WINDOW_B, Metadata::new("reuse_window"));

#[test]
fn what_differs_stays_a_conflict() {
    let registry = registry();
    let depth = conflict(&registry, "reuse_depth");
    assert!(depth.contains("a gauge is declared once"), "{depth}");
    assert_eq!(depth_a() + depth_b(), 3);
    assert_eq!(
        value(&registry, "reuse_depth", &[]),
        Value::Gauge(1.0),
        "the first gauge stays"
    );

    let described = conflict(&registry, "reuse_described");
    assert!(described.contains("description"), "{described}");
    let tagged = conflict(&registry, "reuse_tagged");
    assert!(tagged.contains("tag names"), "{tagged}");
    let kind = conflict(&registry, "reuse_kind");
    assert!(kind.contains("counter"), "{kind}");
    let buckets = conflict(&registry, "reuse_buckets");
    assert!(
        buckets.contains("[1.0, 5.0]") && buckets.contains("[1.0, 2.0]"),
        "{buckets}"
    );
    let unit = conflict(&registry, "reuse_unit");
    assert!(unit.contains("unit"), "{unit}");
    let window = conflict(&registry, "reuse_window");
    assert!(
        window.contains("120s") && window.contains("60s"),
        "{window}"
    );

    // The first declaration of each counts; the second's calls go nowhere visible, as the
    // report says.
    described_a();
    described_b();
    tagged_a();
    tagged_b();
    kind_a();
    kind_b();
    assert_eq!(counter(&registry, "reuse_described", &[]), 1.0);
    assert_eq!(counter(&registry, "reuse_tagged", &[("tier", "web")]), 1.0);
    assert_eq!(counter(&registry, "reuse_kind", &[]), 1.0);
    BUCKETS_A.observe(1.5);
    BUCKETS_B.observe(1.5);
    UNIT_A.observe(1.0);
    UNIT_B.observe(1.0);
    WINDOW_A.observe(1.0);
    WINDOW_B.observe(1.0);
    let (buckets, _, _) = histogram(&registry, "reuse_buckets", &[]);
    assert_eq!(buckets, [(1.0, 0), (2.0, 1), (f64::INFINITY, 1)]);
    check_exposition(
        &registry,
        &[
            "reuse_depth",
            "reuse_described",
            "reuse_tagged",
            "reuse_kind",
            "reuse_buckets",
            "reuse_unit",
            "reuse_window",
        ],
    );
}
