//! Metric names at run time, as MicroProfile Metrics 5.1's TCK has them (`tck/rest`,
//! `MetricAppBean` registers four counters whose names hold `-`, `#`, `'`, `+`, `äöü` and `ê`;
//! `MpMetricTest.testPromNoBadCharsInNames` looks for their exposed forms): the run-time API takes
//! such names, exposes them with every character outside `[a-zA-Z0-9_]` replaced by `_`, still
//! selects them by the declared name (percent-encoded over HTTP) and by the exposed one, and
//! refuses two declared names that expose as one. Every exposition is read back by promtool and
//! both Python reference parsers.

use std::net::SocketAddr;

use microprofile::serve::auth::Auth;
use microprofile::{Error, Format, Metadata, Registry, Scope, Selection, Server};
use microprofile_tests::{http_get, promtool_report, python_parse, samples, Parser, Sample};

/// The names `MetricAppBean` gives its counters, each with the string
/// `testPromNoBadCharsInNames` expects to find in `/metrics?scope=application`.
const TCK_NAMES: [(&str, &str); 4] = [
    ("pm_counter-with-dashes", "pm_counter_with_dashes"),
    ("pm_counter#hash_x'y_", "pm_counter_hash_x_y_"),
    ("pm_counter-umlaut-äöü", "pm_counter_umlaut_"),
    ("pm_counter+accent_ê_", "pm_counter_accent_"),
];

/// The test's own model of the exposed name: each character (a Unicode scalar value) outside
/// `[a-zA-Z0-9_]` becomes one `_`.
fn model(declared: &str) -> String {
    declared
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The TCK's counters, the `i`-th incremented `i + 1` times.
fn tck_registry() -> &'static Registry {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    for (i, (declared, _)) in TCK_NAMES.iter().enumerate() {
        let counter = registry.counter(Metadata::new(declared)).unwrap();
        for _ in 0..=i {
            counter.inc();
        }
    }
    registry
}

/// promtool and both Python parsers on the two formats, as `microprofile_tests::check_both_formats`
/// does, except for the one lint finding the TCK's names themselves draw: they contain the
/// word `counter` (`pm_counter…`), which promtool's linter reports as "metric name should not
/// include type 'counter'" for a counter. Any other finding, and any parse error, fails.
fn check_both_formats(prometheus: &str, openmetrics: &str) -> (Vec<Sample>, Vec<Sample>) {
    let (status, findings) = promtool_report(prometheus).unwrap_or_else(|e| panic!("{e}"));
    let counters: Vec<&str> = prometheus
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    assert!(
        status == Some(0) || !findings.trim().is_empty(),
        "promtool failed silently"
    );
    for finding in findings.lines().filter(|l| !l.trim().is_empty()) {
        let tolerated = finding
            .strip_suffix(" metric name should not include type 'counter'")
            .is_some_and(|name| counters.contains(&name) && name.contains("counter"));
        assert!(tolerated, "promtool: {finding}\n---\n{prometheus}");
    }
    let prom = python_parse(Parser::Prometheus, prometheus).unwrap_or_else(|e| panic!("{e}"));
    let om = python_parse(Parser::OpenMetrics, openmetrics).unwrap_or_else(|e| panic!("{e}"));
    (samples(&prom), samples(&om))
}

fn sample<'a>(samples: &'a [Sample], name: &str) -> Option<&'a Sample> {
    let found: Vec<&Sample> = samples.iter().filter(|s| s.name == name).collect();
    assert!(found.len() <= 1, "{name} appears {} times", found.len());
    found.first().copied()
}

/// `testPromNoBadCharsInNames`: every TCK name is registered, and exposed under its model name,
/// which holds the TCK's expected string; both formats pass promtool and the parsers.
#[test]
fn tck_names_are_exposed_as_the_tck_expects() {
    let registry = tck_registry();
    let app = Scope::Application;
    let prometheus = registry.encode_to_string(Format::Prometheus, Selection::Scope(&app));
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::Scope(&app));
    let (prom, om) = check_both_formats(&prometheus, &openmetrics);
    for (i, (declared, tck_expects)) in TCK_NAMES.iter().enumerate() {
        let exposed = model(declared);
        assert!(exposed.contains(tck_expects), "{exposed} / {tck_expects}");
        assert!(
            prometheus.contains(tck_expects) && openmetrics.contains(tck_expects),
            "{tck_expects}:\n{prometheus}"
        );
        let count = (i + 1) as f64;
        for (format, samples) in [("prometheus", &prom), ("openmetrics", &om)] {
            let total = format!("{exposed}_total");
            let found = sample(samples, &total).unwrap_or_else(|| panic!("{format}: {total}"));
            assert_eq!(found.value, count, "{format}: {total}");
        }
        assert!(
            prometheus.contains(&format!("# TYPE {exposed}_total counter\n")),
            "{prometheus}"
        );
        assert!(
            openmetrics.contains(&format!("# TYPE {exposed} counter\n")),
            "{openmetrics}"
        );
    }
    // No declared character outside `[a-zA-Z0-9_]` reaches the output's names.
    for s in prom.iter().chain(&om) {
        assert!(
            s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{}",
            s.name
        );
    }
}

