//! Registration rules: statics collected with no call, conflicts reported once naming both
//! declaration sites, typed errors from the dynamic API, reuse, removal, custom scopes, panicking
//! callbacks, and global tags from the environment.

use microprofile::{
    CallbackGauge, Counter, Error, Format, Gauge, GlobalTags, Histogram, Metadata, Registry, Scope,
    Selection, Timer,
};

static GOOD: Counter = Counter::new();
microprofile::register!(
    GOOD,
    Metadata::new("registry_test_good").description("Fine.")
);

// The same name with another type, declared twice: a conflict naming both sites.
static CLASH_A: Counter = Counter::new();
microprofile::register!(
    CLASH_A,
    Metadata::new("registry_test_clash").description("A.")
);
static CLASH_B: Gauge = Gauge::new();
microprofile::register!(
    CLASH_B,
    Metadata::new("registry_test_clash").description("A.")
);

// The same identity twice: one metric (MicroProfile's "Reusing Metrics"), read as the sum.
static TWICE_A: Counter = Counter::new();
microprofile::register!(
    TWICE_A,
    Metadata::new("registry_test_twice").tags(&[("k", "v")])
);
static TWICE_B: Counter = Counter::new();
microprofile::register!(
    TWICE_B,
    Metadata::new("registry_test_twice").tags(&[("k", "v")])
);

// Invalid static metadata is refused, never a panic.
static INVALID: Counter = Counter::new();
microprofile::register!(
    INVALID,
    Metadata::new("registry_test_bad").tags(&[("le", "1")])
);
static BAD_BUCKETS: Timer = Timer::with_buckets(&[1.0, 0.5]);
microprofile::register!(BAD_BUCKETS, Metadata::new("registry_test_bad_buckets"));

// Tags distinguish series of one family; statics on two "call sites" with one name.
static EU: Timer = Timer::new();
microprofile::register!(
    EU,
    Metadata::new("registry_test_latency_seconds").tags(&[("region", "eu")])
);
static US: Timer = Timer::new();
microprofile::register!(
    US,
    Metadata::new("registry_test_latency_seconds").tags(&[("region", "us")])
);

// A gauge named like a sample of a histogram: refused, so the output never has two
// `registry_test_depth_count` samples.
static DEPTH: Histogram = Histogram::new();
microprofile::register!(DEPTH, Metadata::new("registry_test_depth"));
static DEPTH_COUNT: Gauge = Gauge::new();
microprofile::register!(DEPTH_COUNT, Metadata::new("registry_test_depth_count"));

fn panicking_gauge() -> f64 {
    panic!("user callback failed")
}
static PANICKY: CallbackGauge = CallbackGauge::new(panicking_gauge);
microprofile::register!(PANICKY, Metadata::new("registry_test_panicky"));

