//! Sample-name collisions between families (issue 12, item 3): every name a family uses in either
//! format (family names, sample names, the names OpenMetrics reserves for its type) belongs to
//! that family alone, so no registration can make the output write one name twice.

use microprofile::{Error, Format, Metadata, Registry, Scope, Selection};

use microprofile_tests::{check_both_formats, promtool_report, python_parse, Parser};

/// The reason of a `Conflict`, failing the test on anything else.
fn conflict_reason(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Conflict { reason, .. }) => reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn histogram(r: &Registry, name: &str) -> Result<(), Error> {
    r.histogram(Metadata::named(name.to_owned()), None)
        .map(|h| h.observe(0.5))
}

fn summary(r: &Registry, name: &str) -> Result<(), Error> {
    r.summary(Metadata::named(name.to_owned()))
        .map(|s| s.observe(0.5))
}

fn gauge(r: &Registry, name: &str) -> Result<(), Error> {
    r.gauge(Metadata::named(name.to_owned())).map(|g| g.set(1))
}

fn counter(r: &Registry, name: &str) -> Result<(), Error> {
    r.counter(Metadata::named(name.to_owned())).map(|c| c.inc())
}

#[test]
fn a_gauge_named_like_a_histogram_sample_is_refused_in_both_orders() {
    for suffix in ["_count", "_sum", "_bucket", "_created"] {
        let r = Registry::new();
        histogram(&r, "x").unwrap();
        let reason = conflict_reason(gauge(&r, &format!("x{suffix}")));
        assert!(reason.contains(&format!("`x{suffix}`")), "{reason}");
        assert!(reason.contains("histogram `x`"), "{reason}");

        let r = Registry::new();
        gauge(&r, &format!("x{suffix}")).unwrap();
        let reason = conflict_reason(histogram(&r, "x"));
        assert!(reason.contains(&format!("`x{suffix}`")), "{reason}");
        assert!(reason.contains(&format!("gauge `x{suffix}`")), "{reason}");
    }
    // A histogram whose family name is another histogram's sample name, too.
    let r = Registry::new();
    histogram(&r, "x").unwrap();
    conflict_reason(histogram(&r, "x_count"));
    conflict_reason(summary(&r, "x_sum"));
    // A counter `x_count` is exposed as `x_count_total`, but its OpenMetrics family is `x_count`.
    conflict_reason(counter(&r, "x_count"));
}

#[test]
fn a_gauge_named_like_a_summary_sample_is_refused_in_both_orders() {
    for suffix in ["_count", "_sum", "_max", "_created"] {
        let r = Registry::new();
        summary(&r, "s").unwrap();
        let reason = conflict_reason(gauge(&r, &format!("s{suffix}")));
        assert!(reason.contains(&format!("`s{suffix}`")), "{reason}");
        assert!(reason.contains("summary `s`"), "{reason}");

        let r = Registry::new();
        gauge(&r, &format!("s{suffix}")).unwrap();
        conflict_reason(summary(&r, "s"));
    }
    // The `_max` gauge family of a summary and another summary's family name.
    let r = Registry::new();
    summary(&r, "s").unwrap();
    conflict_reason(summary(&r, "s_max"));
}

#[test]
fn counters_collide_by_sample_name_and_by_openmetrics_family_name() {
    // `c` and `c_total` declare the same counter, exposed as `c_total` (OpenMetrics family `c`).
    for declared in ["c", "c_total"] {
        for other in ["c_total", "c", "c_created"] {
            let r = Registry::new();
            counter(&r, declared).unwrap();
            // (A gauge `c_total` is refused as the counter's own family of another type.)
            let reason = conflict_reason(gauge(&r, other));
            assert!(reason.contains("counter"), "{reason}");

            let r = Registry::new();
            gauge(&r, other).unwrap();
            conflict_reason(counter(&r, declared));
        }
    }
    // A histogram `c_total` would write the family `c_total` the counter's Prometheus text uses.
    let r = Registry::new();
    counter(&r, "c").unwrap();
    conflict_reason(histogram(&r, "c_total"));
}

