//! The metrics endpoint, with no HTTP library in it: routing ([`respond`]), and [`Endpoint`], a
//! registry with who may read it, answering a request head with the response to write
//! (authentication, routing, negotiation, compression). Every transport answers through it; the
//! module docs of [`crate::serve`] describe the routes and statuses.

use crate::encoding::{negotiate_content_type, Format};
use crate::metadata::Scope;
use crate::registry::{Registry, Selection};
#[cfg(any(feature = "server", feature = "axum"))]
use crate::serve::auth::{Auth, AuthError};
#[cfg(any(feature = "server", feature = "axum"))]
use crate::serve::EncodedResponse;

/// The methods the metrics endpoint serves, as sent in `Allow`.
pub const ALLOW: &str = "GET, HEAD";

/// What to send back: a status, headers and a body.
///
/// Header names are lowercase (as `http::HeaderName` wants them) and appear at most once each.
/// `content-length` is given with every status but `204` (which has neither body nor
/// `content-type`): for `HEAD` it is the length the `GET` body would have, while
/// [`body`](Self::body) is empty. A transport should set these headers (replacing any it would
/// add itself) and send the body as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, lowercase names.
    pub headers: Vec<(&'static str, String)>,
    /// The body; empty for `HEAD`.
    pub body: String,
}

