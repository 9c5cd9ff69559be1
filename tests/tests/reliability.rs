//! Panics and cancellation through the attribute macros: a `#[gauge]` function that panics during
//! a scrape is skipped and counted without breaking the scrape; instrumented functions that panic
//! or whose futures are dropped still record, in-flight gauges return to zero, and the registry
//! keeps working afterwards.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use microprofile::{concurrent_gauge, counted, gauge, timed, Format, Scope, Selection, Value};

static FAIL: AtomicBool = AtomicBool::new(true);

/// A gauge whose function fails while `FAIL` is set.
#[gauge(name = "reliability_flaky_gauge", unit = "none")]
fn flaky() -> u32 {
    if FAIL.load(Ordering::Relaxed) {
        panic!("the user's gauge function failed");
    }
    7
}

/// Work that may panic.
#[timed(name = "reliability_work", outcome)]
#[counted(name = "reliability_work_calls")]
#[concurrent_gauge(name = "reliability_work_in_flight")]
fn work(fail: bool) -> Result<u32, String> {
    if fail {
        panic!("work failed");
    }
    Ok(1)
}

/// Slow async work that may be cancelled.
#[timed(name = "reliability_slow", outcome)]
#[concurrent_gauge(name = "reliability_slow_in_flight")]
async fn slow() -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

fn number(scope: &Scope, name: &str, labels: &[(&str, &str)]) -> f64 {
    let families = microprofile::global().snapshot(Selection::Metric(scope, name));
    let series = families
        .iter()
        .flat_map(|f| f.series.iter())
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .unwrap_or_else(|| panic!("no series {name} {labels:?}"));
    match &series.value {
        Value::Counter(v) | Value::Gauge(v) => *v,
        Value::Histogram { count, .. } | Value::Summary { count, .. } => *count as f64,
    }
}

#[test]
fn failures_are_recorded_and_never_break_a_scrape() {
    let app = Scope::Application;
    // A panicking gauge function: the scrape succeeds without that series, the panic is counted.
    let panics_before = number(&Scope::Vendor, "microprofile_callback_panics", &[]);
    let text = microprofile::global().encode_to_string(Format::Prometheus, Selection::All);
    assert!(!text.contains("reliability_flaky_gauge{"), "{text}");
    microprofile_tests::promtool_check(&text).unwrap();
    assert!(number(&Scope::Vendor, "microprofile_callback_panics", &[]) > panics_before);
    FAIL.store(false, Ordering::Relaxed);
    assert_eq!(number(&app, "reliability_flaky_gauge", &[]), 7.0);

    // Panics inside instrumented functions, caught by the caller.
    for _ in 0..3 {
        assert!(catch_unwind(AssertUnwindSafe(|| work(true))).is_err());
    }
    assert_eq!(work(false), Ok(1));
    assert_eq!(
        number(&app, "reliability_work", &[("outcome", "panic")]),
        3.0
    );
    assert_eq!(number(&app, "reliability_work", &[("outcome", "ok")]), 1.0);
    assert_eq!(number(&app, "reliability_work_calls", &[]), 4.0);
    assert_eq!(number(&app, "reliability_work_in_flight", &[]), 0.0);

    // Futures dropped mid-flight by a timeout and by select!.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(tokio::time::timeout(Duration::from_millis(20), slow())
            .await
            .is_err());
        tokio::select! {
            _ = slow() => unreachable!("slow() takes 30 s"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    });
    assert_eq!(
        number(&app, "reliability_slow", &[("outcome", "cancelled")]),
        2.0
    );
    assert_eq!(number(&app, "reliability_slow_in_flight", &[]), 0.0);

    // The registry is still fully usable.
    let text = microprofile::global().encode_to_string(Format::OpenMetrics, Selection::All);
    assert!(text.contains("reliability_flaky_gauge{mp_scope=\"application\"} 7"));
    microprofile_tests::python_parse(microprofile_tests::Parser::OpenMetrics, &text).unwrap();
}
