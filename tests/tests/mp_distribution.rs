//! MicroProfile Metrics 5.1 distribution configuration (issue 16 item 6,
//! `histogram-timer-config.adoc`), with the spec's own examples: the builder and the environment
//! (as MicroProfile Config maps `mp.metrics.distribution.*` to variables), applied to the
//! histograms, timers and summaries the run-time API makes; malformed entries reported and
//! skipped, never a panic. Every exposition is checked with promtool and both Python parsers.

use std::process::Command;

use microprofile::registry::{DistributionConfig, DistributionProperty};
use microprofile::{Error, Format, Metadata, Registry, Selection};
use microprofile_tests::{
    promtool_check_allowing, python_parse, samples, value_of, Parser, Sample,
};

/// Both formats checked by promtool (its naming lint flags the spec's own `alpha.histogram`:
/// allowed) and both Python parsers; the Prometheus text and its samples.
fn both(registry: &Registry) -> (String, Vec<Sample>) {
    let prom = registry.encode_to_string(Format::Prometheus, Selection::All);
    let om = registry.encode_to_string(Format::OpenMetrics, Selection::All);
    if let Err(e) = promtool_check_allowing(&prom, &["should not include type 'histogram'"]) {
        panic!("{e}\n---\n{prom}");
    }
    let parse = |parser, text: &str| {
        samples(&python_parse(parser, text).unwrap_or_else(|e| panic!("{e}\n---\n{text}")))
    };
    let prometheus = parse(Parser::Prometheus, &prom);
    parse(Parser::OpenMetrics, &om);
    (prom, prometheus)
}

