//! `init()` puts every family in the global registry, under the documented names and scopes.

use microprofile::{Format, MetricType, Scope, Selection};

/// The contract documented in the README: exposed name, type, unit, labels (besides `mp_scope`).
const BASE: &[(&str, MetricType, &str, &[&str])] = &[
    ("cpu_usage_percent", MetricType::Gauge, "percent", &[]),
    ("cpu_usage_user_percent", MetricType::Gauge, "percent", &[]),
    (
        "cpu_usage_system_percent",
        MetricType::Gauge,
        "percent",
        &[],
    ),
    (
        "cpu_time_seconds_total",
        MetricType::Counter,
        "seconds",
        &["mode"],
    ),
    ("cpu_available_processors", MetricType::Gauge, "", &[]),
    ("system_load_average_1m", MetricType::Gauge, "", &[]),
    ("system_load_average_5m", MetricType::Gauge, "", &[]),
    ("system_load_average_15m", MetricType::Gauge, "", &[]),
    ("memory_total_bytes", MetricType::Gauge, "bytes", &[]),
    ("memory_used_bytes", MetricType::Gauge, "bytes", &[]),
    ("memory_cgroup_limit_bytes", MetricType::Gauge, "bytes", &[]),
    (
        "filesystem_size_bytes",
        MetricType::Gauge,
        "bytes",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "filesystem_used_bytes",
        MetricType::Gauge,
        "bytes",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "filesystem_available_bytes",
        MetricType::Gauge,
        "bytes",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "network_receive_bytes_total",
        MetricType::Counter,
        "bytes",
        &["device"],
    ),
    (
        "network_transmit_bytes_total",
        MetricType::Counter,
        "bytes",
        &["device"],
    ),
    (
        "network_receive_packets_total",
        MetricType::Counter,
        "packets",
        &["device"],
    ),
    (
        "network_transmit_packets_total",
        MetricType::Counter,
        "packets",
        &["device"],
    ),
    (
        "network_receive_dropped_packets_total",
        MetricType::Counter,
        "packets",
        &["device"],
    ),
    (
        "network_transmit_dropped_packets_total",
        MetricType::Counter,
        "packets",
        &["device"],
    ),
    (
        "network_receive_errors_total",
        MetricType::Counter,
        "",
        &["device"],
    ),
    (
        "network_transmit_errors_total",
        MetricType::Counter,
        "",
        &["device"],
    ),
    ("sockets_in_use", MetricType::Gauge, "", &[]),
    ("tcp_sockets_in_use", MetricType::Gauge, "", &[]),
    ("udp_sockets_in_use", MetricType::Gauge, "", &[]),
    ("threads", MetricType::Gauge, "", &[]),
    ("process_uptime_seconds", MetricType::Gauge, "seconds", &[]),
];

const VENDOR: &[(&str, MetricType, &str, &[&str])] = &[
    (
        "process_cpu_seconds_total",
        MetricType::Counter,
        "seconds",
        &[],
    ),
    (
        "process_resident_memory_bytes",
        MetricType::Gauge,
        "bytes",
        &[],
    ),
    (
        "process_virtual_memory_bytes",
        MetricType::Gauge,
        "bytes",
        &[],
    ),
    (
        "process_start_time_seconds",
        MetricType::Gauge,
        "seconds",
        &[],
    ),
    ("process_open_fds", MetricType::Gauge, "", &[]),
    ("process_max_fds", MetricType::Gauge, "", &[]),
    ("process_threads", MetricType::Gauge, "", &[]),
];

fn check(scope: &Scope, expected: &[(&str, MetricType, &str, &[&str])]) {
    let families = microprofile::global().families(Selection::Scope(scope));
    for (name, metric_type, unit, labels) in expected {
        let Some(info) = families.iter().find(|f| f.name == *name) else {
            panic!("{name} is not registered in scope {scope}");
        };
        assert_eq!(info.metric_type, *metric_type, "{name}");
        assert_eq!(info.unit, *unit, "{name}");
        assert_eq!(info.tag_names, *labels, "{name}");
        assert!(!info.description.is_empty(), "{name} has no description");
    }
    let ours: Vec<&str> = families
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| !n.starts_with("microprofile_"))
        .collect();
    assert_eq!(
        ours.len(),
        expected.len(),
        "undocumented families: {ours:?}"
    );
}

#[test]
fn init_registers_every_family_globally() {
    microprofile_base::init();
    microprofile_base::init();
    assert!(
        microprofile::global().registration_errors().is_empty(),
        "{:?}",
        microprofile::global().registration_errors()
    );
    check(&Scope::Base, BASE);
    check(&Scope::Vendor, VENDOR);
    // The first scrape after init (and after the minimum CPU sample interval) has CPU figures.
    std::thread::sleep(microprofile_base::MIN_CPU_SAMPLE_INTERVAL);
    let text = microprofile::global().encode_to_string(Format::OpenMetrics, Selection::All);
    if cfg!(target_os = "linux") {
        for sample in [
            "cpu_usage_percent{mp_scope=\"base\"} ",
            "memory_total_bytes{mp_scope=\"base\"} ",
            "process_cpu_seconds_total{mp_scope=\"vendor\"} ",
            "process_open_fds{mp_scope=\"vendor\"} ",
        ] {
            assert!(text.contains(sample), "{sample} missing from\n{text}");
        }
    }
    assert!(text.contains("# UNIT memory_total_bytes bytes"));
    assert!(text.ends_with("# EOF\n"));
}
