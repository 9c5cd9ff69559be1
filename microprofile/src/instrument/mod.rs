//! Run-time support for the attribute macros (`#[counted]`, `#[timed]`, `#[concurrent_gauge]`) and
//! the label derives: a guard that records when an instrumented call ends (also while unwinding
//! from a panic, and when a future is dropped before completion), the `outcome` tag, and
//! [`LabelValue`], the values a label may take.
//!
#![cfg_attr(feature = "tower", doc = include_str!("layer.md"))]

use std::borrow::Cow;
use std::time::Instant;

pub(crate) mod default_name;
feature! {
    #![feature = "tower"]
    mod layer;
    pub use layer::*;
}

use crate::metric::counter::Counter;
use crate::metric::family::{Family, LabelSet};
use crate::metric::gauge::Gauge;
use crate::metric::histogram::Observe;
use crate::metric::{Metric, NewLike};

/// How an instrumented call ended, exposed as the `outcome` tag when the attribute asks for it
/// (`#[timed(outcome)]`, `#[counted(outcome)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The function returned `Ok(_)`.
    Ok,
    /// The function returned `Err(_)`.
    Error,
    /// The function panicked (recorded while unwinding).
    Panic,
    /// The future was dropped before it completed.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in the order of [`index`](Self::index).
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Panic,
        Outcome::Cancelled,
    ];

    /// The tag value: `ok`, `error`, `panic` or `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The position in [`ALL`](Self::ALL).
    pub const fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Error => 1,
            Outcome::Panic => 2,
            Outcome::Cancelled => 3,
        }
    }

    /// This outcome's entry in an array ordered like [`Outcome::ALL`] (the same entry as
    /// `per_outcome[self.index()]`, without an indexing panic path).
    #[inline]
    fn pick<T>(self, per_outcome: &[T; 4]) -> &T {
        let [ok, error, panic, cancelled] = per_outcome;
        match self {
            Outcome::Ok => ok,
            Outcome::Error => error,
            Outcome::Panic => panic,
            Outcome::Cancelled => cancelled,
        }
    }

    /// `Ok` or `Error`, after a `Result`.
    #[inline]
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Error,
        }
    }
}

/// Where an instrumented call is recorded when it ends.
pub trait CallRecorder {
    /// Whether the recorder needs the call's duration (two clock reads per call).
    const TIMED: bool;
    /// Whether the recorder tells outcomes apart (one thread-local read at the end of a call).
    const OUTCOME: bool;
    /// Records one finished call.
    fn record(&mut self, outcome: Outcome, seconds: f64);
}

/// Records a call into its [`CallRecorder`] when dropped: on return, while unwinding from a panic
/// (outcome `panic`), or when the future holding it is dropped before completion (outcome
/// `cancelled`, unless [`complete`](Self::complete) was called).
#[must_use = "the call is recorded when the guard drops"]
pub struct CallGuard<R: CallRecorder> {
    recorder: R,
    start: Option<Instant>,
    outcome: Outcome,
}

impl<R: CallRecorder> CallGuard<R> {
    /// Starts recording a call.
    #[inline]
    pub fn start(recorder: R) -> CallGuard<R> {
        CallGuard {
            recorder,
            start: if R::TIMED { Some(Instant::now()) } else { None },
            outcome: Outcome::Cancelled,
        }
    }

    /// Marks the call as completed with this outcome.
    #[inline]
    pub fn complete(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Marks the call as completed with `ok` or `error` after its result.
    #[inline]
    pub fn complete_with<T, E>(&mut self, result: &Result<T, E>) {
        self.outcome = Outcome::of(result);
    }
}

impl<R: CallRecorder> Drop for CallGuard<R> {
    #[inline]
    fn drop(&mut self) {
        let outcome = if R::OUTCOME && std::thread::panicking() {
            Outcome::Panic
        } else {
            self.outcome
        };
        let seconds = self.start.map_or(0.0, |s| s.elapsed().as_secs_f64());
        self.recorder.record(outcome, seconds);
    }
}

/// Records durations into one timer, histogram or summary.
pub struct Timed<'a, M: Observe>(pub &'a M);

impl<M: Observe> CallRecorder for Timed<'_, M> {
    const TIMED: bool = true;
    const OUTCOME: bool = false;
    #[inline]
    fn record(&mut self, _: Outcome, seconds: f64) {
        self.0.observe_value(seconds)
    }
}

