//! The shared store against a real `redis-server`: several processes adding up exactly, label
//! order, a kill and restart in the middle of a run, an unknown transaction outcome, the bound on
//! pending fields, merged quantiles, and promtool-clean exposition.
#![cfg(feature = "redis")]

mod redis_support;

use std::process::Command;
use std::time::{Duration, Instant};

use microprofile::redis::{
    GaugeMode, NamespaceData, RedisExposition, SharedStore, StoreConfig, StoreError, TransferMode,
};
use microprofile::{Format, Scope, Selection};
use redis_support::{promtool_check, RedisServer};

const WORKER_ENV: &str = "MICROPROFILE_TEST_REDIS_WORKER";

fn value(server: &RedisServer, ns: &str, field: &str) -> f64 {
    server
        .hget(ns, field)
        .unwrap_or_else(|| panic!("field {field:?} missing in {ns}: {:?}", server.hgetall(ns)))
        .parse()
        .unwrap_or_else(|_| panic!("field {field:?} is not a number"))
}

/// Run as a child process by `several_processes_add_up_exactly` (does nothing otherwise).
#[test]
fn worker_entry() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let mut parts = spec.split(',');
    let url = parts.next().unwrap().to_owned();
    let ns = parts.next().unwrap().to_owned();
    let id: usize = parts.next().unwrap().parse().unwrap();
    let updates: u64 = parts.next().unwrap().parse().unwrap();
    let eager = parts.next() == Some("eager");
    let mode = if eager {
        TransferMode::Eager
    } else {
        TransferMode::Batched
    };
    let store = SharedStore::new(StoreConfig::new(url, ns).mode(mode)).unwrap();
    let hits = store.counter("hits", &[("b", "2"), ("a", "1")]).unwrap();
    let hits_reordered = store.counter("hits", &[("a", "1"), ("b", "2")]).unwrap();
    let bytes = store.float_counter("bytes", &[]).unwrap();
    let in_flight = store.gauge("in_flight", &[], GaugeMode::Sum).unwrap();
    let mine = store
        .gauge("worker_id", &[], GaugeMode::PerProcess)
        .unwrap();
    let latency = store
        .histogram("latency", &[("path", "/x:y")], Some(&[1.0, 10.0]))
        .unwrap();
    let size = store.summary("size", &[]).unwrap();
    mine.set(id as f64);
    in_flight.add(1.0);
    for i in 0..updates {
        if i % 2 == 0 {
            hits.inc();
        } else {
            hits_reordered.inc();
        }
        bytes.inc_by(0.5);
        latency.observe((i % 20) as f64);
        size.observe((i % 100 + 1) as f64);
        if !eager && i % 1000 == 999 {
            store.transfer().unwrap();
        }
    }
    in_flight.add(-1.0);
    in_flight.add(2.0);
    // Final transfer (eager mode too, to be sure everything left before exit).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.transfer() {
            Ok(_) if store.pending_fields() == 0 => break,
            _ if Instant::now() > deadline => panic!("could not transfer"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn spawn_workers(server: &RedisServer, ns: &str, n: usize, updates: u64, mode: &str) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..n)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "worker_entry", "--nocapture", "--test-threads=1"])
                .env(
                    WORKER_ENV,
                    format!("{},{ns},{id},{updates},{mode}", server.url()),
                )
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "worker failed: {status}");
    }
}

