//! Histograms and timers: lock-free observation with consistent scrapes.
//!
//! Observations go to one of two shards, the "hot" one, chosen by the top bit of a shared counter
//! (the scheme of the Prometheus Go client). A scrape flips the bit, waits until every observation
//! that started on the now-cold shard has finished, reads it, and folds it into the new hot shard.
//! Observers never wait; a scrape always sees `_count` equal to the `+Inf` bucket.
//!
//! Such a pair of shards with its counter is a *lane*. A histogram starts with one; the first time
//! two threads' observations meet on it (the sum's compare-and-swap has to retry), it gives groups
//! of threads lanes of their own, each on its own cache lines, so that threads hammering one
//! histogram stop passing its cache lines back and forth. A scrape settles every lane and adds
//! them up: each observation is in exactly one lane, so the total is as consistent as each lane.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::Error;
use crate::metric::summary::{AGE_BUCKETS, DEFAULT_WINDOW};
use crate::metric::MetricType;
use crate::metric::{
    add_f64, add_f64_contended, BucketCounts, HistogramView, Metric, NewLike, Visitor,
};
use crate::naming::rules;

/// The Prometheus client default buckets, in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HOT_BIT: u64 = 1 << 63;

/// Bucket upper bounds: `linear`, `exponential`, or checked explicit lists.
pub struct Buckets;

impl Buckets {
    /// `count` buckets `start, start + width, …`.
    ///
    /// ```
    /// assert_eq!(microprofile::Buckets::linear(1.0, 2.0, 3).unwrap(), vec![1.0, 3.0, 5.0]);
    /// ```
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Vec<f64>, Error> {
        rules::linear(start, width, count).map_err(refused)
    }

    /// `count` buckets `start, start * factor, …`.
    ///
    /// ```
    /// assert_eq!(microprofile::Buckets::exponential(1.0, 2.0, 3).unwrap(), vec![1.0, 2.0, 4.0]);
    /// ```
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Vec<f64>, Error> {
        rules::exponential(start, factor, count).map_err(refused)
    }

    /// Checks that bounds are non-empty, finite and strictly increasing.
    pub fn check(bounds: &[f64]) -> Result<(), Error> {
        rules::buckets(bounds).map_err(refused)
    }
}

/// The bucket rules' refusal as the run-time error; the rules and their wording are shared with
/// `#[timed(buckets = …)]` (`naming/rules.rs`).
fn refused(rule: rules::BucketError) -> Error {
    Error::InvalidBuckets {
        reason: rule.reason(),
    }
}

/// One of the two halves observations go to. An observation adds to the sum first and to its
/// bucket last (with `Release`), so once the buckets of a shard add up to the observations that
/// began on it, their sums are in too: the buckets are the shard's count of completed
/// observations, and an observation costs three atomic operations, not four.
struct Shard {
    buckets: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

impl Shard {
    fn new(len: usize) -> Shard {
        Shard {
            buckets: (0..len).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0),
        }
    }

    /// Observations completed on this shard.
    fn completed(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Acquire))
            .fold(0u64, u64::wrapping_add)
    }
}

/// Two shards and the counter that picks the hot one.
struct Lane {
    count_and_hot: AtomicU64,
    shards: [Shard; 2],
}

impl Lane {
    fn new(len: usize) -> Lane {
        Lane {
            count_and_hot: AtomicU64::new(0),
            shards: [Shard::new(len), Shard::new(len)],
        }
    }

    fn shard(&self, second: bool) -> &Shard {
        if second {
            &self.shards[1]
        } else {
            &self.shards[0]
        }
    }

    /// Records `value` in bucket `index` of the hot shard; `true` when the sum's update met
    /// another thread's.
    #[inline]
    fn observe(&self, index: usize, value: f64) -> bool {
        let n = self.count_and_hot.fetch_add(1, Ordering::Acquire);
        let hot = self.shard(n & HOT_BIT != 0);
        let contended = add_f64_contended(&hot.sum_bits, value);
        // `index <= bounds.len()`, so it names a bucket; the +Inf bucket stands in regardless,
        // since a scrape waits for every observation that began to reach a bucket.
        if let Some(bucket) = hot.buckets.get(index).or(hot.buckets.last()) {
            bucket.fetch_add(1, Ordering::Release);
        }
        contended
    }

