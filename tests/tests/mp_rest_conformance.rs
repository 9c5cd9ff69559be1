//! The REST and naming rules of MicroProfile Metrics 5.1 (`spec/src/main/asciidoc/architecture.adoc`,
//! "Exposing metrics via REST API", "Scopes", "Usage of MicroProfile Metrics in application servers
//! with multiple applications"; `rest-endpoints.adoc`), checked as its TCK (`tck/rest`,
//! `MpMetricTest`) checks them: with the TCK's metric names, units and requests, over real HTTP on
//! loopback, against both the built-in listener and the axum router.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use microprofile::serve::auth::Auth;
use microprofile::serve::MetricsRouter;
use microprofile::{
    Counter, Family, GlobalTags, LabelSet, Metadata, Registry, Scope, Server, ServerHandle,
};
use microprofile_tests::{exposed_value, http_request, python_parse, HttpResponse, Parser};

/// The content type the TCK asks for and expects (`MpMetricTest.TEXT_PLAIN`); it checks the
/// response's `Content-Type` starts with it.
const TEXT_PLAIN: &str = "text/plain";

/// The TCK's `MetricAppBean` and its set-up (`testSetupApplicationMetrics`), as far as the REST
/// and naming chapters go: its names, units and tags, with `MP_METRICS_TAGS=tier=integration`
/// as the TCK's `microprofile-config.properties` has it. Returns the values fed in, for the
/// expected outputs.
fn tck_registry() -> &'static Registry {
    let tags = GlobalTags::parse("tier=integration", None).unwrap();
    let registry: &'static Registry = Box::leak(Box::new(Registry::with_global_tags(tags)));
    registry
        .counter(Metadata::new("metricTest.test1.countMeB").unit("jellybean"))
        .unwrap()
        .inc();
    registry
        .counter(Metadata::new("purple").with_tag("app", "myShop"))
        .unwrap();
    registry
        .gauge(Metadata::new("metricTest.test1.gauge").unit("gigabytes"))
        .unwrap()
        .set(19);
    registry
        .gauge(
            Metadata::new("org.eclipse.microprofile.metrics.test.MetricAppBean.gaugeMeA")
                .unit("kibibits"),
        )
        .unwrap()
        .set(1000);
    registry
        .gauge(
            Metadata::new("org.eclipse.microprofile.metrics.test.MetricAppBean.gaugeMeB")
                .unit("hands"),
        )
        .unwrap()
        .set(7_777_777);
    // The TCK's histograms are exposed as summaries with a `_max` (rest-endpoints.adoc, "Histogram").
    let histogram = registry
        .summary(Metadata::new("metricTest.test1.histogram").unit("bytes"))
        .unwrap();
    for i in 0..1000 {
        histogram.observe(f64::from(999 - i));
    }
    registry
        .summary(Metadata::new("metricTest.test1.histogram2").unit("none"))
        .unwrap()
        .observe(1.0);
    registry
        .summary(
            Metadata::new("jellybeanHistogram")
                .unit("jellybeans")
                .description("jellybeans-description"),
        )
        .unwrap();
    registry
        .timer(
            Metadata::new("org.eclipse.microprofile.metrics.test.MetricAppBean.timeMeA"),
            None,
        )
        .unwrap()
        .observe(0.25);
    registry
}

/// Both transports serving `registry` on free loopback ports, with no authentication whatever
/// the environment says: the built-in listener, and the axum router under the crate's `serve`
/// on a runtime of its own.
struct Transports {
    listener: ServerHandle,
    router: SocketAddr,
}

impl Transports {
    fn start(registry: &'static Registry) -> Transports {
        let listener = Server::builder()
            .addr(([127, 0, 0, 1], 0))
            .registry(registry)
            .auth(Auth::None)
            .start()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app: axum::Router = MetricsRouter::new()
                    .registry(registry)
                    .auth(Auth::None)
                    .into_router()
                    .unwrap();
                let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(socket.local_addr().unwrap()).unwrap();
                microprofile::serve::serve(socket, app).await.unwrap();
            });
        });
        let router = rx.recv().unwrap();
        Transports { listener, router }
    }

    fn addrs(&self) -> [(&'static str, SocketAddr); 2] {
        [
            ("listener", self.listener.local_addr()),
            ("router", self.router),
        ]
    }
}