fn check_worker_totals(server: &RedisServer, ns: &str, n: usize, updates: u64) {
    let total = n as u64 * updates;
    assert_eq!(
        value(server, ns, "hits_total::a=\"1\",b=\"2\""),
        total as f64,
        "counter"
    );
    // Label order did not split the series: exactly one `hits` value field.
    let fields = server.hgetall(ns);
    assert_eq!(
        fields
            .iter()
            .filter(|(f, _)| f.starts_with("hits_total::"))
            .count(),
        1,
        "{fields:?}"
    );
    assert_eq!(value(server, ns, "bytes_total::"), total as f64 * 0.5);
    assert_eq!(value(server, ns, "in_flight::"), 2.0 * n as f64);
    assert_eq!(value(server, ns, "latency:c:path=\"/x%3Ay\""), total as f64);
    let le1 = value(server, ns, "latency:b:le=\"1.0\",path=\"/x%3Ay\"");
    let le10 = value(server, ns, "latency:b:le=\"10.0\",path=\"/x%3Ay\"");
    let inf = value(server, ns, "latency:b:le=\"+Inf\",path=\"/x%3Ay\"");
    // Cumulative, as the design document and Prometheus define buckets.
    assert_eq!(inf, total as f64);
    assert!(le1 <= le10 && le10 <= inf, "{le1} {le10} {inf}");
    assert_eq!(le1, (total / 20 * 2) as f64);
    assert_eq!(value(server, ns, "size:c:"), total as f64);
    let per_process = fields
        .iter()
        .filter(|(f, _)| f.starts_with("worker_id::mp_process="))
        .count();
    assert_eq!(per_process, n);
    assert_eq!(server.hget(ns, "hits_total:t:").as_deref(), Some("c"));
    assert_eq!(server.hget(ns, "latency:t:").as_deref(), Some("h"));
    assert_eq!(server.hget(ns, "size:t:").as_deref(), Some("s"));
    assert_eq!(server.hget(ns, "in_flight:t:").as_deref(), Some("g"));
}

#[test]
fn several_processes_add_up_exactly() {
    let server = RedisServer::start();
    spawn_workers(&server, "batched", 4, 5_000, "batched");
    check_worker_totals(&server, "batched", 4, 5_000);
    spawn_workers(&server, "eager", 3, 3_000, "eager");
    check_worker_totals(&server, "eager", 3, 3_000);
    // The exposition of the namespace sums them too, and promtool accepts it.
    let exposition = RedisExposition::new(&server.url(), &["batched"])
        .unwrap()
        .with_scope("batched", Scope::Application);
    let text = exposition
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    assert!(
        text.contains("hits_total{a=\"1\",b=\"2\",mp_scope=\"application\"} 20000"),
        "{text}"
    );
    assert!(text.contains("latency_count{path=\"/x:y\",mp_scope=\"application\"} 20000"));
    promtool_check(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}

#[test]
fn kill_and_restart_loses_nothing() {
    let mut server = RedisServer::start_persistent();
    let config = StoreConfig::new(server.url(), "kill")
        .connect_timeout(Duration::from_millis(100))
        .io_timeout(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(50));
    let store = SharedStore::new(config).unwrap();
    let counter = store.counter("jobs", &[("queue", "q:1")]).unwrap();
    let sum = store.float_counter("seconds", &[]).unwrap();
    let histogram = store.histogram("h", &[], Some(&[5.0])).unwrap();
    let mut expected = 0u64;
    let mut failures = 0;
    let mut slowest = Duration::ZERO;
    for round in 0..300 {
        for _ in 0..10 {
            counter.inc();
            sum.inc_by(0.25);
            histogram.observe((expected % 10) as f64);
            expected += 1;
        }
        if round == 100 {
            server.kill();
        }
        if round == 200 {
            server.restart();
        }
        let start = Instant::now();
        if store.transfer().is_err() {
            failures += 1;
        }
        slowest = slowest.max(start.elapsed());
    }
    assert!(
        failures >= 50,
        "Redis was down for 100 rounds, {failures} failures"
    );
    // Never blocked beyond connect + I/O timeouts (plus slack for a loaded machine).
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let result = store.transfer();
        if result.is_ok() && store.pending_fields() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "could not send the kept deltas: {result:?}, {} pending",
            store.pending_fields()
        );
        std::thread::sleep(Duration::from_millis(60));
    }
    assert_eq!(
        value(&server, "kill", "jobs_total::queue=\"q%3A1\""),
        expected as f64
    );
    assert_eq!(
        value(&server, "kill", "seconds_total::"),
        expected as f64 * 0.25
    );
    assert_eq!(value(&server, "kill", "h:c:"), expected as f64);
    let low = value(&server, "kill", "h:b:le=\"5.0\"");
    let high = value(&server, "kill", "h:b:le=\"+Inf\"");
    assert_eq!(high, expected as f64);
    assert!(low <= high, "{low} {high}");
}

