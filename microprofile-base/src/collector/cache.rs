//! The cache: the latest snapshot, shared by every family of a scrape and by concurrent scrapes
//! for a minimum interval, and the lock that makes one refresh at a time.
//!
//! Apart from the readers because it is the concurrency of the crate (a shared lock for reading,
//! one refresh for many waiters), and knows nothing of what a snapshot holds.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::readers::State;
use super::{Collector, Snapshot};

/// The default minimum time between two refreshes.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The smallest minimum refresh interval: one scrape reads every family well within it.
pub const REFRESH_INTERVAL_FLOOR: Duration = Duration::from_millis(100);

/// The latest snapshot and when it was read.
pub(super) type Cached = Option<(Instant, Arc<Snapshot>)>;

impl Collector {
    /// Sets the minimum time between two refreshes: scrapes within it share the cached snapshot.
    /// Intervals below [`REFRESH_INTERVAL_FLOOR`] are raised to it, so that the families of one
    /// scrape always share one refresh. CPU percentages are reported only from samples at least
    /// [`MIN_CPU_SAMPLE_INTERVAL`](crate::MIN_CPU_SAMPLE_INTERVAL) apart, whatever this interval.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Collector {
        self.min_interval = interval.max(REFRESH_INTERVAL_FLOOR);
        self
    }

    /// How many refreshes this collector has made.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Takes the refresh lock: one refresh (or CPU sample) at a time.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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

    fn refresh_locked(&self, state: &mut State) -> Arc<Snapshot> {
        let snapshot = Arc::new(self.read_all(state));
        let fresh = Some((Instant::now(), Arc::clone(&snapshot)));
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        snapshot
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use microprofile::{Format, Registry, Selection};

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
}
