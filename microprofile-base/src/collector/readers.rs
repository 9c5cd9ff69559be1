//! The readers: every source under the collector's root read into a new [`Snapshot`] —
//! `/proc` files through the parsers of [`crate::parse`], filesystems through `statvfs(2)`
//! ([`crate::sys`]) — and the CPU sample kept from one refresh to the next.
//!
//! Here rather than beside `parse.rs`: the parsers are pure functions of a file's text, tested on
//! fixture text without touching a filesystem; the readers are the I/O around them, need the
//! collector's root and units, and fill the snapshot, so they live with the collector.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::labels::{DeviceLabel, FsLabels, Labelled, ModeLabel};
use super::mounts::select_mounts;
use super::snapshot::{Filesystem, Interface, Process};
use super::{Collector, Snapshot};
use crate::parse::{self, CpuTicks};
use crate::sys;

/// CPU percentages need two samples at least this far apart; closer samples are too coarse (the
/// kernel counts in ticks of 10 ms) and are never reported.
pub const MIN_CPU_SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// What a refresh needs from the previous one; held only while refreshing.
pub(super) struct State {
    pub(super) cpu_sample: Option<(Instant, CpuTicks)>,
}

impl Collector {
    /// Takes a CPU sample, so that the first refresh at least [`MIN_CPU_SAMPLE_INTERVAL`] later
    /// already reports CPU percentages.
    pub fn sample_cpu(&self) {
        let mut state = self.lock();
        if state.cpu_sample.is_none() {
            if let Some(ticks) = self.read_stat().cpu {
                state.cpu_sample = Some((Instant::now(), ticks));
            }
        }
    }

    fn proc_path(&self, relative: &str) -> PathBuf {
        self.root.join("proc").join(relative)
    }