/// One request over a new connection; `accept` is sent as the `Accept` header when given. The
/// endpoint answers with a `content-length`, never chunked.
fn exchange(addr: SocketAddr, method: &str, target: &str, accept: Option<&str>) -> HttpResponse {
    let r = http_request(addr, method, target, accept).unwrap();
    assert!(r.header("transfer-encoding").is_none(), "{r:?}");
    r
}

fn get(addr: SocketAddr, target: &str, accept: Option<&str>) -> HttpResponse {
    exchange(addr, "GET", target, accept)
}

/// A label set for a family that has no series yet.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Route(String);

impl LabelSet for Route {
    const NAMES: &'static [&'static str] = &["route"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

/// The sample line of `series` (name and opening brace) carrying every one of `labels`.
fn sample_with<'a>(body: &'a str, series: &str, labels: &[&str]) -> Option<&'a str> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{series}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
}

/// `testTextPlainResponseContentType`, `testNoAcceptHeader`, `testAccept1` to `testAccept5`:
/// Prometheus text for `text/plain`, for no `Accept`, for `*/*` and wherever `text/plain` wins or
/// ties; `406` when neither format is acceptable.
#[test]
fn accept_header_as_the_tck_sends_it() {
    let transports = Transports::start(tck_registry());
    for (transport, addr) in transports.addrs() {
        for accept in [
            Some(TEXT_PLAIN),
            None,
            Some("application/json;q=0.5,text/plain;q=0.5"),
            Some("application/json;q=0.1,text/plain;q=0.9"),
            Some("*/*"),
            Some("image/png;q=1,*/*;q=0.1"),
        ] {
            for target in ["/metrics", "/metrics?scope=application"] {
                let r = get(addr, target, accept);
                assert_eq!(r.status, 200, "{transport} {target} {accept:?}");
                let content_type = r.header("content-type").unwrap();
                assert!(
                    content_type.starts_with("text/plain; version=0.0.4"),
                    "{transport} {target} {accept:?}: {content_type}"
                );
                assert!(!r.body.contains("# EOF"), "{transport} {accept:?}");
                assert!(r.body.contains("purple_total{"), "{transport} {accept:?}");
            }
        }
        let r = get(
            addr,
            "/metrics?scope=application",
            Some("image/png,image/jpeg"),
        );
        assert_eq!(r.status, 406, "{transport}");
    }
}

