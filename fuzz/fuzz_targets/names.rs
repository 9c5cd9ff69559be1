//! Name, tag, unit and scope validation, exposed-name derivation, metadata checks and the
//! `MP_METRICS_TAGS` parser: never a panic, and every name accepted maps to a valid exposed name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::naming::{exposed_name, validate_metric_name, validate_tag_name, validate_unit};
use microprofile::{GlobalTags, Metadata, MetricType, Registry, Scope};

fn is_prometheus_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\u{1}');
    let name = parts.next().unwrap_or_default();
    let unit = parts.next().unwrap_or_default();
    let tag = parts.next().unwrap_or_default();
    let value = parts.next().unwrap_or_default();

    let name_ok = validate_metric_name(name).is_ok();
    let unit_ok = validate_unit(unit).is_ok();
    let _ = validate_tag_name(tag);
    let _ = Scope::new(tag.to_owned());
    for metric_type in [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::Summary,
        MetricType::Timer,
    ] {
        let exposed = exposed_name(name, metric_type, unit);
        if name_ok && unit_ok {
            assert!(is_prometheus_name(&exposed), "{name:?} + {unit:?} -> {exposed:?}");
        }
    }
    let metadata = Metadata::named(name.to_owned())
        .with_unit(unit.to_owned())
        .with_tag(tag.to_owned(), value.to_owned());
    let _ = metadata.validate();
    let registry = Registry::new();
    if let Ok(counter) = registry.counter(metadata) {
        counter.inc();
    }
    let _ = GlobalTags::parse(&text, Some(value));
});