    pub(super) fn read_proc(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.proc_path(relative)).ok()
    }

    /// `path` (absolute, as the kernel lists it) under this collector's root.
    pub(super) fn under_root(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn read_stat(&self) -> parse::Stat {
        self.read_proc("stat")
            .map(|t| parse::parse_stat(&t))
            .unwrap_or_default()
    }

    pub(super) fn read_all(&self, state: &mut State) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let ticks = self.clock_ticks as f64;

        let stat = self.read_stat();
        if let Some(cpu) = stat.cpu {
            let now = Instant::now();
            snapshot.cpu_seconds = Some(
                cpu.modes()
                    .map(|(mode, t)| (Labelled::new(ModeLabel(mode)), t as f64 / ticks)),
            );
            match state.cpu_sample {
                Some((at, before)) if now.duration_since(at) >= MIN_CPU_SAMPLE_INTERVAL => {
                    snapshot.cpu_percent = parse::cpu_percent(&before, &cpu);
                    state.cpu_sample = Some((now, cpu));
                }
                // Too close to the previous sample: keep that one, report no percentage.
                Some(_) => {}
                None => state.cpu_sample = Some((now, cpu)),
            }
        }
        snapshot.processors = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64);
        snapshot.load = self
            .read_proc("loadavg")
            .and_then(|t| parse::parse_loadavg(&t));

        let memory = self
            .read_proc("meminfo")
            .map(|t| parse::parse_meminfo(&t))
            .unwrap_or_default();
        snapshot.memory_total = memory.total;
        snapshot.memory_available = memory.available;
        snapshot.memory_cgroup_limit = self.cgroup_memory_limit();

        snapshot.filesystems = self.filesystems();
        snapshot.interfaces = self.interfaces();

        if let Some(v4) = self.read_proc("net/sockstat") {
            // Without IPv6 there is no sockstat6, and no IPv6 socket either.
            let v6 = self.read_proc("net/sockstat6").unwrap_or_default();
            let sum = |p4: &str, p6: &str| {
                parse::sockstat_value(&v4, p4, "inuse")
                    .map(|n| n.saturating_add(parse::sockstat_value(&v6, p6, "inuse").unwrap_or(0)))
            };
            snapshot.sockets_used = parse::sockstat_value(&v4, "sockets", "used");
            snapshot.tcp_in_use = sum("TCP", "TCP6");
            snapshot.udp_in_use = sum("UDP", "UDP6");
        }

        snapshot.process = self
            .read_proc("self/stat")
            .and_then(|t| parse::parse_process_stat(&t))
            .map(|p| Process {
                cpu_seconds: p.utime.saturating_add(p.stime) as f64 / ticks,
                resident_bytes: p.rss_pages.saturating_mul(self.page_size),
                virtual_bytes: p.vsize,
                threads: p.threads,
                start_time: stat
                    .boot_time
                    .map(|boot| boot as f64 + p.start_ticks as f64 / ticks),
            });
        snapshot.open_fds = std::fs::read_dir(self.proc_path("self/fd"))
            .ok()
            .map(|entries| entries.count() as u64);
        snapshot.max_fds = self
            .read_proc("self/limits")
            .and_then(|t| parse::parse_max_open_files(&t));
        snapshot
    }

    fn filesystems(&self) -> Vec<Filesystem> {
        let Some(mounts) = self.read_proc("self/mounts") else {
            return Vec::new();
        };
        let nodev = self
            .read_proc("filesystems")
            .map(|t| parse::parse_nodev_filesystems(&t));
        let mut filesystems: Vec<Filesystem> =
            select_mounts(parse::parse_mounts(&mounts), nodev.as_ref())
                .into_iter()
                .filter_map(|m| {
                    let usage = sys::statvfs(&self.under_root(&m.mountpoint))?;
                    // A filesystem of size 0 holds nothing (df leaves them out too).
                    (usage.size > 0).then(|| Filesystem {
                        labels: Labelled::new(FsLabels {
                            device: m.device,
                            fstype: m.fstype,
                            mountpoint: m.mountpoint,
                        }),
                        usage,
                    })
                })
                .collect();
        filesystems.sort_by(|a, b| a.labels.rendered().cmp(b.labels.rendered()));
        filesystems
    }

    fn interfaces(&self) -> Vec<Interface> {
        let Some(text) = self.read_proc("net/dev") else {
            return Vec::new();
        };
        let mut interfaces: Vec<Interface> = parse::parse_net_dev(&text)
            .into_iter()
            .map(|counters| Interface {
                labels: Labelled::new(DeviceLabel(counters.name.clone())),
                counters,
            })
            .collect();
        interfaces.sort_by(|a, b| a.labels.rendered().cmp(b.labels.rendered()));
        interfaces
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::collector::fixtures::{
        fixture_root, fixture_root_in_cgroup, samples, scrape, TempRoot,
    };
    use microprofile::{Format, Registry, Scope, Selection};
    use std::sync::Arc;

    #[test]
    fn missing_sources_drop_metrics_without_failing() {
        let root = TempRoot::new("empty");
        let base = scrape(Collector::with_root(&root.0), Scope::Base);
        // Only the processor count, which does not come from /proc, is left.
        let lines = samples(&base);
        assert_eq!(lines.len(), 1, "{base}");
        assert!(lines[0].starts_with("cpu_available_processors{mp_scope=\"base\"} "));
        // A family with no series is left out whole, in both formats: no HELP or TYPE alone.
        assert!(!base.contains("memory_total_bytes"), "{base}");
        let registry = Registry::new();
        Arc::new(Collector::with_root(&root.0))
            .register_into(&registry)
            .unwrap();
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = registry.encode_to_string(format, Selection::All);
            for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
                let name = family.split(' ').next().unwrap();
                assert!(
                    samples(&text).iter().any(|l| l.starts_with(name)),
                    "{format:?}: {name} has no sample in\n{text}"
                );
            }
        }
        let vendor = scrape(Collector::with_root(&root.0), Scope::Vendor);
        assert!(!samples(&vendor).iter().any(|l| l.starts_with("process_")));
        // A root that does not exist at all behaves the same.
        let gone = scrape(
            Collector::with_root(root.0.join("does/not/exist")),
            Scope::Base,
        );
        assert_eq!(samples(&gone).len(), 1, "{gone}");
    }

    #[test]
    fn garbage_sources_drop_metrics_without_failing() {
        let root = TempRoot::new("garbage");
        for file in [
            "proc/stat",
            "proc/meminfo",
            "proc/loadavg",
            "proc/net/dev",
            "proc/net/sockstat",
            "proc/self/stat",
            "proc/self/limits",
            "proc/self/mounts",
            "proc/self/cgroup",
            "proc/self/mountinfo",
            "proc/filesystems",
        ] {
            root.write(file, "\u{0}garbage ((( : : :\n\n)");
        }
        let collector = Collector::with_root(&root.0);
        let text = scrape(collector, Scope::Base);
        assert_eq!(samples(&text).len(), 1, "{text}");
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let root = TempRoot::new("extreme");
        let max = u64::MAX;
        root.write(
            "proc/net/sockstat",
            &format!("sockets: used {max}\nTCP: inuse {max}\nUDP: inuse {max}\n"),
        );
        root.write(
            "proc/net/sockstat6",
            &format!("TCP6: inuse {max}\nUDP6: inuse {max}\n"),
        );
        root.write(
            "proc/self/stat",
            &format!(
                "1 (x) S 1 1 1 0 -1 0 0 0 0 0 {max} {max} 0 0 20 0 {max} 0 {max} {max} {max} 0\n"
            ),
        );
        root.write(
            "proc/stat",
            &format!("cpu {max} {max} {max} {max} {max} {max} {max} {max}\nbtime {max}\n"),
        );
        root.write(
            "proc/meminfo",
            &format!("MemTotal: {max} kB\nMemAvailable: {max} kB\n"),
        );
        let collector = Collector::with_root(&root.0);
        let base = scrape(collector, Scope::Base);
        assert!(
            base.contains(&format!("tcp_sockets_in_use{{mp_scope=\"base\"}} {max}")),
            "{base}"
        );
        let vendor = scrape(Collector::with_root(&root.0), Scope::Vendor);
        assert!(
            vendor.contains("process_threads{mp_scope=\"vendor\"}"),
            "{vendor}"
        );
    }

    #[test]
    fn fixture_values() {
        let root = fixture_root_in_cgroup("4:memory:/outer/app\n0::/\n");
        // v1: the limit of the parent (1 MiB) applies to the child (unlimited).
        root.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "1048576\n");
        root.write(
            "sys/fs/cgroup/memory/app/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        let collector = Collector::with_root(&root.0);
        collector.sample_cpu();
        std::thread::sleep(MIN_CPU_SAMPLE_INTERVAL);
        root.write(
            "proc/stat",
            "cpu  140 10 60 830 50 5 5 0 0 0\nbtime 1700000000\n",
        );
        let text = scrape(collector, Scope::Base);
        let lines = samples(&text);
        let expect = [
            "cpu_usage_percent{mp_scope=\"base\"} 70.0",
            "cpu_usage_user_percent{mp_scope=\"base\"} 50.0",
            "cpu_usage_system_percent{mp_scope=\"base\"} 20.0",
            "cpu_time_seconds_total{mode=\"user\",mp_scope=\"base\"} 1.4",
            "cpu_time_seconds_total{mode=\"idle\",mp_scope=\"base\"} 8.3",
            "system_load_average_1m{mp_scope=\"base\"} 0.5",
            "system_load_average_15m{mp_scope=\"base\"} 0.125",
            "memory_total_bytes{mp_scope=\"base\"} 1024000",
            "memory_used_bytes{mp_scope=\"base\"} 409600",
            "memory_cgroup_limit_bytes{mp_scope=\"base\"} 1048576",
            "network_receive_bytes_total{device=\"eth0\",mp_scope=\"base\"} 2000",
            "network_transmit_bytes_total{device=\"lo\",mp_scope=\"base\"} 10",
            "network_receive_packets_total{device=\"eth0\",mp_scope=\"base\"} 20",
            "network_transmit_packets_total{device=\"eth0\",mp_scope=\"base\"} 30",
            "network_receive_errors_total{device=\"eth0\",mp_scope=\"base\"} 1",
            "network_receive_dropped_packets_total{device=\"eth0\",mp_scope=\"base\"} 2",
            "network_transmit_errors_total{device=\"eth0\",mp_scope=\"base\"} 3",
            "network_transmit_dropped_packets_total{device=\"eth0\",mp_scope=\"base\"} 4",
            "sockets_in_use{mp_scope=\"base\"} 40",
            "tcp_sockets_in_use{mp_scope=\"base\"} 8",
            "udp_sockets_in_use{mp_scope=\"base\"} 3",
            "threads{mp_scope=\"base\"} 9",
        ];
        for line in expect {
            assert!(lines.contains(&line), "missing {line:?} in\n{text}");
        }
        let fs: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("filesystem_size_bytes"))
            .collect();
        assert_eq!(fs.len(), 1, "{text}");
        assert!(fs[0].starts_with(
            "filesystem_size_bytes{device=\"/dev/fake\",fstype=\"ext4\",mountpoint=\"/\",mp_scope=\"base\"} "
        ));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("process_uptime_seconds{")));

        let vendor = scrape(Collector::with_root(&root.0), Scope::Vendor);
        let lines = samples(&vendor);
        let ticks = sys::clock_ticks_per_second() as f64;
        let expect = [
            format!(
                "process_cpu_seconds_total{{mp_scope=\"vendor\"}} {:?}",
                300.0 / ticks
            ),
            format!(
                "process_resident_memory_bytes{{mp_scope=\"vendor\"}} {}",
                100 * sys::page_size()
            ),
            "process_virtual_memory_bytes{mp_scope=\"vendor\"} 8192000".to_owned(),
            format!(
                "process_start_time_seconds{{mp_scope=\"vendor\"}} {:?}",
                1700000000.0 + 1000.0 / ticks
            ),
            "process_open_fds{mp_scope=\"vendor\"} 3".to_owned(),
            "process_max_fds{mp_scope=\"vendor\"} 4096".to_owned(),
            "process_threads{mp_scope=\"vendor\"} 9".to_owned(),
        ];
        for line in &expect {
            assert!(
                lines.contains(&line.as_str()),
                "missing {line:?} in\n{vendor}"
            );
        }
    }

    #[test]
    fn cpu_percent_needs_two_samples_far_enough_apart() {
        let root = fixture_root();
        let collector = Collector::with_root(&root.0).min_refresh_interval(Duration::ZERO);
        // First refresh: one sample only.
        assert!(collector.refresh().cpu_percent.is_none());
        // Second refresh right away: too close, no percentage (never a stale 0).
        root.write("proc/stat", "cpu  200 0 50 800 50 0 0 0 0 0\n");
        assert!(collector.refresh().cpu_percent.is_none());
        std::thread::sleep(MIN_CPU_SAMPLE_INTERVAL);
        // Measured against the first sample, which was kept.
        let p = collector.refresh().cpu_percent.map(|p| p.user);
        assert_eq!(p, Some(100.0));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_real_system() {
        let collector = Collector::new();
        let snapshot = collector.refresh();
        assert!(snapshot.memory_total.is_some_and(|t| t > 0));
        assert!(snapshot.memory_used().is_some());
        assert!(snapshot.cpu_seconds.is_some());
        assert!(snapshot.interfaces.iter().any(|i| i.counters.name == "lo"));
        assert!(snapshot.tcp_in_use.is_some());
        let process = snapshot.process.unwrap();
        assert!(process.threads >= 1 && process.resident_bytes > 0);
        assert!(snapshot.open_fds.is_some_and(|n| n >= 3));
        assert!(snapshot.max_fds.is_some());
    }
}
