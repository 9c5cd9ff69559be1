//! Parsers for the `/proc` and cgroup files the collector reads. Each takes the file's text and
//! returns what it could understand; a line it does not understand is skipped, never a panic.

use std::collections::HashSet;

/// Cumulative CPU time of the whole machine (the `cpu` line of `/proc/stat`), in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    pub(crate) user: u64,
    pub(crate) nice: u64,
    pub(crate) system: u64,
    pub(crate) idle: u64,
    pub(crate) iowait: u64,
    pub(crate) irq: u64,
    pub(crate) softirq: u64,
    pub(crate) steal: u64,
}

impl CpuTicks {
    /// Every mode with its name (the value of `cpu_time`'s `mode` label), sorted by name.
    pub(crate) fn modes(&self) -> [(&'static str, u64); 8] {
        [
            ("idle", self.idle),
            ("iowait", self.iowait),
            ("irq", self.irq),
            ("nice", self.nice),
            ("softirq", self.softirq),
            ("steal", self.steal),
            ("system", self.system),
            ("user", self.user),
        ]
    }
}

/// CPU usage over an interval, in percent of the whole machine (all processors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CpuPercent {
    /// Everything but idle and iowait.
    pub(crate) total: f64,
    /// user + nice (guest time is already part of both).
    pub(crate) user: f64,
    /// system + irq + softirq.
    pub(crate) system: f64,
}

/// Percentages between two readings; `None` when no tick elapsed. Counters that went backwards
/// (iowait may, on some kernels) count as zero.
pub(crate) fn cpu_percent(before: &CpuTicks, after: &CpuTicks) -> Option<CpuPercent> {
    let d = |a: u64, b: u64| b.saturating_sub(a) as f64;
    let user = d(before.user, after.user) + d(before.nice, after.nice);
    let system = d(before.system, after.system)
        + d(before.irq, after.irq)
        + d(before.softirq, after.softirq);
    let idle = d(before.idle, after.idle) + d(before.iowait, after.iowait);
    let steal = d(before.steal, after.steal);
    let all = user + system + idle + steal;
    if all <= 0.0 {
        return None;
    }
    Some(CpuPercent {
        total: 100.0 * (all - idle) / all,
        user: 100.0 * user / all,
        system: 100.0 * system / all,
    })
}

/// What the collector uses from `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) cpu: Option<CpuTicks>,
    /// Boot time, seconds since the epoch.
    pub(crate) boot_time: Option<u64>,
}

pub(crate) fn parse_stat(text: &str) -> Stat {
    let mut stat = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("cpu") => {
                let values: Vec<u64> = fields.map_while(|f| f.parse().ok()).collect();
                // user nice system idle are present on every kernel; later fields were added over
                // time and count as zero when absent.
                if values.len() >= 4 {
                    let at = |i: usize| values.get(i).copied().unwrap_or(0);
                    stat.cpu = Some(CpuTicks {
                        user: at(0),
                        nice: at(1),
                        system: at(2),
                        idle: at(3),
                        iowait: at(4),
                        irq: at(5),
                        softirq: at(6),
                        steal: at(7),
                    });
                }
            }
            Some("btime") => stat.boot_time = fields.next().and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    stat
}

/// What the collector uses from `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub(crate) total: Option<u64>,
    pub(crate) available: Option<u64>,
}

pub(crate) fn parse_meminfo(text: &str) -> MemInfo {
    let mut info = MemInfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match key.trim() {
            "MemTotal" => &mut info.total,
            "MemAvailable" => &mut info.available,
            _ => continue,
        };
        let mut parts = rest.split_ascii_whitespace();
        let value: Option<u64> = parts.next().and_then(|v| v.parse().ok());
        let factor = match parts.next() {
            None => 1,
            Some(u) if u.eq_ignore_ascii_case("kb") => 1024,
            Some(_) => continue,
        };
        *slot = value.and_then(|v| v.checked_mul(factor));
    }
    info
}

/// `/proc/loadavg`: the 1, 5 and 15 minute load averages.
pub(crate) fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace();
    let mut next = || fields.next().and_then(|f| f.parse::<f64>().ok());
    Some([next()?, next()?, next()?])
}

