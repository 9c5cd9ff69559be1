//! The HTTP routing and `Accept` negotiation shared by the built-in listener and the axum router.
//!
//! The oracle is a model of what the docs of `microprofile::serve` promise, written from those docs
//! and not from the code: for any method, path, query and `Accept` header it predicts the status
//! (`200`, `204`, `404`, `405` or `406`, by the documented order of checks) and which families a
//! `200` serves, then checks the response against it: status, headers, body and `HEAD` being `GET`
//! without a body. `negotiate` is checked exactly against the documented q-value rules on a
//! well-formed `Accept` header built from the same input, and for consistency on the raw one.
//!
//! Input: `method \n path \n query \n accept` (a missing query line means no query, so a `?` in
//! the path is split off by `respond`).
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use microprofile::serve::{
    negotiate, negotiate_content_type, respond, MetricsResponse, ALLOW,
    OPENMETRICS_0_0_1_CONTENT_TYPE,
};
use microprofile::{Format, Metadata, Registry, Scope};

/// The families of the registry below: scope, declared name, exposed name.
const FAMILIES: [(&str, &str, &str); 3] = [
    ("application", "hits", "hits_total"),
    ("base", "cpu", "cpu"),
    ("billing", "invoices", "invoices_total"),
];

/// Scopes that exist: the three built-in ones always do, a custom one once it holds a metric.
const SCOPES: [&str; 4] = ["base", "vendor", "application", "billing"];

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::new();
        let _ = registry.counter(Metadata::new("hits").with_tag("path", "/"));
        let _ = registry.gauge(Metadata::new("cpu").scope(Scope::Base));
        if let Ok(scope) = Scope::new("billing") {
            let _ = registry.counter(Metadata::new("invoices").scope(scope));
        }
        registry
    })
}

/// What the docs say a request gets.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// `200` with these families (exposed names) and this format.
    Ok(BTreeSet<&'static str>, Format),
    /// `204`: the scope or metric exists but has nothing to show.
    Empty,
    /// An error status.
    Error(u16),
}

/// `%XX` decoding as documented (a `%` without two hex digits stays as it is; bytes that are not
/// UTF-8 can never spell a scope or metric name, so a lossy decode is precise enough here).
fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|b| (*b as char).to_digit(16))
                .map(|d| d as u8)
        };
        match bytes[i] {
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push(hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0));
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The module docs of `microprofile::serve`, as a function.
fn model(method: &str, path: &str, query: Option<&str>, accept: Option<&str>) -> Expected {
    let (path, query) = match (query, path.split_once('?')) {
        (None, Some((path, query))) => (path, Some(query)),
        _ => (path, query),
    };
    // Routes: `/metrics`, `/metrics/S`, `/metrics/S/N`, a trailing `/` ignored.
    let Some(rest) = path.strip_prefix("/metrics") else {
        return Expected::Error(404);
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else if let Some(rest) = rest.strip_prefix('/') {
        rest.split('/').map(|s| decode(s, false)).collect()
    } else {
        return Expected::Error(404);
    };
    if segments.len() > 2 {
        return Expected::Error(404);
    }
    if method != "GET" && method != "HEAD" {
        return Expected::Error(405);
    }
    let Some(format) = negotiate(accept) else {
        return Expected::Error(406);
    };
    let (mut query_scope, mut query_name) = (None, None);
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match decode(key, true).as_str() {
            "scope" => &mut query_scope,
            "name" => &mut query_name,
            _ => continue,
        };
        slot.get_or_insert_with(|| decode(value, true));
    }
    let agree = |a: Option<&String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) if *a != b => Err(()),
        (Some(a), _) => Ok(Some(a.clone())),
        (None, b) => Ok(b),
    };
    let Ok(scope) = agree(segments.first(), query_scope) else {
        return Expected::Error(404);
    };
    let Ok(name) = agree(segments.get(1), query_name) else {
        return Expected::Error(404);
    };
    let families = |keep: &dyn Fn(&(&str, &str, &str)) -> bool| -> BTreeSet<&'static str> {
        FAMILIES.iter().filter(|f| keep(f)).map(|f| f.2).collect()
    };
    match (scope, name) {
        // A name across every scope that has it.
        (None, Some(name)) => {
            let found = families(&|f| f.1 == name || f.2 == name);
            if found.is_empty() {
                Expected::Error(404)
            } else {
                Expected::Ok(found, format)
            }
        }
        (None, None) => Expected::Ok(families(&|_| true), format),
        (Some(scope), _) if !SCOPES.contains(&scope.as_str()) => Expected::Error(404),
        (Some(scope), None) => {
            let found = families(&|f| f.0 == scope);
            if found.is_empty() {
                Expected::Empty
            } else {
                Expected::Ok(found, format)
            }
        }
        (Some(scope), Some(name)) => {
            let found = families(&|f| f.0 == scope && (f.1 == name || f.2 == name));
            if found.is_empty() {
                Expected::Error(404)
            } else {
                Expected::Ok(found, format)
            }
        }
    }
}

