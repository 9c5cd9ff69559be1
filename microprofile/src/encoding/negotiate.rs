//! Content negotiation: which [`Format`] an `Accept` header asks for (RFC 9110 q-values), and the
//! `Content-Type` to answer with. Beside the encoders, as the formats it chooses between; the
//! serving code ([`crate::serve`]) calls it for each request, and answers `406` on `None`.

use super::Format;

/// A media type this endpoint can send.
struct Offer {
    format: Format,
    kind: &'static str,
    subtype: &'static str,
    /// `version` parameters that accept this offer (the first is the one served).
    versions: &'static [&'static str],
}

/// In order of preference on ties: Prometheus text is the default.
const OFFERS: [Offer; 2] = [
    Offer {
        format: Format::Prometheus,
        kind: "text",
        subtype: "plain",
        versions: &["0.0.4"],
    },
    Offer {
        format: Format::OpenMetrics,
        kind: "application",
        subtype: "openmetrics-text",
        // OpenMetrics 0.0.1 is the draft of 1.0.0; Prometheus asks for both and parses both alike.
        versions: &["1.0.0", "0.0.1"],
    },
];

/// One media range of an `Accept` header.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    version: Option<&'a str>,
    /// In thousandths, 0..=1000.
    quality: u16,
}

impl MediaRange<'_> {
    /// How specifically this range names `offer` (higher is more specific), or `None` if it
    /// does not match it.
    fn specificity(&self, offer: &Offer) -> Option<u8> {
        if self.kind == "*" {
            return (self.subtype == "*").then_some(0);
        }
        if !self.kind.eq_ignore_ascii_case(offer.kind) {
            return None;
        }
        if self.subtype == "*" {
            return Some(1);
        }
        if !self.subtype.eq_ignore_ascii_case(offer.subtype) {
            return None;
        }
        match self.version {
            None => Some(2),
            Some(v) if offer.versions.contains(&v) => Some(3),
            Some(_) => None,
        }
    }
}

/// Parses one media range; `None` when it is malformed (it is then ignored).
fn parse_media_range(text: &str) -> Option<MediaRange<'_>> {
    let mut parts = text.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut range = MediaRange {
        kind,
        subtype,
        version: None,
        quality: 1000,
    };
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if name.eq_ignore_ascii_case("q") {
            range.quality = parse_quality(value)?;
        } else if name.eq_ignore_ascii_case("version") {
            range.version = Some(value);
        }
    }
    Some(range)
}

pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A qvalue (`0`, `0.5`, `1.000`, ...) in thousandths; `None` when it is not one.
pub(crate) fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = whole * 1000;
    let mut scale = 100;
    for digit in fraction.bytes() {
        thousandths += u16::from(digit - b'0') * scale;
        scale /= 10;
    }
    (thousandths <= 1000).then_some(thousandths)
}

/// The `Content-Type` of OpenMetrics 0.0.1, the draft of 1.0.0 that Prometheus still offers to
/// accept. Its text is written exactly as 1.0.0 (Prometheus' own client library does the same and
/// differs only in this header), so only the header tells them apart.
pub const OPENMETRICS_0_0_1_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=0.0.1; charset=utf-8";

/// The outcome of [`negotiate_content_type`]: the format to write and the exact `Content-Type`
/// to send with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The format of the body.
    pub format: Format,
    /// The `Content-Type` header, with the version the client asked for.
    pub content_type: &'static str,
}

/// Picks the format to send for an `Accept` header, or `None` when the client accepts none of
/// them (answer `406`). [`negotiate_content_type`] also gives the `Content-Type` to send.
///
/// No header, an empty one, or one with no well-formed media range gives Prometheus text. For
/// each format, the most specific matching range sets its q-value (`q=0` excludes it); the format
/// with the highest q-value wins, Prometheus text on a tie. Specificity goes `*/*`, `type/*`,
/// `type/subtype`, `type/subtype` with a `version`; of equally specific matching ranges the
/// highest q-value counts. A `version` parameter must be one the format serves (`0.0.4` for
/// `text/plain`; `1.0.0` or `0.0.1` for `application/openmetrics-text`), or the range does not
/// match it; other parameters are ignored, and so are malformed ranges. Media types and
/// parameter names are case-insensitive.
///
/// ```
/// use microprofile::encoding::{negotiate, Format};
/// assert_eq!(negotiate(None), Some(Format::Prometheus));
/// assert_eq!(negotiate(Some("*/*")), Some(Format::Prometheus));
/// assert_eq!(
///     negotiate(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")),
///     Some(Format::OpenMetrics),
/// );
/// assert_eq!(negotiate(Some("text/plain;q=0, */*")), Some(Format::OpenMetrics));
/// assert_eq!(negotiate(Some("application/json")), None);
/// ```
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    negotiate_content_type(accept).map(|n| n.format)
}