/// Counters of one interface from `/proc/net/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetDev {
    pub(crate) name: String,
    pub(crate) rx_bytes: u64,
    pub(crate) rx_packets: u64,
    pub(crate) rx_errors: u64,
    pub(crate) rx_dropped: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) tx_packets: u64,
    pub(crate) tx_errors: u64,
    pub(crate) tx_dropped: u64,
}

pub(crate) fn parse_net_dev(text: &str) -> Vec<NetDev> {
    let mut devices = Vec::new();
    for line in text.lines() {
        // Header lines have a `|` and no `:` before it; interface names never contain `:`.
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('|') {
            continue;
        }
        let values: Vec<u64> = counters
            .split_ascii_whitespace()
            .map_while(|v| v.parse().ok())
            .collect();
        // Fewer than 12 leading numbers: not a device line this parser understands.
        let (
            Some(&[rx_bytes, rx_packets, rx_errors, rx_dropped]),
            Some(&[tx_bytes, tx_packets, tx_errors, tx_dropped]),
        ) = (values.get(..4), values.get(8..12))
        else {
            continue;
        };
        devices.push(NetDev {
            name: name.to_owned(),
            rx_bytes,
            rx_packets,
            rx_errors,
            rx_dropped,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_dropped,
        });
    }
    devices
}

/// One `key value` pair of `/proc/net/sockstat` or `sockstat6`, e.g. `("TCP", "inuse")`.
pub(crate) fn sockstat_value(text: &str, protocol: &str, key: &str) -> Option<u64> {
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        if proto.trim() != protocol {
            continue;
        }
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        return fields
            .chunks(2)
            .find(|pair| pair.first() == Some(&key))
            .and_then(|pair| pair.get(1))
            .and_then(|v| v.parse().ok());
    }
    None
}

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) device: String,
    pub(crate) mountpoint: String,
    pub(crate) fstype: String,
}

/// Undoes the octal escapes the kernel writes for space, tab, newline and backslash.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if let (b'\\', Some(digits)) = (first, tail.get(..3)) {
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    rest = tail.get(3..).unwrap_or_default();
                    continue;
                }
            }
        }
        out.push(first);
        rest = tail;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let device = fields.next()?;
            let mountpoint = fields.next()?;
            let fstype = fields.next()?;
            Some(Mount {
                device: unescape_octal(device),
                mountpoint: unescape_octal(mountpoint),
                fstype: fstype.to_owned(),
            })
        })
        .collect()
}

/// The filesystem types `/proc/filesystems` marks `nodev` (not backed by a block device).
pub(crate) fn parse_nodev_filesystems(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            match (fields.next(), fields.next()) {
                (Some("nodev"), Some(name)) => Some(name.to_owned()),
                _ => None,
            }
        })
        .collect()
}

/// What the collector uses from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProcessStat {
    /// User-mode CPU time, clock ticks.
    pub(crate) utime: u64,
    /// Kernel-mode CPU time, clock ticks.
    pub(crate) stime: u64,
    pub(crate) threads: u64,
    /// Start time, clock ticks after boot.
    pub(crate) start_ticks: u64,
    /// Virtual memory size, bytes.
    pub(crate) vsize: u64,
    /// Resident set size, pages.
    pub(crate) rss_pages: u64,
}

pub(crate) fn parse_process_stat(text: &str) -> Option<ProcessStat> {
    // The command name is in parentheses and may itself contain spaces and parentheses: the fields
    // start after the last `)`.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc(5) (state), so field n is fields[n - 3].
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcessStat {
        utime: field(14)?,
        stime: field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

/// The soft limit on open files from `/proc/self/limits`; `None` when unlimited or absent.
pub(crate) fn parse_max_open_files(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|soft| soft.parse().ok())
}

/// One line of `/proc/self/cgroup`: hierarchy id, controllers, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupEntry {
    pub(crate) hierarchy: String,
    pub(crate) controllers: Vec<String>,
    pub(crate) path: String,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<CgroupEntry> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.to_owned();
            let controllers = parts.next()?;
            let path = parts.next()?.to_owned();
            Some(CgroupEntry {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path,
            })
        })
        .collect()
}

/// One line of `/proc/self/mountinfo`, the fields the cgroup lookup needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// The path inside the filesystem that is mounted (a cgroup path for cgroup mounts).
    pub(crate) root: String,
    pub(crate) mountpoint: String,
    pub(crate) fstype: String,
    pub(crate) super_options: Vec<String>,
}

pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let before: Vec<&str> = before.split_ascii_whitespace().collect();
            let mut after = after.split_ascii_whitespace();
            let fstype = after.next()?.to_owned();
            let _source = after.next();
            let super_options = after
                .next()
                .map(|o| o.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            Some(MountInfo {
                root: unescape_octal(before.get(3)?),
                mountpoint: unescape_octal(before.get(4)?),
                fstype,
                super_options,
            })
        })
        .collect()
}

/// v1 writes "no limit" as a huge number (`PAGE_COUNTER_MAX` pages, about 2^63 bytes).
const CGROUP_V1_UNLIMITED: u64 = 1 << 62;

/// A memory limit file: cgroup v2 `memory.max` (`max` = none) or v1 `memory.limit_in_bytes`.
pub(crate) fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < CGROUP_V1_UNLIMITED).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  8686 10 5464 124517 1150 3 138 1577 0 0
cpu0 3679 0 2271 63913 176 0 19 745 0 0
cpu1 5007 10 3192 60604 974 3 119 832 0 0
intr 2475 0 0
ctxt 4107285
btime 1763750000
processes 40000
";

    #[test]
    fn stat() {
        let stat = parse_stat(STAT);
        assert_eq!(
            stat.cpu,
            Some(CpuTicks {
                user: 8686,
                nice: 10,
                system: 5464,
                idle: 124517,
                iowait: 1150,
                irq: 3,
                softirq: 138,
                steal: 1577,
            })
        );
        assert_eq!(stat.boot_time, Some(1763750000));
        // An old kernel with four fields only.
        let old = parse_stat("cpu 1 2 3 4\n");
        assert_eq!(old.cpu.map(|c| (c.user, c.idle, c.steal)), Some((1, 4, 0)));
        assert_eq!(old.boot_time, None);
        assert_eq!(parse_stat("cpu 1 x\nbtime y\n"), Stat::default());
        assert_eq!(parse_stat(""), Stat::default());
    }

    #[test]
    fn percent() {
        let before = CpuTicks {
            user: 100,
            nice: 0,
            system: 50,
            idle: 800,
            iowait: 50,
            ..CpuTicks::default()
        };
        let after = CpuTicks {
            user: 140,
            nice: 10,
            system: 60,
            idle: 830,
            iowait: 50,
            irq: 5,
            softirq: 5,
            steal: 0,
        };
        // 100 ticks: 50 user+nice, 20 system+irq+softirq, 30 idle.
        let p = cpu_percent(&before, &after);
        assert_eq!(
            p,
            Some(CpuPercent {
                total: 70.0,
                user: 50.0,
                system: 20.0
            })
        );
        assert_eq!(cpu_percent(&after, &after), None);
        // iowait going backwards does not make a negative share.
        let mut back = after;
        back.iowait = 10;
        back.idle = 930;
        let p = cpu_percent(&after, &back).map(|p| p.total);
        assert_eq!(p, Some(0.0));
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24682416 kB\nMemFree:        1000 kB\nMemAvailable:   20000000 kB\nHugePages_Total:       0\n";
        assert_eq!(
            parse_meminfo(text),
            MemInfo {
                total: Some(24682416 * 1024),
                available: Some(20000000 * 1024)
            }
        );
        assert_eq!(
            parse_meminfo("MemTotal: 5 kB\n"),
            MemInfo {
                total: Some(5120),
                available: None
            }
        );
        assert_eq!(parse_meminfo("MemTotal: nope kB\n"), MemInfo::default());
        assert_eq!(parse_meminfo("MemTotal: 5 MB\n"), MemInfo::default());
        assert_eq!(parse_meminfo("garbage"), MemInfo::default());
    }

    #[test]
    fn loadavg() {
        assert_eq!(
            parse_loadavg("0.52 0.58 1.59 1/467 12345\n"),
            Some([0.52, 0.58, 1.59])
        );
        assert_eq!(parse_loadavg("0.52 0.58"), None);
        assert_eq!(parse_loadavg(""), None);
    }

    #[test]
    fn net_dev() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0:88606820    3417    1    2    0     0          0         0   309612    2477    3    4    0     0       0          0
  bad: 1 2 3