/// Stalls the Redis at `port` for `seconds` (`DEBUG SLEEP`) from a thread of its own.
fn stall(port: u16, seconds: &'static str) -> std::thread::JoinHandle<()> {
    let sleeper = std::thread::spawn(move || {
        let _ = redis_support::command_on(port, &["DEBUG", "SLEEP", seconds]);
    });
    std::thread::sleep(Duration::from_millis(100));
    sleeper
}

fn transfer_until_sent(store: &SharedStore) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.transfer().is_err() || store.pending_fields() > 0 {
        assert!(Instant::now() < deadline, "could not send the kept deltas");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `DEBUG SLEEP` stalls Redis while the transaction is in its socket: the client gives up after
/// its I/O timeout and drops the connection; Redis then applies the transaction anyway. The next
/// transfer must find the acknowledgement and not send the batch a second time.
#[test]
fn transaction_of_unknown_outcome_counts_once() {
    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let config = StoreConfig::new(server.url(), "doubt")
        .io_timeout(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(10));
    let store = SharedStore::new(config).unwrap();
    let counter = store.counter("c", &[]).unwrap();
    counter.inc_by(5);
    store.transfer().unwrap();
    counter.inc_by(7);
    let sleeper = stall(server.port, "1.5");
    let start = Instant::now();
    assert!(matches!(
        store.transfer(),
        Err(StoreError::Unavailable { .. })
    ));
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    sleeper.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // Applied although the client never heard back.
    assert_eq!(value(&server, "doubt", "c_total::"), 12.0);
    counter.inc_by(1);
    transfer_until_sent(&store);
    assert_eq!(value(&server, "doubt", "c_total::"), 13.0);
}

/// A stalled Redis holds a transfer of 2 000 fields for one I/O timeout, not one per reply; and
/// whatever Redis made of the broken transaction, every delta counts exactly once.
#[test]
fn stalled_redis_holds_a_large_transfer_for_one_timeout() {
    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let config = StoreConfig::new(server.url(), "stall")
        .io_timeout(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(10));
    let store = SharedStore::new(config).unwrap();
    let many: Vec<_> = (0..2_000)
        .map(|i| store.counter("many", &[("i", &i.to_string())]).unwrap())
        .collect();
    for c in &many {
        c.inc();
    }
    store.transfer().unwrap();
    for c in &many {
        c.inc();
    }
    let sleeper = stall(server.port, "1.5");
    let start = Instant::now();
    assert!(store.transfer().is_err());
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    sleeper.join().unwrap();
    for c in &many {
        c.inc();
    }
    transfer_until_sent(&store);
    for i in [0, 999, 1_999] {
        assert_eq!(
            value(&server, "stall", &format!("many_total::i=\"{i}\"")),
            3.0
        );
    }
}

#[test]
fn pending_fields_are_bounded_and_drops_counted() {
    let server = RedisServer::start();
    let config = StoreConfig::new(server.url(), "bound")
        .connect_timeout(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(1))
        .max_pending_fields(10);
    let store = SharedStore::new(config).unwrap();
    let dropped_before = microprofile::redis::DROPPED_UPDATES.get();
    let counters: Vec<_> = (0..20)
        .map(|i| store.counter("c", &[("i", &i.to_string())]).unwrap())
        .collect();
    store.transfer().unwrap();
    drop(server);
    for c in &counters {
        c.inc();
    }
    assert!(store.transfer().is_err());
    assert!(store.pending_fields() <= 10, "{}", store.pending_fields());
    assert!(microprofile::redis::DROPPED_UPDATES.get() >= dropped_before + 10);
    let text = microprofile::global()
        .encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Vendor));
    assert!(text.contains("microprofile_redis_dropped_updates_total{mp_scope=\"vendor\"}"));
}

