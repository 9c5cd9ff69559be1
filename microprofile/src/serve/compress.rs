//! Content codings: which one an `Accept-Encoding` header asks for, and the response body in it.
//!
//! Kept apart from the routing and media-type negotiation of [`super`], which it builds on:
//! [`respond_encoded`] is [`respond`] followed by [`MetricsResponse::encode`].

#[cfg(any(feature = "server", feature = "axum"))]
use super::{respond, MetricsResponse};
use crate::encoding::negotiate::{is_token, parse_quality};
#[cfg(any(feature = "server", feature = "axum"))]
use crate::registry::Registry;

/// Bodies shorter than this (in bytes) are sent uncompressed even when the client accepts gzip
/// (unless it refuses `identity`): below about a kilobyte, gzip's header and trailer (18 bytes)
/// and the CPU time buy next to nothing.
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// A content coding the endpoint can send (RFC 9110, section 8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentCoding {
    /// No coding: the body as encoded by [`Format`](crate::Format).
    Identity,
    /// gzip (RFC 1952).
    Gzip,
}

impl ContentCoding {
    /// The token of `Content-Encoding`, or `None` for identity (which is never sent).
    pub const fn header_value(self) -> Option<&'static str> {
        match self {
            ContentCoding::Identity => None,
            ContentCoding::Gzip => Some("gzip"),
        }
    }
}

/// The q-values (in thousandths) an `Accept-Encoding` header gives the codings offered.
struct EncodingPreferences {
    /// `gzip` (or its alias `x-gzip`), else `*`, else 0: a coding the header does not list is
    /// not acceptable.
    gzip: u16,
    /// `identity`, else `*`; `None` when neither is listed: acceptable, but after any other.
    identity: Option<u16>,
}

impl EncodingPreferences {
    fn parse(header: &str) -> EncodingPreferences {
        let mut gzip = None;
        let mut identity = None;
        let mut any = None;
        for element in header.split(',') {
            let Some((coding, quality)) = parse_coding(element) else {
                continue;
            };
            let slot =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    &mut gzip
                } else if coding.eq_ignore_ascii_case("identity") {
                    &mut identity
                } else if coding == "*" {
                    &mut any
                } else {
                    continue;
                };
            // Of a coding listed twice the higher q-value counts, as for `Accept`.
            *slot = Some(slot.map_or(quality, |q: u16| q.max(quality)));
        }
        EncodingPreferences {
            gzip: gzip.or(any).unwrap_or(0),
            identity: identity.or(any),
        }
    }
}

/// One element of `Accept-Encoding`: a coding and its q-value; `None` when it is malformed (it
/// is then ignored).
fn parse_coding(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim();
    if !is_token(coding) {
        return None;
    }
    let mut quality = 1000;
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    Some((coding, quality))
}

