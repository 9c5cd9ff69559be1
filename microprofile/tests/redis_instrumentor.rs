//! The shared store's format against `instrumentor` 0.0.1, the Python library whose design
//! document the format comes from: a real, independent writer and reader of it, run from the
//! virtual environment `scripts/instrumentor-env` makes (`$MICROPROFILE_INSTRUMENTOR_PYTHON`,
//! which `scripts/test` sets), against a real `redis-server`.
//!
//! - Byte for byte: the same operations, done by instrumentor's `CollectorRegistry` and by a
//!   registry of this crate attached to a `SharedStore`, leave the very same hash fields.
//! - It writes, the exporter exposes: what instrumentor wrote, exposed by `RedisExposition`,
//!   parsed by `prometheus_client`'s reference parser, is what instrumentor's own
//!   `ExpositionClient` shows.
//! - The project writes, its reader reads: what a registry of this crate transferred, exposed by
//!   instrumentor's `ExpositionClient`, parsed by the reference parser, is what the registry's own
//!   scrape shows.

#[path = "redis_support/mod.rs"]
mod redis_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use microprofile::redis::{GaugeMode, RedisExposition, SharedStore, StoreConfig};
use microprofile::{Format, Metadata, Registry, Scope, Selection};
use redis_support::RedisServer;

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/instrumentor_driver.py")
}

