//! Cross-checks of the base scope against `prometheus-node-exporter` reading the same machine.
//!
//! The exporter (Debian package `prometheus-node-exporter`) is started on a free loopback port for
//! each test and killed when the test ends. Its absence is a failure, not a skip: CI installs it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use microprofile::{Format, Registry, Scope, Selection};
use microprofile_base::Collector;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const TIMEOUT: Duration = Duration::from_secs(10);

/// The tests run one at a time: the CPU comparison wants the machine quiet of the other tests.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One sample: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the sample lines of the Prometheus text format (enough of it for these tests).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(parts) => parts,
            None => panic!("malformed sample line {line:?}"),
        };
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// Labels as both exporters write them (`a="x",b="y"`, escaped), parsed by the crate's own
/// reader of that text.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    microprofile::metric::SeriesLabels::from_rendered(text).to_pairs()
}

/// The samples of one family.
fn family<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.name == name).collect()
}

/// The value of a series without labels (other than `mp_scope`).
fn single(samples: &[Sample], name: &str) -> f64 {
    match family(samples, name).as_slice() {
        [one] => one.value,
        other => panic!("expected one sample of {name}, found {other:?}"),
    }
}

/// The value of the series of `name` whose label `label` is `value`.
fn labelled(samples: &[Sample], name: &str, label: &str, value: &str) -> Option<f64> {
    family(samples, name)
        .into_iter()
        .find(|s| s.label(label) == Some(value))
        .map(|s| s.value)
}

/// A running node_exporter, killed on drop.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl NodeExporter {
    fn start() -> NodeExporter {
        assert!(
            Path::new(NODE_EXPORTER).exists(),
            "{NODE_EXPORTER} not found: these tests cross-check against node_exporter; install \
             it with `apt-get install prometheus-node-exporter`"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        let child = Command::new(NODE_EXPORTER)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.netdev.device-exclude=^$")
            .args([
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.filesystem",
                "--collector.netdev",
                "--collector.sockstat",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {NODE_EXPORTER}: {e}"));
        let mut exporter = NodeExporter { child, port };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if exporter.try_scrape().is_ok() {
                return exporter;
            }
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("{NODE_EXPORTER} exited at start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{NODE_EXPORTER} did not answer on port {port} within {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_scrape(&self) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no end of headers"))?;
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!("status: {head}")));
        }
        Ok(body.to_owned())
    }

    fn scrape(&self) -> Vec<Sample> {
        let body = self
            .try_scrape()
            .unwrap_or_else(|e| panic!("scraping node_exporter failed: {e}"));
        parse(&body)
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A collector of our own in a registry of our own; `interval` is its minimum refresh interval.
fn ours(interval: Duration) -> (Arc<Collector>, Registry) {
    let collector = Arc::new(Collector::new().min_refresh_interval(interval));
    let registry = Registry::new();
    collector
        .register_into(&registry)
        .expect("registering the base families");
    (collector, registry)
}

fn scrape_ours(registry: &Registry) -> Vec<Sample> {
    parse(&registry.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Base)))
}

#[test]
fn memory_total_equals_node_exporter() {
    let _serial = serial();
    let node = NodeExporter::start().scrape();
    let (_collector, registry) = ours(Duration::from_secs(60));
    let ours = scrape_ours(&registry);
    assert_eq!(
        single(&ours, "memory_total_bytes"),
        single(&node, "node_memory_MemTotal_bytes")
    );
    let used = single(&ours, "memory_used_bytes");
    assert!(used > 0.0 && used <= single(&ours, "memory_total_bytes"));
}

#[test]
fn filesystem_sizes_equal_node_exporter() {
    let _serial = serial();
    let node = NodeExporter::start().scrape();
    let (_collector, registry) = ours(Duration::from_secs(60));
    let ours = scrape_ours(&registry);
    let our_sizes = family(&ours, "filesystem_size_bytes");
    if our_sizes.is_empty() {
        // A container whose every mount is an overlay or in memory: then node_exporter must not
        // see a real filesystem either.
        let theirs = family(&node, "node_filesystem_size_bytes");
        let real: Vec<&&Sample> = theirs
            .iter()
            .filter(|s| {
                !matches!(
                    s.label("fstype"),
                    Some("tmpfs" | "ramfs" | "overlay" | "aufs")
                )
            })
            .collect();
        assert!(
            real.is_empty(),
            "we report no filesystem, node_exporter reports {real:?}; /proc/self/mounts:\n{}",
            std::fs::read_to_string("/proc/self/mounts").unwrap_or_default()
        );
        return;
    }
    let mut compared = 0;
    for ours in &our_sizes {
        let mountpoint = ours.label("mountpoint").expect("mountpoint label");
        let Some(theirs) = labelled(
            &node,
            "node_filesystem_size_bytes",
            "mountpoint",
            mountpoint,
        ) else {
            continue;
        };
        assert_eq!(ours.value, theirs, "size of {mountpoint}");
        let used = labelled(
            &scrape_ours(&registry),
            "filesystem_used_bytes",
            "mountpoint",
            mountpoint,
        )
        .expect("used bytes for every reported filesystem");
        assert!(used <= ours.value, "{mountpoint}: used {used} > size");
        compared += 1;
    }
    assert!(
        compared > 0,
        "no mount point in common with node_exporter: ours {our_sizes:?}, theirs {:?}",
        family(&node, "node_filesystem_size_bytes")
    );
}