#[test]
fn statics_register_and_conflicts_name_both_sites() {
    let registry = Registry::with_statics(GlobalTags::none());
    GOOD.inc();
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains("registry_test_good_total{mp_scope=\"application\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("microprofile_registration_errors_total{mp_scope=\"vendor\"}"));

    let errors = registry.registration_errors();
    let this_file = file!();
    let clash = errors
        .iter()
        .find_map(|e| match e {
            Error::Conflict {
                name,
                first: Some(a),
                second: Some(b),
                ..
            } if name == "registry_test_clash" => Some((a, b)),
            _ => None,
        })
        .expect("type conflict reported");
    assert_eq!((clash.0.file, clash.1.file), (this_file, this_file));
    assert!(clash.0.line < clash.1.line);
    let message = errors
        .iter()
        .find(|e| e.to_string().contains("registry_test_clash"))
        .unwrap()
        .to_string();
    assert!(
        message.contains("registered as a counter, not a gauge"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{this_file}:{}", clash.0.line)),
        "{message}"
    );

    assert!(!errors
        .iter()
        .any(|e| matches!(e, Error::Conflict { name, .. } if name == "registry_test_twice")));
    TWICE_A.inc();
    TWICE_B.inc_by(2);
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains("registry_test_twice_total{k=\"v\",mp_scope=\"application\"} 3\n"),
        "{text}"
    );
    assert!(errors
        .iter()
        .any(|e| matches!(e, Error::InvalidTagName { name, .. } if name == "le")));
    assert!(errors
        .iter()
        .any(|e| matches!(e, Error::InvalidBuckets { .. })));
    let sample_clash = errors
        .iter()
        .find(|e| matches!(e, Error::Conflict { name, first: Some(_), second: Some(_), .. } if name == "registry_test_depth_count"))
        .expect("sample-name conflict reported")
        .to_string();
    assert!(
        sample_clash.contains("`registry_test_depth_count` as a family and sample name, which the histogram `registry_test_depth` already uses as a sample name"),
        "{sample_clash}"
    );
    assert!(!text.contains("# TYPE registry_test_depth_count"), "{text}");
    assert!(
        text.contains("# TYPE registry_test_depth histogram"),
        "{text}"
    );
    // The first declaration stays usable and exported.
    assert!(text.contains("# TYPE registry_test_clash_total counter"));
    assert!(!text.contains("registry_test_bad"));

    EU.observe(0.1);
    US.observe(0.2);
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert_eq!(
        text.matches("# TYPE registry_test_latency_seconds histogram")
            .count(),
        1
    );
    assert!(text
        .contains("registry_test_latency_seconds_count{region=\"eu\",mp_scope=\"application\"} 1"));
    assert!(text
        .contains("registry_test_latency_seconds_count{region=\"us\",mp_scope=\"application\"} 1"));

    // A panicking callback is skipped and counted; the scrape still succeeds.
    assert!(!text.contains("registry_test_panicky{"));
    assert!(text.contains("# TYPE registry_test_panicky gauge"));
    let panics_line = text
        .lines()
        .find(|l| l.starts_with("microprofile_callback_panics_total{"))
        .unwrap();
    assert!(!panics_line.ends_with(" 0"), "{panics_line}");
}

