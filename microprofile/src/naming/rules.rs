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
            | RuleError::MetricNameChar => Subject::MetricName,
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
        write!(
            f,
            "invalid {} {:?}: {}{}",
            self.subject.noun(),
            self.name,
            self.reason,
            self.subject.hint()
        )
    }
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
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
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

    fn parse(line: usize, text: &str) -> Case {
        let mut words = text.splitn(3, ' ');
        let subject = match words.next() {
            Some("metric") => Subject::MetricName,
            Some("tag") => Subject::TagName,
            Some("scope") => Subject::ScopeName,
            Some("unit") => Subject::Unit,
            other => panic!("corpus.txt:{line}: unknown subject {other:?}"),
        };
        let expected = match words.next() {
            Some("ok") => None,
            Some(error) => Some(error.to_owned()),
            None => panic!("corpus.txt:{line}: no expected decision"),
        };
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
