//! Host metrics (scope `base`) and process metrics (scope `vendor`) for `microprofile`.
//!
//! Add the crate and call [`init`] once at start-up:
//!
//! ```
//! microprofile_base::init();
//! let text = microprofile::global()
//!     .encode_to_string(microprofile::Format::Prometheus, microprofile::Selection::All);
//! # #[cfg(target_os = "linux")]
//! assert!(text.contains("memory_total_bytes{mp_scope=\"base\"}"));
//! # #[cfg(target_os = "linux")]
//! assert!(text.contains("process_resident_memory_bytes{mp_scope=\"vendor\"}"));
//! ```
//!
//! Every metric is a `static` registered through `inventory`, so it is in the global registry as
//! soon as the crate is linked; [`init`] makes sure it is (a crate nothing refers to is not linked)
//! and takes a first CPU sample, so that the first scrape already reports CPU percentages.
//!
//! Nothing runs in the background and nothing touches the application's code paths: the figures
//! are read when a scrape reads the first of these metrics, and cached for
//! [`DEFAULT_MIN_REFRESH_INTERVAL`] (1 s), so all families of one scrape, and any number of
//! concurrent scrapes, share one refresh.
//!
//! # Sources
//!
//! Everything comes from `/proc` (read with the small parsers of this crate, each tested on
//! fixture text), the cgroup files `/proc/self/cgroup` points to, and `statvfs(2)`. `sysinfo`
//! would give memory and disks but not the rest (user/kernel CPU split, dropped packets, socket
//! counts), lists disks by its own rules rather than `df`'s, and cannot be pointed at another
//! root; one set of readers over one root keeps every figure consistent and makes the
//! missing-source path testable ([`Collector::with_root`]).
//!
//! A source that is missing (not Linux, `/proc` not mounted, no cgroup) removes the samples it
//! provides from the output; the scrape itself always succeeds. The families' `# HELP` and
//! `# TYPE` lines stay.
//!
//! # Metrics
//!
//! The full table of names, types, units and labels is in the crate's README (`README.md` in the
//! package, shown on its crates.io page).
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod collector;
mod parse;
mod sys;

use std::any::Any;
use std::sync::{Arc, LazyLock};

use microprofile::metric::{Metric, SeriesLabels};
use microprofile::{Collect, Error, Metadata, MetricType, Registry, Scope};

pub use collector::{
    Collector, Snapshot, DEFAULT_MIN_REFRESH_INTERVAL, MIN_CPU_SAMPLE_INTERVAL,
    REFRESH_INTERVAL_FLOOR,
};

static GLOBAL: LazyLock<Collector> = LazyLock::new(Collector::new);

/// The collector behind the metrics registered in the global registry.
pub fn collector() -> &'static Collector {
    &GLOBAL
}

/// Makes sure the base and vendor metrics are in the global registry, and takes a first CPU
/// sample. Call it once at start-up; calling it again does nothing.
///
/// ```
/// microprofile_base::init();
/// ```
pub fn init() {
    collector().sample_cpu();
}

impl Collector {
    /// Registers every base and vendor family of this crate into `registry`, read from this
    /// collector. The global registry already holds them (read from [`collector()`]); this is for
    /// registries of your own.
    pub fn register_into(self: &Arc<Self>, registry: &Registry) -> Result<(), Error> {
        for &id in FamilyId::ALL {
            registry.register(
                id.metadata(),
                Arc::new(BaseFamily {
                    id,
                    collector: Some(Arc::clone(self)),
                }),
            )?;
        }
        Ok(())
    }
}

/// One family of this crate: its series come from a collector's current snapshot.
struct BaseFamily {
    id: FamilyId,
    /// `None` for the global collector.
    collector: Option<Arc<Collector>>,
}

impl BaseFamily {
    const fn global(id: FamilyId) -> BaseFamily {
        BaseFamily {
            id,
            collector: None,
        }
    }
}

