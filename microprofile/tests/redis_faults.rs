//! Fault injection against real `redis-server`s (issue 15 §3): several writer processes, each a
//! registry attached to a shared store, write through a relay that delays, splits, drops and
//! cuts their connections at random (some delays longer than the writers' I/O timeout, so a
//! batch is sent again while its first copy is still on its way to Redis); Redis, with an
//! append-only file fsynced on every write, is killed with SIGKILL and restarted on the same port
//! and directory while they write, and once more after they are done. At the end every counter,
//! histogram bucket, sum and count, summary sketch bucket, sum and count, and a summed gauge, as
//! the exporter's reader decodes the namespace, must equal exactly what the processes recorded.
//!
//! The seed and the sizes can be changed for longer manual runs:
//! `MICROPROFILE_CHAOS_SEED`, `MICROPROFILE_CHAOS_ITERATIONS` (per worker),
//! `MICROPROFILE_CHAOS_WORKERS`, `MICROPROFILE_CHAOS_RESTARTS` (kills while the workers write), e.g.
//! `MICROPROFILE_CHAOS_SEED=7 MICROPROFILE_CHAOS_ITERATIONS=20000 cargo test -p microprofile
//! --all-features --test redis_faults -- --nocapture`.
#![cfg(feature = "redis")]

#[path = "redis_support/chaos.rs"]
mod chaos;
mod redis_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos::{ChaosConfig, ChaosRelay, Faults, Rng};
use microprofile::redis::sketch::Sketch;
use microprofile::redis::{
    GaugeMode, NamespaceData, RedisExposition, SharedStore, StoreConfig, TypeCode,
};
use microprofile::{Counter, Family, LabelSet, Metadata, Registry, Scope};
use redis_support::RedisServer;

const WORKER_ENV: &str = "MICROPROFILE_CHAOS_WORKER";
const WORKER_TEST: &str = "chaos_worker";
/// The writers' I/O timeout: the relay's late delays exceed it.
const IO_TIMEOUT_MS: u64 = 200;
const LATENCY_BOUNDS: [f64; 4] = [0.5, 1.0, 2.5, 5.0];
const QUEUES: [&str; 3] = ["mail", "sms", "push"];
/// Marks the lines of a worker's stdout the parent reads.
const TOTAL: &str = "CHAOS-TOTAL";
const STATS: &str = "CHAOS-WORKER";
/// A line a worker prints every [`PROGRESS_EVERY`] iterations, so the parent can kill Redis while
/// the writers are at given points of their work.
const PROGRESS: &str = "CHAOS-PROGRESS";
const PROGRESS_EVERY: u64 = 50;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        _ => default,
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Queue(&'static str);

impl LabelSet for Queue {
    const NAMES: &'static [&'static str] = &["queue"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.0)
    }
}

/// What one thread of a worker recorded, by field: `family|labels|part`, the labels as
/// `name=value` joined by `,`, the part `value`, `sum`, `count`, `b:<bound>` (one histogram
/// bucket, not cumulative) or `k:<key>` (one summary sketch bucket). The parent builds the same
/// keys from what the reader decoded.
#[derive(Default)]
struct Totals {
    fields: BTreeMap<String, f64>,
    updates: u64,
}

impl Totals {
    fn add(&mut self, key: String, n: f64) {
        *self.fields.entry(key).or_insert(0.0) += n;
    }

    fn merge(&mut self, other: Totals) {
        for (k, v) in other.fields {
            self.add(k, v);
        }
        self.updates += other.updates;
    }
}

fn bucket_of(value: f64) -> f64 {
    LATENCY_BOUNDS
        .iter()
        .copied()
        .find(|b| value <= *b)
        .unwrap_or(f64::INFINITY)
}

/// The metrics of a worker, in a registry of its own.
struct Metrics {
    jobs: microprofile::Handle<Counter>,
    by_queue: Arc<Family<Queue, Counter>>,
    spent: microprofile::Handle<microprofile::FloatCounter>,
    latency: microprofile::Handle<microprofile::Histogram>,
    sizes: microprofile::Handle<microprofile::Summary>,
    depth: microprofile::Handle<microprofile::Gauge>,
}

impl Metrics {
    fn count_job(&self, t: &mut Totals, n: u64) {
        self.jobs.inc_by(n);
        t.add("jobs||value".to_owned(), n as f64);
        t.updates += 1;
    }

    fn count_queue(&self, t: &mut Totals, queue: &'static str) {
        self.by_queue.with(&Queue(queue)).inc();
        t.add(format!("jobs_by_queue|queue={queue}|value"), 1.0);
        t.updates += 1;
    }

    fn spend(&self, t: &mut Totals, amount: f64) {
        self.spent.inc_by(amount);
        t.add("spent||value".to_owned(), amount);
        t.updates += 1;
    }