/// [`negotiate`], with the `Content-Type` to answer with.
///
/// OpenMetrics is labelled `version=1.0.0` unless the range that decided its q-value (the most
/// specific matching one, of those the highest q-value) names `version=0.0.1` and no range as
/// specific and with the same q-value names `1.0.0`: then it is labelled
/// [`version=0.0.1`](OPENMETRICS_0_0_1_CONTENT_TYPE), with the same body. A range with no
/// version (`application/openmetrics-text`, `application/*`, `*/*`) gets the current version,
/// 1.0.0.
///
/// ```
/// use microprofile::encoding::{negotiate_content_type, Format};
/// use microprofile::serve::OPENMETRICS_0_0_1_CONTENT_TYPE;
/// let draft = negotiate_content_type(Some("application/openmetrics-text; version=0.0.1")).unwrap();
/// assert_eq!(draft.format, Format::OpenMetrics);
/// assert_eq!(draft.content_type, OPENMETRICS_0_0_1_CONTENT_TYPE);
/// let scrape = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75";
/// assert_eq!(
///     negotiate_content_type(Some(scrape)).unwrap().content_type,
///     Format::OpenMetrics.content_type(),
/// );
/// ```
pub fn negotiate_content_type(accept: Option<&str>) -> Option<Negotiated> {
    let served = |format: Format| Negotiated {
        format,
        content_type: format.content_type(),
    };
    let Some(accept) = accept else {
        return Some(served(Format::Prometheus));
    };
    let ranges: Vec<MediaRange<'_>> = accept.split(',').filter_map(parse_media_range).collect();
    if ranges.is_empty() {
        return Some(served(Format::Prometheus));
    }
    let mut best: Option<(u16, Negotiated)> = None;
    for offer in &OFFERS {
        // Specificity, q-value, and whether the deciding range(s) asked for the draft 0.0.1 only.
        let mut chosen: Option<(u8, u16, bool)> = None;
        for range in &ranges {
            if let Some(specificity) = range.specificity(offer) {
                let draft = range.version == Some(OPENMETRICS_DRAFT);
                let this = (specificity, range.quality);
                chosen = match chosen {
                    Some((s, q, d)) if (s, q) == this => Some((s, q, d && draft)),
                    Some((s, q, d)) if (s, q) > this => Some((s, q, d)),
                    _ => Some((specificity, range.quality, draft)),
                };
            }
        }
        if let Some((_, quality, draft)) = chosen {
            if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
                let negotiated = match offer.format {
                    Format::OpenMetrics if draft => Negotiated {
                        format: Format::OpenMetrics,
                        content_type: OPENMETRICS_0_0_1_CONTENT_TYPE,
                    },
                    format => served(format),
                };
                best = Some((quality, negotiated));
            }
        }
    }
    best.map(|(_, negotiated)| negotiated)
}

/// The `version` of OpenMetrics' draft; only `application/openmetrics-text` serves it.
const OPENMETRICS_DRAFT: &str = "0.0.1";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const PROMETHEUS_SCRAPE: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn negotiation_defaults_to_prometheus() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/*"),
            Some("text/plain"),
            Some("TEXT/PLAIN; Version=0.0.4"),
            Some("text/plain;version=\"0.0.4\""),
            Some("text/plain, application/openmetrics-text"),
            Some("application/openmetrics-text;q=0.5, text/plain;q=0.5"),
            Some("*/*;q=0.1"),
            Some(",,,"),
            Some("garbage"),
            Some(";;;"),
            Some("text/plain;charset=utf-8"),
            Some("text/html, */*;q=0.8"),
        ] {
            assert_eq!(negotiate(accept), Some(Format::Prometheus), "{accept:?}");
        }
    }

    #[test]
    fn negotiation_picks_openmetrics_when_preferred() {
        for accept in [
            PROMETHEUS_SCRAPE,
            "application/openmetrics-text",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "application/openmetrics-text;version=0.0.1",
            "application/*",
            "  application/openmetrics-text  ;  q=1  ",
            "text/plain;q=0.5, application/openmetrics-text;q=0.6",
            "text/plain;q=0, */*",
            "text/*;q=0, */*",
            "text/plain;version=0.0.4;q=0.0, */*;q=0.1",
            "Application/OpenMetrics-Text;VERSION=1.0.0",
            "application/openmetrics-text;q=1.000,text/plain;q=0.999",
            "text/plain;version=9.9.9, application/openmetrics-text",
            // Prometheus 3's scrape header.
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            // The more specific range wins over the general one, even with a lower q.
            "application/openmetrics-text;q=0.3, */*;q=0.2",
        ] {
            assert_eq!(
                negotiate(Some(accept)),
                Some(Format::OpenMetrics),
                "{accept}"
            );
        }
    }

    #[test]
    fn negotiation_refuses() {
        for accept in [
            "application/json",
            "text/html",
            "*/*;q=0",
            "text/plain;q=0",
            "text/plain;q=0, application/openmetrics-text;q=0",
            "text/plain;version=1.0.0",
            "application/openmetrics-text;version=2.0.0",
            "image/*",
            "application/json, text/html;q=0.9",
            // The specific exclusion wins over the general acceptance.
            "text/plain;q=0, application/openmetrics-text;q=0, */*",
        ] {
            assert_eq!(negotiate(Some(accept)), None, "{accept}");
        }
    }

    #[test]
    fn malformed_ranges_are_ignored() {
        // A bad q-value makes its range void; the rest still count.
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=2, text/plain;q=0.1")),
            Some(Format::Prometheus)
        );
        assert_eq!(
            negotiate(Some("text/plain;q=abc, application/openmetrics-text;q=0.1")),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            negotiate(Some(
                "text/plain;q=0.1234, application/openmetrics-text;q=0.1"
            )),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            negotiate(Some("*/plain, application/openmetrics-text")),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            negotiate(Some("text/plain;noequals, application/openmetrics-text")),
            Some(Format::OpenMetrics)
        );
        for q in [
            "-1", "1.5", "1.0001", "", ".5", "1.001", "+0.5", "0x1", "0.5x",
        ] {
            assert_eq!(parse_quality(q), None, "{q}");
        }
        for (q, t) in [
            ("0", 0),
            ("0.", 0),
            ("1", 1000),
            ("1.000", 1000),
            ("0.75", 750),
        ] {
            assert_eq!(parse_quality(q), Some(t), "{q}");
        }
        // Nothing well-formed at all: as if there were no header.
        assert_eq!(
            negotiate(Some("\u{0}\u{ffff}/é;q=;;,")),
            Some(Format::Prometheus)
        );
    }
}
