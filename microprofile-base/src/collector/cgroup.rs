//! The memory limit of this process's cgroup: where `/proc/self/cgroup` and
//! `/proc/self/mountinfo` say its hierarchy is mounted, and the smallest limit on the way up.
//!
//! Apart from the other readers because it is the one source that walks a tree (v2 first, then
//! v1, ancestors included, paths from another cgroup namespace) rather than reading one file.

use std::path::Path;

use super::Collector;
use crate::parse;

impl Collector {
    /// The memory limit of this process's cgroup: the smallest limit set on it or an ancestor,
    /// cgroup v2 (`memory.max`) first, then v1 (`memory.limit_in_bytes`).
    pub(super) fn cgroup_memory_limit(&self) -> Option<u64> {
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
    use crate::collector::fixtures::{fixture_root_in_cgroup, scrape};
    use microprofile::Scope;

    #[test]
    fn cgroup_v2_limit_and_none() {
        let root = fixture_root_in_cgroup("0::/outer/app\n");
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
}
