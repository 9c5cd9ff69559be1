//! The naming rules themselves: which characters a metric name, a tag (label) name, a scope name
//! and a unit may hold, which tag names are reserved, and the one wording of every refusal.
//!
//! This file is the single source of these rules for both crates: `microprofile::naming` applies
//! them at run time (as `microprofile::Error` variants) and `microprofile-macros` compiles this very
//! file in with `#[path]` (as serde shares `internals` between `serde_derive` and
//! `serde_derive_internals`) to apply them at compile time, with a span. So it depends on `core`
//! and `std` only: no `crate::` path, no other crate.

use std::fmt;

/// Tag names reserved for the exposition itself.
pub const RESERVED_TAG_NAMES: &[&str] = &["le", "quantile", "mp_scope", "mp_app", "mp_overflow"];

/// Tag names starting with this are reserved for Prometheus.
pub const RESERVED_TAG_PREFIX: &str = "__";

/// May `c` start a metric name, a tag name or a scope name: `[a-zA-Z_]`.
pub const fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// May `c` follow the first character of a tag name or a scope name, or be in a unit:
/// `[a-zA-Z0-9_]`.
pub const fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// May `c` follow the first character of a declared metric name: `[a-zA-Z0-9_.:-]`.
pub const fn is_metric_name_char(c: char) -> bool {
    is_identifier_char(c) || matches!(c, '.' | ':' | '-')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: the grammar of tag names and custom scope names.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_identifier_char)
}

/// What a name is, for the wording of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A declared metric name.
    MetricName,
    /// A tag (label) name.
    TagName,
    /// A custom scope name.
    ScopeName,
    /// A unit.
    Unit,
}

impl Subject {
    /// The noun used in messages.
    pub const fn noun(self) -> &'static str {
        match self {
            Subject::MetricName => "metric name",
            Subject::TagName => "tag name",
            Subject::ScopeName => "scope name",
            Subject::Unit => "unit",
        }
    }

    /// The grammar, appended to every refusal of this subject whose reason does not state it.
    pub const fn hint(self) -> &'static str {
        match self {
            Subject::MetricName => " (a metric name starts with a letter or `_` and continues with letters, digits, `_`, `.`, `:` or `-`)",
            Subject::TagName | Subject::ScopeName | Subject::Unit => "",
        }
    }
}

/// Why a rule refuses a name. Its `Display` is the reason, worded once for both crates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// The metric name is empty.
    MetricNameEmpty,
    /// The metric name starts with a digit.
    MetricNameLeadingDigit,
    /// The metric name starts with a character other than a letter, a digit or `_`.
    MetricNameStart,
    /// The metric name holds a character outside `[a-zA-Z0-9_.:-]` after its first.
    MetricNameChar,
    /// The metric name holds a control character (refused by the run-time API, which takes any
    /// other character).
    MetricNameControl,
    /// The tag name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    TagNameChars,
    /// The tag name starts with `__`.
    TagNameReservedPrefix,
    /// The tag name is one of [`RESERVED_TAG_NAMES`].
    TagNameReserved,
    /// The custom scope name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    ScopeNameChars,
    /// The unit holds a character outside `[a-zA-Z0-9_]`.
    UnitChars,
}

impl RuleError {
    /// What kind of name was refused.
    pub const fn subject(self) -> Subject {
        match self {
            RuleError::MetricNameEmpty
            | RuleError::MetricNameLeadingDigit
            | RuleError::MetricNameStart
            | RuleError::MetricNameChar
            | RuleError::MetricNameControl => Subject::MetricName,
            RuleError::TagNameChars
            | RuleError::TagNameReservedPrefix
            | RuleError::TagNameReserved => Subject::TagName,
            RuleError::ScopeNameChars => Subject::ScopeName,
            RuleError::UnitChars => Subject::Unit,
        }
    }