impl MetricsResponse {
    /// The value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn new(status: u16, content_type: &str, body: String, head: bool) -> MetricsResponse {
        let mut headers = vec![
            ("content-type", content_type.to_owned()),
            ("content-length", body.len().to_string()),
        ];
        if status == 405 {
            headers.push(("allow", ALLOW.to_owned()));
        }
        if status == 200 || status == 406 {
            headers.push(("vary", "Accept".to_owned()));
        }
        MetricsResponse {
            status,
            headers,
            body: if head { String::new() } else { body },
        }
    }

    /// `204 No Content`: no body, so neither `content-type` nor `content-length` (RFC 9110
    /// forbids the latter on a `204`).
    fn no_content() -> MetricsResponse {
        MetricsResponse {
            status: 204,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub(crate) fn error(status: u16, message: &str, head: bool) -> MetricsResponse {
        let mut body = String::with_capacity(message.len() + 1);
        body.push_str(message);
        body.push('\n');
        MetricsResponse::new(status, "text/plain; charset=utf-8", body, head)
    }
}

/// The value of the header `name` (lowercase) among `headers`, for [`MetricsResponse::header`] and
/// `EncodedResponse::header`.
pub(crate) fn find_header<'a>(
    headers: &'a [(&'static str, String)],
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// Answers one request for metrics. Never panics, whatever the input.
///
/// `path` is the request path (if it holds a `?` and `query` is `None`, the part after it is taken
/// as the query); `query` is the raw query string without `?`; `accept` the `Accept` header (several
/// `Accept` headers joined with `,`).
///
/// As MicroProfile Metrics 5.1 has it (`architecture.adoc`, "Exposing metrics via REST API"):
/// `200` with the metrics; `204` with no body for a scope, or a metric, that exists but has no
/// series to show (`/metrics` itself, the whole tree, is always `200`); `404` for a scope that does
/// not exist or a metric that is not there; `406` for an `Accept` that allows neither format;
/// `405` for any method but `GET` and `HEAD`, `OPTIONS` included (5.0 removed the JSON format,
/// and with it the metadata `OPTIONS` used to return; the TCK's `testPromMetrics405NotGET`
/// expects `405`). `name` without a scope (`/metrics?name=N`) selects metric `N` in every scope
/// that has it, as the TCK's `testMetricNameAcrossScopes` queries it.
///
/// ```
/// use microprofile::serve::respond;
/// use microprofile::{Metadata, Registry};
///
/// let registry = Registry::new();
/// registry.counter(Metadata::new("hits")).unwrap().inc();
///
/// let ok = respond(&registry, "GET", "/metrics/application/hits", None, None);
/// assert_eq!(ok.status, 200);
/// assert_eq!(ok.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
/// assert!(ok.body.contains("hits_total{mp_scope=\"application\"} 1"));
///
/// let om = respond(&registry, "GET", "/metrics", Some("scope=application&name=hits"),
///     Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"));
/// assert!(om.body.ends_with("# EOF\n"));
///
/// let across = respond(&registry, "GET", "/metrics", Some("name=hits"), None);
/// assert_eq!(across.body, ok.body);
///
/// assert_eq!(respond(&registry, "GET", "/metrics/base", None, None).status, 204);
/// assert_eq!(respond(&registry, "GET", "/metrics/nope", None, None).status, 404);
/// assert_eq!(respond(&registry, "GET", "/metrics?name=nope", None, None).status, 404);
/// assert_eq!(respond(&registry, "OPTIONS", "/metrics", None, None).status, 405);
/// assert_eq!(respond(&registry, "POST", "/metrics", None, None).status, 405);
/// assert_eq!(respond(&registry, "GET", "/metrics", None, Some("application/json")).status, 406);
/// ```
pub fn respond(
    registry: &Registry,
    method: &str,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
) -> MetricsResponse {
    let (path, query) = match (query, path.split_once('?')) {
        (None, Some((path, query))) => (path, Some(query)),
        _ => (path, query),
    };
    let head = method == "HEAD";
    let Some(route) = Route::parse(path, query) else {
        return MetricsResponse::error(404, "Not Found: metrics are served under /metrics", head);
    };
    if method != "GET" && !head {
        return MetricsResponse::error(
            405,
            "Method Not Allowed: the metrics endpoint serves GET and HEAD",
            false,
        );
    }
    let Some(negotiated) = negotiate_content_type(accept) else {
        return MetricsResponse::error(
            406,
            "Not Acceptable: metrics are offered as text/plain;version=0.0.4 and application/openmetrics-text;version=1.0.0",
            head,
        );
    };
    let scope_name = match (&route.path_scope, &route.query_scope) {
        (Some(a), Some(b)) if a != b => return not_found_scope(b, head),
        (Some(s), _) | (None, Some(s)) => Some(s),
        (None, None) => None,
    };
    let metric_name = match (&route.path_name, &route.query_name) {
        (Some(a), Some(b)) if a != b => return not_found_metric(b, true, head),
        (Some(n), _) | (None, Some(n)) => Some(n),
        (None, None) => None,
    };
    let scope = match scope_name {
        None => None,
        Some(name) => match Scope::new(name.clone()) {
            Ok(scope) if registry.has_scope(&scope) => Some(scope),
            _ => return not_found_scope(name, head),
        },
    };
    let mut body = String::new();
    let format = negotiated.format;
    let matched = match (&scope, metric_name) {
        (None, None) => registry.encode(&mut body, format, Selection::All),
        (Some(scope), None) => registry.encode(&mut body, format, Selection::Scope(scope)),
        (Some(scope), Some(name)) => {
            registry.encode(&mut body, format, Selection::Metric(scope, name))
        }
        (None, Some(name)) => encode_across_scopes(registry, &mut body, format, name),
    };
    match (matched, metric_name) {
        (Ok(0), Some(name)) => not_found_metric(name, scope.is_some(), head),
        // A scope or metric that exists but has nothing to show right now (spec: "204 when
        // retrieving a subtree that would exist, but has no content"); `/metrics` itself is the
        // whole tree, and is always `200`.
        (Ok(_), _)
            if (scope.is_some() || metric_name.is_some())
                && (body.is_empty() || body == "# EOF\n") =>
        {
            MetricsResponse::no_content()
        }
        (Ok(_), _) => MetricsResponse::new(200, negotiated.content_type, body, head),
        (Err(_), _) => MetricsResponse::error(500, "Internal Server Error: encoding failed", head),
    }
}

