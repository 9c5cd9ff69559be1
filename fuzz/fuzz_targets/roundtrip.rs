//! Encode, then parse back by the text formats' own rules: any label value and any number must
//! come back exactly, in both formats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::{Format, Metadata, Registry, Selection};

/// Parses `name{labels} value` lines as the exposition formats define them (independently of the
/// crate's encoder): label values unescape `\\`, `\"` and `\n`.
fn parse_line(line: &str) -> Option<(String, Vec<(String, String)>, String)> {
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

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let number = f64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
    let label_value = String::from_utf8_lossy(&data[8..]).into_owned();
    let registry = Registry::new();
    let Ok(gauge) = registry.float_gauge(Metadata::new("fuzz").with_tag("v", label_value.clone())) else {
        return;
    };
    gauge.set(number);
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode_to_string(format, Selection::All);
        let line = text
            .lines()
            .find(|l| l.starts_with("fuzz{"))
            .unwrap_or_else(|| panic!("no sample line in {text:?}"));
        let (name, labels, value) =
            parse_line(line).unwrap_or_else(|| panic!("unparseable line {line:?}"));
        assert_eq!(name, "fuzz");
        assert_eq!(labels[0], ("v".to_owned(), label_value.clone()), "{line:?}");
        assert_eq!(labels.last().map(|l| l.0.as_str()), Some("mp_scope"));
        let parsed = parse_value(&value).unwrap_or_else(|| panic!("bad value {value:?}"));
        assert!(
            parsed.to_bits() == number.to_bits() || (parsed.is_nan() && number.is_nan()) || parsed == number,
            "{number:?} written as {value:?}"
        );
        // No raw newline may end up inside a sample line.
        assert_eq!(text.lines().filter(|l| l.starts_with("fuzz{")).count(), 1);
    }
});
