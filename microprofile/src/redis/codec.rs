//! The field codec of the shared store: how one hash field name is built from a metric name, an
//! extension and a label set, and read back. Pure functions with no I/O, so other programs (and
//! fuzzers) can check their own implementation against this one.
//!
//! The format is the one of the Instrumentor design document the store comes from (and of the
//! `instrumentor` Python library that implements it, which the tests run against this code):
//!
//! ```text
//! field      = name ":" extension ":" labels
//! name       = 1*( any character but DQUOTE and the control characters )   (may contain ':')
//! extension  = "" | "d" | "t" | "s" | "c" | "b"
//! labels     = "" | pair *( "," pair )              (sorted by label name, names unique)
//! pair       = label-name "=" DQUOTE value DQUOTE
//! label-name = [a-zA-Z_][a-zA-Z0-9_]*
//! ```
//!
//! The value of a counter or gauge has the **empty** extension (`jobs::queue="mail"`,
//! `temperature_celcius::` without labels). This crate writes metric names by its naming rules
//! (`[a-zA-Z_][a-zA-Z0-9_.:-]*`); a reader takes any name another writer left, and the exporter
//! sanitises what it cannot expose as it is.
//!
//! **Writing**, label values are percent-encoded: `%`, `:`, `,`, `"`, `=` and the ASCII control
//! characters (0x00–0x1F, 0x7F) become `%XX` (upper-case hex); every other character, UTF-8
//! included, is kept. **Reading** is lenient about what other writers leave, which do not
//! escape (`instrumentor` writes values as they are): the labels part starts after the `:` that
//! comes last before the field's first `"` (names hold no `"`), so a raw `:` in a value is read
//! as it is; a pair's value ends at the `"` that is followed by the end of the field or by `,`
//! and the next `label-name="`, so raw `,`, `=` and `"` inside a value are read too; a `%`
//! followed by two hex digits is decoded, any other `%` kept (and a value whose escapes do not
//! decode to UTF-8 is kept as written). Without a `"` the field has no labels and splits at its
//! last two `:`. The one ambiguity: a plain value that happens to hold `%` and two hex digits
//! (`"%41"`) reads decoded (`"A"`); this crate's writer escapes every `%`, so its own values always
//! read back exactly.
//!
//! ```
//! use microprofile::redis::codec::{decode_field, encode_field, Extension};
//! let field = encode_field("http_requests", Extension::Value, &[("path", "/a:b"), ("method", "GET")]).unwrap();
//! assert_eq!(field, "http_requests::method=\"GET\",path=\"/a%3Ab\"");
//! let decoded = decode_field(&field).unwrap();
//! assert_eq!(decoded.name, "http_requests");
//! assert_eq!(decoded.labels[1], ("path".to_owned(), "/a:b".to_owned()));
//! // What another writer leaves unescaped reads as it is.
//! let plain = decode_field("api_http_requests_total::handler=\"/a:b,c\",method=\"POST\"").unwrap();
//! assert_eq!(plain.label("handler"), Some("/a:b,c"));
//! ```

use std::fmt;

// Label names follow the crate's one set of naming rules (`naming/rules.rs`).
use crate::naming::rules::is_identifier as is_label_name;

/// A name the field format can carry: not empty, no `"` (the labels part starts at the first
/// one) and no control character. Which names may be *exposed* is the exporter's to decide.
fn is_metric_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == '"' || c.is_control())
}

/// The part of a series a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extension {
    /// `d`: the description (`# HELP`), written once per family with an empty label set.
    Description,
    /// `t`: the type ([`TypeCode`]), written once per family with an empty label set.
    Type,
    /// The empty extension: the value of a counter or gauge (`name::labels`). Read also from `v`,
    /// the letter this crate's earlier versions wrote.
    Value,
    /// `s`: the sum of a histogram's or summary's observations.
    Sum,
    /// `c`: the count of a histogram's or summary's observations.
    Count,
    /// `b`: one bucket of a histogram (label `le`) or of a summary's sketch (label `__key`).
    Bucket,
}

