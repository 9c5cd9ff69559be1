//! Summaries: quantiles over a sliding time window.
//!
//! Each summary keeps [`AGE_BUCKETS`] DDSketches (from the `sketches-ddsketch` crate, a port of
//! Datadog's mergeable sketch with a relative-error guarantee of 1%), each covering one slice of the
//! window. An observation goes into the current slice; a scrape merges the slices still inside the
//! window. Old slices are cleared as time moves on, so the window slides in steps of
//! `window / AGE_BUCKETS`. Each slice records the slot's epoch (which slice of time it holds), and a
//! slot is only ever reset forward, so an observer that stalled between reading the clock and taking
//! the lock cannot clear a newer slice.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sketches_ddsketch::{Config, DDSketch};

use crate::error::Error;
use crate::metric::histogram::{Observe, TimerGuard};
use crate::metric::sketch::Sketch;
use crate::metric::MetricType;
use crate::metric::{CumulativeSketch, Metric, NewLike, SummaryView, Visitor};

/// The MicroProfile default quantiles.
pub const DEFAULT_QUANTILES: &[f64] = &[0.5, 0.75, 0.95, 0.98, 0.99, 0.999];
/// The MicroProfile default window: 10 minutes.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);
/// How many slices a window is cut into.
pub const AGE_BUCKETS: usize = 5;
/// The sketch's relative accuracy.
pub const RELATIVE_ACCURACY: f64 = 0.01;

struct Slice {
    epoch: u64,
    sketch: DDSketch,
}

struct Window {
    slices: Vec<Slice>,
    sum: f64,
    count: u64,
    /// Every observation in the mergeable form of [`crate::metric::sketch`], kept once a delta
    /// reader exists (from the summary's first observation if it was made or first observed
    /// after that, else from the first [`Metric::cumulative_sketch`] call), so that a program
    /// with no delta reader pays nothing for it.
    cumulative: Option<Sketch>,
}

struct Core {
    start: Instant,
    window: Mutex<Window>,
}

/// Set once a delta reader exists ([`crate::registry::DeltaCursor::new`]): from then on every
/// summary made or first observed keeps its cumulative sketch from its first observation.
pub(crate) static TRACK_SKETCHES: AtomicBool = AtomicBool::new(false);

fn sketch() -> DDSketch {
    DDSketch::new(Config::new(RELATIVE_ACCURACY, 2048, 1.0e-9))
}

/// Quantiles of observations over a sliding window (10 minutes by default), plus the cumulative
/// `_sum` and `_count` and the window's maximum as a `_max` gauge. Quantiles are NaN while the
/// window is empty. NaN and negative observations are refused and counted
/// ([`observe`](Self::observe)).
///
/// ```
/// use std::time::Duration;
/// use microprofile::Summary;
/// static RESPONSE_SIZE: Summary = Summary::new();
/// RESPONSE_SIZE.observe(512.0);
/// let custom = Summary::try_new(vec![0.5, 0.9], Duration::from_secs(60)).unwrap();
/// custom.observe(1.0);
/// assert_eq!(custom.count(), 1);
/// ```
pub struct Summary {
    quantiles: Cow<'static, [f64]>,
    window: Duration,
    core: OnceLock<Core>,
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("quantiles", &self.quantiles)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary::new()
    }
}

impl Summary {
    /// The default quantiles over a 10-minute window.
    pub const fn new() -> Summary {
        Summary::with_quantiles(DEFAULT_QUANTILES, DEFAULT_WINDOW)
    }

    /// These quantiles over this window, for `static`s (checked at registration).
    pub const fn with_quantiles(quantiles: &'static [f64], window: Duration) -> Summary {
        Summary {
            quantiles: Cow::Borrowed(quantiles),
            window,
            core: OnceLock::new(),
        }
    }

    /// Checked run-time quantiles and window.
    pub fn try_new(quantiles: Vec<f64>, window: Duration) -> Result<Summary, Error> {
        check_quantiles(&quantiles)?;
        check_window(window)?;
        Ok(Summary {
            quantiles: Cow::Owned(quantiles),
            window,
            core: OnceLock::new(),
        })
    }

    /// A summary with the quantiles a distribution configuration gives it: possibly none (its
    /// percentiles disabled: only `_count`, `_sum` and `_max`).
    pub(crate) fn with_configured_quantiles(
        quantiles: Vec<f64>,
        window: Duration,
    ) -> Result<Summary, Error> {
        if quantiles.is_empty() {
            check_window(window)?;
            return Ok(Summary {
                quantiles: Cow::Owned(quantiles),
                window,
                core: OnceLock::new(),
            });
        }
        Summary::try_new(quantiles, window)
    }