    /// Why the name was refused (what `Display` writes).
    pub const fn reason(self) -> &'static str {
        match self {
            RuleError::MetricNameEmpty => "it is empty",
            RuleError::MetricNameLeadingDigit => "it starts with a digit",
            RuleError::MetricNameStart => "it starts with a character other than a letter or `_`",
            RuleError::MetricNameChar => "it contains a character outside `[a-zA-Z0-9_.:-]`",
            RuleError::MetricNameControl => "it contains a control character",
            RuleError::TagNameChars => {
                "a tag name starts with a letter or `_` and continues with letters, digits or `_`"
            }
            RuleError::TagNameReservedPrefix => "names starting with `__` are reserved for Prometheus",
            RuleError::TagNameReserved => "`le`, `quantile`, `mp_scope`, `mp_app` and `mp_overflow` are reserved by the exposition",
            RuleError::ScopeNameChars => "a scope name starts with a letter or `_` and continues with letters, digits or `_`",
            RuleError::UnitChars => "a unit is made of letters, digits and `_` (for example `seconds`, `bytes`, `percent`)",
        }
    }

    /// The whole message for `name`: `invalid <subject> "<name>": <reason>`.
    pub const fn message(self, name: &str) -> Message<'_> {
        Message {
            subject: self.subject(),
            name,
            reason: self.reason(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for RuleError {}

/// A refusal as both crates word it: `invalid <subject> "<name>": <reason>` and the subject's
/// [`Subject::hint`]. The reason may come from a [`RuleError`] or from another check of the same
/// subject (a label set out of order, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// What kind of name was refused.
    pub subject: Subject,
    /// The name as given.
    pub name: &'a str,
    /// Why it was refused.
    pub reason: &'a str,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The grammar hint is the attributes' rule; a control character is refused everywhere.
        let hint = if self.reason == RuleError::MetricNameControl.reason() {
            ""
        } else {
            self.subject.hint()
        };
        write!(
            f,
            "invalid {} {:?}: {}{hint}",
            self.subject.noun(),
            self.name,
            self.reason,
        )?;
        if self.subject == Subject::MetricName {
            if let Some(suggested) = suggested_metric_name(self.name) {
                let why = if sanitize(self.name) != suggested {
                    "an exposed name cannot start with a digit"
                } else {
                    "its exposed form: every character outside `[a-zA-Z0-9_]` becomes `_`"
                };
                write!(f, "; did you mean {suggested:?}? ({why})")?;
            }
        }
        Ok(())
    }
}

/// The exposed form of a declared metric name: every character outside `[a-zA-Z0-9_]` (each
/// Unicode scalar value, so `ä` or `ê` too) becomes one `_`. Runs are not collapsed: `a--b`
/// is `a__b`, as each character maps on its own.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if is_identifier_char(c) { c } else { '_' })
        .collect()
}

/// The name a refused metric name was probably meant to be: its exposed form ([`sanitize`]),
/// with `_` before a leading digit, where that differs from the name and the attributes take it.
pub fn suggested_metric_name(name: &str) -> Option<String> {
    let mut suggested = sanitize(name);
    if suggested.starts_with(|c: char| c.is_ascii_digit()) {
        suggested.insert(0, '_');
    }
    (suggested != name && metric_name(&suggested).is_ok()).then_some(suggested)
}

/// Checks a declared metric name: `[a-zA-Z_][a-zA-Z0-9_.:-]*`.
pub fn metric_name(name: &str) -> Result<(), RuleError> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err(RuleError::MetricNameEmpty),
        Some(c) if c.is_ascii_digit() => Err(RuleError::MetricNameLeadingDigit),
        Some(c) if !is_name_start(c) => Err(RuleError::MetricNameStart),
        Some(_) if !chars.all(is_metric_name_char) => Err(RuleError::MetricNameChar),
        Some(_) => Ok(()),
    }
}

/// Checks a metric name given to the run-time API, which takes any character but a control
/// character (the exposed name replaces every character outside `[a-zA-Z0-9_]` by `_`, see
/// [`sanitize`]): not empty, no leading digit (no replacement could make an exposed name of
/// it), no control character.
pub fn declared_metric_name(name: &str) -> Result<(), RuleError> {
    match name.chars().next() {
        None => Err(RuleError::MetricNameEmpty),
        Some(c) if c.is_ascii_digit() => Err(RuleError::MetricNameLeadingDigit),
        Some(_) if name.chars().any(char::is_control) => Err(RuleError::MetricNameControl),
        Some(_) => Ok(()),
    }
}

/// Checks a tag (label) name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, not one of
/// [`RESERVED_TAG_NAMES`].
pub fn tag_name(name: &str) -> Result<(), RuleError> {
    if !is_identifier(name) {
        Err(RuleError::TagNameChars)
    } else if name.starts_with(RESERVED_TAG_PREFIX) {
        Err(RuleError::TagNameReservedPrefix)
    } else if RESERVED_TAG_NAMES.contains(&name) {
        Err(RuleError::TagNameReserved)
    } else {
        Ok(())
    }
}