/// Picks the content coding of a `200` body of `len` bytes for an `Accept-Encoding` header, or
/// `None` when the client accepts neither gzip nor identity (answer `406`).
///
/// The rules of RFC 9110 (section 12.5.3), with q-values:
/// - No header: identity (a client that says nothing may not decode gzip).
/// - `gzip` (or `x-gzip`) is acceptable when listed with a q-value above 0, or when it is not
///   listed and `*` is; a header that lists neither leaves it out (`Accept-Encoding: identity`,
///   or an empty header, means no coding).
/// - `identity` is acceptable unless excluded by `identity;q=0`, or by `*;q=0` without an
///   `identity` entry.
/// - Gzip is sent when acceptable and its q-value is at least that of identity (ties go to gzip;
///   identity that is only implied loses to any acceptable gzip), and the body has at least
///   [`MIN_COMPRESSED_BYTES`], or identity is excluded whatever the size.
/// - Coding names are case-insensitive; of a coding listed twice the higher q-value counts;
///   a malformed element (or one with a bad q-value) is ignored, as are codings not offered
///   (`br`, `deflate`, `zstd`).
///
/// ```
/// use microprofile::serve::{negotiate_encoding, ContentCoding};
/// let big = 64 * 1024;
/// assert_eq!(negotiate_encoding(None, big), Some(ContentCoding::Identity));
/// assert_eq!(negotiate_encoding(Some("gzip"), big), Some(ContentCoding::Gzip));
/// // Prometheus' header is `Accept-Encoding: gzip`; Go's HTTP client sends the same.
/// assert_eq!(negotiate_encoding(Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), big), Some(ContentCoding::Gzip));
/// assert_eq!(negotiate_encoding(Some("gzip;q=0"), big), Some(ContentCoding::Identity));
/// assert_eq!(negotiate_encoding(Some("identity;q=1, gzip;q=0.5"), big), Some(ContentCoding::Identity));
/// // Small bodies go out as they are, unless identity is refused.
/// assert_eq!(negotiate_encoding(Some("gzip"), 100), Some(ContentCoding::Identity));
/// assert_eq!(negotiate_encoding(Some("gzip, identity;q=0"), 100), Some(ContentCoding::Gzip));
/// assert_eq!(negotiate_encoding(Some("*;q=0"), big), None);
/// ```
pub fn negotiate_encoding(accept_encoding: Option<&str>, len: usize) -> Option<ContentCoding> {
    let Some(header) = accept_encoding else {
        return Some(ContentCoding::Identity);
    };
    let preferences = EncodingPreferences::parse(header);
    let gzip = preferences.gzip > 0;
    let identity = preferences.identity.is_none_or(|q| q > 0);
    let gzip_preferred = gzip && preferences.identity.is_none_or(|q| preferences.gzip >= q);
    if gzip && (!identity || (gzip_preferred && len >= MIN_COMPRESSED_BYTES)) {
        Some(ContentCoding::Gzip)
    } else if identity {
        Some(ContentCoding::Identity)
    } else {
        None
    }
}

/// A [`MetricsResponse`] with its body in the negotiated content coding: what a transport
/// writes. Made by [`respond_encoded`] or [`MetricsResponse::encode`].
///
/// As for [`MetricsResponse`], header names are lowercase and appear at most once, and
/// `content-length` is always given: the length of the body as sent (compressed, if it is),
/// also for `HEAD`, whose [`body`](Self::body) is empty.
#[cfg(any(feature = "server", feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "server", feature = "axum"))))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, lowercase names.
    pub headers: Vec<(&'static str, String)>,
    /// The body as sent; empty for `HEAD`.
    pub body: Vec<u8>,
}

#[cfg(any(feature = "server", feature = "axum"))]
impl EncodedResponse {
    /// The value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        super::endpoint::find_header(&self.headers, name)
    }
}

#[cfg(any(feature = "server", feature = "axum"))]
impl MetricsResponse {
    /// Puts the body in the content coding [`negotiate_encoding`] picks for `accept_encoding`
    /// (several `Accept-Encoding` headers joined with `,`), and drops it when `head`.
    ///
    /// `self` must carry the body a `GET` gets (for `HEAD`, the response to the same request as
    /// `GET`), so that `content-length` is that of the body `GET` sends, compressed or not.
    ///
    /// Only a `200` is negotiated: it gets `vary: Accept, Accept-Encoding` (whichever coding is
    /// chosen, since another request could get the other), `content-encoding: gzip` when
    /// compressed, and `406` when the client accepts neither gzip nor identity. Other statuses
    /// (short error texts, `401` from [`crate::serve::auth`]) are sent as they are.
    pub fn encode(self, accept_encoding: Option<&str>, head: bool) -> EncodedResponse {
        let MetricsResponse {
            status,
            mut headers,
            body,
        } = self;
        if status != 200 {
            return EncodedResponse::identity(status, headers, body.into_bytes(), head);
        }
        let body = match negotiate_encoding(accept_encoding, body.len()) {
            Some(ContentCoding::Identity) => body.into_bytes(),
            Some(ContentCoding::Gzip) => match gzip(body.as_bytes()) {
                Ok(compressed) => {
                    headers.push(("content-encoding", "gzip".to_owned()));
                    compressed
                }
                // Writing into memory does not fail; if it did, the body goes out as it is.
                Err(_) => body.into_bytes(),
            },
            None => {
                let mut refused = MetricsResponse::error(
                    406,
                    "Not Acceptable: metrics are offered with the content codings gzip and identity",
                    false,
                );
                add_vary_accept_encoding(&mut refused.headers);
                return EncodedResponse::identity(
                    refused.status,
                    refused.headers,
                    refused.body.into_bytes(),
                    head,
                );
            }
        };
        add_vary_accept_encoding(&mut headers);
        EncodedResponse::identity(status, headers, body, head)
    }
}

