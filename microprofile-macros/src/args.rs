//! The arguments shared by the attributes and by `#[metric(...)]` on `#[derive(Metrics)]` fields:
//! parsed into a small model, checked, every error collected with its span.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Meta, Token};

use crate::check;
use crate::errors::Errors;

/// Which macro the arguments belong to; decides which keys are accepted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counted,
    Timed,
    ConcurrentGauge,
    Gauge,
    /// A field of `#[derive(Metrics)]`.
    Field,
}

impl Kind {
    pub fn attribute(self) -> &'static str {
        match self {
            Kind::Counted => "#[counted]",
            Kind::Timed => "#[timed]",
            Kind::ConcurrentGauge => "#[concurrent_gauge]",
            Kind::Gauge => "#[gauge]",
            Kind::Field => "#[metric]",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Counted => &[
                "name",
                "absolute",
                "description",
                "unit",
                "tags",
                "scope",
                "outcome",
                "skip",
            ],
            Kind::Timed => &[
                "name",
                "absolute",
                "description",
                "unit",
                "tags",
                "scope",
                "buckets",
                "quantiles",
                "outcome",
                "skip",
            ],
            Kind::ConcurrentGauge => &[
                "name",
                "absolute",
                "description",
                "unit",
                "tags",
                "scope",
                "skip",
            ],
            Kind::Gauge => &["name", "absolute", "description", "unit", "tags", "scope"],
            Kind::Field => &[
                "name",
                "description",
                "unit",
                "tags",
                "scope",
                "buckets",
                "quantiles",
            ],
        }
    }
}

/// Every key any of the macros knows, for "did you mean".
const ALL_KEYS: &[&str] = &[
    "name",
    "absolute",
    "description",
    "unit",
    "tags",
    "scope",
    "buckets",
    "quantiles",
    "outcome",
    "skip",
];

#[derive(Clone)]
pub enum ScopeSpec {
    Base,
    Vendor,
    Application,
    Custom(String),
}

#[derive(Clone)]
pub enum TagValue {
    Static(String),
    /// Taken from the function argument of this name at each call.
    Argument(Ident),
}

#[derive(Clone)]
pub struct Tag {
    pub key: String,
    pub key_span: Span,
    pub value: TagValue,
}

#[derive(Default, Clone)]
pub struct MetricArgs {
    /// `skip`: leave this method out of an instrumented `impl` block.
    pub skip: Option<Span>,
    pub name: Option<LitStr>,
    pub absolute: Option<Span>,
    pub description: Option<String>,
    pub unit: Option<(String, Span)>,
    pub scope: Option<ScopeSpec>,
    pub tags: Vec<Tag>,
    pub buckets: Option<(Vec<f64>, Span)>,
    pub quantiles: Option<(Vec<f64>, Span)>,
    pub outcome: Option<Span>,
    /// Set by an attribute stacked above this one on the same function ([`STACKED`]): the doc
    /// comment is the description of the first attribute only.
    pub stacked: bool,
}

/// A hidden flag the first of several attributes stacked on one function adds to the ones after
/// it, so that only the first takes the doc comment as its description. Not for users: it is
/// not listed among the keys, and a `description = "…"` of its own still applies.
pub const STACKED: &str = "__microprofile_stacked";

/// The raw argument list: `key`, `key = value`, `key(...)`, separated by commas.
pub struct RawArgs(pub Punctuated<Meta, Token![,]>);

impl Parse for RawArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(RawArgs)
    }
}

enum TagKey {
    Ident(Ident),
    Str(LitStr),
}

struct TagItem {
    key: TagKey,
    value: Expr,
}

impl Parse for TagItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = if input.peek(LitStr) {
            TagKey::Str(input.parse()?)
        } else {
            TagKey::Ident(input.call(syn::ext::IdentExt::parse_any)?)
        };
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(TagItem { key, value })
    }
}

fn key_name(meta: &Meta) -> Option<String> {
    meta.path().get_ident().map(|i| i.to_string())
}

fn string_value(expr: &Expr, key: &str, errors: &mut Errors) -> Option<LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                format!("`{key}` takes a string literal, as in `{key} = \"…\"`"),
            ));
            None
        }
    }
}

