//! Test fixtures shared by the parts' tests: a fake root directory, a complete fixture tree with
//! known values, and a scrape of a collector through a registry of its own.
//!
//! Apart because the tests of the readers and of the cgroup lookup read the same fixture tree.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use microprofile::{Format, Registry, Scope, Selection};

use super::Collector;

/// A fresh, empty directory under the system temp dir, removed on drop.
pub(super) struct TempRoot(pub(super) PathBuf);

impl TempRoot {
    pub(super) fn new(name: &str) -> TempRoot {
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
    pub(super) fn write(&self, relative: &str, text: &str) {
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

/// A scrape of `scope` from `collector`, registered into a registry of its own.
pub(super) fn scrape(collector: Collector, scope: Scope) -> String {
    let registry = Registry::new();
    Arc::new(collector).register_into(&registry).unwrap();
    registry.encode_to_string(Format::Prometheus, Selection::Scope(&scope))
}

/// Sample lines only (no `#` lines).
pub(super) fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// Cgroup mounts: a v1 memory hierarchy rooted at `/outer`, and a v2 hierarchy.
const MOUNTINFO: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// A root with every source the collector reads, with known values.
pub(super) fn fixture_root() -> TempRoot {
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

/// [`fixture_root`] with this process in the cgroups `cgroup` lists (the text of
/// `/proc/self/cgroup`), and the cgroup hierarchies of [`MOUNTINFO`] mounted.
pub(super) fn fixture_root_in_cgroup(cgroup: &str) -> TempRoot {
    let root = fixture_root();
    root.write("proc/self/cgroup", cgroup);
    root.write("proc/self/mountinfo", MOUNTINFO);
    root
}
