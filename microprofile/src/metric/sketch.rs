//! The mergeable representation of a summary: a DDSketch-style logarithmic histogram whose bucket
//! counts are plain numbers, so any number of processes can add to them (the Redis store keeps
//! them as hash fields, and its exporter computes quantiles over all of them) and a delta reader
//! can subtract two of them ([`Registry::gather_changes`](crate::Registry::gather_changes)).
//!
//! With `α` = [`RELATIVE_ACCURACY`] and `γ = (1 + α) / (1 − α)`, a positive value `v` goes into
//! bucket `k = ⌈ln v / ln γ⌉`, which covers `(γ^(k−1), γ^k]`; its representative value is
//! `2γ^k / (γ + 1)`, within a relative error `α` of every value of the bucket. Negative values use
//! the same mapping on `|v|`; values with `|v| <` [`MIN_POSITIVE`] count in the zero bucket.
//!
//! In the Redis store, a bucket is stored under the label `__key` (`redis::codec::SKETCH_KEY_LABEL`) with
//! the value `p<k>` (positive), `n<k>` (negative) or `z` (zero), `k` a decimal integer.
//!
//! **Error bound**: the quantile `q` of `n` merged observations is the representative value of
//! the bucket holding the observation of rank `⌊q·(n−1)⌋` (0-based, ascending), so it is within a
//! relative error of `α` (1%) of that observation, whatever the number of processes.

use std::collections::BTreeMap;
use std::fmt;

/// The relative accuracy `α` of the sketch (1%). Part of the stored format: all writers of one
/// namespace must use it.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Values with an absolute value below this count in the zero bucket.
pub const MIN_POSITIVE: f64 = 1e-9;
/// Keys are clamped to `±MAX_KEY`, so `±∞` land in the outermost buckets.
pub const MAX_KEY: i32 = 1 << 20;

/// `γ = (1 + α) / (1 − α)`.
pub fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// One bucket of the sketch, ordered by the values it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SketchKey {
    /// Values in `[−γ^k, −γ^(k−1))`.
    Negative(i32),
    /// Values with `|v| <` [`MIN_POSITIVE`].
    Zero,
    /// Values in `(γ^(k−1), γ^k]`.
    Positive(i32),
}

impl SketchKey {
    /// The bucket of `value`; `None` for NaN.
    pub fn of(value: f64) -> Option<SketchKey> {
        if value.is_nan() {
            return None;
        }
        let magnitude = value.abs();
        if magnitude < MIN_POSITIVE {
            return Some(SketchKey::Zero);
        }
        let k = (magnitude.ln() / gamma().ln()).ceil();
        let k = if k.is_finite() {
            (k as i64).clamp(-(MAX_KEY as i64), MAX_KEY as i64) as i32
        } else {
            MAX_KEY
        };
        Some(if value > 0.0 {
            SketchKey::Positive(k)
        } else {
            SketchKey::Negative(k)
        })
    }

    /// The representative value of the bucket.
    pub fn value(self) -> f64 {
        let g = gamma();
        let magnitude = |k: i32| 2.0 * g.powi(k) / (g + 1.0);
        match self {
            SketchKey::Zero => 0.0,
            SketchKey::Positive(k) => magnitude(k),
            SketchKey::Negative(k) => -magnitude(k),
        }
    }

    /// Reads a stored key (`p12`, `n-3`, `z`).
    pub fn parse(text: &str) -> Option<SketchKey> {
        if text == "z" {
            return Some(SketchKey::Zero);
        }
        let (sign, digits) = text.split_at_checked(1)?;
        let k: i32 = digits.parse().ok()?;
        if !(-MAX_KEY..=MAX_KEY).contains(&k) {
            return None;
        }
        match sign {
            "p" => Some(SketchKey::Positive(k)),
            "n" => Some(SketchKey::Negative(k)),
            _ => None,
        }
    }

    fn order(self) -> (u8, i64) {
        match self {
            SketchKey::Negative(k) => (0, -(k as i64)),
            SketchKey::Zero => (1, 0),
            SketchKey::Positive(k) => (2, k as i64),
        }
    }
}