/// The interpreter with instrumentor 0.0.1: `$MICROPROFILE_INSTRUMENTOR_PYTHON`, else the one
/// `scripts/instrumentor-env` makes (and prints).
fn instrumentor_python() -> PathBuf {
    if let Some(python) = std::env::var_os("MICROPROFILE_INSTRUMENTOR_PYTHON") {
        return PathBuf::from(python);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/instrumentor-env");
    let out = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/instrumentor-env failed (it needs python3 with venv and PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn instrumentor(command: &str, server: &RedisServer, namespace: &str) -> String {
    let out = Command::new(instrumentor_python())
        .arg(driver())
        .args([command, &server.port.to_string(), namespace])
        .output()
        .expect("run instrumentor");
    assert!(
        out.status.success(),
        "instrumentor {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One sample as the reference parser reads it: name, labels (without `mp_scope`), value.
type Sample = (String, BTreeMap<String, String>, String);

/// Parses Prometheus text with `prometheus_client`'s reference parser
/// (`$MICROPROFILE_PYTHON`, else `python3`).
fn parse(text: &str) -> Vec<Sample> {
    let python = std::env::var("MICROPROFILE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    // One sample per line: name, labels (name \x1f value, pairs split by \x1e), value; tabs
    // between.
    let program = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = "\x1e".join(f"{k}\x1f{v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}\t{labels}\t{float(s.value)!r}")
"#;
    let mut child = Command::new(&python)
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples: Vec<Sample> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            let name = parts.next().unwrap().to_owned();
            let mut labels: BTreeMap<String, String> = parts
                .next()
                .unwrap()
                .split('\x1e')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('\x1f').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            labels.remove("mp_scope");
            (name, labels, parts.next().unwrap().to_owned())
        })
        .collect();
    samples.sort();
    samples
}

/// The driver's `write` scenario, operation for operation, through a registry of this crate
/// attached to a store (two transfers, as the driver does).
fn scenario(server: &RedisServer, namespace: &str) -> Arc<Registry> {
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(StoreConfig::new(server.url(), namespace)).unwrap();
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let requests = |method: &'static str, handler: &'static str| {
        registry
            .counter(
                Metadata::new("http_requests_total")
                    .description("Total HTTP requests")
                    .with_tag("method", method)
                    .with_tag("handler", handler),
            )
            .unwrap()
    };
    let post = requests("POST", "/messages");
    let get = requests("GET", "/");
    let jobs = registry
        .counter(Metadata::new("jobs_total").description("Jobs done"))
        .unwrap();
    let spent = registry
        .float_counter(Metadata::new("spent_seconds_total").description("Time spent"))
        .unwrap();
    let temperature = registry
        .gauge(
            Metadata::new("temperature_celcius")
                .description("Temperature in celcius")
                .with_tag("location", "MainOffice"),
        )
        .unwrap();
    let latency = registry
        .histogram(
            Metadata::new("http_request_duration_seconds").description("Duration of HTTP requests"),
            Some(vec![0.05, 0.1, 0.2, 0.5, 1.0]),
        )
        .unwrap();
    for _ in 0..3 {
        post.inc();
    }
    get.inc_by(2);
    for _ in 0..5 {
        jobs.inc();
    }
    spent.inc_by(0.5);
    spent.inc_by(0.25);
    temperature.add(3);
    temperature.add(-1);
    for v in [0.01, 0.07, 0.3, 0.3, 2.0] {
        latency.observe(v);
    }
    store.transfer().unwrap();
    post.inc();
    latency.observe(0.15);
    store.transfer().unwrap();
    registry
}

#[test]
fn the_same_operations_leave_the_same_fields_as_instrumentor() {
    let server = RedisServer::start();
    instrumentor("write", &server, "py");
    let _registry = scenario(&server, "rs");
    let py: BTreeMap<String, String> = server.hgetall("py").into_iter().collect();
    let rs: BTreeMap<String, String> = server.hgetall("rs").into_iter().collect();
    // The design's own examples are among them.
    for field in [
        "http_requests_total::handler=\"/messages\",method=\"POST\"",
        "http_request_duration_seconds:b:le=\"0.05\"",
        "http_request_duration_seconds:b:le=\"+Inf\"",
        "http_request_duration_seconds:s:",
        "http_request_duration_seconds:c:",
        "http_request_duration_seconds:t:",
        "temperature_celcius::location=\"MainOffice\"",
        "jobs_total::",
    ] {
        assert!(
            py.contains_key(field),
            "instrumentor wrote no {field:?}: {py:#?}"
        );
    }
    // Field for field and value for value, byte for byte.
    assert_eq!(
        py.keys().collect::<Vec<_>>(),
        rs.keys().collect::<Vec<_>>(),
        "field names differ\ninstrumentor: {py:#?}\nmicroprofile: {rs:#?}"
    );
    // Values: the very same text, but for float sums, which the two add in a different order
    // (instrumentor in Python from the first observation on, a histogram here lock-free), so
    // they may differ in the last bit of the double: equal to 1e-15, relative.
    for (field, theirs) in &py {
        let ours = &rs[field];
        if theirs == ours {
            continue;
        }
        let (a, b): (f64, f64) = (theirs.parse().unwrap(), ours.parse().unwrap());
        assert!(
            field.contains(":s:") && (a - b).abs() <= 1e-15 * a.abs(),
            "{field}: instrumentor wrote {theirs:?}, microprofile {ours:?}"
        );
    }
    // Cumulative buckets: le="0.2" counts 0.01, 0.07 and 0.15; +Inf every observation.
    assert_eq!(rs["http_request_duration_seconds:b:le=\"0.2\""], "3");
    assert_eq!(rs["http_request_duration_seconds:b:le=\"+Inf\""], "6");
    assert_eq!(rs["http_request_duration_seconds:c:"], "6");
}

#[test]
fn what_instrumentor_writes_the_exporter_exposes() {
    let server = RedisServer::start();
    instrumentor("write", &server, "py");
    // Values with raw `:` `,` `=` `"` `%`, in a namespace of their own: instrumentor's reader
    // copies labels as stored, so its own output of them (`path="say "hi""`) does not parse.
    instrumentor("hostile", &server, "odd");
    let theirs = parse(&instrumentor("expose", &server, "py"));
    let exposition = RedisExposition::new(&server.url(), &["py", "odd"]).unwrap();
    let ours_text = exposition
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    let ours: Vec<Sample> = parse(&ours_text)
        .into_iter()
        .filter(|(name, _, _)| !name.starts_with("odd_"))
        .collect();
    assert_eq!(ours, theirs, "ours:\n{ours_text}");
    assert!(ours.len() > 10, "{ours:?}");
    for (path, value) in [
        ("/a:b", "1"),
        ("x,y=z", "2"),
        ("100%", "3"),
        ("say \"hi\"", "4"),
    ] {
        let escaped = path.replace('"', "\\\"");
        let line = format!("odd_total{{path=\"{escaped}\",mp_scope=\"odd\"}} {value}\n");
        assert!(ours_text.contains(&line), "{line:?} in\n{ours_text}");
    }
    // Their HELP and TYPE, and no field skipped.
    assert!(ours_text.contains("# HELP http_requests_total Total HTTP requests\n"));
    assert!(ours_text.contains("# TYPE http_request_duration_seconds histogram\n"));
    for namespace in ["py", "odd"] {
        let data = exposition.read(namespace).unwrap();
        assert!(data.errors.is_empty(), "{namespace}: {:#?}", data.errors);
    }
}

#[test]
fn what_the_registry_writes_instrumentor_reads() {
    let server = RedisServer::start();
    let registry = scenario(&server, "rs");
    let theirs = parse(&instrumentor("expose", &server, "rs"));
    // The registry's own scrape, as one process serves it.
    let own = parse(&registry.encode_to_string(Format::Prometheus, Selection::All));
    assert_eq!(theirs, own);
    assert!(theirs.iter().any(|(name, labels, value)| name
        == "http_request_duration_seconds_bucket"
        && labels.get("le").map(String::as_str) == Some("0.2")
        && value == "3.0"));
    // And this crate's exporter agrees with both.
    let exposed = RedisExposition::new(&server.url(), &["rs"])
        .unwrap()
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    assert_eq!(parse(&exposed), own, "{exposed}");
}