/// Checks a custom scope name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn scope_name(name: &str) -> Result<(), RuleError> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(RuleError::ScopeNameChars)
    }
}

/// Checks a unit: empty, or made of `[a-zA-Z0-9_]`.
pub fn unit(unit: &str) -> Result<(), RuleError> {
    if unit.chars().all(is_identifier_char) {
        Ok(())
    } else {
        Err(RuleError::UnitChars)
    }
}

/// A repeated tag name, worded once for both crates: `tag "<name>" is given more than once; …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateTag<'a>(pub &'a str);

impl fmt::Display for DuplicateTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tag {:?} is given more than once; each tag name may appear once per metric",
            self.0
        )
    }
}

/// A refusal of histogram buckets or summary quantiles as both crates word it:
/// `invalid <what>: <reason>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// What was refused: `histogram buckets` or `summary quantiles`.
    pub what: &'static str,
    /// Why: a [`BucketError::reason`] or a [`QuantileError::reason`] (or another static reason
    /// about the same thing).
    pub reason: &'static str,
}

impl Refusal {
    /// Histogram buckets refused for `reason`.
    pub const fn buckets(reason: &'static str) -> Refusal {
        Refusal {
            what: "histogram buckets",
            reason,
        }
    }

    /// Summary quantiles refused for `reason`.
    pub const fn quantiles(reason: &'static str) -> Refusal {
        Refusal {
            what: "summary quantiles",
            reason,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.what, self.reason)
    }
}

/// Why a rule refuses histogram bucket bounds or the parameters of a bucket generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketError {
    /// No bound at all.
    Empty,
    /// A bound is infinite or NaN.
    NotFinite,
    /// A bound is not greater than the one before it.
    NotIncreasing,
    /// A generator's count is 0.
    Count,
    /// `linear`'s width is not greater than 0.
    Width,
    /// `exponential`'s start is not greater than 0.
    Start,
    /// `exponential`'s factor is not greater than 1.
    Factor,
}

impl BucketError {
    /// Why the buckets were refused: static text, the same in both crates.
    pub const fn reason(self) -> &'static str {
        match self {
            BucketError::Empty => "at least one bucket is needed",
            BucketError::NotFinite => "bounds must be finite (the +Inf bucket is implicit)",
            BucketError::NotIncreasing => "bounds must be strictly increasing",
            BucketError::Count => "count must be at least 1",
            BucketError::Width => "width must be greater than 0",
            BucketError::Start => "start must be greater than 0",
            BucketError::Factor => "factor must be greater than 1",
        }
    }
}

/// Checks one bucket bound, given the bound before it (`None` for the first): finite, and
/// greater than the previous one where that one is finite (a non-finite one is refused by itself).
pub fn bucket_bound(previous: Option<f64>, bound: f64) -> Result<(), BucketError> {
    increasing_within(
        f64::is_finite,
        previous,
        bound,
        [BucketError::NotFinite, BucketError::NotIncreasing],
    )
}

/// Checks a list of bucket upper bounds: not empty, every bound finite, strictly increasing
/// (the first refusal in that order). A list passes exactly when each bound passes
/// [`bucket_bound`] after the one before it.
pub fn buckets(bounds: &[f64]) -> Result<(), BucketError> {
    each_after_previous(bounds, BucketError::Empty, bucket_bound)
}

/// Checks a generator's bucket count: at least 1.
pub fn bucket_count(count: usize) -> Result<(), BucketError> {
    if count == 0 {
        Err(BucketError::Count)
    } else {
        Ok(())
    }
}

/// Checks `linear`'s width: greater than 0 (an infinite width gives non-finite bounds, which
/// [`buckets`] refuses).
pub fn linear_width(width: f64) -> Result<(), BucketError> {
    above(width, 0.0, BucketError::Width)
}

/// Checks `exponential`'s start: greater than 0.
pub fn exponential_start(start: f64) -> Result<(), BucketError> {
    above(start, 0.0, BucketError::Start)
}

/// Checks `exponential`'s factor: greater than 1.
pub fn exponential_factor(factor: f64) -> Result<(), BucketError> {
    above(factor, 1.0, BucketError::Factor)
}

/// `value` is greater than `floor` (so not NaN), else `error`.
fn above(value: f64, floor: f64, error: BucketError) -> Result<(), BucketError> {
    if value > floor {
        Ok(())
    } else {
        Err(error)
    }
}

