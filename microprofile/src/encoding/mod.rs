//! Encoding: the exposition formats, the content negotiation that picks one, and the programmatic
//! snapshot. Each is a consumer of the registry's one read path ([`Registry::gather`]).
//!
//! - `text.rs`: Prometheus text 0.0.4 and OpenMetrics 1.0 (one writer, the format decides where
//!   they differ); the labels of a series are copied from the rendered text its collector keeps,
//!   and samples are written straight into the output with no allocation per sample.
//! - `negotiate.rs`: `Accept` header to [`Format`].
//! - `float.rs`: numbers as every text format here writes them.
//!
//! Within a family, series are listed sorted by their label text; a family keeps that order
//! between scrapes and sorts again only after series were added or removed.

use std::fmt::{self, Write};

use crate::metadata::Scope;
use crate::metric::{Metric, Reading};
use crate::registry::{FamilyInfo, Registry, Selection};
use crate::registry::{Gather, SeriesRead};

pub(crate) mod float;
pub(crate) mod negotiate;
pub use negotiate::{negotiate, negotiate_content_type, Negotiated};
mod text;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

impl Registry {
    /// Writes the selected metrics in `format`. Returns how many families the selection matched
    /// (0 when it matched nothing). A family with no series at the moment is matched but not
    /// written at all, in either format: no `# HELP` or `# TYPE` without a sample.
    ///
    /// ```
    /// use microprofile::{Format, Metadata, Registry, Selection};
    /// let registry = Registry::new();
    /// registry.counter(Metadata::new("hits")).unwrap().inc();
    /// let mut text = String::new();
    /// registry.encode(&mut text, Format::OpenMetrics, Selection::All).unwrap();
    /// assert_eq!(text, "# HELP hits hits\n# TYPE hits counter\nhits_total{mp_scope=\"application\"} 1\n# EOF\n");
    /// ```
    pub fn encode<W: Write>(
        &self,
        out: &mut W,
        format: Format,
        selection: Selection<'_>,
    ) -> Result<usize, fmt::Error> {
        let mut encoder = text::TextEncoder::new(out, format, self);
        let matched = self.gather(selection, &mut encoder);
        encoder.finish()?;
        Ok(matched)
    }

    /// [`encode`](Self::encode) into a new `String`.
    pub fn encode_to_string(&self, format: Format, selection: Selection<'_>) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = self.encode(&mut text, format, selection);
        text
    }

    /// [`encode`](Self::encode) into an `io::Write`.
    pub fn encode_to_io<W: std::io::Write>(
        &self,
        out: &mut W,
        format: Format,
        selection: Selection<'_>,
    ) -> std::io::Result<usize> {
        struct Adapter<'a, W> {
            inner: &'a mut W,
            error: Option<std::io::Error>,
        }
        impl<W: std::io::Write> Write for Adapter<'_, W> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.inner.write_all(s.as_bytes()).map_err(|e| {
                    self.error = Some(e);
                    fmt::Error
                })
            }
        }
        let mut adapter = Adapter {
            inner: out,
            error: None,
        };
        match self.encode(&mut adapter, format, selection) {
            Ok(n) => Ok(n),
            Err(_) => Err(adapter
                .error
                .unwrap_or_else(|| std::io::Error::other("formatting failed"))),
        }
    }

    /// Calls `f` with every selected series: its family, scope, labels (unescaped, sorted within
    /// each group: declared tags, then labels of a family) and current value.
    pub fn visit(&self, selection: Selection<'_>, f: &mut SeriesVisitor<'_>) {
        struct Visit<'f, 'g>(&'f mut SeriesVisitor<'g>);
        impl Gather for Visit<'_, '_> {
            fn series(&mut self, series: &SeriesRead<'_>) {
                let mut labels = Vec::new();
                series.for_each_label(&mut |name, value| {
                    labels.push((name.to_owned(), value.to_owned()));
                });
                (self.0)(
                    series.family.info(),
                    series.member.scope(),
                    &labels,
                    series.metric,
                );
            }
        }
        self.gather(selection, &mut Visit(f));
    }

    /// A snapshot of the selected metrics' values, for code that reads metrics without parsing
    /// text.
    ///
    /// ```
    /// use microprofile::{Metadata, Registry, Selection, Value};
    /// let registry = Registry::new();
    /// registry.counter(Metadata::new("hits")).unwrap().inc_by(3);
    /// let snapshot = registry.snapshot(Selection::All);
    /// assert_eq!(snapshot[0].series[0].value, Value::Counter(3.0));
    /// ```
    pub fn snapshot(&self, selection: Selection<'_>) -> Vec<FamilySnapshot> {
        let mut families: Vec<FamilySnapshot> = Vec::new();
        self.visit(selection, &mut |info, scope, labels, metric| {
            if families.last().is_none_or(|f| f.info.name != info.name) {
                families.push(FamilySnapshot {
                    info: info.clone(),
                    series: Vec::new(),
                });
            }
            if let (Some(reading), Some(family)) = (Reading::of(metric), families.last_mut()) {
                family.series.push(SeriesSnapshot {
                    scope: scope.clone(),
                    labels: labels.to_vec(),
                    value: reading.into(),
                });
            }
        });
        families
    }
}