#[test]
fn merged_quantiles_are_within_the_sketch_error() {
    let server = RedisServer::start();
    let mut all: Vec<f64> = Vec::new();
    // Three processes' worth of stores with very different distributions.
    let stores: Vec<SharedStore> = (0..3)
        .map(|_| SharedStore::new(StoreConfig::new(server.url(), "q")).unwrap())
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for (i, store) in stores.iter().enumerate() {
        let summary = store.summary("latency", &[("svc", "api")]).unwrap();
        for _ in 0..20_000 {
            let v = match i {
                0 => 1.0 + next() * 999.0,
                1 => -(next().max(1e-12).ln()) * 50.0,
                _ => 5_000.0 + next() * 100.0,
            };
            summary.observe(v);
            all.push(v);
        }
        store.transfer().unwrap();
    }
    all.sort_by(f64::total_cmp);
    let fields = server.hgetall("q");
    let data = NamespaceData::decode(fields);
    assert!(data.errors.is_empty(), "{:?}", data.errors);
    let series = data.families["latency"].series.values().next().unwrap();
    assert_eq!(series.sketch.count(), all.len() as u64);
    for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999] {
        let truth = all[(q * (all.len() - 1) as f64).floor() as usize];
        let estimate = series.sketch.quantile(q);
        let error = ((estimate - truth) / truth).abs();
        assert!(
            error <= microprofile::redis::sketch::RELATIVE_ACCURACY * (1.0 + 1e-9),
            "q={q}: {estimate} vs {truth} ({error})"
        );
    }
    let text = RedisExposition::new(&server.url(), &["q"])
        .unwrap()
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    assert!(
        text.contains("latency{svc=\"api\",mp_scope=\"q\",quantile=\"0.5\"}"),
        "{text}"
    );
    promtool_check(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}

#[test]
fn exposition_of_every_type_is_promtool_clean() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "app-1")).unwrap();
    store
        .counter("requests", &[("path", "/a:b,c\"d\\e\nf")])
        .unwrap()
        .inc_by(3);
    store.describe("requests", "Requests served, by \"path\".\nSecond line.");
    store.float_counter("io.read", &[]).unwrap().inc_by(1.5);
    store
        .gauge("temperature", &[], GaugeMode::LastWriterWins)
        .unwrap()
        .set(-3.5);
    store
        .gauge("workers", &[], GaugeMode::PerProcess)
        .unwrap()
        .set(1.0);
    let h = store
        .histogram("latency_seconds", &[("m", "GET")], None)
        .unwrap();
    h.observe(0.003);
    h.observe(42.0);
    store.summary("size_bytes", &[]).unwrap().observe(1024.0);
    store.summary("empty", &[]).unwrap();
    store.transfer().unwrap();
    // A second namespace with a family of the same name and another description.
    let other = SharedStore::new(StoreConfig::new(server.url(), "other")).unwrap();
    other.counter("requests", &[("path", "/")]).unwrap().inc();
    other.describe("requests", "Something else.");
    other.transfer().unwrap();
    // Garbage written by someone else is skipped, not fatal.
    server
        .command(&["HSET", "app-1", "broken-field", "1"])
        .unwrap();
    server
        .command(&["HSET", "app-1", "x::", "not a number"])
        .unwrap();

    let exposition = RedisExposition::new(&server.url(), &["app-1", "other"]).unwrap();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = exposition.render(format, Selection::All).unwrap();
        assert!(text.contains("mp_scope=\"app_1\""), "{text}");
        assert!(text.contains("mp_scope=\"other\""), "{text}");
        assert!(
            text.contains("temperature{mp_scope=\"app_1\"} -3.5"),
            "{text}"
        );
        if format == Format::Prometheus {
            assert!(
                text.contains("requests_total{path=\"/a:b,c\\\"d\\\\e\\nf\",mp_scope=\"app_1\"} 3"),
                "{text}"
            );
            promtool_check(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
        } else {
            assert!(text.ends_with("# EOF\n"));
        }
    }
    let one = exposition
        .render(
            Format::Prometheus,
            Selection::Scope(&Scope::new("other").unwrap()),
        )
        .unwrap();
    assert!(!one.contains("app_1"), "{one}");
}

