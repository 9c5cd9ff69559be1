//! `HttpMetricsLayer::builder()`: buckets, routes left out, constant labels, and typed errors;
//! checked through a real axum server (`web::serve`) over loopback and its own `/metrics`.

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use microprofile::instrument::{HttpMetricsLayer, LayerError, METRICS_ROUTES};
use microprofile::serve::auth::Auth;
use microprofile::serve::MetricsRouter;
use microprofile::{Error, Format, Registry, Selection};
use microprofile_tests::{exposed_value, http_get};

fn leaked_registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new()))
}

fn app(registry: &'static Registry, layer: HttpMetricsLayer) -> Router {
    Router::new()
        .route("/work", get(|| async { "done" }))
        .route("/internal", get(|| async { "internal" }))
        .route("/internal/health", get(|| async { "ok" }))
        .route("/internals", get(|| async { "not internal" }))
        .merge(
            MetricsRouter::new()
                .registry(registry)
                .auth(Auth::None)
                .into_router()
                .unwrap(),
        )
        .layer(layer)
}

/// Serves `app` on a loopback port of `runtime` with `web::serve`.
fn serve(runtime: &tokio::runtime::Runtime, app: Router) -> SocketAddr {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(std::future::IntoFuture::into_future(
        microprofile::serve::serve(listener, app),
    ));
    addr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn get_ok(addr: SocketAddr, path: &str) -> String {
    let r = http_get(addr, path, None).unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

#[test]
fn options_over_a_real_server() {
    let runtime = runtime();
    let registry = leaked_registry();
    let layer = HttpMetricsLayer::builder()
        .registry(registry)
        .buckets([0.001, 0.01, 0.1, 1.0])
        .exclude_metrics_routes()
        .exclude_prefix("/internal")
        .constant_label("team", "checkout")
        .constant_label("app", "shop")
        .build()
        .unwrap();
    let addr = serve(&runtime, app(registry, layer));
    for _ in 0..3 {
        assert_eq!(get_ok(addr, "/work"), "done");
    }
    get_ok(addr, "/internal");
    get_ok(addr, "/internal/health");
    get_ok(addr, "/internals");
    assert_eq!(http_get(addr, "/nowhere", None).unwrap().status, 404);
    for path in ["/metrics", "/metrics/", "/metrics/vendor"] {
        get_ok(addr, path);
    }

    // Scraped over the socket: the scrape itself is not in flight, nor counted.
    let text = get_ok(addr, "/metrics/vendor");
    // The constant labels come first (tags of the metadata), then the layer's, then the scope.
    let labels = "app=\"shop\",team=\"checkout\"";
    let count = |route: &str, status: &str| {
        exposed_value(
            &text,
            &format!(
                "http_server_requests_total{{{labels},method=\"GET\",route=\"{route}\",status=\"{status}\",mp_scope=\"vendor\"}}"
            ),
        )
    };
    assert_eq!(count("/work", "200"), Some(3.0), "{text}");
    assert_eq!(count("/internals", "200"), Some(1.0), "{text}");
    assert_eq!(count("unmatched", "404"), Some(1.0), "{text}");
    assert_eq!(
        exposed_value(
            &text,
            &format!("http_server_active_requests{{{labels},mp_scope=\"vendor\"}}")
        ),
        Some(0.0),
        "{text}"
    );
    // Left out: the metrics routes and everything under /internal.
    assert!(!text.contains("route=\"/metrics"), "{text}");
    assert!(!text.contains("route=\"/internal\""), "{text}");
    assert!(!text.contains("route=\"/internal/health\""), "{text}");
    // The buckets given, not the defaults.
    let bucket = |le: &str| {
        exposed_value(
            &text,
            &format!(
                "http_server_request_duration_seconds_bucket{{{labels},method=\"GET\",route=\"/work\",status=\"200\",mp_scope=\"vendor\",le=\"{le}\"}}"
            ),
        )
    };
    assert!(bucket("0.001").is_some(), "{text}");
    assert_eq!(bucket("1.0"), Some(3.0), "{text}");
    assert_eq!(bucket("+Inf"), Some(3.0));
    assert_eq!(bucket("0.005"), None, "{text}");
    let buckets = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "http_server_request_duration_seconds_bucket{{{labels},method=\"GET\",route=\"/work\""
            ))
        })
        .count();
    assert_eq!(buckets, 5, "{text}");

    // Both formats pass promtool and the reference parsers.
    let om = http_get(
        addr,
        "/metrics/vendor",
        Some("application/openmetrics-text;version=1.0.0"),
    )
    .unwrap()
    .body;
    microprofile_tests::check_both_formats(&text, &om);
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}