/// `count` buckets `start, start + width, …`, checked: count, then width, then the bounds.
pub fn linear(start: f64, width: f64, count: usize) -> Result<Vec<f64>, BucketError> {
    bucket_count(count)?;
    linear_width(width)?;
    let bounds: Vec<f64> = (0..count).map(|i| start + width * i as f64).collect();
    buckets(&bounds)?;
    Ok(bounds)
}

/// `count` buckets `start, start * factor, …`, checked: count, start, factor, then the bounds.
pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Vec<f64>, BucketError> {
    bucket_count(count)?;
    exponential_start(start)?;
    exponential_factor(factor)?;
    let bounds: Vec<f64> = (0..count).map(|i| start * factor.powi(i as i32)).collect();
    buckets(&bounds)?;
    Ok(bounds)
}

/// Why a rule refuses summary quantiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantileError {
    /// No quantile at all.
    Empty,
    /// A quantile is outside the open interval (0, 1) (or NaN).
    OutOfRange,
    /// A quantile is not greater than the one before it.
    NotIncreasing,
}

impl QuantileError {
    /// Why the quantiles were refused: static text, the same in both crates.
    pub const fn reason(self) -> &'static str {
        match self {
            QuantileError::Empty => "at least one quantile is needed",
            QuantileError::OutOfRange => "each quantile must lie strictly between 0 and 1",
            QuantileError::NotIncreasing => "quantiles must be strictly increasing",
        }
    }
}

fn quantile_in_range(q: f64) -> bool {
    q > 0.0 && q < 1.0
}

/// Checks one quantile, given the one before it (`None` for the first): inside (0, 1), and
/// greater than the previous one where that one is inside (0, 1) (an outside one is refused by
/// itself).
pub fn quantile(previous: Option<f64>, q: f64) -> Result<(), QuantileError> {
    increasing_within(
        quantile_in_range,
        previous,
        q,
        [QuantileError::OutOfRange, QuantileError::NotIncreasing],
    )
}

/// Checks a list of quantiles: not empty, each inside (0, 1), strictly increasing (the first
/// refusal in that order). A list passes exactly when each quantile passes [`quantile`] after
/// the one before it.
pub fn quantiles(quantiles: &[f64]) -> Result<(), QuantileError> {
    each_after_previous(quantiles, QuantileError::Empty, quantile)
}

/// `value` is `within` its range (else `outside`), and greater than `previous` where that one
/// is within it too (one outside is refused by itself, else `not_increasing`).
fn increasing_within<E>(
    within: fn(f64) -> bool,
    previous: Option<f64>,
    value: f64,
    [outside, not_increasing]: [E; 2],
) -> Result<(), E> {
    if !within(value) {
        Err(outside)
    } else if previous.is_some_and(|p| within(p) && p >= value) {
        Err(not_increasing)
    } else {
        Ok(())
    }
}

/// A list: not empty (else `empty`), then `check` on every value alone (so every one within its
/// range before any order is looked at), then on each after the one before it. The first
/// refusal in that order is the list's.
fn each_after_previous<E>(
    values: &[f64],
    empty: E,
    check: fn(Option<f64>, f64) -> Result<(), E>,
) -> Result<(), E> {
    if values.is_empty() {
        return Err(empty);
    }
    values.iter().try_for_each(|&v| check(None, v))?;
    values
        .iter()
        .try_fold(None, |previous, &v| check(previous, v).map(|()| Some(v)))
        .map(drop)
}

/// The corpus both crates test their validation against (`corpus.txt`, beside this file), so
/// that compile-time and run-time validation are shown to agree name by name.
#[cfg(test)]
pub mod corpus {
    use super::{RuleError, Subject};

    /// One name of the corpus and the decision the rules must take on it.
    #[derive(Debug)]
    pub struct Case {
        /// The line of `corpus.txt`, for messages.
        pub line: usize,
        /// Which rule applies.
        pub subject: Subject,
        /// The name.
        pub name: String,
        /// `None` where the name is valid, else the refusal (by its `Debug` name).
        pub expected: Option<String>,
    }

