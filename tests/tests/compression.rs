//! gzip over real sockets: the built-in listener and the axum router (`web::serve`) answer a
//! scrape that accepts gzip with a gzip body that decodes to the uncompressed one, with
//! `Content-Encoding`, `Vary` and a `Content-Length` that is the length sent; `HEAD` has the
//! headers of `GET`; `Accept-Encoding` q-values, `identity` and `*` are honoured. (The exporter
//! is the built-in listener; `microprofile/tests/redis_exporter.rs` checks it too, and
//! `prometheus_e2e.rs` has a real Prometheus scrape gzipped responses.)

use std::io::Read;
use std::net::SocketAddr;

use microprofile::{Metadata, Registry, Scope, Server};
use microprofile_tests::raw;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A registry whose exposition is far above the compression threshold, with fixed values.
fn big_registry() -> &'static Registry {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    for i in 0..300 {
        registry
            .counter(
                Metadata::named(format!("orders_{i}"))
                    .with_description(format!("Orders of shop {i}.")),
            )
            .unwrap()
            .inc_by(i);
    }
    registry
        .gauge(Metadata::new("small").scope(Scope::Vendor))
        .unwrap()
        .set(1);
    registry
}

struct Reply {
    status: u16,
    /// Lowercase names, without `date` (which differs between two requests).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn gunzip(&self) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&self.body[..])
            .read_to_end(&mut out)
            .expect("a valid gzip body");
        out
    }
}

/// One request with these extra header lines, over a new loopback connection.
fn exchange(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let data = raw::send_complete(addr, request.as_bytes());
    let split = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(data[..split].to_vec()).expect("an ASCII head");
    let body = data[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(n, _)| n != "date")
        .collect();
    headers.sort();
    assert!(
        !headers.iter().any(|(n, _)| n == "transfer-encoding"),
        "{headers:?}"
    );
    Reply {
        status,
        headers,
        body,
    }
}

/// Everything a server must do with `Accept-Encoding`, checked over the socket at `addr`.
fn check_server(addr: SocketAddr, what: &str) {
    for accept in [None, Some(PROMETHEUS_ACCEPT)] {
        let accept_header: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let with = |encoding: &'static str| {
            let mut headers = accept_header.clone();
            headers.push(("Accept-Encoding", encoding));
            headers
        };
        let plain = exchange(addr, "GET", "/metrics", &accept_header);
        assert_eq!(plain.status, 200, "{what}");
        assert_eq!(plain.header("content-encoding"), None, "{what}");
        assert_eq!(
            plain.header("vary"),
            Some("Accept, Accept-Encoding"),
            "{what}"
        );
        assert_eq!(
            plain.header("content-length"),
            Some(plain.body.len().to_string().as_str()),
            "{what}"
        );
        assert!(plain.body.len() > 10_000, "{what}: {}", plain.body.len());
        let text = String::from_utf8(plain.body.clone()).unwrap();
        assert!(text.contains("orders_299_total"), "{what}");
        assert_eq!(
            text.ends_with("# EOF\n"),
            accept.is_some(),
            "{what} {accept:?}"
        );

        // Prometheus sends `Accept-Encoding: gzip`.
        let gzipped = exchange(addr, "GET", "/metrics", &with("gzip"));
        assert_eq!(gzipped.status, 200, "{what}");
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"), "{what}");
        assert_eq!(
            gzipped.header("vary"),
            Some("Accept, Accept-Encoding"),
            "{what}"
        );
        assert_eq!(
            gzipped.header("content-type"),
            plain.header("content-type"),
            "{what}"
        );
        assert_eq!(
            gzipped.header("content-length"),
            Some(gzipped.body.len().to_string().as_str()),
            "{what}"
        );
        assert!(
            gzipped.body.len() * 5 < plain.body.len(),
            "{what}: {} of {}",
            gzipped.body.len(),
            plain.body.len()
        );
        assert_eq!(gzipped.gunzip(), plain.body, "{what} {accept:?}");

        // HEAD: the headers of the GET, the compressed length included, and no body.
        for encoding in [None, Some("gzip")] {
            let headers = encoding.map_or(accept_header.clone(), with);
            let get = exchange(addr, "GET", "/metrics", &headers);
            let head = exchange(addr, "HEAD", "/metrics", &headers);
            assert_eq!(head.status, 200, "{what}");
            assert_eq!(head.headers, get.headers, "{what} HEAD {encoding:?}");
            assert!(head.body.is_empty(), "{what}");
        }

        // q-values, identity and `*`.
        for (encoding, gzip) in [
            ("gzip;q=0", false),
            ("identity", false),
            ("identity;q=1, gzip;q=0.5", false),
            ("br, deflate", false),
            ("", false),
            ("*", true),
            ("GZIP;q=0.4", true),
            ("br;q=1.0, gzip;q=0.8, *;q=0.1", true),
            ("x-gzip", true),
            ("gzip, identity;q=0", true),
        ] {
            let reply = exchange(addr, "GET", "/metrics", &with(encoding));
            assert_eq!(reply.status, 200, "{what} {encoding:?}");
            if gzip {
                assert_eq!(reply.header("content-encoding"), Some("gzip"), "{encoding}");
                assert_eq!(reply.gunzip(), plain.body, "{what} {encoding:?}");
            } else {
                assert_eq!(reply.header("content-encoding"), None, "{encoding}");
                assert_eq!(reply.body, plain.body, "{what} {encoding:?}");
            }
        }
        // Several headers are one list.
        let mut two = accept_header.clone();
        two.extend([
            ("Accept-Encoding", "identity;q=0"),
            ("Accept-Encoding", "gzip"),
        ]);
        let reply = exchange(addr, "GET", "/metrics", &two);
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{what}");
        assert_eq!(reply.gunzip(), plain.body, "{what}");
    }

    // Neither coding acceptable.
    for encoding in ["*;q=0", "identity;q=0", "gzip;q=0, identity;q=0"] {
        let reply = exchange(addr, "GET", "/metrics", &[("Accept-Encoding", encoding)]);
        assert_eq!(reply.status, 406, "{what} {encoding}");
        assert_eq!(reply.header("content-encoding"), None);
        assert!(String::from_utf8_lossy(&reply.body).contains("gzip"));
    }
    // A small body is not worth compressing; errors go out as they are.
    let small = exchange(
        addr,
        "GET",
        "/metrics/vendor/small",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(small.status, 200);
    assert_eq!(small.header("content-encoding"), None, "{what}");
    assert_eq!(small.header("vary"), Some("Accept, Accept-Encoding"));
    assert!(String::from_utf8_lossy(&small.body).contains("small{mp_scope=\"vendor\"} 1"));
    let missing = exchange(addr, "GET", "/metrics/nope", &[("Accept-Encoding", "gzip")]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-encoding"), None);
}

#[test]
fn builtin_listener_gzips_scrapes() {
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(big_registry())
        .start()
        .unwrap();
    check_server(server.local_addr(), "listener");
    server.shutdown();
}

#[test]
fn axum_router_gzips_scrapes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = microprofile::serve::MetricsRouter::new()
        .registry(big_registry())
        .auth(microprofile::serve::auth::Auth::None)
        .into_router()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(std::future::IntoFuture::into_future(
        microprofile::serve::serve(listener, app),
    ));
    check_server(addr, "axum");
    // `axum::serve` (no limits of ours) sends the same.
    let app = microprofile::serve::MetricsRouter::new()
        .registry(big_registry())
        .auth(microprofile::serve::auth::Auth::None)
        .into_router()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    check_server(addr, "axum::serve");
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}