#[cfg(any(feature = "server", feature = "axum"))]
impl EncodedResponse {
    /// Sets `content-length` to the length of `body` (as sent), then drops the body for `HEAD`.
    fn identity(
        status: u16,
        mut headers: Vec<(&'static str, String)>,
        mut body: Vec<u8>,
        head: bool,
    ) -> EncodedResponse {
        if status == 204 {
            // No body, and no `content-length` either (RFC 9110 forbids it on a `204`), for
            // `HEAD` too.
            headers.retain(|(n, _)| *n != "content-length");
        } else {
            let length = body.len().to_string();
            match headers.iter_mut().find(|(n, _)| *n == "content-length") {
                Some((_, value)) => *value = length,
                None => headers.push(("content-length", length)),
            }
        }
        if head {
            body = Vec::new();
        }
        EncodedResponse {
            status,
            headers,
            body,
        }
    }
}

/// Adds `Accept-Encoding` to `vary` (or adds `vary: Accept-Encoding`).
#[cfg(any(feature = "server", feature = "axum"))]
fn add_vary_accept_encoding(headers: &mut Vec<(&'static str, String)>) {
    match headers.iter_mut().find(|(n, _)| *n == "vary") {
        Some((_, value)) => value.push_str(", Accept-Encoding"),
        None => headers.push(("vary", "Accept-Encoding".to_owned())),
    }
}

/// gzip at the fastest level: metrics text is repetitive enough that level 1 already shrinks a
/// scrape several times over, for a fraction of the default level's CPU time.
#[cfg(any(feature = "server", feature = "axum"))]
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

/// [`respond`], with the body in the content coding the `Accept-Encoding` header asks for (see
/// [`negotiate_encoding`] and [`MetricsResponse::encode`]): what the built-in listener, the axum
/// router and the exporter send. Never panics, whatever the input.
///
/// A `HEAD` is answered as the `GET` would be (the body encoded and compressed alike, so the
/// same `content-length` and `content-encoding`), then the body is dropped.
///
/// ```
/// use std::io::Read;
/// use microprofile::serve::respond_encoded;
/// use microprofile::{Metadata, Registry};
///
/// let registry = Registry::new();
/// for i in 0..100 {
///     registry.counter(Metadata::named(format!("hits_{i}"))).unwrap().inc();
/// }
/// let plain = respond_encoded(&registry, "GET", "/metrics", None, None, None);
/// assert_eq!(plain.header("content-encoding"), None);
///
/// let gzipped = respond_encoded(&registry, "GET", "/metrics", None, None, Some("gzip"));
/// assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
/// assert_eq!(gzipped.header("vary"), Some("Accept, Accept-Encoding"));
/// assert!(gzipped.body.len() < plain.body.len() / 4);
/// # let mut text = Vec::new();
/// # flate2::read::GzDecoder::new(&gzipped.body[..]).read_to_end(&mut text).unwrap();
/// # assert_eq!(text, plain.body);
///
/// let head = respond_encoded(&registry, "HEAD", "/metrics", None, None, Some("gzip"));
/// assert!(head.body.is_empty());
/// assert_eq!(head.headers, gzipped.headers);
/// ```
#[cfg(any(feature = "server", feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "server", feature = "axum"))))]
pub fn respond_encoded(
    registry: &Registry,
    method: &str,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
    accept_encoding: Option<&str>,
) -> EncodedResponse {
    let head = method == "HEAD";
    // `respond` treats `HEAD` as `GET` but for dropping the body; asking for the `GET` keeps
    // the body, so that it is compressed (and measured) as the `GET`'s would be.
    let method = if head { "GET" } else { method };
    respond(registry, method, path, query, accept).encode(accept_encoding, head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const BIG: usize = 64 * 1024;

    #[test]
    fn encoding_negotiation() {
        use ContentCoding::{Gzip, Identity};
        for (header, big, small) in [
            (None, Some(Identity), Some(Identity)),
            // An empty header: no coding wanted.
            (Some(""), Some(Identity), Some(Identity)),
            (Some("gzip"), Some(Gzip), Some(Identity)),
            (Some("GZIP"), Some(Gzip), Some(Identity)),
            (Some("x-gzip"), Some(Gzip), Some(Identity)),
            (Some("gzip, deflate, br"), Some(Gzip), Some(Identity)),
            (
                Some("br;q=1.0, gzip;q=0.8, *;q=0.1"),
                Some(Gzip),
                Some(Identity),
            ),
            (Some("*"), Some(Gzip), Some(Identity)),
            (Some("gzip;q=0.5"), Some(Gzip), Some(Identity)),
            (Some(" gzip ; q=0.001 "), Some(Gzip), Some(Identity)),
            (Some("gzip, identity"), Some(Gzip), Some(Identity)),
            (
                Some("gzip;q=0.5, identity;q=0.5"),
                Some(Gzip),
                Some(Identity),
            ),
            // Identity preferred, or gzip excluded or not offered.
            (Some("identity"), Some(Identity), Some(Identity)),
            (Some("identity, gzip;q=0.5"), Some(Identity), Some(Identity)),
            (Some("gzip;q=0"), Some(Identity), Some(Identity)),
            (Some("gzip;q=0.000"), Some(Identity), Some(Identity)),
            (Some("*, gzip;q=0"), Some(Identity), Some(Identity)),
            (Some("br, deflate, zstd"), Some(Identity), Some(Identity)),
            (Some("gzip;q=0, gzip;q=0.5"), Some(Gzip), Some(Identity)),
            // Malformed elements are void: a bad q-value does not make gzip acceptable.
            (Some("gzip;q=2"), Some(Identity), Some(Identity)),
            (Some("gzip;q=abc"), Some(Identity), Some(Identity)),
            (Some("gz ip, g\"zip"), Some(Identity), Some(Identity)),
            (Some(",,;,"), Some(Identity), Some(Identity)),
            // Identity excluded: gzip whatever the size, or nothing.
            (Some("gzip, identity;q=0"), Some(Gzip), Some(Gzip)),
            (Some("gzip, *;q=0"), Some(Gzip), Some(Gzip)),
            (Some("*;q=0.3, identity;q=0"), Some(Gzip), Some(Gzip)),
            (Some("identity;q=0"), None, None),
            (Some("*;q=0"), None, None),
            (Some("gzip;q=0, identity;q=0"), None, None),
            (Some("br, identity;q=0"), None, None),
            (Some("*;q=0, identity"), Some(Identity), Some(Identity)),
        ] {
            assert_eq!(negotiate_encoding(header, BIG), big, "{header:?} big");
            assert_eq!(negotiate_encoding(header, 10), small, "{header:?} small");
        }
        // The threshold is inclusive.
        assert_eq!(
            negotiate_encoding(Some("gzip"), MIN_COMPRESSED_BYTES),
            Some(Gzip)
        );
        assert_eq!(
            negotiate_encoding(Some("gzip"), MIN_COMPRESSED_BYTES - 1),
            Some(Identity)
        );
    }

    #[cfg(any(feature = "server", feature = "axum"))]
    fn big_registry() -> Registry {
        let registry = Registry::new();
        for i in 0..200 {
            registry
                .counter(crate::metadata::Metadata::named(format!("requests_{i}")))
                .unwrap()
                .inc_by(i);
        }
        registry
    }

    #[cfg(any(feature = "server", feature = "axum"))]
    fn gunzip(data: &[u8]) -> String {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(data)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[cfg(any(feature = "server", feature = "axum"))]
    #[test]
    fn gzip_bodies_decode_to_the_identity_body() {
        let registry = big_registry();
        let om = "application/openmetrics-text";
        for accept in [None, Some(om)] {
            let plain = respond(&registry, "GET", "/metrics", None, accept);
            assert!(plain.body.len() > MIN_COMPRESSED_BYTES);
            let identity = respond_encoded(&registry, "GET", "/metrics", None, accept, None);
            assert_eq!(identity.body, plain.body.as_bytes());
            assert_eq!(identity.header("content-encoding"), None);
            assert_eq!(identity.header("vary"), Some("Accept, Accept-Encoding"));
            assert_eq!(
                identity.header("content-length"),
                Some(plain.body.len().to_string().as_str())
            );

            let gzipped = respond_encoded(&registry, "GET", "/metrics", None, accept, Some("gzip"));
            assert_eq!(gzipped.status, 200);
            assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
            assert_eq!(gzipped.header("vary"), Some("Accept, Accept-Encoding"));
            assert_eq!(gzipped.header("content-type"), plain.header("content-type"));
            assert_eq!(
                gzipped.header("content-length"),
                Some(gzipped.body.len().to_string().as_str())
            );
            assert!(
                gzipped.body.len() * 4 < plain.body.len(),
                "{}",
                gzipped.body.len()
            );
            assert_eq!(gunzip(&gzipped.body), plain.body);

            // HEAD: the headers of the GET, compressed length included, and no body.
            let head = respond_encoded(&registry, "HEAD", "/metrics", None, accept, Some("gzip"));
            assert_eq!(head.status, 200);
            assert_eq!(head.headers, gzipped.headers);
            assert!(head.body.is_empty());
            let head = respond_encoded(&registry, "HEAD", "/metrics", None, accept, None);
            assert_eq!(head.headers, identity.headers);
            assert!(head.body.is_empty());
        }
    }

    #[cfg(any(feature = "server", feature = "axum"))]
    #[test]
    fn small_errors_and_refusals() {
        let registry = big_registry();
        // A small body is not compressed, but still varies.
        let small = respond_encoded(
            &registry,
            "GET",
            "/metrics/application/requests_1",
            None,
            None,
            Some("gzip"),
        );
        assert_eq!(small.status, 200);
        assert_eq!(small.header("content-encoding"), None);
        assert_eq!(small.header("vary"), Some("Accept, Accept-Encoding"));
        // ... unless identity is refused.
        let forced = respond_encoded(
            &registry,
            "GET",
            "/metrics/application/requests_1",
            None,
            None,
            Some("gzip;q=0.5, identity;q=0"),
        );
        assert_eq!(forced.header("content-encoding"), Some("gzip"));
        assert_eq!(gunzip(&forced.body).as_bytes(), small.body);
        // Neither coding acceptable: 406, for GET and HEAD alike.
        for method in ["GET", "HEAD"] {
            let refused = respond_encoded(&registry, method, "/metrics", None, None, Some("*;q=0"));
            assert_eq!(refused.status, 406);
            assert_eq!(refused.header("content-encoding"), None);
            assert_eq!(refused.header("vary"), Some("Accept, Accept-Encoding"));
            assert_eq!(refused.body.is_empty(), method == "HEAD");
        }
        // Errors go out as they are, whatever the header.
        for (method, path, accept) in [
            ("GET", "/metrics/nope", None),
            ("POST", "/metrics", None),
            ("GET", "/metrics", Some("application/json")),
            ("GET", "/nope", None),
        ] {
            let plain = respond(&registry, method, path, None, accept);
            for encoding in [Some("gzip, identity;q=0"), Some("*;q=0"), Some("gzip")] {
                let got = respond_encoded(&registry, method, path, None, accept, encoding);
                assert_eq!(got.status, plain.status);
                assert_eq!(got.headers, plain.headers, "{method} {path} {encoding:?}");
                assert_eq!(got.body, plain.body.as_bytes());
            }
        }
    }

    #[cfg(any(feature = "server", feature = "axum"))]
    #[test]
    fn never_panics_on_odd_encodings() {
        let registry = big_registry();
        for header in [
            "",
            ";",
            ";;q=",
            "gzip;q",
            "gzip;q=",
            "gzip;=1",
            "*;q=0.5;q=0",
            "\u{0}",
            "é;q=1",
            "gzip;q=1.0000",
            "identity;q=-0",
            "gzip;;;",
            ",gzip,",
        ] {
            for method in ["GET", "HEAD"] {
                let r = respond_encoded(&registry, method, "/metrics", None, None, Some(header));
                assert!(matches!(r.status, 200 | 406), "{header:?}");
                let length: usize = r.header("content-length").unwrap().parse().unwrap();
                if method == "GET" {
                    assert_eq!(length, r.body.len(), "{header:?}");
                }
            }
        }
    }
}
