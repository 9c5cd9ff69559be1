//! An axum application (the metrics router, a handler of its own and the request-metrics layer)
//! run with `microprofile::serve::serve`, abused over raw loopback sockets: garbage bytes, a huge
//! request line, thousands of headers, clients that never send, the connection limit, a burst of
//! scrapes. After each, the application still answers `/metrics` and its own route.

use microprofile_tests::raw::{
    abuse, connect, read_all, send as raw, send_complete as send_raw, IO_TIMEOUT,
};
use std::future::IntoFuture;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use microprofile::instrument::HttpMetricsLayer;
use microprofile::serve::auth::Auth;
use microprofile::serve::{MetricsRouter, Serve};
use microprofile::{Metadata, Registry};

fn app() -> Router {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry
        .counter(Metadata::new("hits").description("Hits."))
        .unwrap()
        .inc_by(3);
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .merge(
            MetricsRouter::new()
                .registry(registry)
                .auth(Auth::None)
                .into_router()
                .unwrap(),
        )
        .layer(HttpMetricsLayer::with_registry(registry))
}

/// The application served by `web::serve` on a runtime of the test's own; dropping it stops it.
struct Running {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn start(configure: impl FnOnce(Serve) -> Serve) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let serve = configure(microprofile::serve::serve(listener, app()));
        let addr = serve.local_addr().unwrap();
        tokio::spawn(async move { serve.await.unwrap() });
        addr
    });
    Running {
        addr,
        runtime: Some(runtime),
    }
}

/// The status code and body of a response.
fn parse(data: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, body.to_owned())
}

fn get_path(addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    parse(&send_raw(addr, request.as_bytes()))
}

/// The check run after every kind of abuse: the metrics and the application's route answer.
fn assert_healthy(addr: SocketAddr) {
    let (status, body) = get_path(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("hits_total{mp_scope=\"application\"} 3\n"),
        "{body}"
    );
    assert_eq!(get_path(addr, "/hello"), (200, "hello".to_owned()));
}

/// Waits until the server closes `stream` without answering, and returns how long it took.
fn wait_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let data = read_all(stream);
    assert!(
        data.is_empty() || parse(&data).0 == 408,
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    started.elapsed()
}

#[test]
fn garbage_is_refused_and_serving_goes_on() {
    let server = start(|serve| serve);
    let addr = server.addr;
    assert_healthy(addr);
    for (round, bytes) in abuse::garbage().iter().enumerate() {
        let reply = raw(addr, bytes);
        if !reply.is_empty() {
            let status = parse(&reply).0;
            assert!((400..500).contains(&status), "round {round}: {status}");
        }
    }
    assert_healthy(addr);
    for bytes in abuse::MALFORMED {
        let reply = raw(addr, bytes);
        if !reply.is_empty() {
            let status = parse(&reply).0;
            assert!((200..500).contains(&status), "{bytes:?}: {status}");
        }
        assert_healthy(addr);
    }
}

#[test]
fn a_huge_request_line_gets_431() {
    let server = start(|serve| serve);
    let addr = server.addr;
    let reply = raw(addr, &abuse::huge_request_line("/metrics?scope="));
    if !reply.is_empty() {
        assert_eq!(parse(&reply).0, 431);
    }
    assert_healthy(addr);
    // The same for the application's own route.
    let reply = raw(addr, &abuse::huge_request_line("/hello/"));
    if !reply.is_empty() {
        assert_eq!(parse(&reply).0, 431);
    }
    assert_healthy(addr);
}

#[test]
fn thousands_of_headers_get_431() {
    let server = start(|serve| serve);
    let addr = server.addr;
    let reply = raw(addr, &abuse::many_headers("/hello", 5000));
    if !reply.is_empty() {
        assert_eq!(parse(&reply).0, 431);
    }
    assert_healthy(addr);

    // Within the byte limit but over the count limit (100 by default).
    let counted = abuse::over_the_header_count();
    assert_eq!(parse(&raw(addr, &counted)).0, 431);
    assert_healthy(addr);

    // The limits are configurable: 150 headers pass with a higher count.
    let server = start(|serve| serve.max_headers(200).max_header_bytes(64 * 1024));
    let (status, _) = parse(&send_raw(server.addr, &counted));
    assert_eq!(status, 200);
    assert_healthy(server.addr);
}

#[test]
fn silent_and_stalled_clients_are_closed_after_the_header_timeout() {
    let server = start(|serve| serve.header_read_timeout(Duration::from_millis(300)));
    let addr = server.addr;

    let mut silent = connect(addr);
    let mut stalled = connect(addr);
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Others are served while those two hang.
    assert_healthy(addr);

    let waited = wait_closed(&mut silent);
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    let waited = wait_closed(&mut stalled);
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");

    // An idle keep-alive connection is closed by the same timer.
    let mut idle = connect(addr);
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_all(&mut idle)).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("hello"), "{text}");
    assert_healthy(addr);
}

#[test]
fn connections_over_the_limit_wait_for_a_free_slot() {
    // The default header timeout (10 s) is longer than the test: only a client leaving frees a
    // slot.
    let server = start(|serve| serve.max_connections(2));
    let addr = server.addr;
    let silent_a = connect(addr);
    let _silent_b = connect(addr);
    std::thread::sleep(Duration::from_millis(50));

    // Both slots are taken: a third connection is not served yet.
    let mut waiting = connect(addr);
    waiting
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match waiting.read(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("served over the connection limit: {other:?}"),
    }

    // One client leaves: its slot goes to the waiting connection.
    drop(silent_a);
    let started = Instant::now();
    waiting.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let reply = read_all(&mut waiting);
    assert_eq!(parse(&reply), (200, "hello".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_healthy(addr);
}

#[test]
fn a_full_server_frees_slots_held_by_silent_clients_after_the_header_timeout() {
    let server = start(|serve| {
        serve
            .max_connections(2)
            .header_read_timeout(Duration::from_millis(300))
    });
    let addr = server.addr;
    let _a = connect(addr);
    let _b = connect(addr);
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    assert_healthy(addr);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn many_concurrent_scrapes() {
    for max_connections in [64, 4] {
        let server = start(|serve| serve.max_connections(max_connections));
        let addr = server.addr;
        let scrapers: Vec<_> = (0..64)
            .map(|i| {
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        get_path(addr, "/metrics")
                    } else {
                        get_path(addr, "/hello")
                    }
                })
            })
            .collect();
        for (i, scraper) in scrapers.into_iter().enumerate() {
            let (status, body) = scraper.join().unwrap();
            assert_eq!(status, 200, "{body}");
            if i % 2 == 0 {
                assert!(body.contains("hits_total"), "{body}");
            } else {
                assert_eq!(body, "hello");
            }
        }
        assert_healthy(addr);
    }
}

#[test]
fn graceful_shutdown_closes_the_port_and_resolves() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, served) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = microprofile::serve::serve(listener, app()).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        (addr, tokio::spawn(serve.into_future()))
    });
    assert_healthy(addr);
    // An idle keep-alive connection does not hold the shutdown up.
    let mut idle = connect(addr);
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let started = Instant::now();
    stop.send(()).unwrap();
    let result = runtime.block_on(async { tokio::time::timeout(IO_TIMEOUT, served).await });
    result.unwrap().unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = read_all(&mut idle);
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}