/// Records durations into one of four metrics, one per [`Outcome`] (in the order of
/// [`Outcome::ALL`]).
pub struct TimedByOutcome<'a, M: Observe>(pub &'a [M; 4]);

impl<M: Observe> CallRecorder for TimedByOutcome<'_, M> {
    const TIMED: bool = true;
    const OUTCOME: bool = true;
    #[inline]
    fn record(&mut self, outcome: Outcome, seconds: f64) {
        outcome.pick(self.0).observe_value(seconds)
    }
}

/// Counts calls into one of four counters, one per [`Outcome`] (in the order of [`Outcome::ALL`]).
pub struct CountedByOutcome<'a>(pub &'a [Counter; 4]);

impl CallRecorder for CountedByOutcome<'_> {
    const TIMED: bool = false;
    const OUTCOME: bool = true;
    #[inline]
    fn record(&mut self, outcome: Outcome, _: f64) {
        outcome.pick(self.0).inc()
    }
}

/// A label set that may carry the `outcome` label (the attribute macros generate these).
pub trait SetOutcome {
    /// Whether the label set has an `outcome` label.
    const HAS_OUTCOME: bool;
    /// Sets the `outcome` label, if there is one.
    fn set_outcome(&mut self, outcome: Outcome);
}

/// Records durations into a labelled family; the series is looked up when the call ends, so no
/// lock is held during the call.
pub struct TimedFamily<'a, L: LabelSet + SetOutcome, M: Metric + NewLike + Observe> {
    /// The family.
    pub family: &'a Family<L, M>,
    /// The labels taken at the call.
    pub labels: L,
}

impl<L: LabelSet + SetOutcome, M: Metric + NewLike + Observe> CallRecorder
    for TimedFamily<'_, L, M>
{
    const TIMED: bool = true;
    const OUTCOME: bool = L::HAS_OUTCOME;
    fn record(&mut self, outcome: Outcome, seconds: f64) {
        self.labels.set_outcome(outcome);
        self.family.with(&self.labels).observe_value(seconds)
    }
}

/// Counts calls into a labelled family of counters when they end (used with the `outcome` label).
pub struct CountedFamily<'a, L: LabelSet + SetOutcome> {
    /// The family.
    pub family: &'a Family<L, Counter>,
    /// The labels taken at the call.
    pub labels: L,
}

impl<L: LabelSet + SetOutcome> CallRecorder for CountedFamily<'_, L> {
    const TIMED: bool = false;
    const OUTCOME: bool = L::HAS_OUTCOME;
    fn record(&mut self, outcome: Outcome, _: f64) {
        self.labels.set_outcome(outcome);
        self.family.with(&self.labels).inc()
    }
}

/// Counts a call in flight in a labelled family of gauges until dropped.
#[must_use = "the call is counted only while the guard lives"]
pub struct InFlightFamily<'a, L: LabelSet> {
    family: &'a Family<L, Gauge>,
    labels: L,
}

impl<'a, L: LabelSet> InFlightFamily<'a, L> {
    /// Counts one more call in flight for these labels.
    pub fn enter(family: &'a Family<L, Gauge>, labels: L) -> InFlightFamily<'a, L> {
        family.with(&labels).inc();
        InFlightFamily { family, labels }
    }
}

impl<L: LabelSet> Drop for InFlightFamily<'_, L> {
    fn drop(&mut self) {
        self.family.with(&self.labels).dec();
    }
}