";
        let devices = parse_net_dev(text);
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].name, "lo");
        assert_eq!(devices[0].rx_bytes, 3193);
        assert_eq!(
            devices[1],
            NetDev {
                name: "eth0".into(),
                rx_bytes: 88606820,
                rx_packets: 3417,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 309612,
                tx_packets: 2477,
                tx_errors: 3,
                tx_dropped: 4,
            }
        );
        assert!(parse_net_dev("").is_empty());
    }

    #[test]
    fn sockstat() {
        let v4 = "sockets: used 13\nTCP: inuse 1 orphan 0 tw 2 alloc 1 mem 233\nUDP: inuse 3 mem 0\nUDPLITE: inuse 0\n";
        let v6 = "TCP6: inuse 4\nUDP6: inuse 5\nUDPLITE6: inuse 0\n";
        assert_eq!(sockstat_value(v4, "sockets", "used"), Some(13));
        assert_eq!(sockstat_value(v4, "TCP", "inuse"), Some(1));
        assert_eq!(sockstat_value(v4, "TCP", "tw"), Some(2));
        assert_eq!(sockstat_value(v4, "UDP", "inuse"), Some(3));
        assert_eq!(sockstat_value(v6, "TCP6", "inuse"), Some(4));
        assert_eq!(sockstat_value(v6, "UDP6", "inuse"), Some(5));
        assert_eq!(sockstat_value(v4, "TCP6", "inuse"), None);
        assert_eq!(sockstat_value("TCP: inuse", "TCP", "inuse"), None);
    }

    #[test]
    fn mounts() {
        let text = "proc /proc proc rw,relatime 0 0
/dev/vda / ext4 rw,relatime 0 0
/dev/vdb /mnt/my\\040disk\\134x xfs rw 0 0
short line
";
        let mounts = parse_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            mounts[2],
            Mount {
                device: "/dev/vdb".into(),
                mountpoint: "/mnt/my disk\\x".into(),
                fstype: "xfs".into()
            }
        );
        assert_eq!(unescape_octal("a\\04"), "a\\04");
        assert_eq!(unescape_octal("\\777"), "\\777");
        assert_eq!(unescape_octal("\\011\\012"), "\t\n");
    }

    #[test]
    fn nodev() {
        let set = parse_nodev_filesystems("nodev\tsysfs\nnodev\ttmpfs\n\text4\n\tsquashfs\n");
        assert!(set.contains("sysfs") && set.contains("tmpfs"));
        assert!(!set.contains("ext4"));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn process_stat() {
        let text = "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_process_stat(text),
            Some(ProcessStat {
                utime: 150,
                stime: 25,
                threads: 7,
                start_ticks: 123456,
                vsize: 104857600,
                rss_pages: 2560,
            })
        );
        assert_eq!(parse_process_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_process_stat("no parenthesis"), None);
    }

    #[test]
    fn limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
";
        assert_eq!(parse_max_open_files(text), Some(1024));
        assert_eq!(
            parse_max_open_files("Max open files unlimited unlimited files\n"),
            None
        );
        assert_eq!(parse_max_open_files(""), None);
    }

    #[test]
    fn proc_cgroup() {
        let entries = parse_proc_cgroup(
            "4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/user.slice/x.scope\nbad\n",
        );
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].controllers, vec!["memory".to_owned()]);
        assert_eq!(entries[0].path, "/process_api/abc");
        assert_eq!(entries[1].controllers.len(), 2);
        assert_eq!(entries[2].hierarchy, "0");
        assert!(entries[2].controllers.is_empty());
        assert_eq!(entries[2].path, "/user.slice/x.scope");
    }

    #[test]
    fn mountinfo() {
        let text = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 /sub /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
nonsense
";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 2);
        assert_eq!(
            mounts[0],
            MountInfo {
                root: "/".into(),
                mountpoint: "/sys/fs/cgroup/memory".into(),
                fstype: "cgroup".into(),
                super_options: vec!["rw".into(), "memory".into()],
            }
        );
        assert_eq!(mounts[1].root, "/sub");
        assert_eq!(mounts[1].fstype, "cgroup2");
    }

    #[test]
    fn cgroup_limit() {
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("536870912\n"), Some(536870912));
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit(""), None);
    }
}
