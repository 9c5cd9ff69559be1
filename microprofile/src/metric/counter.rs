//! Monotonic counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metric::MetricType;
use crate::metric::{add_f64, Metric, NewLike, Number, Visitor};

/// An integer counter. The hot path is one relaxed atomic add.
///
/// ```
/// static REQUESTS: microprofile::Counter = microprofile::Counter::new();
/// REQUESTS.inc();
/// REQUESTS.inc_by(2);
/// assert_eq!(REQUESTS.get(), 3);
/// ```
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Counter {
        Counter {
            value: AtomicU64::new(0),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Metric for Counter {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.counter(Number::UInt(self.get()))
    }
    /// Integer and float counters alike: their sum is a counter.
    fn reuse_key(&self) -> Option<String> {
        Some("counter".to_owned())
    }
}

impl NewLike for Counter {
    fn new_like(&self) -> Self {
        Counter::new()
    }
    fn reset(&self) {
        self.value.store(0, Ordering::Relaxed);
    }
}

/// A float counter. Negative, NaN or infinite increments are refused and counted in the vendor
/// metric `microprofile_rejected_updates_total`; the counter never goes backwards.
///
/// ```
/// let c = microprofile::FloatCounter::new();
/// c.inc_by(0.5);
/// c.inc_by(-1.0); // refused
/// assert_eq!(c.get(), 0.5);
/// ```
#[derive(Debug, Default)]
pub struct FloatCounter {
    bits: AtomicU64,
}

impl FloatCounter {
    /// A counter at zero.
    pub const fn new() -> FloatCounter {
        FloatCounter {
            bits: AtomicU64::new(0),
        }
    }

    /// Adds one.
    pub fn inc(&self) {
        add_f64(&self.bits, 1.0)
    }

    /// Adds `delta`, which must be finite and not negative.
    pub fn inc_by(&self, delta: f64) {
        if delta.is_finite() && delta >= 0.0 {
            add_f64(&self.bits, delta)
        } else {
            crate::metric::events::REJECTED_UPDATES.inc();
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl Metric for FloatCounter {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.counter(Number::Float(self.get()))
    }
    /// Integer and float counters alike: their sum is a counter.
    fn reuse_key(&self) -> Option<String> {
        Some("counter".to_owned())
    }
}

impl NewLike for FloatCounter {
    fn new_like(&self) -> Self {
        FloatCounter::new()
    }
    fn reset(&self) {
        self.bits.store(0f64.to_bits(), Ordering::Relaxed);
    }
}