/// A value a label may take: text, an integer, a `bool`, or an enum with `#[derive(LabelValue)]`.
///
/// Types with a fixed number of values (`bool`, fieldless enums) say so in
/// [`CARDINALITY`](Self::CARDINALITY), which lets a `#[derive(LabelSet)]` made only of them index
/// its series densely (an array index instead of a hash).
///
/// ```
/// use microprofile::LabelValue;
/// #[derive(Clone, Copy, PartialEq, Eq, Hash, microprofile::LabelValue)]
/// enum Method { Get, Post }
/// assert_eq!(Method::Post.to_label_string(), "Post");
/// assert_eq!(<Method as LabelValue>::CARDINALITY, Some(2));
/// assert_eq!(true.to_label_string(), "true");
/// assert_eq!(404u16.to_label_string(), "404");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a label value",
    note = "label values are `&str`, `String`, integers, `bool`, or enums with `#[derive(LabelValue)]`"
)]
pub trait LabelValue {
    /// `Some(n)` when the type has exactly `n` values.
    const CARDINALITY: Option<usize> = None;
    /// Calls `f` with the value as text.
    fn with_label_value(&self, f: &mut dyn FnMut(&str));
    /// The value as an owned string.
    fn to_label_string(&self) -> String {
        let mut out = String::new();
        self.with_label_value(&mut |v| out.push_str(v));
        out
    }
    /// With a fixed cardinality: this value's index in `0..n`.
    fn label_index(&self) -> usize {
        0
    }
    /// With a fixed cardinality: the value at `index`.
    fn from_label_index(index: usize) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = index;
        None
    }
    /// A quick test that `self` and `other` are the same value: `true` only if they are,
    /// `false` if they are not or it cannot tell quickly (the label set's `==` then decides).
    /// A `&'static str` compares its address and length first, so label values taken from the
    /// same literals compare without reading their bytes.
    #[inline]
    fn is_same(&self, other: &Self) -> bool {
        let _ = other;
        false
    }
}

impl LabelValue for str {
    fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
        f(self)
    }
    #[inline]
    fn is_same(&self, other: &str) -> bool {
        self == other
    }
}

impl LabelValue for String {
    fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
        f(self)
    }
    #[inline]
    fn is_same(&self, other: &String) -> bool {
        self == other
    }
}

impl LabelValue for Cow<'_, str> {
    fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
        f(self)
    }
    #[inline]
    fn is_same(&self, other: &Self) -> bool {
        self == other
    }
}

impl<T: LabelValue + ?Sized> LabelValue for &T {
    fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
        (**self).with_label_value(f)
    }
    #[inline]
    fn is_same(&self, other: &Self) -> bool {
        // The same address (and, for `str`, length) is the same value.
        std::ptr::eq(*self, *other) || (**self).is_same(*other)
    }
}

impl LabelValue for bool {
    const CARDINALITY: Option<usize> = Some(2);
    fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
        f(if *self { "true" } else { "false" })
    }
    #[inline]
    fn is_same(&self, other: &bool) -> bool {
        self == other
    }
    fn label_index(&self) -> usize {
        usize::from(*self)
    }
    fn from_label_index(index: usize) -> Option<bool> {
        match index {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

macro_rules! integer_label_values {
    ($($t:ty)*) => {$(
        impl LabelValue for $t {
            fn with_label_value(&self, f: &mut dyn FnMut(&str)) {
                f(itoa::Buffer::new().format(*self))
            }
            #[inline]
            fn is_same(&self, other: &$t) -> bool {
                self == other
            }
        }
    )*};
}
integer_label_values!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

/// The product of the cardinalities of a label set's fields: `Some` only when every field has a
/// fixed cardinality and the product fits in `usize`.
pub const fn cardinality_product(cardinalities: &[Option<usize>]) -> Option<usize> {
    let mut product: usize = 1;
    let mut rest = cardinalities;
    while let [first, tail @ ..] = rest {
        match *first {
            Some(n) => match product.checked_mul(n) {
                Some(p) => product = p,
                None => return None,
            },
            None => return None,
        }
        rest = tail;
    }
    Some(product)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinalities() {
        assert_eq!(cardinality_product(&[Some(2), Some(3)]), Some(6));
        assert_eq!(cardinality_product(&[Some(2), None]), None);
        assert_eq!(cardinality_product(&[Some(usize::MAX), Some(2)]), None);
        assert_eq!(cardinality_product(&[]), Some(1));
    }

    #[test]
    fn guard_outcomes() {
        static COUNTS: [Counter; 4] = [
            Counter::new(),
            Counter::new(),
            Counter::new(),
            Counter::new(),
        ];
        {
            let mut guard = CallGuard::start(CountedByOutcome(&COUNTS));
            guard.complete_with(&Err::<(), ()>(()));
        }
        {
            let _guard = CallGuard::start(CountedByOutcome(&COUNTS));
        }
        let _ = std::panic::catch_unwind(|| {
            let _guard = CallGuard::start(CountedByOutcome(&COUNTS));
            panic!("boom");
        });
        let got: Vec<u64> = COUNTS.iter().map(Counter::get).collect();
        assert_eq!(got, vec![0, 1, 1, 1]);
    }
}
