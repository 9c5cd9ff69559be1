//! The naming rules of `microprofile::naming`, applied at compile time: the rules and their
//! wording come from the one shared source, `microprofile/src/naming/rules.rs` (compiled in
//! below as `rules`); this module only puts the refusal at the token's span.

use proc_macro2::Span;
use quote::ToTokens;

// The naming rules, one source for both crates: `microprofile` applies the same file at run time
// (as serde compiles `internals` into both `serde_derive` and `serde_derive_internals`).
// `src/rules.rs` (and `src/corpus.txt`, which its tests include) are symlinks to
// `microprofile/src/naming/`: a symlink keeps one file in the repository, and `cargo package`
// packs its target as a file, so the published crate builds on its own.
#[allow(dead_code)] // `microprofile` uses all of it; this crate, the checks and their wording.
#[path = "rules.rs"]
pub(crate) mod rules;

fn spanned(decision: Result<(), rules::RuleError>, name: &str, span: Span) -> syn::Result<()> {
    decision.map_err(|rule| syn::Error::new(span, rule.message(name)))
}

/// A metric name: `[a-zA-Z_][a-zA-Z0-9_.:-]*`.
pub fn metric_name(name: &str, span: Span) -> syn::Result<()> {
    spanned(rules::metric_name(name), name, span)
}

/// A derive's metric name prefix, which starts every metric name of the struct: refused as a
/// metric name would be, with a note that it is the prefix.
pub fn metric_name_prefix(prefix: &str, span: Span) -> syn::Result<()> {
    rules::metric_name(prefix).map_err(|rule| {
        let message = rule.message(prefix);
        syn::Error::new(
            span,
            format!("{message}; the prefix starts every metric name"),
        )
    })
}

/// A tag or label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not `__…`, not reserved.
pub fn tag_name(name: &str, span: Span) -> syn::Result<()> {
    spanned(rules::tag_name(name), name, span)
}

/// A custom scope name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn scope_name(name: &str, span: Span) -> syn::Result<()> {
    spanned(rules::scope_name(name), name, span)
}

/// A unit: empty or `[a-zA-Z0-9_]+`.
pub fn unit(unit: &str, span: Span) -> syn::Result<()> {
    spanned(rules::unit(unit), unit, span)
}

/// A tag key given twice in one `tags(...)`: worded as the run time's `Error::DuplicateTag`.
pub fn duplicate_tag(key: &str, span: Span) -> syn::Error {
    syn::Error::new(span, rules::DuplicateTag(key))
}

fn buckets_refused(rule: rules::BucketError, at: impl ToTokens) -> syn::Error {
    syn::Error::new_spanned(at, rules::Refusal::buckets(rule.reason()))
}

/// One bound of a `buckets = [...]` list, after `previous`: finite and greater than it. The
/// refusal names both bounds when they are out of order.
pub fn bucket_bound(previous: Option<f64>, bound: f64, at: impl ToTokens) -> syn::Result<()> {
    rules::bucket_bound(previous, bound).map_err(|rule| match (rule, previous) {
        (rules::BucketError::NotIncreasing, Some(p)) => syn::Error::new_spanned(
            &at,
            format!(
                "{}: {bound:?} follows {p:?}",
                rules::Refusal::buckets(rule.reason())
            ),
        ),
        _ => buckets_refused(rule, &at),
    })
}

/// A whole `buckets = [...]` list whose bounds each passed [`bucket_bound`]: not empty.
pub fn buckets(bounds: &[f64], at: impl ToTokens) -> syn::Result<()> {
    rules::buckets(bounds).map_err(|rule| buckets_refused(rule, &at))
}

/// A generator's `count`: at least 1.
pub fn bucket_count(count: usize, at: impl ToTokens) -> syn::Result<()> {
    rules::bucket_count(count).map_err(|rule| buckets_refused(rule, &at))
}

/// `linear`'s `width`: greater than 0.
pub fn linear_width(width: f64, at: impl ToTokens) -> syn::Result<()> {
    rules::linear_width(width).map_err(|rule| buckets_refused(rule, &at))
}

