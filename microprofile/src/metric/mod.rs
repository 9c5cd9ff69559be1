//! The traits every metric implements: [`Metric`] (one series, visited for its value) and
//! [`Collect`] (one or more series, each with its labels).

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

pub(crate) mod counter;
pub(crate) mod events;
pub mod family;
pub(crate) mod gauge;
pub(crate) mod histogram;
pub(crate) mod kind;
mod labels;
pub mod sketch;
pub(crate) mod summary;

pub use kind::MetricType;
pub use labels::{LabelValues, SeriesLabels};

/// A number as read from a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An unsigned integer (integer counters).
    UInt(u64),
    /// A signed integer (integer gauges).
    Int(i64),
    /// A float.
    Float(f64),
}

impl Number {
    /// The value as `f64`.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::UInt(v) => v as f64,
            Number::Int(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

/// Bucket counts as read at scrape time, either straight from atomics or from plain numbers.
#[derive(Debug, Clone, Copy)]
pub enum BucketCounts<'a> {
    /// Counts per bucket (not cumulative), read with relaxed loads.
    Atomic(&'a [AtomicU64]),
    /// Counts per bucket (not cumulative).
    Plain(&'a [u64]),
}

impl BucketCounts<'_> {
    fn get(&self, index: usize) -> u64 {
        match self {
            BucketCounts::Atomic(c) => c.get(index).map_or(0, |a| a.load(Ordering::Relaxed)),
            BucketCounts::Plain(c) => c.get(index).copied().unwrap_or(0),
        }
    }
}

/// A consistent view of one histogram series: every count below was read from one settled shard,
/// so `count()` always equals the `+Inf` bucket and buckets are cumulative.
#[derive(Debug, Clone, Copy)]
pub struct HistogramView<'a> {
    bounds: &'a [f64],
    counts: BucketCounts<'a>,
    sum: f64,
    negative: bool,
    max: Option<f64>,
}

impl<'a> HistogramView<'a> {
    /// A view over upper bounds (without `+Inf`), per-bucket counts (`bounds.len() + 1` of them, the
    /// last for `+Inf`) and the sum of observations, none of which was negative (else see
    /// [`with_negative_observations`](Self::with_negative_observations)).
    pub fn new(bounds: &'a [f64], counts: BucketCounts<'a>, sum: f64) -> Self {
        HistogramView {
            bounds,
            counts,
            sum,
            negative: false,
            max: None,
        }
    }

    /// Gives the view a timer's `_max`: the largest observation of its window (NaN while the
    /// window holds none). Exposed as the gauge family `<name>_max` after the histogram.
    #[must_use]
    pub fn with_max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// A timer's `_max` ([`with_max`](Self::with_max)); `None` for a plain histogram.
    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// Marks whether the histogram ever took a negative observation (then its sum can go down,
    /// and [`counter_sum`](Self::counter_sum) is `None`).
    #[must_use]
    pub fn with_negative_observations(mut self, negative: bool) -> Self {
        self.negative = negative;
        self
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &'a [f64] {
        self.bounds
    }

    /// `(upper bound, cumulative count)` for every bucket, ending with `(+Inf, count)`.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut total = 0u64;
        (0..=self.bounds.len()).map(move |i| {
            total = total.wrapping_add(self.counts.get(i));
            (self.bounds.get(i).copied().unwrap_or(f64::INFINITY), total)
        })
    }

    /// The number of observations (the `+Inf` bucket).
    pub fn count(&self) -> u64 {
        (0..=self.bounds.len()).fold(0u64, |acc, i| acc.wrapping_add(self.counts.get(i)))
    }

    /// The sum of observations (whatever their sign; NaN only once both `+Inf` and `-Inf` were
    /// observed).
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Whether the histogram ever took a negative observation (`-Inf` included).
    pub fn has_negative_observations(&self) -> bool {
        self.negative
    }