impl fmt::Display for SketchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SketchKey::Zero => f.write_str("z"),
            SketchKey::Positive(k) => write!(f, "p{k}"),
            SketchKey::Negative(k) => write!(f, "n{k}"),
        }
    }
}

impl PartialOrd for SketchKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SketchKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// Bucket counts of a sketch, merged from any number of writers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    buckets: BTreeMap<SketchKey, u64>,
}

impl Sketch {
    /// An empty sketch.
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Adds one observation (NaN is ignored and returns `false`).
    pub fn add(&mut self, value: f64) -> bool {
        match SketchKey::of(value) {
            Some(key) => {
                self.add_count(key, 1);
                true
            }
            None => false,
        }
    }

    /// Adds `count` observations to one bucket (how stored buckets are merged).
    pub fn add_count(&mut self, key: SketchKey, count: u64) {
        let slot = self.buckets.entry(key).or_insert(0);
        *slot = slot.saturating_add(count);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets
            .values()
            .fold(0u64, |a, c| a.saturating_add(*c))
    }

    /// Whether it holds no observation.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The buckets in value order with their counts.
    pub fn buckets(&self) -> impl Iterator<Item = (SketchKey, u64)> + '_ {
        self.buckets.iter().map(|(k, c)| (*k, *c))
    }

    /// Removes every bucket, returning them.
    pub fn take(&mut self) -> BTreeMap<SketchKey, u64> {
        std::mem::take(&mut self.buckets)
    }

    /// The `q` quantile (`0 ≤ q ≤ 1`): the representative value of the bucket holding the
    /// observation of rank `⌊q·(n−1)⌋`. NaN when empty or `q` is out of range.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return f64::NAN;
        }
        let rank = (q * (n - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        for (key, count) in self.buckets() {
            seen = seen.saturating_add(count);
            if seen > rank {
                return key.value();
            }
        }
        self.max()
    }

    /// The representative value of the highest non-empty bucket (NaN when empty).
    pub fn max(&self) -> f64 {
        self.buckets
            .iter()
            .rev()
            .find(|(_, c)| **c > 0)
            .map_or(f64::NAN, |(k, _)| k.value())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_order() {
        let mut keys: Vec<SketchKey> = [-1e6, -2.0, -1.0, -1e-12, 0.0, 1e-12, 1e-6, 0.5, 1.0, 3.0]
            .iter()
            .map(|v| SketchKey::of(*v).unwrap())
            .collect();
        let sorted = {
            let mut k = keys.clone();
            k.sort();
            k
        };
        assert_eq!(keys, sorted);
        for k in keys.drain(..) {
            assert_eq!(SketchKey::parse(&k.to_string()), Some(k));
        }
        assert_eq!(SketchKey::of(f64::NAN), None);
        assert_eq!(
            SketchKey::of(f64::INFINITY),
            Some(SketchKey::Positive(MAX_KEY))
        );
        for bad in ["", "p", "x1", "p1.5", "n", "z1", "p99999999"] {
            assert_eq!(SketchKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_error_bound() {
        let mut v = 1e-8;
        while v < 1e12 {
            for sign in [1.0, -1.0] {
                let x = sign * v;
                let est = SketchKey::of(x).unwrap().value();
                assert!(
                    ((est - x) / x).abs() <= RELATIVE_ACCURACY * (1.0 + 1e-9),
                    "{x} -> {est}"
                );
            }
            v *= 1.37;
        }
    }

    #[test]
    fn quantiles() {
        let mut s = Sketch::new();
        assert!(s.quantile(0.5).is_nan());
        for i in 1..=1000 {
            s.add(i as f64);
        }
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let truth = (q * 999.0_f64).floor() + 1.0;
            let est = s.quantile(q);
            assert!(((est - truth) / truth).abs() <= RELATIVE_ACCURACY * (1.0 + 1e-9));
        }
        assert!((s.max() - 1000.0).abs() / 1000.0 <= RELATIVE_ACCURACY);
    }
}
