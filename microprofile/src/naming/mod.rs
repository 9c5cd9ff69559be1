//! Naming rules for metric names, tag names, scopes and units, and the exposed (Prometheus) name.
//!
//! The rules themselves (which characters, which reserved names, the wording of each refusal) live
//! in `rules.rs`, which `microprofile-macros` compiles in too: the attribute macros refuse at
//! compile time exactly what these functions refuse at run time, in the same words. A corpus of
//! names (`corpus.txt`) tests both crates against it.

pub(crate) mod rules;

use crate::error::Error;
use crate::metric::kind::MetricType;

pub use rules::RESERVED_TAG_NAMES;

/// Checks a metric name by the attribute macros' rule: `[a-zA-Z_][a-zA-Z0-9_.:-]*`.
///
/// Characters other than `[a-zA-Z0-9_]` are allowed in declared names (MicroProfile names such as
/// `com.example.requests`) and become `_` in the exposed name. The run-time API takes more
/// ([`validate_declared_metric_name`]); a refusal names the exposed form to use instead.
///
/// ```
/// assert!(microprofile::naming::validate_metric_name("http.requests").is_ok());
/// assert!(microprofile::naming::validate_metric_name("9lives").is_err());
/// ```
pub fn validate_metric_name(name: &str) -> Result<(), Error> {
    rules::metric_name(name).map_err(|rule| Error::InvalidMetricName {
        name: name.to_owned(),
        reason: rule.reason(),
    })
}

/// Checks a metric name given to the run-time API ([`crate::Registry`], [`crate::Metadata`]):
/// any name that is not empty, does not start with a digit and holds no control character.
///
/// Every character outside `[a-zA-Z0-9_]` becomes `_` in the exposed name ([`sanitize`]), as
/// MicroProfile's TCK expects of `pm_counter-with-dashes` or `pm_counter#hash_x'y_`. The
/// attribute macros keep the stricter [`validate_metric_name`], and name the exposed form in
/// their error.
///
/// ```
/// use microprofile::naming::validate_declared_metric_name as check;
/// assert!(check("pm_counter+accent_\u{ea}_").is_ok());
/// assert!(check("9lives").is_err());
/// assert!(check("a\nb").is_err());
/// ```
pub fn validate_declared_metric_name(name: &str) -> Result<(), Error> {
    rules::declared_metric_name(name).map_err(|rule| Error::InvalidMetricName {
        name: name.to_owned(),
        reason: rule.reason(),
    })
}

/// Checks a tag (label) name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, not reserved.
///
/// ```
/// assert!(microprofile::naming::validate_tag_name("region").is_ok());
/// assert!(microprofile::naming::validate_tag_name("le").is_err());
/// ```
pub fn validate_tag_name(name: &str) -> Result<(), Error> {
    rules::tag_name(name).map_err(|rule| Error::InvalidTagName {
        name: name.to_owned(),
        reason: rule.reason(),
    })
}

/// Checks a custom scope name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn validate_scope_name(name: &str) -> Result<(), Error> {
    rules::scope_name(name).map_err(|_| Error::InvalidScopeName {
        name: name.to_owned(),
    })
}

/// Checks a unit: empty, or made of `[a-zA-Z0-9_]`.
pub fn validate_unit(unit: &str) -> Result<(), Error> {
    rules::unit(unit).map_err(|_| Error::InvalidUnit {
        unit: unit.to_owned(),
    })
}

/// The unit actually exposed: timers are always in seconds, `none` and the empty unit mean none.
pub fn effective_unit(metric_type: MetricType, unit: &str) -> &str {
    match metric_type {
        MetricType::Timer => "seconds",
        _ if unit == "none" => "",
        _ => unit,
    }
}

/// Replaces every character outside `[a-zA-Z0-9_]` by `_`, as exposed names require: one `_`
/// per character (a Unicode scalar value), runs not collapsed.
///
/// ```
/// assert_eq!(microprofile::naming::sanitize("com.acme-shop"), "com_acme_shop");
/// assert_eq!(microprofile::naming::sanitize("a-\u{e4}b"), "a__b");
/// ```
pub fn sanitize(name: &str) -> String {
    rules::sanitize(name)
}

/// The exposed family name, following MicroProfile Metrics 5.x.
///
/// Characters outside `[a-zA-Z0-9_]` become `_`; the unit is appended as `_<unit>` unless the name
/// already ends with it; counters end in `_total` (the unit goes before it); timers are in seconds.
///
/// ```
/// use microprofile::{naming::exposed_name, MetricType};
/// assert_eq!(exposed_name("outbound_http_latency_seconds", MetricType::Timer, ""), "outbound_http_latency_seconds");
/// assert_eq!(exposed_name("io.read", MetricType::Counter, "bytes"), "io_read_bytes_total");
/// assert_eq!(exposed_name("jobs_total", MetricType::Counter, ""), "jobs_total");
/// ```
pub fn exposed_name(declared: &str, metric_type: MetricType, unit: &str) -> String {
    let mut name = sanitize(declared);
    let is_counter = metric_type == MetricType::Counter;
    if is_counter && name.ends_with("_total") {
        name.truncate(name.len() - "_total".len());
    }
    let unit = effective_unit(metric_type, unit);
    if !unit.is_empty() {
        let already = name
            .strip_suffix(unit)
            .is_some_and(|stem| stem.ends_with('_'));
        if !already {
            name.push('_');
            name.push_str(unit);
        }
    }
    if is_counter {
        name.push_str("_total");
    }
    name
}

