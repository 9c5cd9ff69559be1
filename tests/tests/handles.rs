//! Handles a user keeps: series of a family, timers and in-flight guards hold no lock, are `Send`,
//! and live across an `.await` in a spawned task while other series are created.

use std::time::Duration;

use microprofile::{ConcurrentGauge, Counter, Family, LabelSet, SeriesRef, Timer};

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Route {
    path: String,
    status: u16,
}

static LATENCY: Family<Route, Timer> = Family::new(Timer::new());
static IN_FLIGHT: Family<Route, ConcurrentGauge> = Family::new(ConcurrentGauge::new());
static REQUESTS: Family<Route, Counter> = Family::new(Counter::new());

/// A handle kept in a struct, as a connection or a worker would keep it.
struct Worker {
    requests: SeriesRef<'static, Counter>,
}

fn route(path: &str, status: u16) -> Route {
    Route {
        path: path.to_owned(),
        status,
    }
}

async fn handler(path: String) {
    let labels = route(&path, 200);
    let _timing = LATENCY.with(&labels).start_timer();
    let _in_flight = IN_FLIGHT.with(&labels).enter();
    let worker = Worker {
        requests: REQUESTS.with(&labels),
    };
    tokio::task::yield_now().await;
    // While this task holds its handles, other series of the same families are created.
    for status in 300..364 {
        REQUESTS.with(&route(&path, status)).inc();
        LATENCY.with(&route(&path, status)).record(Duration::ZERO);
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    worker.requests.inc();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_live_across_await_in_spawned_tasks() {
    let tasks: Vec<_> = (0..8)
        .map(|i| tokio::spawn(handler(format!("/p{}", i % 2))))
        .collect();
    let all = async {
        for task in tasks {
            task.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("the tasks deadlocked");
    for path in ["/p0", "/p1"] {
        let labels = route(path, 200);
        assert_eq!(REQUESTS.with(&labels).get(), 4);
        assert_eq!(LATENCY.with(&labels).count(), 4);
        assert!(LATENCY.with(&labels).sum() >= 4.0 * 0.005);
        assert_eq!(IN_FLIGHT.with(&labels).get(), 0);
        assert_eq!(REQUESTS.with(&route(path, 300)).get(), 4);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Literal {
    method: &'static str,
    status: u16,
}

#[test]
fn label_values_at_other_addresses_find_the_same_series() {
    use microprofile::LabelValue;
    static CALLS: Family<Literal, Counter> = Family::new(Counter::new());
    let leaked: &'static str = Box::leak(String::from("GET").into_boxed_str());
    let literal = Literal {
        method: "GET",
        status: 200,
    };
    let copy = Literal {
        method: leaked,
        status: 200,
    };
    assert!(!std::ptr::eq(literal.method, copy.method));
    CALLS.with(&literal).inc();
    CALLS.with(&copy).inc();
    CALLS
        .with(&Literal {
            method: "GET",
            status: 404,
        })
        .inc();
    assert_eq!(CALLS.len(), 2);
    assert_eq!(CALLS.with(&literal).get(), 2);
    // The quick test says "same" only when it is sure.
    assert!(LabelValue::is_same(&"GET", &"GET"));
    assert!(!LabelValue::is_same(&"GET", &"PUT"));
    assert!(!LabelValue::is_same(&200u16, &404u16));
}