    fn core(&self) -> &Core {
        self.core.get_or_init(|| Core {
            start: Instant::now(),
            window: Mutex::new(Window {
                slices: (0..AGE_BUCKETS)
                    .map(|_| Slice {
                        epoch: 0,
                        sketch: sketch(),
                    })
                    .collect(),
                sum: 0.0,
                count: 0,
                cumulative: TRACK_SKETCHES.load(Ordering::Relaxed).then(Sketch::new),
            }),
        })
    }

    fn slice_length(&self) -> Duration {
        (self.window / AGE_BUCKETS as u32).max(Duration::from_millis(1))
    }

    fn epoch_at(&self, core: &Core, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(core.start);
        (elapsed.as_nanos() / self.slice_length().as_nanos()) as u64
    }

    /// Records one observation. NaN and negative values (`-Inf` included) are refused and counted
    /// as rejected updates: OpenMetrics 1.0 wants a summary's quantiles non-negative and its
    /// `_sum` a counter, so a negative value could not be exposed there (summaries are for sizes
    /// and durations; for values of either sign use a [`Histogram`](crate::Histogram)).
    ///
    /// An observation goes into the slice of the instant its thread read the clock. If the thread
    /// was held up so long that its slice has left the window (and its slot was reused), the
    /// value is still added to `_sum` and `_count` but left out of the quantiles and `_max`, and
    /// counted in the vendor metric `microprofile_late_observations_total`.
    pub fn observe(&self, value: f64) {
        self.observe_at(value, Instant::now())
    }

    pub(crate) fn observe_at(&self, value: f64, now: Instant) {
        if value.is_nan() || value < 0.0 {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        let core = self.core();
        // The clock is read before the lock, so `epoch` may be stale by the time the lock is held
        // (a preempted thread); the slot's own epoch, read under the lock, decides where it goes.
        let epoch = self.epoch_at(core, now);
        let late = {
            let mut window = core.window.lock();
            window.sum += value;
            window.count += 1;
            if let Some(cumulative) = &mut window.cumulative {
                cumulative.add(value);
            }
            let slot = (epoch % AGE_BUCKETS as u64) as usize;
            match window.slices.get_mut(slot) {
                Some(slice) if slice.epoch == epoch => {
                    slice.sketch.add(value);
                    false
                }
                // A slot only ever moves forward: what it held is older than the window now.
                Some(slice) if slice.epoch < epoch => {
                    slice.epoch = epoch;
                    slice.sketch = sketch();
                    slice.sketch.add(value);
                    false
                }
                // The slot already holds a newer slice, so the window has moved past this
                // observation's slice: resetting the slot would wipe the current data.
                Some(_) => true,
                None => false,
            }
        };
        if late {
            crate::metric::events::LATE_OBSERVATIONS.inc();
        }
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64())
    }