#[test]
fn unreachable_exposition_is_an_error_not_a_hang() {
    let port = redis_support::free_port();
    let exposition = RedisExposition::new(&format!("redis://127.0.0.1:{port}"), &["x"])
        .unwrap()
        .timeout(Duration::from_millis(200));
    let start = Instant::now();
    assert!(exposition
        .render(Format::Prometheus, Selection::All)
        .is_err());
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn gauge_modes_across_processes() {
    let server = RedisServer::start();
    let a = SharedStore::new(StoreConfig::new(server.url(), "g").process_label("a")).unwrap();
    let b = SharedStore::new(StoreConfig::new(server.url(), "g").process_label("b")).unwrap();
    // Sum: each process contributes its own value.
    let (sa, sb) = (
        a.gauge("busy", &[], GaugeMode::Sum).unwrap(),
        b.gauge("busy", &[], GaugeMode::Sum).unwrap(),
    );
    sa.set(3.0);
    sb.set(4.0);
    a.transfer().unwrap();
    b.transfer().unwrap();
    assert_eq!(value(&server, "g", "busy::"), 7.0);
    sa.set(1.0);
    sb.add(-1.0);
    a.transfer().unwrap();
    b.transfer().unwrap();
    assert_eq!(value(&server, "g", "busy::"), 4.0);
    // Last writer wins.
    let (la, lb) = (
        a.gauge("version", &[], GaugeMode::LastWriterWins).unwrap(),
        b.gauge("version", &[], GaugeMode::LastWriterWins).unwrap(),
    );
    la.set(3.0);
    a.transfer().unwrap();
    lb.set(5.0);
    b.transfer().unwrap();
    assert_eq!(value(&server, "g", "version::"), 5.0);
    // Per process: one series each.
    a.gauge("heap", &[], GaugeMode::PerProcess)
        .unwrap()
        .set(10.0);
    b.gauge("heap", &[], GaugeMode::PerProcess)
        .unwrap()
        .set(20.0);
    a.transfer().unwrap();
    b.transfer().unwrap();
    assert_eq!(value(&server, "g", "heap::mp_process=\"a\""), 10.0);
    assert_eq!(value(&server, "g", "heap::mp_process=\"b\""), 20.0);
    // An unchanged gauge is not sent again.
    let report = a.transfer().unwrap();
    assert_eq!(report.fields, 0);
}

#[test]
fn periodic_transfer_sends_and_flushes_on_stop() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "p")).unwrap();
    let counter = store.counter("ticks", &[]).unwrap();
    let periodic = store
        .spawn_periodic_transfer(Duration::from_millis(50))
        .unwrap();
    counter.inc_by(2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.hget("p", "ticks_total::").as_deref() != Some("2") {
        assert!(Instant::now() < deadline, "periodic transfer did not send");
        std::thread::sleep(Duration::from_millis(20));
    }
    counter.inc_by(3);
    periodic.stop();
    assert_eq!(value(&server, "p", "ticks_total::"), 5.0);
}

#[test]
fn description_and_type_are_written_once_per_connection() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "meta")).unwrap();
    let c = store.counter("c", &[]).unwrap();
    store.describe("c", "Things.");
    c.inc();
    let first = store.transfer().unwrap();
    assert_eq!(first.fields, 3, "type, description, value");
    c.inc();
    let second = store.transfer().unwrap();
    assert_eq!(second.fields, 1, "only the value");
    assert_eq!(
        server.hget("meta", "c_total:d:").as_deref(),
        Some("Things.")
    );
    assert_eq!(server.hget("meta", "c_total:t:").as_deref(), Some("c"));
}

// ---- Transfers that never block the caller (transfer_in_background, transfer_async) ----

const ISOLATED_ENV: &str = "MICROPROFILE_TEST_REDIS_ISOLATED";
const BACKGROUND_THREAD: &str = "mp-redis-bg";

/// A Redis that accepts and never answers: `transfer()` blocks for its timeouts, the
/// background trigger returns at once every time; the failures are counted and the deltas
/// kept; the thread ends when the store and its handles are dropped. Run alone in a child
/// process, so that the counter and the thread count see no other test.
#[test]
fn background_transfer_never_blocks_on_a_silent_redis() {
    redis_support::run_isolated("background_transfer_never_blocks_isolated", ISOLATED_ENV);
}