/// The spec's samples: `alpha.histogram` with buckets 10, 50, 100 and the observations of its
/// sample output (2 at ≤ 10, one more at ≤ 50); `alpha.timer` with 500ms, 2s, 3m, in seconds.
#[test]
fn the_specs_bucket_examples_shape_the_exposition() {
    let config = DistributionConfig::new()
        .histogram_buckets("alpha.histogram=10.0,50.0,100.0;beta.histogram=30.0,50.0,123")
        .unwrap()
        .timer_buckets("alpha.timer=500ms,2s,3m;beta.timer=10s,2m,5h")
        .unwrap();
    let registry = Registry::new().with_distribution(config);
    let histogram = registry
        .histogram(Metadata::new("alpha.histogram").unit("cookies"), None)
        .unwrap();
    for v in [5.0, 9.0, 50.0] {
        histogram.observe(v);
    }
    let timer = registry.timer(Metadata::new("alpha.timer"), None).unwrap();
    timer.observe(0.7);
    timer.observe(5.633);
    // Explicit buckets are the caller's; a name nothing matches keeps the defaults.
    let explicit = registry
        .histogram(Metadata::new("beta.histogram"), Some(vec![1.0]))
        .unwrap();
    explicit.observe(0.5);
    let other = registry.timer(Metadata::new("gamma.timer"), None).unwrap();
    other.observe(0.001);
    let (text, samples) = both(&registry);
    let bucket =
        |name: &str, le: &str| value_of(&samples, name, &[("le", le), ("mp_scope", "application")]);
    assert_eq!(
        bucket("alpha_histogram_cookies_bucket", "10.0"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(bucket("alpha_histogram_cookies_bucket", "50.0"), Some(3.0));
    assert_eq!(bucket("alpha_histogram_cookies_bucket", "100.0"), Some(3.0));
    assert_eq!(bucket("alpha_histogram_cookies_bucket", "+Inf"), Some(3.0));
    assert_eq!(
        bucket("alpha_timer_seconds_bucket", "0.5"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(bucket("alpha_timer_seconds_bucket", "2.0"), Some(1.0));
    assert_eq!(bucket("alpha_timer_seconds_bucket", "180.0"), Some(2.0));
    assert_eq!(
        text.matches("alpha_timer_seconds_bucket{").count(),
        4,
        "three bounds and +Inf\n{text}"
    );
    assert_eq!(bucket("beta_histogram_bucket", "1.0"), Some(1.0));
    assert_eq!(text.matches("beta_histogram_bucket{").count(), 2, "{text}");
    assert_eq!(
        text.matches("gamma_timer_seconds_bucket{").count(),
        microprofile::DEFAULT_BUCKETS.len() + 1
    );
}

/// `mp.metrics.distribution.percentiles`, spec examples: the quantiles of the summaries (this
/// crate's percentile-tracking kind), later entries winning, and disabling.
#[test]
fn the_specs_percentile_examples_shape_the_summaries() {
    let config = DistributionConfig::new()
        .percentiles("alpha.*=0.6;alpha.test.histogram=0.4;quiet=")
        .unwrap();
    let registry = Registry::new().with_distribution(config);
    for name in ["alpha.any", "alpha.test.histogram", "quiet", "beta"] {
        registry
            .summary(Metadata::named(name))
            .unwrap()
            .observe(2.0);
    }
    let (text, samples) = both(&registry);
    let quantiles = |family: &str| -> Vec<String> {
        samples
            .iter()
            .filter(|s| s.name == family)
            .filter_map(|s| s.labels.get("quantile").cloned())
            .collect()
    };
    assert_eq!(quantiles("alpha_any"), ["0.6"], "{text}");
    assert_eq!(quantiles("alpha_test_histogram"), ["0.4"]);
    // Disabled: count, sum and max only.
    assert!(quantiles("quiet").is_empty(), "{text}");
    assert_eq!(
        value_of(&samples, "quiet_count", &[("mp_scope", "application")]),
        Some(1.0)
    );
    // No match: the defaults.
    assert_eq!(
        quantiles("beta").len(),
        microprofile::DEFAULT_QUANTILES.len()
    );
    // The whole property empty: every summary without quantiles.
    let registry =
        Registry::new().with_distribution(DistributionConfig::new().percentiles("").unwrap());
    registry.summary(Metadata::new("any")).unwrap().observe(1.0);
    let (text, _) = both(&registry);
    assert!(!text.contains("quantile="), "{text}");
}

/// Default buckets limited by the min and max values (the spec's optional properties).
#[test]
fn min_and_max_values_limit_the_default_buckets() {
    let config = DistributionConfig::new()
        .property(DistributionProperty::TimerMin, "slow.*=100ms")
        .unwrap()
        .property(DistributionProperty::TimerMax, "slow.*=2s")
        .unwrap();
    let registry = Registry::new().with_distribution(config);
    let timer = registry.timer(Metadata::new("slow.call"), None).unwrap();
    let bounds = timer.histogram().bounds().to_vec();
    assert_eq!(bounds.first(), Some(&0.1));
    assert_eq!(bounds.last(), Some(&2.0));
    assert!(bounds.iter().all(|b| (0.1..=2.0).contains(b)), "{bounds:?}");
    timer.observe(0.5);
    both(&registry);
}

const CHILD: &str = "MICROPROFILE_TEST_DISTRIBUTION_CHILD";

/// The global registry reads the properties from the environment, each name as MicroProfile
/// Config maps it (`MP_METRICS_DISTRIBUTION_TIMER_BUCKETS`, …, or the property name itself); a
/// malformed entry is a registration error and the rest applies. Runs in a child process, whose
/// environment is its own.
#[test]
fn the_global_registry_reads_the_environment() {
    if std::env::var_os(CHILD).is_some() {
        let global = microprofile::registry::global();
        let timer = global.timer(Metadata::new("alpha.timer"), None).unwrap();
        assert_eq!(timer.histogram().bounds(), [0.5, 2.0, 180.0]);
        let histogram = global
            .histogram(Metadata::new("beta.histogram"), None)
            .unwrap();
        assert_eq!(histogram.bounds(), [30.0, 50.0, 123.0]);
        let summary = global.summary(Metadata::new("alpha.summary")).unwrap();
        summary.observe(1.0);
        let text = global.encode_to_string(Format::Prometheus, Selection::All);
        assert!(
            text.contains("alpha_summary{mp_scope=\"application\",quantile=\"0.3\"}"),
            "{text}"
        );
        let errors = global.registration_errors();
        let invalid: Vec<&Error> = errors
            .iter()
            .filter(|e| matches!(e, Error::InvalidDistribution { .. }))
            .collect();
        assert_eq!(invalid.len(), 2, "{errors:?}");
        assert!(
            invalid.iter().any(|e| e
                .to_string()
                .contains("mp.metrics.distribution.timer.buckets")),
            "{invalid:?}"
        );
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "the_global_registry_reads_the_environment",
            "--nocapture",
        ])
        .env(CHILD, "1")
        // The upper-case variable, with one malformed entry (a float with a unit).
        .env(
            "MP_METRICS_DISTRIBUTION_TIMER_BUCKETS",
            "alpha.timer=500ms,2s,3m;bad=1.5s",
        )
        // The property name itself, as MicroProfile Config also looks it up.
        .env(
            "mp.metrics.distribution.histogram.buckets",
            "beta.histogram=30.0,50.0,123;broken",
        )
        .env("MP_METRICS_DISTRIBUTION_PERCENTILES", "alpha.*=0.3")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}