impl MetricArgs {
    /// Parses and checks the arguments of one macro; every problem found is added to `errors`.
    pub fn from_raw(raw: RawArgs, kind: Kind, errors: &mut Errors) -> MetricArgs {
        let mut args = MetricArgs::default();
        let mut seen: Vec<String> = Vec::new();
        for meta in raw.0 {
            let Some(key) = key_name(&meta) else {
                errors.push(syn::Error::new_spanned(
                    meta.path(),
                    format!(
                        "expected one of the arguments of {}: {}",
                        kind.attribute(),
                        kind.keys().join(", ")
                    ),
                ));
                continue;
            };
            let key_span = meta.path().span();
            if key == STACKED && matches!(meta, Meta::Path(_)) {
                args.stacked = true;
                continue;
            }
            if !kind.keys().contains(&key.as_str()) {
                errors.push(syn::Error::new(key_span, unknown_key_message(&key, kind)));
                continue;
            }
            if seen.contains(&key) {
                errors.push(syn::Error::new(
                    key_span,
                    format!("`{key}` is given more than once"),
                ));
                continue;
            }
            seen.push(key.clone());
            match (key.as_str(), &meta) {
                ("absolute", Meta::Path(_)) => args.absolute = Some(key_span),
                ("outcome", Meta::Path(_)) => args.outcome = Some(key_span),
                ("skip", Meta::Path(_)) => args.skip = Some(key_span),
                ("absolute" | "outcome" | "skip", _) => errors.push(syn::Error::new_spanned(
                    &meta,
                    format!("`{key}` is a flag and takes no value: write `{key}` alone"),
                )),
                ("tags", Meta::List(list)) => {
                    match list.parse_args_with(Punctuated::<TagItem, Token![,]>::parse_terminated) {
                        Ok(items) => args.parse_tags(items, errors),
                        Err(e) => errors.push(e),
                    }
                }
                ("tags", _) => errors.push(syn::Error::new_spanned(
                    &meta,
                    "`tags` takes a list: `tags(key = \"value\", other = argument_name)`",
                )),
                (_, Meta::NameValue(nv)) => args.parse_value(&key, &nv.value, errors),
                _ => errors.push(syn::Error::new_spanned(
                    &meta,
                    format!("`{key}` takes a value: `{key} = …`"),
                )),
            }
        }
        if let (Some((_, bspan)), Some((_, qspan))) = (&args.buckets, &args.quantiles) {
            let mut e = syn::Error::new(
                *qspan,
                "`buckets` and `quantiles` cannot be combined: `buckets` makes a histogram, `quantiles` a summary; choose one",
            );
            e.combine(syn::Error::new(*bspan, "`buckets` given here"));
            errors.push(e);
        }
        if let Some(outcome) = args.outcome {
            if let Some(tag) = args.tags.iter().find(|t| t.key == "outcome") {
                let mut e = syn::Error::new(
                    tag.key_span,
                    "the tag `outcome` is set by the `outcome` option; rename this tag",
                );
                e.combine(syn::Error::new(outcome, "`outcome` option given here"));
                errors.push(e);
            }
        }
        args
    }

    fn parse_value(&mut self, key: &str, value: &Expr, errors: &mut Errors) {
        match key {
            "name" => {
                if let Some(lit) = string_value(value, key, errors) {
                    if let Err(e) = check::metric_name(&lit.value(), lit.span()) {
                        errors.push(e);
                    }
                    self.name = Some(lit);
                }
            }
            "description" => {
                if let Some(lit) = string_value(value, key, errors) {
                    self.description = Some(lit.value());
                }
            }
            "unit" => {
                if let Some(lit) = string_value(value, key, errors) {
                    if let Err(e) = check::unit(&lit.value(), lit.span()) {
                        errors.push(e);
                    }
                    self.unit = Some((lit.value(), lit.span()));
                }
            }
            "scope" => {
                if let Some(lit) = string_value(value, key, errors) {
                    let name = lit.value();
                    self.scope = Some(match name.as_str() {
                        "base" => ScopeSpec::Base,
                        "vendor" => ScopeSpec::Vendor,
                        "application" => ScopeSpec::Application,
                        other => {
                            if let Err(e) = check::scope_name(other, lit.span()) {
                                errors.push(e);
                            }
                            ScopeSpec::Custom(name)
                        }
                    });
                }
            }
            "buckets" => {
                if let Some(buckets) = parse_buckets(value, errors) {
                    self.buckets = Some((buckets, value.span()));
                }
            }
            "quantiles" => {
                if let Some(q) = parse_quantiles(value, errors) {
                    self.quantiles = Some((q, value.span()));
                }
            }
            _ => {}
        }
    }

