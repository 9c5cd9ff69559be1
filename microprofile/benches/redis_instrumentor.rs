//! The Redis shared store next to `instrumentor` 0.0.1, the Python library its format comes
//! from, on one `redis-server` in one run (issue 15 §6): transferring 10 000 changed series in one
//! round trip, and exposing a namespace of 100 000 fields. Starts its own `redis-server` on a
//! free loopback port; the anchor (`scripts/bench-instrumentor.py`) runs against the same server
//! right after our side of each case (transfer, expose), with the interpreter named by
//! `MICROPROFILE_INSTRUMENTOR_PYTHON` (`scripts/instrumentor-env` makes one; without it the
//! anchor is skipped). `scripts/bench-redis` runs it all and prints the table with the ratios.

#[path = "../tests/redis_support/mod.rs"]
mod redis_support;

use std::cell::Cell;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

use microprofile::redis::{GaugeMode, RedisExposition, SharedStore, StoreConfig};
use microprofile::{Counter, Family, Format, LabelSet, Metadata, Registry, Scope, Selection};
use redis_support::{command_on, RedisServer};

/// Changed series per transfer.
const SERIES: usize = 10_000;
/// Counter families of the exposed namespace; each has a `t` and a `d` field.
const FAMILIES: usize = 10;
/// Fields of the exposed namespace, `t` and `d` included.
const FIELDS: usize = 100_000;
const TRANSFER_REPETITIONS: &str = "20";
const EXPOSE_REPETITIONS: &str = "5";

/// `method="GET",route="/r{i}"`: the labels both sides write.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Route(String);

impl LabelSet for Route {
    const NAMES: &'static [&'static str] = &["method", "route"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f("GET");
        f(&self.0)
    }
}

fn routes() -> Vec<String> {
    (0..SERIES).map(|i| format!("/r{i}")).collect()
}

/// The Python side: `scripts/bench-instrumentor.py` run by the instrumentor interpreter.
struct Anchor {
    python: Option<String>,
    script: PathBuf,
    out: Option<String>,
    url: String,
}

impl Anchor {
    fn new(url: String) -> Anchor {
        let python = std::env::var("MICROPROFILE_INSTRUMENTOR_PYTHON")
            .ok()
            .filter(|p| !p.is_empty());
        if python.is_none() {
            eprintln!(
                "MICROPROFILE_INSTRUMENTOR_PYTHON is not set: the instrumentor anchor is skipped \
                 (scripts/bench-redis sets it)"
            );
        }
        Anchor {
            python,
            script: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../scripts/bench-instrumentor.py"),
            out: std::env::var("MICROPROFILE_INSTRUMENTOR_OUT").ok(),
            url,
        }
    }

    fn command(&self, python: &str, case: &str, namespace: &str) -> Command {
        let mut command = Command::new(python);
        command
            .arg(&self.script)
            .arg(case)
            .args(["--url", &self.url, "--namespace", namespace]);
        if let Some(out) = &self.out {
            command.args(["--out", out]);
        }
        command
    }

    /// Runs one timed case; its figures go to `MICROPROFILE_INSTRUMENTOR_OUT`.
    fn run(&self, case: &str, namespace: &str, args: &[&str]) {
        let Some(python) = &self.python else { return };
        let status = self
            .command(python, case, namespace)
            .args(args)
            .status()
            .expect("run the instrumentor anchor");
        assert!(status.success(), "instrumentor {case} failed: {status}");
    }