    /// The cases of `corpus.txt`.
    ///
    /// A line is `<subject> <expected> <name>`: subject `metric`, `tag`, `scope` or `unit`;
    /// expected `ok` or a [`RuleError`] variant's name; the name as one or more quoted pieces,
    /// concatenated, each maybe followed by `*N` (repeated N times), with the escapes `\"`, `\\`,
    /// `\n`, `\t` and `\u{…}`. `#` starts a comment line.
    pub fn cases() -> Vec<Case> {
        include_str!("corpus.txt")
            .lines()
            .enumerate()
            .filter(|(_, l)| is_case(l))
            .map(|(i, l)| parse(i + 1, l))
            .collect()
    }

    /// The shared rule's decision on a case.
    pub fn rule(case: &Case) -> Result<(), RuleError> {
        match case.subject {
            Subject::MetricName => super::metric_name(&case.name),
            Subject::TagName => super::tag_name(&case.name),
            Subject::ScopeName => super::scope_name(&case.name),
            Subject::Unit => super::unit(&case.name),
        }
    }

    /// The shared rule's decision on a case, as the message both crates must print.
    pub fn decide(case: &Case) -> Result<(), String> {
        rule(case).map_err(|e| e.message(&case.name).to_string())
    }

    /// A line of a corpus that is a case: not blank, not a `#` comment.
    fn is_case(line: &str) -> bool {
        !line.trim().is_empty() && !line.trim_start().starts_with('#')
    }

    /// The first word of a case: one of `table`'s keywords.
    fn keyword<T: Copy>(word: Option<&str>, table: &[(&str, T)], file: &str, line: usize) -> T {
        table
            .iter()
            .find(|(k, _)| Some(*k) == word)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{file}:{line}: unknown first word {word:?}"))
    }

    /// A case's expected decision: `ok` (`None`) or the refusal's name.
    fn expected(word: Option<&str>, file: &str, line: usize) -> Option<String> {
        match word {
            Some("ok") => None,
            Some(error) => Some(error.to_owned()),
            None => panic!("{file}:{line}: no expected decision"),
        }
    }

