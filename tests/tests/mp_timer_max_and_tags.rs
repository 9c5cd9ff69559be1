//! MicroProfile Metrics 5.1 conformance, issue 16 items 3 and 4, after the spec's own examples:
//!
//! - a timer exposes `<name>_seconds_max` as a gauge family written after its histogram, with
//!   the timer's own description as HELP (`rest-endpoints.adoc`, "Timer"; the `_seconds_max`
//!   samples of `histogram-timer-config.adoc` and the TCK's `HistogramTimerConfigurationTest`),
//!   and so does a summary's `_max`;
//! - a tag given twice at run time keeps its last value (TCK `TagsTest.lastTagValueTest`:
//!   `colour=red`, then `colour=blue`, is the metric with `colour="blue"`).
//!
//! Every exposition is checked with promtool and the Python reference parsers.

use std::sync::Arc;
use std::time::Duration;

use microprofile::{
    Error, Family, Format, LabelSet, Metadata, MetricType, Registry, Scope, Selection, Timer,
};
use microprofile_tests::{
    check_both_formats, promtool_check_allowing, promtool_reads_openmetrics, python_parse,
    value_of, ParsedFamily, Parser,
};

/// `promtool check metrics` on `text`, allowing only the lint findings that the TCK's own names
/// draw (`timerMe` is camelCase, `…TagTest.counter.lastTag` has "counter" in a counter's name):
/// a clean run, or lint status 3 with those findings alone. A parse error is status 1.
fn promtool_accepts(text: &str) {
    let allowed = [
        "should be written in 'snake_case' not 'camelCase'",
        "metric name should not include type 'counter'",
    ];
    if let Err(e) = promtool_check_allowing(text, &allowed) {
        panic!("{e}\n---\n{text}");
    }
}

/// Both formats of the whole registry, checked by promtool (see [`promtool_accepts`]) and the
/// strict Python parsers; returns the texts and the families each parser read.
fn parsed(registry: &Registry) -> (String, String, Vec<ParsedFamily>, Vec<ParsedFamily>) {
    let prometheus = registry.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    promtool_accepts(&prometheus);
    if promtool_reads_openmetrics() {
        promtool_accepts(&openmetrics);
    }
    let prom = python_parse(Parser::Prometheus, &prometheus).unwrap();
    let om = python_parse(Parser::OpenMetrics, &openmetrics).unwrap();
    (prometheus, openmetrics, prom, om)
}

fn family<'a>(families: &'a [ParsedFamily], name: &str) -> &'a ParsedFamily {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name} in {families:?}"))
}

/// The exposed name of the one family of this type (derived by the registry, not written out
/// here).
fn exposed(registry: &Registry, metric_type: MetricType) -> String {
    let infos = registry.families(Selection::All);
    let found: Vec<_> = infos
        .iter()
        .filter(|i| i.metric_type == metric_type)
        .collect();
    assert_eq!(found.len(), 1, "{infos:?}");
    found[0].name.clone()
}

