//! Which mounts count as filesystems to report: the rules `df` follows (real, visible, one per
//! device), as pure functions of the parsed `/proc/self/mounts` and `/proc/filesystems`.
//!
//! Apart from the readers because these are policy, not I/O: they are tested on made-up mount
//! tables, without a filesystem to read.

use std::collections::{HashMap, HashSet};

use crate::parse::Mount;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn mount(device: &str, mountpoint: &str, fstype: &str) -> Mount {
        Mount {
            device: device.into(),
            mountpoint: mountpoint.into(),
            fstype: fstype.into(),
        }
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
}