    /// Flips the hot shard, waits for the observations that began on the cold one, adds its
    /// buckets to `counts` and its sum to `sum`, and folds it into the hot one. The caller holds
    /// the scrape lock.
    ///
    /// No code but this runs between the flip and the fold: were it interrupted there (a reader's
    /// callback that panics), the cold shard would keep its observations, the next flip would
    /// make it hot again, and every later settle would wait forever for a count it can't reach.
    fn settle(&self, counts: &mut [u64], sum: &mut f64) {
        let n = self.count_and_hot.fetch_add(HOT_BIT, Ordering::AcqRel);
        let started = n & !HOT_BIT;
        let cold = self.shard(n & HOT_BIT != 0);
        let hot = self.shard(n & HOT_BIT == 0);
        // Wait for observations that began on the cold shard; each is a handful of instructions.
        let mut spins = 0u32;
        while cold.completed() != started {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Read the cold shard, fold it into the hot one and clear it for the next flip.
        for ((cold_bucket, hot_bucket), total) in
            cold.buckets.iter().zip(hot.buckets.iter()).zip(counts)
        {
            let count = cold_bucket.swap(0, Ordering::Relaxed);
            *total = total.wrapping_add(count);
            hot_bucket.fetch_add(count, Ordering::Relaxed);
        }
        let cold_sum = f64::from_bits(cold.sum_bits.swap(0, Ordering::Relaxed));
        *sum += cold_sum;
        add_f64(&hot.sum_bits, cold_sum);
    }
}

impl Lane {
    /// Takes out of this lane every observation it holds, keeping those still under way. The
    /// caller holds the scrape lock. What is subtracted is what a settle saw (so the count of
    /// started observations, and with it every later settle, stays consistent); an observation
    /// racing with the reset is kept whole. `scratch` has one entry per bucket.
    fn reset(&self, scratch: &mut [u64]) {
        scratch.fill(0);
        let mut sum = 0.0;
        self.settle(scratch, &mut sum);
        // After the settle everything it saw is in the hot shard, which stays hot: flips happen
        // only under the scrape lock.
        let hot = self.shard(self.count_and_hot.load(Ordering::Relaxed) & HOT_BIT != 0);
        let mut total = 0u64;
        for (bucket, &count) in hot.buckets.iter().zip(scratch.iter()) {
            bucket.fetch_sub(count, Ordering::Relaxed);
            total = total.wrapping_add(count);
        }
        // `(s + x) - s` is never below 0 for `x >= 0`: a sum of racing non-negative observations
        // stays non-negative.
        add_f64(&hot.sum_bits, -sum);
        // The low bits count started observations, at least the `total` completed ones.
        self.count_and_hot.fetch_sub(total, Ordering::Relaxed);
    }
}

/// A lane on cache lines of its own.
#[repr(align(128))]
struct PaddedLane(Lane);

/// The most lanes a contended histogram gets.
const MAX_LANES: usize = 16;

/// The number of lanes a contended histogram gets: the available cores (read once per process:
/// it may read cgroup files), at least 2, at most [`MAX_LANES`].
fn lane_count() -> usize {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    match COUNT.load(Ordering::Relaxed) {
        0 => {
            let count = std::thread::available_parallelism()
                .map_or(4, |n| n.get())
                .clamp(2, MAX_LANES);
            COUNT.store(count, Ordering::Relaxed);
            count
        }
        count => count,
    }
}

/// This thread's lane number (taken modulo the number of lanes): threads are numbered in the
/// order they first observe a contended histogram.
fn thread_lane() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LANE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
    LANE.try_with(|lane| match lane.get() {
        Some(n) => n,
        None => {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            lane.set(Some(n));
            n
        }
    })
    // During thread-local destruction: share the first lane.
    .unwrap_or(0)
}

struct Core {
    bounds: Box<[f64]>,
    lane: Lane,
    /// Made the first time two observations meet on `lane`; from then on each thread observes
    /// into lane `thread_lane() % len`. `lane` keeps what it holds and is still read.
    lanes: OnceLock<Box<[PaddedLane]>>,
    scrape: Mutex<()>,
    /// Set by the first negative observation, never cleared: from then on the sum can go down,
    /// so it is no counter (OpenMetrics then exposes no `_sum`).
    negative: AtomicBool,
}

impl Core {
    fn new(bounds: &[f64]) -> Core {
        // Statics skip the constructor's checks; keep what is usable so observing never fails.
        let mut clean: Vec<f64> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        clean.sort_by(f64::total_cmp);
        clean.dedup();
        let len = clean.len() + 1;
        Core {
            bounds: clean.into_boxed_slice(),
            lane: Lane::new(len),
            lanes: OnceLock::new(),
            scrape: Mutex::new(()),
            negative: AtomicBool::new(false),
        }
    }

    /// Notes a negative observation; a shared line is written once, not on every one.
    #[cold]
    #[inline(never)]
    fn note_negative(&self) {
        if !self.negative.load(Ordering::Relaxed) {
            self.negative.store(true, Ordering::Relaxed);
        }
    }

    /// One lane per available core.
    fn new_lanes(&self) -> Box<[PaddedLane]> {
        (0..lane_count())
            .map(|_| PaddedLane(Lane::new(self.bounds.len() + 1)))
            .collect()
    }

    /// Gives this histogram its lanes, unless a racing observer already has. The lanes are made
    /// before the `OnceLock` is touched, so a racing observer never waits for more than the store.
    #[cold]
    #[inline(never)]
    fn add_lanes(&self) {
        if self.lanes.get().is_none() {
            // A loser of the race drops the lanes it made.
            let _ = self.lanes.set(self.new_lanes());
        }
    }
}