/// `testRequestPathReturn404`, `testBadScopeReturn404`, and the status codes of
/// "Exposing metrics via REST API": `404` for a sub-tree or object that does not exist, `204` for
/// one that exists but has no content.
#[test]
fn status_codes_for_unknown_and_empty_scopes_and_names() {
    let registry = tck_registry();
    // A custom scope that exists, holding a labelled family with no series yet.
    let empty = Scope::new("customEmpty").unwrap();
    let requests: Arc<Family<Route, Counter>> = Arc::new(Family::new(Counter::new()));
    registry
        .register(Metadata::new("requests").scope(empty.clone()), requests)
        .unwrap();
    let transports = Transports::start(registry);
    for (transport, addr) in transports.addrs() {
        for target in [
            "/metrics/bad-tree",
            "/metrics?scope=fakescope",
            "/metrics/fakescope",
            "/metrics?scope=",
            "/metrics?scope=bad-tree",
            "/metrics?scope=application&name=nope",
            "/metrics/application/nope",
            "/metrics?name=nope",
            "/metrics?name=",
            // A name that is in another scope only.
            "/metrics?scope=vendor&name=purple",
        ] {
            for method in ["GET", "HEAD"] {
                let r = exchange(addr, method, target, Some(TEXT_PLAIN));
                assert_eq!(r.status, 404, "{transport} {method} {target}");
            }
        }
        // `base` and `vendor` always exist; here they hold nothing: 204, no body, no length.
        for target in [
            "/metrics?scope=base",
            "/metrics/base",
            "/metrics?scope=vendor",
        ] {
            for accept in [Some(TEXT_PLAIN), Some("application/openmetrics-text")] {
                for method in ["GET", "HEAD"] {
                    let r = exchange(addr, method, target, accept);
                    assert_eq!(r.status, 204, "{transport} {method} {target} {accept:?}");
                    assert_eq!(r.body, "", "{transport} {target}");
                    assert_eq!(r.header("content-type"), None, "{transport} {target}");
                    // RFC 9110: no `content-length` on a `204`. Through axum, hyper still
                    // writes `content-length: 0` on the `HEAD` of one (the empty body's size);
                    // the built-in listener sends none.
                    let length = r.header("content-length");
                    match (transport, method) {
                        ("router", "HEAD") => {
                            assert!(matches!(length, None | Some("0")), "{transport} {target}")
                        }
                        _ => assert_eq!(length, None, "{transport} {method} {target}"),
                    }
                }
            }
        }
        let r = get(addr, &format!("/metrics?scope={}", empty.as_str()), None);
        assert_eq!(r.status, 204, "{transport}");
        let r = get(
            addr,
            &format!("/metrics?scope={}&name=requests", empty.as_str()),
            None,
        );
        assert_eq!(r.status, 204, "{transport}");
        // The whole tree is always 200.
        assert_eq!(get(addr, "/metrics", None).status, 200, "{transport}");
    }
}

/// `testPromMetrics405NotGET`: `OPTIONS` is `405`. MicroProfile Metrics 5.0 removed the JSON
/// format (changelog: "removed JSON format for /metrics output"), and with it the JSON metadata
/// `OPTIONS` used to return; 5.1's endpoint table has `GET` only.
#[test]
fn options_is_405() {
    let transports = Transports::start(tck_registry());
    for (transport, addr) in transports.addrs() {
        for target in [
            "/metrics/application/metricTest.test1.histogram2",
            "/metrics?scope=application&name=metricTest.test1.histogram2",
            "/metrics",
            "/metrics?scope=fakescope",
        ] {
            let r = exchange(addr, "OPTIONS", target, Some(TEXT_PLAIN));
            assert_eq!(r.status, 405, "{transport} {target}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{transport} {target}");
        }
    }
}

