//! Reused metrics (MicroProfile Metrics, "Reusing Metrics"): several `static`s declared with the
//! same scope, name, metadata and tags are one metric.
//!
//! Each declaration keeps its own `static` and its own atomics, so a call updates what it always
//! did, with no pointer to follow and no lookup: the hot path of a reused counter is the one
//! `fetch_add` of any counter. The registry holds the declarations together as one member
//! ([`Reused`]) and combines them when the member is read: counters added, histogram and timer
//! buckets, counts and sums added and their `_max` the largest, summaries' window sketches and
//! cumulative sketches merged (DDSketch is mergeable, so the quantiles are those of all the
//! observations, within the sketch's 1% relative error). The cost is paid per scrape and per
//! reused member only.
//!
//! Only declarations whose [`Collect::reuse_key`] agree are combined, so that buckets, quantiles
//! and windows are the same on every side: the read below then never meets two shapes at once.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use sketches_ddsketch::DDSketch;

use crate::error::Error;
use crate::metric::summary::{self, Summary};
use crate::metric::{
    BucketCounts, Collect, CumulativeSketch, HistogramView, Metric, MetricType, Number,
    SeriesLabels, SummaryView, Visitor,
};

/// The `static`s of one reused metric, read as one. The first is the one the get-or-create API
/// hands out.
pub(crate) struct Reused {
    parts: Vec<&'static dyn Collect>,
}

impl Reused {
    /// The metric of these two declarations (the first possibly already a reused one).
    pub(crate) fn of(first: &[&'static dyn Collect], second: &'static dyn Collect) -> Reused {
        let mut parts = first.to_vec();
        parts.push(second);
        Reused { parts }
    }

    /// The declarations, first first.
    pub(crate) fn parts(&self) -> &[&'static dyn Collect] {
        &self.parts
    }

    fn first(&self) -> Option<&'static dyn Collect> {
        self.parts.first().copied()
    }
}

impl Collect for Reused {
    fn collect_type(&self) -> MetricType {
        self.first()
            .map_or(MetricType::Counter, |first| first.collect_type())
    }

    fn label_names(&self) -> &[&'static str] {
        self.first().map_or(&[], |first| first.label_names())
    }

    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        let now = Instant::now();
        let sketches = summary::TRACK_SKETCHES.load(Ordering::Relaxed);
        let metric_type = self.collect_type();
        // Series by their rendered labels, each with its pairs and the combined value. A single
        // series has the one key "".
        let mut series: BTreeMap<String, (Vec<(String, String)>, Combined)> = BTreeMap::new();
        for part in &self.parts {
            part.collect(&mut |labels, metric| {
                let (_, combined) = series
                    .entry(labels.rendered().to_owned())
                    .or_insert_with(|| (labels.to_pairs(), Combined::new(metric_type)));
                combined.add(metric, now, sketches);
            });
        }
        for (rendered, (pairs, combined)) in &series {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let labels = if pairs.is_empty() {
                SeriesLabels::NONE
            } else {
                SeriesLabels::from_pairs(&pairs, rendered)
            };
            f(&labels, combined);
        }
    }

    fn check(&self) -> Result<(), Error> {
        self.parts.iter().try_for_each(|part| part.check())
    }

    fn reuse_key(&self) -> Option<String> {
        self.first().and_then(|first| first.reuse_key())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One series' value, combined over the declarations.
struct Combined {
    metric_type: MetricType,
    value: Value,
}

enum Value {
    Nothing,
    Number(Number),
    Histogram {
        bounds: Vec<f64>,
        /// Per bucket, not cumulative; the last for `+Inf`.
        counts: Vec<u64>,
        sum: f64,
        negative: bool,
        max: Option<f64>,
    },
    Summary {
        quantiles: Vec<f64>,
        window: DDSketch,
        sum: f64,
        count: u64,
        cumulative: Option<CumulativeSketch>,
    },
    ForeignSummary {
        quantiles: Vec<(f64, f64)>,
        sum: f64,
        count: u64,
        max: f64,
    },
}

impl Combined {
    fn new(metric_type: MetricType) -> Combined {
        Combined {
            metric_type,
            value: Value::Nothing,
        }
    }

    fn add(&mut self, metric: &dyn Metric, now: Instant, sketches: bool) {
        let any: &dyn Any = metric;
        if let Some(summary) = any.downcast_ref::<Summary>() {
            self.add_summary(summary, now, sketches);
        } else {
            metric.visit(&mut Adder(&mut self.value));
        }
    }

    fn add_summary(&mut self, summary: &Summary, now: Instant, sketches: bool) {
        let (window, sum, count) = summary.window_at(now);
        let cumulative = if sketches {
            summary.cumulative_sketch()
        } else {
            None
        };
        match &mut self.value {
            Value::Summary {
                window: total,
                sum: total_sum,
                count: total_count,
                cumulative: total_cumulative,
                ..
            } => {
                // One configuration on every side (the reuse key): merging cannot fail.
                let _ = total.merge(&window);
                *total_sum += sum;
                *total_count = total_count.wrapping_add(count);
                if let (Some(total), Some(more)) = (total_cumulative.as_mut(), cumulative) {
                    for (key, n) in more.sketch.buckets() {
                        total.sketch.add_count(key, n);
                    }
                    total.count = total.count.wrapping_add(more.count);
                    total.sum += more.sum;
                }
            }
            value => {
                *value = Value::Summary {
                    quantiles: summary.quantiles().to_vec(),
                    window,
                    sum,
                    count,
                    cumulative,
                }
            }
        }
    }
}

/// Adds what a metric hands over to the combined value.
struct Adder<'a>(&'a mut Value);