/// A histogram with explicit buckets. Observing takes no lock, never waits, and allocates nothing
/// but once: the first time two threads' observations meet on it, it makes one lane per core, so
/// that threads stop passing its cache lines back and forth. Each lane is a pair of shards: a read
/// flips which one takes observations, waits for those under way on the other, and folds it in,
/// so every read sees `_count` equal to the `+Inf` bucket (the scheme of the Prometheus Go client).
///
/// # Negative, infinite and NaN observations
///
/// - **NaN** is refused: it is in no bucket, not in `_count` nor in `_sum`, and is counted in
///   `microprofile_rejected_updates_total`.
/// - **`+Inf`** goes to the `+Inf` bucket and makes the sum `+Inf` from then on (a sum that
///   overflows does the same). OpenMetrics allows that: a sum must not be NaN or negative.
/// - **Negative values** (`-Inf` included) are counted in their buckets like any other, and
///   summed; bucket bounds may be negative too (`Buckets::linear(-10.0, 5.0, 5)`). But OpenMetrics
///   1.0 wants a histogram's sum to be a counter: a histogram with a negative bound, or that has
///   ever observed a negative value, has no `_sum` in OpenMetrics, and so no `_count` either (the
///   format has `_count` if and only if it has `_sum`); the count is still the `+Inf` bucket.
///   Prometheus text 0.0.4 has no such rule and always gets `_count` and `_sum`, as the Go client
///   writes them, so a sum that went down there reads as a counter reset to `rate()`.
///   [`sum`](Self::sum) and [`read`](Self::read) always give the sum.
///
/// ```
/// use microprofile::{Format, Metadata, Registry, Selection};
/// let registry = Registry::new();
/// let skew = registry.histogram(Metadata::new("skew"), Some(vec![0.0, 1.0])).unwrap();
/// skew.observe(-0.5);
/// skew.observe(2.0);
/// assert_eq!((skew.count(), skew.sum()), (2, 1.5));
/// let text = registry.encode_to_string(Format::OpenMetrics, Selection::All);
/// assert!(text.contains("skew_bucket{mp_scope=\"application\",le=\"+Inf\"} 2\n"));
/// assert!(!text.contains("skew_sum") && !text.contains("skew_count"));
/// let text = registry.encode_to_string(Format::Prometheus, Selection::All);
/// assert!(text.contains("skew_sum{mp_scope=\"application\"} 1.5\n"));
/// ```
///
/// ```
/// use microprofile::{Histogram, Buckets};
/// static SIZES: Histogram = Histogram::with_buckets(&[100.0, 1000.0, 10000.0]);
/// SIZES.observe(512.0);
/// let dynamic = Histogram::try_with_buckets(Buckets::exponential(1.0, 2.0, 8).unwrap()).unwrap();
/// dynamic.observe(3.0);
/// assert_eq!(dynamic.count(), 1);
/// ```
pub struct Histogram {
    bounds: Cow<'static, [f64]>,
    core: OnceLock<Core>,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// A histogram with the Prometheus default buckets.
    pub const fn new() -> Histogram {
        Histogram::with_buckets(DEFAULT_BUCKETS)
    }

    /// A histogram with these bounds, for `static`s. The bounds are checked when the registry takes
    /// the metric (an invalid list is reported, and unusable bounds are dropped rather than panicking).
    pub const fn with_buckets(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds: Cow::Borrowed(bounds),
            core: OnceLock::new(),
        }
    }

    /// A histogram with checked run-time bounds.
    pub fn try_with_buckets(bounds: Vec<f64>) -> Result<Histogram, Error> {
        Buckets::check(&bounds)?;
        Ok(Histogram {
            bounds: Cow::Owned(bounds),
            core: OnceLock::new(),
        })
    }

    /// The finite bucket upper bounds, as given (`+Inf` is always there besides).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The histogram's state, made on first use. Inlined: on the observe path it is one load and
    /// a predicted branch, where a call showed up as 8 % of an observe's profile.
    #[inline]
    fn core(&self) -> &Core {
        match self.core.get() {
            Some(core) => core,
            None => self.init_core(),
        }
    }

    #[cold]
    #[inline(never)]
    fn init_core(&self) -> &Core {
        self.core.get_or_init(|| Core::new(&self.bounds))
    }

    /// Records one observation. NaN is refused and counted as a rejected update; a negative value
    /// is taken, but the sum is no longer exposed in OpenMetrics (see [`Histogram`]).
    #[inline]
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        let core = self.core();
        if value < 0.0 {
            // Before the observation's bucket is counted (see `read`).
            core.note_negative();
        }
        // A linear scan beats a binary search over the usual dozen buckets (fewer mispredicted
        // branches, measured in BENCHMARKS.md); long bucket lists keep the binary search.
        let index = if core.bounds.len() <= 16 {
            core.bounds.iter().take_while(|&&b| b < value).count()
        } else {
            core.bounds.partition_point(|&b| b < value)
        };
        match core.lanes.get() {
            Some(lanes) => {
                let lane = thread_lane()
                    .checked_rem(lanes.len())
                    .and_then(|i| lanes.get(i))
                    .map_or(&core.lane, |l| &l.0);
                lane.observe(index, value);
            }
            None => {
                if core.lane.observe(index, value) {
                    core.add_lanes();
                }
            }
        }
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64())
    }

    /// Starts a timer that records the elapsed seconds when dropped.
    pub fn start_timer(&self) -> TimerGuard<'_> {
        TimerGuard::new(self)
    }

    /// Runs `f` and records how long it took, in seconds.
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.start_timer();
        f()
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        let mut count = 0;
        self.read(|view| count = view.count());
        count
    }

    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        let mut sum = 0.0;
        self.read(|view| sum = view.sum());
        sum
    }

    /// Reads a consistent view (as a scrape does). `f` runs after the histogram has been read
    /// and released, so it may take its time, read the histogram again, or panic (losing only
    /// its own read).
    pub fn read(&self, f: impl FnOnce(&HistogramView<'_>)) {
        let core = self.core();
        let mut counts = CountBuffer::zeroed(core.bounds.len() + 1);
        let mut sum = 0.0;
        let negative = {
            let _scrape = core.scrape.lock();
            let lanes = core.lanes.get().map_or(&[][..], |lanes| &lanes[..]);
            for lane in std::iter::once(&core.lane).chain(lanes.iter().map(|l| &l.0)) {
                lane.settle(counts.as_mut_slice(), &mut sum);
            }
            // Each negative observation set this before its bucket's `Release` add, which the
            // settle acquired: a sum that holds one is seen with it.
            core.negative.load(Ordering::Relaxed)
        };
        let view = HistogramView::new(&core.bounds, BucketCounts::Plain(counts.as_slice()), sum)
            .with_negative_observations(negative);
        f(&view);
    }
}