/// `testMetricNameAcrossScopes`: `/metrics?name=sharedMetricName` with a counter, a timer, a
/// gauge and a histogram of that name in four custom scopes.
#[test]
fn name_across_scopes() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let scope = |s: &'static str| Scope::new(s).unwrap();
    let registered = [
        registry
            .counter(Metadata::new("sharedMetricName").scope(scope("customScopeA")))
            .map(|c| c.inc()),
        registry
            .timer(
                Metadata::new("sharedMetricName").scope(scope("customScopeB")),
                None,
            )
            .map(|t| t.observe(0.5)),
        registry
            .gauge(
                Metadata::new("sharedMetricName")
                    .unit("jelly")
                    .scope(scope("customScopeC")),
            )
            .map(|g| g.set(3)),
        registry
            .summary(
                Metadata::new("sharedMetricName")
                    .unit("marshmallow")
                    .scope(scope("customScopeD")),
            )
            .map(|h| h.observe(2.0)),
    ];
    // Each scope is a registry of its own (issue 16 item 5): the four outputs use four names, so
    // the one declared name is four metrics.
    for (i, r) in registered.iter().enumerate() {
        assert!(r.is_ok(), "registration {i}: {r:?}");
    }
    // Besides, one metric with series in two scopes: one family, written once.
    registry
        .counter(Metadata::new("visits").scope(scope("customScopeA")))
        .unwrap()
        .inc();
    registry
        .counter(Metadata::new("visits").scope(scope("customScopeB")))
        .unwrap()
        .inc_by(2);
    let transports = Transports::start(registry);
    for (transport, addr) in transports.addrs() {
        let r = get(addr, "/metrics?name=sharedMetricName", Some(TEXT_PLAIN));
        assert_eq!(r.status, 200, "{transport}");
        let expected = [
            ("# TYPE sharedMetricName_total counter", "customScopeA"),
            ("# TYPE sharedMetricName_seconds ", "customScopeB"),
            ("# TYPE sharedMetricName_jelly gauge", "customScopeC"),
            (
                "# TYPE sharedMetricName_marshmallow summary",
                "customScopeD",
            ),
            (
                "# TYPE sharedMetricName_marshmallow_max gauge",
                "customScopeD",
            ),
        ];
        for (line, scope) in expected {
            assert!(r.body.contains(line), "{transport} {line}: {}", r.body);
            assert!(
                r.body.contains(&format!("mp_scope=\"{scope}\"")),
                "{transport} {scope}"
            );
        }

        for accept in [Some(TEXT_PLAIN), Some("application/openmetrics-text")] {
            let r = get(addr, "/metrics?name=visits", accept);
            assert_eq!(r.status, 200, "{transport} {accept:?}");
            assert_eq!(r.body.matches("# TYPE visits").count(), 1, "{}", r.body);
            for (scope, value) in [("customScopeA", 1.0), ("customScopeB", 2.0)] {
                let series = format!("visits_total{{mp_scope=\"{scope}\"}}");
                assert_eq!(exposed_value(&r.body, &series), Some(value), "{}", r.body);
            }
            // The same families `/metrics` writes for `visits`, nothing else.
            let all = get(addr, "/metrics", accept);
            let only: String = all
                .body
                .lines()
                .filter(|l| l.contains("visits") || *l == "# EOF")
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(r.body, only, "{transport} {accept:?}");
        }
        let text = get(addr, "/metrics?name=visits", None).body;
        microprofile_tests::promtool_check(&text).unwrap();
    }
}