/// `/metrics?name=N`: metric `N` in every scope that has it, as [`Selection::Metric`] selects it
/// in each. Returns how many families matched, as [`Registry::encode`] does. A family written in
/// several scopes is written once, its series in scope order.
fn encode_across_scopes(
    registry: &Registry,
    out: &mut String,
    format: Format,
    name: &str,
) -> Result<usize, std::fmt::Error> {
    // The scopes that hold anything, from the registry's plan (no series is read for this).
    let mut scopes: Vec<Scope> = Vec::new();
    for planned in registry.plan(Selection::All).iter() {
        for member in planned.members {
            if !scopes.contains(&member.scope) {
                scopes.push(member.scope.clone());
            }
        }
    }
    scopes.sort();
    let mut matched = 0;
    let mut bodies = Vec::new();
    for scope in &scopes {
        let mut body = String::new();
        let n = registry.encode(&mut body, format, Selection::Metric(scope, name))?;
        if n > 0 {
            matched += n;
            bodies.push(body);
        }
    }
    match bodies.as_slice() {
        [] if format == Format::OpenMetrics => out.push_str("# EOF\n"),
        [] => {}
        [one] => out.push_str(one),
        several => merge_families(out, several, format),
    }
    Ok(matched)
}

/// Writes the families of several outputs of one format as one output: a family (its `# HELP`,
/// `# TYPE` and `# UNIT` lines, then its samples) that is in several is written once, with the
/// samples of each in turn; OpenMetrics' `# EOF` once, at the end.
fn merge_families(out: &mut String, bodies: &[String], format: Format) {
    // (family name, metadata lines, sample lines), in the order first seen.
    let mut families: Vec<(&str, String, String)> = Vec::new();
    for body in bodies {
        let mut current: Option<usize> = None;
        let mut fresh = false;
        for line in body.split_inclusive('\n') {
            if line == "# EOF\n" {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let family = rest.split(' ').next().unwrap_or(rest).trim_end();
                match families.iter().position(|(name, _, _)| *name == family) {
                    Some(at) => {
                        current = Some(at);
                        fresh = false;
                    }
                    None => {
                        families.push((family, line.to_owned(), String::new()));
                        current = Some(families.len() - 1);
                        fresh = true;
                    }
                }
                continue;
            }
            let metadata = line.starts_with("# TYPE ") || line.starts_with("# UNIT ");
            if current.is_none() {
                // Output always starts a family with `# HELP`; should it not, the lines are
                // kept, in a family of their own.
                families.push(("", String::new(), String::new()));
                current = Some(families.len() - 1);
                fresh = true;
            }
            let Some(slot) = current.and_then(|at| families.get_mut(at)) else {
                continue;
            };
            match (metadata, fresh) {
                (true, true) => slot.1.push_str(line),
                (true, false) => {}
                (false, _) => slot.2.push_str(line),
            }
        }
    }
    for (_, metadata, samples) in &families {
        out.push_str(metadata);
        out.push_str(samples);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

fn not_found_scope(name: &str, head: bool) -> MetricsResponse {
    let message = format!("Not Found: no scope {:?}", truncate(name));
    MetricsResponse::error(404, &message, head)
}

fn not_found_metric(name: &str, in_scope: bool, head: bool) -> MetricsResponse {
    let place = if in_scope {
        "in this scope"
    } else {
        "in any scope"
    };
    let message = format!("Not Found: no metric {:?} {place}", truncate(name));
    MetricsResponse::error(404, &message, head)
}

/// Caps what is echoed back from a request.
fn truncate(text: &str) -> &str {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What a request under `/metrics` asks for, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
struct Route {
    path_scope: Option<String>,
    path_name: Option<String>,
    query_scope: Option<String>,
    query_name: Option<String>,
}

impl Route {
    /// `None` for a path outside `/metrics`.
    fn parse(path: &str, query: Option<&str>) -> Option<Route> {
        let rest = path.strip_prefix("/metrics")?;
        let mut route = Route::default();
        if !rest.is_empty() && rest != "/" {
            let rest = rest.strip_prefix('/')?;
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            let mut segments = rest.split('/');
            route.path_scope = segments.next().map(|s| percent_decode(s, false));
            route.path_name = segments.next().map(|s| percent_decode(s, false));
            if segments.next().is_some() {
                return None;
            }
        }
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match percent_decode(key, true).as_str() {
                "scope" => &mut route.query_scope,
                "name" => &mut route.query_name,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(percent_decode(value, true));
            }
        }
        Some(route)
    }
}

/// Decodes `%XX` escapes (and `+` as a space in a query); a `%` not followed by two hex digits is
/// kept as is, and bytes that do not form UTF-8 become U+FFFD.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    // The `percent-encoding` crate instead of a hand-written decoder; `+` is not its business.
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    if plus_is_space && text.contains('+') {
        // Before decoding, so that `%2B` stays a `+`.
        decode(&text.replace('+', " "))
    } else {
        decode(text)
    }
}

/// The parts of a request the endpoint answers from, as the transport read them. Several headers
/// of one name come joined with `,`.
#[cfg(any(feature = "server", feature = "axum"))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestHead<'a> {
    /// The method, as sent (`GET`, `HEAD`, ...).
    pub(crate) method: &'a str,
    /// The request path.
    pub(crate) path: &'a str,
    /// The raw query string, without `?`.
    pub(crate) query: Option<&'a str>,
    /// The `Accept` header.
    pub(crate) accept: Option<&'a str>,
    /// The `Accept-Encoding` header.
    pub(crate) accept_encoding: Option<&'a str>,
    /// The `Authorization` header, as bytes.
    pub(crate) authorization: Option<&'a [u8]>,
}