/// The spec's timer example: `myClass_myMethod_seconds`, described "duration of myMethod", in
/// scope vendor. Its maximum is a gauge family of its own after the histogram, with the same
/// HELP, and the largest duration recorded as its value.
#[test]
fn a_timer_writes_its_seconds_max_gauge_after_the_histogram() {
    let registry = Registry::new();
    let description = "duration of myMethod";
    let timer = registry
        .timer(
            Metadata::new("myClass_myMethod")
                .description(description)
                .scope(Scope::Vendor),
            None,
        )
        .unwrap();
    // Durations in the spirit of the TCK's `TimerTest` (nanoseconds up to 990), in another order.
    let durations: Vec<Duration> = (0..=99u64)
        .map(|i| Duration::from_nanos((i * 37 % 100) * 10))
        .collect();
    for &d in &durations {
        timer.record(d);
    }
    let largest = durations
        .iter()
        .map(Duration::as_secs_f64)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(timer.max(), largest);

    let name = exposed(&registry, MetricType::Timer);
    let max_name = format!("{name}_max");
    let (prometheus, openmetrics, prom, om) = parsed(&registry);
    for (text, families, format) in [
        (&prometheus, &prom, "prometheus"),
        (&openmetrics, &om, "openmetrics"),
    ] {
        let histogram = family(families, &name);
        assert_eq!(histogram.kind, "histogram", "{format}");
        let max = family(families, &max_name);
        assert_eq!(max.kind, "gauge", "{format}");
        // The timer's own description on both HELP lines.
        assert_eq!(histogram.help, description, "{format}");
        assert_eq!(max.help, description, "{format}");
        let samples: Vec<_> = max.samples.iter().collect();
        assert_eq!(samples.len(), 1, "{format}: {samples:?}");
        assert_eq!(samples[0].name, max_name);
        assert_eq!(samples[0].value, largest, "{format}");
        let labels: Vec<_> = samples[0].labels.iter().collect();
        assert_eq!(labels, [(&"mp_scope".to_owned(), &"vendor".to_owned())]);
        // Written after the histogram: its TYPE line follows the histogram's last sample.
        let lines: Vec<&str> = text.lines().collect();
        let last_histogram = lines
            .iter()
            .rposition(|l| l.starts_with(&format!("{name}_")) && !l.starts_with(&max_name))
            .unwrap();
        let max_type = lines
            .iter()
            .position(|l| *l == format!("# TYPE {max_name} gauge"))
            .unwrap();
        assert!(max_type > last_histogram, "{format}:\n{text}");
        assert_eq!(
            lines.get(max_type - 1).copied(),
            Some(format!("# HELP {max_name} {description}").as_str())
        );
    }
    // OpenMetrics: the histogram keeps its unit; `x_seconds_max` does not end in its unit, so it
    // has no `# UNIT` line.
    assert_eq!(family(&om, &name).unit, "seconds");
    assert!(openmetrics.contains(&format!("# UNIT {name} seconds\n")));
    assert!(!openmetrics.contains(&format!("# UNIT {max_name}")));
    // The count the histogram exposes is every duration recorded.
    let count = value_of(
        &microprofile_tests::samples(&prom),
        &format!("{name}_count"),
        &[("mp_scope", "vendor")],
    );
    assert_eq!(count, Some(durations.len() as f64));
}

/// The sample of `histogram-timer-config.adoc`, `alpha_timer_seconds_max`: a snake_case name, so
/// the output passes promtool's lint whole, in both formats.
#[test]
fn the_spec_s_alpha_timer_passes_promtool_lint_and_both_parsers() {
    let registry = Registry::new();
    let timer = registry
        .timer(
            Metadata::new("alpha.timer").description("Alpha timer."),
            None,
        )
        .unwrap();
    let recorded = [5.633, 0.5, 2.25];
    for seconds in recorded {
        timer.observe(seconds);
    }
    let name = exposed(&registry, MetricType::Timer);
    let prometheus = registry.encode_to_string(Format::Prometheus, Selection::All);
    let openmetrics = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    let (prom, om) = check_both_formats(&prometheus, &openmetrics);
    let largest = recorded.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for samples in [&prom, &om] {
        let max = value_of(
            samples,
            &format!("{name}_max"),
            &[("mp_scope", "application")],
        );
        assert_eq!(max, Some(largest));
    }
    assert!(
        prometheus.contains(&format!("# TYPE {name}_max gauge\n")),
        "{prometheus}"
    );
}

/// The TCK's timers with `tier="integration"`: each series of a timer has its own maximum, with
/// its own labels, and a timer with no recording yet exposes NaN (as a summary with an empty
/// window does).
#[test]
fn each_series_has_its_own_max() {
    let registry = Registry::new();
    let tiers = [("integration", 0.25), ("unit", 1.5), ("idle", f64::NAN)];
    for (tier, seconds) in tiers {
        let timer = registry
            .timer(
                Metadata::named(String::from("annotatedTimerNoPercentile")).with_tag("tier", tier),
                None,
            )
            .unwrap();
        if !seconds.is_nan() {
            timer.observe(seconds / 2.0);
            timer.observe(seconds);
        }
    }
    // A labelled family of timers: one maximum per label set.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
    struct Route {
        path: String,
    }
    let routes = Arc::new(Family::<Route, Timer>::new(Timer::new()));
    registry
        .register(Metadata::new("route_latency"), routes.clone())
        .unwrap();
    let paths = [("/a", 0.125), ("/b", 4.0)];
    for (path, seconds) in paths {
        let series = routes.with(&Route {
            path: path.to_owned(),
        });
        series.observe(seconds);
        series.observe(seconds / 4.0);
    }
    let (_, _, prom, om) = parsed(&registry);
    for families in [&prom, &om] {
        let samples = microprofile_tests::samples(families);
        for (tier, seconds) in tiers {
            let max = value_of(
                &samples,
                "annotatedTimerNoPercentile_seconds_max",
                &[("tier", tier), ("mp_scope", "application")],
            )
            .unwrap();
            assert!(
                max == seconds || (max.is_nan() && seconds.is_nan()),
                "{tier}"
            );
        }
        for (path, seconds) in paths {
            let max = value_of(
                &samples,
                "route_latency_seconds_max",
                &[("path", path), ("mp_scope", "application")],
            );
            assert_eq!(max, Some(seconds), "{path}");
        }
    }
}