/// `testApplicationMetricsPrometheus`, `testApplicationTagPromMetrics`,
/// `testApplicationTimerUnitPromMetrics`, `testApplicationHistogramUnitBytesPromMetrics`,
/// `testApplicationHistogramUnitNonePromMetrics`, `testNonStandardUnitsPromMetrics`,
/// `testCustomUnitAppendToGaugeName`, `testCustomUnitForCounter`: the names with their units
/// (rest-endpoints.adoc: the unit after the name, `_total` after that on a counter, timers in
/// seconds, `none` adding nothing), dots as `_`, queried by the declared name.
#[test]
fn names_and_unit_suffixes() {
    let transports = Transports::start(tck_registry());
    for (transport, addr) in transports.addrs() {
        let app = get(addr, "/metrics?scope=application", Some(TEXT_PLAIN)).body;
        let tier = "tier=\"integration\"";
        let scope = "mp_scope=\"application\"";
        for (family, kind, value) in [
            (
                "metricTest_test1_countMeB_jellybean_total",
                "counter",
                Some(1.0),
            ),
            ("purple_total", "counter", Some(0.0)),
            ("metricTest_test1_gauge_gigabytes", "gauge", Some(19.0)),
            (
                "org_eclipse_microprofile_metrics_test_MetricAppBean_gaugeMeA_kibibits",
                "gauge",
                Some(1000.0),
            ),
            (
                "org_eclipse_microprofile_metrics_test_MetricAppBean_gaugeMeB_hands",
                "gauge",
                Some(7_777_777.0),
            ),
            ("metricTest_test1_histogram_bytes", "summary", None),
            ("metricTest_test1_histogram2", "summary", None),
        ] {
            assert!(
                app.contains(&format!("# TYPE {family} {kind}\n")),
                "{transport} {family}: {app}"
            );
            assert!(
                app.contains(&format!("# HELP {family} ")),
                "{transport} {family}"
            );
            let line = sample_with(&app, family, &[tier, scope]);
            assert!(line.is_some(), "{transport} {family}: {app}");
            if let (Some(value), Some(line)) = (value, line) {
                let got: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                assert_eq!(got, value, "{transport} {line}");
            }
        }
        assert!(
            sample_with(&app, "purple_total", &["app=\"myShop\"", tier, scope]).is_some(),
            "{transport}"
        );
        // The histogram of 0..999: count, sum and max from those inputs.
        let inputs: Vec<f64> = (0..1000).map(f64::from).collect();
        for (series, value) in [
            (
                "metricTest_test1_histogram_bytes_count",
                inputs.len() as f64,
            ),
            ("metricTest_test1_histogram_bytes_sum", inputs.iter().sum()),
            ("metricTest_test1_histogram_bytes_max", 999.0),
        ] {
            let line = sample_with(&app, series, &[tier, scope]).unwrap();
            let got: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert_eq!(got, value, "{transport} {line}");
        }
        assert!(!app.contains("histogram2_none"), "{transport}");

        // Queried by the declared name, dots and all.
        for (name, prefix) in [
            (
                "org.eclipse.microprofile.metrics.test.MetricAppBean.timeMeA",
                "org_eclipse_microprofile_metrics_test_MetricAppBean_timeMeA_seconds",
            ),
            (
                "metricTest.test1.histogram",
                "metricTest_test1_histogram_bytes",
            ),
            ("metricTest.test1.histogram2", "metricTest_test1_histogram2"),
            ("jellybeanHistogram", "jellybeanHistogram_jellybeans"),
            ("purple", "purple_total"),
        ] {
            for target in [
                format!("/metrics?scope=application&name={name}"),
                format!("/metrics?name={name}"),
            ] {
                let r = get(addr, &target, Some(TEXT_PLAIN));
                if name == "jellybeanHistogram" {
                    // No observation yet: the summary still writes its count and sum.
                    assert!(matches!(r.status, 200 | 204), "{transport} {target}");
                } else {
                    assert_eq!(r.status, 200, "{transport} {target}");
                }
                if r.status == 200 {
                    assert!(
                        r.body.contains(&format!("# TYPE {prefix} ")),
                        "{transport} {target}: {}",
                        r.body
                    );
                    assert!(
                        r.body.lines().all(|l| l.contains(prefix)),
                        "{transport} {target}: {}",
                        r.body
                    );
                }
            }
        }
        // The exposed family name selects it too.
        let r = get(
            addr,
            "/metrics?scope=application&name=metricTest_test1_countMeB_jellybean_total",
            None,
        );
        assert_eq!(r.status, 200, "{transport}");
        assert!(r
            .body
            .contains("# HELP metricTest_test1_countMeB_jellybean_total "));
        // The TCK's names are camelCase, which promtool's lint flags; the reference parser reads
        // them.
        let parsed = python_parse(Parser::Prometheus, &app).unwrap();
        assert!(parsed.len() >= 10, "{transport}: {parsed:?}");
        let om = get(
            addr,
            "/metrics?scope=application",
            Some("application/openmetrics-text"),
        );
        python_parse(Parser::OpenMetrics, &om.body).unwrap();
    }
}

/// "Scopes": a custom scope name matches `[a-zA-Z_][a-zA-Z0-9_]*` (anything else is refused at
/// registration), is served at `/metrics?scope=<name>` and written as `mp_scope="<name>"`.
#[test]
fn custom_scope_names() {
    for bad in ["bad-tree", "9lives", "", "a.b", "ä", "with space"] {
        assert!(Scope::new(bad).is_err(), "{bad:?}");
    }
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let names = ["customScopeA", "_private", "Scope_2", "x"];
    let metrics = ["jobs0", "jobs1", "jobs2", "jobs3"];
    for (name, metric) in names.iter().zip(metrics) {
        registry
            .counter(Metadata::new(metric).scope(Scope::new(*name).unwrap()))
            .unwrap()
            .inc();
    }
    let transports = Transports::start(registry);
    for (transport, addr) in transports.addrs() {
        for (i, name) in names.iter().enumerate() {
            for target in [format!("/metrics?scope={name}"), format!("/metrics/{name}")] {
                let r = get(addr, &target, None);
                assert_eq!(r.status, 200, "{transport} {target}");
                let series = format!("jobs{i}_total{{mp_scope=\"{name}\"}}");
                assert_eq!(exposed_value(&r.body, &series), Some(1.0), "{}", r.body);
                // Only that scope.
                assert_eq!(r.body.matches("mp_scope=").count(), 1, "{}", r.body);
            }
        }
        // Scope names are case-sensitive, as the regex is.
        assert_eq!(get(addr, "/metrics?scope=customscopea", None).status, 404);
    }
}