/// The metrics endpoint of every transport (the built-in listener, the axum router, and through
/// the listener the exporter): a registry and who may read it. It is made only from a usable
/// authentication, so a malformed configuration in the environment refuses to start (the
/// listener's [`ServerError::Auth`](crate::ServerError), the router's `Err(AuthError)`) rather
/// than serve every request an error.
#[cfg(any(feature = "server", feature = "axum"))]
#[derive(Clone)]
pub(crate) struct Endpoint {
    registry: &'static Registry,
    auth: Auth,
}

#[cfg(any(feature = "server", feature = "axum"))]
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

#[cfg(any(feature = "server", feature = "axum"))]
impl Endpoint {
    /// Serves `registry` to whom `auth` allows; without `auth`, the authentication configured in
    /// the environment ([`Auth::from_env`]), or its error when it is malformed.
    pub(crate) fn new(
        registry: &'static Registry,
        auth: Option<Auth>,
    ) -> Result<Endpoint, AuthError> {
        let auth = match auth {
            Some(auth) => auth,
            None => Auth::from_env()?,
        };
        Ok(Endpoint { registry, auth })
    }

    /// Checks the credentials, then answers as [`respond_encoded`](super::respond_encoded) does.
    /// A refusal (`401`) is encoded for the request's `Accept-Encoding`, and has no body for
    /// `HEAD`, as any answer. Never panics, whatever the input.
    pub(crate) fn answer(&self, request: &RequestHead<'_>) -> EncodedResponse {
        if let Err(refused) = self.auth.check(request.authorization) {
            return refused.encode(request.accept_encoding, request.method == "HEAD");
        }
        super::respond_encoded(
            self.registry,
            request.method,
            request.path,
            request.query,
            request.accept,
            request.accept_encoding,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::encoding::{negotiate, Format};
    use crate::metadata::Metadata;

    const PROMETHEUS_SCRAPE: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    fn registry() -> Registry {
        let registry = Registry::new();
        registry.counter(Metadata::new("hits")).unwrap().inc();
        registry
            .gauge(Metadata::new("temperature").scope(Scope::Vendor))
            .unwrap()
            .set(3);
        registry
            .counter(Metadata::new("jobs").scope(Scope::new("billing").unwrap()))
            .unwrap()
            .inc_by(2);
        registry
            .timer(Metadata::new("call").description("Calls."), None)
            .unwrap();
        registry
    }

    fn get(registry: &Registry, path: &str, query: Option<&str>) -> MetricsResponse {
        respond(registry, "GET", path, query, None)
    }

    #[test]
    fn routes() {
        let registry = registry();
        let all = get(&registry, "/metrics", None);
        assert_eq!(all.status, 200);
        assert!(all.body.contains("hits_total{mp_scope=\"application\"} 1"));
        assert!(all.body.contains("temperature{mp_scope=\"vendor\"} 3"));
        assert!(all.body.contains("jobs_total{mp_scope=\"billing\"} 2"));
        assert_eq!(get(&registry, "/metrics/", None).body, all.body);

        let vendor = get(&registry, "/metrics/vendor", None);
        assert_eq!(vendor.status, 200);
        assert!(vendor.body.contains("temperature"));
        assert!(!vendor.body.contains("hits"));
        assert_eq!(get(&registry, "/metrics/vendor/", None).body, vendor.body);
        assert_eq!(
            get(&registry, "/metrics", Some("scope=vendor")).body,
            vendor.body
        );

        // A scope that exists but holds nothing is `204 No Content`, not missing.
        let base = get(&registry, "/metrics/base", None);
        assert_eq!((base.status, base.body.as_str()), (204, ""));
        assert_eq!(base.headers, Vec::new());

        let billing = get(&registry, "/metrics/billing", None);
        assert_eq!(billing.status, 200);
        assert!(billing.body.contains("jobs_total"));

        for (path, query) in [
            ("/metrics/application/hits", None),
            ("/metrics/application/hits_total", None),
            ("/metrics", Some("scope=application&name=hits")),
            ("/metrics", Some("name=hits_total&scope=application")),
            ("/metrics/application", Some("name=hits")),
            ("/metrics/application/hits", Some("scope=application")),
            ("/metrics/%61pplication/h%69ts", None),
            ("/metrics", Some("scope=%61pplication&name=h%69ts&other=1")),
            ("/metrics?scope=application&name=hits", None),
        ] {
            let r = get(&registry, path, query);
            assert_eq!(r.status, 200, "{path} {query:?}");
            assert_eq!(
                r.body,
                "# HELP hits_total hits\n# TYPE hits_total counter\nhits_total{mp_scope=\"application\"} 1\n",
                "{path} {query:?}"
            );
        }
        let timer = get(&registry, "/metrics/application/call_seconds", None);
        assert!(timer.body.contains("call_seconds_count"));
        assert_eq!(
            get(&registry, "/metrics/application/call", None).body,
            timer.body
        );
    }

    /// Every family name the output writes in `# TYPE` (either format) selects that family: a
    /// counter by `x_total` and `x`, a timer by `x_seconds`, a summary's `x_max` gauge, ...
    #[test]
    fn every_exposed_family_name_selects_its_family() {
        let registry = registry();
        registry
            .float_counter(Metadata::new("paid").unit("dollars"))
            .unwrap()
            .inc_by(1.5);
        registry
            .histogram(Metadata::new("size").unit("bytes"), None)
            .unwrap()
            .observe(3.0);
        registry
            .summary(Metadata::new("render").unit("seconds"))
            .unwrap()
            .observe(0.25);
        for accept in [None, Some("application/openmetrics-text; version=1.0.0")] {
            let all = respond(&registry, "GET", "/metrics", None, accept);
            let mut checked = 0;
            for line in all.body.lines() {
                let Some(rest) = line.strip_prefix("# TYPE ") else {
                    continue;
                };
                let name = rest.split(' ').next().unwrap();
                let scope = ["application", "vendor", "billing"]
                    .into_iter()
                    .find(|s| {
                        all.body.lines().any(|l| {
                            l.starts_with(name) && l.contains(&format!("mp_scope=\"{s}\""))
                        })
                    })
                    .unwrap();
                let path = format!("/metrics/{scope}/{name}");
                let one = respond(&registry, "GET", &path, None, accept);
                assert_eq!(one.status, 200, "{path} {accept:?}");
                assert!(one.body.contains(line), "{path} {accept:?}: {}", one.body);
                checked += 1;
            }
            assert!(checked >= 8, "{accept:?}: {checked}");
        }
        let max = get(&registry, "/metrics/application/render_seconds_max", None);
        assert_eq!(max.status, 200);
        assert!(max.body.contains("# TYPE render_seconds_max gauge"));
        // Sample names are not family names.
        for name in [
            "size_bytes_bucket",
            "render_seconds_count",
            "call_seconds_sum",
        ] {
            let r = get(&registry, &format!("/metrics/application/{name}"), None);
            assert_eq!(r.status, 404, "{name}");
        }
    }

    #[test]
    fn not_found() {
        let registry = registry();
        for (path, query) in [
            ("/", None),
            ("", None),
            ("/metric", None),
            ("/metricsx", None),
            ("/Metrics", None),
            ("/other/metrics", None),
            ("/metrics/nope", None),
            ("/metrics/no-dash", None),
            ("/metrics//", None),
            ("/metrics//hits", None),
            ("/metrics/application/hits/extra", None),
            ("/metrics/application/nope", None),
            ("/metrics/vendor/hits", None),
            ("/metrics", Some("scope=nope")),
            ("/metrics", Some("scope=")),
            ("/metrics", Some("scope")),
            ("/metrics", Some("scope=application&name=nope")),
            ("/metrics", Some("scope=application&name=")),
            ("/metrics/base", Some("scope=vendor")),
            ("/metrics/application/hits", Some("name=call")),
            ("/metrics", Some("scope=%ff")),
            ("/metrics", Some("scope=base%")),
        ] {
            let r = get(&registry, path, query);
            assert_eq!(r.status, 404, "{path} {query:?}");
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
            assert_eq!(
                r.header("content-length"),
                Some(r.body.len().to_string().as_str())
            );
        }
        for query in ["name=nope", "name=", "name", "&name"] {
            let r = get(&registry, "/metrics", Some(query));
            assert_eq!(r.status, 404, "{query}");
            assert!(r.body.contains("in any scope"), "{query}: {}", r.body);
        }
    }

    /// `name` without a scope: the metric in every scope that has it, one family written once.
    #[test]
    fn name_across_scopes() {
        let registry = registry();
        let hits = get(&registry, "/metrics/application/hits", None);
        assert_eq!(
            get(&registry, "/metrics", Some("name=hits")).body,
            hits.body
        );
        let jobs = get(&registry, "/metrics", Some("name=jobs_total"));
        assert_eq!(
            jobs.body,
            get(&registry, "/metrics/billing/jobs", None).body
        );
        // One family with series in three scopes.
        for scope in [Scope::Vendor, Scope::new("billing").unwrap()] {
            registry
                .counter(Metadata::new("hits").scope(scope))
                .unwrap()
                .inc_by(5);
        }
        for accept in [None, Some("application/openmetrics-text")] {
            let across = respond(&registry, "GET", "/metrics", Some("name=hits"), accept);
            assert_eq!(across.status, 200);
            let all = respond(&registry, "GET", "/metrics", None, accept);
            // Exactly the `hits` family of the whole output, in the same order.
            let family: String = all
                .body
                .lines()
                .filter(|l| l.contains("hits") || *l == "# EOF")
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(across.body, family, "{accept:?}");
            assert_eq!(across.body.matches("# TYPE").count(), 1, "{accept:?}");
        }
    }

    #[test]
    fn merges_families_of_several_outputs() {
        let a = "# HELP x X.\n# TYPE x counter\n# UNIT x bytes\nx_total{mp_scope=\"a\"} 1\n# HELP y Y.\n# TYPE y gauge\ny{mp_scope=\"a\"} 2\n# EOF\n".to_owned();
        let b = "# HELP x Other.\n# TYPE x counter\n# UNIT x bytes\nx_total{mp_scope=\"b\"} 3\n# HELP z Z.\n# TYPE z gauge\nz{mp_scope=\"b\"} 4\n# EOF\n".to_owned();
        let mut out = String::new();
        merge_families(&mut out, &[a, b], Format::OpenMetrics);
        assert_eq!(
            out,
            "# HELP x X.\n# TYPE x counter\n# UNIT x bytes\nx_total{mp_scope=\"a\"} 1\nx_total{mp_scope=\"b\"} 3\n# HELP y Y.\n# TYPE y gauge\ny{mp_scope=\"a\"} 2\n# HELP z Z.\n# TYPE z gauge\nz{mp_scope=\"b\"} 4\n# EOF\n"
        );
        let mut out = String::new();
        merge_families(
            &mut out,
            &["stray 1\n".to_owned(), "".to_owned()],
            Format::Prometheus,
        );
        assert_eq!(out, "stray 1\n");
    }

    #[test]
    fn methods() {
        let registry = registry();
        for method in [
            "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "", "G\u{0}T",
        ] {
            let r = respond(&registry, method, "/metrics", None, None);
            assert_eq!(r.status, 405, "{method}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
            let r = respond(&registry, method, "/metrics/nope/nope", None, None);
            assert_eq!(r.status, 405, "{method}");
        }
        // Outside /metrics there is no resource to allow methods on.
        assert_eq!(respond(&registry, "POST", "/x", None, None).status, 404);
    }

    #[test]
    fn head_has_the_headers_of_get_and_no_body() {
        let registry = registry();
        for (path, accept) in [
            ("/metrics", None),
            ("/metrics/vendor", Some(PROMETHEUS_SCRAPE)),
            ("/metrics/nope", None),
            ("/metrics/base", None),
            ("/metrics", Some("application/json")),
        ] {
            let get = respond(&registry, "GET", path, None, accept);
            let head = respond(&registry, "HEAD", path, None, accept);
            assert_eq!(head.status, get.status);
            assert_eq!(head.headers, get.headers);
            assert_eq!(head.body, "");
            // No `content-length` on a `204`.
            let length = (get.status != 204).then(|| get.body.len().to_string());
            assert_eq!(head.header("content-length"), length.as_deref());
        }
    }

    /// OpenMetrics 0.0.1 (the draft of 1.0.0) is served when asked for, with the same body and
    /// its own version in `Content-Type`, as Prometheus' client library does.
    #[test]
    fn openmetrics_version_served_is_the_one_asked_for() {
        let registry = registry();
        const V1: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        const V0: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";
        let one = respond(&registry, "GET", "/metrics", None, Some(PROMETHEUS_SCRAPE));
        for (accept, expected) in [
            (PROMETHEUS_SCRAPE, V1),
            ("application/openmetrics-text", V1),
            ("application/*", V1),
            ("application/openmetrics-text;version=1.0.0", V1),
            ("application/openmetrics-text; version=0.0.1", V0),
            ("application/openmetrics-text;version=\"0.0.1\"", V0),
            ("application/openmetrics-text;version=0.0.1;q=0.5, text/plain;q=0.1", V0),
            // Equally specific and equally preferred: the current version.
            ("application/openmetrics-text;version=0.0.1, application/openmetrics-text;version=1.0.0", V1),
            ("application/openmetrics-text;version=1.0.0;q=0.5, application/openmetrics-text;version=0.0.1", V0),
            // The most specific range decides.
            ("application/openmetrics-text;version=0.0.1;q=0.5, application/openmetrics-text", V0),
        ] {
            let r = respond(&registry, "GET", "/metrics", None, Some(accept));
            assert_eq!(r.status, 200, "{accept}");
            assert_eq!(r.header("content-type"), Some(expected), "{accept}");
            assert_eq!(r.body, one.body, "{accept}");
            let negotiated = negotiate_content_type(Some(accept)).unwrap();
            assert_eq!(
                (negotiated.format, negotiated.content_type),
                (Format::OpenMetrics, expected),
                "{accept}"
            );
        }
        assert_eq!(
            negotiate_content_type(None).map(|n| n.content_type),
            Some(Format::Prometheus.content_type())
        );
    }

    #[test]
    fn content_types_and_negotiation_statuses() {
        let registry = registry();
        let r = respond(&registry, "GET", "/metrics", None, Some(PROMETHEUS_SCRAPE));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some(Format::OpenMetrics.content_type())
        );
        assert!(r.body.ends_with("# EOF\n"));
        assert_eq!(r.header("vary"), Some("Accept"));

        let r = respond(&registry, "GET", "/metrics", None, Some("*/*"));
        assert_eq!(
            r.header("content-type"),
            Some(Format::Prometheus.content_type())
        );
        assert!(!r.body.contains("# EOF"));

        let r = respond(&registry, "GET", "/metrics", None, Some("application/json"));
        assert_eq!(r.status, 406);
        assert!(r.body.contains("openmetrics"));

        // An empty scope is `204` in OpenMetrics too; the empty whole tree is `200` with `# EOF`.
        let r = respond(
            &registry,
            "GET",
            "/metrics/base",
            None,
            Some("application/openmetrics-text"),
        );
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        let empty = Registry::new();
        let r = respond(
            &empty,
            "GET",
            "/metrics",
            None,
            Some("application/openmetrics-text"),
        );
        assert_eq!((r.status, r.body.as_str()), (200, "# EOF\n"));
        let r = respond(&empty, "GET", "/metrics", None, None);
        assert_eq!((r.status, r.body.as_str()), (200, ""));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a%20b+c", false), "a b+c");
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%4", true), "%4");
        assert_eq!(percent_decode("%zz%41", true), "%zzA");
        assert_eq!(percent_decode("%C3%A9", true), "é");
        assert_eq!(percent_decode("%ff", true), "\u{fffd}");
        assert_eq!(percent_decode("é%", true), "é%");
    }

    #[test]
    fn long_names_are_echoed_truncated() {
        let registry = registry();
        let long = "é".repeat(1000);
        let r = get(&registry, &format!("/metrics/{long}"), None);
        assert_eq!(r.status, 404);
        assert!(r.body.len() < 400);
    }

    /// A fixed pseudo-random walk over inputs built from the characters that matter to the
    /// parsers; the fuzz target explores further.
    #[test]
    fn never_panics_on_generated_input() {
        let registry = registry();
        let alphabet: Vec<char> = "/?&=%+;,*. \t\"qQ01aeEmrsx\u{0}\u{7f}é\u{fffd}😀"
            .chars()
            .chain("metricsscopenameapplicationvendorbasehitstext/plainapplication/openmetrics-textversion".chars())
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let text = |next: &mut dyn FnMut() -> u64, prefix: &str| {
            let mut s = prefix.to_owned();
            for _ in 0..(next() % 40) {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            s
        };
        for _ in 0..20_000 {
            let method = ["GET", "HEAD", "POST", ""][(next() % 4) as usize];
            let prefix = if next() % 2 == 0 { "/metrics" } else { "" };
            let path = text(&mut next, prefix);
            let query = text(&mut next, "scope=");
            let accept = text(&mut next, "");
            let r = respond(&registry, method, &path, Some(&query), Some(&accept));
            assert!(matches!(r.status, 200 | 204 | 404 | 405 | 406), "{r:?}");
            let _ = negotiate(Some(&accept));
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let registry = registry();
        let samples = [
            "",
            "/",
            "?",
            "??",
            "/metrics?",
            "/metrics?&&&",
            "/metrics?=",
            "/metrics?scope=&name=",
            "/metrics/%",
            "/metrics/%%%",
            "/metrics/é/ü",
            "/metrics/\u{0}",
            "%2Fmetrics",
            "/metrics/%2F",
            "/metrics/application/%2F..%2F",
            "\u{ffff}",
            "/metrics/a/b/c/d/e",
        ];
        for method in ["GET", "HEAD", "X"] {
            for path in samples {
                for query in [None, Some(""), Some("%"), Some("scope=%zz&name=%")] {
                    for accept in [None, Some(""), Some(";q=,"), Some("*/*;q=0.5;q=x")] {
                        let r = respond(&registry, method, path, query, accept);
                        assert!(matches!(r.status, 200 | 204 | 404 | 405 | 406));
                    }
                }
            }
        }
    }
}
