//! Every metric type, exposed in both formats, checked by the real `promtool check metrics` (no
//! errors, no lint findings) and by both Python reference parsers, with the values read back.

use std::sync::Arc;
use std::time::Duration;

use microprofile::{
    Buckets, Counter, Family, Format, GlobalTags, LabelSet, Metadata, Registry, Scope, Selection,
};
use microprofile_tests::{check_both_formats, python_parse, value_of, Parser};

#[derive(Clone, PartialEq, Eq, Hash)]
struct Request {
    method: String,
    path: String,
}

impl LabelSet for Request {
    const NAMES: &'static [&'static str] = &["method", "path"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.method);
        f(&self.path);
    }
}

const NASTY: &str = "a\"quote\\back\nnew,line=ü:{}";

fn populated() -> Registry {
    let tags = GlobalTags::parse(r"region=eu-west-1,note=x\,y", Some("shop")).unwrap();
    let r = Registry::with_global_tags(tags);
    let app = |name: &'static str| Metadata::new(name);

    r.counter(
        app("requests")
            .description("Requests served.")
            .with_tag("path", "/a"),
    )
    .unwrap()
    .inc_by(3);
    r.counter(app("requests").with_tag("path", NASTY))
        .unwrap()
        .inc();
    r.float_counter(
        app("energy")
            .unit("joules")
            .description("Energy \\ used\nsecond line."),
    )
    .unwrap()
    .inc_by(2.5);
    r.gauge(app("queue_depth").description("Jobs waiting."))
        .unwrap()
        .set(-4);
    r.float_gauge(
        app("temperature")
            .unit("celsius")
            .description("Temperature."),
    )
    .unwrap()
    .set(21.5);
    r.callback_gauge(app("uptime").unit("seconds").description("Uptime."), || {
        12.0
    })
    .unwrap();
    r.callback_gauge(app("infinite").description("Always infinite."), || {
        f64::INFINITY
    })
    .unwrap();
    let in_flight = r
        .concurrent_gauge(app("in_flight").description("Calls in flight."))
        .unwrap();
    // Keep one call in flight for the whole test.
    std::mem::forget(in_flight.enter());
    let sizes = r
        .histogram(
            app("response_size")
                .unit("bytes")
                .description("Response sizes."),
            Some(Buckets::exponential(100.0, 10.0, 3).unwrap()),
        )
        .unwrap();
    for v in [50.0, 150.0, 5000.0, 1e9] {
        sizes.observe(v);
    }
    let timer = r
        .timer(
            app("outbound_http_latency_seconds")
                .description("Outbound latency.")
                .with_tag("region", "eu-west-1"),
            None,
        )
        .unwrap();
    timer.observe(0.2);
    timer.observe(0.02);
    let summary = r
        .summary_with(
            app("payload").unit("bytes").description("Payload sizes."),
            vec![0.5, 0.9],
            Duration::from_secs(60),
        )
        .unwrap();
    for v in 1..=100 {
        summary.observe(v as f64);
    }
    r.summary(app("idle").description("A summary never observed."))
        .unwrap();

    let family: Arc<Family<Request, Counter>> = Arc::new(Family::new(Counter::new()));
    family
        .with(&Request {
            method: "GET".into(),
            path: "/x".into(),
        })
        .inc_by(7);
    family
        .with(&Request {
            method: "POST".into(),
            path: NASTY.into(),
        })
        .inc();
    r.register(
        app("http_requests").description("HTTP requests by route."),
        family,
    )
    .unwrap();

    r.gauge(
        Metadata::new("cpu")
            .unit("percent")
            .scope(Scope::Base)
            .description("CPU."),
    )
    .unwrap()
    .set(50);
    r.counter(
        Metadata::new("gc.runs")
            .scope(Scope::Vendor)
            .description("GC runs."),
    )
    .unwrap()
    .inc();
    r.counter(
        Metadata::new("invoices")
            .scope(Scope::new("billing").unwrap())
            .description("Invoices."),
    )
    .unwrap()
    .inc_by(9);
    r
}

fn labels<'a>(extra: &[(&'a str, &'a str)], scope: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut all = extra.to_vec();
    all.extend([
        ("region", "eu-west-1"),
        ("note", "x,y"),
        ("mp_app", "shop"),
        ("mp_scope", scope),
    ]);
    all
}