/// A summary's `_max` has the summary's own description as HELP too (the spec's histogram
/// example `distance_to_hole_meters_max`: "Distance of golf ball to hole" on both families), and
/// a metric with no description has the same fallback HELP on both.
#[test]
fn max_families_have_the_metric_s_own_help() {
    let registry = Registry::new();
    let description = "Distance of golf ball to hole";
    let golf = Scope::new("golf_stats").unwrap();
    let summary = registry
        .summary(
            Metadata::new("distance_to_hole")
                .unit("meters")
                .description(description)
                .scope(golf),
        )
        .unwrap();
    for meters in [2.5, 12.75, 0.5] {
        summary.observe(meters);
    }
    registry
        .timer(Metadata::new("undescribed"), None)
        .unwrap()
        .observe(0.5);
    let summary_name = exposed(&registry, MetricType::Summary);
    let timer_name = exposed(&registry, MetricType::Timer);
    let (_, _, prom, om) = parsed(&registry);
    for families in [&prom, &om] {
        assert_eq!(family(families, &summary_name).help, description);
        let max = family(families, &format!("{summary_name}_max"));
        assert_eq!(max.help, description);
        assert_eq!(max.kind, "gauge");
        assert_eq!(max.samples[0].value, 12.75);
        let timer_help = &family(families, &timer_name).help;
        assert_eq!(
            &family(families, &format!("{timer_name}_max")).help,
            timer_help
        );
    }
}

/// `x_seconds_max` belongs to the timer `x`: another metric cannot take it, in either order of
/// registration, and it selects the timer (both its families) on its own.
#[test]
fn the_timer_max_name_is_reserved_and_selects_the_timer() {
    let registry = Registry::new();
    registry
        .timer(Metadata::new("timerMe"), None)
        .unwrap()
        .observe(0.5);
    let max_name = format!("{}_max", exposed(&registry, MetricType::Timer));
    for result in [
        registry.gauge(Metadata::named(max_name.clone())).map(drop),
        registry
            .summary(Metadata::named(max_name.clone()))
            .map(drop),
        registry
            .counter(Metadata::named(max_name.clone()))
            .map(drop),
    ] {
        match result {
            Err(Error::Conflict { reason, .. }) => {
                assert!(reason.contains(&format!("`{max_name}`")), "{reason}")
            }
            other => panic!("{max_name}: expected a conflict, got {other:?}"),
        }
    }
    // The other order: a gauge holds the name first, so the timer is refused.
    let other = Registry::new();
    other
        .gauge(Metadata::named(max_name.clone()))
        .unwrap()
        .set(1);
    assert!(matches!(
        other.timer(Metadata::new("timerMe"), None),
        Err(Error::Conflict { .. })
    ));
    // Selecting by the `_max` family name writes the whole timer, valid in both formats.
    let app = Scope::Application;
    let prometheus =
        registry.encode_to_string(Format::Prometheus, Selection::Metric(&app, &max_name));
    let openmetrics =
        registry.encode_to_string(Format::OpenMetrics, Selection::Metric(&app, &max_name));
    promtool_accepts(&prometheus);
    python_parse(Parser::Prometheus, &prometheus).unwrap();
    python_parse(Parser::OpenMetrics, &openmetrics).unwrap();
    for text in [&prometheus, &openmetrics] {
        assert!(
            text.contains(&format!("# TYPE {max_name} gauge\n")),
            "{text}"
        );
        assert!(text.contains(" histogram\n"), "{text}");
    }
}

