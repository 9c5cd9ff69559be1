//! MicroProfile Metrics 5.1 conformance, issue 16 item 5: each scope is a registry of its own.
//!
//! The TCK's `MetricAppBean` declares `sharedMetricName` four times: a counter in `customScopeA`,
//! a timer in `customScopeB`, a gauge with the unit `jelly` in `customScopeC` and a histogram with
//! the unit `marshmallow` in `customScopeD`; `MpMetricTest.testMetricNameAcrossScopes` then asks
//! `/metrics?name=sharedMetricName` for all four. Here the same, over real HTTP to the built-in
//! listener, with the attribute macros and `register!` (a MicroProfile histogram is a summary
//! with a `_max`: the crate's `Summary`; a timer is a Prometheus histogram with a `_max`).
//!
//! What stays a conflict across scopes is what the one exposition of all scopes cannot hold: one
//! output name used by two metrics, one family with two descriptions or two sets of tag names.

use std::borrow::Cow;

use microprofile::serve::auth::Auth;
use microprofile::{
    counted, gauge, timed, Error, Format, GlobalTags, Metadata, Registry, Scope, Selection, Server,
    Summary,
};
use microprofile_tests::{
    http_get, promtool_check_allowing, python_parse, samples, value_of, Parser,
};

#[counted(name = "sharedMetricName", absolute, scope = "customScopeA")]
fn count_me_metric_name_scope_a() {}

#[timed(name = "sharedMetricName", absolute, scope = "customScopeB")]
fn time_me_metric_name_scope_b() {}

#[gauge(
    name = "sharedMetricName",
    absolute,
    scope = "customScopeC",
    unit = "jelly"
)]
fn gauge_me_metric_name_scope_c() -> i64 {
    123
}

static HISTOGRAM_METRIC_NAME_SCOPE_D: Summary = Summary::new();
microprofile::register!(
    HISTOGRAM_METRIC_NAME_SCOPE_D,
    Metadata::new("sharedMetricName")
        .unit("marshmallow")
        .scope(Scope::Custom(Cow::Borrowed("customScopeD")))
);

fn scope(name: &'static str) -> Scope {
    Scope::new(name).unwrap()
}

#[test]
fn tck_metric_name_across_scopes() {
    let registry: &'static Registry =
        Box::leak(Box::new(Registry::with_statics(GlobalTags::none())));
    let errors = registry.registration_errors();
    assert!(
        !errors
            .iter()
            .any(|e| e.to_string().contains("sharedMetricName")),
        "{errors:?}"
    );
    count_me_metric_name_scope_a();
    time_me_metric_name_scope_b();
    assert_eq!(gauge_me_metric_name_scope_c(), 123);
    HISTOGRAM_METRIC_NAME_SCOPE_D.observe(7.0);

    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry)
        .auth(Auth::None)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let r = http_get(addr, "/metrics?name=sharedMetricName", Some("text/plain")).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // The TCK's TYPE lines, with this crate's timer a histogram.
    for (line, scope) in [
        ("# TYPE sharedMetricName_total counter\n", "customScopeA"),
        (
            "# TYPE sharedMetricName_seconds histogram\n",
            "customScopeB",
        ),
        (
            "# TYPE sharedMetricName_seconds_max gauge\n",
            "customScopeB",
        ),
        ("# TYPE sharedMetricName_jelly gauge\n", "customScopeC"),
        (
            "# TYPE sharedMetricName_marshmallow summary\n",
            "customScopeD",
        ),
        (
            "# TYPE sharedMetricName_marshmallow_max gauge\n",
            "customScopeD",
        ),
    ] {
        assert!(r.body.contains(line), "{line}: {}", r.body);
        let family = line
            .trim_start_matches("# TYPE ")
            .split(' ')
            .next()
            .unwrap_or_default();
        let in_scope = r
            .body
            .lines()
            .filter(|l| l.starts_with(family) && !l.starts_with('#'))
            .all(|l| l.contains(&format!("mp_scope=\"{scope}\"")));
        assert!(in_scope, "{family} in {scope}: {}", r.body);
    }
    let allowed = ["should be written in 'snake_case' not 'camelCase'"];
    if let Err(e) = promtool_check_allowing(&r.body, &allowed) {
        panic!("{e}\n---\n{}", r.body);
    }
    let parsed = samples(&python_parse(Parser::Prometheus, &r.body).unwrap());
    let at = |s| [("mp_scope", s)];
    assert_eq!(
        value_of(&parsed, "sharedMetricName_total", &at("customScopeA")),
        Some(1.0)
    );
    assert_eq!(
        value_of(
            &parsed,
            "sharedMetricName_seconds_count",
            &at("customScopeB")
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(&parsed, "sharedMetricName_jelly", &at("customScopeC")),
        Some(123.0)
    );
    assert_eq!(
        value_of(
            &parsed,
            "sharedMetricName_marshmallow_count",
            &at("customScopeD")
        ),
        Some(1.0)
    );
    let om = http_get(
        addr,
        "/metrics?name=sharedMetricName",
        Some("application/openmetrics-text"),
    )
    .unwrap();
    assert_eq!(om.status, 200);
    let om = samples(&python_parse(Parser::OpenMetrics, &om.body).unwrap());
    assert_eq!(
        value_of(&om, "sharedMetricName_jelly", &at("customScopeC")),
        Some(123.0)
    );

    // Each scope's `sharedMetricName` is its own metric: one scope, one of them.
    for (path, family) in [
        (
            "/metrics/customScopeA/sharedMetricName",
            "sharedMetricName_total",
        ),
        (
            "/metrics?scope=customScopeC&name=sharedMetricName",
            "sharedMetricName_jelly",
        ),
    ] {
        let r = http_get(addr, path, Some("text/plain")).unwrap();
        assert_eq!(r.status, 200, "{path}");
        let types: Vec<&str> = r.body.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(types.len(), 1, "{path}: {}", r.body);
        assert!(
            types.iter().all(|t| t.contains(family)),
            "{path}: {}",
            r.body
        );
    }
    drop(server);
}