/// Writes a label value escaped for both text formats: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub(crate) fn write_escaped_label_value(out: &mut String, value: &str) {
    let mut rest = value;
    // Runs without a character to escape are copied whole.
    while let Some((plain, tail)) = rest
        .find(['\\', '"', '\n'])
        .and_then(|at| rest.split_at_checked(at))
    {
        out.push_str(plain);
        let mut chars = tail.chars();
        match chars.next() {
            Some('\\') => out.push_str("\\\\"),
            Some('"') => out.push_str("\\\""),
            Some('\n') => out.push_str("\\n"),
            _ => {}
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

/// Renders sorted `(name, value)` pairs as `a="x",b="y"` (escaped), the form stored per series.
pub(crate) fn render_labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        write_escaped_label_value(&mut out, value);
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_only_backslash_quote_and_newline() {
        for (value, escaped) in [
            ("", ""),
            ("plain", "plain"),
            ("\"", "\\\""),
            ("a\\b\nc\"", "a\\\\b\\nc\\\""),
            ("ä\"ö\n€", "ä\\\"ö\\n€"),
            ("\n\n", "\\n\\n"),
        ] {
            let mut out = String::from(">");
            write_escaped_label_value(&mut out, value);
            assert_eq!(out, format!(">{escaped}"), "{value:?}");
        }
    }

    #[test]
    fn metric_names() {
        for ok in ["a", "_a", "a.b-c:d_e9", "outbound_http_latency_seconds"] {
            assert!(validate_metric_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "9a", "a b", "ä", "a/b", "-a", ".a"] {
            assert!(validate_metric_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn declared_metric_names() {
        for ok in [
            "a",
            "a b",
            "\u{e4}",
            "-a",
            "pm_counter#hash_x'y_",
            "a{b}=\"c\"",
        ] {
            assert!(validate_declared_metric_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "9a", "a\nb", "\t", "a\u{7f}"] {
            assert!(validate_declared_metric_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refusals_suggest_the_exposed_name() {
        let message = |name: &str| {
            validate_metric_name(name)
                .map_err(|e| e.to_string())
                .unwrap_err()
        };
        let m = message("requests served!");
        assert!(
            m.ends_with("; did you mean \"requests_served_\"? (its exposed form: every character outside `[a-zA-Z0-9_]` becomes `_`)"),
            "{m}"
        );
        let m = message("9lives");
        assert!(
            m.ends_with("; did you mean \"_9lives\"? (an exposed name cannot start with a digit)"),
            "{m}"
        );
        // Nothing to suggest for an empty name or a name the attributes take.
        assert!(!message("").contains("did you mean"));
        assert!(rules::suggested_metric_name("my-metric").is_some());
        assert_eq!(rules::suggested_metric_name("my_metric"), None);
    }

    #[test]
    fn tag_names() {
        for ok in ["a", "_a", "region", "A1_"] {
            assert!(validate_tag_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "a-b",
            "__x",
            "le",
            "quantile",
            "mp_scope",
            "mp_app",
            "mp_overflow",
            "é",
        ] {
            assert!(validate_tag_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exposed_names() {
        use MetricType::*;
        assert_eq!(exposed_name("requests", Counter, ""), "requests_total");
        assert_eq!(
            exposed_name("requests_total", Counter, ""),
            "requests_total"
        );
        assert_eq!(exposed_name("read", Counter, "bytes"), "read_bytes_total");
        assert_eq!(
            exposed_name("read_bytes_total", Counter, "bytes"),
            "read_bytes_total"
        );
        assert_eq!(
            exposed_name("read_total", Counter, "bytes"),
            "read_bytes_total"
        );
        assert_eq!(
            exposed_name("com.acme.Foo-bar", Gauge, "none"),
            "com_acme_Foo_bar"
        );
        assert_eq!(exposed_name("heap", Gauge, "bytes"), "heap_bytes");
        assert_eq!(
            exposed_name("latency", Timer, "milliseconds"),
            "latency_seconds"
        );
        assert_eq!(
            exposed_name("latency_seconds", Timer, ""),
            "latency_seconds"
        );
        assert_eq!(exposed_name("xseconds", Timer, ""), "xseconds_seconds");
        assert_eq!(exposed_name("size", Histogram, "bytes"), "size_bytes");
    }

    /// Run-time validation decides every name of the shared corpus as the shared rules do, with
    /// the same message; `microprofile-macros` checks its compile-time side against the same
    /// corpus, so the two cannot drift apart.
    #[test]
    fn run_time_validation_agrees_with_the_rules_on_the_corpus() {
        use rules::{corpus, Subject};
        for case in corpus::cases() {
            let run_time = match case.subject {
                Subject::MetricName => {
                    // The run-time API takes more than the attributes: it agrees with its own
                    // rule, worded as the shared rules word it.
                    assert_eq!(
                        validate_declared_metric_name(&case.name).map_err(|e| e.to_string()),
                        rules::declared_metric_name(&case.name)
                            .map_err(|e| e.message(&case.name).to_string()),
                        "corpus.txt:{}",
                        case.line
                    );
                    validate_metric_name(&case.name)
                }
                Subject::TagName => validate_tag_name(&case.name),
                Subject::ScopeName => validate_scope_name(&case.name),
                Subject::Unit => validate_unit(&case.name),
            };
            assert_eq!(
                run_time.map_err(|e| e.to_string()),
                corpus::decide(&case),
                "corpus.txt:{}",
                case.line
            );
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            render_labels([("a", "x\"y\\z\nw"), ("b", "ü")]),
            "a=\"x\\\"y\\\\z\\nw\",b=\"ü\""
        );
    }
}