/// The bucket counts a read copies out of the settled shards: on the stack for up to
/// [`INLINE_COUNTS`] buckets, so reading the usual histogram allocates nothing.
struct CountBuffer {
    inline: [u64; INLINE_COUNTS],
    /// Empty (unallocated) unless there are more buckets than `inline` holds.
    heap: Vec<u64>,
    len: usize,
}

/// Buckets (the `+Inf` one included) whose counts a read keeps on the stack (512 bytes).
const INLINE_COUNTS: usize = 64;

impl CountBuffer {
    fn zeroed(len: usize) -> CountBuffer {
        CountBuffer {
            inline: [0; INLINE_COUNTS],
            heap: if len > INLINE_COUNTS {
                vec![0; len]
            } else {
                Vec::new()
            },
            len,
        }
    }

    fn as_slice(&self) -> &[u64] {
        if self.heap.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.heap
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u64] {
        if self.heap.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or_default()
        } else {
            &mut self.heap
        }
    }
}

impl Metric for Histogram {
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.read(|view| visitor.histogram(view))
    }
    fn validate(&self) -> Result<(), Error> {
        Buckets::check(&self.bounds)
    }
    fn reuse_key(&self) -> Option<String> {
        Some(format!("histogram with the buckets {:?}", self.bounds))
    }
}

impl NewLike for Histogram {
    fn new_like(&self) -> Self {
        Histogram {
            bounds: self.bounds.clone(),
            core: OnceLock::new(),
        }
    }

    fn reset(&self) {
        let Some(core) = self.core.get() else {
            return;
        };
        let _scrape = core.scrape.lock();
        // Removing a series is rare: a buffer per reset is fine.
        let mut scratch = vec![0u64; core.bounds.len() + 1];
        let lanes = core.lanes.get().map_or(&[][..], |lanes| &lanes[..]);
        for lane in std::iter::once(&core.lane).chain(lanes.iter().map(|l| &l.0)) {
            lane.reset(&mut scratch);
        }
        core.negative.store(false, Ordering::Relaxed);
    }
}

/// Something that takes observations in seconds: histograms, timers, summaries.
pub trait Observe {
    /// Records one observation.
    fn observe_value(&self, value: f64);
}

impl Observe for Histogram {
    fn observe_value(&self, value: f64) {
        self.observe(value)
    }
}

impl Observe for Timer {
    fn observe_value(&self, value: f64) {
        self.observe(value)
    }
}

/// Records the seconds elapsed since it was created into its target when dropped (also while
/// unwinding from a panic), unless [`discard`](Self::discard)ed.
///
/// A guard holds no lock and is `Send` and `Sync`, so it can be kept across an `.await`: it either
/// borrows its target (a `static` timer, a series of a dense family) or shares ownership of it (a
/// series of a hashed family, see [`SeriesRef::start_timer`](crate::SeriesRef::start_timer)).
#[must_use = "the duration is recorded when the guard drops; dropping it at once records ~0 s"]
pub struct TimerGuard<'a> {
    target: Target<'a>,
    start: Instant,
    armed: bool,
}

/// What a [`TimerGuard`] records into.
enum Target<'a> {
    Borrowed(&'a (dyn Observe + Sync)),
    Shared(Arc<dyn Observe + Send + Sync>),
}

impl Target<'_> {
    fn observe(&self, seconds: f64) {
        match self {
            Target::Borrowed(target) => target.observe_value(seconds),
            Target::Shared(target) => target.observe_value(seconds),
        }
    }
}

impl<'a> TimerGuard<'a> {
    /// Starts timing now.
    pub fn new(target: &'a (dyn Observe + Sync)) -> TimerGuard<'a> {
        TimerGuard {
            target: Target::Borrowed(target),
            start: Instant::now(),
            armed: true,
        }
    }

    /// Starts timing now, into a target the guard keeps alive.
    pub fn shared(target: Arc<dyn Observe + Send + Sync>) -> TimerGuard<'static> {
        TimerGuard {
            target: Target::Shared(target),
            start: Instant::now(),
            armed: true,
        }
    }

    /// Records now and returns the seconds recorded.
    pub fn stop(mut self) -> f64 {
        self.armed = false;
        let seconds = self.start.elapsed().as_secs_f64();
        self.target.observe(seconds);
        seconds
    }

    /// Drops the guard without recording.
    pub fn discard(mut self) {
        self.armed = false;
    }
}

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.target.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

/// The largest observation of a timer over a sliding window, for its `_max` gauge.
///
/// Observing is one relaxed load and, only when the value is above the largest one since the last
/// read, a relaxed `fetch_max`: no lock, no clock read, and (once the maximum has settled) no
/// write to the shared line. The window is the summaries' ([`DEFAULT_WINDOW`], 10 minutes) cut
/// into [`AGE_BUCKETS`] slices; reads alone move it. A read takes the maximum observed since the
/// previous read into the slice of the read's instant and returns the largest of the slices still
/// inside the window, so an observation counts for at least the window after it was made and at
/// most the window plus the time to the next read (a scrape interval).
struct WindowMax {
    /// The largest observation since the last read, as an [`order_key`]; [`NO_MAX`] for none.
    current: AtomicU64,
    /// Read side only: the slices' maxima.
    slices: Mutex<MaxSlices>,
}

/// The key no observation has ([`order_key`] of a non-NaN value is never 0).
const NO_MAX: u64 = 0;

/// The sign bit of an `f64`.
const SIGN_BIT: u64 = 1 << 63;

/// `value` as a `u64` whose unsigned order is the order of the (non-NaN) `f64`s, `-Inf` to
/// `+Inf`, so that `fetch_max` keeps the largest observation.
#[inline]
fn order_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits & SIGN_BIT == 0 {
        bits | SIGN_BIT
    } else {
        !bits
    }
}