/// The run-time API: the same declared name in two scopes is two metrics of any types, and each
/// scope's name is freed by removing it there.
#[test]
fn a_declared_name_per_scope() {
    let registry = Registry::new();
    let (a, b) = (scope("scopeA"), scope("scopeB"));
    let jobs = registry
        .counter(Metadata::new("jobs").scope(a.clone()))
        .unwrap();
    let timer = registry
        .timer(Metadata::new("jobs").scope(b.clone()), None)
        .unwrap();
    jobs.inc();
    timer.observe(0.25);
    // In one scope the name is still one metric.
    assert!(matches!(
        registry.timer(Metadata::new("jobs").scope(a.clone()), None),
        Err(Error::Conflict { .. })
    ));
    // Removed from scope A, the name is free there (and still taken in B).
    assert!(registry.remove(&a, "jobs", &[]));
    let gauge = registry
        .gauge(Metadata::new("jobs").unit("workers").scope(a.clone()))
        .unwrap();
    gauge.set(4);
    assert!(registry
        .counter(Metadata::new("jobs").scope(b.clone()))
        .is_err());
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains("jobs_workers{mp_scope=\"scopeA\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("jobs_seconds_count{mp_scope=\"scopeB\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("jobs_total"), "{text}");

    // Two declared names that differ in replaced characters are one exposed family; in one
    // scope that is a conflict, in two scopes each scope's name selects its own member.
    registry
        .counter(Metadata::named("queue-depth").scope(a.clone()))
        .unwrap()
        .inc();
    registry
        .counter(Metadata::named("queue.depth").scope(b.clone()))
        .unwrap()
        .inc_by(2);
    assert!(registry
        .counter(Metadata::named("queue.depth").scope(a.clone()))
        .is_err());
    let only_a =
        registry.encode_to_string(Format::Prometheus, Selection::Metric(&a, "queue-depth"));
    assert!(
        only_a.contains("queue_depth_total{mp_scope=\"scopeA\"} 1\n"),
        "{only_a}"
    );
    assert!(!only_a.contains("scopeB"), "{only_a}");
    let prometheus = registry.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    microprofile_tests::check_both_formats(&prometheus, &openmetrics);
}

/// `result` is a conflict whose reason says `why`.
fn refused(result: Result<(), Error>, why: &str) {
    assert!(
        matches!(&result, Err(Error::Conflict { reason, .. }) if reason.contains(why)),
        "{why}: {result:?}"
    );
}

/// What the one exposition of every scope cannot hold stays a conflict across scopes, with the
/// reason: a name two metrics' outputs would both use, two descriptions of one family (one
/// `# HELP`), and two sets of tag names in one family.
#[test]
fn what_the_shared_exposition_cannot_hold() {
    let registry = Registry::new();
    let (a, b) = (scope("scopeA"), scope("scopeB"));
    registry
        .counter(Metadata::new("orders").scope(a.clone()))
        .unwrap();
    // `orders` is the OpenMetrics family name of the counter `orders_total`.
    let gauge = registry.gauge(Metadata::new("orders").scope(b.clone()));
    refused(gauge.map(|_| ()), "`orders`");

    registry
        .counter(
            Metadata::new("visits")
                .description("Visits.")
                .scope(a.clone()),
        )
        .unwrap();
    let described = registry.counter(
        Metadata::new("visits")
            .description("Page views.")
            .scope(b.clone()),
    );
    refused(described.map(|_| ()), "description");

    registry
        .counter(
            Metadata::new("calls")
                .with_tag("tier", "web")
                .scope(a.clone()),
        )
        .unwrap();
    let tagged = registry.counter(Metadata::new("calls").with_tag("layer", "web").scope(b));
    refused(tagged.map(|_| ()), "tag names");
}
