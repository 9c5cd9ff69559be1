//! Typed errors of the run-time API.

use crate::metadata::site::Site;
use crate::metric::kind::MetricType;
// The naming refusals are worded by the shared rules (a leaf), as the macros word them.
use crate::naming::rules::{DuplicateTag, Message, Refusal, RuleError, Subject};

/// Everything the run-time API can refuse, with what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric name the run-time API cannot take: empty, starting with a digit, or holding a
    /// control character (any other character is exposed as `_`). An attribute's name is checked
    /// at compile time against `[a-zA-Z_][a-zA-Z0-9_.:-]*`.
    #[error("{}", Message { subject: Subject::MetricName, name, reason })]
    InvalidMetricName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tag (label) name breaks `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, or is reserved.
    #[error("{}", Message { subject: Subject::TagName, name, reason })]
    InvalidTagName {
        /// The tag name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tag name given twice where no one value can win: a tag named like one of its family's
    /// labels, or a label set naming one label twice. (A tag given twice in the run-time API
    /// keeps its last value, as MicroProfile's TCK has it; in an attribute's `tags(...)` it is a
    /// compile error.)
    #[error("{}", DuplicateTag(name))]
    DuplicateTag {
        /// The repeated tag name.
        name: String,
    },
    /// A custom scope name breaks `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("{}", RuleError::ScopeNameChars.message(name))]
    InvalidScopeName {
        /// The scope name as given.
        name: String,
    },
    /// A unit contains characters other than `[a-zA-Z0-9_]`.
    #[error("{}", RuleError::UnitChars.message(unit))]
    InvalidUnit {
        /// The unit as given.
        unit: String,
    },
    /// Histogram buckets are empty, not finite, or not strictly increasing.
    #[error("{}", Refusal::buckets(reason))]
    InvalidBuckets {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// Summary quantiles are empty or outside the open interval (0, 1).
    #[error("{}", Refusal::quantiles(reason))]
    InvalidQuantiles {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The metric already exists with other metadata, another type or other tag names.
    #[error("metric {name:?} conflicts with an earlier registration: {reason}{}", describe_sites(.first, .second))]
    Conflict {
        /// The declared name.
        name: String,
        /// What differs.
        reason: String,
        /// Where the earlier registration was declared, when known.
        first: Option<Site>,
        /// Where the conflicting registration was declared, when known.
        second: Option<Site>,
    },
    /// A requested metric exists with another type than the one asked for.
    #[error("metric {name:?} is registered as a {registered}, not a {requested}")]
    WrongType {
        /// The declared name.
        name: String,
        /// The type it is registered with.
        registered: MetricType,
        /// The type the caller asked for.
        requested: MetricType,
    },
    /// An entry of a distribution property (`mp.metrics.distribution.*`) could not be read: it
    /// is skipped, the others apply.
    #[error("invalid {property} entry {entry:?}: {reason}")]
    InvalidDistribution {
        /// The MicroProfile Config property.
        property: &'static str,
        /// The offending entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `MP_METRICS_TAGS` could not be parsed.
    #[error("invalid MP_METRICS_TAGS entry {entry:?}: {reason} (expected `name=value` pairs separated by `,`, with `\\,` and `\\=` escapes)")]
    InvalidGlobalTags {
        /// The offending entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn describe_sites(first: &Option<Site>, second: &Option<Site>) -> String {
    match (first, second) {
        (Some(a), Some(b)) => format!(" (declared at {a} and at {b})"),
        (Some(a), None) => format!(" (first declared at {a})"),
        (None, Some(b)) => format!(" (declared again at {b})"),
        (None, None) => String::new(),
    }
}
