//! The `microprofile-exporter` binary against a real `redis-server`: routes, negotiation and
//! promtool-clean output, as the built-in listener's; and a namespace served by the built-in
//! listener of an application.

mod redis_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microprofile::redis::{GaugeMode, RedisExposition, SharedStore, StoreConfig};
use microprofile::{Format, Registry, Scope, Selection, Server};
use redis_support::{free_port, promtool_check, RedisServer};

struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

fn request(port: u16, method: &str, path: &str, accept: Option<&str>) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

fn get(port: u16, path: &str) -> Response {
    request(port, "GET", path, None).expect("no answer")
}

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_exporter(redis: &RedisServer, namespaces: &str) -> (Exporter, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_microprofile-exporter"))
        .args([
            "--redis",
            &redis.url(),
            "--namespace",
            namespaces,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--max-age",
            "50ms",
            "--refresh",
            "100ms",
        ])
        .env_remove("MP_METRICS_TAGS")
        .env_remove("MP_METRICS_APPNAME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not start microprofile-exporter");
    let exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if request(port, "GET", "/metrics", None).is_some() {
            return (exporter, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("microprofile-exporter did not answer on port {port}");
}

fn write_sample(redis: &RedisServer, ns: &str, workers: u64) {
    for w in 0..workers {
        let store =
            SharedStore::new(StoreConfig::new(redis.url(), ns).process_label(format!("w{w}")))
                .unwrap();
        store
            .counter("orders", &[("region", "eu")])
            .unwrap()
            .inc_by(10);
        store.describe("orders", "Orders placed.");
        store
            .gauge("workers", &[], GaugeMode::PerProcess)
            .unwrap()
            .set(1.0);
        let h = store
            .histogram("latency_seconds", &[("path", "/a,b")], Some(&[0.1, 1.0]))
            .unwrap();
        h.observe(0.05);
        h.observe(0.5);
        store
            .summary("payload_bytes", &[])
            .unwrap()
            .observe(100.0 * (w + 1) as f64);
        store.transfer().unwrap();
    }
}

#[test]
fn exporter_serves_namespaces_like_the_builtin_listener() {
    let redis = RedisServer::start();
    write_sample(&redis, "shop", 3);
    write_sample(&redis, "billing", 1);
    let (_exporter, port) = start_exporter(&redis, "shop,billing");
    std::thread::sleep(Duration::from_millis(300));

    let all = get(port, "/metrics");
    assert_eq!(all.status, 200);
    assert_eq!(
        all.header("content-type").as_deref(),
        Some(Format::Prometheus.content_type())
    );
    let body = &all.body;
    assert!(
        body.contains("# HELP orders_total Orders placed."),
        "{body}"
    );
    assert!(
        body.contains("orders_total{region=\"eu\",mp_scope=\"shop\"} 30"),
        "{body}"
    );
    assert!(body.contains("orders_total{region=\"eu\",mp_scope=\"billing\"} 10"));
    assert!(body.contains("latency_seconds_count{path=\"/a,b\",mp_scope=\"shop\"} 6"));
    assert!(body.contains("latency_seconds_bucket{path=\"/a,b\",mp_scope=\"shop\",le=\"0.1\"} 3"));
    assert!(body.contains("workers{mp_process=\"w2\",mp_scope=\"shop\"} 1"));
    assert!(body.contains("payload_bytes_count{mp_scope=\"shop\"} 3"));
    // The exporter's own vendor metrics are there too.
    assert!(body.contains("microprofile_redis_read_errors_total{mp_scope=\"vendor\"}"));
    promtool_check(body).unwrap_or_else(|e| panic!("promtool: {e}\n{body}"));

    // One namespace = one scope.
    let shop = get(port, "/metrics/shop");
    assert_eq!(shop.status, 200);
    assert!(!shop.body.contains("mp_scope=\"billing\""));
    assert!(shop.body.contains("mp_scope=\"shop\""));
    let one = get(port, "/metrics/shop/orders");
    assert!(one
        .body
        .contains("orders_total{region=\"eu\",mp_scope=\"shop\"} 30"));
    assert!(!one.body.contains("latency"));

    // Negotiation and errors as the built-in listener.
    let om = request(
        port,
        "GET",
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .unwrap();
    assert_eq!(
        om.header("content-type").as_deref(),
        Some(Format::OpenMetrics.content_type())
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("# TYPE orders counter"));
    assert_eq!(get(port, "/metrics/nope").status, 404);
    assert_eq!(get(port, "/other").status, 404);
    assert_eq!(request(port, "POST", "/metrics", None).unwrap().status, 405);
    assert_eq!(
        request(port, "GET", "/metrics", Some("application/json"))
            .unwrap()
            .status,
        406
    );

    // New data (and a new family) show in a later scrape.
    let store = SharedStore::new(StoreConfig::new(redis.url(), "shop")).unwrap();
    store
        .counter("orders", &[("region", "eu")])
        .unwrap()
        .inc_by(5);
    store.counter("refunds", &[]).unwrap().inc();
    store.transfer().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let body = get(port, "/metrics/shop").body;
        if body.contains("orders_total{region=\"eu\",mp_scope=\"shop\"} 35")
            && body.contains("refunds_total{mp_scope=\"shop\"} 1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no update seen:\n{body}");
    }
}

#[test]
fn exporter_survives_redis_going_away() {
    let mut redis = RedisServer::start();
    write_sample(&redis, "shop", 1);
    let (_exporter, port) = start_exporter(&redis, "shop");
    std::thread::sleep(Duration::from_millis(300));
    assert!(get(port, "/metrics/shop")
        .body
        .contains("orders_total{region=\"eu\",mp_scope=\"shop\"} 10"));
    redis.kill();
    std::thread::sleep(Duration::from_millis(200));
    // Still answering, with the last values, within the timeouts.
    let start = Instant::now();
    let stale = get(port, "/metrics");
    assert_eq!(stale.status, 200);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(stale
        .body
        .contains("orders_total{region=\"eu\",mp_scope=\"shop\"} 10"));
    let vendor = get(port, "/metrics/vendor").body;
    assert!(
        !vendor.contains("microprofile_redis_read_errors_total{mp_scope=\"vendor\"} 0"),
        "{vendor}"
    );
}

#[test]
fn exporter_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_microprofile-exporter"))
        .args(["--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    let out = Command::new(env!("CARGO_BIN_EXE_microprofile-exporter"))
        .args(["--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let usage = String::from_utf8_lossy(&out.stdout);
    assert!(usage.contains("default 127.0.0.1:9982"), "{usage}");
    assert!(usage.contains("--max-age DURATION"), "{usage}");
    // An unknown unit is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_microprofile-exporter"))
        .args(["--max-age", "1.5h2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a duration"));
}

/// An application serving a namespace through its own built-in listener.
#[test]
fn builtin_listener_serves_a_namespace() {
    let redis = RedisServer::start();
    write_sample(&redis, "jobs", 2);
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry
        .counter(microprofile::Metadata::new("local_only"))
        .unwrap()
        .inc();
    let live = RedisExposition::new(&redis.url(), &["jobs"])
        .unwrap()
        .with_scope("jobs", Scope::Application)
        .attach(registry, Duration::from_millis(50), Duration::from_secs(60));
    assert!(live.series() > 0);
    let server = Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry)
        .start()
        .unwrap();
    let port = server.local_addr().port();
    let body = get(port, "/metrics/application").body;
    assert!(
        body.contains("local_only_total{mp_scope=\"application\"} 1"),
        "{body}"
    );
    assert!(body.contains("orders_total{region=\"eu\",mp_scope=\"application\"} 20"));
    promtool_check(&body).unwrap_or_else(|e| panic!("promtool: {e}\n{body}"));
    // Values are read again at scrape time.
    let store = SharedStore::new(StoreConfig::new(redis.url(), "jobs")).unwrap();
    store
        .counter("orders", &[("region", "eu")])
        .unwrap()
        .inc_by(1);
    store.transfer().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let body = get(port, "/metrics/application").body;
    assert!(
        body.contains("orders_total{region=\"eu\",mp_scope=\"application\"} 21"),
        "{body}"
    );
    // And the same text as a fresh registry built from Redis.
    let fresh = RedisExposition::new(&redis.url(), &["jobs"])
        .unwrap()
        .with_scope("jobs", Scope::Application)
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    for line in fresh.lines().filter(|l| l.starts_with("orders_total")) {
        assert!(body.contains(line), "{line}");
    }
}

/// A raw exchange whose body may be binary (gzip): the head as text, the body as bytes.
fn request_bytes(port: u16, method: &str, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    (head, raw[split + 4..].to_vec())
}

fn head_header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The exporter answers through the built-in listener, so a scrape that accepts gzip (as
/// Prometheus' does) is sent gzipped, and decodes to the uncompressed text.
#[test]
fn exporter_gzips_scrapes() {
    let redis = RedisServer::start();
    write_sample(&redis, "shop", 3);
    let store = SharedStore::new(StoreConfig::new(redis.url(), "shop")).unwrap();
    for i in 0..100 {
        store
            .counter(&format!("items_{i}"), &[("shelf", "top")])
            .unwrap()
            .inc_by(i);
    }
    store.transfer().unwrap();
    let (_exporter, port) = start_exporter(&redis, "shop");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !get(port, "/metrics/shop").body.contains("items_99_total") {
        assert!(Instant::now() < deadline, "the namespace is not served");
        std::thread::sleep(Duration::from_millis(50));
    }
    let accept =
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n";
    let (plain_head, plain) = request_bytes(port, "GET", "/metrics/shop", accept);
    assert_eq!(head_header(&plain_head, "content-encoding"), None);
    let gzip = format!("{accept}Accept-Encoding: gzip\r\n");
    let (head, body) = request_bytes(port, "GET", "/metrics/shop", &gzip);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        head_header(&head, "content-encoding").as_deref(),
        Some("gzip")
    );
    assert_eq!(
        head_header(&head, "vary").as_deref(),
        Some("Accept, Accept-Encoding")
    );
    assert_eq!(
        head_header(&head, "content-length"),
        Some(body.len().to_string())
    );
    assert!(
        body.len() < plain.len() / 3,
        "{} of {}",
        body.len(),
        plain.len()
    );
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    assert!(String::from_utf8(text).unwrap().ends_with("# EOF\n"));
    // HEAD: the GET's headers, no body.
    let (head_only, empty) = request_bytes(port, "HEAD", "/metrics/shop", &gzip);
    assert!(empty.is_empty());
    for name in ["content-encoding", "content-length", "content-type", "vary"] {
        assert_eq!(
            head_header(&head_only, name),
            head_header(&head, name),
            "{name}"
        );
    }
}

/// Fields another writer (or an attacker) may leave in a namespace, each of which the exporter
/// must skip alone: (field, value).
const HOSTILE_FIELDS: &[(&str, &str)] = &[
    // Reserved label names on a counter family's value.
    ("orders_total::le=\"1\"", "5"),
    ("orders_total::quantile=\"0.5\"", "1"),
    ("orders_total::mp_scope=\"x\"", "1"),
    ("orders_total::__name__=\"x\"", "1"),
    // A name no field can carry (the labels part starts at the first `"`).
    ("bad\"name::", "1"),
    // A value that is not a number.
    ("orders_total::region=\"us\"", "lots"),
    // A histogram bucket in a counter family.
    ("orders_total:b:le=\"1\",region=\"eu\"", "1"),
    // An unknown extension.
    ("orders_total:x:region=\"eu\"", "1"),
    // Type fields that conflict: one with labels, one naming no type.
    ("workers:t:x=\"1\"", "h"),
    ("temp:t:", "x"),
    // A value field in a histogram family, a negative count.
    ("latency_seconds::path=\"/a,b\"", "1"),
    ("latency_seconds:c:path=\"/c\"", "-3"),
];

fn hset(redis: &RedisServer, key: &str, fields: &[(&str, &str)]) {
    let mut args = vec!["HSET", key];
    for (f, v) in fields {
        args.push(f);
        args.push(v);
    }
    let reply = redis.command(&args).unwrap();
    assert!(reply.starts_with(':'), "{reply}");
}

fn family_lines<'a>(text: &'a str, scope: &str) -> Vec<&'a str> {
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('#') || l.contains(&format!("mp_scope=\"{scope}\"")))
        .collect();
    lines.sort_unstable();
    lines
}

/// One stray or hostile field never hides anything else: each is skipped alone and counted,
/// and the namespace is served exactly as the same namespace without them.
#[test]
fn hostile_fields_are_skipped_one_by_one_and_counted() {
    let redis = RedisServer::start();
    write_sample(&redis, "clean", 2);
    write_sample(&redis, "shop", 2);
    for ns in ["clean", "shop"] {
        hset(&redis, ns, &[("temp::", "21.5")]);
    }
    hset(&redis, "shop", HOSTILE_FIELDS);

    // Decoded: exactly the hostile fields are skipped, each with its reason.
    let data = microprofile::redis::NamespaceData::decode(redis.hgetall("shop"));
    assert_eq!(
        data.errors.len(),
        HOSTILE_FIELDS.len(),
        "{:#?}",
        data.errors
    );
    for (field, _) in HOSTILE_FIELDS {
        assert!(
            data.errors
                .iter()
                .any(|e| e.starts_with(&format!("{field:?}:"))),
            "{field} not skipped: {:#?}",
            data.errors
        );
    }
    let clean = microprofile::redis::NamespaceData::decode(redis.hgetall("clean"));
    assert!(clean.errors.is_empty(), "{:?}", clean.errors);
    assert_eq!(data.families, clean.families);

    // Exposed: the same text as the clean namespace, in both formats.
    let render = |ns: &str, format| {
        RedisExposition::new(&redis.url(), &[ns])
            .unwrap()
            .with_scope(ns, Scope::Application)
            .render(format, Selection::All)
            .unwrap()
    };
    for format in [Format::Prometheus, Format::OpenMetrics] {
        assert_eq!(render("shop", format), render("clean", format));
    }

    // Served by the exporter: every valid series, none of the hostile ones, promtool-clean,
    // and the skipped fields counted.
    let (_exporter, port) = start_exporter(&redis, "shop,clean");
    std::thread::sleep(Duration::from_millis(300));
    let body = get(port, "/metrics").body;
    promtool_check(&body).unwrap_or_else(|e| panic!("promtool: {e}\n{body}"));
    let shop: Vec<String> = family_lines(&body, "shop")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.replace("mp_scope=\"shop\"", "mp_scope=\"clean\""))
        .collect();
    let clean: Vec<&str> = family_lines(&body, "clean")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(shop, clean, "{body}");
    for line in [
        "orders_total{region=\"eu\",mp_scope=\"shop\"} 20",
        "temp{mp_scope=\"shop\"} 21.5",
        "latency_seconds_count{path=\"/a,b\",mp_scope=\"shop\"} 4",
        "workers{mp_process=\"w1\",mp_scope=\"shop\"} 1",
        "payload_bytes_count{mp_scope=\"shop\"} 2",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    for absent in [
        "le=\"1\",mp_scope=\"shop\"} 5",
        "9bad",
        "region=\"us\"",
        "__name__",
    ] {
        assert!(!body.contains(absent), "{absent:?} in\n{body}");
    }
    let skipped: f64 = body
        .lines()
        .find_map(|l| {
            l.strip_prefix("microprofile_exporter_skipped_fields_total{mp_scope=\"vendor\"} ")
        })
        .unwrap_or_else(|| panic!("no skipped-fields counter in\n{body}"))
        .parse()
        .unwrap();
    assert!(skipped >= HOSTILE_FIELDS.len() as f64, "{skipped}");
}

const SERIES: usize = 40;

/// Writes generation `generation` of namespace `gen` in one atomic script (`DEL` + `HSET`):
/// family `batch` (always), family `extra` (even generations only), every value the generation.
fn write_generation(port: u16, generation: u64) {
    let value = generation.to_string();
    let mut args: Vec<String> = [
        "EVAL",
        "redis.call('DEL', KEYS[1]); redis.call('HSET', KEYS[1], unpack(ARGV)); return 1",
        "1",
        "gen",
        "batch:t:",
        "g",
        "batch:d:",
        "A batch.",
    ]
    .map(str::to_owned)
    .to_vec();
    for i in 0..SERIES {
        args.push(format!("batch::i=\"{i:02}\""));
        args.push(value.clone());
    }
    if generation % 2 == 0 {
        for i in 0..3 {
            args.push(format!("extra::j=\"{i}\""));
            args.push(value.clone());
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let reply = redis_support::command_on(port, &refs).unwrap();
    assert_eq!(reply, ":1", "{reply}");
}

/// Scrapes running while the namespace is rewritten and refreshed in a loop never see part of
/// a family, nor values of two generations in one family, nor a family that stays missing.
#[test]
fn scrapes_during_refreshes_see_whole_families_of_one_generation() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let redis = RedisServer::start();
    let port = redis.port;
    write_generation(port, 1);
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let live = Arc::new(
        RedisExposition::new(&redis.url(), &["gen"])
            .unwrap()
            .attach(registry, Duration::ZERO, Duration::from_millis(5)),
    );
    assert_eq!(live.series(), SERIES);

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(1));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut generation = 1;
            while !stop.load(Ordering::Relaxed) {
                generation += 1;
                write_generation(port, generation);
                written.store(generation, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let refresher = {
        let (stop, live) = (stop.clone(), live.clone());
        std::thread::spawn(move || {
            let mut refreshes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                live.refresh().unwrap();
                refreshes += 1;
            }
            refreshes
        })
    };
    let scrapers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut generations = std::collections::BTreeSet::new();
                let mut scrapes = 0u64;
                let deadline = Instant::now() + Duration::from_secs(3);
                while Instant::now() < deadline {
                    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
                    scrapes += 1;
                    let values = |family: &str| -> Vec<String> {
                        text.lines()
                            .filter(|l| l.starts_with(&format!("{family}{{")))
                            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
                            .collect()
                    };
                    let batch = values("batch");
                    assert_eq!(batch.len(), SERIES, "a partial family:\n{text}");
                    assert!(
                        batch.iter().all(|v| *v == batch[0]),
                        "two generations in one family:\n{text}"
                    );
                    assert!(text.contains("# HELP batch A batch."), "{text}");
                    let extra = values("extra");
                    assert!(
                        extra.is_empty() || extra.len() == 3,
                        "a partial family:\n{text}"
                    );
                    assert!(extra.iter().all(|v| *v == extra[0]), "{text}");
                    let generation: u64 = batch[0].parse().unwrap();
                    if let Some(e) = extra.first() {
                        let e: u64 = e.parse().unwrap();
                        assert_eq!(e % 2, 0, "{text}");
                    }
                    generations.insert(generation);
                }
                (scrapes, generations.len())
            })
        })
        .collect();
    let mut seen = Vec::new();
    for scraper in scrapers {
        seen.push(scraper.join().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let refreshes = refresher.join().unwrap();
    let generations = written.load(Ordering::Relaxed);
    println!("{generations} generations written, {refreshes} refreshes, scrapes and generations seen per scraper: {seen:?}");
    // The test saw refreshes happen under it.
    for (scrapes, distinct) in seen {
        assert!(scrapes > 50, "{scrapes}");
        assert!(distinct > 10, "{distinct}");
    }
    // Dropped, the exposition stops refreshing; its families stay with their last values.
    drop(Arc::into_inner(live).expect("the refresher's clone is gone"));
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert_eq!(text.matches("\nbatch{").count(), SERIES, "{text}");
}
