//! The README's first command, for real: the compiled `quickstart` example is started on a free
//! loopback port, its `/metrics` must pass promtool with no findings and both Python parsers in
//! both formats, and Ctrl-C (SIGINT) must stop it cleanly.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microprofile_tests::{check_both_formats, free_port, http_get, value_of};

const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `cargo test` builds the examples next to the test binaries: target/<profile>/examples/.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("quickstart");
    assert!(
        path.exists(),
        "{} not built; run `cargo test --workspace` (it builds the examples)",
        path.display()
    );
    path
}

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn quickstart_serves_valid_metrics_and_stops_on_ctrl_c() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = Command::new(example_binary())
        .env("MICROPROFILE_ADDR", addr.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut demo = Demo(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(
        first,
        format!("microprofile quickstart: metrics at http://{addr}/metrics")
    );

    // Let the background traffic produce some of everything.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (prom, om) = loop {
        let prom = http_get(addr, "/metrics", None).unwrap();
        let om = http_get(addr, "/metrics", Some(OPENMETRICS_ACCEPT)).unwrap();
        // Request 0 calls both endpoints; once request 1 has started, request 0 is recorded.
        let handled = prom
            .body
            .lines()
            .find_map(|l| l.strip_prefix("demo_requests_total{mp_scope=\"application\"} "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if handled >= 2.0 || Instant::now() > deadline {
            break (prom, om);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(prom.status, 200);
    assert_eq!(
        prom.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    // The quickstart uses no Redis, so the shared store's vendor metrics are not there.
    assert!(!prom.body.contains("microprofile_redis_"), "{}", prom.body);
    let (p, o) = check_both_formats(&prom.body, &om.body);
    for samples in [&p, &o] {
        for (region, path) in [("eu-west-1", "/foo"), ("us-east-1", "/bar")] {
            let count = value_of(
                samples,
                "outbound_http_latency_seconds_count",
                &[
                    ("region", region),
                    ("path", path),
                    ("mp_scope", "application"),
                ],
            );
            assert!(
                count.is_some_and(|c| c >= 1.0),
                "{region} {path}: {count:?}"
            );
        }
        assert!(value_of(
            samples,
            "demo_requests_total",
            &[("mp_scope", "application")]
        )
        .is_some_and(|v| v >= 1.0));
        assert!(value_of(
            samples,
            "demo_response_size_bytes_count",
            &[("mp_scope", "application")]
        )
        .is_some());
        assert!(value_of(samples, "demo_queue_depth", &[("mp_scope", "application")]).is_some());
        let app = [("mp_scope", "application")];
        assert!(value_of(samples, "demo_render_seconds_count", &app).is_some_and(|v| v >= 1.0));
        let p99 = [("quantile", "0.99"), ("mp_scope", "application")];
        assert!(value_of(samples, "demo_render_seconds", &p99).is_some_and(|v| v.is_finite()));
        assert!(value_of(samples, "demo_requests_in_flight", &app).is_some());
        let base = [("mp_scope", "base")];
        assert!(value_of(samples, "memory_total_bytes", &base).is_some_and(|v| v > 0.0));
        let vendor = [("mp_scope", "vendor")];
        assert!(
            value_of(samples, "process_resident_memory_bytes", &vendor).is_some_and(|v| v > 0.0)
        );
    }
    for scope in ["base", "vendor", "application"] {
        let scoped = http_get(addr, &format!("/metrics/{scope}"), None).unwrap();
        assert_eq!(scoped.status, 200, "{scope}");
        microprofile_tests::promtool_check(&scoped.body).unwrap();
    }

    // Ctrl-C: SIGINT ends it cleanly with its closing line.
    let pid = demo.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = demo.0.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped after ")),
        "{rest:?}"
    );
}