impl Extension {
    /// The abbreviation used in field names: one letter, or nothing for a value.
    pub const fn letter(self) -> &'static str {
        match self {
            Extension::Description => "d",
            Extension::Type => "t",
            Extension::Value => "",
            Extension::Sum => "s",
            Extension::Count => "c",
            Extension::Bucket => "b",
        }
    }

    /// The extension abbreviated by `letter` (`""`, or `"v"` as earlier versions wrote, for a
    /// value). The design document's long forms (`description`, `type`, `sum`, `count`,
    /// `bucket`) are read too; writers use the letters.
    pub fn from_letter(letter: &str) -> Option<Extension> {
        Some(match letter {
            "d" | "description" => Extension::Description,
            "t" | "type" => Extension::Type,
            "" | "v" => Extension::Value,
            "s" | "sum" => Extension::Sum,
            "c" | "count" => Extension::Count,
            "b" | "bucket" => Extension::Bucket,
            _ => return None,
        })
    }
}

/// The value of a `t` (type) field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeCode {
    /// `c`: a counter (exposed with `_total`).
    Counter,
    /// `g`: a gauge.
    Gauge,
    /// `h`: a histogram.
    Histogram,
    /// `s`: a summary: this crate's are stored as a mergeable sketch, another writer's as
    /// `quantile` values.
    Summary,
}

impl TypeCode {
    /// The one-letter value stored in the `t` field.
    pub const fn letter(self) -> &'static str {
        match self {
            TypeCode::Counter => "c",
            TypeCode::Gauge => "g",
            TypeCode::Histogram => "h",
            TypeCode::Summary => "s",
        }
    }

    /// The type a `t` field's value names (the design document's long forms `counter`, `gauge`,
    /// `histogram`, `summary` are read too).
    pub fn from_letter(letter: &str) -> Option<TypeCode> {
        Some(match letter {
            "c" | "counter" => TypeCode::Counter,
            "g" | "gauge" => TypeCode::Gauge,
            "h" | "histogram" => TypeCode::Histogram,
            "s" | "summary" => TypeCode::Summary,
            _ => return None,
        })
    }
}

/// The label holding a histogram bucket's upper bound.
pub const BUCKET_BOUND_LABEL: &str = "le";
/// The label holding a summary sketch bucket's key (see [`super::sketch::SketchKey`]).
pub const SKETCH_KEY_LABEL: &str = "__key";

/// Why a field could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The metric name is empty or holds a `"` or a control character.
    #[error(
        "invalid metric name {0:?} in a shared-store field (empty, or with a '\"' or a control character)"
    )]
    InvalidName(String),
    /// A label name is not an identifier.
    #[error("invalid label name {0:?} in a shared-store field (expected [a-zA-Z_][a-zA-Z0-9_]*)")]
    InvalidLabelName(String),
    /// The same label name appears twice.
    #[error("label {0:?} appears twice in one shared-store field")]
    DuplicateLabel(String),
    /// The field lacks the `name:extension:labels` structure.
    #[error("shared-store field {0:?} is not of the form name:extension:labels")]
    Malformed(String),
    /// The extension is not one of `d t s c b`, empty (a value), or `v`.
    #[error(
        "unknown extension {0:?} in a shared-store field (expected nothing for a value, or one of d, t, s, c, b)"
    )]
    UnknownExtension(String),
    /// A label pair is not `name="value"`.
    #[error("label pair {0:?} in a shared-store field is not of the form name=\"value\"")]
    MalformedLabel(String),
}

fn needs_escape(b: u8) -> bool {
    matches!(b, b'%' | b':' | b',' | b'"' | b'=') || b < 0x20 || b == 0x7f
}

/// Appends `value` percent-encoded as the format requires.
///
/// ```
/// let mut out = String::new();
/// microprofile::redis::codec::escape_label_value(&mut out, "a:b,c\"d=e%f\n ü");
/// assert_eq!(out, "a%3Ab%2Cc%22d%3De%25f%0A ü");
/// ```
pub fn escape_label_value(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    let escaped = |c: char| c.is_ascii() && needs_escape(c as u8);
    // Each piece is a run of plain characters, ended by one to escape (except maybe the last).
    for piece in value.split_inclusive(escaped) {
        let mut chars = piece.chars();
        match chars.next_back().filter(|&c| escaped(c)) {
            Some(c) => {
                out.push_str(chars.as_str());
                // Written here, not by `percent-encoding`: the field format is a wire contract
                // shared with Instrumentor's readers, and it keeps UTF-8 raw, which that crate's
                // encoder always escapes. (Writing to a `String` cannot fail.)
                let _ = write!(out, "%{:02X}", c as u8);
            }
            None => out.push_str(piece),
        }
    }
}

