//! The collector: reads every source into a [`Snapshot`], cached for a minimum interval so that
//! any number of scrapes (and every family of one scrape) share one refresh.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use microprofile::metric::family::render;
use microprofile::metric::{Metric, Number, Visitor};
use microprofile::{LabelSet, MetricType};

use crate::parse::{self, CpuPercent, CpuTicks, Mount, NetDev};
use crate::sys::{self, FsUsage};
use crate::FamilyId;

/// The default minimum time between two refreshes.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The smallest minimum refresh interval: one scrape reads every family well within it.
pub const REFRESH_INTERVAL_FLOOR: Duration = Duration::from_millis(100);

/// CPU percentages need two samples at least this far apart; closer samples are too coarse (the
/// kernel counts in ticks of 10 ms) and are never reported.
pub const MIN_CPU_SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// Filesystem types always counted as real although `/proc/filesystems` marks them `nodev`:
/// network filesystems and ZFS.
const REAL_NODEV_TYPES: &[&str] = &["nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "zfs"];

/// Filesystem types never counted: overlays (their size is the lower filesystem's, reported
/// already) and read-only images, which are always 100 % used.
const EXCLUDED_TYPES: &[&str] = &["overlay", "aufs", "squashfs", "iso9660", "erofs"];

/// Pseudo filesystems, used when `/proc/filesystems` cannot be read.
const PSEUDO_TYPES: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fuse",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// Whether a filesystem type is backed by storage (a block device or a network share).
pub(crate) fn is_real_filesystem(fstype: &str, nodev: Option<&HashSet<String>>) -> bool {
    if EXCLUDED_TYPES.contains(&fstype) {
        return false;
    }
    if REAL_NODEV_TYPES.contains(&fstype) {
        return true;
    }
    // `fuse.sshfs` is a subtype of `fuse`.
    let base = fstype.split('.').next().unwrap_or(fstype);
    match nodev {
        Some(nodev) => !nodev.contains(fstype) && !nodev.contains(base),
        None => !PSEUDO_TYPES.contains(&fstype) && !PSEUDO_TYPES.contains(&base),
    }
}

/// The mounts to report: visible (a later mount on the same mount point hides the earlier one),
/// real, and one per device (a device mounted more than once, e.g. by bind mounts, is reported at
/// its shortest mount point).
pub(crate) fn select_mounts(mounts: Vec<Mount>, nodev: Option<&HashSet<String>>) -> Vec<Mount> {
    let mut last_at: HashMap<&str, usize> = HashMap::new();
    for (i, m) in mounts.iter().enumerate() {
        last_at.insert(m.mountpoint.as_str(), i);
    }
    let mut by_device: Vec<Mount> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        if last_at.get(m.mountpoint.as_str()) != Some(&i) || !is_real_filesystem(&m.fstype, nodev) {
            continue;
        }
        match by_device.iter_mut().find(|kept| kept.device == m.device) {
            Some(kept) if m.mountpoint.len() < kept.mountpoint.len() => *kept = m.clone(),
            Some(_) => {}
            None => by_device.push(m.clone()),
        }
    }
    by_device
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct DeviceLabel(String);

impl LabelSet for DeviceLabel {
    const NAMES: &'static [&'static str] = &["device"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct FsLabels {
    device: String,
    fstype: String,
    mountpoint: String,
}

impl LabelSet for FsLabels {
    const NAMES: &'static [&'static str] = &["device", "fstype", "mountpoint"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.device);
        f(&self.fstype);
        f(&self.mountpoint);
    }
}

#[derive(Debug, Clone)]
struct Filesystem {
    labels: String,
    usage: FsUsage,
}

#[derive(Debug, Clone)]
struct Interface {
    labels: String,
    counters: NetDev,
}

#[derive(Debug, Clone, Copy)]
struct Process {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    start_time: Option<f64>,
}