    fn observe_latency(&self, t: &mut Totals, value: f64) {
        self.latency.observe(value);
        t.add(format!("latency||b:{}", bucket_of(value)), 1.0);
        t.add("latency||sum".to_owned(), value);
        t.add("latency||count".to_owned(), 1.0);
        t.updates += 1;
    }

    fn observe_size(&self, t: &mut Totals, sketch: &mut Sketch, value: f64) {
        self.sizes.observe(value);
        sketch.add(value);
        t.add("sizes||sum".to_owned(), value);
        t.add("sizes||count".to_owned(), 1.0);
        t.updates += 1;
    }
}

/// One writer process, run by the parent test as a child (this test binary again); it does
/// nothing unless the parent set [`WORKER_ENV`].
#[test]
#[ignore = "a writer process of the fault-injection test; run by it, not alone"]
fn chaos_worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(',').collect();
    let [port, ns, id, seed, iterations] = parts.as_slice() else {
        panic!("bad {WORKER_ENV}={spec:?}");
    };
    let id: u64 = id.parse().unwrap();
    let seed: u64 = seed.parse().unwrap();
    let iterations: u64 = iterations.parse().unwrap();

    let registry = Arc::new(Registry::new());
    let config = StoreConfig::new(format!("redis://127.0.0.1:{port}"), *ns)
        .io_timeout(Duration::from_millis(IO_TIMEOUT_MS))
        .connect_timeout(Duration::from_millis(IO_TIMEOUT_MS))
        .retry_backoff(Duration::from_millis(15))
        .process_label(format!("chaos-{id}"));
    let store = SharedStore::new(config).unwrap();
    // Attached first: the summary keeps its sketch from its first observation.
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let by_queue = Arc::new(Family::<Queue, Counter>::new(Counter::new()));
    registry
        .register(Metadata::new("jobs_by_queue"), by_queue.clone())
        .unwrap();
    let metrics = Arc::new(Metrics {
        jobs: registry
            .counter(Metadata::new("jobs").description("Jobs run."))
            .unwrap(),
        by_queue,
        spent: registry.float_counter(Metadata::new("spent")).unwrap(),
        latency: registry
            .histogram(Metadata::new("latency"), Some(LATENCY_BOUNDS.to_vec()))
            .unwrap(),
        sizes: registry.summary(Metadata::new("sizes")).unwrap(),
        depth: registry.gauge(Metadata::new("depth")).unwrap(),
    });

    // A second thread observes while the first transfers, so that transfers also read series
    // caught in the middle of updates.
    let side = {
        let metrics = metrics.clone();
        let mut rng = Rng::new(seed ^ 0x5eed_0000 ^ (id << 40));
        std::thread::spawn(move || {
            let mut t = Totals::default();
            for i in 0..iterations {
                metrics.observe_latency(&mut t, 0.25 * rng.below(32) as f64);
                metrics.count_queue(&mut t, QUEUES[rng.below(3) as usize]);
                if i % 8 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            t
        })
    };

    let started = Instant::now();
    let mut rng = Rng::new(seed ^ (id << 32));
    let mut totals = Totals::default();
    let mut sketch = Sketch::new();
    let (mut transfers, mut transfer_errors) = (0u64, 0u64);
    for i in 0..iterations {
        metrics.count_job(&mut totals, 1 + rng.below(3));
        metrics.count_queue(&mut totals, QUEUES[rng.below(3) as usize]);
        // Multiples of 0.25: every sum is exact in binary floating point.
        metrics.spend(&mut totals, 0.25 * rng.below(8) as f64);
        metrics.observe_latency(&mut totals, 0.25 * rng.below(32) as f64);
        metrics.observe_size(&mut totals, &mut sketch, 0.25 * rng.between(1, 64) as f64);
        metrics.depth.set(rng.below(10) as i64);
        totals.updates += 1;
        if rng.below(4) == 0 {
            // A failure keeps the deltas for a later transfer.
            transfers += 1;
            if store.transfer().is_err() {
                transfer_errors += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
        if (i + 1) % PROGRESS_EVERY == 0 {
            println!("\n{PROGRESS}\t{PROGRESS_EVERY}");
        }
    }
    totals.merge(side.join().unwrap());
    // The gauge is summed over the workers: each ends at a value of its own.
    metrics.depth.set(id as i64 + 1);
    totals.updates += 1;
    totals.add("depth||value".to_owned(), id as f64 + 1.0);
    let loop_ms = started.elapsed().as_millis();

    // Everything recorded must leave, faults or not: transfer until one succeeds with nothing
    // left (no delta, no batch of unknown outcome).
    let drain_started = Instant::now();
    let deadline = drain_started + Duration::from_secs(40);
    let drained = loop {
        transfers += 1;
        match store.transfer() {
            Ok(_) if store.pending_fields() == 0 => break true,
            Ok(_) => {}
            Err(_) => transfer_errors += 1,
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    for (key, n) in sketch.buckets() {
        totals.add(format!("sizes||k:{key}"), n as f64);
    }
    let mut out = std::io::stdout().lock();
    // On a line of their own: the test harness may have left its "test chaos_worker ..." open.
    writeln!(out).unwrap();
    for (key, value) in &totals.fields {
        writeln!(out, "{TOTAL}\t{key}\t{value}").unwrap();
    }
    writeln!(
        out,
        "{STATS}\tid={id} updates={} transfers={transfers} transfer_errors={transfer_errors} \
         loop_ms={loop_ms} drain_ms={} drained={drained}",
        totals.updates,
        drain_started.elapsed().as_millis()
    )
    .unwrap();
    out.flush().unwrap();
}

/// What a worker printed.
struct Report {
    totals: BTreeMap<String, f64>,
    stats: BTreeMap<String, String>,
}

fn parse_report(stdout: &str) -> Report {
    let mut totals = BTreeMap::new();
    let mut stats = BTreeMap::new();
    for line in stdout.lines() {
        let mut parts = line.split('\t');
        match parts.next() {
            Some(TOTAL) => {
                let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                    panic!("bad line {line:?}");
                };
                totals.insert(key.to_owned(), value.parse::<f64>().unwrap());
            }
            Some(STATS) => {
                for pair in parts.next().unwrap_or("").split(' ') {
                    if let Some((k, v)) = pair.split_once('=') {
                        stats.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        !stats.is_empty(),
        "no {STATS} line in the worker's output:\n{stdout}"
    );
    Report { totals, stats }
}

/// The namespace as the reader decoded it, in the workers' keys.
fn decoded_fields(data: &NamespaceData) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, family) in &data.families {
        // A counter's name with or without the `_total` the exposition adds: the writers record
        // them without.
        let name = match family.type_code {
            Some(TypeCode::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        for (labels, series) in &family.series {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let base = format!("{name}|{}|", labels.join(","));
            let mut add =
                |part: String, n: f64| *out.entry(format!("{base}{part}")).or_insert(0.0) += n;
            if let Some(v) = series.value {
                add("value".to_owned(), v);
            }
            if let Some(c) = series.count {
                add("count".to_owned(), c);
            }
            add("sum".to_owned(), series.sum);
            for (bound, n) in &series.buckets {
                add(format!("b:{bound}"), *n);
            }
            for (key, n) in series.sketch.buckets() {
                add(format!("k:{key}"), n as f64);
            }
        }
    }
    out
}

fn spawn_worker(port: u16, ns: &str, id: u64, seed: u64, iterations: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", WORKER_TEST, "--ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env(WORKER_ENV, format!("{port},{ns},{id},{seed},{iterations}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a writer process")
}

#[test]
fn writers_through_a_faulty_relay_and_a_killed_redis_lose_and_double_nothing() {
    let seed: u64 = env_or("MICROPROFILE_CHAOS_SEED", 0x15_5EED);
    let iterations: u64 = env_or("MICROPROFILE_CHAOS_ITERATIONS", 3000);
    let workers: u64 = env_or("MICROPROFILE_CHAOS_WORKERS", 4);
    let restarts: u64 = env_or("MICROPROFILE_CHAOS_RESTARTS", 2);
    println!(
        "chaos: seed={seed} workers={workers} iterations={iterations} restarts={restarts} \
         (override with MICROPROFILE_CHAOS_SEED / _ITERATIONS / _WORKERS / _RESTARTS)"
    );
    let started = Instant::now();
    let mut server = RedisServer::start_persistent();
    let relay = ChaosRelay::start(server.port, ChaosConfig::new(seed, IO_TIMEOUT_MS));
    let ns = "chaos";

    // Each writer's stdout is read as it comes: its progress lines pace the kills.
    let finished = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..workers)
        .map(|id| {
            let mut child = spawn_worker(relay.port, ns, id, seed, iterations);
            let (finished, progress) = (finished.clone(), progress.clone());
            std::thread::spawn(move || {
                let stdout = child.stdout.take().expect("a writer's stdout");
                let mut kept = String::new();
                for line in BufReader::new(stdout).lines() {
                    let line = line.expect("a writer's output");
                    match line
                        .strip_prefix(PROGRESS)
                        .and_then(|n| n.trim().parse().ok())
                    {
                        Some(n) => {
                            progress.fetch_add(n, Ordering::SeqCst);
                        }
                        None => {
                            kept.push_str(&line);
                            kept.push('\n');
                        }
                    }
                }
                let status = child.wait().expect("wait for a writer");
                finished.fetch_add(1, Ordering::SeqCst);
                (status, kept)
            })
        })
        .collect();

    // SIGKILLs spread over the writing, at fixed points of the writers' work (iterations done);
    // Redis stays down a while each time.
    let work = workers * iterations;
    let mut rng = Rng::new(seed ^ 0xdead);
    let (mut kills, mut kills_mid_run) = (0u64, 0u64);
    for k in 1..=restarts {
        let at = work * k / (restarts + 1);
        while progress.load(Ordering::SeqCst) < at && finished.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mid_run = finished.load(Ordering::SeqCst) == 0;
        let killed_at = progress.load(Ordering::SeqCst);
        server.kill();
        let down = rng.between(50, 400);
        std::thread::sleep(Duration::from_millis(down));
        server.restart();
        kills += 1;
        kills_mid_run += u64::from(mid_run);
        println!(
            "chaos: redis killed (SIGKILL) at {} of {work} iterations, down {down} ms, restarted \
             from its append-only file{}",
            killed_at,
            if mid_run { "" } else { " (writers done)" }
        );
    }

    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let (mut updates, mut transfers, mut transfer_errors) = (0u64, 0u64, 0u64);
    let mut undrained = Vec::new();
    for (id, handle) in handles.into_iter().enumerate() {
        let (status, stdout) = handle.join().unwrap();
        assert!(status.success(), "writer {id} failed ({status}):\n{stdout}");
        let report = parse_report(&stdout);
        let stat = |k: &str| -> u64 { report.stats[k].parse().unwrap() };
        updates += stat("updates");
        transfers += stat("transfers");
        transfer_errors += stat("transfer_errors");
        if report.stats["drained"] != "true" {
            undrained.push(id);
        }
        println!(
            "chaos: writer {id}: {}",
            report
                .stats
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        for (key, value) in report.totals {
            *expected.entry(key).or_insert(0.0) += value;
        }
    }
    // Once more after the writers are done: what is read next comes back from the append-only
    // file.
    server.restart();
    kills += 1;

    let data = RedisExposition::new(&server.url(), &[ns])
        .unwrap()
        .read(ns)
        .unwrap();
    let got = decoded_fields(&data);
    // Lost: what the writers recorded and Redis lacks, summed over the fields (increments,
    // observations, and the value of sums); doubled: what Redis holds beyond it.
    let (mut lost, mut doubled) = (0.0f64, 0.0f64);
    // A field that is 0 on one side and absent on the other is the same.
    let mut wrong = Vec::new();
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    for key in &keys {
        let e = expected.get(*key).copied().unwrap_or(0.0);
        let g = got.get(*key).copied().unwrap_or(0.0);
        if e != g {
            if e > g {
                lost += e - g;
            } else {
                doubled += g - e;
            }
            wrong.push(format!("{key}: recorded {e}, in Redis {g}"));
        }
    }
    let faults = &relay.faults;
    println!(
        "chaos figures: seed={seed} workers={workers} updates={updates} transfers={transfers} \
         (failed {transfer_errors}) faults_injected={} (leaving a batch in doubt {}) \
         redis_kills={kills} (while writing {kills_mid_run}) fields_compared={} \
         fields_wrong={} lost={lost} doubled={doubled} elapsed={:.1}s",
        faults.injected(),
        faults.in_doubt(),
        keys.len(),
        wrong.len(),
        started.elapsed().as_secs_f64()
    );
    println!("chaos faults: {}", faults.summary());
    if !wrong.is_empty() {
        println!("chaos: fields that differ:\n  {}", wrong.join("\n  "));
    }

    assert!(
        undrained.is_empty(),
        "writers {undrained:?} could not send everything"
    );
    assert!(
        data.errors.is_empty(),
        "fields the reader skipped: {:?}",
        data.errors
    );
    // The run exercised what it claims to.
    let g = Faults::get;
    for (kind, n) in [
        ("late requests", g(&faults.late_requests)),
        ("drops", g(&faults.drops)),
        ("cuts after a request", g(&faults.cuts_after_request)),
        ("cut replies", g(&faults.cut_replies)),
        ("stale copies delivered", g(&faults.stale_deliveries)),
    ] {
        assert!(n > 0, "no {kind} injected: {}", faults.summary());
    }
    assert!(
        kills_mid_run > 0,
        "Redis was never killed while the writers wrote"
    );
    // Every family the writers recorded is in Redis, with every field.
    for family in [
        "jobs",
        "jobs_by_queue",
        "spent",
        "latency",
        "sizes",
        "depth",
    ] {
        assert!(
            got.keys().any(|k| k.starts_with(&format!("{family}|"))),
            "no family {family} in {:?}",
            data.families.keys()
        );
    }
    assert!(expected.len() > 20, "too few fields recorded: {expected:?}");
    assert_eq!(lost, 0.0, "lost: {wrong:?}");
    assert_eq!(doubled, 0.0, "doubled: {wrong:?}");
    assert!(wrong.is_empty(), "{wrong:?}");
}