impl Visitor for Adder<'_> {
    fn counter(&mut self, value: Number) {
        *self.0 = Value::Number(match (&*self.0, value) {
            (Value::Number(Number::UInt(a)), Number::UInt(b)) => Number::UInt(a.wrapping_add(b)),
            (Value::Number(a), b) => Number::Float(a.as_f64() + b.as_f64()),
            (_, b) => b,
        });
    }

    // Gauges are never reused (their reuse key is `None`); kept whole if one ever is.
    fn gauge(&mut self, value: Number) {
        if matches!(self.0, Value::Nothing) {
            *self.0 = Value::Number(value);
        }
    }

    fn histogram(&mut self, view: &HistogramView<'_>) {
        let mut last = 0u64;
        let per_bucket = view.cumulative().map(|(_, cumulative)| {
            let n = cumulative.wrapping_sub(last);
            last = cumulative;
            n
        });
        match &mut *self.0 {
            Value::Histogram {
                bounds,
                counts,
                sum,
                negative,
                max,
            } if bounds.as_slice() == view.bounds() => {
                for (total, n) in counts.iter_mut().zip(per_bucket) {
                    *total = total.wrapping_add(n);
                }
                *sum += view.sum();
                *negative |= view.has_negative_observations();
                // NaN (an empty window) gives way to any number.
                *max = match (*max, view.max()) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            // Other bounds cannot be met (the reuse key holds them); the first shape stays.
            Value::Histogram { .. } => {}
            value => {
                *value = Value::Histogram {
                    bounds: view.bounds().to_vec(),
                    counts: per_bucket.collect(),
                    sum: view.sum(),
                    negative: view.has_negative_observations(),
                    max: view.max(),
                }
            }
        }
    }

    // A summary that is not the crate's own (reached only if a custom metric gave a reuse key):
    // its quantiles cannot be merged from their values, so the first one's stay, with the counts
    // and sums added.
    fn summary(&mut self, view: &SummaryView<'_>) {
        match &mut *self.0 {
            Value::Summary { sum, count, .. } | Value::ForeignSummary { sum, count, .. } => {
                *sum += view.sum;
                *count = count.wrapping_add(view.count);
            }
            value => {
                *value = Value::ForeignSummary {
                    quantiles: view.quantiles.to_vec(),
                    sum: view.sum,
                    count: view.count,
                    max: view.max,
                }
            }
        }
    }
}

impl Metric for Combined {
    fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    fn visit(&self, visitor: &mut dyn Visitor) {
        match &self.value {
            Value::Nothing => {}
            Value::Number(n) => match self.metric_type {
                MetricType::Gauge => visitor.gauge(*n),
                _ => visitor.counter(*n),
            },
            Value::Histogram {
                bounds,
                counts,
                sum,
                negative,
                max,
            } => {
                let view = HistogramView::new(bounds, BucketCounts::Plain(counts), *sum)
                    .with_negative_observations(*negative);
                match max {
                    Some(max) => visitor.histogram(&view.with_max(*max)),
                    None => visitor.histogram(&view),
                }
            }
            Value::Summary {
                quantiles,
                window,
                sum,
                count,
                ..
            } => summary::read_sketch(quantiles, window, *sum, *count, |view| {
                visitor.summary(view)
            }),
            Value::ForeignSummary {
                quantiles,
                sum,
                count,
                max,
            } => visitor.summary(&SummaryView {
                quantiles,
                sum: *sum,
                count: *count,
                max: *max,
            }),
        }
    }

    fn cumulative_sketch(&self) -> Option<CumulativeSketch> {
        match &self.value {
            Value::Summary { cumulative, .. } => cumulative.clone(),
            _ => None,
        }
    }
}
