//! The axum router and the tower layer (features `axum`, `tower`): the router answers exactly as
//! `http::respond_encoded` (one implementation), authentication, and the layer's metrics: names, bounded
//! labels, and an in-flight gauge that survives cancellation and panics.

use std::io::{Read, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use microprofile::instrument::HttpMetricsLayer;
use microprofile::serve::auth::Auth;
use microprofile::serve::MetricsRouter;
use microprofile::{Format, Metadata, Registry, Scope, Selection};
use microprofile_tests::exposed_value;
use tower::ServiceExt;

fn leaked_registry() -> &'static Registry {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.counter(Metadata::new("hits")).unwrap().inc();
    registry
        .gauge(Metadata::new("temperature").scope(Scope::Vendor))
        .unwrap()
        .set(3);
    registry
}

fn metrics_router(registry: &'static Registry, auth: Auth) -> Router {
    MetricsRouter::new()
        .registry(registry)
        .auth(auth)
        .into_router()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

const PROMETHEUS_SCRAPE: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test]
async fn router_answers_as_respond_does() {
    let registry = leaked_registry();
    let app = metrics_router(registry, Auth::None);
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/metrics", None),
        ("GET", "/metrics/", None),
        ("GET", "/metrics", Some(PROMETHEUS_SCRAPE)),
        ("GET", "/metrics", Some("application/json")),
        ("GET", "/metrics/vendor", None),
        ("GET", "/metrics/vendor/", None),
        ("GET", "/metrics/base", Some("application/openmetrics-text")),
        ("GET", "/metrics/application/hits", None),
        ("GET", "/metrics/application/hits_total", Some("*/*")),
        ("GET", "/metrics?scope=application&name=hits", None),
        ("GET", "/metrics/application?name=hits", None),
        ("GET", "/metrics?name=hits", None),
        ("GET", "/metrics/nope", None),
        ("GET", "/metrics/application/nope", None),
        ("GET", "/metrics/a/b/c", None),
        ("GET", "/metrics/%61pplication/h%69ts", None),
        ("POST", "/metrics", None),
        ("DELETE", "/metrics/vendor", None),
        ("HEAD", "/metrics", None),
        ("HEAD", "/metrics/nope", None),
    ];
    for &(method, uri, accept) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let got = call(&app, request(method, uri, &headers)).await;
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        // What every transport sends: `respond`, then the content coding (none asked for here).
        let want =
            microprofile::serve::respond_encoded(registry, method, path, query, accept, None);
        assert_eq!(got.status, want.status, "{method} {uri} {accept:?}");
        assert_eq!(got.body.as_bytes(), want.body, "{method} {uri} {accept:?}");
        for (name, value) in &want.headers {
            if *name == "content-length" && method == "HEAD" {
                continue;
            }
            assert_eq!(
                got.header(name),
                Some(value.as_str()),
                "{method} {uri} {accept:?}: header {name}"
            );
        }
    }
    // Two Accept headers count as one list, as in the built-in listener.
    let got = call(
        &app,
        request(
            "GET",
            "/metrics",
            &[
                ("accept", "text/plain;q=0.1"),
                ("accept", "application/openmetrics-text"),
            ],
        ),
    )
    .await;
    assert!(got.body.ends_with("# EOF\n"), "{}", got.body);
    // Outside /metrics the router has no route: axum's own 404.
    let got = call(&app, request("GET", "/other", &[])).await;
    assert_eq!(got.status, 404);
}

#[tokio::test]
async fn router_nested_elsewhere() {
    let registry = leaked_registry();
    let app: Router = Router::new().nest("/admin", metrics_router(registry, Auth::None));
    let got = call(&app, request("GET", "/admin/metrics/vendor", &[])).await;
    assert_eq!(got.status, 200);
    assert!(got.body.contains("temperature{mp_scope=\"vendor\"} 3"));
}

#[tokio::test]
async fn router_bearer_auth() {
    let registry = leaked_registry();
    let app = metrics_router(registry, Auth::bearer("s3cret-token"));
    for headers in [
        &[][..],
        &[("authorization", "Bearer wrong")][..],
        &[("authorization", "Bearer s3cret-toke")][..],
        &[("authorization", "Bearer s3cret-token2")][..],
        &[("authorization", "Basic czNjcmV0LXRva2Vu")][..],
    ] {
        for method in ["GET", "HEAD", "POST"] {
            let got = call(&app, request(method, "/metrics", headers)).await;
            assert_eq!(got.status, 401, "{method} {headers:?}");
            assert_eq!(
                got.header("www-authenticate"),
                Some("Bearer realm=\"metrics\"")
            );
            assert!(!got.body.contains("hits"));
        }
    }
    let got = call(
        &app,
        request(
            "GET",
            "/metrics/application",
            &[("authorization", "Bearer s3cret-token")],
        ),
    )
    .await;
    assert_eq!(got.status, 200);
    assert!(got.body.contains("hits_total"));
}