/// The families a body holds, by its `# TYPE` lines; every sample must belong to one of them.
fn families_in(body: &str) -> BTreeSet<&str> {
    let families: BTreeSet<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            families.iter().any(|f| line.starts_with(f)),
            "sample {line:?} of no family in {body:?}"
        );
    }
    families
}

fn check(response: &MetricsResponse, expected: &Expected, head: bool, context: &str) {
    let status = match expected {
        Expected::Ok(..) => 200,
        Expected::Empty => 204,
        Expected::Error(status) => *status,
    };
    assert_eq!(response.status, status, "{context}: {response:?}");
    let mut names: Vec<&str> = response.headers.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        response.headers.len(),
        "{context}: a header twice"
    );
    assert!(
        response
            .headers
            .iter()
            .all(|(n, _)| !n.bytes().any(|b| b.is_ascii_uppercase())),
        "{context}: header names are lowercase"
    );
    assert_eq!(
        response.header("allow"),
        (status == 405).then_some(ALLOW),
        "{context}"
    );
    if head {
        assert!(response.body.is_empty(), "{context}: HEAD with a body");
    } else if status == 204 {
        // No body, so no `content-length` (RFC 9110 forbids it on a `204`).
        assert!(response.body.is_empty(), "{context}: 204 with a body");
        assert_eq!(response.header("content-length"), None, "{context}");
    } else {
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str()),
            "{context}"
        );
    }
    match expected {
        Expected::Ok(families, format) => {
            // OpenMetrics may be labelled with the draft version 0.0.1 (checked exactly on the
            // structured header below).
            let content_type = response.header("content-type");
            assert!(
                content_type == Some(format.content_type())
                    || (*format == Format::OpenMetrics
                        && content_type == Some(OPENMETRICS_0_0_1_CONTENT_TYPE)),
                "{context}: {content_type:?}"
            );
            if !head {
                // OpenMetrics names a counter family without its `_total` suffix.
                let families: BTreeSet<&str> = families
                    .iter()
                    .map(|f| match format {
                        Format::OpenMetrics => f.strip_suffix("_total").unwrap_or(f),
                        Format::Prometheus => f,
                    })
                    .collect();
                assert_eq!(families_in(&response.body), families, "{context}");
                if *format == Format::OpenMetrics {
                    assert!(response.body.ends_with("# EOF\n"), "{context}");
                }
            }
        }
        Expected::Empty => {
            assert_eq!(response.header("content-type"), None, "{context}");
        }
        Expected::Error(_) => {
            assert_eq!(
                response.header("content-type"),
                Some("text/plain; charset=utf-8"),
                "{context}"
            );
        }
    }
}

