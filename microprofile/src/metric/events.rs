//! Counts of the events the library refused or survived instead of panicking (rejected updates,
//! panicking callbacks, cardinality overflow, …). A leaf: the metric types count into these, and
//! `registry::self_metrics` registers them as vendor-scope counters, so neither depends on the other.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count of one kind of event, registered as a vendor counter by `registry::self_metrics`.
#[derive(Debug, Default)]
pub struct EventCount(AtomicU64);

impl EventCount {
    /// A count at zero.
    pub const fn new() -> EventCount {
        EventCount(AtomicU64::new(0))
    }

    /// Counts one event.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The events counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Updates refused as invalid (negative or NaN increments, NaN observations, bad label indexes).
pub static REJECTED_UPDATES: EventCount = EventCount::new();
/// Callback gauges that panicked during a scrape (the series was left out of that scrape).
pub static CALLBACK_PANICS: EventCount = EventCount::new();
/// Updates redirected to a family's overflow series because it held its maximum of series.
pub static CARDINALITY_OVERFLOW: EventCount = EventCount::new();
/// Registrations refused: invalid static metadata, or conflicts between declarations.
pub static REGISTRATION_ERRORS: EventCount = EventCount::new();
/// Summary observations that arrived after their slice had left the window (the observing thread
/// stalled between reading the clock and recording): kept in `_sum` and `_count`, not in quantiles.
pub static LATE_OBSERVATIONS: EventCount = EventCount::new();
