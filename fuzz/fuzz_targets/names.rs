//! Name, tag, unit and scope validation, exposed-name derivation, metadata checks, the
//! get-or-create API and the `MP_METRICS_TAGS` parser, each against its documented rule.
//!
//! The oracle restates the documented grammars (`microprofile::naming`, `Scope::new`,
//! `Metadata::validate`, `GlobalTags::parse`) independently of the code: every check accepts
//! exactly what its rule accepts (the run-time API's names, `Metadata::validate`, being wider
//! than `validate_metric_name`'s), the exposed name is the one the documented steps give, a metric
//! registers exactly when its metadata validates, and tags written in `MP_METRICS_TAGS` syntax
//! parse back to what was written.
//!
//! Input: `name \x01 unit \x01 tag \x01 scope \x01 value`; the whole input is also parsed as an
//! `MP_METRICS_TAGS` value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::naming::{
    exposed_name, sanitize, validate_metric_name, validate_scope_name, validate_tag_name,
    validate_unit, RESERVED_TAG_NAMES,
};
use microprofile::{Format, GlobalTags, Metadata, MetricType, Registry, Scope, Selection};

const TYPES: [MetricType; 5] = [
    MetricType::Counter,
    MetricType::Gauge,
    MetricType::Histogram,
    MetricType::Summary,
    MetricType::Timer,
];

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[a-zA-Z_][a-zA-Z0-9_.:-]*`
fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// What the run-time API takes as a declared name: not empty, no leading ASCII digit, no
/// control character (every other character is exposed as `_`).
fn is_declared_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if !c.is_ascii_digit()) && !s.chars().any(char::is_control)
}

/// An identifier, not starting with `__`, not reserved.
fn is_tag_name(s: &str) -> bool {
    is_identifier(s) && !s.starts_with("__") && !RESERVED_TAG_NAMES.contains(&s)
}

/// Empty, or `[a-zA-Z0-9_]+`.
fn is_unit(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The documented steps of `exposed_name`: characters outside `[a-zA-Z0-9_]` become `_`; the
/// unit (timers: `seconds`; `none` and the empty unit: none) is appended as `_<unit>` unless the
/// name already ends with that; counters end in `_total`, the unit going before it.
fn expected_exposed(declared: &str, metric_type: MetricType, unit: &str) -> String {
    let mut name: String = declared
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let counter = metric_type == MetricType::Counter;
    if counter {
        if let Some(stem) = name.strip_suffix("_total") {
            name = stem.to_owned();
        }
    }
    let unit = match (metric_type, unit) {
        (MetricType::Timer, _) => "seconds",
        (_, "none") => "",
        (_, unit) => unit,
    };
    if !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
        name.push('_');
        name.push_str(unit);
    }
    if counter {
        name.push_str("_total");
    }
    name
}

/// Writes tags in `MP_METRICS_TAGS` syntax, escaping `\`, `,` and `=`.
fn render_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let escape = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if matches!(c, '\\' | ',' | '=') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    tags.into_iter()
        .map(|(n, v)| format!("{}={}", escape(n), escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\u{1}');
    let name = parts.next().unwrap_or_default();
    let unit = parts.next().unwrap_or_default();
    let tag = parts.next().unwrap_or_default();
    let scope = parts.next().unwrap_or_default();
    let value = parts.next().unwrap_or_default();

    for reserved in ["le", "quantile", "mp_scope", "mp_app", "mp_overflow"] {
        assert!(
            RESERVED_TAG_NAMES.contains(&reserved),
            "{reserved} not reserved"
        );
    }
    let name_ok = is_metric_name(name);
    let unit_ok = is_unit(unit);
    let tag_ok = is_tag_name(tag);
    assert_eq!(validate_metric_name(name).is_ok(), name_ok, "name {name:?}");
    assert_eq!(validate_unit(unit).is_ok(), unit_ok, "unit {unit:?}");
    assert_eq!(validate_tag_name(tag).is_ok(), tag_ok, "tag {tag:?}");
    assert_eq!(
        validate_scope_name(scope).is_ok(),
        is_identifier(scope),
        "scope {scope:?}"
    );

    // Scope::new: the built-in names give the built-in scopes, any other identifier a custom one.
    match Scope::new(scope.to_owned()) {
        Ok(parsed) => {
            assert!(is_identifier(scope), "scope {scope:?} accepted");
            assert_eq!(parsed.as_str(), scope);
            let builtin = match scope {
                "base" => Some(Scope::Base),
                "vendor" => Some(Scope::Vendor),
                "application" => Some(Scope::Application),
                _ => None,
            };
            match builtin {
                Some(builtin) => assert_eq!(parsed, builtin),
                None => assert!(matches!(parsed, Scope::Custom(_)), "{scope:?}"),
            }
        }
        Err(_) => assert!(!is_identifier(scope), "scope {scope:?} refused"),
    }

    assert_eq!(
        sanitize(name),
        expected_exposed(name, MetricType::Gauge, "")
    );
    for metric_type in TYPES {
        let exposed = exposed_name(name, metric_type, unit);
        assert_eq!(
            exposed,
            expected_exposed(name, metric_type, unit),
            "{name:?} {unit:?}"
        );
        if name_ok && unit_ok {
            assert!(
                is_identifier(&exposed),
                "{name:?} + {unit:?} -> {exposed:?}"
            );
        }
    }

    // Metadata::validate checks the name, unit, scope and tag names; the registry accepts exactly
    // what validates (a fresh registry has nothing to conflict with).
    let custom_scope_ok =
        is_identifier(scope) && !matches!(scope, "base" | "vendor" | "application");
    let metadata = || {
        Metadata::named(name.to_owned())
            .with_unit(unit.to_owned())
            .with_tag(tag.to_owned(), value.to_owned())
            .scope(Scope::Custom(scope.to_owned().into()))
    };
    let valid = is_declared_name(name) && unit_ok && tag_ok && custom_scope_ok;
    assert_eq!(metadata().validate().is_ok(), valid, "{:?}", metadata());
    let registry = Registry::new();
    let first = registry.counter(metadata());
    assert_eq!(first.is_ok(), valid, "{first:?}");
    if let Ok(counter) = first {
        counter.inc();
        // Get-or-create: the same name, scope and tags give the same counter.
        let again = registry
            .counter(metadata())
            .unwrap_or_else(|e| panic!("{e}"));
        again.inc();
        assert_eq!(counter.get(), 2);
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        let exposed = exposed_name(name, MetricType::Counter, unit);
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{exposed}{{")) && l.ends_with(" 2")),
            "{exposed:?} not in {text:?}"
        );
    }

    // MP_METRICS_TAGS: a tag written in its syntax reads back as written; an invalid name is refused.
    // (Whitespace around a name is not part of the syntax's documentation: such tags are left out.)
    if tag.trim() == tag {
        let spec = render_tags([(tag, value)]);
        match GlobalTags::parse(&spec, Some("app")) {
            Ok(tags) => {
                assert!(tag_ok, "{spec:?} accepted");
                assert_eq!(
                    tags.tags(),
                    &[(tag.to_owned(), value.to_owned())],
                    "{spec:?}"
                );
                assert_eq!(tags.app(), Some("app"));
            }
            Err(e) => assert!(!tag_ok, "{spec:?}: {e}"),
        }
    }
    // Any input: what parses is sorted by name, names unique and valid, and written back it
    // parses to the same tags.
    if let Ok(tags) = GlobalTags::parse(&text, None) {
        let list = tags.tags();
        assert!(list.windows(2).all(|w| w[0].0 < w[1].0), "{list:?}");
        assert!(list.iter().all(|(n, _)| is_tag_name(n)), "{list:?}");
        let again = render_tags(list.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let reparsed = GlobalTags::parse(&again, None).unwrap_or_else(|e| panic!("{again:?}: {e}"));
        assert_eq!(reparsed.tags(), list, "{text:?} -> {again:?}");
    }
});