#[test]
fn dynamic_api_returns_typed_errors() {
    let r = Registry::new();
    assert!(matches!(
        r.counter(Metadata::named("9lives")),
        Err(Error::InvalidMetricName { .. })
    ));
    assert!(matches!(
        r.counter(Metadata::named("")),
        Err(Error::InvalidMetricName { .. })
    ));
    assert!(matches!(
        r.counter(Metadata::new("a").with_tag("bad-tag", "x")),
        Err(Error::InvalidTagName { .. })
    ));
    assert!(matches!(
        r.counter(Metadata::new("a").with_tag("__x", "x")),
        Err(Error::InvalidTagName { .. })
    ));
    for reserved in ["le", "quantile", "mp_scope", "mp_app"] {
        assert!(
            r.counter(Metadata::new("a").with_tag(reserved, "x"))
                .is_err(),
            "{reserved}"
        );
    }
    // A tag given twice is no error: the last value wins (MicroProfile's `lastTagValueTest`).
    r.counter(Metadata::new("a").with_tag("k", "1").with_tag("k", "2"))
        .unwrap()
        .inc();
    let text = r.encode_to_string(Format::Prometheus, Selection::All);
    assert!(text.contains("a_total{k=\"2\",mp_scope="), "{text}");
    assert!(!text.contains("k=\"1\""), "{text}");
    assert!(matches!(
        r.counter(Metadata::new("a").with_unit("sec onds")),
        Err(Error::InvalidUnit { .. })
    ));
    assert!(matches!(
        Scope::new("bad scope"),
        Err(Error::InvalidScopeName { .. })
    ));
    assert!(matches!(
        r.histogram(Metadata::new("h"), Some(vec![2.0, 1.0])),
        Err(Error::InvalidBuckets { .. })
    ));
    assert!(matches!(
        r.summary_with(
            Metadata::new("s"),
            vec![1.5],
            std::time::Duration::from_secs(1)
        ),
        Err(Error::InvalidQuantiles { .. })
    ));

    // Reuse: same name, scope and tags → the same metric, tags in any order.
    let a = r
        .counter(Metadata::new("jobs").with_tag("b", "1").with_tag("a", "2"))
        .unwrap();
    let b = r
        .counter(Metadata::new("jobs").with_tag("a", "2").with_tag("b", "1"))
        .unwrap();
    a.inc();
    assert_eq!(b.get(), 1);
    // Same family, other tag values → another series.
    let c = r
        .counter(Metadata::new("jobs").with_tag("a", "3").with_tag("b", "1"))
        .unwrap();
    assert_eq!(c.get(), 0);
    // Other tag names, type, or description → conflict / wrong type, reported as errors.
    assert!(matches!(
        r.counter(Metadata::new("jobs").with_tag("z", "1")),
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        r.gauge(Metadata::new("jobs").with_tag("a", "2").with_tag("b", "1")),
        Err(Error::Conflict { .. })
    ));
    let d = r
        .counter(Metadata::new("described").description("One."))
        .unwrap();
    assert!(matches!(
        r.counter(Metadata::new("described").description("Two.")),
        Err(Error::Conflict { .. })
    ));
    // An empty description is compatible with any.
    d.inc();
    assert_eq!(r.counter(Metadata::new("described")).unwrap().get(), 1);
    // Same declared name, another unit: it would be exposed under another name — a conflict.
    assert!(matches!(
        r.counter(Metadata::new("described").unit("bytes")),
        Err(Error::Conflict { .. })
    ));
    // Two families may not write the same family name in either format.
    // (`shop.orders` is the counter `shop_orders_total`, the OpenMetrics family `shop_orders`.)
    r.counter(Metadata::new("shop.orders")).unwrap();
    let clash = r
        .gauge(Metadata::new("shop_orders"))
        .unwrap_err()
        .to_string();
    assert!(
        clash.contains("`shop_orders` as a family and sample name, which the counter `shop.orders` (exposed as `shop_orders_total`) already uses as a family name"),
        "{clash}"
    );
    r.summary(Metadata::new("latency")).unwrap();
    let clash = r
        .gauge(Metadata::new("latency_max"))
        .unwrap_err()
        .to_string();
    assert!(clash.contains("latency_max"), "{clash}");
    // Callback gauges are not reusable.
    r.callback_gauge(Metadata::new("cb"), || 1.0).unwrap();
    assert!(r.callback_gauge(Metadata::new("cb"), || 2.0).is_err());

    // Removal.
    assert!(r.remove(&Scope::Application, "jobs", &[("b", "1"), ("a", "3")]));
    assert!(!r.remove(&Scope::Application, "jobs", &[("b", "1"), ("a", "3")]));
    let text = r.encode_to_string(Format::Prometheus, Selection::All);
    assert!(text.contains("jobs_total{a=\"2\",b=\"1\",mp_scope=\"application\"} 1"));
    assert!(!text.contains("a=\"3\""));
}

#[test]
fn invalid_float_updates_are_refused_and_counted() {
    let r = Registry::new();
    let before = microprofile::global()
        .snapshot(Selection::Metric(
            &Scope::Vendor,
            "microprofile_rejected_updates",
        ))
        .first()
        .map(|f| f.series[0].value.clone());
    let c = r.float_counter(Metadata::new("f")).unwrap();
    c.inc_by(-1.0);
    c.inc_by(f64::NAN);
    c.inc_by(f64::INFINITY);
    assert_eq!(c.get(), 0.0);
    let after = microprofile::global().snapshot(Selection::Metric(
        &Scope::Vendor,
        "microprofile_rejected_updates",
    ))[0]
        .series[0]
        .value
        .clone();
    let (microprofile::Value::Counter(after), Some(microprofile::Value::Counter(before))) =
        (after, before)
    else {
        panic!("rejected updates counter missing");
    };
    assert!(after >= before + 3.0);
}