/// Percent-encodes every byte outside the URL's unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The exposed family names (`# TYPE` lines) of a Prometheus text.
fn families(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect()
}

/// One metric is selected by its declared name and by its exposed names, in the API and over
/// HTTP (`/metrics?scope=application&name=…` and `/metrics/application/…`, percent-encoded).
#[test]
fn selected_by_declared_and_by_exposed_name() {
    let registry = tck_registry();
    let app = Scope::Application;
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry)
        .auth(Auth::None)
        .start()
        .unwrap();
    let addr: SocketAddr = server.local_addr();
    for (i, (declared, _)) in TCK_NAMES.iter().enumerate() {
        let exposed = model(declared);
        let expected_family = format!("{exposed}_total");
        let count = (i + 1) as f64;
        let by = [
            declared.to_string(),
            exposed.clone(),
            expected_family.clone(),
        ];
        for name in &by {
            let text = registry.encode_to_string(Format::Prometheus, Selection::Metric(&app, name));
            assert_eq!(
                families(&text),
                [expected_family.as_str()],
                "{name}:\n{text}"
            );
            let encoded = percent_encode(name);
            for target in [
                format!("/metrics?scope=application&name={encoded}"),
                format!("/metrics/application/{encoded}"),
            ] {
                let response = http_get(addr, &target, Some("text/plain")).unwrap();
                assert_eq!(response.status, 200, "{target}: {}", response.body);
                let (prom, _) = check_both_formats(
                    &response.body,
                    &registry.encode_to_string(Format::OpenMetrics, Selection::Metric(&app, name)),
                );
                assert_eq!(
                    families(&response.body),
                    [expected_family.as_str()],
                    "{target}"
                );
                let found = sample(&prom, &expected_family).unwrap();
                assert_eq!(found.value, count, "{target}");
            }
        }
    }
}

/// Two declared names with one exposed form are a conflict, whatever the metric types; the
/// first keeps its name and its value.
#[test]
fn declared_names_exposed_as_one_conflict() {
    let registry = Registry::new();
    let (first, _) = TCK_NAMES[0];
    registry.counter(Metadata::new(first)).unwrap().inc();
    let exposed = model(first);
    // Other declared names with the same model name: each other character in turn.
    let others: Vec<String> = ['.', '#', '\'', '+', 'ä', 'ê']
        .iter()
        .map(|c| first.replace('-', &c.to_string()))
        .chain([exposed.clone()])
        .collect();
    for other in &others {
        assert_eq!(model(other), exposed);
        let refused = registry.counter(Metadata::named(other.clone()));
        assert!(
            matches!(&refused, Err(Error::Conflict { .. })),
            "{other}: {refused:?}"
        );
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(first), "{message}");
        let gauge = registry.gauge(Metadata::named(other.clone()));
        assert!(matches!(gauge, Err(Error::Conflict { .. })), "{other}");
    }
    // The first still counts, under its own name.
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    let (prom, _) = check_both_formats(&text, &openmetrics);
    assert_eq!(
        sample(&prom, &format!("{exposed}_total")).unwrap().value,
        1.0
    );
    assert_eq!(families(&text), [format!("{exposed}_total")]);
}

/// What the run-time API still refuses, as typed errors: an empty name, a control character
/// (the exposed name would hide it), and a leading digit (no replacement can make an exposed
/// name start with one).
#[test]
fn refused_names_are_typed_errors() {
    let registry = Registry::new();
    for (name, reason) in [
        ("", "empty"),
        ("pm_counter\nx", "control character"),
        ("pm\u{7f}", "control character"),
        ("\t", "control character"),
        ("9lives", "starts with a digit"),
    ] {
        let refused = registry.counter(Metadata::new(name));
        match &refused {
            Err(error @ Error::InvalidMetricName { name: given, .. }) => {
                assert_eq!(given, name);
                assert!(error.to_string().contains(reason), "{error}");
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        families(&text).is_empty(),
        "nothing refused is exposed:\n{text}"
    );
}
