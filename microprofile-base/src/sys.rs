//! The few figures that come from system calls rather than `/proc` files.

use std::path::Path;

/// Sizes of a mounted filesystem, in bytes, as `df` computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FsUsage {
    pub(crate) size: u64,
    pub(crate) free: u64,
    pub(crate) available: u64,
}

/// `statvfs(2)` of a path: size `f_blocks`, free `f_bfree`, available to unprivileged users
/// `f_bavail`, each times the fragment size `f_frsize` (what `df` multiplies by).
#[cfg(unix)]
pub(crate) fn statvfs(path: &Path) -> Option<FsUsage> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a valid NUL-terminated string and `buf` points to writable memory of the
    // right type; the buffer is only read after the call reported success.
    let rc = unsafe { libc::statvfs(path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let buf = unsafe { buf.assume_init() };
    #[allow(clippy::useless_conversion)] // the field widths differ between platforms
    let unit = if buf.f_frsize > 0 {
        u64::from(buf.f_frsize)
    } else {
        u64::from(buf.f_bsize)
    };
    #[allow(clippy::useless_conversion)]
    let (blocks, free, available) = (
        u64::from(buf.f_blocks),
        u64::from(buf.f_bfree),
        u64::from(buf.f_bavail),
    );
    Some(FsUsage {
        size: blocks.saturating_mul(unit),
        free: free.saturating_mul(unit),
        available: available.saturating_mul(unit),
    })
}

#[cfg(not(unix))]
pub(crate) fn statvfs(_path: &Path) -> Option<FsUsage> {
    None
}

#[cfg(unix)]
fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v > 0)
}

/// Clock ticks per second, the unit of the CPU times in `/proc` (`USER_HZ`, 100 on Linux).
pub(crate) fn clock_ticks_per_second() -> u64 {
    #[cfg(unix)]
    {
        sysconf(libc::_SC_CLK_TCK).unwrap_or(100)
    }
    #[cfg(not(unix))]
    {
        100
    }
}

/// The page size, the unit of the resident set size in `/proc/self/stat`.
pub(crate) fn page_size() -> u64 {
    #[cfg(unix)]
    {
        sysconf(libc::_SC_PAGESIZE).unwrap_or(4096)
    }
    #[cfg(not(unix))]
    {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn statvfs_of_root_and_missing_path() {
        let root = statvfs(Path::new("/"));
        assert!(root.is_some_and(|u| u.size >= u.free && u.free >= u.available));
        assert_eq!(statvfs(Path::new("/no/such/path/anywhere")), None);
        assert_eq!(statvfs(Path::new("/nul\0byte")), None);
    }

    #[test]
    fn constants() {
        assert!(clock_ticks_per_second() > 0);
        assert!(page_size() >= 512);
    }
}
