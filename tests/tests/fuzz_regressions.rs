//! Inputs the cargo-fuzz targets in `fuzz/` stopped on, kept as ordinary tests: each asserts the
//! documented behaviour for that exact input, so it holds without cargo-fuzz or a nightly flag.
//! The inputs are also in `fuzz/corpus/<target>/`, which `scripts/fuzz` replays on every run.

use std::io::Write;

use microprofile::serve::auth::Auth;
use microprofile::serve::respond;
use microprofile::{Metadata, Registry, Scope, Server};
use microprofile_tests::raw::{connect, read_all};

/// The registry of the `http` fuzz target.
fn http_target_registry() -> &'static Registry {
    let registry = Box::leak(Box::new(Registry::new()));
    registry
        .counter(Metadata::new("hits").with_tag("path", "/"))
        .unwrap();
    registry
        .gauge(Metadata::new("cpu").scope(Scope::Base))
        .unwrap();
    registry
        .counter(Metadata::new("invoices").scope(Scope::new("billing").unwrap()))
        .unwrap();
    registry
}

/// Splits an input of the `http` target as it does: method, path, query, `Accept`.
fn http_target_request(data: &[u8]) -> (String, String, Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n').map(str::to_owned);
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next(),
        parts.next(),
    )
}

/// `http` target, issue 12 item 11: `HEAD /metrics?&name` with `Accept: *\n\nt`. A key without
/// `=` has the empty value, and `HEAD` gets the status and headers of `GET` with no body. `name`
/// without a scope was `400` then; since issue 16 item 7 it selects the metric in every scope
/// (MicroProfile Metrics 5.1 TCK, `testMetricNameAcrossScopes`), and the empty name is in none:
/// `404`.
#[test]
fn http_head_name_without_scope_is_404() {
    let (method, path, query, accept) = http_target_request(b"HEAD\n/metrics\n&name\n*\n\nt");
    assert_eq!(
        (
            method.as_str(),
            path.as_str(),
            query.as_deref(),
            accept.as_deref()
        ),
        ("HEAD", "/metrics", Some("&name"), Some("*\n\nt"))
    );
    let registry = http_target_registry();
    let head = respond(
        registry,
        &method,
        &path,
        query.as_deref(),
        accept.as_deref(),
    );
    assert_eq!(head.status, 404, "{head:?}");
    assert_eq!(head.body, "");
    assert_eq!(
        head.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("allow"), None);

    let get = respond(registry, "GET", &path, query.as_deref(), accept.as_deref());
    assert_eq!(get.status, 404, "{get:?}");
    assert!(get.body.starts_with("Not Found"), "{get:?}");
    assert_eq!(head.headers, get.headers);
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );

    // The same without the odd header, and with the key's value spelled out empty.
    for query in ["&name", "name", "name=", "name=&other=1"] {
        let r = respond(registry, "HEAD", "/metrics", Some(query), None);
        assert_eq!((r.status, r.body.as_str()), (404, ""), "{query}");
    }
    let r = respond(registry, "HEAD", "/metrics", Some("&name=hits"), None);
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

/// The same request through the built-in listener, over loopback: the status reaches the wire.
#[test]
fn http_head_name_without_scope_is_404_over_the_listener() {
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(http_target_registry())
        .auth(Auth::None)
        .start()
        .unwrap();
    let mut stream = connect(server.local_addr());
    stream
        .write_all(
            b"HEAD /metrics?&name HTTP/1.1\r\nHost: localhost\r\nAccept: *\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let reply = String::from_utf8(read_all(&mut stream)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404 "), "{reply:?}");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "", "{reply:?}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; charset=utf-8"),
        "{head}"
    );
    server.shutdown();
}