/// The inverse of [`order_key`]; NaN for [`NO_MAX`].
fn from_order_key(key: u64) -> f64 {
    if key == NO_MAX {
        f64::NAN
    } else if key & SIGN_BIT != 0 {
        f64::from_bits(key & !SIGN_BIT)
    } else {
        f64::from_bits(!key)
    }
}

struct MaxSlices {
    /// The instant of the first read, from which slices are counted.
    start: Option<Instant>,
    /// `(epoch, key)` per slot: the largest observation read in slice `epoch`.
    slots: [(u64, u64); AGE_BUCKETS],
}

impl WindowMax {
    const fn new() -> WindowMax {
        WindowMax {
            current: AtomicU64::new(NO_MAX),
            slices: Mutex::new(MaxSlices {
                start: None,
                slots: [(0, NO_MAX); AGE_BUCKETS],
            }),
        }
    }

    #[inline]
    fn observe(&self, value: f64) {
        let key = order_key(value);
        if key > self.current.load(Ordering::Relaxed) {
            self.current.fetch_max(key, Ordering::Relaxed);
        }
    }

    /// The largest observation in the window at `now` (NaN when there is none); takes what was
    /// observed since the last read into the slice of `now`.
    fn read_at(&self, now: Option<Instant>) -> f64 {
        let mut slices = self.slices.lock();
        // Read under the lock, so that the instants of successive reads never go back.
        let now = now.unwrap_or_else(Instant::now);
        let start = *slices.start.get_or_insert(now);
        let slice = (DEFAULT_WINDOW / AGE_BUCKETS as u32).as_nanos().max(1);
        let epoch = (now.saturating_duration_since(start).as_nanos() / slice) as u64;
        let taken = self.current.swap(NO_MAX, Ordering::Relaxed);
        let slot = (epoch % AGE_BUCKETS as u64) as usize;
        if let Some(entry) = slices.slots.get_mut(slot) {
            if entry.0 != epoch {
                *entry = (epoch, NO_MAX);
            }
            entry.1 = entry.1.max(taken);
        }
        let oldest = epoch.saturating_sub(AGE_BUCKETS as u64 - 1);
        let key = slices
            .slots
            .iter()
            .filter(|(e, _)| (oldest..=epoch).contains(e))
            .map(|&(_, key)| key)
            .max()
            .unwrap_or(NO_MAX);
        from_order_key(key)
    }

    fn reset(&self) {
        let mut slices = self.slices.lock();
        self.current.store(NO_MAX, Ordering::Relaxed);
        for entry in &mut slices.slots {
            entry.1 = NO_MAX;
        }
    }
}

/// A histogram of durations, always exposed in seconds (`_seconds`), with a `_max` gauge: the
/// largest duration recorded in the last 10 minutes (the summaries' [`DEFAULT_WINDOW`]; NaN while
/// none was), written as a gauge family `<name>_seconds_max` after the histogram, as MicroProfile
/// Metrics 5.1 exposes a timer. Keeping the maximum adds one relaxed load per observation (and a
/// `fetch_max` only when the value is above the largest since the last scrape); the window moves
/// with reads, so a duration counts in `_max` for at least 10 minutes and at most 10 minutes plus
/// the time to the next scrape. Observations made through [`histogram`](Self::histogram) are in
/// the buckets but not in `_max`.
///
/// ```
/// static CALLS: microprofile::Timer = microprofile::Timer::new();
/// let answer = CALLS.time(|| 6 * 7);
/// {
///     let _t = CALLS.start_timer();
///     // work…
/// }
/// assert_eq!((answer, CALLS.count()), (42, 2));
/// CALLS.observe(1.5);
/// assert_eq!(CALLS.max(), 1.5);
/// ```
pub struct Timer {
    histogram: Histogram,
    max: WindowMax,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Timer").field(&self.histogram).finish()
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Timer {
    /// A timer with the Prometheus default buckets (5 ms to 10 s).
    pub const fn new() -> Timer {
        Timer::with_buckets(DEFAULT_BUCKETS)
    }

    /// A timer with these bounds in seconds, for `static`s (checked at registration).
    pub const fn with_buckets(bounds: &'static [f64]) -> Timer {
        Timer {
            histogram: Histogram::with_buckets(bounds),
            max: WindowMax::new(),
        }
    }

    /// A timer with checked run-time bounds in seconds.
    pub fn try_with_buckets(bounds: Vec<f64>) -> Result<Timer, Error> {
        Histogram::try_with_buckets(bounds).map(|histogram| Timer {
            histogram,
            max: WindowMax::new(),
        })
    }

    /// Starts a timer guard that records when dropped.
    pub fn start_timer(&self) -> TimerGuard<'_> {
        TimerGuard::new(self)
    }

    /// Runs `f` and records its duration.
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.start_timer();
        f()
    }

    /// Records a duration.
    pub fn record(&self, duration: Duration) {
        self.observe(duration.as_secs_f64())
    }

    /// Records a duration given in seconds (NaN and negative values as [`Histogram`] takes them;
    /// NaN is not in `_max` either).
    #[inline]
    pub fn observe(&self, seconds: f64) {
        // The maximum first: a read settles the histogram before it takes the maximum, so every
        // observation it counts is in the maximum it exposes.
        if !seconds.is_nan() {
            self.max.observe(seconds);
        }
        self.histogram.observe(seconds)
    }

    /// Timed calls so far.
    pub fn count(&self) -> u64 {
        self.histogram.count()
    }

    /// Total seconds recorded.
    pub fn sum(&self) -> f64 {
        self.histogram.sum()
    }

    /// The largest duration in seconds recorded in the window (see [`Timer`]), as a scrape reads
    /// it for `_max`; NaN when there is none.
    pub fn max(&self) -> f64 {
        self.max.read_at(None)
    }

    /// The underlying histogram.
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }
}