    /// The sum if it is a counter, as OpenMetrics 1.0 requires of an exposed sum: `None` when a
    /// bucket bound is negative, a negative observation was taken, or the sum is NaN or negative
    /// (a view built from stored data). `+Inf` is a valid counter value: a histogram that observed
    /// `+Inf` (or whose sum overflowed) keeps a sum of `+Inf`.
    pub fn counter_sum(&self) -> Option<f64> {
        let negative_bound = self.bounds.first().is_some_and(|&b| b < 0.0);
        if negative_bound || self.negative || self.sum.is_nan() || self.sum < 0.0 {
            None
        } else {
            Some(self.sum)
        }
    }
}

/// A view of one summary series.
#[derive(Debug, Clone, Copy)]
pub struct SummaryView<'a> {
    /// `(quantile, value)` pairs; the value is NaN while the window is empty.
    pub quantiles: &'a [(f64, f64)],
    /// Sum of all observations since start.
    pub sum: f64,
    /// Number of observations since start.
    pub count: u64,
    /// Largest observation in the window; NaN while the window is empty.
    pub max: f64,
}

/// One series' value as owned data, read through its [`Visitor`]: what the snapshot and the delta
/// cursor keep.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reading {
    Counter(Number),
    Gauge(Number),
    Histogram {
        /// The finite upper bounds.
        bounds: Vec<f64>,
        /// Observations per bucket (not cumulative), the last for `+Inf`.
        buckets: Vec<u64>,
        sum: f64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        count: u64,
        sum: f64,
        max: f64,
    },
}

impl Reading {
    /// Reads `metric`; `None` when it handed nothing over (a callback gauge that panicked).
    pub(crate) fn of(metric: &dyn Metric) -> Option<Reading> {
        struct Reader(Option<Reading>);
        impl Visitor for Reader {
            fn counter(&mut self, value: Number) {
                self.0 = Some(Reading::Counter(value));
            }
            fn gauge(&mut self, value: Number) {
                self.0 = Some(Reading::Gauge(value));
            }
            fn histogram(&mut self, view: &HistogramView<'_>) {
                let mut last = 0u64;
                let buckets = view
                    .cumulative()
                    .map(|(_, cumulative)| {
                        let n = cumulative.wrapping_sub(last);
                        last = cumulative;
                        n
                    })
                    .collect();
                self.0 = Some(Reading::Histogram {
                    bounds: view.bounds().to_vec(),
                    buckets,
                    sum: view.sum(),
                });
            }
            fn summary(&mut self, view: &SummaryView<'_>) {
                self.0 = Some(Reading::Summary {
                    quantiles: view.quantiles.to_vec(),
                    count: view.count,
                    sum: view.sum,
                    max: view.max,
                });
            }
        }
        let mut reader = Reader(None);
        metric.visit(&mut reader);
        reader.0
    }
}