    fn parse_tags(&mut self, items: Punctuated<TagItem, Token![,]>, errors: &mut Errors) {
        for item in items {
            let (key, key_span) = match &item.key {
                TagKey::Ident(i) => {
                    let s = i.to_string();
                    (s.strip_prefix("r#").unwrap_or(&s).to_owned(), i.span())
                }
                TagKey::Str(s) => (s.value(), s.span()),
            };
            if let Err(e) = check::tag_name(&key, key_span) {
                errors.push(e);
            }
            if self.tags.iter().any(|t| t.key == key) {
                errors.push(check::duplicate_tag(&key, key_span));
                continue;
            }
            let value = match &item.value {
                Expr::Lit(syn::ExprLit { lit, .. }) => match lit {
                    Lit::Str(s) => TagValue::Static(s.value()),
                    Lit::Int(i) => TagValue::Static(i.base10_digits().to_owned()),
                    Lit::Bool(b) => TagValue::Static(b.value.to_string()),
                    other => {
                        errors.push(syn::Error::new_spanned(
                            other,
                            "a tag value is a string literal (`key = \"value\"`) or the name of an argument of the function (`key = argument`)",
                        ));
                        continue;
                    }
                },
                Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                    match p.path.get_ident() {
                        Some(ident) => TagValue::Argument(ident.clone()),
                        None => continue,
                    }
                }
                other => {
                    errors.push(syn::Error::new_spanned(
                        other,
                        "a tag value is a string literal (`key = \"value\"`) or the name of an argument of the function (`key = argument`)",
                    ));
                    continue;
                }
            };
            self.tags.push(Tag {
                key,
                key_span,
                value,
            });
        }
    }

    pub fn static_tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().filter_map(|t| match &t.value {
            TagValue::Static(v) => Some((t.key.as_str(), v.as_str())),
            TagValue::Argument(_) => None,
        })
    }

    pub fn argument_tags(&self) -> impl Iterator<Item = (&Tag, &Ident)> {
        self.tags.iter().filter_map(|t| match &t.value {
            TagValue::Argument(i) => Some((t, i)),
            TagValue::Static(_) => None,
        })
    }

    /// The `Scope` expression.
    pub fn scope_tokens(&self) -> TokenStream {
        match &self.scope {
            None | Some(ScopeSpec::Application) => {
                quote!(::microprofile::__private::Scope::Application)
            }
            Some(ScopeSpec::Base) => quote!(::microprofile::__private::Scope::Base),
            Some(ScopeSpec::Vendor) => quote!(::microprofile::__private::Scope::Vendor),
            Some(ScopeSpec::Custom(name)) => quote!(
                ::microprofile::__private::Scope::Custom(::std::borrow::Cow::Borrowed(#name))
            ),
        }
    }

    /// A `Metadata` constant expression; `extra_tag` is added to the static tags (the outcome).
    pub fn metadata_tokens(
        &self,
        name: &TokenStream,
        description: &str,
        unit: &str,
        extra_tag: Option<(&str, &str)>,
    ) -> TokenStream {
        let scope = self.scope_tokens();
        let mut tags: Vec<(&str, &str)> = self.static_tags().collect();
        tags.extend(extra_tag);
        let keys = tags.iter().map(|(k, _)| k);
        let values = tags.iter().map(|(_, v)| v);
        quote! {
            ::microprofile::__private::Metadata::new(#name)
                .description(#description)
                .unit(#unit)
                .scope(#scope)
                .tags(&[#((#keys, #values)),*])
        }
    }
}

fn unknown_key_message(key: &str, kind: Kind) -> String {
    if ALL_KEYS.contains(&key) {
        let only = match key {
            "buckets" | "quantiles" => "#[timed] and #[metric] fields",
            "outcome" => "#[timed] and #[counted]",
            "absolute" => "the attribute macros",
            "skip" => "#[timed], #[counted] and #[concurrent_gauge]",
            _ => "other macros",
        };
        return format!(
            "`{key}` cannot be used with {}: it is accepted only by {only}",
            kind.attribute()
        );
    }
    let mut message = format!("unknown argument `{key}` for {}", kind.attribute());
    if let Some(best) = kind
        .keys()
        .iter()
        .map(|k| (check::edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
    {
        message.push_str(&format!("; did you mean `{}`?", best.1));
    } else {
        message.push_str(&format!("; expected one of: {}", kind.keys().join(", ")));
    }
    message
}

fn number(expr: &Expr, errors: &mut Errors) -> Option<f64> {
    let (negative, inner) = match expr {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => (true, &**expr),
        other => (false, other),
    };
    let value = match inner {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f64>().ok(),
        Expr::Path(p)
            if p.path.is_ident("INFINITY")
                || p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "INFINITY") =>
        {
            Some(f64::INFINITY)
        }
        Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "NAN") => Some(f64::NAN),
        _ => None,
    };
    match value {
        Some(v) => Some(if negative { -v } else { v }),
        None => {
            errors.push(syn::Error::new_spanned(expr, "expected a number literal"));
            None
        }
    }
}

fn numbers(elems: impl IntoIterator<Item = Expr>, errors: &mut Errors) -> Option<Vec<(f64, Expr)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for e in elems {
        match number(&e, errors) {
            Some(v) => out.push((v, e)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_buckets(value: &Expr, errors: &mut Errors) -> Option<Vec<f64>> {
    // The rules and their wording are `Buckets`' (`microprofile/src/naming/rules.rs`); here each
    // refusal is put at the offending token.
    match value {
        Expr::Array(array) => {
            let values = numbers(array.elems.iter().cloned(), errors)?;
            checked_list(
                values,
                |previous, v, expr| check::bucket_bound(previous, v, expr),
                |bounds| check::buckets(bounds, value),
                errors,
            )
        }
        Expr::Call(call) => {
            let generator = match &*call.func {
                Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                _ => None,
            };
            let Some(generator @ ("exponential" | "linear")) = generator.as_deref() else {
                errors.push(syn::Error::new_spanned(
                    &call.func,
                    "expected `exponential(start, factor, count)` or `linear(start, width, count)`",
                ));
                return None;
            };
            let args: Vec<&Expr> = call.args.iter().collect();
            let &[start_arg, step_arg, count_arg] = args.as_slice() else {
                errors.push(syn::Error::new_spanned(
                    &call.args,
                    format!(
                        "`{generator}` takes three arguments: `{generator}(start, {}, count)`",
                        if generator == "linear" {
                            "width"
                        } else {
                            "factor"
                        }
                    ),
                ));
                return None;
            };
            let start = number(start_arg, errors);
            let step = number(step_arg, errors);
            let count = match count_arg {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_parse::<usize>().ok(),
                _ => None,
            };
            if count.is_none() {
                errors.push(syn::Error::new_spanned(
                    count_arg,
                    "the bucket count is an integer literal",
                ));
            }
            let (start, step, count) = (start?, step?, count?);
            // Each parameter is checked on its own, so that every wrong one is pointed at; the
            // bounds they make are checked once they all pass.
            let checks = if generator == "linear" {
                vec![
                    check::bucket_count(count, count_arg),
                    check::linear_width(step, step_arg),
                ]
            } else {
                vec![
                    check::bucket_count(count, count_arg),
                    check::exponential_start(start, start_arg),
                    check::exponential_factor(step, step_arg),
                ]
            };
            let mut ok = true;
            for e in checks.into_iter().filter_map(Result::err) {
                errors.push(e);
                ok = false;
            }
            if !ok {
                return None;
            }
            let buckets = if generator == "linear" {
                check::linear(start, step, count, value)
            } else {
                check::exponential(start, step, count, value)
            };
            buckets.map_err(|e| errors.push(e)).ok()
        }
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "`buckets` takes a list (`[0.1, 0.5, 1.0]`), `exponential(start, factor, count)` or `linear(start, width, count)`",
            ));
            None
        }
    }
}

fn parse_quantiles(value: &Expr, errors: &mut Errors) -> Option<Vec<f64>> {
    // The rules and their wording are the summaries' (`microprofile/src/naming/rules.rs`); here
    // each refusal is put at the offending token.
    let Expr::Array(array) = value else {
        errors.push(syn::Error::new_spanned(
            value,
            "`quantiles` takes a list, as in `quantiles = [0.5, 0.95, 0.99]`",
        ));
        return None;
    };
    let values = numbers(array.elems.iter().cloned(), errors)?;
    checked_list(
        values,
        |previous, q, expr| check::quantile(previous, q, expr),
        |quantiles| check::quantiles(quantiles, value),
        errors,
    )
}

/// Checks each number of a list after the one before it, every refusal at its element, then
/// (when they all pass) the whole list, which refuses only an empty one.
fn checked_list(
    values: Vec<(f64, Expr)>,
    each: impl Fn(Option<f64>, f64, &Expr) -> syn::Result<()>,
    whole: impl Fn(&[f64]) -> syn::Result<()>,
    errors: &mut Errors,
) -> Option<Vec<f64>> {
    let mut ok = true;
    let mut previous: Option<f64> = None;
    for (v, expr) in &values {
        if let Err(e) = each(previous, *v, expr) {
            errors.push(e);
            ok = false;
        }
        previous = Some(*v);
    }
    let list: Vec<f64> = values.into_iter().map(|(v, _)| v).collect();
    if ok {
        if let Err(e) = whole(&list) {
            errors.push(e);
            ok = false;
        }
    }
    ok.then_some(list)
}

/// `&[f64]` literal tokens.
pub fn f64_slice(values: &[f64], span: Span) -> TokenStream {
    let lits = values
        .iter()
        .map(|v| proc_macro2::Literal::f64_suffixed(*v).into_token_stream());
    quote_spanned!(span=> &[#(#lits),*])
}

/// The description given by the doc comment: its first paragraph, lines joined with spaces.
pub fn doc_description(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let line = s.value();
                let line = line.trim();
                if line.is_empty() {
                    if !lines.is_empty() {
                        break;
                    }
                } else {
                    lines.push(line.to_owned());
                }
            }
        }
    }
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::corpus::{decide_values, values_cases, Values};

    fn literal(v: f64) -> String {
        if v.is_nan() {
            "f64::NAN".to_owned()
        } else if v == f64::INFINITY {
            "f64::INFINITY".to_owned()
        } else if v == f64::NEG_INFINITY {
            "-f64::INFINITY".to_owned()
        } else {
            format!("{v:?}")
        }
    }

    /// `buckets = …` and `quantiles = …` decide every case of the shared corpus
    /// (`microprofile/src/naming/bounds.txt`) as the shared rules do, with the run time's reason
    /// among the messages; `Buckets` and summaries check their side against the same corpus, so
    /// the two cannot drift apart.
    #[test]
    fn compile_time_validation_agrees_with_the_rules_on_the_bounds_corpus() {
        let cases = values_cases();
        assert!(!cases.is_empty());
        for case in cases {
            let list = || {
                let items: Vec<String> = case.numbers.iter().map(|v| literal(*v)).collect();
                format!("[{}]", items.join(", "))
            };
            let generator = |name: &str| {
                let (start, step, count) = case.generator();
                format!("{name}({}, {}, {count})", literal(start), literal(step))
            };
            let source = match case.values {
                Values::Buckets | Values::Quantiles => list(),
                Values::Linear => generator("linear"),
                Values::Exponential => generator("exponential"),
            };
            let value: Expr = syn::parse_str(&source).unwrap();
            let mut errors = Errors::new();
            let accepted = match case.values {
                Values::Quantiles => parse_quantiles(&value, &mut errors).is_some(),
                _ => parse_buckets(&value, &mut errors).is_some(),
            };
            let shown = errors.into_compile_errors().to_string();
            match decide_values(&case) {
                Ok(()) => assert!(
                    accepted && shown.is_empty(),
                    "bounds.txt:{}: {shown}",
                    case.line
                ),
                Err((reason, _)) => {
                    let what = match case.values {
                        Values::Quantiles => crate::check::rules::Refusal::quantiles(reason),
                        _ => crate::check::rules::Refusal::buckets(reason),
                    };
                    assert!(
                        !accepted && shown.contains(&what.to_string()),
                        "bounds.txt:{}: {source}: expected {what:?} among {shown}",
                        case.line
                    );
                }
            }
        }
    }
}