impl Collect for BaseFamily {
    fn collect_type(&self) -> MetricType {
        self.id.kind()
    }
    fn label_names(&self) -> &[&'static str] {
        self.id.labels()
    }
    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        let snapshot = match &self.collector {
            Some(collector) => collector.snapshot(),
            None => collector().snapshot(),
        };
        snapshot.emit(self.id, f)
    }
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Declares every family once: its id, the static registered globally, type, scope, declared name,
/// unit, label names (sorted) and description.
macro_rules! families {
    ($( $id:ident => $static:ident: $kind:ident, $scope:ident, $name:literal, $unit:literal,
        [$($label:literal),*], $desc:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum FamilyId { $($id,)* }

        impl FamilyId {
            const ALL: &'static [FamilyId] = &[$(FamilyId::$id,)*];
            fn kind(self) -> MetricType {
                match self { $(FamilyId::$id => MetricType::$kind,)* }
            }
            fn labels(self) -> &'static [&'static str] {
                match self { $(FamilyId::$id => &[$($label),*],)* }
            }
            fn metadata(self) -> Metadata {
                match self {
                    $(FamilyId::$id => Metadata::new($name).unit($unit).scope(Scope::$scope)
                        .description($desc),)*
                }
            }
        }

        $(
            static $static: BaseFamily = BaseFamily::global(FamilyId::$id);
            microprofile::register!(
                $static,
                Metadata::new($name).unit($unit).scope(Scope::$scope).description($desc)
            );
        )*
    };
}