/// Everything read in one refresh. Values whose source was missing or unreadable are absent, and
/// so are their series.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    cpu_seconds: Option<[(&'static str, f64); 8]>,
    cpu_percent: Option<CpuPercent>,
    processors: Option<u64>,
    load: Option<[f64; 3]>,
    memory_total: Option<u64>,
    memory_available: Option<u64>,
    memory_cgroup_limit: Option<u64>,
    filesystems: Vec<Filesystem>,
    interfaces: Vec<Interface>,
    sockets_used: Option<u64>,
    tcp_in_use: Option<u64>,
    udp_in_use: Option<u64>,
    process: Option<Process>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// One value handed to the encoder.
enum Sample {
    Counter(Number),
    Gauge(Number),
}

impl Metric for Sample {
    fn metric_type(&self) -> MetricType {
        match self {
            Sample::Counter(_) => MetricType::Counter,
            Sample::Gauge(_) => MetricType::Gauge,
        }
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        match *self {
            Sample::Counter(v) => visitor.counter(v),
            Sample::Gauge(v) => visitor.gauge(v),
        }
    }
}

type Sink<'a> = &'a mut dyn FnMut(&str, &dyn Metric);

fn gauge(f: Sink<'_>, labels: &str, value: Option<f64>) {
    if let Some(v) = value.filter(|v| v.is_finite()) {
        f(labels, &Sample::Gauge(Number::Float(v)))
    }
}

fn gauge_int(f: Sink<'_>, labels: &str, value: Option<u64>) {
    if let Some(v) = value {
        f(labels, &Sample::Gauge(Number::UInt(v)))
    }
}

fn counter_int(f: Sink<'_>, labels: &str, value: u64) {
    f(labels, &Sample::Counter(Number::UInt(value)))
}

impl Snapshot {
    /// Hands each series of one family to `f`, sorted by labels.
    pub(crate) fn emit(&self, id: FamilyId, f: Sink<'_>) {
        let percent = self.cpu_percent;
        let process = self.process;
        match id {
            FamilyId::CpuUsage => gauge(f, "", percent.map(|p| p.total)),
            FamilyId::CpuUsageUser => gauge(f, "", percent.map(|p| p.user)),
            FamilyId::CpuUsageSystem => gauge(f, "", percent.map(|p| p.system)),
            FamilyId::CpuTime => {
                for (labels, seconds) in self.cpu_seconds.iter().flatten() {
                    f(labels, &Sample::Counter(Number::Float(*seconds)));
                }
            }
            FamilyId::CpuAvailableProcessors => gauge_int(f, "", self.processors),
            FamilyId::LoadAverage1m => gauge(f, "", self.load.map(|l| l[0])),
            FamilyId::LoadAverage5m => gauge(f, "", self.load.map(|l| l[1])),
            FamilyId::LoadAverage15m => gauge(f, "", self.load.map(|l| l[2])),
            FamilyId::MemoryTotal => gauge_int(f, "", self.memory_total),
            FamilyId::MemoryUsed => gauge_int(f, "", self.memory_used()),
            FamilyId::MemoryCgroupLimit => gauge_int(f, "", self.memory_cgroup_limit),
            FamilyId::FilesystemSize => {
                for fs in &self.filesystems {
                    gauge_int(f, &fs.labels, Some(fs.usage.size));
                }
            }
            FamilyId::FilesystemUsed => {
                for fs in &self.filesystems {
                    gauge_int(
                        f,
                        &fs.labels,
                        Some(fs.usage.size.saturating_sub(fs.usage.free)),
                    );
                }
            }
            FamilyId::FilesystemAvailable => {
                for fs in &self.filesystems {
                    gauge_int(f, &fs.labels, Some(fs.usage.available));
                }
            }
            FamilyId::NetworkReceiveBytes => self.each_interface(f, |c| c.rx_bytes),
            FamilyId::NetworkTransmitBytes => self.each_interface(f, |c| c.tx_bytes),
            FamilyId::NetworkReceivePackets => self.each_interface(f, |c| c.rx_packets),
            FamilyId::NetworkTransmitPackets => self.each_interface(f, |c| c.tx_packets),
            FamilyId::NetworkReceiveDropped => self.each_interface(f, |c| c.rx_dropped),
            FamilyId::NetworkTransmitDropped => self.each_interface(f, |c| c.tx_dropped),
            FamilyId::NetworkReceiveErrors => self.each_interface(f, |c| c.rx_errors),
            FamilyId::NetworkTransmitErrors => self.each_interface(f, |c| c.tx_errors),
            FamilyId::SocketsInUse => gauge_int(f, "", self.sockets_used),
            FamilyId::TcpSocketsInUse => gauge_int(f, "", self.tcp_in_use),
            FamilyId::UdpSocketsInUse => gauge_int(f, "", self.udp_in_use),
            FamilyId::ThreadCount => gauge_int(f, "", process.map(|p| p.threads)),
            FamilyId::ProcessUptime => {
                let uptime = process.and_then(|p| p.start_time).map(|start| {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    (now - start).max(0.0)
                });
                gauge(f, "", uptime)
            }
            FamilyId::ProcessCpuSeconds => {
                if let Some(p) = process {
                    f("", &Sample::Counter(Number::Float(p.cpu_seconds)))
                }
            }
            FamilyId::ProcessResidentMemory => gauge_int(f, "", process.map(|p| p.resident_bytes)),
            FamilyId::ProcessVirtualMemory => gauge_int(f, "", process.map(|p| p.virtual_bytes)),
            FamilyId::ProcessStartTime => gauge(f, "", process.and_then(|p| p.start_time)),
            FamilyId::ProcessOpenFds => gauge_int(f, "", self.open_fds),
            FamilyId::ProcessMaxFds => gauge_int(f, "", self.max_fds),
            FamilyId::ProcessThreads => gauge_int(f, "", process.map(|p| p.threads)),
        }
    }