#[test]
fn background_transfer_never_blocks_isolated() {
    if std::env::var_os(ISOLATED_ENV).is_none() {
        return;
    }
    let hole = redis_support::BlackHole::start();
    let store = SharedStore::new(
        StoreConfig::new(format!("redis://127.0.0.1:{}", hole.port), "silent")
            .connect_timeout(Duration::from_secs(2))
            .io_timeout(Duration::from_secs(2))
            .retry_backoff(Duration::from_millis(10)),
    )
    .unwrap();
    let counter = store.counter("c", &[]).unwrap();
    let errors_before = microprofile::redis::TRANSFER_ERRORS.get();
    // The blocking form waits for the I/O timeout.
    counter.inc();
    let start = Instant::now();
    assert!(store.transfer().is_err());
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The trigger returns at once, also while its thread is stuck in a transfer (the bound
    // leaves room for a loaded machine; a blocking call takes the 2 s timeout).
    let mut slowest = Duration::ZERO;
    for _ in 0..200 {
        counter.inc();
        let start = Instant::now();
        store.transfer_in_background().unwrap();
        slowest = slowest.max(start.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(slowest < Duration::from_millis(200), "{slowest:?}");
    assert_eq!(redis_support::threads_named(BACKGROUND_THREAD), 1);
    // The future form returns at once too, and resolves to the failure.
    let start = Instant::now();
    let future = store.transfer_async();
    assert!(start.elapsed() < Duration::from_millis(200));
    assert!(matches!(
        redis_support::block_on(future),
        Err(StoreError::Unavailable { .. })
    ));
    // Failures counted in the vendor metric; the deltas kept.
    assert!(microprofile::redis::TRANSFER_ERRORS.get() >= errors_before + 2);
    assert!(store.pending_fields() > 0);
    // No thread left once the store and its handles are gone (after the transfer under way
    // gives up on its timeout).
    drop(counter);
    drop(store);
    redis_support::assert_threads_end(BACKGROUND_THREAD);
}

/// Redis down: the trigger returns at once and the failure is counted; once Redis is back the
/// background thread sends the kept deltas by itself, each counted once.
#[test]
fn background_transfer_retries_until_redis_is_back() {
    let mut server = RedisServer::start_persistent();
    let store = SharedStore::new(
        StoreConfig::new(server.url(), "bg_retry")
            .connect_timeout(Duration::from_millis(100))
            .retry_backoff(Duration::from_millis(50)),
    )
    .unwrap();
    let counter = store.counter("c", &[]).unwrap();
    counter.inc_by(2);
    redis_support::block_on(store.transfer_async()).unwrap();
    assert_eq!(value(&server, "bg_retry", "c_total::"), 2.0);
    server.kill();
    let errors_before = microprofile::redis::TRANSFER_ERRORS.get();
    counter.inc_by(3);
    let start = Instant::now();
    store.transfer_in_background().unwrap();
    assert!(start.elapsed() < Duration::from_millis(200));
    let deadline = Instant::now() + Duration::from_secs(5);
    while microprofile::redis::TRANSFER_ERRORS.get() == errors_before || store.pending_fields() == 0
    {
        assert!(Instant::now() < deadline, "the failure was not counted");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.restart();
    // No further call: the thread retries after the backoff.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.hget("bg_retry", "c_total::").as_deref() != Some("5") {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            server.hgetall("bg_retry")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(store.pending_fields(), 0);
}

/// A stalled Redis: 100 requests made during one slow transfer coalesce into at most one more
/// transaction, every call returns at once, and every delta arrives exactly once.
#[test]
fn background_requests_coalesce_while_a_transfer_runs() {
    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let store = SharedStore::new(
        StoreConfig::new(server.url(), "bg_coalesce").io_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let counter = store.counter("c", &[]).unwrap();
    counter.inc();
    store.transfer().unwrap();
    let execs_before = redis_support::transaction_calls(server.port);
    let sleeper = stall(server.port, "1");
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        counter.inc();
        let start = Instant::now();
        store.transfer_in_background().unwrap();
        slowest = slowest.max(start.elapsed());
    }
    assert!(slowest < Duration::from_millis(200), "{slowest:?}");
    let future = store.transfer_async();
    // Can be awaited in a spawned task of a multi-threaded runtime.
    fn assert_send<T: Send + 'static>(_: &T) {}
    assert_send(&future);
    let outcome = redis_support::block_on(future);
    sleeper.join().unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(value(&server, "bg_coalesce", "c_total::"), 101.0);
    let transactions = redis_support::transaction_calls(server.port) - execs_before;
    assert!(
        (1..=3).contains(&transactions),
        "{transactions} transactions for 101 requests"
    );
}

/// A transfer asked for and then orphaned (every handle dropped at once) still happens, and
/// the thread ends after it. Alone in a child process for the thread count.
#[test]
fn background_transfer_outlives_the_store() {
    redis_support::run_isolated(
        "background_transfer_outlives_the_store_isolated",
        ISOLATED_ENV,
    );
}

#[test]
fn background_transfer_outlives_the_store_isolated() {
    if std::env::var_os(ISOLATED_ENV).is_none() {
        return;
    }
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "bg_orphan")).unwrap();
    let counter = store.counter("c", &[]).unwrap();
    counter.inc_by(7);
    store.transfer_in_background().unwrap();
    drop(counter);
    drop(store);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.hget("bg_orphan", "c_total::").as_deref() != Some("7") {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            server.hgetall("bg_orphan")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // (Checked after the data arrived: by then the thread has run, and named itself.)
    redis_support::assert_threads_end(BACKGROUND_THREAD);
}

/// Drains racing with observations lose nothing from `_sum`: an observation whose sum was
/// drained before its bucket and count has its value sent with that drain (it used to be
/// dropped), so at the end sum, count and buckets all equal what was observed. Redis is down
/// while the observations run, so every `transfer` in the race is a drain into the pending
/// deltas without a round trip (hundreds of thousands of them); they are sent once it is back.
#[test]
fn drains_racing_with_observations_lose_nothing_from_the_sum() {
    // Three rounds: the losing interleaving is rare, each round gives it 2 M chances.
    for round in 0..3 {
        drain_race_round(&format!("race{round}"));
    }
}

fn drain_race_round(ns: &str) {
    let mut server = RedisServer::start();
    let config = StoreConfig::new(server.url(), ns)
        .retry_backoff(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(200));
    let store = SharedStore::new(config).unwrap();
    let h = store.histogram("h", &[], Some(&[0.5, 2.0])).unwrap();
    server.kill();
    const N: u64 = 2_000_000;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drainer = {
        let store = store.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut drains = 0u64;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let _ = store.transfer();
                drains += 1;
            }
            drains
        })
    };
    for _ in 0..N {
        h.observe(1.0);
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let drains = drainer.join().unwrap();
    assert!(drains > 1000, "only {drains} drains raced");
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.transfer().is_err() || store.pending_fields() > 0 {
        assert!(Instant::now() < deadline, "could not transfer");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(value(&server, ns, "h:c:"), N as f64);
    assert_eq!(value(&server, ns, "h:b:le=\"2.0\""), N as f64);
    assert_eq!(
        value(&server, ns, "h:s:"),
        N as f64,
        "observations lost from _sum"
    );
}

/// An integer and a float counter of one name and labels would share a field (and Redis refuses
/// `HINCRBY` on a field holding a fraction): the second is refused, other labels are fine.
#[test]
fn an_integer_and_a_float_counter_never_share_a_field() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "kinds")).unwrap();
    let ints = store.counter("bytes", &[("dir", "in")]).unwrap();
    assert_eq!(
        store.float_counter("bytes", &[("dir", "in")]).unwrap_err(),
        StoreError::CounterKindConflict {
            name: "bytes".to_owned()
        }
    );
    let floats = store.float_counter("bytes", &[("dir", "out")]).unwrap();
    assert!(matches!(
        store.counter("bytes", &[("dir", "out")]),
        Err(StoreError::CounterKindConflict { .. })
    ));
    ints.inc_by(2);
    floats.inc_by(0.5);
    store.transfer().unwrap();
    ints.inc();
    store.transfer().unwrap();
    assert_eq!(value(&server, "kinds", "bytes_total::dir=\"in\""), 3.0);
    assert_eq!(value(&server, "kinds", "bytes_total::dir=\"out\""), 0.5);
}