#[test]
fn loopback_counters_between_two_node_exporter_reads() {
    let _serial = serial();
    let exporter = NodeExporter::start();
    let before = exporter.scrape();
    // A fresh collector: its first scrape is its first read.
    let (_collector, registry) = ours(Duration::from_secs(60));
    let ours = scrape_ours(&registry);
    let after = exporter.scrape();
    for (our_name, node_name) in [
        (
            "network_receive_bytes_total",
            "node_network_receive_bytes_total",
        ),
        (
            "network_transmit_bytes_total",
            "node_network_transmit_bytes_total",
        ),
        (
            "network_receive_packets_total",
            "node_network_receive_packets_total",
        ),
        (
            "network_transmit_packets_total",
            "node_network_transmit_packets_total",
        ),
        (
            "network_receive_dropped_packets_total",
            "node_network_receive_drop_total",
        ),
        (
            "network_transmit_dropped_packets_total",
            "node_network_transmit_drop_total",
        ),
        (
            "network_receive_errors_total",
            "node_network_receive_errs_total",
        ),
        (
            "network_transmit_errors_total",
            "node_network_transmit_errs_total",
        ),
    ] {
        let low = labelled(&before, node_name, "device", "lo").expect("node_exporter reports lo");
        let high = labelled(&after, node_name, "device", "lo").expect("node_exporter reports lo");
        let value = labelled(&ours, our_name, "device", "lo").expect("we report lo");
        assert!(
            low <= value && value <= high,
            "{our_name}{{device=\"lo\"}} = {value}, not within node_exporter's {low} ..= {high}"
        );
    }
    // Scraping node_exporter over loopback moved the byte counters: the window is not empty.
    assert!(
        labelled(&after, "node_network_receive_bytes_total", "device", "lo")
            > labelled(&before, "node_network_receive_bytes_total", "device", "lo")
    );
}

#[test]
fn tcp_and_udp_sockets_in_use_match_node_exporter() {
    let _serial = serial();
    let exporter = NodeExporter::start();
    let before = exporter.scrape();
    let (_collector, registry) = ours(Duration::from_secs(60));
    let ours = scrape_ours(&registry);
    let after = exporter.scrape();
    // Our value counts IPv4 and IPv6; node_exporter reports them apart. Its own HTTP connection
    // (both ends) is open while it reads, ours is not: a small tolerance covers that.
    const TOLERANCE: f64 = 4.0;
    for (ours_name, v4, v6) in [
        (
            "tcp_sockets_in_use",
            "node_sockstat_TCP_inuse",
            "node_sockstat_TCP6_inuse",
        ),
        (
            "udp_sockets_in_use",
            "node_sockstat_UDP_inuse",
            "node_sockstat_UDP6_inuse",
        ),
    ] {
        let theirs = |samples: &[Sample]| {
            single(samples, v4) + family(samples, v6).first().map_or(0.0, |s| s.value)
        };
        let (a, b) = (theirs(&before), theirs(&after));
        let value = single(&ours, ours_name);
        assert!(
            value >= a.min(b) - TOLERANCE && value <= a.max(b) + TOLERANCE,
            "{ours_name} = {value}, node_exporter read {a} and {b} (tolerance {TOLERANCE})"
        );
    }
}

/// CPU seconds summed over processors, per mode, from node_exporter.
fn node_cpu(samples: &[Sample]) -> HashMap<String, f64> {
    let mut modes: HashMap<String, f64> = HashMap::new();
    for s in family(samples, "node_cpu_seconds_total") {
        if let Some(mode) = s.label("mode") {
            *modes.entry(mode.to_owned()).or_default() += s.value;
        }
    }
    modes
}

#[test]
fn cpu_percent_matches_node_exporter_under_load() {
    let _serial = serial();
    let exporter = NodeExporter::start();
    let (collector, registry) = ours(Duration::from_secs(60));

    let before = node_cpu(&exporter.scrape());
    collector.refresh();
    // The known load: one thread busy for 2 s.
    let spin_until = Instant::now() + Duration::from_secs(2);
    let spinner = std::thread::spawn(move || {
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        x
    });
    let _ = spinner.join();
    collector.refresh();
    let ours = scrape_ours(&registry);
    let after_samples = exporter.scrape();
    let after = node_cpu(&after_samples);

    let delta = |mode: &str| {
        after.get(mode).copied().unwrap_or(0.0) - before.get(mode).copied().unwrap_or(0.0)
    };
    let all: f64 = [
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
    ]
    .iter()
    .map(|m| delta(m))
    .sum();
    assert!(all > 0.0, "node_exporter saw no CPU time pass");
    let node_total = 100.0 * (1.0 - (delta("idle") + delta("iowait")) / all);
    let node_user = 100.0 * (delta("user") + delta("nice")) / all;
    let node_system = 100.0 * (delta("system") + delta("irq") + delta("softirq")) / all;

    let total = single(&ours, "cpu_usage_percent");
    let user = single(&ours, "cpu_usage_user_percent");
    let system = single(&ours, "cpu_usage_system_percent");
    const POINTS: f64 = 5.0;
    for (what, ours, theirs) in [
        ("total", total, node_total),
        ("user", user, node_user),
        ("system", system, node_system),
    ] {
        assert!(
            (ours - theirs).abs() <= POINTS,
            "CPU {what}: ours {ours:.1} %, node_exporter {theirs:.1} % (tolerance {POINTS} points)"
        );
    }
    // One busy thread is at least half a processor's share of the machine, whatever else runs.
    let mut cpus: Vec<&str> = family(&after_samples, "node_cpu_seconds_total")
        .iter()
        .filter_map(|s| s.label("cpu"))
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    let processors = cpus.len().max(1) as f64;
    assert!(
        total >= 50.0 / processors,
        "one busy thread should show: {total:.1} % of {processors} processors"
    );
    assert!(user <= total + 0.001 && system <= total + 0.001);
}
