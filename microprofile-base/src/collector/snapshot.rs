//! The snapshot: every figure of one refresh, and how each family hands its series to the
//! encoder.
//!
//! Apart from the readers because it is the only part the families see: it holds values already
//! read (no I/O, no lock), and [`Snapshot::emit`] maps each family to its series.

use std::time::{SystemTime, UNIX_EPOCH};

use microprofile::metric::{Metric, Number, SeriesLabels, Visitor};
use microprofile::MetricType;

use super::labels::{DeviceLabel, FsLabels, Labelled, ModeLabel};
use crate::parse::{CpuPercent, NetDev};
use crate::sys::FsUsage;
use crate::FamilyId;

/// One filesystem to report: its labels and its sizes.
#[derive(Debug, Clone)]
pub(super) struct Filesystem {
    pub(super) labels: Labelled<FsLabels>,
    pub(super) usage: FsUsage,
}

/// One network interface: its label and its counters.
#[derive(Debug, Clone)]
pub(super) struct Interface {
    pub(super) labels: Labelled<DeviceLabel>,
    pub(super) counters: NetDev,
}

/// This process's figures from `/proc/self/stat`, in the units of the families.
#[derive(Debug, Clone, Copy)]
pub(super) struct Process {
    pub(super) cpu_seconds: f64,
    pub(super) resident_bytes: u64,
    pub(super) virtual_bytes: u64,
    pub(super) threads: u64,
    pub(super) start_time: Option<f64>,
}

/// Everything read in one refresh. Values whose source was missing or unreadable are absent, and
/// so are their series.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Seconds in each mode, with the `mode` label, sorted by it.
    pub(super) cpu_seconds: Option<[(Labelled<ModeLabel>, f64); 8]>,
    pub(super) cpu_percent: Option<CpuPercent>,
    pub(super) processors: Option<u64>,
    pub(super) load: Option<[f64; 3]>,
    pub(super) memory_total: Option<u64>,
    pub(super) memory_available: Option<u64>,
    pub(super) memory_cgroup_limit: Option<u64>,
    pub(super) filesystems: Vec<Filesystem>,
    pub(super) interfaces: Vec<Interface>,
    pub(super) sockets_used: Option<u64>,
    pub(super) tcp_in_use: Option<u64>,
    pub(super) udp_in_use: Option<u64>,
    pub(super) process: Option<Process>,
    pub(super) open_fds: Option<u64>,
    pub(super) max_fds: Option<u64>,
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

/// The callback of `Collect::collect`: the labels (pairs and rendered) and one value.
type Sink<'a> = &'a mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric);

/// No labels.
const NONE: &SeriesLabels<'static> = &SeriesLabels::NONE;

fn gauge(f: Sink<'_>, labels: &SeriesLabels<'_>, value: Option<f64>) {
    if let Some(v) = value.filter(|v| v.is_finite()) {
        f(labels, &Sample::Gauge(Number::Float(v)))
    }
}

fn gauge_int(f: Sink<'_>, labels: &SeriesLabels<'_>, value: Option<u64>) {
    if let Some(v) = value {
        f(labels, &Sample::Gauge(Number::UInt(v)))
    }
}

fn counter_int(f: Sink<'_>, labels: &SeriesLabels<'_>, value: u64) {
    f(labels, &Sample::Counter(Number::UInt(value)))
}