/// A `GaugeMode::Sum` gauge whose delta the full outbox dropped sends it again with the next
/// transfer: its contribution advances only with a delta the outbox took, so the sum keeps no
/// offset. Both for the store's handles and for an attached registry's gauges.
#[test]
fn a_dropped_sum_delta_is_sent_again_so_the_sum_never_drifts() {
    let server = RedisServer::start();
    let config = StoreConfig::new(server.url(), "drift").max_pending_fields(1);
    let store = SharedStore::new(config).unwrap();
    let a = store.gauge("a", &[], GaugeMode::Sum).unwrap();
    let b = store.gauge("b", &[], GaugeMode::Sum).unwrap();
    let registry = std::sync::Arc::new(microprofile::Registry::new());
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let c = registry.gauge(microprofile::Metadata::new("c")).unwrap();
    a.set(5.0);
    b.set(7.0);
    c.set(9);
    // Room for one field per transfer: the other deltas are dropped, and sent later.
    for _ in 0..6 {
        let _ = store.transfer();
    }
    assert_eq!(value(&server, "drift", "a::"), 5.0);
    assert_eq!(value(&server, "drift", "b::"), 7.0);
    assert_eq!(value(&server, "drift", "c::"), 9.0);
    a.set(1.0);
    c.set(2);
    for _ in 0..6 {
        let _ = store.transfer();
    }
    assert_eq!(value(&server, "drift", "a::"), 1.0);
    assert_eq!(value(&server, "drift", "c::"), 2.0);
}