#[tokio::test]
async fn router_basic_auth() {
    let registry = leaked_registry();
    let app = metrics_router(registry, Auth::basic("prometheus", "pa:ss"));
    let refused = call(&app, request("GET", "/metrics", &[])).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Basic realm=\"metrics\", charset=\"UTF-8\"")
    );
    // base64("prometheus:pa:sx")
    let refused = call(
        &app,
        request(
            "GET",
            "/metrics",
            &[("authorization", "Basic cHJvbWV0aGV1czpwYTpzeA==")],
        ),
    )
    .await;
    assert_eq!(refused.status, 401);
    // base64("prometheus:pa:ss")
    let ok = call(
        &app,
        request(
            "GET",
            "/metrics",
            &[("authorization", "Basic cHJvbWV0aGV1czpwYTpzcw==")],
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("hits_total"));
}

/// The environment is read when the router is made; the one test here that sets it (a malformed
/// configuration is tested in `bad_auth_config.rs`, a process of its own).
#[tokio::test]
async fn router_auth_from_the_environment() {
    let registry = leaked_registry();
    std::env::set_var(microprofile::serve::auth::BEARER_TOKEN_ENV, "from-env");
    let app: Router = MetricsRouter::new()
        .registry(registry)
        .into_router()
        .unwrap();
    std::env::set_var(microprofile::serve::auth::BASIC_AUTH_ENV, "no-colon");
    std::env::remove_var(microprofile::serve::auth::BEARER_TOKEN_ENV);
    let misconfigured = MetricsRouter::new().registry(registry).into_router::<()>();
    std::env::remove_var(microprofile::serve::auth::BASIC_AUTH_ENV);

    assert_eq!(
        call(&app, request("GET", "/metrics", &[])).await.status,
        401
    );
    let ok = call(
        &app,
        request("GET", "/metrics", &[("authorization", "Bearer from-env")]),
    )
    .await;
    assert_eq!(ok.status, 200);
    // A malformed configuration never serves the metrics unprotected: no router is made.
    let error = misconfigured.unwrap_err();
    assert_eq!(
        error,
        microprofile::serve::auth::AuthError::BasicWithoutColon
    );
    assert!(
        error.to_string().contains("MICROPROFILE_BASIC_AUTH"),
        "{error}"
    );
}

/// One request over a real socket, served by `axum::serve`, with and without credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_over_a_socket() {
    let registry = leaked_registry();
    let app = metrics_router(registry, Auth::bearer("tok"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let exchange = move |extra: &'static str| {
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            write!(
                stream,
                "GET /metrics/application HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
            )
            .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        })
    };
    let refused = exchange("").await.unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(
        refused
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer realm=\"metrics\""),
        "{refused}"
    );
    let ok = exchange("Authorization: Bearer tok\r\n").await.unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.contains("hits_total{mp_scope=\"application\"} 1"),
        "{ok}"
    );
    server.abort();
}

fn app_with_layer(registry: &'static Registry) -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(|| async { "a user" }).post(|| async { StatusCode::CREATED }),
        )
        .route("/", get(|| async { "home" }))
        .route("/pending", get(std::future::pending::<&'static str>))
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler panics on purpose");
                }
                "unreachable"
            }),
        )
        .merge(metrics_router(registry, Auth::None))
        .layer(HttpMetricsLayer::with_registry(registry))
}

fn exposition(registry: &Registry) -> String {
    registry.encode_to_string(Format::Prometheus, Selection::All)
}