    /// Starts a timer guard that records seconds when dropped.
    pub fn start_timer(&self) -> TimerGuard<'_> {
        TimerGuard::new(self)
    }

    /// Observations since start.
    pub fn count(&self) -> u64 {
        self.core().window.lock().count
    }

    /// Sum of observations since start.
    pub fn sum(&self) -> f64 {
        self.core().window.lock().sum
    }

    /// The configured quantiles.
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    /// Reads `(quantile, value)` pairs, sum, count and max as a scrape does.
    pub fn read<R>(&self, f: impl FnOnce(&SummaryView<'_>) -> R) -> R {
        self.read_at(Instant::now(), f)
    }

    pub(crate) fn read_at<R>(&self, now: Instant, f: impl FnOnce(&SummaryView<'_>) -> R) -> R {
        let (merged, sum, count) = self.window_at(now);
        read_sketch(&self.quantiles, &merged, sum, count, f)
    }

    /// The window's observations merged into one sketch, with the cumulative sum and count.
    pub(crate) fn window_at(&self, now: Instant) -> (DDSketch, f64, u64) {
        let core = self.core();
        let epoch = self.epoch_at(core, now);
        let oldest = epoch.saturating_sub(AGE_BUCKETS as u64 - 1);
        let mut merged = sketch();
        let window = core.window.lock();
        for slice in window.slices.iter() {
            let live = slice.epoch >= oldest && slice.epoch <= epoch;
            if live && slice.sketch.count() > 0 {
                // Same configuration on both sides: merging cannot fail.
                let _ = merged.merge(&slice.sketch);
            }
        }
        (merged, window.sum, window.count)
    }
}

/// Reads `quantiles` and the maximum out of a window sketch, as a scrape does.
pub(crate) fn read_sketch<R>(
    quantiles: &[f64],
    merged: &DDSketch,
    sum: f64,
    count: u64,
    f: impl FnOnce(&SummaryView<'_>) -> R,
) -> R {
    let quantiles: Vec<(f64, f64)> = quantiles
        .iter()
        .map(|&q| {
            let value = merged.quantile(q).ok().flatten().unwrap_or(f64::NAN);
            (q, value)
        })
        .collect();
    let max = merged.max().unwrap_or(f64::NAN);
    f(&SummaryView {
        quantiles: &quantiles,
        sum,
        count,
        max,
    })
}

/// The quantile rules, shared with `#[timed(quantiles = …)]` (`naming/rules.rs`), with their
/// wording.
fn check_quantiles(quantiles: &[f64]) -> Result<(), Error> {
    crate::naming::rules::quantiles(quantiles).map_err(|rule| Error::InvalidQuantiles {
        reason: rule.reason(),
    })
}

fn check_window(window: Duration) -> Result<(), Error> {
    if window < Duration::from_millis(AGE_BUCKETS as u64) {
        return Err(Error::InvalidQuantiles {
            reason: "the window must be at least 5 ms long",
        });
    }
    Ok(())
}

impl Observe for Summary {
    fn observe_value(&self, value: f64) {
        self.observe(value)
    }
}

impl Metric for Summary {
    fn metric_type(&self) -> MetricType {
        MetricType::Summary
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.read(|view| visitor.summary(view))
    }
    fn validate(&self) -> Result<(), Error> {
        // No quantiles at all is a summary whose percentiles a distribution configuration
        // disabled: `_count`, `_sum` and `_max` only.
        if !self.quantiles.is_empty() {
            check_quantiles(&self.quantiles)?;
        }
        check_window(self.window)
    }
    fn reuse_key(&self) -> Option<String> {
        Some(format!(
            "summary with the quantiles {:?} over {:?}",
            self.quantiles, self.window
        ))
    }
    fn cumulative_sketch(&self) -> Option<CumulativeSketch> {
        let mut window = self.core().window.lock();
        let sketch = window.cumulative.get_or_insert_with(Sketch::new).clone();
        Some(CumulativeSketch {
            sketch,
            count: window.count,
            sum: window.sum,
        })
    }
}

impl NewLike for Summary {
    fn new_like(&self) -> Self {
        Summary {
            quantiles: self.quantiles.clone(),
            window: self.window,
            core: OnceLock::new(),
        }
    }

    fn reset(&self) {
        if let Some(core) = self.core.get() {
            let mut window = core.window.lock();
            window.sum = 0.0;
            window.count = 0;
            if let Some(cumulative) = &mut window.cumulative {
                *cumulative = Sketch::new();
            }
            for slice in &mut window.slices {
                slice.sketch = sketch();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Summaries decide every quantile case of the shared corpus (`naming/bounds.txt`) as the
    /// shared rules do, with the same reason; `microprofile-macros` checks `quantiles = …`
    /// against the same corpus, so the two cannot drift apart.
    #[test]
    fn quantiles_agree_with_the_rules_on_the_corpus() {
        use crate::naming::rules::corpus::{decide_values, values_cases, Values};
        let mut checked = 0;
        for case in values_cases() {
            if case.values != Values::Quantiles {
                continue;
            }
            checked += 1;
            assert_eq!(
                Summary::try_new(case.numbers.clone(), Duration::from_secs(10)).map(drop),
                decide_values(&case).map_err(|(reason, _)| Error::InvalidQuantiles { reason }),
                "bounds.txt:{}",
                case.line
            );
        }
        assert!(checked > 10);
    }

    #[test]
    fn empty_window_is_nan_and_quantiles_are_close() {
        let s = Summary::try_new(vec![0.5, 0.99], Duration::from_secs(10)).unwrap();
        s.read(|v| {
            assert!(v.quantiles.iter().all(|(_, x)| x.is_nan()));
            assert!(v.max.is_nan());
            assert_eq!(v.count, 0);
        });
        for i in 1..=1000 {
            s.observe(i as f64);
        }
        s.read(|v| {
            let median = v.quantiles[0].1;
            assert!((median - 500.0).abs() <= 500.0 * 0.02, "{median}");
            let p99 = v.quantiles[1].1;
            assert!((p99 - 990.0).abs() <= 990.0 * 0.02, "{p99}");
            assert_eq!(v.max, 1000.0);
            assert_eq!(v.count, 1000);
            assert_eq!(v.sum, 500500.0);
        });
    }

    #[test]
    fn window_slides() {
        let s = Summary::try_new(vec![0.5], Duration::from_secs(10)).unwrap();
        let t0 = Instant::now();
        s.observe_at(100.0, t0);
        s.read_at(t0 + Duration::from_secs(5), |v| {
            assert!(!v.quantiles[0].1.is_nan())
        });
        // After a full window, the old observation is gone but count and sum remain.
        s.read_at(t0 + Duration::from_secs(11), |v| {
            assert!(v.quantiles[0].1.is_nan());
            assert_eq!(v.count, 1);
            assert_eq!(v.sum, 100.0);
        });
        s.observe_at(7.0, t0 + Duration::from_secs(12));
        s.read_at(t0 + Duration::from_secs(12), |v| {
            assert!((v.quantiles[0].1 - 7.0).abs() < 0.1);
            assert_eq!(v.max, 7.0);
        });
    }

    /// Issue 12, item 8: an observer that read the clock in slice E, then stalled until the window
    /// had moved on by a whole turn of the slots, must not wipe the slice now using E's slot.
    #[test]
    fn stalled_observer_cannot_wipe_the_current_slice() {
        let s = Summary::try_new(vec![0.5], Duration::from_secs(10)).unwrap();
        // Slices are 2 s long; mid-slice instants keep the epochs unambiguous.
        let start = s.core().start;
        let in_slice = |e: u64| start + Duration::from_secs(2 * e + 1);
        // The stalled observer's clock read: slice 0.
        let stalled_at = in_slice(0);
        s.observe_at(1.0, stalled_at);
        // Five slices later, slice 5 (the same slot as slice 0) is current and gets data.
        let now = in_slice(AGE_BUCKETS as u64);
        for _ in 0..10 {
            s.observe_at(100.0, now);
        }
        let late_before = crate::metric::events::LATE_OBSERVATIONS.get();
        // The stalled observer lands at last, with the epoch it computed before stalling.
        s.observe_at(1_000_000.0, stalled_at);
        assert!(crate::metric::events::LATE_OBSERVATIONS.get() > late_before);
        s.read_at(now, |v| {
            // Slice 5's data survived, and the late value (outside the window) is not in it.
            assert!(
                (v.quantiles[0].1 - 100.0).abs() <= 100.0 * 0.02,
                "{:?}",
                v.quantiles
            );
            assert!((v.max - 100.0).abs() <= 100.0 * 0.02, "{}", v.max);
            // `_sum` and `_count` are since start: every observation is in them.
            assert_eq!(v.count, 12);
            assert_eq!(v.sum, 1.0 + 1000.0 + 1_000_000.0);
        });
    }

    /// A stalled observer whose slice is still inside the window lands in that slice.
    #[test]
    fn stalled_observer_lands_in_its_own_slice() {
        let s = Summary::try_new(vec![0.5], Duration::from_secs(10)).unwrap();
        let start = s.core().start;
        let in_slice = |e: u64| start + Duration::from_secs(2 * e + 1);
        let now = in_slice(3);
        s.observe_at(100.0, now);
        // Computed in slice 1, lands after slice 3 got data: slice 1 is still in the window.
        s.observe_at(5.0, in_slice(1));
        s.read_at(now, |v| {
            assert_eq!(v.count, 2);
            assert!((v.max - 100.0).abs() <= 100.0 * 0.02, "{}", v.max);
        });
        // It went into slice 1 (not slice 3): once slice 1 has left the window, only 100 is left.
        s.read_at(in_slice(1 + AGE_BUCKETS as u64), |v| {
            assert!(
                (v.quantiles[0].1 - 100.0).abs() <= 100.0 * 0.02,
                "{:?}",
                v.quantiles
            );
        });
        // And a slot that still holds an older epoch is reset forward for it.
        s.observe_at(7.0, in_slice(6));
        s.observe_at(9.0, in_slice(8));
        s.read_at(in_slice(8), |v| {
            assert!(
                (v.quantiles[0].1 - 7.0).abs() <= 7.0 * 0.02,
                "{:?}",
                v.quantiles
            );
            assert!((v.max - 9.0).abs() <= 9.0 * 0.02, "{}", v.max);
        });
    }

    #[test]
    fn refuses_bad_quantiles() {
        for q in [vec![], vec![0.0], vec![1.0], vec![0.5, 0.5], vec![f64::NAN]] {
            assert!(Summary::try_new(q, DEFAULT_WINDOW).is_err());
        }
        assert!(Summary::with_quantiles(&[1.5], DEFAULT_WINDOW)
            .validate()
            .is_err());
    }

    #[test]
    fn negative_and_nan_observations_are_refused_and_counted() {
        let summary = Summary::new();
        let before = crate::metric::events::REJECTED_UPDATES.get();
        for value in [-1.0, f64::NEG_INFINITY, f64::NAN, -0.0, 2.0] {
            summary.observe(value);
        }
        // -0.0 >= 0.0: taken, as is 2.0.
        assert_eq!(summary.count(), 2);
        assert_eq!(summary.sum(), 2.0);
        assert!(crate::metric::events::REJECTED_UPDATES.get() - before >= 3);
    }

    #[test]
    fn reset_starts_from_zero() {
        let summary = Summary::new();
        summary.observe(5.0);
        summary.reset();
        assert_eq!((summary.count(), summary.sum()), (0, 0.0));
        summary.read(|view| assert!(view.max.is_nan()));
        summary.observe(1.0);
        assert_eq!((summary.count(), summary.sum()), (1, 1.0));
    }
}