impl Snapshot {
    /// Hands each series of one family to `f`, sorted by labels.
    pub(crate) fn emit(&self, id: FamilyId, f: Sink<'_>) {
        let percent = self.cpu_percent;
        let process = self.process;
        match id {
            FamilyId::CpuUsage => gauge(f, NONE, percent.map(|p| p.total)),
            FamilyId::CpuUsageUser => gauge(f, NONE, percent.map(|p| p.user)),
            FamilyId::CpuUsageSystem => gauge(f, NONE, percent.map(|p| p.system)),
            FamilyId::CpuTime => {
                for (labels, seconds) in self.cpu_seconds.iter().flatten() {
                    let labels = labels.series_labels();
                    f(&labels, &Sample::Counter(Number::Float(*seconds)));
                }
            }
            FamilyId::CpuAvailableProcessors => gauge_int(f, NONE, self.processors),
            FamilyId::LoadAverage1m => gauge(f, NONE, self.load.map(|l| l[0])),
            FamilyId::LoadAverage5m => gauge(f, NONE, self.load.map(|l| l[1])),
            FamilyId::LoadAverage15m => gauge(f, NONE, self.load.map(|l| l[2])),
            FamilyId::MemoryTotal => gauge_int(f, NONE, self.memory_total),
            FamilyId::MemoryUsed => gauge_int(f, NONE, self.memory_used()),
            FamilyId::MemoryCgroupLimit => gauge_int(f, NONE, self.memory_cgroup_limit),
            FamilyId::FilesystemSize => {
                for fs in &self.filesystems {
                    gauge_int(f, &fs.labels.series_labels(), Some(fs.usage.size));
                }
            }
            FamilyId::FilesystemUsed => {
                for fs in &self.filesystems {
                    gauge_int(
                        f,
                        &fs.labels.series_labels(),
                        Some(fs.usage.size.saturating_sub(fs.usage.free)),
                    );
                }
            }
            FamilyId::FilesystemAvailable => {
                for fs in &self.filesystems {
                    gauge_int(f, &fs.labels.series_labels(), Some(fs.usage.available));
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
            FamilyId::SocketsInUse => gauge_int(f, NONE, self.sockets_used),
            FamilyId::TcpSocketsInUse => gauge_int(f, NONE, self.tcp_in_use),
            FamilyId::UdpSocketsInUse => gauge_int(f, NONE, self.udp_in_use),
            FamilyId::ThreadCount => gauge_int(f, NONE, process.map(|p| p.threads)),
            FamilyId::ProcessUptime => {
                let uptime = process.and_then(|p| p.start_time).map(|start| {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    (now - start).max(0.0)
                });
                gauge(f, NONE, uptime)
            }
            FamilyId::ProcessCpuSeconds => {
                if let Some(p) = process {
                    f(NONE, &Sample::Counter(Number::Float(p.cpu_seconds)))
                }
            }
            FamilyId::ProcessResidentMemory => {
                gauge_int(f, NONE, process.map(|p| p.resident_bytes))
            }
            FamilyId::ProcessVirtualMemory => gauge_int(f, NONE, process.map(|p| p.virtual_bytes)),
            FamilyId::ProcessStartTime => gauge(f, NONE, process.and_then(|p| p.start_time)),
            FamilyId::ProcessOpenFds => gauge_int(f, NONE, self.open_fds),
            FamilyId::ProcessMaxFds => gauge_int(f, NONE, self.max_fds),
            FamilyId::ProcessThreads => gauge_int(f, NONE, process.map(|p| p.threads)),
        }
    }

    fn each_interface(&self, f: Sink<'_>, value: impl Fn(&NetDev) -> u64) {
        for interface in &self.interfaces {
            counter_int(
                f,
                &interface.labels.series_labels(),
                value(&interface.counters),
            );
        }
    }

    /// MemTotal − MemAvailable, in bytes.
    pub(super) fn memory_used(&self) -> Option<u64> {
        Some(self.memory_total?.saturating_sub(self.memory_available?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::parse::CpuTicks;
    use microprofile::metric::{HistogramView, SummaryView};

    /// The one value a sample hands over, with the kind of call that handed it.
    struct Read(Option<(MetricType, Number)>);

    impl Visitor for Read {
        fn counter(&mut self, value: Number) {
            self.0 = Some((MetricType::Counter, value));
        }
        fn gauge(&mut self, value: Number) {
            self.0 = Some((MetricType::Gauge, value));
        }
        fn histogram(&mut self, _: &HistogramView<'_>) {
            unreachable!("the snapshot has no histogram")
        }
        fn summary(&mut self, _: &SummaryView<'_>) {
            unreachable!("the snapshot has no summary")
        }
    }

    /// Every series `emit` hands over for one family: rendered labels and value, each value
    /// handed as the type its sample declares, the label pairs agreeing with the rendered text.
    fn series(snapshot: &Snapshot, id: FamilyId) -> Vec<(String, Number)> {
        let mut out = Vec::new();
        snapshot.emit(id, &mut |labels, metric| {
            let mut read = Read(None);
            metric.visit(&mut read);
            let (kind, value) = read.0.expect("a sample hands over one value");
            assert_eq!(kind, metric.metric_type(), "{id:?}");
            let pairs = labels.to_pairs();
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (&**n, &**v)).collect();
            assert_eq!(
                labels.rendered(),
                SeriesLabels::from_pairs(&pairs, labels.rendered()).rendered()
            );
            let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, id.labels(), "{id:?}");
            out.push((labels.rendered().to_owned(), value));
        });
        out
    }

    #[test]
    fn an_empty_snapshot_emits_nothing() {
        let empty = Snapshot::default();
        for &id in FamilyId::ALL {
            assert_eq!(series(&empty, id), [], "{id:?}");
        }
    }

    #[test]
    fn values_as_each_family_computes_them() {
        let snapshot = Snapshot {
            cpu_seconds: Some(
                CpuTicks {
                    idle: 1,
                    iowait: 2,
                    ..CpuTicks::default()
                }
                .modes()
                .map(|(mode, ticks)| (Labelled::new(ModeLabel(mode)), ticks as f64)),
            ),
            load: Some([0.5, f64::NAN, f64::INFINITY]),
            // MemAvailable above MemTotal (never seen, but not trusted): used is 0, not a wrap.
            memory_total: Some(100),
            memory_available: Some(200),
            filesystems: vec![Filesystem {
                labels: Labelled::new(FsLabels {
                    device: "/dev/sda".into(),
                    fstype: "ext4".into(),
                    mountpoint: "/".into(),
                }),
                usage: FsUsage {
                    size: 10,
                    free: 30,
                    available: 5,
                },
            }],
            ..Snapshot::default()
        };
        assert_eq!(
            series(&snapshot, FamilyId::CpuTime)[..2],
            [
                ("mode=\"idle\"".to_owned(), Number::Float(1.0)),
                ("mode=\"iowait\"".to_owned(), Number::Float(2.0)),
            ]
        );
        // Non-finite gauges are left out.
        assert_eq!(
            series(&snapshot, FamilyId::LoadAverage1m),
            [(String::new(), Number::Float(0.5))]
        );
        assert_eq!(series(&snapshot, FamilyId::LoadAverage5m), []);
        assert_eq!(series(&snapshot, FamilyId::LoadAverage15m), []);
        assert_eq!(
            series(&snapshot, FamilyId::MemoryUsed),
            [(String::new(), Number::UInt(0))]
        );
        let fs = |id| series(&snapshot, id);
        let labels = "device=\"/dev/sda\",fstype=\"ext4\",mountpoint=\"/\"".to_owned();
        assert_eq!(
            fs(FamilyId::FilesystemSize),
            [(labels.clone(), Number::UInt(10))]
        );
        assert_eq!(
            fs(FamilyId::FilesystemUsed),
            [(labels.clone(), Number::UInt(0))]
        );
        assert_eq!(
            fs(FamilyId::FilesystemAvailable),
            [(labels, Number::UInt(5))]
        );
    }
}