#[tokio::test]
async fn layer_records_route_templates_methods_and_statuses() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let app = app_with_layer(registry);
    for id in 0..5 {
        assert_eq!(
            call(&app, request("GET", &format!("/users/{id}"), &[]))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        call(&app, request("POST", "/users/7", &[])).await.status,
        201
    );
    assert_eq!(call(&app, request("GET", "/", &[])).await.status, 200);
    // A method outside the standard set, on a route that exists: 405 from axum, labelled OTHER.
    assert_eq!(call(&app, request("BREW", "/", &[])).await.status, 405);
    // A scanner: many distinct unmatched URLs and odd methods make one series per method.
    for i in 0..300 {
        let uri = format!("/wp-admin/{i}.php?x={i}");
        assert_eq!(call(&app, request("GET", &uri, &[])).await.status, 404);
        let method = format!("X{i}");
        call(&app, request(&method, &uri, &[])).await;
    }
    let metrics = call(&app, request("GET", "/metrics/vendor", &[])).await;
    assert_eq!(metrics.status, 200);
    let text = exposition(registry);

    let count = |labels: &str| {
        exposed_value(
            &text,
            &format!("http_server_requests_total{{{labels},mp_scope=\"vendor\"}}"),
        )
    };
    assert_eq!(
        count("method=\"GET\",route=\"/users/{id}\",status=\"200\""),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        count("method=\"POST\",route=\"/users/{id}\",status=\"201\""),
        Some(1.0)
    );
    assert_eq!(
        count("method=\"GET\",route=\"/\",status=\"200\""),
        Some(1.0)
    );
    assert_eq!(
        count("method=\"OTHER\",route=\"/\",status=\"405\""),
        Some(1.0)
    );
    assert_eq!(
        count("method=\"GET\",route=\"unmatched\",status=\"404\""),
        Some(300.0)
    );
    assert_eq!(
        count("method=\"OTHER\",route=\"unmatched\",status=\"404\""),
        Some(300.0)
    );
    // The scrape itself is measured under its route template, counted once it completed.
    assert_eq!(
        count("method=\"GET\",route=\"/metrics/{*rest}\",status=\"200\""),
        Some(1.0)
    );
    // The timer has the same series, and its count agrees with the counter.
    assert_eq!(
        exposed_value(
            &text,
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/users/{id}\",status=\"200\",mp_scope=\"vendor\"}"
        ),
        Some(5.0)
    );
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(text.contains(
        "http_server_request_duration_seconds_bucket{method=\"GET\",route=\"unmatched\",status=\"404\",mp_scope=\"vendor\",le=\"+Inf\"} 300"
    ));
    // Bounded: no URL, query or invented method appears as a label.
    assert!(!text.contains("wp-admin"));
    assert!(!text.contains("X1"));
    let series = text
        .lines()
        .filter(|l| l.starts_with("http_server_requests_total{"))
        .count();
    assert_eq!(series, 7, "{text}");
    assert_eq!(
        exposed_value(&text, "http_server_active_requests{mp_scope=\"vendor\"}"),
        Some(0.0)
    );
    // The families pass promtool and both reference parsers.
    let om = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    microprofile_tests::check_both_formats(&text, &om);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_gauge_survives_cancellation_and_panics() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let app = app_with_layer(registry);
    let active = || {
        exposed_value(
            &exposition(registry),
            "http_server_active_requests{mp_scope=\"vendor\"}",
        )
    };

    // Requests that never complete are in flight while their futures live...
    let mut pending = Vec::new();
    for _ in 0..3 {
        let app = app.clone();
        pending.push(tokio::spawn(async move {
            app.oneshot(request("GET", "/pending", &[])).await
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while active() != Some(3.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "never saw 3 in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and leave when they are dropped (a client that went away, a timeout).
    for task in &pending {
        task.abort();
    }
    for task in pending {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    assert_eq!(active(), Some(0.0));
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        app.clone().oneshot(request("GET", "/pending", &[])),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(active(), Some(0.0));

    // A panicking handler unwinds through the response future: the gauge still goes down.
    for _ in 0..2 {
        let app = app.clone();
        let panicked =
            tokio::spawn(async move { app.oneshot(request("GET", "/panic", &[])).await })
                .await
                .unwrap_err();
        assert!(panicked.is_panic());
    }
    assert_eq!(active(), Some(0.0));

    // Neither cancelled nor panicked requests were recorded as served.
    let text = exposition(registry);
    assert!(!text.contains("route=\"/pending\""), "{text}");
    assert!(!text.contains("route=\"/panic\""), "{text}");
    // And the service still answers.
    assert_eq!(
        call(&app, request("GET", "/users/1", &[])).await.status,
        200
    );
    assert_eq!(active(), Some(0.0));
}

#[test]
fn layers_of_one_registry_share_their_metrics() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let _a = HttpMetricsLayer::with_registry(registry);
    let _b = HttpMetricsLayer::with_registry(registry);
    assert!(registry.registration_errors().is_empty());
    let names: Vec<String> = registry
        .families(Selection::All)
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        [
            "http_server_active_requests",
            "http_server_request_duration_seconds",
            "http_server_requests_total"
        ]
    );
}
