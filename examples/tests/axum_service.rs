//! The README's axum example, for real: the compiled `axum_service` example is started on a free
//! loopback port, driven over HTTP, and its `/metrics` must carry the macros' metrics, the
//! outbound-call timer and the layer's bounded series, pass promtool and both Python parsers, and
//! stop cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microprofile_tests::{check_both_formats, http_get, value_of};

const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `cargo test` builds the examples next to the test binaries: target/<profile>/examples/.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("axum_service");
    assert!(
        path.exists(),
        "{} not built; run `cargo test --workspace` (it builds the examples)",
        path.display()
    );
    path
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn axum_service_records_handlers_outbound_calls_and_requests() {
    let mut child = Command::new(example_binary())
        .arg("127.0.0.1:0")
        .env_remove("MICROPROFILE_BEARER_TOKEN")
        .env_remove("MICROPROFILE_BASIC_AUTH")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut service = Service(child);
    let first = BufReader::new(stdout).lines().next().unwrap().unwrap();
    // "axum_service: try http://127.0.0.1:PORT/items/7, metrics at http://127.0.0.1:PORT/metrics"
    let addr: SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));

    // A client that sends half a request head and then nothing: `web::serve` (as the README
    // recommends) closes it after its 10 s header read timeout; `axum::serve` would keep it.
    let mut idle = std::net::TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let idle_since = Instant::now();

    let get = |path: &str| http_get(addr, path, None).unwrap();
    for id in 1..=4 {
        let r = get(&format!("/items/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.starts_with(&format!("item {id}: ")), "{}", r.body);
    }
    assert_eq!(get("/items/0").status, 404);
    assert_eq!(get("/").status, 200);
    for probe in ["/wp-login.php", "/.env", "/admin?x=1"] {
        assert_eq!(get(probe).status, 404);
    }

    let prom = get("/metrics");
    assert_eq!(prom.status, 200);
    let om = http_get(addr, "/metrics", Some(OPENMETRICS_ACCEPT)).unwrap();
    assert!(om
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/openmetrics-text"));
    let (samples, _) = check_both_formats(&prom.body, &om.body);
    let value = |name: &str, labels: &[(&str, &str)]| value_of(&samples, name, labels);

    let outbound = [
        ("path", "/stock"),
        ("region", "eu-west-1"),
        ("mp_scope", "application"),
    ];
    assert_eq!(
        value("outbound_http_latency_seconds_count", &outbound),
        Some(4.0)
    );
    assert_eq!(
        value("greetings_total", &[("mp_scope", "application")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            "item_lookup_seconds_count",
            &[("outcome", "ok"), ("mp_scope", "application")]
        ),
        Some(4.0)
    );
    assert_eq!(
        value(
            "item_lookup_seconds_count",
            &[("outcome", "error"), ("mp_scope", "application")]
        ),
        Some(1.0)
    );
    let requests = |route: &str, status: &str| {
        value(
            "http_server_requests_total",
            &[
                ("method", "GET"),
                ("route", route),
                ("status", status),
                ("mp_scope", "vendor"),
            ],
        )
    };
    assert_eq!(requests("/items/{id}", "200"), Some(4.0));
    assert_eq!(requests("/items/{id}", "404"), Some(1.0));
    assert_eq!(requests("/stock/{id}", "200"), Some(4.0));
    assert_eq!(requests("/", "200"), Some(1.0));
    assert_eq!(requests("unmatched", "404"), Some(3.0));
    assert!(!prom.body.contains("wp-login"));
    // Base and vendor metrics of microprofile-base are there too.
    assert!(prom.body.contains("mp_scope=\"base\""));

    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    // Closed (EOF, or a reset), possibly after a 408, well before the read timeout.
    let _ = idle.read_to_end(&mut rest);
    let held = idle_since.elapsed();
    assert!(
        held < Duration::from_secs(15),
        "the idle connection was held {held:?}"
    );

    // Ctrl-C: SIGINT ends it cleanly.
    assert!(Command::new("kill")
        .arg("-INT")
        .arg(service.0.id().to_string())
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = service.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
}