#[test]
fn every_type_passes_promtool_and_both_parsers_with_the_right_values() {
    let r = populated();
    let prom = r.encode_to_string(Format::Prometheus, Selection::All);
    let om = r.encode_to_string(Format::OpenMetrics, Selection::All);
    let (p, o) = check_both_formats(&prom, &om);
    let app = |extra: &[(&'static str, &'static str)]| labels(extra, "application");
    for samples in [&p, &o] {
        assert_eq!(
            value_of(samples, "requests_total", &app(&[("path", "/a")])),
            Some(3.0)
        );
        assert_eq!(
            value_of(samples, "requests_total", &app(&[("path", NASTY)])),
            Some(1.0)
        );
        assert_eq!(
            value_of(samples, "energy_joules_total", &app(&[])),
            Some(2.5)
        );
        assert_eq!(value_of(samples, "queue_depth", &app(&[])), Some(-4.0));
        assert_eq!(
            value_of(samples, "temperature_celsius", &app(&[])),
            Some(21.5)
        );
        assert_eq!(value_of(samples, "uptime_seconds", &app(&[])), Some(12.0));
        assert_eq!(
            value_of(samples, "infinite", &app(&[])),
            Some(f64::INFINITY)
        );
        assert_eq!(value_of(samples, "in_flight", &app(&[])), Some(1.0));
        let bucket = |le| value_of(samples, "response_size_bytes_bucket", &app(&[("le", le)]));
        assert_eq!(bucket("100.0"), Some(1.0));
        assert_eq!(bucket("1000.0"), Some(2.0));
        assert_eq!(bucket("10000.0"), Some(3.0));
        assert_eq!(bucket("+Inf"), Some(4.0));
        assert_eq!(
            value_of(samples, "response_size_bytes_count", &app(&[])),
            Some(4.0)
        );
        assert_eq!(
            value_of(samples, "response_size_bytes_sum", &app(&[])),
            Some(1e9 + 5200.0)
        );
        // A tag the series sets itself wins over the global tag of the same name.
        let latency = |extra: &[(&'static str, &'static str)]| {
            let mut l = extra.to_vec();
            l.extend([
                ("region", "eu-west-1"),
                ("note", "x,y"),
                ("mp_app", "shop"),
                ("mp_scope", "application"),
            ]);
            l
        };
        assert_eq!(
            value_of(
                samples,
                "outbound_http_latency_seconds_count",
                &latency(&[])
            ),
            Some(2.0)
        );
        assert_eq!(
            value_of(
                samples,
                "outbound_http_latency_seconds_bucket",
                &latency(&[("le", "0.025")])
            ),
            Some(1.0)
        );
        let median = value_of(samples, "payload_bytes", &app(&[("quantile", "0.5")])).unwrap();
        assert!((median - 50.0).abs() <= 1.0, "median {median}");
        assert_eq!(
            value_of(samples, "payload_bytes_count", &app(&[])),
            Some(100.0)
        );
        assert_eq!(
            value_of(samples, "payload_bytes_sum", &app(&[])),
            Some(5050.0)
        );
        assert_eq!(
            value_of(samples, "payload_bytes_max", &app(&[])),
            Some(100.0)
        );
        assert!(value_of(samples, "idle", &app(&[("quantile", "0.5")]))
            .unwrap()
            .is_nan());
        assert!(value_of(samples, "idle_max", &app(&[])).unwrap().is_nan());
        assert_eq!(
            value_of(
                samples,
                "http_requests_total",
                &app(&[("method", "GET"), ("path", "/x")])
            ),
            Some(7.0)
        );
        assert_eq!(
            value_of(
                samples,
                "http_requests_total",
                &app(&[("method", "POST"), ("path", NASTY)])
            ),
            Some(1.0)
        );
        assert_eq!(
            value_of(samples, "cpu_percent", &labels(&[], "base")),
            Some(50.0)
        );
        assert_eq!(
            value_of(samples, "gc_runs_total", &labels(&[], "vendor")),
            Some(1.0)
        );
        assert_eq!(
            value_of(samples, "invoices_total", &labels(&[], "billing")),
            Some(9.0)
        );
    }
}

#[test]
fn metadata_lines_follow_each_format() {
    let r = populated();
    let om = r.encode_to_string(Format::OpenMetrics, Selection::All);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE requests counter\n"));
    assert!(om.contains("# TYPE energy_joules counter\n# UNIT energy_joules joules\n"));
    assert!(om.contains("# HELP energy_joules Energy \\\\ used\\nsecond line.\n"));
    assert!(om.contains("# UNIT response_size_bytes bytes\n"));
    let prom = r.encode_to_string(Format::Prometheus, Selection::All);
    assert!(!prom.contains("# EOF"));
    assert!(!prom.contains("# UNIT"));
    assert!(prom.contains("# TYPE requests_total counter\n"));
    // HELP and TYPE exactly once per family, families contiguous.
    let mut seen = std::collections::HashSet::new();
    for line in prom.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(seen.insert(line.to_owned()), "duplicate {line}");
    }
    // HELP text is read back unescaped by both parsers.
    for (parser, text, name) in [
        (Parser::Prometheus, &prom, "energy_joules"),
        (Parser::OpenMetrics, &om, "energy_joules"),
    ] {
        let families = python_parse(parser, text).unwrap();
        let energy = families.iter().find(|f| f.name == name).unwrap();
        assert_eq!(energy.help, "Energy \\ used\nsecond line.");
    }
    // Deterministic: the same registry encodes the same way twice.
    assert_eq!(prom, r.encode_to_string(Format::Prometheus, Selection::All));
}