impl Metric for Timer {
    fn metric_type(&self) -> MetricType {
        MetricType::Timer
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.histogram.read(|view| {
            let view = view.with_max(self.max.read_at(None));
            visitor.histogram(&view)
        })
    }
    fn validate(&self) -> Result<(), Error> {
        self.histogram.validate()
    }
    fn reuse_key(&self) -> Option<String> {
        Some(format!(
            "timer with the buckets {:?}",
            self.histogram.bounds
        ))
    }
}

impl NewLike for Timer {
    fn new_like(&self) -> Self {
        Timer {
            histogram: self.histogram.new_like(),
            max: WindowMax::new(),
        }
    }

    fn reset(&self) {
        self.histogram.reset();
        self.max.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Buckets` decides every case of the shared bucket corpus (`naming/bounds.txt`) as the
    /// shared rules do, with the same reason; `microprofile-macros` checks `buckets = …` against
    /// the same corpus, so the two cannot drift apart.
    #[test]
    fn buckets_agree_with_the_rules_on_the_corpus() {
        use rules::corpus::{decide_values, values_cases, Values};
        let mut checked = 0;
        for case in values_cases() {
            let run_time = match case.values {
                Values::Buckets => Buckets::check(&case.numbers),
                Values::Linear => {
                    let (start, width, count) = case.generator();
                    Buckets::linear(start, width, count).map(drop)
                }
                Values::Exponential => {
                    let (start, factor, count) = case.generator();
                    Buckets::exponential(start, factor, count).map(drop)
                }
                Values::Quantiles => continue,
            };
            checked += 1;
            assert_eq!(
                run_time,
                decide_values(&case).map_err(|(reason, _)| Error::InvalidBuckets { reason }),
                "bounds.txt:{}",
                case.line
            );
        }
        assert!(checked > 20);
    }

    #[test]
    fn buckets_and_counts() {
        let h = Histogram::with_buckets(&[1.0, 2.0, 5.0]);
        for v in [0.5, 1.0, 1.5, 3.0, 100.0, f64::INFINITY] {
            h.observe(v);
        }
        h.observe(f64::NAN);
        let mut seen = Vec::new();
        h.read(|view| seen = view.cumulative().collect());
        assert_eq!(seen, vec![(1.0, 2), (2.0, 3), (5.0, 4), (f64::INFINITY, 6)]);
        // A second read sees the same (folded) values.
        h.read(|view| assert_eq!(view.count(), 6));
        h.observe(0.1);
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn racing_reads_see_sums_of_exactly_the_observations_counted() {
        const THREADS: u64 = 3;
        const PER_THREAD: u64 = 200_000;
        let h = Histogram::with_buckets(&[0.5, 1.5]);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..PER_THREAD {
                            h.observe(1.0);
                        }
                    })
                })
                .collect();
            let reader = s.spawn(|| {
                let mut reads = 0u64;
                let mut last = 0;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    h.read(|view| {
                        // Every observation is 1.0: the sum is exactly the count (< 2^53).
                        assert_eq!(view.sum(), view.count() as f64);
                        assert!(view.count() >= last, "a count went back");
                        last = view.count();
                    });
                    reads += 1;
                }
                reads
            });
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
        });
        assert_eq!(h.count(), THREADS * PER_THREAD);
        assert_eq!(h.sum(), (THREADS * PER_THREAD) as f64);
    }

    #[test]
    fn contended_observers_get_lanes() {
        let h = Histogram::with_buckets(&[0.5, 1.5]);
        let core = h.core();
        // Two threads observe until their observations have met (on a loaded machine they may
        // take turns for a while), at most for 20 s.
        let deadline = Instant::now() + Duration::from_secs(20);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while core.lanes.get().is_none() && Instant::now() < deadline {
                        for _ in 0..1000 {
                            h.observe(1.0);
                        }
                    }
                });
            }
        });
        assert!(core.lanes.get().is_some());
        assert_eq!(h.sum(), h.count() as f64);
    }

    #[test]
    fn lanes_add_up_with_what_came_before_them() {
        let h = Histogram::with_buckets(&[0.5, 1.5]);
        h.observe(0.1);
        h.observe(1.0);
        let core = h.core();
        assert!(core.lanes.get().is_none());
        core.lanes.get_or_init(|| core.new_lanes());
        let h = &h;
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in 0..1000 {
                        h.observe(f64::from((i + t) % 3));
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    h.read(|view| {
                        let buckets: Vec<u64> = view.cumulative().map(|(_, c)| c).collect();
                        assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
                        assert_eq!(buckets.last().copied(), Some(view.count()));
                    });
                }
            });
        });
        let mut seen = Vec::new();
        h.read(|view| seen = view.cumulative().collect());
        // 4 threads × 1000 values cycling 0, 1, 2 (1334 + 1333 + 1333), plus 0.1 and 1.0.
        assert_eq!(
            seen,
            vec![(0.5, 1334 + 1), (1.5, 2667 + 2), (f64::INFINITY, 4002)]
        );
        assert_eq!(h.sum(), 0.1 + 1.0 + f64::from(1333 + 2 * 1333));
        // The lanes were made: one per core, at least two.
        assert!(core.lanes.get().is_some_and(|lanes| lanes.len() >= 2));
    }

    /// Runs `f` on another thread and fails the test if it has not finished within 10 s, so a
    /// hang shows up as a failure instead of a suite that never ends.
    fn within_10s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the read hung (or panicked)")
    }

    /// Observes 0.5, 1.0, 2.0 and 100.0 `rounds` times (after `earlier` such rounds), lets a read
    /// panic, and checks that a later read (on another thread, bounded in time) sees every
    /// observation.
    fn panicking_read_leaves_it_consistent(h: &'static Histogram, earlier: u32, rounds: u32) {
        for _ in 0..rounds {
            for v in [0.5, 1.0, 2.0, 100.0] {
                h.observe(v);
            }
        }
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.read(|_| panic!("a reader that panics"))
        }));
        assert!(panicked.is_err());
        h.observe(1.0);
        let (buckets, count, sum) = within_10s(move || {
            let mut seen = (Vec::new(), 0, 0.0);
            h.read(|view| {
                seen = (
                    view.cumulative().collect::<Vec<_>>(),
                    view.count(),
                    view.sum(),
                )
            });
            seen
        });
        let n = u64::from(earlier + rounds);
        assert_eq!(
            buckets,
            vec![
                (1.0, 2 * n + 1),
                (5.0, 3 * n + 1),
                (f64::INFINITY, 4 * n + 1)
            ]
        );
        assert_eq!(count, 4 * n + 1);
        assert_eq!(sum, f64::from(earlier + rounds) * 103.5 + 1.0);
        // And it keeps working: the panicking read lost only itself.
        assert_eq!(within_10s(move || h.count()), 4 * n + 1);
    }

    #[test]
    fn a_panicking_read_of_one_lane_loses_only_itself() {
        static H: Histogram = Histogram::with_buckets(&[1.0, 5.0]);
        panicking_read_leaves_it_consistent(&H, 0, 3);
        assert!(H.core().lanes.get().is_none());
    }

    #[test]
    fn a_panicking_read_of_many_lanes_loses_only_itself() {
        static H: Histogram = Histogram::with_buckets(&[1.0, 5.0]);
        let core = H.core();
        core.lanes.get_or_init(|| core.new_lanes());
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for v in [0.5, 1.0, 2.0, 100.0] {
                        H.observe(v);
                    }
                });
            }
        });
        // A round from each of 3 threads in the lanes, 2 rounds more from this thread.
        panicking_read_leaves_it_consistent(&H, 3, 2);
    }

    fn counts_and_sum(h: &Histogram) -> (Vec<(f64, u64)>, u64, f64) {
        let mut seen = (Vec::new(), 0, 0.0);
        h.read(|view| seen = (view.cumulative().collect(), view.count(), view.sum()));
        seen
    }

    #[test]
    fn reset_starts_from_zero_while_others_observe() {
        for lanes in [false, true] {
            let h = Histogram::try_with_buckets(vec![1.0, 5.0]).unwrap();
            if lanes {
                let core = h.core();
                core.lanes.get_or_init(|| core.new_lanes());
            }
            h.observe(-1.0);
            h.observe(3.0);
            h.reset();
            assert_eq!(
                counts_and_sum(&h),
                (vec![(1.0, 0), (5.0, 0), (f64::INFINITY, 0)], 0, 0.0)
            );
            h.read(|view| assert!(!view.has_negative_observations()));
            // Resets racing with observers: whatever is kept is kept whole, and reads after
            // them still settle (a reset that lost track of started observations would hang them).
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..10_000 {
                            h.observe(2.0);
                        }
                    });
                }
                s.spawn(|| {
                    for _ in 0..100 {
                        h.reset();
                    }
                });
            });
            let (buckets, count, sum) = counts_and_sum(&h);
            assert!(count <= 20_000);
            assert_eq!(
                buckets,
                vec![(1.0, 0), (5.0, count), (f64::INFINITY, count)]
            );
            assert_eq!(sum, 2.0 * count as f64);
            h.observe(0.5);
            assert_eq!(counts_and_sum(&h).1, count + 1);
        }
    }

    #[test]
    fn reads_copy_out_more_buckets_than_fit_on_the_stack() {
        for len in [INLINE_COUNTS - 1, INLINE_COUNTS, 100] {
            let bounds: Vec<f64> = (1..=len).map(|b| b as f64).collect();
            let h = Histogram::try_with_buckets(bounds).unwrap();
            for v in [0.5, 50.5, 1e6] {
                h.observe(v);
            }
            let mut seen = Vec::new();
            h.read(|view| seen = view.cumulative().collect());
            assert_eq!(seen.len(), len + 1);
            assert_eq!(seen.first(), Some(&(1.0, 1)));
            assert_eq!(seen.get(50), Some(&(51.0, 2)));
            assert_eq!(seen.last(), Some(&(f64::INFINITY, 3)));
        }
    }

    #[test]
    fn bucket_constructors_refuse_bad_input() {
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert!(Buckets::linear(0.0, 1.0, 0).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1e300, 5).is_err());
        assert!(Histogram::try_with_buckets(vec![]).is_err());
        assert!(Histogram::try_with_buckets(vec![1.0, 1.0]).is_err());
        assert!(Histogram::try_with_buckets(vec![1.0, f64::NAN]).is_err());
        // An invalid static list is reported by validate() and still observes safely.
        let h = Histogram::with_buckets(&[2.0, 1.0, f64::NAN]);
        assert!(h.validate().is_err());
        h.observe(1.5);
        assert_eq!(h.count(), 1);
    }
}

#[cfg(test)]
mod timer_max_tests {
    use super::*;

    #[test]
    fn order_keys_keep_the_order_of_the_values() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1e-9,
            0.5,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_ne!(order_key(v), NO_MAX);
            assert_eq!(from_order_key(order_key(v)).to_bits(), v.to_bits());
        }
        assert!(from_order_key(NO_MAX).is_nan());
    }

    /// The maximum decays with the window (5 slices of 2 minutes): an observation read at `t`
    /// counts until its slice leaves the window, and one made between two reads counts from the
    /// later read on.
    #[test]
    fn the_max_slides_with_the_window() {
        let max = WindowMax::new();
        let t0 = Instant::now();
        let slice = DEFAULT_WINDOW / AGE_BUCKETS as u32;
        let at = |n: u32, extra: Duration| Some(t0 + slice * n + extra);
        assert!(max.read_at(at(0, Duration::ZERO)).is_nan());
        max.observe(7.0);
        max.observe(3.0);
        assert_eq!(max.read_at(at(0, Duration::from_secs(1))), 7.0);
        // Smaller observations later: the window's maximum stays 7 while its slice is inside.
        max.observe(2.0);
        assert_eq!(max.read_at(at(2, Duration::ZERO)), 7.0);
        max.observe(-1.0);
        assert_eq!(max.read_at(at(4, Duration::from_secs(100))), 7.0);
        // Slice 0 has left the window: the largest of slices 1 to 5 is the 2 read in slice 2.
        assert_eq!(max.read_at(at(5, Duration::ZERO)), 2.0);
        // Slice 2 has left it too; the -1 was read in slice 4.
        assert_eq!(max.read_at(at(7, Duration::ZERO)), -1.0);
        // Nothing read for a whole window: no maximum.
        assert!(max.read_at(at(9, Duration::ZERO)).is_nan());
        // An observation made long after the last read counts from the read that takes it.
        max.observe(0.25);
        assert_eq!(max.read_at(at(30, Duration::ZERO)), 0.25);
        assert_eq!(max.read_at(at(34, Duration::ZERO)), 0.25);
        assert!(max.read_at(at(35, Duration::ZERO)).is_nan());
    }

    #[test]
    fn timers_keep_the_largest_duration_and_reset_it() {
        let timer = Timer::try_with_buckets(vec![0.1, 1.0]).unwrap();
        assert!(timer.max().is_nan());
        timer.record(Duration::from_millis(250));
        timer.observe(f64::NAN);
        timer.observe(0.125);
        assert_eq!(timer.max(), 0.25);
        // Through the guard, the `Observe` trait too.
        timer.observe_value(3.0);
        assert_eq!(timer.max(), 3.0);
        // The histogram keeps what it counted; NaN is in neither.
        assert_eq!(timer.count(), 3);
        timer.reset();
        assert!(timer.max().is_nan());
        assert!(timer.new_like().max().is_nan());
        timer.observe(0.5);
        assert_eq!(timer.max(), 0.5);
    }

    /// Every observation a read counts is in the maximum that read hands over, also with
    /// observers racing the reads: the maximum is updated before the histogram.
    #[test]
    fn a_visit_hands_over_a_max_covering_what_it_counted() {
        struct Seen(Vec<(u64, Option<f64>)>);
        impl Visitor for Seen {
            fn counter(&mut self, _: crate::metric::Number) {}
            fn gauge(&mut self, _: crate::metric::Number) {}
            fn histogram(&mut self, view: &HistogramView<'_>) {
                self.0.push((view.count(), view.max()));
            }
            fn summary(&mut self, _: &crate::metric::SummaryView<'_>) {}
        }
        let timer = Timer::try_with_buckets(vec![100.0]).unwrap();
        let mut seen = Seen(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                // The n-th observation (from 1) is n: a read that counted n has a max of n at least.
                for n in 1..=20_000u32 {
                    timer.observe(f64::from(n));
                }
            });
            for _ in 0..200 {
                timer.visit(&mut seen);
            }
        });
        timer.visit(&mut seen);
        for &(count, max) in &seen.0 {
            let max = max.unwrap();
            assert!(count == 0 || max >= count as f64, "{count} {max}");
        }
        assert_eq!(seen.0.last().copied(), Some((20_000, Some(20_000.0))));
        // A histogram's visit hands over none.
        let mut plain = Seen(Vec::new());
        timer.histogram().visit(&mut plain);
        assert_eq!(plain.0, [(20_000, None)]);
    }
}

#[cfg(test)]
mod bucket_search_tests {
    use super::*;

    #[test]
    fn short_and_long_bucket_lists_pick_the_same_bucket() {
        let short = Histogram::try_with_buckets((1..=16).map(f64::from).collect()).unwrap();
        let long = Histogram::try_with_buckets((1..=40).map(f64::from).collect()).unwrap();
        for v in [
            -1.0,
            0.5,
            1.0,
            1.5,
            16.0,
            16.5,
            39.9,
            40.0,
            41.0,
            f64::INFINITY,
        ] {
            short.observe(v);
            long.observe(v);
        }
        let mut seen_short = Vec::new();
        short.read(|view| seen_short = view.cumulative().collect());
        let mut seen_long = Vec::new();
        long.read(|view| seen_long = view.cumulative().collect());
        // le=1 holds -1, 0.5 and 1 (bounds are inclusive); le=16 adds 1.5 and 16.
        assert_eq!(seen_short[0], (1.0, 3));
        assert_eq!(seen_short[15], (16.0, 5));
        assert_eq!(seen_short[16], (f64::INFINITY, 10));
        assert_eq!(seen_long[0], (1.0, 3));
        assert_eq!(seen_long[15], (16.0, 5));
        assert_eq!(seen_long[39], (40.0, 8));
        assert_eq!(seen_long[40], (f64::INFINITY, 10));
    }
}