/// Decodes a label value as read from the store: every `%` followed by two hex digits is decoded
/// (not only the ones [`escape_label_value`] writes); any other `%` is kept as it is, and so is the
/// whole value when its escapes do not decode to UTF-8 (a value another writer left unescaped).
///
/// ```
/// use microprofile::redis::codec::unescape_label_value;
/// assert_eq!(unescape_label_value("a%3Ab%25"), "a:b%");
/// assert_eq!(unescape_label_value("100%"), "100%");
/// assert_eq!(unescape_label_value("%FF"), "%FF");
/// ```
pub fn unescape_label_value(escaped: &str) -> String {
    // `percent-encoding` decodes `%XX` and keeps any other `%` as it is.
    match percent_encoding::percent_decode_str(escaped).decode_utf8() {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => escaped.to_owned(),
    }
}

/// Decodes `%XX` escapes strictly (for URLs): `None` where a `%` lacks two hex digits after it
/// (which `percent-encoding` would keep as they are) or the decoded bytes are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let complete = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8();
    decoded.ok().filter(|_| complete).map(|d| d.into_owned())
}

/// Builds a field name. Labels may be given in any order: they are sorted by name, so one label
/// set is always one field. Names are checked; values may hold any character.
///
/// ```
/// use microprofile::redis::codec::{encode_field, Extension};
/// let a = encode_field("jobs", Extension::Value, &[("queue", "mail"), ("host", "a")]).unwrap();
/// let b = encode_field("jobs", Extension::Value, &[("host", "a"), ("queue", "mail")]).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(encode_field("jobs", Extension::Type, &[]).unwrap(), "jobs:t:");
/// ```
pub fn encode_field(
    name: &str,
    extension: Extension,
    labels: &[(&str, &str)],
) -> Result<String, CodecError> {
    let mut sorted: Vec<(&str, &str)> = labels.to_vec();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    encode_sorted(name, extension, &sorted)
}

/// [`encode_field`] for labels already sorted by name (checked).
pub fn encode_sorted(
    name: &str,
    extension: Extension,
    sorted: &[(&str, &str)],
) -> Result<String, CodecError> {
    if !is_metric_name(name) {
        return Err(CodecError::InvalidName(name.to_owned()));
    }
    let mut out = String::with_capacity(name.len() + 3 + sorted.len() * 16);
    out.push_str(name);
    out.push(':');
    out.push_str(extension.letter());
    out.push(':');
    let mut previous: Option<&str> = None;
    for (label, value) in sorted {
        if !is_label_name(label) {
            return Err(CodecError::InvalidLabelName((*label).to_owned()));
        }
        if let Some(previous) = previous {
            match previous.cmp(label) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(CodecError::DuplicateLabel((*label).to_owned()))
                }
                std::cmp::Ordering::Greater => {
                    return Err(CodecError::Malformed(format!(
                        "labels not sorted: {previous:?} before {label:?}"
                    )))
                }
            }
            out.push(',');
        }
        previous = Some(label);
        out.push_str(label);
        out.push_str("=\"");
        escape_label_value(&mut out, value);
        out.push('"');
    }
    Ok(out)
}

/// A field read back: name, extension and labels (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The metric name.
    pub name: String,
    /// What the field holds.
    pub extension: Extension,
    /// The labels, unescaped and sorted by name.
    pub labels: Vec<(String, String)>,
}