#[test]
fn per_scope_and_per_name_selection() {
    let r = populated();
    let base = r.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Base));
    assert!(base.contains("cpu_percent{"));
    assert!(!base.contains("requests_total"));
    check_both_formats(
        &base,
        &r.encode_to_string(Format::OpenMetrics, Selection::Scope(&Scope::Base)),
    );

    let app = Scope::Application;
    for name in [
        "outbound_http_latency_seconds",
        "requests",
        "requests_total",
    ] {
        let mut text = String::new();
        let n = r
            .encode(&mut text, Format::Prometheus, Selection::Metric(&app, name))
            .unwrap();
        assert_eq!(n, 1, "{name}");
        microprofile_tests::promtool_check(&text).unwrap();
    }
    let mut text = String::new();
    assert_eq!(
        r.encode(
            &mut text,
            Format::Prometheus,
            Selection::Metric(&app, "nope")
        )
        .unwrap(),
        0
    );
    assert_eq!(
        r.encode(
            &mut text,
            Format::Prometheus,
            Selection::Metric(&Scope::Base, "requests")
        )
        .unwrap(),
        0
    );
    assert!(r.has_scope(&Scope::new("billing").unwrap()));
    assert!(!r.has_scope(&Scope::new("nothing_here").unwrap()));
}

#[test]
fn encodes_into_io_write() {
    let r = populated();
    let mut bytes = Vec::new();
    r.encode_to_io(&mut bytes, Format::OpenMetrics, Selection::All)
        .unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r.encode_to_string(Format::OpenMetrics, Selection::All)
    );
}

/// Histograms fed every kind of input the API takes: negative bounds, negative observations,
/// ±Inf and NaN. OpenMetrics 1.0 forbids a negative or NaN `_sum` and any `_sum` next to a
/// negative bound (and `_count` without `_sum`); the strict parser enforces all of it.
#[test]
fn histograms_with_negative_infinite_and_nan_input_stay_valid_in_both_formats() {
    let r = Registry::new();
    let histogram = |name: &'static str, buckets: Vec<f64>, values: &[f64]| {
        let h = r
            .histogram(Metadata::new(name).description("Some help."), Some(buckets))
            .unwrap();
        for &v in values {
            h.observe(v);
        }
    };
    let negative_bounds = Buckets::linear(-10.0, 5.0, 5).unwrap();
    histogram("negative_bounds", negative_bounds, &[-7.0, 3.0]);
    histogram("negative_values", vec![1.0], &[-1.0, 2.0]);
    histogram("positive_inf", vec![1.0], &[f64::INFINITY, 0.5]);
    histogram("negative_inf", vec![1.0], &[f64::NEG_INFINITY, 0.5]);
    histogram("both_inf", vec![1.0], &[f64::INFINITY, f64::NEG_INFINITY]);
    histogram("nan", vec![1.0], &[f64::NAN, 0.5]);
    histogram("plain", vec![1.0], &[0.5, 2.0]);
    let timer = r
        .timer(
            Metadata::new("skew_seconds").description("Clock skew."),
            None,
        )
        .unwrap();
    timer.observe(-0.5);
    timer.observe(0.25);

    let prom = r.encode_to_string(Format::Prometheus, Selection::All);
    let om = r.encode_to_string(Format::OpenMetrics, Selection::All);
    let (p, o) = check_both_formats(&prom, &om);
    let app = [("mp_scope", "application")];
    let inf = [("le", "+Inf"), ("mp_scope", "application")];
    // (name, observations counted, sum in Prometheus text, sum in OpenMetrics)
    let expected: [(&str, f64, f64, Option<f64>); 8] = [
        ("negative_bounds", 2.0, -4.0, None),
        ("negative_values", 2.0, 1.0, None),
        ("positive_inf", 2.0, f64::INFINITY, Some(f64::INFINITY)),
        ("negative_inf", 2.0, f64::NEG_INFINITY, None),
        ("both_inf", 2.0, f64::NAN, None),
        ("nan", 1.0, 0.5, Some(0.5)),
        ("plain", 2.0, 2.5, Some(2.5)),
        ("skew_seconds", 2.0, -0.25, None),
    ];
    for (name, count, prom_sum, om_sum) in expected {
        let sample = |samples: &[microprofile_tests::Sample], suffix: &str, labels: &[_]| {
            value_of(samples, &format!("{name}{suffix}"), labels)
        };
        // The +Inf bucket always carries the count.
        assert_eq!(sample(&p, "_bucket", &inf), Some(count), "{name}");
        assert_eq!(sample(&o, "_bucket", &inf), Some(count), "{name}");
        // Prometheus text keeps `_count` and `_sum`, whatever the sum.
        assert_eq!(sample(&p, "_count", &app), Some(count), "{name}");
        let sum = sample(&p, "_sum", &app).unwrap();
        assert!(
            sum == prom_sum || (sum.is_nan() && prom_sum.is_nan()),
            "{name}: {sum}"
        );
        // OpenMetrics has both only while the sum is a counter.
        assert_eq!(sample(&o, "_sum", &app), om_sum, "{name}");
        assert_eq!(sample(&o, "_count", &app), om_sum.map(|_| count), "{name}");
    }
    // The negative bound is exposed as such.
    assert_eq!(
        value_of(
            &o,
            "negative_bounds_bucket",
            &[("le", "-10.0"), ("mp_scope", "application")]
        ),
        Some(0.0)
    );
}