/// A well-formed `Accept` header, three input bytes per media range, with the format the
/// documented rules pick for it (`None`: `406`) and the `Content-Type` they label it with.
fn structured_accept(bytes: &[u8]) -> (String, Option<(Format, &'static str)>) {
    const RANGES: [&str; 8] = [
        "*/*",
        "text/*",
        "application/*",
        "text/plain",
        "application/openmetrics-text",
        "application/json",
        "text/html",
        "image/*",
    ];
    // Per range kind: the version parameters it may carry, and which of them each format serves.
    const VERSIONS: [&str; 4] = ["0.0.4", "1.0.0", "0.0.1", "2.0.0"];
    let mut header = String::new();
    // Per format (Prometheus, OpenMetrics): the most specific matching range, then its best q.
    let mut best: [Option<(u8, u16)>; 2] = [None, None];
    // OpenMetrics is labelled 0.0.1 when every range deciding its q-value names 0.0.1.
    let mut draft = false;
    for chunk in bytes.chunks_exact(3) {
        let (a, b, c) = (chunk[0], chunk[1], chunk[2]);
        let range = RANGES[usize::from(a & 7)];
        let concrete = !range.contains('*');
        let version = (concrete && a & 0x18 != 0).then(|| VERSIONS[usize::from((a >> 3) & 3)]);
        let quality: Option<u16> = match b % 8 {
            0 => None,
            1 => Some(0),
            2 => Some(1000),
            _ => u16::try_from(u32::from(b) * 1000 / 255).ok(),
        };
        // Separators with optional whitespace, names in any case (RFC 9110: case-insensitive).
        if !header.is_empty() || c & 1 != 0 {
            header.push_str([",", ", ", " ,\t", ",,"][usize::from((c >> 1) & 3)]);
        }
        let mut text = range.to_owned();
        if c & 8 != 0 {
            text = text.to_ascii_uppercase();
        }
        header.push_str(&text);
        let separator = if c & 16 != 0 { " ; " } else { ";" };
        if let Some(version) = version {
            header.push_str(separator);
            header.push_str(if c & 32 != 0 { "VERSION=" } else { "version=" });
            if c & 64 != 0 {
                header.push('"');
                header.push_str(version);
                header.push('"');
            } else {
                header.push_str(version);
            }
        }
        if let Some(q) = quality {
            header.push_str(separator);
            header.push_str(if c & 128 != 0 { "Q=" } else { "q=" });
            match q {
                1000 => header.push_str(["1", "1.0", "1.000"][usize::from(b / 8 % 3)]),
                0 => header.push_str(["0", "0.0", "0.000"][usize::from(b / 8 % 3)]),
                q => header.push_str(&format!("0.{q:03}")),
            }
        }
        let quality = quality.unwrap_or(1000);
        // How specifically the range names each format, if it matches it at all.
        let specificity = |kind: &str, subtype: &str, served: &[&str]| -> Option<u8> {
            match range.split_once('/') {
                Some(("*", "*")) => Some(0),
                Some((k, "*")) if k == kind => Some(1),
                Some((k, s)) if k == kind && s == subtype => match version {
                    None => Some(2),
                    Some(v) if served.contains(&v) => Some(3),
                    Some(_) => None,
                },
                _ => None,
            }
        };
        let matches = [
            specificity("text", "plain", &["0.0.4"]),
            specificity("application", "openmetrics-text", &["1.0.0", "0.0.1"]),
        ];
        for (i, (slot, matched)) in best.iter_mut().zip(matches).enumerate() {
            let Some(s) = matched else { continue };
            let names_draft = version == Some("0.0.1");
            *slot = match *slot {
                Some((t, q)) if t == s && q == quality => {
                    draft &= i != 1 || names_draft;
                    Some((t, q))
                }
                Some((t, q)) if t > s || (t == s && q > quality) => Some((t, q)),
                _ => {
                    if i == 1 {
                        draft = names_draft;
                    }
                    Some((s, quality))
                }
            };
        }
    }
    let ranges = bytes.len() / 3;
    let q = |slot: Option<(u8, u16)>| slot.map_or(0, |(_, q)| q);
    let (prometheus, openmetrics) = (q(best[0]), q(best[1]));
    let expected = if ranges == 0 || (prometheus > 0 && prometheus >= openmetrics) {
        Some((Format::Prometheus, Format::Prometheus.content_type()))
    } else if openmetrics > prometheus && draft {
        Some((Format::OpenMetrics, OPENMETRICS_0_0_1_CONTENT_TYPE))
    } else if openmetrics > prometheus {
        Some((Format::OpenMetrics, Format::OpenMetrics.content_type()))
    } else {
        None
    };
    (header, expected)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let query = parts.next();
    let accept = parts.next();

    // Negotiation, exactly, on a well-formed header.
    let (header, expected) = structured_accept(accept.unwrap_or_default().as_bytes());
    assert_eq!(
        negotiate(Some(&header)),
        expected.map(|(format, _)| format),
        "Accept: {header:?}"
    );
    assert_eq!(
        negotiate_content_type(Some(&header)).map(|n| (n.format, n.content_type)),
        expected,
        "Accept: {header:?}"
    );
    // Documented fixed points, and malformed ranges are ignored.
    assert_eq!(negotiate(None), Some(Format::Prometheus));
    assert_eq!(negotiate(Some("")), Some(Format::Prometheus));
    if let Some(accept) = accept {
        let chosen = negotiate(Some(accept));
        assert_eq!(
            negotiate(Some(&format!("{accept},garbage"))),
            chosen,
            "{accept:?}"
        );
        assert_eq!(negotiate(Some(&format!(",{accept}"))), chosen, "{accept:?}");
    }

    let registry = registry();
    for (method, accept) in [(method, accept), ("GET", Some(header.as_str()))] {
        let context = format!("{method:?} {path:?} {query:?} {accept:?}");
        let expected = model(method, path, query, accept);
        let response = respond(registry, method, path, query, accept);
        check(&response, &expected, method == "HEAD", &context);
        if method == "HEAD" {
            // HEAD: the status and headers GET would get, with no body.
            let get = respond(registry, "GET", path, query, accept);
            check(&get, &expected, false, &context);
            assert_eq!(response.headers, get.headers, "{context}");
        }
    }
});
