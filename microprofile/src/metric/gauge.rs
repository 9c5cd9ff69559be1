//! Gauges: set directly, read from a callback at scrape time, or counting calls in flight.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::metric::family::SeriesRef;
use crate::metric::MetricType;
use crate::metric::{add_f64, Metric, NewLike, Number, Visitor};

/// An integer gauge.
///
/// ```
/// let g = microprofile::Gauge::new();
/// g.set(5);
/// g.dec();
/// assert_eq!(g.get(), 4);
/// ```
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicI64,
}

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Gauge {
        Gauge {
            value: AtomicI64::new(0),
        }
    }
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: i64) {
        self.value.store(value, Ordering::Relaxed)
    }
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }
    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1)
    }
    /// Adds `delta` (which may be negative).
    #[inline]
    pub fn add(&self, delta: i64) {
        self.value.fetch_add(delta, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Metric for Gauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.gauge(Number::Int(self.get()))
    }
}

impl NewLike for Gauge {
    fn new_like(&self) -> Self {
        Gauge::new()
    }
    fn reset(&self) {
        self.value.store(0, Ordering::Relaxed);
    }
}

/// A float gauge.
///
/// ```
/// let g = microprofile::FloatGauge::new();
/// g.set(0.25);
/// g.add(0.5);
/// assert_eq!(g.get(), 0.75);
/// ```
#[derive(Debug, Default)]
pub struct FloatGauge {
    bits: AtomicU64,
}

impl FloatGauge {
    /// A gauge at zero.
    pub const fn new() -> FloatGauge {
        FloatGauge {
            bits: AtomicU64::new(0),
        }
    }
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed)
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0)
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0)
    }
    /// Adds `delta` (which may be negative).
    pub fn add(&self, delta: f64) {
        add_f64(&self.bits, delta)
    }
    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl Metric for FloatGauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.gauge(Number::Float(self.get()))
    }
}

impl NewLike for FloatGauge {
    fn new_like(&self) -> Self {
        FloatGauge::new()
    }
    fn reset(&self) {
        self.bits.store(0f64.to_bits(), Ordering::Relaxed);
    }
}

enum Callback {
    Fn(fn() -> f64),
    Boxed(Box<dyn Fn() -> f64 + Send + Sync>),
}

/// A gauge whose value is read from a function at scrape time.
///
/// A callback that panics does not break the scrape: the series is left out of that scrape and
/// the event is counted in the vendor metric `microprofile_callback_panics_total`.
///
/// ```
/// fn queue_depth() -> f64 { 3.0 }
/// static DEPTH: microprofile::CallbackGauge = microprofile::CallbackGauge::new(queue_depth);
/// let ticks = microprofile::CallbackGauge::from_fn(|| 1.0);
/// # let _ = (&DEPTH, ticks);
/// ```
pub struct CallbackGauge {
    callback: Callback,
}

impl std::fmt::Debug for CallbackGauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackGauge").finish_non_exhaustive()
    }
}

impl CallbackGauge {
    /// A gauge reading a plain function (usable in a `static`).
    pub const fn new(callback: fn() -> f64) -> CallbackGauge {
        CallbackGauge {
            callback: Callback::Fn(callback),
        }
    }

    /// A gauge reading a closure.
    pub fn from_fn(callback: impl Fn() -> f64 + Send + Sync + 'static) -> CallbackGauge {
        CallbackGauge {
            callback: Callback::Boxed(Box::new(callback)),
        }
    }

    /// Calls the function; `None` if it panicked (the panic is counted).
    pub fn read(&self) -> Option<f64> {
        let result = catch_unwind(AssertUnwindSafe(|| match &self.callback {
            Callback::Fn(f) => f(),
            Callback::Boxed(f) => f(),
        }));
        match result {
            Ok(value) => Some(value),
            Err(_) => {
                crate::metric::events::CALLBACK_PANICS.inc();
                None
            }
        }
    }
}

impl Metric for CallbackGauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        if let Some(value) = self.read() {
            visitor.gauge(Number::Float(value))
        }
    }
}

/// A gauge of calls in flight: [`enter`](Self::enter) returns a guard that decrements on drop, so a
/// panic or a dropped future can never leak a count.
///
/// ```
/// static IN_FLIGHT: microprofile::ConcurrentGauge = microprofile::ConcurrentGauge::new();
/// {
///     let _guard = IN_FLIGHT.enter();
///     assert_eq!(IN_FLIGHT.get(), 1);
/// }
/// assert_eq!(IN_FLIGHT.get(), 0);
/// ```
#[derive(Debug, Default)]
pub struct ConcurrentGauge {
    value: AtomicI64,
}

impl ConcurrentGauge {
    /// A gauge at zero.
    pub const fn new() -> ConcurrentGauge {
        ConcurrentGauge {
            value: AtomicI64::new(0),
        }
    }
    /// Counts one call in flight until the guard drops.
    #[inline]
    pub fn enter(&self) -> InFlightGuard<'_> {
        self.value.fetch_add(1, Ordering::Relaxed);
        InFlightGuard {
            gauge: InFlight::Borrowed(self),
        }
    }
    /// Calls in flight now.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Metric for ConcurrentGauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.gauge(Number::Int(self.get()))
    }
}

impl NewLike for ConcurrentGauge {
    fn new_like(&self) -> Self {
        ConcurrentGauge::new()
    }
    /// Keeps the value: it is the number of calls under way now, not a history, and each of
    /// them still ends (and decrements it) after the removal.
    fn reset(&self) {}
}

/// Decrements its [`ConcurrentGauge`] when dropped. It holds no lock and is `Send` and `Sync`, so
/// it can be kept across an `.await`.
#[must_use = "the call is counted only while the guard lives"]
#[derive(Debug)]
pub struct InFlightGuard<'a> {
    gauge: InFlight<'a>,
}

/// The gauge an [`InFlightGuard`] decrements: borrowed, or kept alive by the guard (a series of a
/// hashed family, see [`SeriesRef::enter`]).
#[derive(Debug)]
enum InFlight<'a> {
    Borrowed(&'a ConcurrentGauge),
    Shared(Arc<ConcurrentGauge>),
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let gauge = match &self.gauge {
            InFlight::Borrowed(gauge) => gauge,
            InFlight::Shared(gauge) => &**gauge,
        };
        gauge.value.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<'a> SeriesRef<'a, ConcurrentGauge> {
    /// Counts one call in flight on this series until the guard drops; the guard keeps the
    /// series, so `family.with(&labels).enter()` works in one line.
    pub fn enter(self) -> InFlightGuard<'a> {
        self.value.fetch_add(1, Ordering::Relaxed);
        InFlightGuard {
            gauge: match self.into_inner() {
                Ok(gauge) => InFlight::Borrowed(gauge),
                Err(gauge) => InFlight::Shared(gauge),
            },
        }
    }
}