/// Runs this test binary's `mp_app_from_environment_child` in a process of its own with `env`
/// set (and the application-name variables not in `env` removed), and returns the application
/// scope it printed.
fn child_exposition(env: &[(&str, &str)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        "mp_app_from_environment_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for name in [
        "MP_METRICS_APPNAME",
        "MP_METRICS_DEFAULTAPPNAME",
        "mp_metrics_appName",
        "mp_metrics_defaultAppName",
        "mp.metrics.appName",
        "mp.metrics.defaultAppName",
        "MP_METRICS_TAGS",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = stdout.find("<<<").unwrap() + 3;
    let end = stdout.find(">>>").unwrap();
    stdout[start..end].to_owned()
}

/// Run by [`mp_app_from_environment`] in a child process: the global registry, which reads the
/// environment, served by the built-in listener; prints what `/metrics/application` answered.
#[test]
#[ignore = "run by mp_app_from_environment, in a process with its own environment"]
fn mp_app_from_environment_child() {
    static HITS: microprofile::Counter = microprofile::Counter::new();
    microprofile::register!(HITS, Metadata::new("mp_app_hits"));
    HITS.inc();
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(microprofile::global())
        .auth(Auth::None)
        .start()
        .unwrap();
    let r = get(
        server.local_addr(),
        "/metrics/application/mp_app_hits",
        None,
    );
    assert_eq!(r.status, 200);
    println!("<<<{}>>>", r.body);
    server.shutdown();
}

/// "Usage of MicroProfile Metrics in application servers with multiple applications":
/// `mp.metrics.appName` is the `mp_app` of the application's metrics, and
/// `mp.metrics.defaultAppName` that of every metric without one; from the environment as
/// MicroProfile Config maps the properties (`MP_METRICS_APPNAME`, `MP_METRICS_DEFAULTAPPNAME`).
#[test]
fn mp_app_from_environment() {
    let line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("mp_app_hits_total{"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{text}"))
    };
    for (env, app) in [
        (vec![], None),
        (vec![("MP_METRICS_APPNAME", "shop")], Some("shop")),
        (
            vec![("MP_METRICS_DEFAULTAPPNAME", "server")],
            Some("server"),
        ),
        (
            vec![
                ("MP_METRICS_APPNAME", "shop"),
                ("MP_METRICS_DEFAULTAPPNAME", "server"),
            ],
            Some("shop"),
        ),
        // Empty is not set, as in MicroProfile Config.
        (
            vec![
                ("MP_METRICS_APPNAME", ""),
                ("MP_METRICS_DEFAULTAPPNAME", "server"),
            ],
            Some("server"),
        ),
        // MicroProfile Config's other spellings of the same property.
        (vec![("mp_metrics_defaultAppName", "srv")], Some("srv")),
        (
            vec![
                ("mp_metrics_appName", "exact"),
                ("MP_METRICS_APPNAME", "upper"),
            ],
            Some("exact"),
        ),
    ] {
        let sample = line(&child_exposition(&env));
        match app {
            Some(app) => assert!(
                sample.contains(&format!("mp_app=\"{app}\"")),
                "{env:?}: {sample}"
            ),
            None => assert!(!sample.contains("mp_app="), "{env:?}: {sample}"),
        }
        assert!(sample.contains("mp_scope=\"application\""), "{sample}");
    }
}