#[test]
fn defaults_are_unchanged() {
    let runtime = runtime();
    let registry = leaked_registry();
    let built = HttpMetricsLayer::builder()
        .registry(registry)
        .build()
        .unwrap();
    // `builder().build()` and `with_registry` are the same layer: one set of metrics.
    let addr = serve(&runtime, app(registry, built));
    let other = serve(
        &runtime,
        app(registry, HttpMetricsLayer::with_registry(registry)),
    );
    get_ok(addr, "/work");
    get_ok(other, "/work");
    get_ok(addr, "/internal");
    get_ok(addr, "/metrics");
    assert!(registry.registration_errors().is_empty());
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    let series = "{method=\"GET\",route=\"/work\",status=\"200\",mp_scope=\"vendor\"}";
    assert_eq!(
        exposed_value(&text, &format!("http_server_requests_total{series}")),
        Some(2.0),
        "{text}"
    );
    // Every route, the scrapes included; the default buckets (5 ms to 10 s).
    assert_eq!(
        exposed_value(
            &text,
            "http_server_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\",mp_scope=\"vendor\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("route=\"/internal\""));
    assert!(text.contains("route=\"/work\",status=\"200\",mp_scope=\"vendor\",le=\"0.005\"}"));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}

#[test]
fn layers_with_other_label_values_share_the_families() {
    let runtime = runtime();
    let registry = leaked_registry();
    let layer = |team: &str| {
        HttpMetricsLayer::builder()
            .registry(registry)
            .constant_label("team", team)
            .exclude_route(METRICS_ROUTES[2])
            .build()
            .unwrap()
    };
    let a = serve(&runtime, app(registry, layer("a")));
    let b = serve(&runtime, app(registry, layer("b")));
    // The same options again: the same metrics, no conflict.
    let a_again = serve(&runtime, app(registry, layer("a")));
    get_ok(a, "/work");
    get_ok(a_again, "/work");
    get_ok(b, "/work");
    let text = get_ok(a, "/metrics/vendor");
    let count = |team: &str| {
        exposed_value(
            &text,
            &format!("http_server_requests_total{{team=\"{team}\",method=\"GET\",route=\"/work\",status=\"200\",mp_scope=\"vendor\"}}"),
        )
    };
    assert_eq!(count("a"), Some(2.0), "{text}");
    assert_eq!(count("b"), Some(1.0), "{text}");
    assert_eq!(text.matches("# TYPE http_server_requests_total").count(), 1);
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}