    fn parse(line: usize, text: &str) -> Case {
        let mut words = text.splitn(3, ' ');
        let subject = keyword(
            words.next(),
            &[
                ("metric", Subject::MetricName),
                ("tag", Subject::TagName),
                ("scope", Subject::ScopeName),
                ("unit", Subject::Unit),
            ],
            "corpus.txt",
            line,
        );
        let expected = expected(words.next(), "corpus.txt", line);
        let mut rest = words
            .next()
            .unwrap_or_else(|| panic!("corpus.txt:{line}: no name"))
            .trim();
        let mut name = String::new();
        while !rest.is_empty() {
            let mut chars = rest
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("corpus.txt:{line}: a piece must be quoted"))
                .chars();
            let mut piece = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => piece.push('\n'),
                        Some('t') => piece.push('\t'),
                        Some('u') => {
                            let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                            let code = u32::from_str_radix(hex.trim_start_matches('{'), 16)
                                .unwrap_or_else(|_| panic!("corpus.txt:{line}: bad \\u"));
                            piece.push(char::from_u32(code).unwrap());
                        }
                        Some(c) => piece.push(c),
                        None => panic!("corpus.txt:{line}: unfinished escape"),
                    },
                    Some(c) => piece.push(c),
                    None => panic!("corpus.txt:{line}: unclosed quote"),
                }
            }
            rest = chars.as_str();
            let mut times = 1;
            if let Some(after) = rest.strip_prefix('*') {
                let digits = after.split(' ').next().unwrap_or_default();
                times = digits.parse().unwrap();
                rest = &after[digits.len()..];
            }
            name.push_str(&piece.repeat(times));
            rest = rest.trim_start();
        }
        Case {
            line,
            subject,
            name,
            expected,
        }
    }

    /// What a case of `bounds.txt` gives.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Values {
        /// An explicit list of bucket bounds.
        Buckets,
        /// `linear(start, width, count)`.
        Linear,
        /// `exponential(start, factor, count)`.
        Exponential,
        /// A list of summary quantiles.
        Quantiles,
    }

    /// One case of `bounds.txt`: bucket bounds, a bucket generator or quantiles, and the
    /// decision the rules must take on them.
    #[derive(Debug)]
    pub struct ValuesCase {
        /// The line of `bounds.txt`, for messages.
        pub line: usize,
        /// What the numbers are.
        pub values: Values,
        /// The numbers: the list, or the generator's `start` and `width`/`factor` then `count`.
        pub numbers: Vec<f64>,
        /// `None` where they are valid, else the refusal (a [`super::BucketError`] or
        /// [`super::QuantileError`] variant's `Debug` name).
        pub expected: Option<String>,
    }

    impl ValuesCase {
        /// A generator's `(start, width or factor, count)`.
        pub fn generator(&self) -> (f64, f64, usize) {
            match self.numbers[..] {
                [start, step, count] => (start, step, count as usize),
                _ => panic!("bounds.txt:{}: a generator takes three numbers", self.line),
            }
        }
    }

    /// The cases of `bounds.txt`.
    ///
    /// A line is `<values> <expected> <number>…`: values `buckets`, `linear`, `exponential` or
    /// `quantiles`; expected `ok` or a variant's name; numbers as `f64::from_str` reads them
    /// (`inf`, `-inf` and `NaN` included). `#` starts a comment line.
    pub fn values_cases() -> Vec<ValuesCase> {
        include_str!("bounds.txt")
            .lines()
            .enumerate()
            .filter(|(_, l)| is_case(l))
            .map(|(i, l)| {
                let line = i + 1;
                let mut words = l.split_whitespace();
                let values = keyword(
                    words.next(),
                    &[
                        ("buckets", Values::Buckets),
                        ("linear", Values::Linear),
                        ("exponential", Values::Exponential),
                        ("quantiles", Values::Quantiles),
                    ],
                    "bounds.txt",
                    line,
                );
                let expected = expected(words.next(), "bounds.txt", line);
                let numbers = words
                    .map(|w| {
                        w.parse()
                            .unwrap_or_else(|_| panic!("bounds.txt:{line}: bad number {w:?}"))
                    })
                    .collect();
                ValuesCase {
                    line,
                    values,
                    numbers,
                    expected,
                }
            })
            .collect()
    }

    /// The shared rules' decision on a case of `bounds.txt`, as the run-time reason (static text)
    /// and as the variant's `Debug` name.
    pub fn decide_values(case: &ValuesCase) -> Result<(), (&'static str, String)> {
        let (start, step, count) = match case.values {
            Values::Linear | Values::Exponential => case.generator(),
            Values::Buckets | Values::Quantiles => (0.0, 0.0, 0),
        };
        let bucket =
            |r: Result<(), super::BucketError>| r.map_err(|e| (e.reason(), format!("{e:?}")));
        match case.values {
            Values::Buckets => bucket(super::buckets(&case.numbers)),
            Values::Linear => bucket(super::linear(start, step, count).map(drop)),
            Values::Exponential => bucket(super::exponential(start, step, count).map(drop)),
            Values::Quantiles => {
                super::quantiles(&case.numbers).map_err(|e| (e.reason(), format!("{e:?}")))
            }
        }
    }

    #[test]
    fn the_rules_decide_as_the_bounds_corpus_says() {
        let cases = values_cases();
        assert!(cases.len() > 30, "{} cases", cases.len());
        for case in &cases {
            assert_eq!(
                decide_values(case).err().map(|(_, name)| name),
                case.expected,
                "bounds.txt:{}",
                case.line
            );
            // A list passes as a whole exactly when each element passes after the one before.
            let each = |ok: &dyn Fn(Option<f64>, f64) -> bool| {
                !case.numbers.is_empty()
                    && case
                        .numbers
                        .iter()
                        .enumerate()
                        .all(|(i, &v)| ok(i.checked_sub(1).map(|p| case.numbers[p]), v))
            };
            match case.values {
                Values::Buckets => assert_eq!(
                    each(&|p, v| super::bucket_bound(p, v).is_ok()),
                    case.expected.is_none(),
                    "bounds.txt:{}",
                    case.line
                ),
                Values::Quantiles => assert_eq!(
                    each(&|p, v| super::quantile(p, v).is_ok()),
                    case.expected.is_none(),
                    "bounds.txt:{}",
                    case.line
                ),
                Values::Linear | Values::Exponential => {}
            }
        }
    }

    #[test]
    fn the_rules_decide_as_the_corpus_says() {
        let cases = cases();
        assert!(cases.len() > 50, "{} cases", cases.len());
        for case in &cases {
            let decision = rule(case);
            assert_eq!(
                decision.err().map(|e: RuleError| format!("{e:?}")),
                case.expected,
                "corpus.txt:{}: {:?}",
                case.line,
                case.name
            );
            if let Err(e) = decision {
                assert_eq!(e.subject(), case.subject, "corpus.txt:{}", case.line);
            }
        }
    }
}
