//! The kind of a metric: plain data every layer names (errors, naming rules, encoders).

use std::fmt;

/// The kind of a metric, as registered and exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    /// A monotonic counter, exposed with a `_total` suffix.
    Counter,
    /// A value that goes up and down (also callback and concurrent gauges).
    Gauge,
    /// Observations counted into buckets.
    Histogram,
    /// Quantiles over a sliding time window, plus `_sum`, `_count` and a `_max` gauge.
    Summary,
    /// A histogram of durations in seconds.
    Timer,
}

impl MetricType {
    /// The `# TYPE` word of the Prometheus and OpenMetrics text formats.
    pub const fn exposition_type(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram | MetricType::Timer => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Timer => "timer",
        })
    }
}