    fn each_interface(&self, f: Sink<'_>, value: impl Fn(&NetDev) -> u64) {
        for interface in &self.interfaces {
            counter_int(f, &interface.labels, value(&interface.counters));
        }
    }

    /// MemTotal − MemAvailable, in bytes.
    fn memory_used(&self) -> Option<u64> {
        Some(self.memory_total?.saturating_sub(self.memory_available?))
    }
}

/// What a refresh needs from the previous one; held only while refreshing.
struct State {
    cpu_sample: Option<(Instant, CpuTicks)>,
}

/// The latest snapshot and when it was read.
type Cached = Option<(Instant, Arc<Snapshot>)>;

/// Reads host and process figures from `/proc`, cgroup files and `statvfs(2)`.
///
/// The global collector behind the registered metrics reads the real `/`; a collector of its own,
/// registered into a [`Registry`](microprofile::Registry) of its own with
/// [`register_into`](Self::register_into), can read a different root (a container's host root
/// mounted at `/host`, or a test fixture).
///
/// ```
/// use std::sync::Arc;
/// use microprofile::{Format, Registry, Scope, Selection};
/// let registry = Registry::new();
/// let collector = Arc::new(microprofile_base::Collector::new());
/// collector.register_into(&registry).unwrap();
/// let text = registry.encode_to_string(Format::Prometheus, Selection::Scope(&Scope::Base));
/// # #[cfg(target_os = "linux")]
/// assert!(text.contains("memory_total_bytes{mp_scope=\"base\"}"));
/// ```
pub struct Collector {
    root: PathBuf,
    min_interval: Duration,
    clock_ticks: u64,
    page_size: u64,
    /// Taken to refresh (one refresh at a time), never to read the cached snapshot.
    state: Mutex<State>,
    /// Read by every family of every scrape; written once per refresh.
    cached: RwLock<Cached>,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("root", &self.root)
            .field("min_interval", &self.min_interval)
            .field("refreshes", &self.refreshes())
            .finish_non_exhaustive()
    }
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

impl Collector {
    /// A collector of the real system (root `/`), refreshing at most once per
    /// [`DEFAULT_MIN_REFRESH_INTERVAL`].
    pub fn new() -> Collector {
        Collector::with_root("/")
    }

