//! Encode, then parse back by the text formats' own rules: any label value and any number must
//! come back exactly, in both formats, on one line.
//!
//! The oracle parses sample lines as the exposition formats define them, independently of the
//! crate's encoder: label values unescape `\\`, `\"` and `\n` and hold any other character as
//! is; a value is `NaN`, `+Inf`, `-Inf` or a decimal number as both formats' grammars allow it
//! (`[sign] digits [. digits] [e [sign] digits]`, no `inf`/`nan` spellings, no hex). A float gauge
//! and an integer gauge carry the fuzzed label value; their series' own labels come first, then
//! `mp_scope`.
//!
//! Input: 8 bytes of number (little-endian `f64`, also read as `i64`), then the label value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::{Format, Metadata, Registry, Selection};

/// A sample line read back: name, labels in order, value text.
type SampleLine = (String, Vec<(String, String)>, String);

/// Parses `name{labels} value` lines as the exposition formats define them (independently of the
/// crate's encoder): label values unescape `\\`, `\"` and `\n`.
fn parse_line(line: &str) -> Option<SampleLine> {
    let brace = line.find('{')?;
    let name = line[..brace].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[brace + 1..];
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            let value = after.strip_prefix(' ')?.to_owned();
            return Some((name, labels, value));
        }
        let eq = rest.find("=\"")?;
        let label = rest[..eq].to_owned();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    _ => return None,
                },
                '"' => break eq + 2 + i + 1,
                c => value.push(c),
            }
        };
        labels.push((label, value));
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// `[sign] 1*DIGIT ["." *DIGIT] [("e" / "E") [sign] 1*DIGIT]`, or the same with
/// `*DIGIT "." 1*DIGIT` as the mantissa: the decimal numbers OpenMetrics' grammar and Go's
/// `ParseFloat` (Prometheus text) both read.
fn is_decimal(text: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let s = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok = digits(whole) == whole.len()
        && digits(fraction) == fraction.len()
        && (!whole.is_empty() || !fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e) == e.len()
    });
    mantissa_ok && exponent_ok
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other if is_decimal(other) => other.parse().ok(),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let bytes: [u8; 8] = data[..8].try_into().unwrap_or([0; 8]);
    let number = f64::from_le_bytes(bytes);
    let integer = i64::from_le_bytes(bytes);
    let label_value = String::from_utf8_lossy(&data[8..]).into_owned();
    let registry = Registry::new();
    let Ok(gauge) = registry.float_gauge(Metadata::new("fuzz").with_tag("v", label_value.clone()))
    else {
        return;
    };
    gauge.set(number);
    let Ok(int_gauge) =
        registry.gauge(Metadata::new("fuzz_int").with_tag("v", label_value.clone()))
    else {
        panic!("fuzz_int not registered");
    };
    int_gauge.set(integer);
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode_to_string(format, Selection::All);
        for (family, expected) in [("fuzz", None), ("fuzz_int", Some(integer))] {
            let prefix = format!("{family}{{");
            let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("no {family} sample in {text:?}"));
            // No raw newline may end up inside a sample line, nor split one in two.
            assert_eq!(lines.count(), 0, "{text:?}");
            let (name, labels, value) =
                parse_line(line).unwrap_or_else(|| panic!("unparseable line {line:?}"));
            assert_eq!(name, family);
            assert_eq!(labels.len(), 2, "{line:?}");
            assert_eq!(labels[0], ("v".to_owned(), label_value.clone()), "{line:?}");
            assert_eq!(
                labels[1],
                ("mp_scope".to_owned(), "application".to_owned()),
                "{line:?}"
            );
            match expected {
                None => {
                    let parsed =
                        parse_value(&value).unwrap_or_else(|| panic!("bad value {value:?}"));
                    assert!(
                        parsed.to_bits() == number.to_bits()
                            || (parsed.is_nan() && number.is_nan())
                            || parsed == number,
                        "{number:?} written as {value:?}"
                    );
                }
                Some(integer) => {
                    assert_eq!(
                        value.parse::<i64>().ok(),
                        Some(integer),
                        "{integer} written as {value:?}"
                    );
                    assert!(is_decimal(&value), "{value:?}");
                }
            }
        }
    }
});