/// TCK `TagsTest.lastTagValueTest`: a counter registered with `colour=red` and then
/// `colour=blue` is the counter with only `colour="blue"`, found again by that tag alone.
#[test]
fn the_last_value_of_a_tag_given_twice_wins() {
    let registry = Registry::new();
    let name = "org.eclipse.microprofile.metrics.tck.TagTest.counter.lastTag";
    let counter = registry
        .counter(
            Metadata::new(name)
                .with_tag("colour", "red")
                .with_tag("colour", "blue"),
        )
        .unwrap();
    counter.inc();
    // The metric "with only colour=blue" is the same one.
    registry
        .counter(Metadata::new(name).with_tag("colour", "blue"))
        .unwrap()
        .inc();
    let exposed_name = exposed(&registry, MetricType::Counter);
    let infos = registry.families(Selection::All);
    assert_eq!(infos[0].tag_names, ["colour"]);
    let (_, _, prom, om) = parsed(&registry);
    for families in [&prom, &om] {
        let samples = microprofile_tests::samples(families);
        let blue = value_of(
            &samples,
            &exposed_name,
            &[("colour", "blue"), ("mp_scope", "application")],
        );
        assert_eq!(blue, Some(2.0));
        assert!(samples
            .iter()
            .all(|s| s.labels.get("colour").is_none_or(|v| v == "blue")));
    }
    assert!(registry.remove(&Scope::Application, name, &[("colour", "blue")]));
}

/// The same rule wherever tags are given at run time: among other tags, in a static list
/// (`Metadata::tags`), after a static list, and for every type; `validate` accepts it, and
/// `tag_list` lists the name once, with its last value.
#[test]
fn every_run_time_tag_list_keeps_the_last_value() {
    const TAGS: &[(&str, &str)] = &[("colour", "red"), ("planet", "earth"), ("colour", "blue")];
    const STATIC: Metadata = Metadata::new("counterColour").tags(TAGS);
    let dynamic = Metadata::new("timerColour")
        .with_tag("colour", "red")
        .with_tag("planet", "earth")
        .with_tag("colour", "blue");
    let after_static = Metadata::new("histogramColour")
        .tags(TAGS)
        .with_tag("planet", "mars")
        .with_tag("colour", "green");
    let cases = [
        (STATIC, "counterColour", "blue", "earth"),
        (dynamic, "timerColour", "blue", "earth"),
        (after_static, "histogramColour", "green", "mars"),
    ];
    for (metadata, _, colour, planet) in &cases {
        assert!(metadata.validate().is_ok());
        let mut tags: Vec<_> = metadata.tag_list().collect();
        tags.sort();
        assert_eq!(
            tags,
            [("colour", *colour), ("planet", *planet)],
            "{metadata:?}"
        );
    }
    let registry = Registry::new();
    let [(counter, ..), (timer, ..), (histogram, ..)] = cases.clone();
    registry.counter(counter).unwrap().inc_by(3);
    registry.timer(timer, None).unwrap().observe(0.5);
    registry.histogram(histogram, None).unwrap().observe(1.0);
    let (_, _, prom, om) = parsed(&registry);
    for families in [&prom, &om] {
        let mut checked = 0;
        for (_, declared, colour, planet) in &cases {
            let samples = families
                .iter()
                .filter(|f| f.name.starts_with(declared))
                .flat_map(|f| &f.samples);
            for sample in samples {
                let labels = (
                    sample.labels.get("colour").map(String::as_str),
                    sample.labels.get("planet").map(String::as_str),
                );
                assert_eq!(labels, (Some(*colour), Some(*planet)), "{}", sample.name);
                checked += 1;
            }
        }
        // A counter sample, a timer's buckets, count, sum and max, a histogram's.
        assert!(checked > 20, "{checked}");
    }
}

/// What stays refused: a name given twice in an attribute's `tags(...)` is a compile error (the
/// trybuild cases of `tests/ui`), and a tag named like a label of the family it is registered
/// with cannot have one value win for every series.
#[test]
fn a_tag_named_like_a_family_label_is_still_refused() {
    #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
    struct Colour {
        colour: String,
    }
    let registry = Registry::new();
    let family = Arc::new(Family::<Colour, Timer>::new(Timer::new()));
    let result = registry.register(Metadata::new("painted").with_tag("colour", "red"), family);
    assert!(
        matches!(&result, Err(Error::DuplicateTag { name }) if name == "colour"),
        "{result:?}"
    );
}