    /// A collector reading `<root>/proc/...`, the cgroup mounts listed there under `<root>`, and
    /// the filesystems mounted at `<root>/<mountpoint>`. A root without these files gives a
    /// snapshot without the metrics they provide.
    pub fn with_root(root: impl Into<PathBuf>) -> Collector {
        Collector {
            root: root.into(),
            min_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            clock_ticks: sys::clock_ticks_per_second(),
            page_size: sys::page_size(),
            state: Mutex::new(State { cpu_sample: None }),
            cached: RwLock::new(None),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Sets the minimum time between two refreshes: scrapes within it share the cached snapshot.
    /// Intervals below [`REFRESH_INTERVAL_FLOOR`] are raised to it, so that the families of one
    /// scrape always share one refresh. CPU percentages are reported only from samples at least
    /// [`MIN_CPU_SAMPLE_INTERVAL`] apart, whatever this interval.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Collector {
        self.min_interval = interval.max(REFRESH_INTERVAL_FLOOR);
        self
    }

    /// How many refreshes this collector has made.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still holds a usable state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached snapshot, or a new one if the cached one is older than the minimum interval.
    /// Reading a fresh snapshot takes only a shared lock, so concurrent scrapes never queue on
    /// one another; concurrent callers that find it expired wait for one refresh and share it.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        if let Some(snapshot) = self.fresh() {
            return snapshot;
        }
        let mut state = self.lock();
        // Another caller may have refreshed while this one waited for the lock.
        if let Some(snapshot) = self.fresh() {
            return snapshot;
        }
        self.refresh_locked(&mut state)
    }

    /// The cached snapshot if it is younger than the minimum interval.
    fn fresh(&self) -> Option<Arc<Snapshot>> {
        // Nothing panics while the lock is held; a poisoned lock still holds a usable snapshot.
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some((at, snapshot)) if at.elapsed() < self.min_interval => Some(Arc::clone(snapshot)),
            _ => None,
        }
    }

    /// A new snapshot now, whatever the age of the cached one.
    pub fn refresh(&self) -> Arc<Snapshot> {
        let mut state = self.lock();
        self.refresh_locked(&mut state)
    }

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

    fn refresh_locked(&self, state: &mut State) -> Arc<Snapshot> {
        let snapshot = Arc::new(self.read_all(state));
        let fresh = Some((Instant::now(), Arc::clone(&snapshot)));
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        snapshot
    }

    fn proc_path(&self, relative: &str) -> PathBuf {
        self.root.join("proc").join(relative)
    }

    fn read_proc(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.proc_path(relative)).ok()
    }

    /// `path` (absolute, as the kernel lists it) under this collector's root.
    fn under_root(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn read_stat(&self) -> parse::Stat {
        self.read_proc("stat")
            .map(|t| parse::parse_stat(&t))
            .unwrap_or_default()
    }

    fn read_all(&self, state: &mut State) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let ticks = self.clock_ticks as f64;

        let stat = self.read_stat();
        if let Some(cpu) = stat.cpu {
            let now = Instant::now();
            snapshot.cpu_seconds = Some(cpu.modes().map(|(labels, t)| (labels, t as f64 / ticks)));
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
                        labels: render(&FsLabels {
                            device: m.device,
                            fstype: m.fstype,
                            mountpoint: m.mountpoint,
                        }),
                        usage,
                    })
                })
                .collect();
        filesystems.sort_by(|a, b| a.labels.cmp(&b.labels));
        filesystems
    }

    fn interfaces(&self) -> Vec<Interface> {
        let Some(text) = self.read_proc("net/dev") else {
            return Vec::new();
        };
        let mut interfaces: Vec<Interface> = parse::parse_net_dev(&text)
            .into_iter()
            .map(|counters| Interface {
                labels: render(&DeviceLabel(counters.name.clone())),
                counters,
            })
            .collect();
        interfaces.sort_by(|a, b| a.labels.cmp(&b.labels));
        interfaces
    }

    /// The memory limit of this process's cgroup: the smallest limit set on it or an ancestor,
    /// cgroup v2 (`memory.max`) first, then v1 (`memory.limit_in_bytes`).
    fn cgroup_memory_limit(&self) -> Option<u64> {
        let cgroups = parse::parse_proc_cgroup(&self.read_proc("self/cgroup")?);
        let mounts = parse::parse_mountinfo(&self.read_proc("self/mountinfo")?);
        let v2 = cgroups
            .iter()
            .find(|e| e.hierarchy == "0" && e.controllers.is_empty())
            .zip(mounts.iter().find(|m| m.fstype == "cgroup2"))
            .and_then(|(entry, mount)| self.limit_in_hierarchy(mount, &entry.path, "memory.max"));
        if v2.is_some() {
            return v2;
        }
        let entry = cgroups
            .iter()
            .find(|e| e.controllers.iter().any(|c| c == "memory"))?;
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.iter().any(|o| o == "memory"))?;
        self.limit_in_hierarchy(mount, &entry.path, "memory.limit_in_bytes")
    }

    fn limit_in_hierarchy(
        &self,
        mount: &parse::MountInfo,
        cgroup_path: &str,
        file: &str,
    ) -> Option<u64> {
        let base = self.under_root(&mount.mountpoint);
        // The mount shows the hierarchy from `mount.root` down; a cgroup path outside it (or
        // climbing with `..`, as seen from another cgroup namespace) is read at the mount itself.
        let relative = cgroup_path
            .strip_prefix(mount.root.as_str())
            .filter(|r| !r.split('/').any(|part| part == ".."))
            .unwrap_or("")
            .trim_start_matches('/');
        let mut dir = base.join(relative);
        let mut limit: Option<u64> = None;
        loop {
            if let Some(value) = read_limit(&dir.join(file)) {
                limit = Some(limit.map_or(value, |l| l.min(value)));
            }
            if dir == base || !dir.pop() || !dir.starts_with(&base) {
                break;
            }
        }
        limit
    }
}