/// Receives the value of one series.
pub trait Visitor {
    /// A counter value.
    fn counter(&mut self, value: Number);
    /// A gauge value.
    fn gauge(&mut self, value: Number);
    /// A histogram (also timers).
    fn histogram(&mut self, view: &HistogramView<'_>);
    /// A summary.
    fn summary(&mut self, view: &SummaryView<'_>);
}

/// One series of one type, read at scrape time.
pub trait Metric: Any + Send + Sync {
    /// The type it is registered and exposed as.
    fn metric_type(&self) -> MetricType;
    /// Hands the current value to the visitor. May hand nothing (a callback gauge that panicked).
    fn visit(&self, visitor: &mut dyn Visitor);
    /// Checks configuration that `const` construction could not (buckets, quantiles).
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
    /// A summary's observations as a mergeable [`Sketch`](sketch::Sketch), with its count and
    /// sum read at the same instant, for readers of deltas
    /// ([`Registry::gather_changes`](crate::Registry::gather_changes)); `None` for every other
    /// metric. Summaries keep that sketch once a [`DeltaCursor`](crate::registry::DeltaCursor)
    /// exists (until then observations cost nothing extra): a summary made or first observed after
    /// that has every observation in it; an older one those since its first call, while its count
    /// and sum hold all of them.
    fn cumulative_sketch(&self) -> Option<CumulativeSketch> {
        None
    }
    /// What makes two declarations of this metric one metric (MicroProfile's "Reusing Metrics"):
    /// when two `static`s are registered under the same scope, name, metadata and tags, and both
    /// give the same key, the registry exposes them as one series whose value is theirs combined
    /// (counts and sums added, bucket counts added, sketches merged), read at scrape time, so
    /// updating either costs what it always does. `None`, the default, makes a second declaration
    /// a conflict: gauges (whose reuse MicroProfile forbids) and metrics the registry cannot
    /// combine. The crate's counters, histograms, timers and summaries give their type and
    /// configuration (buckets; quantiles and window). Another metric that gives a key is combined
    /// through the values it visits: counters and histograms exactly; a summary that is not a
    /// [`Summary`](crate::Summary) keeps the first declaration's quantiles, its count and sum
    /// added.
    fn reuse_key(&self) -> Option<String> {
        None
    }
}

/// What [`Metric::cumulative_sketch`] reads: a summary's sketch and, at the same instant, its count
/// and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct CumulativeSketch {
    /// The observations the sketch holds (see [`Metric::cumulative_sketch`]).
    pub sketch: sketch::Sketch,
    /// Every observation's count since the summary was made (or reset).
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// Something the registry can hold: one series (every [`Metric`]) or a labelled family of them.
pub trait Collect: Send + Sync + 'static {
    /// The type of every series.
    fn collect_type(&self) -> MetricType;
    /// The names of the labels each series carries, sorted; empty for a single series.
    fn label_names(&self) -> &[&'static str] {
        &[]
    }
    /// Calls `f` with each series' labels (as pairs, and rendered as `a="x",b="y"`, escaped) and
    /// value, sorted by the rendered labels.
    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric));
    /// Checks configuration, as [`Metric::validate`].
    fn check(&self) -> Result<(), Error>;
    /// What makes two declarations of this collector one metric, as [`Metric::reuse_key`] (a
    /// labelled family gives its series' key); `None`, the default, makes a second declaration
    /// a conflict.
    fn reuse_key(&self) -> Option<String> {
        None
    }
    /// For downcasting in the get-or-create API.
    fn as_any(&self) -> &dyn Any;
}

impl<M: Metric> Collect for M {
    fn collect_type(&self) -> MetricType {
        self.metric_type()
    }
    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        f(&SeriesLabels::NONE, self)
    }
    fn check(&self) -> Result<(), Error> {
        self.validate()
    }
    fn reuse_key(&self) -> Option<String> {
        Metric::reuse_key(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A metric that can make a fresh one with the same configuration, and be set back to zero (used
/// by labelled families).
pub trait NewLike {
    /// A new, zeroed metric configured like `self`.
    fn new_like(&self) -> Self;
    /// Sets the metric back to zero, as [`new_like`](Self::new_like) makes it: a series removed
    /// from a dense family starts again from zero. Updates racing with the reset are kept or
    /// dropped whole, never half-applied.
    fn reset(&self);
}

#[inline]
pub(crate) fn add_f64(bits: &AtomicU64, delta: f64) {
    add_f64_contended(bits, delta);
}

/// Adds `delta` to the `f64` stored in `bits`; `true` when another thread's update came in
/// between the read and the write (the compare-and-swap had to be retried).
#[inline]
pub(crate) fn add_f64_contended(bits: &AtomicU64, delta: f64) -> bool {
    let mut current = bits.load(Ordering::Relaxed);
    let mut retried = false;
    loop {
        let new = (f64::from_bits(current) + delta).to_bits();
        match bits.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return retried,
            Err(actual) => {
                current = actual;
                retried = true;
            }
        }
    }
}