    /// The sample lines of one `ExpositionClient.expose()` of `namespace`.
    fn samples(&self, namespace: &str) -> Option<usize> {
        let python = self.python.as_ref()?;
        let out = self
            .command(python, "count", namespace)
            .output()
            .expect("run the instrumentor anchor");
        assert!(
            out.status.success(),
            "instrumentor count failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix("samples "))
            .and_then(|n| n.trim().parse().ok());
        assert!(n.is_some(), "no sample count from instrumentor: {text}");
        n
    }
}

fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// How many fields of `namespace` hold exactly `value`.
fn fields_at(server: &RedisServer, namespace: &str, value: u64) -> usize {
    let value = value.to_string();
    server
        .hgetall(namespace)
        .iter()
        .filter(|(_, v)| *v == value)
        .count()
}

/// Resets `INFO commandstats`.
fn reset_stats(server: &RedisServer) {
    let reply = command_on(server.port, &["CONFIG", "RESETSTAT"]).expect("CONFIG RESETSTAT");
    assert!(reply.starts_with("+OK"), "CONFIG RESETSTAT: {reply}");
}

/// The calls of the first of `commands` since the last reset, and the time `redis-server` spent
/// in all of them per such call, in seconds (`INFO commandstats`): the server's share of one
/// operation.
fn server_seconds_per_call(server: &RedisServer, commands: &[&str]) -> (u64, f64) {
    let info = command_on(server.port, &["INFO", "commandstats"]).expect("INFO");
    let stat = |command: &str, key: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:")))
            .and_then(|rest| {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    };
    let calls = commands.first().map_or(0.0, |c| stat(c, "calls"));
    let usec: f64 = commands.iter().map(|c| stat(c, "usec")).sum();
    let per_call = if calls > 0.0 { usec / calls / 1e6 } else { 0.0 };
    (calls as u64, per_call)
}

/// Records the server's share of one of our cases next to the anchor's figures.
fn record_server_share(anchor: &Anchor, bench: &str, seconds: f64) {
    println!(
        "redis-server time per call in {bench}: {:.2} ms",
        seconds * 1e3
    );
    if let Some(out) = &anchor.out {
        use std::io::Write;
        let line = format!("{{\"case\": \"microprofile:{bench}\", \"server_s\": {seconds}}}\n");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("write the figures");
    }
}

/// Each iteration: every one of the 10 000 series incremented once, then one transfer.
fn transfer(c: &mut Criterion, server: &RedisServer, anchor: &Anchor) {
    let routes = routes();
    let mut group = c.benchmark_group("redis_instrumentor");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(SERIES as u64));

    // The recommended path: a registry's family, attached to the store.
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(StoreConfig::new(server.url(), "mp_registry")).expect("store");
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let family = Arc::new(Family::<Route, Counter>::with_max_series(
        Counter::new(),
        SERIES,
    ));
    registry
        .register(
            Metadata::new("bench_requests").description("Requests served."),
            family.clone(),
        )
        .expect("register");
    let labels: Vec<Route> = routes.iter().cloned().map(Route).collect();
    let once = || {
        for l in &labels {
            family.with(l).inc();
        }
        store.transfer().expect("transfer")
    };
    once();
    let report = once();
    assert_eq!(family.len(), SERIES, "series of the family");
    assert!(report.round_trip && report.fields == SERIES, "{report:?}");
    let runs = Cell::new(2u64);
    reset_stats(server);
    group.bench_function("transfer_10000_series_registry", |b| {
        b.iter(|| {
            runs.set(runs.get() + 1);
            once()
        })
    });
    // One transfer, one script run: one round trip.
    let (calls, share) = server_seconds_per_call(server, &["eval", "evalsha"]);
    assert_eq!(calls, runs.get() - 2, "script runs against transfers");
    assert_eq!(fields_at(server, "mp_registry", runs.get()), SERIES);
    record_server_share(anchor, "transfer_10000_series_registry", share);

    // The store's own handles.
    let store = SharedStore::new(StoreConfig::new(server.url(), "mp_handles")).expect("store");
    let handles: Vec<_> = routes
        .iter()
        .map(|r| {
            store
                .counter("bench_requests", &[("method", "GET"), ("route", r)])
                .expect("counter")
        })
        .collect();
    let once = || {
        for h in &handles {
            h.inc();
        }
        store.transfer().expect("transfer")
    };
    once();
    let report = once();
    assert!(report.round_trip && report.fields == SERIES, "{report:?}");
    let runs = Cell::new(2u64);
    reset_stats(server);
    group.bench_function("transfer_10000_series_store_handles", |b| {
        b.iter(|| {
            runs.set(runs.get() + 1);
            once()
        })
    });
    // One transfer, one script run: one round trip.
    let (calls, share) = server_seconds_per_call(server, &["eval", "evalsha"]);
    assert_eq!(calls, runs.get() - 2, "script runs against transfers");
    assert_eq!(fields_at(server, "mp_handles", runs.get()), SERIES);
    record_server_share(anchor, "transfer_10000_series_store_handles", share);
    group.finish();

    anchor.run(
        "transfer",
        "py_transfer",
        &[
            "--series",
            &SERIES.to_string(),
            "--repetitions",
            TRANSFER_REPETITIONS,
        ],
    );
}

/// One hash of 100 000 fields in the format both read: `FAMILIES` counter families of
/// 9 998 series each (`bench_family_3::method="GET",route="/r17"`) with their `t` (`c`) and `d`
/// fields. Returns the number of series.
fn populate(server: &RedisServer, namespace: &str) -> usize {
    let per_family = FIELDS / FAMILIES - 2;
    let mut series = 0;
    for f in 0..FAMILIES {
        let mut args = vec![
            "HSET".to_owned(),
            namespace.to_owned(),
            format!("bench_family_{f}:t:"),
            "c".to_owned(),
            format!("bench_family_{f}:d:"),
            format!("Requests of family {f}."),
        ];
        for i in 0..per_family {
            args.push(format!("bench_family_{f}::method=\"GET\",route=\"/r{i}\""));
            args.push((i as u64 * 7 + f as u64).to_string());
            series += 1;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let reply = command_on(server.port, &args).expect("HSET");
        assert!(reply.starts_with(':'), "HSET: {reply}");
    }
    let len = command_on(server.port, &["HLEN", namespace]).expect("HLEN");
    assert_eq!(len, format!(":{FIELDS}"), "fields of {namespace}");
    series
}

/// Each iteration: one full read of the namespace (`HGETALL`), decoded and rendered.
fn expose(c: &mut Criterion, server: &RedisServer, anchor: &Anchor) {
    let namespace = "expose";
    let series = populate(server, namespace);
    let exposition = RedisExposition::new(&server.url(), &[namespace]).expect("exposition");
    let render = || {
        exposition
            .render(Format::Prometheus, Selection::All)
            .expect("render")
    };
    // Both sides expose every series, or the comparison means nothing.
    let ours = sample_lines(&render());
    assert_eq!(ours, series, "sample lines of our exposition");
    if let Some(theirs) = anchor.samples(namespace) {
        assert_eq!(theirs, ours, "sample lines: instrumentor against ours");
    }

    let mut group = c.benchmark_group("redis_instrumentor");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(FIELDS as u64));
    reset_stats(server);
    group.bench_function("expose_100000_fields", |b| b.iter(render));
    group.finish();
    let (_, share) = server_seconds_per_call(server, &["hgetall"]);
    record_server_share(anchor, "expose_100000_fields", share);

    anchor.run(
        "expose",
        namespace,
        &["--repetitions", EXPOSE_REPETITIONS, "--warmup", "1"],
    );
}

fn bench(c: &mut Criterion) {
    let server = RedisServer::start();
    let anchor = Anchor::new(server.url());
    transfer(c, &server, &anchor);
    expose(c, &server, &anchor);
}

criterion_group!(benches, bench);
criterion_main!(benches);