/// `exponential`'s `start`: greater than 0.
pub fn exponential_start(start: f64, at: impl ToTokens) -> syn::Result<()> {
    rules::exponential_start(start).map_err(|rule| buckets_refused(rule, &at))
}

/// `exponential`'s `factor`: greater than 1.
pub fn exponential_factor(factor: f64, at: impl ToTokens) -> syn::Result<()> {
    rules::exponential_factor(factor).map_err(|rule| buckets_refused(rule, &at))
}

/// The bounds of `linear(start, width, count)`, checked as `Buckets::linear` checks them.
pub fn linear(start: f64, width: f64, count: usize, at: impl ToTokens) -> syn::Result<Vec<f64>> {
    rules::linear(start, width, count).map_err(|rule| buckets_refused(rule, &at))
}

/// The bounds of `exponential(start, factor, count)`, checked as `Buckets::exponential` checks
/// them.
pub fn exponential(
    start: f64,
    factor: f64,
    count: usize,
    at: impl ToTokens,
) -> syn::Result<Vec<f64>> {
    rules::exponential(start, factor, count).map_err(|rule| buckets_refused(rule, &at))
}

fn quantiles_refused(rule: rules::QuantileError, at: impl ToTokens) -> syn::Error {
    syn::Error::new_spanned(at, rules::Refusal::quantiles(rule.reason()))
}

/// One quantile of a `quantiles = [...]` list, after `previous`: inside (0, 1) and greater than
/// it. The refusal names the quantile(s).
pub fn quantile(previous: Option<f64>, q: f64, at: impl ToTokens) -> syn::Result<()> {
    rules::quantile(previous, q).map_err(|rule| {
        let refusal = rules::Refusal::quantiles(rule.reason());
        let message = match (rule, previous) {
            (rules::QuantileError::NotIncreasing, Some(p)) => {
                format!("{refusal}: {q:?} follows {p:?}")
            }
            _ => format!("{refusal}: {q:?}"),
        };
        syn::Error::new_spanned(at, message)
    })
}

/// A whole `quantiles = [...]` list whose quantiles each passed [`quantile`]: not empty.
pub fn quantiles(quantiles: &[f64], at: impl ToTokens) -> syn::Result<()> {
    rules::quantiles(quantiles).map_err(|rule| quantiles_refused(rule, &at))
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        // `left` is `current[j]`, `diagonal` is `previous[j]`, `up` is `previous[j + 1]`.
        let mut left = i + 1;
        current.push(left);
        for ((cb, &diagonal), &up) in b.iter().zip(&previous).zip(previous.iter().skip(1)) {
            let cost = usize::from(ca != *cb);
            left = (diagonal + cost).min(up + 1).min(left + 1);
            current.push(left);
        }
        previous = current;
    }
    // `previous` always holds `b.len() + 1` entries, so the last one is `previous[b.len()]`.
    previous.last().copied().unwrap_or(b.len())
}

#[cfg(test)]
mod tests {
    use super::rules::{corpus, Subject};
    use super::*;

    /// Compile-time validation decides every name of the shared corpus as the shared rules do,
    /// with the same message; `microprofile::naming` checks its run-time side against the same
    /// corpus (`microprofile/src/naming/corpus.txt`), so the two cannot drift apart.
    #[test]
    fn compile_time_validation_agrees_with_the_rules_on_the_corpus() {
        let cases = corpus::cases();
        assert!(!cases.is_empty());
        for case in cases {
            let span = Span::call_site();
            let compile_time = match case.subject {
                Subject::MetricName => metric_name(&case.name, span),
                Subject::TagName => tag_name(&case.name, span),
                Subject::ScopeName => scope_name(&case.name, span),
                Subject::Unit => unit(&case.name, span),
            };
            assert_eq!(
                compile_time.map_err(|e| e.to_string()),
                corpus::decide(&case),
                "corpus.txt:{}",
                case.line
            );
        }
    }
}
