//! Serving metrics over HTTP: one endpoint, one connection path, every transport.
//!
//! Every transport (the built-in listener of feature `server`, the axum router, the
//! `microprofile-exporter` binary through the listener, a test) answers a request through one
//! endpoint: the credentials ([`auth`]), then [`respond`] (routes, status codes, the `Accept`
//! negotiation of [`negotiate`]), then the content coding ([`respond_encoded`]). [`respond`] is
//! free of any HTTP crate, so the routes, status codes and negotiation are implemented once, and
//! can be tested and fuzzed without a socket. The built-in listener and the axum `serve` then
//! share one connection path (the accept loop, the TLS-or-plain branch, hyper's HTTP/1.1 with one
//! set of limits and timeouts), and a malformed authentication in the environment refuses to start
//! in both the listener and the router.
//!
//! | file | holds |
//! |---|---|
//! | `endpoint.rs` | [`respond`], [`MetricsResponse`]: routing, no HTTP library; the endpoint (registry and auth) every transport answers through |
//! | `auth.rs` | [`auth`]: bearer and basic authentication |
//! | `compress.rs` | [`respond_encoded`]: `Accept-Encoding` and gzip |
//! | `adapter.rs` | the endpoint in and out of the `http` crate's types (hyper's and axum's) |
//! | `limits.rs` | the limits and timeouts, with the one set of setters of both builders |
//! | `connection.rs` | the accept loop, the TLS-or-plain branch, hyper's HTTP/1.1 per connection |
//! | `listener.rs` | the built-in listener `Server` (feature `server`), on a thread of its own |
//! | `router.rs` | the axum router and `serve`, `Serve`, `serve_tls` (feature `axum`) |
//! | `tls.rs` | `tls`: the certificate and key (feature `tls`) |
//!
//! The `Accept` negotiation itself is beside the encoders, in [`crate::encoding`].
//!
//! # Routes
//!
//! | request | serves |
//! |---|---|
//! | `/metrics` | every scope |
//! | `/metrics/S` or `/metrics?scope=S` | scope `S` (`base`, `vendor`, `application` or a custom one) |
//! | `/metrics/S/N`, `/metrics?scope=S&name=N` or `/metrics/S?name=N` | metric `N` of scope `S`, by its declared name or any family name it writes in either format ([`Selection::Metric`](crate::Selection::Metric)) |
//! | `/metrics?name=N` | metric `N` in every scope that has it (MicroProfile's TCK queries a name across scopes) |
//!
//! Methods `GET` and `HEAD` are served; any other gets `405` with `Allow: GET, HEAD` (MicroProfile
//! Metrics 5 has no `OPTIONS` metadata any more). A scope that does not exist, or a metric that is
//! not in it (or in no scope, for `/metrics?name=N`, also `/metrics?name` and `/metrics?name=`),
//! gets `404`; so does a path outside `/metrics`. A scope or metric that exists but has no series
//! to show gets `204 No Content` (the spec's "a subtree that would exist, but has no content"),
//! with neither body, `content-type` nor `content-length`; `/metrics` itself, the whole tree, is
//! always `200`. When a request names a scope (or metric) both in the path and in the query,
//! both must agree, or nothing matches (`404`). One trailing `/` is ignored (`/metrics/S/`); a
//! path with more segments, or with an empty segment (`/metrics//x`), matches nothing. Path
//! segments are percent-decoded; so are query keys and values (`+` is a space). A query key
//! without `=` has the empty value, and of a key given twice the first counts.
//!
//! The checks run in this order, the first failing one deciding the status: the path (`404`
//! outside `/metrics`), the method (`405`), the `Accept` header (`406`), then the scope and the
//! metric (`404`, or `204` when they exist but are empty). `HEAD` gets the status and headers
//! `GET` would, with an empty body.
//!
//! # Negotiation
//!
//! [`negotiate`] reads the `Accept` header with its q-values (RFC 9110): Prometheus text
//! (`text/plain; version=0.0.4`) is served when there is no `Accept` header, for `*/*` and on
//! ties; OpenMetrics (`application/openmetrics-text; version=1.0.0`) when the client prefers it,
//! labelled `version=0.0.1` when that is the version it asked for ([`negotiate_content_type`]);
//! `406` when the client accepts neither.
//!
//! # Compression
//!
//! [`respond_encoded`] (features `server` or `axum`) is [`respond`] plus the `Accept-Encoding`
//! header: a `200` body of at least [`MIN_COMPRESSED_BYTES`] goes out gzipped when the client
//! accepts gzip (Prometheus sends `Accept-Encoding: gzip`), with `content-encoding: gzip` and
//! `vary: Accept, Accept-Encoding`; [`negotiate_encoding`] has the rules (q-values, `identity`,
//! `*`). The built-in listener, the axum router and the exporter all answer through it.
//!
#![cfg_attr(
    not(any(feature = "server", feature = "axum")),
    doc = "[`respond_encoded`]: #compression"
)]
#![cfg_attr(feature = "axum", doc = include_str!("router.md"))]

// The `Accept` negotiation lives beside the encoders (`encoding::negotiate`); re-exported here,
// where it has always been reachable.
pub use crate::encoding::negotiate::OPENMETRICS_0_0_1_CONTENT_TYPE;
pub use crate::encoding::{negotiate, negotiate_content_type, Negotiated};

pub mod auth;

feature! {
    #![feature = "tls"]
    pub mod tls;
}

// Routing and the endpoint of every transport, free of any HTTP library.
mod endpoint;
pub use endpoint::{respond, MetricsResponse, ALLOW};

// Content codings (gzip) live in their own file: negotiation of `Accept-Encoding` and the
// compressed response the transports send.
mod compress;
pub use compress::{negotiate_encoding, ContentCoding, MIN_COMPRESSED_BYTES};

// What every transport over HTTP shares (feature `server` or `axum`): the endpoint with its
// registry and authentication, the encoded response, and the endpoint in and out of the `http`
// crate's types, for hyper and axum alike.
feature! {
    #![any(feature = "server", feature = "axum")]
    pub(crate) use endpoint::Endpoint;
    pub use compress::{respond_encoded, EncodedResponse};
    mod adapter;
}

// The built-in listener (feature `server`, re-exported at the crate root): the one connection
// path and its limits, which the axum `serve` uses too.
feature! {
    #![feature = "server"]
    pub(crate) mod connection;
    pub(crate) mod limits;
    pub(crate) mod listener;
}

// The axum router and `serve` (feature `axum`).
feature! {
    #![feature = "axum"]
    mod router;
    pub use router::*;
}
