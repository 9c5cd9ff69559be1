//! Global tags and the application name come from the environment of the process. This binary
//! sets them before the global registry is first used, and checks a malformed entry is reported
//! while the valid ones are kept.

use microprofile::{Counter, Error, Format, Metadata, Selection};

static HITS: Counter = Counter::new();
microprofile::register!(
    HITS,
    Metadata::new("env_test_hits")
        .description("Hits.")
        .tags(&[("region", "local")])
);

#[test]
fn global_tags_from_environment() {
    // SAFETY: this test binary has one test, and nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var(
            "MP_METRICS_TAGS",
            r"app=shop,note=a\,b\=c,bad-name=x,region=eu-west-1",
        );
        std::env::set_var("MP_METRICS_APPNAME", "checkout");
    }
    HITS.inc();
    let registry = microprofile::global();
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    // The series' own `region` wins over the global one.
    assert!(
        text.contains("env_test_hits_total{region=\"local\",app=\"shop\",note=\"a,b=c\",mp_app=\"checkout\",mp_scope=\"application\"} 1\n"),
        "{text}"
    );
    assert!(registry
        .registration_errors()
        .iter()
        .any(|e| matches!(e, Error::InvalidGlobalTags { entry, .. } if entry == "bad-name=x")));
    microprofile_tests::promtool_check(&text).unwrap();
}