fn read_limit(path: &Path) -> Option<u64> {
    parse::parse_cgroup_limit(&std::fs::read_to_string(path).ok()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use microprofile::{Format, Registry, Scope, Selection};
    use std::sync::atomic::AtomicUsize;

    /// A fresh, empty directory under the system temp dir, removed on drop.
    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new(name: &str) -> TempRoot {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "microprofile-base-{name}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempRoot(dir)
        }
        fn write(&self, relative: &str, text: &str) {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mount(device: &str, mountpoint: &str, fstype: &str) -> Mount {
        Mount {
            device: device.into(),
            mountpoint: mountpoint.into(),
            fstype: fstype.into(),
        }
    }

    fn scrape(collector: Collector, scope: Scope) -> String {
        let registry = Registry::new();
        Arc::new(collector).register_into(&registry).unwrap();
        registry.encode_to_string(Format::Prometheus, Selection::Scope(&scope))
    }

    /// Sample lines only (no `#` lines).
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn real_filesystems() {
        let nodev = parse::parse_nodev_filesystems(
            "nodev\ttmpfs\nnodev\tfuse\nnodev\tnfs4\nnodev\toverlay\n\text4\n\tsquashfs\n",
        );
        for real in ["ext4", "xfs", "nfs4", "fuseblk", "zfs"] {
            assert!(is_real_filesystem(real, Some(&nodev)), "{real}");
        }
        for pseudo in ["tmpfs", "overlay", "squashfs", "fuse", "fuse.sshfs"] {
            assert!(!is_real_filesystem(pseudo, Some(&nodev)), "{pseudo}");
        }
        // Without /proc/filesystems, the built-in list decides.
        assert!(is_real_filesystem("ext4", None));
        for pseudo in ["proc", "sysfs", "tmpfs", "cgroup2", "overlay", "fuse.sshfs"] {
            assert!(!is_real_filesystem(pseudo, None), "{pseudo}");
        }
    }

    #[test]
    fn mount_selection() {
        let mounts = vec![
            mount("proc", "/proc", "proc"),
            mount("overlay", "/", "overlay"),
            mount("/dev/vda", "/data/sub", "ext4"),
            mount("/dev/vda", "/data", "ext4"),
            mount("/dev/vda", "/etc/hosts", "ext4"),
            mount("/dev/vdb", "/srv", "xfs"),
            // Mounted over /srv: the xfs below is hidden.
            mount("tmpfs", "/srv", "tmpfs"),
            mount("/dev/vdc", "/snap/core/1", "squashfs"),
            mount("server:/export", "/nfs", "nfs4"),
        ];
        let selected = select_mounts(mounts, None);
        assert_eq!(
            selected,
            vec![
                mount("/dev/vda", "/data", "ext4"),
                mount("server:/export", "/nfs", "nfs4"),
            ]
        );
    }

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

    const MOUNTINFO: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    fn fixture_root() -> TempRoot {
        let root = TempRoot::new("fixture");
        root.write(
            "proc/stat",
            "cpu  100 0 50 800 50 0 0 0 0 0\nbtime 1700000000\n",
        );
        root.write(
            "proc/meminfo",
            "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n",
        );
        root.write("proc/loadavg", "0.50 0.25 0.125 1/100 42\n");
        root.write(
            "proc/net/dev",
            "Inter-| Receive | Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n  lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\neth0: 2000 20 1 2 0 0 0 0 3000 30 3 4 0 0 0 0\n",
        );
        root.write(
            "proc/net/sockstat",
            "sockets: used 40\nTCP: inuse 5 orphan 0 tw 1 alloc 6 mem 1\nUDP: inuse 2 mem 0\n",
        );
        root.write("proc/net/sockstat6", "TCP6: inuse 3\nUDP6: inuse 1\n");
        root.write(
            "proc/self/stat",
            "42 (app) S 1 42 42 0 -1 0 0 0 0 0 250 50 0 0 20 0 9 0 1000 8192000 100 0\n",
        );
        root.write(
            "proc/self/limits",
            "Limit Soft Limit Hard Limit Units\nMax open files            4096                 8192                 files\n",
        );
        std::fs::create_dir_all(root.0.join("proc/self/fd")).unwrap();
        for fd in ["0", "1", "2"] {
            root.write(&format!("proc/self/fd/{fd}"), "");
        }
        root.write("proc/filesystems", "nodev\tproc\n\text4\n");
        // The collector's root itself is "mounted" at /, so statvfs has something real to read.
        root.write(
            "proc/self/mounts",
            "proc /proc proc rw 0 0\n/dev/fake / ext4 rw 0 0\n/dev/fake /bind ext4 rw 0 0\n",
        );
        root
    }

    #[test]
    fn fixture_values() {
        let root = fixture_root();
        root.write("proc/self/cgroup", "4:memory:/outer/app\n0::/\n");
        root.write("proc/self/mountinfo", MOUNTINFO);
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
    fn cgroup_v2_limit_and_none() {
        let root = fixture_root();
        root.write("proc/self/cgroup", "0::/outer/app\n");
        root.write("proc/self/mountinfo", MOUNTINFO);
        root.write("sys/fs/cgroup/unified/outer/memory.max", "max\n");
        root.write("sys/fs/cgroup/unified/outer/app/memory.max", "2097152\n");
        let collector = Collector::with_root(&root.0);
        assert_eq!(collector.cgroup_memory_limit(), Some(2097152));
        root.write("sys/fs/cgroup/unified/outer/app/memory.max", "max\n");
        assert_eq!(collector.cgroup_memory_limit(), None);
        // No limit: the family is left out, not written as HELP and TYPE with no sample.
        let text = scrape(Collector::with_root(&root.0), Scope::Base);
        assert!(!text.contains("memory_cgroup_limit_bytes"), "{text}");
        // A cgroup path from another namespace is read at the mount itself.
        root.write("proc/self/cgroup", "0::/../../elsewhere\n");
        root.write("sys/fs/cgroup/unified/memory.max", "4096\n");
        assert_eq!(collector.cgroup_memory_limit(), Some(4096));
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
    fn concurrent_scrapes_share_one_refresh() {
        let collector = Arc::new(Collector::new().min_refresh_interval(Duration::from_secs(60)));
        let registry = Arc::new(Registry::new());
        collector.register_into(&registry).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let registry = Arc::clone(&registry);
                std::thread::spawn(move || {
                    registry.encode_to_string(Format::Prometheus, Selection::All)
                })
            })
            .collect();
        for t in threads {
            assert!(!t.join().unwrap().is_empty());
        }
        assert_eq!(collector.refreshes(), 1);

        // Even with a zero interval, the families of one scrape share one refresh.
        let eager = Arc::new(Collector::new().min_refresh_interval(Duration::ZERO));
        let registry = Registry::new();
        eager.register_into(&registry).unwrap();
        registry.encode_to_string(Format::Prometheus, Selection::All);
        assert_eq!(eager.refreshes(), 1);
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
