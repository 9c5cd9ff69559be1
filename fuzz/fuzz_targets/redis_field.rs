//! The Redis field-name codec (`microprofile::redis::codec`) against its documented grammar.
//!
//! The oracle restates the module's grammar independently of the code: a label value is written
//! with exactly the documented characters percent-encoded (upper-case hex) and everything else
//! kept; `encode_field` succeeds exactly when the metric name and label names are valid and the
//! label names unique, and writes `name:letter:` (no letter for a value) then the pairs sorted by
//! name; whatever it writes decodes back to the same name, extension and labels; decoding any
//! string either fails or gives a field whose canonical encoding decodes to that same field, with
//! the name ending where the documented split puts it; and unescaping never fails, and gives back
//! exactly what escaping was given.
//!
//! Input: `name \0 label \0 value \0 label \0 value ...` (at most four labels); the whole input
//! is also decoded as a field, and its two first pieces are used as label values of a fixed field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::redis::codec::{
    decode_field, encode_field, escape_label_value, unescape_label_value, Extension,
};

const EXTENSIONS: [(Extension, &str); 6] = [
    (Extension::Description, "d"),
    (Extension::Type, "t"),
    (Extension::Value, ""),
    (Extension::Sum, "s"),
    (Extension::Count, "c"),
    (Extension::Bucket, "b"),
];

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Not empty, no `"`, no control character.
fn is_metric_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c == '"' || c.is_control())
}

/// `%`, `:`, `,`, `"`, `=` and the ASCII control characters become `%XX`; the rest is kept.
fn expected_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(
            c,
            '%' | ':' | ',' | '"' | '=' | '\u{0}'..='\u{1f}' | '\u{7f}'
        ) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// What `encode_field` must write, or `None` when it must refuse.
fn expected_field(name: &str, letter: &str, labels: &[(&str, &str)]) -> Option<String> {
    let mut sorted = labels.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let unique = sorted.windows(2).all(|w| w[0].0 != w[1].0);
    if !is_metric_name(name) || !unique || !sorted.iter().all(|(n, _)| is_label_name(n)) {
        return None;
    }
    let pairs: Vec<String> = sorted
        .iter()
        .map(|(n, v)| format!("{n}=\"{}\"", expected_escape(v)))
        .collect();
    Some(format!("{name}:{letter}:{}", pairs.join(",")))
}

/// Encodes with the model's expectation checked, then decodes and compares.
fn round_trip(name: &str, labels: &[(&str, &str)]) {
    for (extension, letter) in EXTENSIONS {
        let encoded = encode_field(name, extension, labels).ok();
        assert_eq!(
            encoded,
            expected_field(name, letter, labels),
            "{name:?} {labels:?}"
        );
        let Some(encoded) = encoded else { continue };
        let decoded = decode_field(&encoded).unwrap_or_else(|e| panic!("{encoded:?}: {e}"));
        assert_eq!(decoded.name, name, "{encoded:?}");
        assert_eq!(decoded.extension, extension, "{encoded:?}");
        let mut sorted: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        sorted.sort();
        assert_eq!(decoded.labels, sorted, "{encoded:?}");
        for (n, v) in labels {
            assert_eq!(decoded.label(n), Some(*v), "{encoded:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // Any string: decoding fails, or gives a field that re-encodes canonically to itself.
    if let Ok(field) = decode_field(&text) {
        let again = field
            .encode()
            .unwrap_or_else(|e| panic!("{text:?} decoded to {field:?}: {e}"));
        assert_eq!(
            decode_field(&again).as_ref(),
            Ok(&field),
            "{text:?} -> {again:?}"
        );
        // The documented split: the labels part starts after the last `:` before the first `"`
        // (without a `"`, after the last `:`), and the name ends at the `:` before that.
        let head = text.split('"').next().unwrap_or_default();
        let name_end = head.rsplitn(3, ':').nth(2).map(str::len);
        assert_eq!(name_end, Some(field.name.len()), "{text:?}");
    }

    let mut pieces = text.split('\u{0}');
    let name = pieces.next().unwrap_or_default();
    let rest: Vec<&str> = pieces.take(8).collect();
    let labels: Vec<(&str, &str)> = rest
        .chunks(2)
        .map(|p| (p[0], p.get(1).copied().unwrap_or_default()))
        .collect();

    for (_, value) in &labels {
        let mut escaped = String::new();
        escape_label_value(&mut escaped, value);
        assert_eq!(escaped, expected_escape(value), "{value:?}");
        assert_eq!(unescape_label_value(&escaped), *value, "{escaped:?}");
        // Any text unescapes (another writer's plain values are read as they are).
        let _ = unescape_label_value(value);
    }

    // Fuzzed names and values, then fuzzed values under fixed, valid names (one with `:` in it).
    round_trip(name, &labels);
    let a = name;
    let b = rest.first().copied().unwrap_or_default();
    round_trip(
        "ns:fuzz.metric-1",
        &[("zeta", b), ("alpha", a), ("__key", "k")],
    );
});
