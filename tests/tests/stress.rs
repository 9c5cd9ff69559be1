//! Stress: writers on every core while 16 clients scrape `/metrics` over HTTP for a fixed time.
//! Every scrape must parse (a strict line parser here; the last scrapes also through promtool and
//! the Python parser), counters never go backwards between a client's scrapes, every histogram has
//! `_count` equal to its `+Inf` bucket and cumulative buckets, and the final totals are exact.
//! Bounded: the writers run for 3 s, then the clients take their last scrapes and stop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use microprofile::{Format, GlobalTags, Metadata, Registry, Selection, Server};
use microprofile_tests::{http_get, python_parse, Parser};

const CLIENTS: usize = 16;
const WRITE_TIME: Duration = Duration::from_secs(3);

/// Parses one Prometheus text sample line strictly: `name{labels} value`.
fn parse_sample(line: &str) -> Result<(String, BTreeMap<String, String>, f64), String> {
    let brace = line
        .find('{')
        .ok_or_else(|| format!("no labels: {line:?}"))?;
    let name = line[..brace].to_owned();
    let close = line
        .rfind("} ")
        .ok_or_else(|| format!("no closing brace: {line:?}"))?;
    let mut labels = BTreeMap::new();
    for pair in line[brace + 1..close].split("\",") {
        let (key, value) = pair
            .split_once("=\"")
            .ok_or_else(|| format!("bad label in {line:?}"))?;
        labels.insert(key.to_owned(), value.trim_end_matches('"').to_owned());
    }
    let value = match &line[close + 2..] {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other => other
            .parse()
            .map_err(|_| format!("bad value in {line:?}"))?,
    };
    Ok((name, labels, value))
}

struct Scrape {
    counters: BTreeMap<String, f64>,
}

fn check_scrape(body: &str) -> Result<Scrape, String> {
    let mut counters = BTreeMap::new();
    let mut buckets: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in body.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (name, mut labels, value) = parse_sample(line)?;
        if name.ends_with("_total") {
            counters.insert(format!("{name}{labels:?}"), value);
        } else if let Some(family) = name.strip_suffix("_bucket") {
            labels.remove("le");
            buckets
                .entry(format!("{family}{labels:?}"))
                .or_default()
                .push(value);
        } else if let Some(family) = name.strip_suffix("_count") {
            counts.insert(format!("{family}{labels:?}"), value);
        }
    }
    for (series, cumulative) in &buckets {
        if !cumulative.windows(2).all(|w| w[0] <= w[1]) {
            return Err(format!("{series}: buckets not cumulative: {cumulative:?}"));
        }
        if cumulative.last() != counts.get(series) {
            return Err(format!(
                "{series}: +Inf {:?} != count {:?}",
                cumulative.last(),
                counts.get(series)
            ));
        }
    }
    Ok(Scrape { counters })
}

#[test]
fn sixteen_scrapers_against_writers_on_every_core() {
    let registry: &'static Registry =
        Box::leak(Box::new(Registry::with_global_tags(GlobalTags::none())));
    let requests = registry.counter(Metadata::new("stress_requests")).unwrap();
    let latency = registry
        .timer(
            Metadata::new("stress_latency").with_tag("route", "/a\"b\\c"),
            Some(vec![0.001, 0.01, 0.1, 1.0]),
        )
        .unwrap();
    let bytes = registry
        .float_counter(Metadata::new("stress_bytes").unit("bytes"))
        .unwrap();
    let server = Server::builder()
        .addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .registry(registry)
        .max_connections(CLIENTS * 2)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let writers_done = AtomicBool::new(false);
    let writers = thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + WRITE_TIME;

    let scrapes_per_client: Vec<usize> = thread::scope(|s| {
        let writer_handles: Vec<_> = (0..writers)
            .map(|w| {
                let (requests, latency, bytes) = (requests.clone(), latency.clone(), bytes.clone());
                s.spawn(move || {
                    let mut done = 0;
                    while Instant::now() < deadline {
                        requests.inc();
                        latency.observe(((done + w as u64) % 2000) as f64 / 1000.0);
                        bytes.inc_by(0.5);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let writers_done = &writers_done;
                s.spawn(move || {
                    let mut last: BTreeMap<String, f64> = BTreeMap::new();
                    let mut n = 0;
                    let mut last_body = String::new();
                    while !writers_done.load(Ordering::Relaxed) || n < 3 {
                        let response = http_get(addr, "/metrics", None).expect("scrape");
                        assert_eq!(response.status, 200);
                        let scrape = check_scrape(&response.body).unwrap_or_else(|e| panic!("{e}"));
                        for (series, value) in &scrape.counters {
                            if let Some(before) = last.get(series) {
                                assert!(
                                    value >= before,
                                    "{series} went back from {before} to {value}"
                                );
                            }
                        }
                        last = scrape.counters;
                        last_body = response.body;
                        n += 1;
                    }
                    (n, last_body)
                })
            })
            .collect();
        let total: u64 = writer_handles.into_iter().map(|h| h.join().unwrap()).sum();
        writers_done.store(true, Ordering::Relaxed);
        let results: Vec<(usize, String)> =
            clients.into_iter().map(|h| h.join().unwrap()).collect();
        // The reference tools agree with the scrapes taken under load.
        microprofile_tests::promtool_check(&results[0].1).unwrap();
        python_parse(Parser::Prometheus, &results[0].1).unwrap();
        // Final totals are exact.
        assert_eq!(requests.get(), total);
        assert_eq!(latency.count(), total);
        assert_eq!(bytes.get(), total as f64 * 0.5);
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        assert!(text.contains(&format!(
            "stress_requests_total{{mp_scope=\"application\"}} {total}\n"
        )));
        results.into_iter().map(|(n, _)| n).collect()
    });
    assert!(
        scrapes_per_client.iter().all(|&n| n >= 3),
        "{scrapes_per_client:?}"
    );
    server.shutdown();
}
