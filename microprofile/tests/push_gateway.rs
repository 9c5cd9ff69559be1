//! Pushing to a real `prometheus-pushgateway` and reading the values back from it.
#![cfg(feature = "push")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microprofile::push::{GroupingKey, PushError, Pushgateway};
use microprofile::{Metadata, Registry, Scope, Selection};

struct Gateway {
    child: Child,
    port: u16,
}

impl Gateway {
    fn start() -> Gateway {
        let bin = std::env::var_os("PUSHGATEWAY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus-pushgateway"));
        assert!(
            bin.exists(),
            "{} not found: install the Debian package `prometheus-pushgateway` (CI installs it) or set PUSHGATEWAY",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start prometheus-pushgateway");
        let gateway = Gateway { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if gateway
                .get("/-/ready")
                .is_some_and(|r| r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"))
            {
                return gateway;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("prometheus-pushgateway did not become ready on port {port}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut out = String::new();
        stream.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The gateway's own exposition, only the lines of our test metrics.
    fn metrics(&self) -> Vec<String> {
        let text = self.get("/metrics").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("push_test_"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has(lines: &[String], wanted: &str) -> bool {
    lines.iter().any(|l| l == wanted)
}

#[test]
fn put_replaces_post_merges_delete_removes() {
    let gateway = Gateway::start();
    let client = Pushgateway::new(&gateway.url()).unwrap();
    let key = GroupingKey::new("batch")
        .unwrap()
        .instance("host/1")
        .unwrap();

    let first = Registry::new();
    first
        .counter(Metadata::new("push_test_jobs").description("Jobs run."))
        .unwrap()
        .inc_by(3);
    first
        .gauge(Metadata::new("push_test_last_size"))
        .unwrap()
        .set(42);
    let timer = first
        .timer(Metadata::new("push_test_duration"), Some(vec![1.0, 10.0]))
        .unwrap();
    timer.observe(2.5);
    client.push(&first, Selection::All, &key).unwrap();
    let lines = gateway.metrics();
    assert!(
        has(
            &lines,
            "push_test_jobs_total{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 3"
        ),
        "{lines:#?}"
    );
    assert!(has(
        &lines,
        "push_test_last_size{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 42"
    ));
    assert!(
        has(
            &lines,
            "push_test_duration_seconds_count{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 1"
        ),
        "{lines:#?}"
    );

    // POST merges: same-name metrics are replaced, the others stay.
    let second = Registry::new();
    second
        .counter(Metadata::new("push_test_jobs").description("Jobs run."))
        .unwrap()
        .inc_by(5);
    client.push_add(&second, Selection::All, &key).unwrap();
    let lines = gateway.metrics();
    assert!(has(
        &lines,
        "push_test_jobs_total{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 5"
    ));
    assert!(has(
        &lines,
        "push_test_last_size{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 42"
    ));

    // PUT replaces the whole group.
    client.push(&second, Selection::All, &key).unwrap();
    let lines = gateway.metrics();
    assert!(has(
        &lines,
        "push_test_jobs_total{instance=\"host/1\",job=\"batch\",mp_scope=\"application\"} 5"
    ));
    assert!(
        !lines.iter().any(|l| l.starts_with("push_test_last_size{")),
        "{lines:#?}"
    );

    // Another group is independent; DELETE removes one group only.
    let other = GroupingKey::new("batch").unwrap().instance("2").unwrap();
    client.push(&first, Selection::All, &other).unwrap();
    client.delete(&key).unwrap();
    let lines = gateway.metrics();
    assert!(!lines.iter().any(|l| l.contains("instance=\"host/1\"")));
    assert!(has(
        &lines,
        "push_test_jobs_total{instance=\"2\",job=\"batch\",mp_scope=\"application\"} 3"
    ));
}

#[test]
fn pushes_one_scope_and_reports_refusals() {
    let gateway = Gateway::start();
    let client = Pushgateway::new(&gateway.url()).unwrap();
    let registry = Registry::new();
    registry
        .counter(Metadata::new("push_test_app"))
        .unwrap()
        .inc();
    registry
        .counter(Metadata::new("push_test_vendor").scope(Scope::Vendor))
        .unwrap()
        .inc();
    let key = GroupingKey::new("scoped").unwrap();
    client
        .push(&registry, Selection::Scope(&Scope::Vendor), &key)
        .unwrap();
    let lines = gateway.metrics();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("push_test_vendor_total{")));
    assert!(!lines.iter().any(|l| l.starts_with("push_test_app_total{")));

    // A push inconsistent with another group (same name, another type) is refused by the
    // gateway, and the refusal says why.
    let clash = Registry::new();
    clash
        .gauge(Metadata::new("push_test_vendor_total"))
        .unwrap()
        .set(1);
    let other = GroupingKey::new("other").unwrap();
    match client.push(&clash, Selection::All, &other) {
        Err(PushError::Status { status: 400, body }) => assert!(!body.is_empty()),
        other => panic!("expected a 400 from the gateway, got {other:?}"),
    }
}