/// What [`Registry::visit`] calls for each series: family, scope, labels and value.
pub type SeriesVisitor<'a> = dyn FnMut(&FamilyInfo, &Scope, &[(String, String)], &dyn Metric) + 'a;

/// The values of one family at one moment.
#[derive(Debug, Clone)]
pub struct FamilySnapshot {
    /// What the family's series share.
    pub info: FamilyInfo,
    /// Each series.
    pub series: Vec<SeriesSnapshot>,
}

/// The value of one series at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// Its scope.
    pub scope: Scope,
    /// Its labels (without global tags and `mp_scope`).
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: Value,
}

/// A value read from a series.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter.
    Counter(f64),
    /// A gauge.
    Gauge(f64),
    /// A histogram or timer: `(upper bound, cumulative count)` ending with `+Inf`. A timer's
    /// `_max` gauge is not in it; [`Timer::max`](crate::Timer::max) reads it.
    Histogram {
        /// Cumulative buckets.
        buckets: Vec<(f64, u64)>,
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
    /// A summary.
    Summary {
        /// `(quantile, value)` pairs.
        quantiles: Vec<(f64, f64)>,
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: u64,
        /// Largest observation in the window.
        max: f64,
    },
}

impl From<Reading> for Value {
    fn from(reading: Reading) -> Value {
        match reading {
            Reading::Counter(value) => Value::Counter(value.as_f64()),
            Reading::Gauge(value) => Value::Gauge(value.as_f64()),
            Reading::Histogram {
                bounds,
                buckets,
                sum,
            } => {
                let mut count = 0u64;
                let buckets = buckets
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        count = count.wrapping_add(*n);
                        (bounds.get(i).copied().unwrap_or(f64::INFINITY), count)
                    })
                    .collect();
                Value::Histogram {
                    buckets,
                    sum,
                    count,
                }
            }
            Reading::Summary {
                quantiles,
                count,
                sum,
                max,
            } => Value::Summary {
                quantiles,
                sum,
                count,
                max,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{HistogramView, MetricType, Number, SeriesLabels, SummaryView, Visitor};

    /// A collector with no series at the moment, of any type.
    struct NoSeries(MetricType);

    impl crate::metric::Collect for NoSeries {
        fn collect_type(&self) -> MetricType {
            self.0
        }
        fn collect(&self, _: &mut dyn FnMut(&SeriesLabels<'_>, &dyn crate::metric::Metric)) {}
        fn check(&self) -> Result<(), crate::Error> {
            Ok(())
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    /// A family with no series is not written, in either format: no HELP, TYPE or UNIT alone,
    /// and no `_max` gauge of a summary with no series.
    #[test]
    fn families_with_no_series_are_left_out() {
        let registry = Registry::new();
        for (name, metric_type) in [
            ("empty_gauge", MetricType::Gauge),
            ("empty_counter", MetricType::Counter),
            ("empty_summary", MetricType::Summary),
            ("empty_histogram", MetricType::Histogram),
        ] {
            let metadata = crate::Metadata::new(name).unit("bytes");
            registry
                .register(metadata, std::sync::Arc::new(NoSeries(metric_type)))
                .unwrap();
        }
        registry
            .counter(crate::Metadata::new("hits"))
            .unwrap()
            .inc();
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let mut text = String::new();
            let matched = registry.encode(&mut text, format, Selection::All).unwrap();
            assert_eq!(matched, 5, "{format:?}");
            assert!(!text.contains("empty"), "{format:?}: {text}");
            assert!(text.contains("# TYPE hits"), "{format:?}: {text}");
        }
    }

    /// The non-comment lines of one registry holding histogram `h` with these observations.
    fn histogram_lines(bounds: Vec<f64>, observations: &[f64], format: Format) -> Vec<String> {
        use crate::metadata::Metadata;
        let registry = Registry::new();
        let h = registry
            .histogram(Metadata::new("h"), Some(bounds))
            .unwrap();
        for &v in observations {
            h.observe(v);
        }
        let text = registry.encode_to_string(format, Selection::All);
        let samples = text.lines().filter(|l| !l.starts_with('#'));
        samples
            .map(|l| l.replace("{mp_scope=\"application\"}", ""))
            .collect()
    }

    #[test]
    fn openmetrics_writes_a_histogram_sum_only_while_it_is_a_counter() {
        let om = |bounds: &[f64], values: &[f64]| {
            histogram_lines(bounds.to_vec(), values, Format::OpenMetrics)
        };
        let prom = |bounds: &[f64], values: &[f64]| {
            histogram_lines(bounds.to_vec(), values, Format::Prometheus)
        };
        let le = |bound: &str, n: u64| {
            format!("h_bucket{{mp_scope=\"application\",le=\"{bound}\"}} {n}")
        };
        // Non-negative bounds and observations: `_count` and `_sum` in both formats.
        let plain = om(&[1.0], &[0.5, 2.0]);
        assert_eq!(plain[2..], ["h_count 2", "h_sum 2.5"]);
        assert_eq!(prom(&[1.0], &[0.5, 2.0]), plain);
        // A negative bound: OpenMetrics has buckets only; Prometheus text keeps both.
        assert_eq!(
            om(&[-1.0, 1.0], &[0.5]),
            [le("-1.0", 0), le("1.0", 1), le("+Inf", 1)]
        );
        assert_eq!(prom(&[-1.0, 1.0], &[0.5])[3..], ["h_count 1", "h_sum 0.5"]);
        // A negative observation, even one the sum outgrows, and -Inf: the same.
        for negative in [-0.25, f64::NEG_INFINITY] {
            assert_eq!(om(&[1.0], &[negative, 5.0]), [le("1.0", 1), le("+Inf", 2)]);
        }
        assert_eq!(
            prom(&[1.0], &[-0.25, 5.0])[2..],
            ["h_count 2", "h_sum 4.75"]
        );
        assert_eq!(
            prom(&[1.0], &[f64::NEG_INFINITY])[2..],
            ["h_count 1", "h_sum -Inf"]
        );
        // +Inf is neither NaN nor negative: a valid counter value, kept.
        assert_eq!(
            om(&[1.0], &[f64::INFINITY, 0.5])[2..],
            ["h_count 2", "h_sum +Inf"]
        );
        // NaN is refused: counted nowhere, summed nowhere.
        assert_eq!(om(&[1.0], &[f64::NAN, 0.5]), om(&[1.0], &[0.5]));
        // -0.0 is not negative (neither for the spec's parsers).
        assert_eq!(om(&[1.0], &[-0.0])[2..], ["h_count 1", "h_sum 0.0"]);
    }

    #[test]
    fn openmetrics_leaves_out_a_stored_sum_that_is_negative_or_nan() {
        use crate::metadata::Metadata;
        use crate::metric::BucketCounts;
        struct Stored(f64);
        impl Metric for Stored {
            fn metric_type(&self) -> MetricType {
                MetricType::Histogram
            }
            fn visit(&self, visitor: &mut dyn Visitor) {
                visitor.histogram(&HistogramView::new(
                    &[1.0],
                    BucketCounts::Plain(&[1, 0]),
                    self.0,
                ))
            }
        }
        for (sum, kept) in [(-1.0, false), (f64::NAN, false), (0.5, true)] {
            let registry = Registry::new();
            registry
                .register(Metadata::new("s"), std::sync::Arc::new(Stored(sum)))
                .unwrap();
            let text = registry.encode_to_string(Format::OpenMetrics, Selection::All);
            assert_eq!(text.contains("s_sum"), kept, "{text}");
            assert_eq!(text.contains("s_count"), kept, "{text}");
            let text = registry.encode_to_string(Format::Prometheus, Selection::All);
            assert!(text.contains("s_sum") && text.contains("s_count"), "{text}");
        }
    }

    #[test]
    fn a_series_visitor_that_panics_on_a_histogram_leaves_the_registry_readable() {
        use crate::metadata::Metadata;
        let registry = std::sync::Arc::new(Registry::new());
        let h = registry
            .histogram(Metadata::new("h"), Some(vec![1.0]))
            .unwrap();
        h.observe(0.5);
        let visit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            registry.visit(Selection::All, &mut |_, _, _, metric| {
                struct Panics;
                impl Visitor for Panics {
                    fn counter(&mut self, _: Number) {}
                    fn gauge(&mut self, _: Number) {}
                    fn histogram(&mut self, _: &HistogramView<'_>) {
                        panic!("a visitor that panics")
                    }
                    fn summary(&mut self, _: &SummaryView<'_>) {}
                }
                metric.visit(&mut Panics);
            })
        }));
        assert!(visit.is_err());
        h.observe(2.0);
        // A scrape on another thread, bounded in time: it hung here before.
        let (tx, rx) = std::sync::mpsc::channel();
        let scraper = registry.clone();
        std::thread::spawn(move || {
            let _ = tx.send(scraper.encode_to_string(Format::OpenMetrics, Selection::All));
        });
        let text = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the scrape hung");
        assert!(
            text.contains("h_count{mp_scope=\"application\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("h_sum{mp_scope=\"application\"} 2.5\n"),
            "{text}"
        );
    }

    /// A collector of type timer that is not a [`crate::Timer`] hands over no maximum: its
    /// family has no `_max` gauge (no HELP and TYPE without a sample), while a `Timer` beside it
    /// has one, written after its histogram, with the timer's description as HELP.
    #[test]
    fn only_series_with_a_maximum_write_a_max_family() {
        use crate::metadata::Metadata;
        use crate::metric::BucketCounts;
        struct TimerLike;
        impl Metric for TimerLike {
            fn metric_type(&self) -> MetricType {
                MetricType::Timer
            }
            fn visit(&self, visitor: &mut dyn Visitor) {
                visitor.histogram(&HistogramView::new(
                    &[1.0],
                    BucketCounts::Plain(&[1, 0]),
                    0.5,
                ))
            }
        }
        let registry = Registry::new();
        registry
            .register(Metadata::new("like"), std::sync::Arc::new(TimerLike))
            .unwrap();
        let timer = registry
            .timer(Metadata::new("real").description("Real time."), None)
            .unwrap();
        timer.observe(0.75);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = registry.encode_to_string(format, Selection::All);
            assert!(text.contains("like_seconds_sum"), "{format:?}: {text}");
            assert!(!text.contains("like_seconds_max"), "{format:?}: {text}");
            let max_at = text.find("# HELP real_seconds_max Real time.\n").unwrap();
            assert!(
                text[..max_at].contains("real_seconds_sum"),
                "{format:?}: {text}"
            );
            let max_family =
                "# TYPE real_seconds_max gauge\nreal_seconds_max{mp_scope=\"application\"} 0.75\n";
            assert!(text[max_at..].contains(max_family), "{format:?}: {text}");
        }
    }

    #[test]
    fn scope_labels_follow_each_family_and_scope() {
        use crate::metadata::Metadata;
        use crate::registry::global_tags::GlobalTags;
        let tags = GlobalTags::parse("region=eu", Some("shop")).unwrap();
        let registry = Registry::with_global_tags(tags);
        let base = Metadata::new("a_hits").scope(Scope::Base);
        registry.counter(base).unwrap().inc();
        registry.counter(Metadata::new("a_hits")).unwrap().inc();
        let own = Metadata::new("b_hits").tags(&[("region", "us")]);
        registry.counter(own).unwrap().inc();
        registry.counter(Metadata::new("c_hits")).unwrap().inc();
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "a_hits_total{region=\"eu\",mp_app=\"shop\",mp_scope=\"base\"} 1",
                "a_hits_total{region=\"eu\",mp_app=\"shop\",mp_scope=\"application\"} 1",
                "b_hits_total{region=\"us\",mp_app=\"shop\",mp_scope=\"application\"} 1",
                "c_hits_total{region=\"eu\",mp_app=\"shop\",mp_scope=\"application\"} 1",
            ]
        );
    }
}