#[test]
fn timers_own_their_histogram_samples_and_their_max() {
    let r = Registry::new();
    r.timer(Metadata::new("t"), None).unwrap().observe(0.25);
    // Exposed as `t_seconds`, with the gauge family `t_seconds_max` (MicroProfile Metrics 5.1).
    let reason = conflict_reason(gauge(&r, "t_seconds_max"));
    assert!(
        reason.contains("timer `t` (exposed as `t_seconds`)"),
        "{reason}"
    );
    conflict_reason(summary(&r, "t_seconds_max"));
    let reason = conflict_reason(gauge(&r, "t_seconds_count"));
    assert!(
        reason.contains("timer `t` (exposed as `t_seconds`)"),
        "{reason}"
    );
    conflict_reason(gauge(&r, "t_seconds_bucket"));
    conflict_reason(gauge(&r, "t_seconds"));
    check_output(&r);
}

#[test]
fn scopes_share_one_output() {
    // One family across scopes, as before.
    let r = Registry::new();
    histogram(&r, "x").unwrap();
    r.histogram(Metadata::new("x").scope(Scope::Vendor), None)
        .unwrap();
    // A colliding name is refused whatever its scope: `/metrics` writes every scope together.
    let custom = Scope::new("jobs").unwrap();
    conflict_reason(r.gauge(Metadata::new("x_count").scope(custom)));
    conflict_reason(r.gauge(Metadata::new("x_sum").scope(Scope::Vendor)));
    check_output(&r);
}

#[test]
fn removing_a_family_frees_its_names() {
    let r = Registry::new();
    histogram(&r, "x").unwrap();
    conflict_reason(gauge(&r, "x_count"));
    assert!(r.remove(&Scope::Application, "x", &[]));
    gauge(&r, "x_count").unwrap();
    // And the gauge now owns its name.
    conflict_reason(histogram(&r, "x"));
    check_parses(&r);
}

#[test]
fn names_that_only_look_alike_are_accepted_and_the_output_stays_valid() {
    let r = Registry::new();
    histogram(&r, "x").unwrap();
    summary(&r, "s").unwrap();
    counter(&r, "c").unwrap();
    for name in [
        "x_counts",
        "x_summary",
        "xcount",
        "x_max",
        "s_bucket",
        "s_maximum",
        "c_count",
        "c_sum",
        "c_bucket",
        "c_totals",
    ] {
        gauge(&r, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Refused attempts leave nothing behind.
    conflict_reason(gauge(&r, "x_count"));
    conflict_reason(gauge(&r, "s_max"));
    let text = r.encode_to_string(Format::Prometheus, Selection::All);
    assert_eq!(text.matches("# HELP x_count ").count(), 0, "{text}");
    check_parses(&r);
}

/// promtool (Prometheus text, lint included) and the strict Python parsers (both formats) accept
/// the output.
fn check_output(r: &Registry) {
    let prometheus = r.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = r.encode_to_string(Format::OpenMetrics, Selection::All);
    check_both_formats(&prometheus, &openmetrics);
}

/// promtool parses the Prometheus text (its lint may still dislike a gauge named `*_count`: exit
/// status 3, not the parse error of status 1 that a repeated name gives), and the strict Python
/// parsers accept both formats.
fn check_parses(r: &Registry) {
    let prometheus = r.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = r.encode_to_string(Format::OpenMetrics, Selection::All);
    let (status, report) = promtool_report(&prometheus).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(status, Some(0 | 3)) && !report.contains("error"),
        "promtool: {report}\n---\n{prometheus}"
    );
    for (parser, text) in [
        (Parser::Prometheus, &prometheus),
        (Parser::OpenMetrics, &openmetrics),
    ] {
        python_parse(parser, text).unwrap_or_else(|e| panic!("{e}"));
    }
}
