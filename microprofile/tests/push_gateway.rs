//! Pushing to a real `prometheus-pushgateway` and reading the values back from it.
#![cfg(feature = "push")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod process_support;

use microprofile::export::push::{GroupingKey, PushError, Pushgateway};
use microprofile::{Metadata, Registry, Scope, Selection};
use process_support::{run_isolated, threads_named, BlackHole};

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

// ---- Pushing without blocking the caller (BackgroundPusher) ----

const ISOLATED_ENV: &str = "MICROPROFILE_TEST_PUSH_ISOLATED";
const PUSH_THREAD: &str = "mp-push";

fn vendor_failures() -> f64 {
    let text = microprofile::global().encode_to_string(
        microprofile::Format::Prometheus,
        Selection::Metric(&Scope::Vendor, "microprofile_push_failures"),
    );
    text.lines()
        .find(|l| l.starts_with("microprofile_push_failures_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn background_push_never_blocks_on_a_silent_gateway() {
    run_isolated("background_push_never_blocks_isolated", ISOLATED_ENV);
}

/// Alone in a child process, so that the thread count and the vendor counter see no other test.
#[test]
fn background_push_never_blocks_isolated() {
    if std::env::var_os(ISOLATED_ENV).is_none() {
        return;
    }
    let port = BlackHole::start().port;
    let gateway = Pushgateway::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .timeout(Duration::from_millis(500));
    let registry = Registry::new();
    let rows = registry.counter(Metadata::new("push_test_rows")).unwrap();
    // The blocking form waits for the timeout.
    let key = GroupingKey::new("silent").unwrap();
    let start = Instant::now();
    assert!(matches!(
        gateway.push(&registry, Selection::All, &key),
        Err(PushError::Io { .. })
    ));
    assert!(start.elapsed() >= Duration::from_millis(500));

    let pusher = gateway.background().unwrap();
    // (The thread names itself once it runs.)
    let deadline = Instant::now() + Duration::from_secs(2);
    while threads_named(PUSH_THREAD) != 1 {
        assert!(Instant::now() < deadline, "{}", threads_named(PUSH_THREAD));
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut slowest = Duration::ZERO;
    // The same group again and again: one waiting push, its body replaced.
    for _ in 0..100 {
        rows.inc();
        let start = Instant::now();
        pusher.push(&registry, Selection::All, &key).unwrap();
        slowest = slowest.max(start.elapsed());
    }
    assert!(pusher.queued() <= 1, "{}", pusher.queued());
    // Different groups fill the bounded queue; past it, pushes are refused at once and counted.
    let mut refused = 0;
    for i in 0..100 {
        let key = GroupingKey::new("silent")
            .unwrap()
            .instance(i.to_string())
            .unwrap();
        let start = Instant::now();
        match pusher.push(&registry, Selection::All, &key) {
            Ok(()) => {}
            Err(PushError::QueueFull) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
        slowest = slowest.max(start.elapsed());
    }
    assert!(slowest < Duration::from_millis(200), "{slowest:?}");
    assert!(
        refused >= 100 - microprofile::export::push::MAX_QUEUED,
        "{refused}"
    );
    assert!(pusher.queued() <= microprofile::export::push::MAX_QUEUED);
    // Closing with a dead gateway: the push under way times out, the rest are given up.
    let start = Instant::now();
    let failures = match pusher.finish() {
        Err(PushError::Background { failures, last }) => {
            assert!(!last.is_empty());
            failures
        }
        other => panic!("expected the failures, got {other:?}"),
    };
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(failures > refused as u64, "{failures}");
    assert_eq!(vendor_failures(), failures as f64);
    // No thread left.
    assert_eq!(threads_named(PUSH_THREAD), 0);
}

/// A real Pushgateway: pushes return at once, the last values arrive; dropping the pusher sends
/// what is queued and ends its thread.
#[test]
fn background_push_arrives() {
    let gateway = Gateway::start();
    let pusher = Pushgateway::new(&gateway.url())
        .unwrap()
        .background()
        .unwrap();
    // Shareable between threads and async tasks.
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    assert_send_sync(&pusher);
    let registry = Registry::new();
    let rows = registry
        .counter(Metadata::new("push_test_bg_rows"))
        .unwrap();
    let key = GroupingKey::new("bg").unwrap();
    for _ in 0..50 {
        rows.inc();
        let start = Instant::now();
        pusher.push(&registry, Selection::All, &key).unwrap();
        assert!(start.elapsed() < Duration::from_millis(200));
    }
    let other = GroupingKey::new("bg_other").unwrap();
    pusher.push_add(&registry, Selection::All, &other).unwrap();
    drop(pusher);
    let lines = gateway.metrics();
    assert!(
        has(
            &lines,
            "push_test_bg_rows_total{instance=\"\",job=\"bg\",mp_scope=\"application\"} 50"
        ),
        "{lines:#?}"
    );
    assert!(has(
        &lines,
        "push_test_bg_rows_total{instance=\"\",job=\"bg_other\",mp_scope=\"application\"} 50"
    ));
    // A delete in the background, and `finish` reports success.
    let pusher = Pushgateway::new(&gateway.url())
        .unwrap()
        .background()
        .unwrap();
    pusher.delete(&key).unwrap();
    pusher.finish().unwrap();
    assert!(!gateway.metrics().iter().any(|l| l.contains("job=\"bg\"")));
}

// ---- Pushing only what a job means to push ----

/// A step of the job, declared in the job's own scope.
#[microprofile::counted(name = "push_test_job_steps", scope = "push_job")]
fn job_step() {}

/// Instrumented code of the same binary that the job must not push.
#[microprofile::counted(name = "push_test_unrelated_calls")]
fn unrelated() {}

/// Lines of the gateway's exposition that belong to this job's group.
fn group_lines(gateway: &Gateway, job: &str) -> Vec<String> {
    let needle = format!("job=\"{job}\"");
    gateway
        .get("/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// The global registry holds every instrumented function of the binary (and the vendor
/// metrics); a job pushes only its own scope, or only the application scope, or a registry of
/// its own.
#[test]
fn pushes_only_the_scope_or_registry_the_job_means_to() {
    let gateway = Gateway::start();
    let client = Pushgateway::new(&gateway.url()).unwrap();
    job_step();
    job_step();
    unrelated();

    // The job's own scope: its metrics and nothing else of the binary.
    let scope = Scope::new("push_job").unwrap();
    let key = GroupingKey::new("scoped_job").unwrap();
    client
        .push(microprofile::global(), Selection::Scope(&scope), &key)
        .unwrap();
    let lines = group_lines(&gateway, "scoped_job");
    assert!(
        has(
            &lines,
            "push_test_job_steps_total{instance=\"\",job=\"scoped_job\",mp_scope=\"push_job\"} 2"
        ),
        "{lines:#?}"
    );
    // `push_time_seconds` and `push_failure_time_seconds` are the gateway's own.
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| !l.starts_with("push_time_seconds") && !l.starts_with("push_failure_time"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:#?}");

    // The application scope: the binary's instrumented functions, no vendor or base metrics.
    let key = GroupingKey::new("app_job").unwrap();
    client
        .push(
            microprofile::global(),
            Selection::Scope(&Scope::Application),
            &key,
        )
        .unwrap();
    let lines = group_lines(&gateway, "app_job");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("push_test_unrelated_calls_total{")),
        "{lines:#?}"
    );
    assert!(lines.iter().all(|l| !l.contains("mp_scope=\"vendor\"")
        && !l.contains("mp_scope=\"base\"")
        && !l.contains("mp_scope=\"push_job\"")));

    // A registry of the job's own, in the background.
    let registry = Registry::new();
    registry
        .gauge(Metadata::new("push_test_own_last_run"))
        .unwrap()
        .set(7);
    let key = GroupingKey::new("own_job").unwrap();
    let pusher = client.background().unwrap();
    pusher.push(&registry, Selection::All, &key).unwrap();
    pusher.finish().unwrap();
    let lines = group_lines(&gateway, "own_job");
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| !l.starts_with("push_time_seconds") && !l.starts_with("push_failure_time"))
        .collect();
    assert_eq!(
        ours,
        ["push_test_own_last_run{instance=\"\",job=\"own_job\",mp_scope=\"application\"} 7"],
        "{lines:#?}"
    );
}