/// A TCP relay in front of Redis that holds the first batch (`EVAL`, or `MULTI` of a plain
/// transaction) of its first connection for
/// `delay`, then forwards it anyway: a transaction whose client gave up on it, still in flight.
fn delaying_relay(redis_port: u16, delay: Duration) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (index, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { return };
            let mut upstream = TcpStream::connect(("127.0.0.1", redis_port)).unwrap();
            let mut client_reader = client.try_clone().unwrap();
            let mut upstream_reader = upstream.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let mut held = index > 0;
                while let Ok(n) = client_reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    let batch = chunk.windows(4).any(|w| w == b"EVAL" || w == b"MULT");
                    if !held && batch {
                        held = true;
                        std::thread::sleep(delay);
                    }
                    if upstream.write_all(chunk).is_err() {
                        break;
                    }
                }
                // Keeps the upstream connection open a little, so Redis runs what it was sent.
                std::thread::sleep(Duration::from_millis(200));
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = upstream_reader.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// The in-doubt transaction of the issue: the client gives up on a batch whose bytes are still
/// on their way (a relay holds them past the I/O timeout), reconnects and sends the batch again;
/// then the old bytes arrive and Redis runs them too. The batch script applies a sequence number
/// once, so the counter ends at what was counted (with MULTI/EXEC it was counted twice).
#[test]
fn a_batch_still_in_flight_on_the_old_connection_is_not_applied_twice() {
    let server = RedisServer::start();
    let relay = delaying_relay(server.port, Duration::from_millis(1500));
    let config = StoreConfig::new(format!("redis://127.0.0.1:{relay}"), "doubt")
        .io_timeout(Duration::from_millis(300))
        .retry_backoff(Duration::from_millis(10));
    let store = SharedStore::new(config).unwrap();
    let c = store.counter("c", &[]).unwrap();
    c.inc_by(7);
    // The first batch is held by the relay: its outcome is unknown to the store.
    assert!(store.transfer().is_err());
    c.inc_by(5);
    std::thread::sleep(Duration::from_millis(20));
    // Sent again, with its own sequence number, then the newer deltas.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.transfer().is_err() || store.pending_fields() > 0 {
        assert!(Instant::now() < deadline, "could not transfer");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(value(&server, "doubt", "c_total::"), 12.0);
    // The held bytes reach Redis now, and run: the script skips the batch it already applied.
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(value(&server, "doubt", "c_total::"), 12.0);
}
