//! A cardinality bomb: a million distinct label values into one family. Memory stays bounded
//! (resident set measured from /proc/self/statm), updates past the limit land in the overflow
//! series and are counted, and the output stays valid for promtool.

use std::sync::Arc;

use microprofile::metric::family::{DEFAULT_MAX_SERIES, OVERFLOW_LABEL_NAME, OVERFLOW_LABEL_VALUE};
use microprofile::{
    Counter, Family, Format, LabelSet, Metadata, Registry, Scope, Selection, Value,
};

#[derive(Clone, PartialEq, Eq, Hash)]
struct UserId(String);

impl LabelSet for UserId {
    const NAMES: &'static [&'static str] = &["user"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn overflow_total() -> f64 {
    match &microprofile::global().snapshot(Selection::Metric(
        &Scope::Vendor,
        "microprofile_cardinality_overflow",
    ))[0]
        .series[0]
        .value
    {
        Value::Counter(v) => *v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_million_distinct_values_stay_bounded() {
    const BOMB: usize = 1_000_000;
    let registry = Registry::new();
    let family: Arc<Family<UserId, Counter>> = Arc::new(Family::new(Counter::new()));
    registry
        .register(
            Metadata::new("logins").description("Logins by user."),
            family.clone(),
        )
        .unwrap();
    let overflow_before = overflow_total();

    // Fill to the limit first, then measure what the remaining ~990,000 values cost.
    for i in 0..DEFAULT_MAX_SERIES {
        family.with(&UserId(format!("user-{i}"))).inc();
    }
    let rss_at_limit = resident_bytes();
    for i in DEFAULT_MAX_SERIES..BOMB {
        family.with(&UserId(format!("user-{i}"))).inc();
    }
    let growth = resident_bytes().saturating_sub(rss_at_limit);
    assert!(
        growth < 8 << 20,
        "resident set grew by {growth} bytes past the limit"
    );

    assert_eq!(family.len(), DEFAULT_MAX_SERIES + 1);
    let redirected = (BOMB - DEFAULT_MAX_SERIES) as f64;
    assert!(overflow_total() - overflow_before >= redirected);

    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("logins_total{"))
            .count(),
        DEFAULT_MAX_SERIES + 1
    );
    let overflow_line = format!(
        "logins_total{{{OVERFLOW_LABEL_NAME}=\"{OVERFLOW_LABEL_VALUE}\",mp_scope=\"application\"}} {redirected}"
    );
    assert!(
        text.contains(&overflow_line.replace(".0", "")),
        "{overflow_line}"
    );
    microprofile_tests::promtool_check(&text).unwrap();
}