#[test]
fn invalid_options_are_typed_errors() {
    let registry = leaked_registry();
    let builder = || HttpMetricsLayer::builder().registry(registry);
    let metric_error = |result: Result<HttpMetricsLayer, LayerError>| match result {
        Err(LayerError::Metric(error)) => error,
        other => panic!("expected LayerError::Metric, got {other:?}"),
    };

    for buckets in [
        vec![],
        vec![1.0, 0.5],
        vec![0.1, f64::INFINITY],
        vec![f64::NAN],
    ] {
        let error = metric_error(builder().buckets(buckets.clone()).build());
        assert!(
            matches!(error, Error::InvalidBuckets { .. }),
            "{buckets:?}: {error}"
        );
    }
    for name in [
        "le", "quantile", "mp_scope", "__x", "a-b", "", "9a", "method", "route", "status",
    ] {
        let error = metric_error(builder().constant_label(name, "x").build());
        assert!(
            matches!(&error, Error::InvalidTagName { name: n, .. } if n == name),
            "{name}: {error}"
        );
    }
    // A label given twice: the last value wins, as for any tag given twice at run time.
    let other = leaked_registry();
    HttpMetricsLayer::builder()
        .registry(other)
        .constant_label("team", "a")
        .constant_label("team", "b")
        .build()
        .unwrap();
    let text = other.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains("team=\"b\"") && !text.contains("team=\"a\""),
        "{text}"
    );
    // The last, not the largest.
    let reversed = leaked_registry();
    HttpMetricsLayer::builder()
        .registry(reversed)
        .constant_label("team", "b")
        .constant_label("team", "a")
        .build()
        .unwrap();
    let text = reversed.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains("team=\"a\"") && !text.contains("team=\"b\""),
        "{text}"
    );

    for (route, prefix) in [
        ("metrics", false),
        ("", false),
        ("metrics", true),
        ("", true),
    ] {
        let result = if prefix {
            builder().exclude_prefix(route).build()
        } else {
            builder().exclude_route(route).build()
        };
        match result {
            Err(LayerError::InvalidRoute { route: r, .. }) => assert_eq!(r, route),
            other => panic!("{route:?}: {other:?}"),
        }
    }
    // Nothing was registered by the refused builds.
    assert!(registry.families(Selection::All).is_empty());
    // `unmatched` is a route label too.
    assert!(builder().exclude_route("unmatched").build().is_ok());

    // Conflicts with what the registry holds: other label names than an earlier layer...
    let _default = HttpMetricsLayer::with_registry(registry);
    let error = metric_error(builder().constant_label("team", "a").build());
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
    // ... or the same labels with other buckets.
    let error = metric_error(builder().buckets([0.5, 1.0]).build());
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("http_server_request_duration_seconds"),
        "{error}"
    );
    let message = LayerError::from(error).to_string();
    assert!(
        message.starts_with("cannot build the HTTP metrics layer: "),
        "{message}"
    );
}

/// What the hook saw: the request counter's value and the in-flight gauge's.
type Sight = (Option<f64>, Option<f64>);

/// `after_response` runs once per recorded response, after the request was counted and the
/// in-flight gauge left; a hook that panics does not change the response.
#[test]
fn after_response_runs_once_per_recorded_response_and_a_panicking_hook_changes_nothing() {
    use std::sync::{Arc, Mutex};

    let registry = leaked_registry();
    // What the hook saw at each call (an assertion inside the hook would be caught with it).
    let seen: Arc<Mutex<Vec<Sight>>> = Arc::default();
    let record = seen.clone();
    let layer = HttpMetricsLayer::builder()
        .registry(registry)
        .exclude_prefix("/internal")
        .after_response(move || {
            let text = registry.encode_to_string(Format::Prometheus, Selection::All);
            let counted = exposed_value(
                &text,
                "http_server_requests_total{method=\"GET\",route=\"/work\",status=\"200\",mp_scope=\"vendor\"}",
            );
            let active = exposed_value(&text, "http_server_active_requests{mp_scope=\"vendor\"}");
            let mut seen = record.lock().unwrap();
            seen.push((counted, active));
            if seen.len() == 2 {
                drop(seen);
                panic!("a hook that panics");
            }
        })
        .build()
        .unwrap();
    let runtime = runtime();
    let addr = serve(&runtime, app(registry, layer));
    for _ in 0..3 {
        assert_eq!(get_ok(addr, "/work"), "done");
    }
    // A route left out is not recorded, so the hook does not run for it.
    assert_eq!(get_ok(addr, "/internal/health"), "ok");
    // Once per recorded response, each time with the request already counted and no longer in
    // flight.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Some(1.0), Some(0.0)),
            (Some(2.0), Some(0.0)),
            (Some(3.0), Some(0.0))
        ]
    );
}
