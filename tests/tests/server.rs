//! The built-in listener over real loopback sockets, with hand-written requests: every route and
//! status, negotiation, and clients that misbehave.

use microprofile_tests::raw::{abuse, connect, read_all, send as raw, send_complete, IO_TIMEOUT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use microprofile::serve::auth::Auth;
use microprofile::{
    Format, Metadata, Registry, Scope, Selection, Server, ServerBuilder, ServerError, Value,
};

/// What Prometheus' own client library sends for the OpenMetrics draft version.
const OPENMETRICS_0_0_1: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";
const PROMETHEUS_SCRAPE: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn registry() -> &'static Registry {
    let registry = Box::leak(Box::new(Registry::new()));
    registry
        .counter(Metadata::new("hits").description("Hits."))
        .unwrap()
        .inc_by(3);
    registry
        .gauge(Metadata::new("temperature").scope(Scope::Vendor))
        .unwrap()
        .set(21);
    registry
        .gauge(Metadata::new("load").scope(Scope::Base))
        .unwrap()
        .set(2);
    registry
        .counter(Metadata::new("jobs").scope(Scope::new("billing").unwrap()))
        .unwrap()
        .inc();
    registry
        .timer(Metadata::new("call").description("Calls."), None)
        .unwrap()
        .observe(0.25);
    registry
}

/// A listener on a free loopback port, with no authentication whatever the environment says.
fn builder() -> ServerBuilder {
    Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry())
        .auth(Auth::None)
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse(data: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (n, v) = line.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn send(addr: SocketAddr, method: &str, target: &str, accept: Option<&str>) -> Reply {
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(accept) = accept {
        request.push_str(&format!("Accept: {accept}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    parse(&read_all(&mut stream))
}

fn send_with(addr: SocketAddr, method: &str, target: &str, extra_headers: &str) -> Reply {
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra_headers}\r\n"
    );
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    parse(&read_all(&mut stream))
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, None)
}

/// A counter of the listener's own, from the global registry.
fn own_counter(name: &str) -> f64 {
    let snapshot = microprofile::global().snapshot(Selection::Metric(&Scope::Vendor, name));
    match snapshot
        .first()
        .and_then(|f| f.series.first())
        .map(|s| &s.value)
    {
        Some(Value::Counter(v)) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

/// The check run after every kind of abuse: the server still answers correctly.
fn assert_healthy(addr: SocketAddr) {
    let reply = get(addr, "/metrics/application/hits");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        "# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total{mp_scope=\"application\"} 3\n"
    );
}

#[test]
fn every_route() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let all = get(addr, "/metrics");
    assert_eq!(all.status, 200);
    assert_eq!(
        all.header("content-type"),
        Some(Format::Prometheus.content_type())
    );
    assert_eq!(
        all.header("content-length"),
        Some(all.body.len().to_string().as_str())
    );
    for line in [
        "hits_total{mp_scope=\"application\"} 3",
        "temperature{mp_scope=\"vendor\"} 21",
        "load{mp_scope=\"base\"} 2",
        "jobs_total{mp_scope=\"billing\"} 1",
        "call_seconds_count{mp_scope=\"application\"} 1",
    ] {
        assert!(all.body.contains(line), "{line} in {}", all.body);
    }

    for (target, present, absent) in [
        ("/metrics/base", "load{", "temperature"),
        ("/metrics/vendor", "temperature{", "load"),
        ("/metrics/application", "hits_total{", "temperature"),
        ("/metrics/billing", "jobs_total{", "hits"),
        ("/metrics?scope=base", "load{", "temperature"),
        ("/metrics?scope=vendor", "temperature{", "hits"),
        ("/metrics?scope=application", "call_seconds_bucket", "load"),
        ("/metrics/application/call", "call_seconds_sum", "hits"),
        (
            "/metrics/application/call_seconds",
            "call_seconds_sum",
            "hits",
        ),
        (
            "/metrics?scope=application&name=hits",
            "hits_total{",
            "call",
        ),
        (
            "/metrics?scope=application&name=hits_total",
            "hits_total{",
            "call",
        ),
        (
            "/metrics?name=temperature&scope=vendor",
            "temperature{",
            "hits",
        ),
        ("/metrics/vendor/temperature", "temperature{", "hits"),
        (
            "/metrics?scope=%61pplication&name=h%69ts",
            "hits_total{",
            "call",
        ),
        ("/metrics/application?name=hits", "hits_total{", "call"),
    ] {
        let reply = get(addr, target);
        assert_eq!(reply.status, 200, "{target}");
        assert!(reply.body.contains(present), "{target}: {}", reply.body);
        assert!(!reply.body.contains(absent), "{target}: {}", reply.body);
    }
    server.shutdown();
}

#[test]
fn error_statuses() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    for target in [
        "/",
        "/metricsx",
        "/other",
        "/metrics/nope",
        "/metrics/no-dash",
        "/metrics?scope=nope",
        "/metrics?scope=",
        "/metrics/application/nope",
        "/metrics/vendor/hits",
        "/metrics?scope=application&name=nope",
        "/metrics/application/hits/extra",
    ] {
        let reply = get(addr, target);
        assert_eq!(reply.status, 404, "{target}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    // `name` without a scope: the metric in every scope that has it (MicroProfile Metrics 5.1 TCK,
    // `testMetricNameAcrossScopes`); a name no scope has is 404.
    let across = get(addr, "/metrics?name=hits");
    assert_eq!(across.status, 200);
    assert!(across.body.contains("hits_total{"), "{}", across.body);
    assert_eq!(get(addr, "/metrics?name=nope").status, 404);

    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"] {
        for target in ["/metrics", "/metrics/vendor", "/metrics/application/hits"] {
            let reply = send(addr, method, target, None);
            assert_eq!(reply.status, 405, "{method} {target}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"));
        }
    }
    // A POST with a body is refused the same way.
    let reply = parse(&send_complete(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    ));
    assert_eq!(reply.status, 405);

    let reply = send(addr, "GET", "/metrics", Some("application/json"));
    assert_eq!(reply.status, 406);
    assert!(reply.body.contains("text/plain"));
    assert_eq!(
        send(addr, "GET", "/metrics", Some("text/plain;q=0, */*;q=0")).status,
        406
    );
    assert_healthy(addr);
}