impl Field {
    /// The value of one label, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The canonical field name for this field (what [`encode_field`] writes).
    pub fn encode(&self) -> Result<String, CodecError> {
        let pairs: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        encode_field(&self.name, self.extension, &pairs)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.encode() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

/// Reads a field name, as this crate or another writer left it (see the [module](self) for
/// the rules). Labels out of order are accepted and sorted (a reader is lenient; writers must
/// sort), a repeated label name is an error.
///
/// ```
/// use microprofile::redis::codec::{decode_field, Extension};
/// let f = decode_field("ns:odd.name:b:le=\"0.5\",path=\"%2Fx%3A1\"").unwrap();
/// assert_eq!((f.name.as_str(), f.extension), ("ns:odd.name", Extension::Bucket));
/// assert_eq!(f.label("path"), Some("/x:1"));
/// let value = decode_field("temperature_celcius::").unwrap();
/// assert_eq!((value.name.as_str(), value.extension), ("temperature_celcius", Extension::Value));
/// assert!(decode_field("no_extension").is_err());
/// ```
pub fn decode_field(field: &str) -> Result<Field, CodecError> {
    let malformed = || CodecError::Malformed(field.to_owned());
    // The labels part starts after the last `:` before the first `"` (names hold no `"`, and
    // the labels part of a field with labels starts with `label-name="`).
    let (rest, labels_part) = match field.split_once('"') {
        Some((head, _)) => {
            let colon = head.rfind(':').ok_or_else(malformed)?;
            let rest = field.get(..colon).ok_or_else(malformed)?;
            let labels = field.get(colon + 1..).ok_or_else(malformed)?;
            (rest, labels)
        }
        None => field.rsplit_once(':').ok_or_else(malformed)?,
    };
    let (name, letter) = rest.rsplit_once(':').ok_or_else(malformed)?;
    let extension = Extension::from_letter(letter)
        .ok_or_else(|| CodecError::UnknownExtension(letter.into()))?;
    if !is_metric_name(name) {
        return Err(CodecError::InvalidName(name.to_owned()));
    }
    let mut labels = decode_labels(labels_part)?;
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let duplicate = labels.windows(2).find_map(|w| match w {
        [a, b] if a.0 == b.0 => Some(a.0.clone()),
        _ => None,
    });
    if let Some(label) = duplicate {
        return Err(CodecError::DuplicateLabel(label));
    }
    Ok(Field {
        name: name.to_owned(),
        extension,
        labels,
    })
}

/// Whether `rest` (what follows a value's closing `"`) is the end of the labels or the start of
/// the next pair: `,` then `label-name="`.
fn ends_value(rest: &str) -> bool {
    let Some(next) = rest.strip_prefix(',') else {
        return rest.is_empty();
    };
    // Only the identifier right after the `,` is looked at, so reading a field stays linear in
    // its length whatever quotes and commas a hostile value holds.
    let name_len = next
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(next.len());
    next.get(..name_len).is_some_and(is_label_name)
        && next.get(name_len..).is_some_and(|r| r.starts_with("=\""))
}

/// The `name="value"` pairs of a labels part, values unescaped.
pub(crate) fn decode_labels(mut part: &str) -> Result<Vec<(String, String)>, CodecError> {
    let mut labels = Vec::new();
    while !part.is_empty() {
        let bad = || CodecError::MalformedLabel(part.to_owned());
        let (label, after) = part.split_once('=').ok_or_else(bad)?;
        if !is_label_name(label) {
            return Err(CodecError::InvalidLabelName(label.to_owned()));
        }
        let quoted = after.strip_prefix('"').ok_or_else(bad)?;
        // The value ends at the first `"` after which the labels end or the next pair starts.
        let (value, rest) = quoted
            .match_indices('"')
            .find_map(|(i, _)| {
                let value = quoted.get(..i)?;
                let rest = quoted.get(i + 1..)?;
                ends_value(rest).then_some((value, rest))
            })
            .ok_or_else(bad)?;
        labels.push((label.to_owned(), unescape_label_value(value)));
        part = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(labels)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn byte_for_byte_field_names() {
        type Case<'a> = (&'a str, Extension, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            ("requests", Extension::Description, &[], "requests:d:"),
            ("requests", Extension::Type, &[], "requests:t:"),
            (
                "requests",
                Extension::Value,
                &[("method", "GET")],
                "requests::method=\"GET\"",
            ),
            (
                "latency",
                Extension::Bucket,
                &[("path", "/"), ("le", "0.5")],
                "latency:b:le=\"0.5\",path=\"/\"",
            ),
            (
                "latency",
                Extension::Sum,
                &[("z", ""), ("a", "1")],
                "latency:s:a=\"1\",z=\"\"",
            ),
            (
                "latency",
                Extension::Count,
                &[("a", "x")],
                "latency:c:a=\"x\"",
            ),
            (
                "size",
                Extension::Bucket,
                &[("__key", "p12"), ("host", "a")],
                "size:b:__key=\"p12\",host=\"a\"",
            ),
            (
                "weird",
                Extension::Value,
                &[("v", "a:b,c\"d=e%f\\g\nh\ti ü")],
                "weird::v=\"a%3Ab%2Cc%22d%3De%25f\\g%0Ah%09i ü\"",
            ),
            ("com.acme:x-y", Extension::Value, &[], "com.acme:x-y::"),
            // The design document's own examples.
            (
                "api_http_requests_total",
                Extension::Value,
                &[("method", "POST"), ("handler", "/messages")],
                "api_http_requests_total::handler=\"/messages\",method=\"POST\"",
            ),
            (
                "temperature_celcius",
                Extension::Value,
                &[],
                "temperature_celcius::",
            ),
            (
                "http_request_duration_seconds",
                Extension::Bucket,
                &[("le", "0.05")],
                "http_request_duration_seconds:b:le=\"0.05\"",
            ),
            (
                "http_request_duration_seconds",
                Extension::Sum,
                &[],
                "http_request_duration_seconds:s:",
            ),
        ];
        for (name, ext, labels, expected) in cases {
            let encoded = encode_field(name, *ext, labels).unwrap();
            assert_eq!(&encoded, expected);
            let decoded = decode_field(&encoded).unwrap();
            assert_eq!(decoded.name, *name);
            assert_eq!(decoded.extension, *ext);
            let mut sorted: Vec<(String, String)> = labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            sorted.sort();
            assert_eq!(decoded.labels, sorted);
            assert_eq!(decoded.encode().unwrap(), encoded);
        }
    }

    #[test]
    fn label_order_does_not_split_series() {
        let a = encode_field("m", Extension::Value, &[("b", "2"), ("a", "1"), ("c", "3")]);
        let b = encode_field("m", Extension::Value, &[("c", "3"), ("b", "2"), ("a", "1")]);
        assert_eq!(a, b);
        // A reader accepts an unsorted field and yields the canonical one.
        let f = decode_field("m::b=\"2\",a=\"1\"").unwrap();
        assert_eq!(f.encode().unwrap(), "m::a=\"1\",b=\"2\"");
        // `v`, as earlier versions wrote, still reads as a value.
        let legacy = decode_field("m:v:b=\"2\"").unwrap();
        assert_eq!(legacy.extension, Extension::Value);
        assert_eq!(legacy.encode().unwrap(), "m::b=\"2\"");
    }

    #[test]
    fn hostile_values_round_trip() {
        let values = [
            "",
            ":",
            ",",
            "\"",
            "=",
            "%",
            "%3A",
            ":v:",
            "a=\"b\",c=\"d\"",
            "\\",
            "\\\"",
            "\n\r\t\0",
            "\u{7f}",
            "ü€😀",
            "::::",
            ",,,,",
            "x:b:le=\"1\"",
        ];
        for v in values {
            let field = encode_field("m", Extension::Bucket, &[("a", v), ("b", v)]).unwrap();
            // Exactly two raw colons (the separators) and one comma (between the pairs).
            assert_eq!(field.matches(':').count(), 2, "{field}");
            assert_eq!(field.matches(',').count(), 1, "{field}");
            assert_eq!(field.matches('"').count(), 4, "{field}");
            let decoded = decode_field(&field).unwrap();
            assert_eq!(decoded.label("a"), Some(v));
            assert_eq!(decoded.label("b"), Some(v));
        }
    }

    #[test]
    fn reads_what_other_writers_leave_unescaped() {
        type Case<'a> = (&'a str, &'a str, Extension, &'a [(&'a str, &'a str)]);
        let cases: &[Case<'_>] = &[
            ("m::a=\"x:y\"", "m", Extension::Value, &[("a", "x:y")]),
            (
                "ns:m:b:le=\"1\",p=\"/a:b\"",
                "ns:m",
                Extension::Bucket,
                &[("le", "1"), ("p", "/a:b")],
            ),
            (
                "m::a=\"1,2\",b=\"=\"",
                "m",
                Extension::Value,
                &[("a", "1,2"), ("b", "=")],
            ),
            (
                "m::a=\"say \"hi\"\"",
                "m",
                Extension::Value,
                &[("a", "say \"hi\"")],
            ),
            ("m::a=\"100%\"", "m", Extension::Value, &[("a", "100%")]),
            ("m::a=\"%zz%4\"", "m", Extension::Value, &[("a", "%zz%4")]),
            ("m::a=\"%FF\"", "m", Extension::Value, &[("a", "%FF")]),
            ("m::a=\"%41\"", "m", Extension::Value, &[("a", "A")]),
            ("my metric (ü)::", "my metric (ü)", Extension::Value, &[]),
        ];
        for (field, name, extension, labels) in cases {
            let decoded = decode_field(field).unwrap_or_else(|e| panic!("{field:?}: {e}"));
            assert_eq!(decoded.name, *name, "{field:?}");
            assert_eq!(decoded.extension, *extension, "{field:?}");
            let labels: Vec<(String, String)> = labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(decoded.labels, labels, "{field:?}");
            // Written again, it is canonical and reads back the same.
            let again = decoded.encode().unwrap();
            assert_eq!(
                decode_field(&again).unwrap(),
                decoded,
                "{field:?} -> {again:?}"
            );
        }
        // Linear in the field's length, whatever a hostile value holds.
        let hostile = format!("m::a=\"{}", "\",".repeat(200_000));
        assert!(decode_field(&hostile).is_err());
    }

    #[test]
    fn refuses_bad_input() {
        for bad in ["", "a\"b", "a\nb"] {
            assert!(
                matches!(
                    encode_field(bad, Extension::Value, &[]),
                    Err(CodecError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            encode_field("m", Extension::Value, &[("a-b", "1")]),
            Err(CodecError::InvalidLabelName(_))
        ));
        assert!(matches!(
            encode_field("m", Extension::Value, &[("a", "1"), ("a", "2")]),
            Err(CodecError::DuplicateLabel(_))
        ));
        assert!(encode_sorted("m", Extension::Value, &[("b", "1"), ("a", "2")]).is_err());
        for bad in [
            "",
            "m",
            "m:v",
            "m:x:",
            "m:vv:",
            "m:x:a=\"1\"",
            "m:b",
            ":b:",
            "a\"b::",
            ":v:",
            "m:v:a",
            "m:v:a=1",
            "m:v:a=\"1",
            "m:v:a=\"1\",",
            "m:v:a=\"1\",a=\"2\"",
            "m:v:1a=\"1\"",
        ] {
            assert!(decode_field(bad).is_err(), "{bad:?} should not decode");
        }
    }

    /// A small deterministic fuzz: arbitrary values round-trip, arbitrary fields never panic
    /// and, when they decode, decode again to the same thing after re-encoding.
    #[test]
    fn pseudo_random_round_trips_and_no_panics() {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', '_', '.', '-', ':', ',', '"', '=', '%', '\\', '\n', '\0', ' ', 'ü',
            '😀', 'b', 'v', 'd', 't', 's', 'c', '3', 'A', 'F',
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..20_000 {
            let len = next(12);
            let text: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            let field = encode_field("m", Extension::Value, &[("x", &text)]).unwrap();
            assert_eq!(
                decode_field(&field).unwrap().label("x"),
                Some(text.as_str())
            );
            if let Ok(decoded) = decode_field(&text) {
                if let Ok(again) = decoded.encode() {
                    assert_eq!(decode_field(&again).unwrap(), decoded);
                }
            }
            assert!(!unescape_label_value(&text).is_empty() || text.is_empty());
        }
    }

    #[test]
    fn type_and_extension_letters() {
        for t in [
            TypeCode::Counter,
            TypeCode::Gauge,
            TypeCode::Histogram,
            TypeCode::Summary,
        ] {
            assert_eq!(TypeCode::from_letter(t.letter()), Some(t));
        }
        for e in [
            Extension::Description,
            Extension::Type,
            Extension::Value,
            Extension::Sum,
            Extension::Count,
            Extension::Bucket,
        ] {
            assert_eq!(Extension::from_letter(e.letter()), Some(e));
        }
    }
}
