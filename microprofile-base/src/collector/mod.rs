//! The collector: reads every source into a [`Snapshot`], cached for a minimum interval so that
//! any number of scrapes (and every family of one scrape) share one refresh.
//!
//! The folder, one concern a file (each with its own tests):
//!
//! ```text
//! collector/
//!   mod.rs       the Collector itself: its root, units and locks; construction
//!   cache.rs     the cached snapshot and the refresh lock (snapshot, refresh, the intervals)
//!   readers.rs   every source under the root read into a new snapshot; the CPU sample
//!   cgroup.rs    the cgroup memory limit: the hierarchy walk over v2 and v1 mounts
//!   mounts.rs    which mounts are real filesystems to report, as df chooses them
//!   labels.rs    the label sets of the labelled families (mode, device, filesystem)
//!   snapshot.rs  the figures of one refresh, and the series each family emits from them
//!   fixtures.rs  (tests only) fake roots and a fixture tree shared by the tests
//! ```
//!
//! Beside the folder, `parse.rs` holds the parsers of each file's text and `sys.rs` the system
//! calls (`statvfs(2)`, `sysconf(3)`); neither knows of the collector.

mod cache;
mod cgroup;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod fixtures;
mod labels;
mod mounts;
mod readers;
mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::sys;
use cache::Cached;
use readers::State;

pub use cache::{DEFAULT_MIN_REFRESH_INTERVAL, REFRESH_INTERVAL_FLOOR};
pub use readers::MIN_CPU_SAMPLE_INTERVAL;
pub use snapshot::Snapshot;

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
}