#[test]
fn head_sends_the_headers_of_get() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    for (target, accept) in [
        ("/metrics", None),
        ("/metrics/vendor", Some(PROMETHEUS_SCRAPE)),
        ("/metrics/application/hits", None),
        ("/metrics/nope", None),
    ] {
        let get = send(addr, "GET", target, accept);
        let head = send(addr, "HEAD", target, accept);
        assert_eq!(head.status, get.status, "{target}");
        assert_eq!(head.body, "", "{target}");
        for name in ["content-type", "content-length", "vary"] {
            assert_eq!(head.header(name), get.header(name), "{target} {name}");
        }
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "{target}"
        );
    }
}

#[test]
fn negotiation() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    let openmetrics = Some(Format::OpenMetrics.content_type());
    let prometheus = Some(Format::Prometheus.content_type());
    for (accept, expected) in [
        (None, prometheus),
        (Some("*/*"), prometheus),
        (Some("text/plain"), prometheus),
        (Some("text/plain;version=0.0.4"), prometheus),
        (Some("text/html, */*;q=0.8"), prometheus),
        (Some(PROMETHEUS_SCRAPE), openmetrics),
        (Some("application/openmetrics-text"), openmetrics),
        (Some("text/plain;q=0, */*"), openmetrics),
        (
            Some("text/plain;q=0.2, application/openmetrics-text;q=0.3"),
            openmetrics,
        ),
        (
            Some("application/openmetrics-text; version=0.0.1"),
            Some(OPENMETRICS_0_0_1),
        ),
        (
            Some("application/openmetrics-text;version=1.0.0;q=0.5, application/openmetrics-text;version=0.0.1"),
            Some(OPENMETRICS_0_0_1),
        ),
    ] {
        let reply = send(addr, "GET", "/metrics/application", accept);
        assert_eq!(reply.status, 200, "{accept:?}");
        assert_eq!(reply.header("content-type"), expected, "{accept:?}");
        assert_eq!(reply.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(
            reply.body.ends_with("# EOF\n"),
            expected != prometheus,
            "{accept:?}"
        );
    }
    let reply = send(
        addr,
        "GET",
        "/metrics/application/hits",
        Some(PROMETHEUS_SCRAPE),
    );
    assert_eq!(
        reply.body,
        "# HELP hits Hits.\n# TYPE hits counter\nhits_total{mp_scope=\"application\"} 3\n# EOF\n"
    );
    // OpenMetrics 0.0.1 is the draft of 1.0.0: the same body, labelled with the version asked for.
    let draft = send(
        addr,
        "GET",
        "/metrics/application/hits",
        Some("application/openmetrics-text; version=0.0.1"),
    );
    assert_eq!(draft.header("content-type"), Some(OPENMETRICS_0_0_1));
    assert_eq!(draft.body, reply.body);
    // Two Accept headers count as one list.
    let reply = parse(&send_complete(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain;q=0\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(reply.header("content-type"), openmetrics);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = builder().start().unwrap();
    let mut stream = connect(server.local_addr());
    let request = b"GET /metrics/base HTTP/1.1\r\nHost: x\r\n\r\n";
    // Pipelined: both requests in one write, then the last one closes.
    stream.write_all(request).unwrap();
    stream
        .write_all(b"GET /metrics/vendor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_all(&mut stream)).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("load{mp_scope=\"base\"} 2"));
    assert!(text.contains("temperature{mp_scope=\"vendor\"} 21"));
}

#[test]
fn garbage_is_refused_and_serving_goes_on() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    let errors_before = own_counter("microprofile_server_connection_errors");
    let requests_before = own_counter("microprofile_server_requests");
    for (round, bytes) in abuse::garbage().iter().enumerate() {
        let reply = raw(addr, bytes);
        if !reply.is_empty() {
            let status = parse(&reply).status;
            assert!((400..500).contains(&status), "round {round}: {status}");
        }
    }
    for bytes in abuse::MALFORMED {
        let _ = raw(addr, bytes);
        assert_healthy(addr);
    }
    assert_healthy(addr);
    assert!(own_counter("microprofile_server_requests") > requests_before);
    // Connection tasks count their error after the client has seen the close.
    let deadline = Instant::now() + IO_TIMEOUT;
    while own_counter("microprofile_server_connection_errors") <= errors_before {
        assert!(Instant::now() < deadline, "no connection error counted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn oversized_request_heads_get_431() {
    let server = builder().max_header_bytes(16 * 1024).start().unwrap();
    let addr = server.local_addr();

    let reply = raw(addr, &abuse::huge_request_line("/metrics?scope="));
    if !reply.is_empty() {
        assert_eq!(parse(&reply).status, 431);
    }
    assert_healthy(addr);

    let reply = raw(addr, &abuse::many_headers("/metrics", 5000));
    if !reply.is_empty() {
        assert_eq!(parse(&reply).status, 431);
    }
    assert_healthy(addr);

    // Within the byte limit but over the count limit (100 by default).
    assert_eq!(
        parse(&raw(addr, &abuse::over_the_header_count())).status,
        431
    );
    assert_healthy(addr);
}

#[test]
fn silent_and_stalled_clients_are_dropped_after_the_header_timeout() {
    let server = builder()
        .header_read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let addr = server.local_addr();

    let mut silent = connect(addr);
    let mut stalled = connect(addr);
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Others are served while those two hang.
    assert_healthy(addr);

    let started = Instant::now();
    let _ = read_all(&mut silent);
    let _ = read_all(&mut stalled);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");

    // An idle keep-alive connection is closed by the same timer.
    let mut idle = connect(addr);
    idle.write_all(b"GET /metrics/base HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_all(&mut idle)).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"));
    assert_healthy(addr);
}

#[test]
fn connections_over_the_limit_wait_for_a_free_slot() {
    let server = builder()
        .max_connections(2)
        .header_read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Two silent clients take both slots; a scrape waits until the timeout frees one.
    let _a = connect(addr);
    let _b = connect(addr);
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    assert_healthy(addr);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_client_that_stops_reading_loses_its_slot() {
    let big = Box::leak(Box::new(Registry::new()));
    for i in 0..2000 {
        big.counter(
            Metadata::named(format!("padding_counter_number_{i}"))
                .description("A counter that only makes the response large."),
        )
        .unwrap();
    }
    big.counter(Metadata::new("hits").description("Hits."))
        .unwrap()
        .inc_by(3);
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(big)
        .max_connections(1)
        .write_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Pipelined requests whose responses (hundreds of MB in all) are never read: the server's
    // writes stall once the socket buffers are full.
    let never_reads = connect(addr);
    let mut writer = never_reads.try_clone().unwrap();
    let pipeliner = std::thread::spawn(move || {
        for _ in 0..1000 {
            if writer
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .is_err()
            {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    // The only slot is freed by the write timeout, and the next client is served.
    let started = Instant::now();
    assert_healthy(addr);
    assert!(started.elapsed() < Duration::from_secs(8));
    pipeliner.join().unwrap();
    drop(never_reads);
}

#[test]
fn many_concurrent_scrapes() {
    for max_connections in [64, 4] {
        let server = builder().max_connections(max_connections).start().unwrap();
        let addr = server.local_addr();
        let expected = get(addr, "/metrics").body;
        let scrapers: Vec<_> = (0..64)
            .map(|i| {
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        get(addr, "/metrics")
                    } else {
                        send(addr, "GET", "/metrics", Some(PROMETHEUS_SCRAPE))
                    }
                })
            })
            .collect();
        for (i, scraper) in scrapers.into_iter().enumerate() {
            let reply = scraper.join().unwrap();
            assert_eq!(reply.status, 200);
            if i % 2 == 0 {
                assert_eq!(reply.body, expected);
            } else {
                assert!(reply.body.ends_with("# EOF\n"));
            }
        }
        assert_healthy(addr);
    }
}

#[test]
fn shutdown_closes_the_port_and_idle_connections() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    assert_healthy(addr);
    let mut idle = connect(addr);
    idle.write_all(b"GET /metrics/base HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(4));
    // The idle keep-alive connection was closed, and nobody listens any more.
    let _ = read_all(&mut idle);
    assert!(TcpStream::connect(addr).is_err());

    // Dropping the handle stops it too.
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn authentication() {
    let server = builder().auth(Auth::bearer("s3cret")).start().unwrap();
    let addr = server.local_addr();
    for target in [
        "/metrics",
        "/metrics/application/hits",
        "/metrics/nope",
        "/other",
    ] {
        let refused = get(addr, target);
        assert_eq!(refused.status, 401, "{target}");
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Bearer realm=\"metrics\"")
        );
        let wrong = send_with(addr, "GET", target, "Authorization: Bearer guess\r\n");
        assert_eq!(wrong.status, 401, "{target}");
    }
    let head = send_with(addr, "HEAD", "/metrics", "");
    assert_eq!((head.status, head.body.as_str()), (401, ""));
    let ok = send_with(
        addr,
        "GET",
        "/metrics/application/hits",
        "Authorization: Bearer s3cret\r\n",
    );
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("hits_total{mp_scope=\"application\"} 3"));

    // "prometheus:s3cret" in base64.
    let server = builder()
        .auth(Auth::basic("prometheus", "s3cret"))
        .start()
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(get(addr, "/metrics").status, 401);
    let ok = send_with(
        addr,
        "GET",
        "/metrics",
        "Authorization: Basic cHJvbWV0aGV1czpzM2NyZXQ=\r\n",
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn start_errors_are_typed() {
    let first = builder().start().unwrap();
    let error = builder().addr(first.local_addr()).start().unwrap_err();
    match &error {
        ServerError::Bind { addr, .. } => assert_eq!(*addr, first.local_addr()),
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(error.to_string().contains("cannot listen on"));
}

/// Starting and dropping the listener from async code must not panic (the listener's runtime
/// lives and dies on its own thread).
#[tokio::test(flavor = "current_thread")]
async fn starts_and_stops_inside_an_async_runtime() {
    let server = builder().start().unwrap();
    assert_healthy(server.local_addr());
    drop(server);
    let server = builder().start().unwrap();
    assert_healthy(server.local_addr());
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_and_stops_inside_a_multi_thread_runtime() {
    let server = builder().start().unwrap();
    let addr = server.local_addr();
    tokio::task::spawn_blocking(move || assert_healthy(addr))
        .await
        .unwrap();
    server.shutdown();
}

#[test]
fn serves_the_global_registry_by_default() {
    let server = Server::builder().addr(([127, 0, 0, 1], 0)).start().unwrap();
    let reply = get(server.local_addr(), "/metrics");
    assert_eq!(reply.status, 200);
    // Nothing in the application scope of the global registry here: 204 (MicroProfile Metrics
    // 5.1, "204 when retrieving a subtree that would exist, but has no content").
    let reply = get(server.local_addr(), "/metrics/application");
    assert_eq!(reply.status, 204);
}
