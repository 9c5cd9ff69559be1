//! The library's own vendor-scope metrics: the event counts of `metric::events`, registered as
//! counters.

use crate::metadata::{Metadata, Scope};
use crate::metric::events::{self, EventCount};
use crate::metric::{Metric, MetricType, Number, Visitor};

impl Metric for EventCount {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.counter(Number::UInt(self.get()))
    }
}

crate::register!(
    events::REJECTED_UPDATES,
    Metadata::new("microprofile_rejected_updates")
        .description(
            "Metric updates refused as invalid (negative or NaN increments, NaN observations)."
        )
        .scope(Scope::Vendor)
);
crate::register!(
    events::CALLBACK_PANICS,
    Metadata::new("microprofile_callback_panics")
        .description("Gauge callbacks that panicked during a scrape; the series was skipped.")
        .scope(Scope::Vendor)
);
crate::register!(
    events::REGISTRATION_ERRORS,
    Metadata::new("microprofile_registration_errors")
        .description("Metric registrations refused: invalid metadata or conflicting declarations.")
        .scope(Scope::Vendor)
);
crate::register!(
    events::CARDINALITY_OVERFLOW,
    Metadata::new("microprofile_cardinality_overflow")
        .description("Updates redirected to a family's overflow series (labelled only mp_overflow=\"true\") because the family held its maximum number of series.")
        .scope(Scope::Vendor)
);
crate::register!(
    events::LATE_OBSERVATIONS,
    Metadata::new("microprofile_late_observations")
        .description("Summary observations that arrived after their time slice had left the window; counted in _sum and _count, left out of the quantiles.")
        .scope(Scope::Vendor)
);