families! {
    CpuUsage => CPU_USAGE: Gauge, Base, "cpu_usage", "percent", [],
        "CPU time used by the whole machine (all modes but idle and iowait) over the interval since the previous refresh, in percent of all processors.";
    CpuUsageUser => CPU_USAGE_USER: Gauge, Base, "cpu_usage_user", "percent", [],
        "CPU time in user mode (user and nice) over the interval since the previous refresh, in percent of all processors.";
    CpuUsageSystem => CPU_USAGE_SYSTEM: Gauge, Base, "cpu_usage_system", "percent", [],
        "CPU time in kernel mode (system, irq and softirq) over the interval since the previous refresh, in percent of all processors.";
    CpuTime => CPU_TIME: Counter, Base, "cpu_time", "seconds", ["mode"],
        "CPU time of the whole machine spent in each mode, summed over all processors.";
    CpuAvailableProcessors => CPU_AVAILABLE_PROCESSORS: Gauge, Base, "cpu_available_processors", "", [],
        "Processors this process may run on (CPU affinity and cgroup CPU quota applied).";
    LoadAverage1m => LOAD_AVERAGE_1M: Gauge, Base, "system_load_average_1m", "", [],
        "System load average over 1 minute.";
    LoadAverage5m => LOAD_AVERAGE_5M: Gauge, Base, "system_load_average_5m", "", [],
        "System load average over 5 minutes.";
    LoadAverage15m => LOAD_AVERAGE_15M: Gauge, Base, "system_load_average_15m", "", [],
        "System load average over 15 minutes.";
    MemoryTotal => MEMORY_TOTAL: Gauge, Base, "memory_total", "bytes", [],
        "Physical memory (MemTotal).";
    MemoryUsed => MEMORY_USED: Gauge, Base, "memory_used", "bytes", [],
        "Memory in use: MemTotal minus MemAvailable.";
    MemoryCgroupLimit => MEMORY_CGROUP_LIMIT: Gauge, Base, "memory_cgroup_limit", "bytes", [],
        "Memory limit of this process's cgroup (smallest of its own and its ancestors'); absent when none is set.";
    FilesystemSize => FILESYSTEM_SIZE: Gauge, Base, "filesystem_size", "bytes", ["device", "fstype", "mountpoint"],
        "Total size of each real filesystem, as df shows it.";
    FilesystemUsed => FILESYSTEM_USED: Gauge, Base, "filesystem_used", "bytes", ["device", "fstype", "mountpoint"],
        "Used space of each real filesystem: size minus free, as df shows it.";
    FilesystemAvailable => FILESYSTEM_AVAILABLE: Gauge, Base, "filesystem_available", "bytes", ["device", "fstype", "mountpoint"],
        "Space of each real filesystem available to unprivileged users, as df shows it.";
    NetworkReceiveBytes => NETWORK_RECEIVE_BYTES: Counter, Base, "network_receive_bytes", "bytes", ["device"],
        "Bytes received, per network interface.";
    NetworkTransmitBytes => NETWORK_TRANSMIT_BYTES: Counter, Base, "network_transmit_bytes", "bytes", ["device"],
        "Bytes transmitted, per network interface.";
    NetworkReceivePackets => NETWORK_RECEIVE_PACKETS: Counter, Base, "network_receive_packets", "packets", ["device"],
        "Packets received, per network interface.";
    NetworkTransmitPackets => NETWORK_TRANSMIT_PACKETS: Counter, Base, "network_transmit_packets", "packets", ["device"],
        "Packets transmitted, per network interface.";
    NetworkReceiveDropped => NETWORK_RECEIVE_DROPPED: Counter, Base, "network_receive_dropped", "packets", ["device"],
        "Received packets dropped, per network interface.";
    NetworkTransmitDropped => NETWORK_TRANSMIT_DROPPED: Counter, Base, "network_transmit_dropped", "packets", ["device"],
        "Packets dropped on transmit, per network interface.";
    NetworkReceiveErrors => NETWORK_RECEIVE_ERRORS: Counter, Base, "network_receive_errors", "", ["device"],
        "Receive errors, per network interface.";
    NetworkTransmitErrors => NETWORK_TRANSMIT_ERRORS: Counter, Base, "network_transmit_errors", "", ["device"],
        "Transmit errors, per network interface.";
    SocketsInUse => SOCKETS_IN_USE: Gauge, Base, "sockets_in_use", "", [],
        "Sockets in use, of every protocol family (IPv4, IPv6, Unix, ...).";
    TcpSocketsInUse => TCP_SOCKETS_IN_USE: Gauge, Base, "tcp_sockets_in_use", "", [],
        "TCP sockets in use, IPv4 and IPv6, in this network namespace.";
    UdpSocketsInUse => UDP_SOCKETS_IN_USE: Gauge, Base, "udp_sockets_in_use", "", [],
        "UDP sockets in use, IPv4 and IPv6 (UDP-Lite not included), in this network namespace.";
    ThreadCount => THREAD_COUNT: Gauge, Base, "threads", "", [],
        "Threads of this process.";
    ProcessUptime => PROCESS_UPTIME: Gauge, Base, "process_uptime", "seconds", [],
        "Time since this process started.";
    ProcessCpuSeconds => PROCESS_CPU_SECONDS: Counter, Vendor, "process_cpu_seconds_total", "seconds", [],
        "Total user and system CPU time spent in seconds.";
    ProcessResidentMemory => PROCESS_RESIDENT_MEMORY: Gauge, Vendor, "process_resident_memory", "bytes", [],
        "Resident memory size in bytes.";
    ProcessVirtualMemory => PROCESS_VIRTUAL_MEMORY: Gauge, Vendor, "process_virtual_memory", "bytes", [],
        "Virtual memory size in bytes.";
    ProcessStartTime => PROCESS_START_TIME: Gauge, Vendor, "process_start_time", "seconds", [],
        "Start time of the process since unix epoch in seconds.";
    ProcessOpenFds => PROCESS_OPEN_FDS: Gauge, Vendor, "process_open_fds", "", [],
        "Number of open file descriptors.";
    ProcessMaxFds => PROCESS_MAX_FDS: Gauge, Vendor, "process_max_fds", "", [],
        "Maximum number of open file descriptors.";
    ProcessThreads => PROCESS_THREADS: Gauge, Vendor, "process_threads", "", [],
        "Number of OS threads in the process.";
}
