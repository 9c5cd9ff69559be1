//! The library's own vendor-scope metrics: events it refused or survived instead of panicking.

use crate::counter::Counter;
use crate::metadata::{Metadata, Scope};

/// Updates refused as invalid (negative or NaN increments, NaN observations, bad label indexes).
pub static REJECTED_UPDATES: Counter = Counter::new();
/// Callback gauges that panicked during a scrape (the series was left out of that scrape).
pub static CALLBACK_PANICS: Counter = Counter::new();
/// Updates redirected to a family's overflow series because it held its maximum of series.
pub static CARDINALITY_OVERFLOW: Counter = Counter::new();
/// Registrations refused: invalid static metadata, or conflicts between declarations.
pub static REGISTRATION_ERRORS: Counter = Counter::new();
/// Summary observations that arrived after their slice had left the window (the observing thread
/// stalled between reading the clock and recording): kept in `_sum` and `_count`, not in quantiles.
pub static LATE_OBSERVATIONS: Counter = Counter::new();

crate::register!(
    REJECTED_UPDATES,
    Metadata::new("microprofile_rejected_updates")
        .description(
            "Metric updates refused as invalid (negative or NaN increments, NaN observations)."
        )
        .scope(Scope::Vendor)
);
crate::register!(
    CALLBACK_PANICS,
    Metadata::new("microprofile_callback_panics")
        .description("Gauge callbacks that panicked during a scrape; the series was skipped.")
        .scope(Scope::Vendor)
);
crate::register!(
    REGISTRATION_ERRORS,
    Metadata::new("microprofile_registration_errors")
        .description("Metric registrations refused: invalid metadata or conflicting declarations.")
        .scope(Scope::Vendor)
);
crate::register!(
    CARDINALITY_OVERFLOW,
    Metadata::new("microprofile_cardinality_overflow")
        .description("Updates redirected to a family's overflow series (labelled only mp_overflow=\"true\") because the family held its maximum number of series.")
        .scope(Scope::Vendor)
);
crate::register!(
    LATE_OBSERVATIONS,
    Metadata::new("microprofile_late_observations")
        .description("Summary observations that arrived after their time slice had left the window; counted in _sum and _count, left out of the quantiles.")
        .scope(Scope::Vendor)
);
