//! The attribute macros on functions: parse → check → generate.
//!
//! The function keeps its signature and its body; the expansion adds, at the top of the body, a
//! `static` metric with its `inventory::submit!`, and a guard that records when the call ends. For
//! `async fn` the guard lives inside the future, so dropping the future drops (and records) it; for
//! bodies written by `#[async_trait]` (`Box::pin(async move { … })`) the guard goes inside that
//! async block. With `outcome`, the body runs in a closure (sync) or an inner async block, so its
//! `return`s and `?`s end up in the value the guard inspects. For `#[gauge]` the body moves into a
//! function nested in the function, called by the function and by the gauge's reader.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::args::{self, Kind, MetricArgs, RawArgs};
use crate::errors::Errors;

const NUMERIC: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32",
    "f64",
];

pub fn instrument(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let raw = match syn::parse2::<RawArgs>(attr) {
        Ok(raw) => Some(raw),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if kind != Kind::Gauge {
        if let Ok(block) = syn::parse2::<syn::ItemImpl>(item.clone()) {
            let args = match raw {
                Some(raw) => MetricArgs::from_raw(raw, kind, &mut errors),
                None => MetricArgs::default(),
            };
            return instrument_impl(kind, args, block, errors);
        }
    }
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(parse_error) => {
            // Not a function we can read. If it is another kind of item, say so; if it does not
            // parse at all, hand it back untouched so the compiler reports the real error.
            if let Ok(other) = syn::parse2::<syn::Item>(item.clone()) {
                if !matches!(other, syn::Item::Fn(_) | syn::Item::Verbatim(_)) {
                    errors.push(syn::Error::new_spanned(
                        &other,
                        if kind == Kind::Gauge {
                            "#[gauge] can only be used on functions".to_owned()
                        } else {
                            format!(
                                "{} can only be used on functions and `impl` blocks",
                                kind.attribute()
                            )
                        },
                    ));
                }
            } else if syn::parse2::<syn::TraitItemFn>(item.clone())
                .is_ok_and(|f| f.default.is_none())
            {
                errors.push(syn::Error::new(
                    parse_error.span(),
                    format!(
                        "{} needs a function body: put it on the implementation, not the trait's declaration",
                        kind.attribute()
                    ),
                ));
            }
            let errors = errors.into_compile_errors();
            return quote!(#errors #item);
        }
    };
    let mut function = function;
    mark_stacked(&mut function.attrs);
    let args = match raw {
        Some(raw) => MetricArgs::from_raw(raw, kind, &mut errors),
        None => MetricArgs::default(),
    };
    if args.skip.is_some() {
        // `skip` on its own function: nothing to record.
        let errors = errors.into_compile_errors();
        return quote!(#errors #function);
    }
    check_function(kind, &args, &function, &mut errors);
    if !errors.is_empty() {
        // Keep the function so that errors in its body and its uses are still reported normally.
        let errors = errors.into_compile_errors();
        return quote!(#errors #function);
    }
    generate(kind, &args, function)
}

/// Adds the hidden [`args::STACKED`] flag to the instrumentation attributes left on the function
/// (the ones stacked below this one, expanded after it), so that the doc comment is the
/// description of the first attribute only: `/// Requests handled.` above `#[counted]` and
/// `#[concurrent_gauge]` describes the counter, not the gauge of requests in flight.
fn mark_stacked(attrs: &mut [syn::Attribute]) {
    for attr in attrs {
        let is_ours = attr.path().segments.last().is_some_and(|last| {
            matches!(
                last.ident.to_string().as_str(),
                "counted" | "timed" | "concurrent_gauge" | "gauge"
            )
        });
        if !is_ours {
            continue;
        }
        let flag = Ident::new(args::STACKED, Span::call_site());
        attr.meta = match &attr.meta {
            syn::Meta::Path(path) => syn::parse_quote!(#path(#flag)),
            syn::Meta::List(list) => {
                let path = &list.path;
                let tokens = &list.tokens;
                let ends_with_comma = tokens.clone().into_iter().last().is_some_and(
                    |t| matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','),
                );
                if tokens.is_empty() || ends_with_comma {
                    syn::parse_quote!(#path(#tokens #flag))
                } else {
                    syn::parse_quote!(#path(#tokens, #flag))
                }
            }
            // `#[timed = …]` is not ours to read; its own expansion reports it.
            syn::Meta::NameValue(_) => continue,
        };
    }
}

fn attribute_kind(attr: &syn::Attribute) -> Option<Kind> {
    let last = attr.path().segments.last()?;
    match last.ident.to_string().as_str() {
        "counted" => Some(Kind::Counted),
        "timed" => Some(Kind::Timed),
        "concurrent_gauge" => Some(Kind::ConcurrentGauge),
        _ => None,
    }
}

/// The attribute on a whole `impl` block: every method with a body is instrumented as if it
/// carried the attribute itself, named `<name>.<method>` when the block gives a `name`. A method
/// with its own attribute of the same kind (for example `#[timed(skip)]`) keeps it instead;
/// `const fn`s are left out.
fn instrument_impl(
    kind: Kind,
    args: MetricArgs,
    mut block: syn::ItemImpl,
    mut errors: Errors,
) -> TokenStream {
    if let Some((tag, ident)) = args.argument_tags().next() {
        errors.push(syn::Error::new(
            ident.span(),
            format!(
                "the tag `{}` cannot take its value from an argument on an `impl` block: put the attribute on the method",
                tag.key
            ),
        ));
    }
    if let Some(span) = args.skip {
        errors.push(syn::Error::new(
            span,
            "`skip` goes on a method of an instrumented `impl` block, not on the block",
        ));
    }
    if !errors.is_empty() {
        let errors = errors.into_compile_errors();
        return quote!(#errors #block);
    }
    for item in &mut block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        if method.sig.constness.is_some()
            || method.attrs.iter().any(|a| attribute_kind(a) == Some(kind))
        {
            continue;
        }
        let mut method_args = args.clone();
        let method_name = method.sig.ident.to_string();
        let method_name = method_name
            .strip_prefix("r#")
            .unwrap_or(&method_name)
            .to_owned();
        if let Some(prefix) = &args.name {
            method_args.name = Some(syn::LitStr::new(
                &format!("{}.{method_name}", prefix.value()),
                prefix.span(),
            ));
        }
        if method_args.outcome.is_some() && !is_result(&method.sig.output) {
            method_args.outcome = None;
        }
        let function = ItemFn {
            attrs: method.attrs.clone(),
            vis: method.vis.clone(),
            sig: method.sig.clone(),
            block: Box::new(method.block.clone()),
        };
        let mut method_errors = Errors::new();
        check_function(kind, &method_args, &function, &mut method_errors);
        if !method_errors.is_empty() {
            errors.push(syn::Error::new(
                method.sig.ident.span(),
                "this method cannot be instrumented with the `impl` block's arguments",
            ));
            continue;
        }
        let expanded = generate(kind, &method_args, function);
        match syn::parse2::<syn::ImplItemFn>(expanded) {
            Ok(mut new_method) => {
                new_method.defaultness = method.defaultness;
                *method = new_method;
            }
            Err(e) => errors.push(e),
        }
    }
    let errors = errors.into_compile_errors();
    quote!(#errors #block)
}

fn argument_names(function: &ItemFn) -> Vec<Ident> {
    function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pat) => match &*pat.pat {
                Pat::Ident(p) => Some(p.ident.clone()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn generic_types(segment: &syn::PathSegment) -> impl Iterator<Item = &Type> {
    let args = match &segment.arguments {
        syn::PathArguments::AngleBracketed(a) => Some(a.args.iter()),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|g| match g {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// The `Output` of `Pin<Box<dyn Future<Output = T> + …>>`, the return type `#[async_trait]` writes.
fn boxed_future_output(ty: &Type) -> Option<&Type> {
    let Type::Path(pin) = ty else { return None };
    let pin = pin.path.segments.last().filter(|s| s.ident == "Pin")?;
    let Type::Path(boxed) = generic_types(pin).next()? else {
        return None;
    };
    let boxed = boxed.path.segments.last().filter(|s| s.ident == "Box")?;
    let Type::TraitObject(object) = generic_types(boxed).next()? else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let future = t.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(a) = &future.arguments else {
            return None;
        };
        a.args.iter().find_map(|g| match g {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

fn is_result(output: &ReturnType) -> bool {
    fn result(ty: &Type) -> bool {
        match ty {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
            _ => false,
        }
    }
    match output {
        ReturnType::Type(_, ty) => result(ty) || boxed_future_output(ty).is_some_and(result),
        ReturnType::Default => false,
    }
}

fn check_function(kind: Kind, args: &MetricArgs, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(again) = function
        .attrs
        .iter()
        .find(|a| attribute_kind(a) == Some(kind))
    {
        errors.push(syn::Error::new_spanned(
            again,
            format!(
                "{} is given twice on this function: one metric per function and kind; for a second one write the metric as a `static` and use it in the body",
                kind.attribute()
            ),
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span(),
            format!(
                "{} cannot be used on a `const fn`: metrics are recorded at run time; remove `const` or the attribute",
                kind.attribute()
            ),
        ));
    }
    let names = argument_names(function);
    for (tag, ident) in args.argument_tags() {
        if ident == "self" {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "the tag `{}` cannot take its value from `self`; name an argument",
                    tag.key
                ),
            ));
        } else if !names.iter().any(|n| n == ident) {
            let known = if names.is_empty() {
                "the function has no named arguments".to_owned()
            } else {
                format!(
                    "its arguments are: {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "the tag `{}` takes its value from `{ident}`, but the function has no argument `{ident}` ({known}); to give a fixed value, write it as a string: `{} = \"{ident}\"`",
                    tag.key, tag.key
                ),
            ));
        }
    }
    if let Some(span) = args.outcome {
        if !is_result(&sig.output) {
            let mut e = syn::Error::new(
                span,
                "`outcome` needs a function returning `Result`: the outcome tag is `ok` or `error` after the returned value",
            );
            match &sig.output {
                ReturnType::Type(_, ty) => {
                    e.combine(syn::Error::new_spanned(ty, "this is not a `Result`"))
                }
                ReturnType::Default => e.combine(syn::Error::new(
                    sig.ident.span(),
                    "this function returns `()`",
                )),
            }
            errors.push(e);
        }
    }
    if kind == Kind::Timed {
        if let Some((unit, span)) = &args.unit {
            if unit != "seconds" {
                errors.push(syn::Error::new(
                    *span,
                    "#[timed] always records seconds: leave `unit` out (or write `unit = \"seconds\"`)",
                ));
            }
        }
    }
    if kind == Kind::Gauge {
        if args.unit.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "#[gauge] needs a `unit` (as in MicroProfile), for example `#[gauge(unit = \"bytes\")]`; use `unit = \"none\"` for a plain number",
            ));
        }
        if !sig.inputs.is_empty() {
            errors.push(syn::Error::new_spanned(
                &sig.inputs,
                "#[gauge] reads the function at scrape time, so it cannot take arguments (nor `self`)",
            ));
        }
        if let Some(asyncness) = &sig.asyncness {
            errors.push(syn::Error::new(
                asyncness.span(),
                "#[gauge] cannot be used on an `async fn`: the value is read synchronously at scrape time",
            ));
        }
        if let Some(unsafety) = &sig.unsafety {
            errors.push(syn::Error::new(
                unsafety.span(),
                "#[gauge] cannot be used on an `unsafe fn`",
            ));
        }
        if !sig.generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &sig.generics,
                "#[gauge] cannot be used on a generic function",
            ));
        }
        let numeric = match &sig.output {
            ReturnType::Type(_, ty) => match &**ty {
                Type::Path(p) => {
                    p.qself.is_none()
                        && p.path
                            .get_ident()
                            .is_some_and(|i| NUMERIC.contains(&i.to_string().as_str()))
                }
                _ => false,
            },
            ReturnType::Default => false,
        };
        if !numeric {
            let message = "#[gauge] needs a function returning a number (`i8`…`i128`, `u8`…`u128`, `isize`, `usize`, `f32` or `f64`)";
            errors.push(match &sig.output {
                ReturnType::Type(_, ty) => syn::Error::new_spanned(ty, message),
                ReturnType::Default => syn::Error::new(sig.ident.span(), message),
            });
        }
        if let Some(span) = self_in_body(&function.block) {
            errors.push(syn::Error::new(
                span,
                "#[gauge] reads this body at scrape time from a nested function, where `Self` is not known: write the type's name instead of `Self`",
            ));
        }
    }
}

/// The first `Self` the body's own code names (not inside nested items, which have their own
/// `Self`, nor inside macro calls, whose tokens cannot be read as code here: rustc reports those).
fn self_in_body(block: &syn::Block) -> Option<Span> {
    struct Finder(Option<Span>);
    impl syn::visit_mut::VisitMut for Finder {
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
        fn visit_path_mut(&mut self, path: &mut syn::Path) {
            if self.0.is_none() {
                self.0 = path
                    .segments
                    .first()
                    .filter(|s| s.ident == "Self")
                    .map(|s| s.ident.span());
            }
            syn::visit_mut::visit_path_mut(self, path);
        }
    }
    let mut finder = Finder(None);
    syn::visit_mut::VisitMut::visit_block_mut(&mut finder, &mut block.clone());
    finder.0
}

/// For `#[gauge]`: moves the body into a nested function `body_fn`, which the function calls and
/// the gauge's reader calls too.
///
/// The reader cannot call the function by its name: the attribute does not see whether the
/// function is free (`name()`) or associated (`Self::name()`), and the reader, an item nested in
/// the body, could not name `Self` anyway: `name()` would read whatever `name` means in the
/// module. A function nested in the body is reached by the same path in both cases.
fn gauge_body(function: &mut ItemFn, body_fn: &Ident) {
    let (outer, inner): (Vec<_>, Vec<_>) = std::mem::take(&mut function.attrs)
        .into_iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Outer));
    function.attrs = outer;
    // The registry calls the function's body at every scrape, so an uncalled gauge is not dead
    // code (as when the reader called the function by name).
    function.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    let output = &function.sig.output;
    let mut sig: syn::Signature = syn::parse_quote!(fn #body_fn() #output);
    sig.fn_token.span = function.sig.fn_token.span;
    let mut attrs = inner;
    attrs.push(syn::parse_quote!(#[inline]));
    let brace_token = function.block.brace_token;
    let nested = ItemFn {
        attrs,
        vis: syn::Visibility::Inherited,
        sig,
        // The user's block, braces and all, so that errors in it keep their spans.
        block: std::mem::replace(
            &mut function.block,
            Box::new(syn::Block {
                brace_token,
                stmts: Vec::new(),
            }),
        ),
    };
    function.block.stmts = vec![
        Stmt::Item(syn::Item::Fn(nested)),
        Stmt::Expr(syn::parse_quote!(#body_fn()), None),
    ];
}

/// What one instrumentation adds: items at the top of the function body, statements at the start
/// of the running body, and whether the result must be inspected (outcome).
struct Parts {
    items: TokenStream,
    enter: TokenStream,
    guard: Ident,
    outcome: bool,
}

fn generate(kind: Kind, args: &MetricArgs, mut function: ItemFn) -> TokenStream {
    let fn_name = function.sig.ident.to_string();
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(&fn_name).to_owned();
    let name = match (&args.name, args.absolute) {
        (Some(lit), _) => lit.to_token_stream(),
        (None, Some(_)) => fn_name.to_token_stream(),
        (None, None) => {
            // `<module path, `::` as `.`>.<function>`, computed at compile time (MicroProfile's
            // `<package>.<class>.<method>`; `a::b` would otherwise be exposed `a__b`).
            quote!({
                const __MICROPROFILE_NAME_LEN: usize =
                    ::microprofile::__private::default_name_len(::core::module_path!(), #fn_name);
                const __MICROPROFILE_NAME: [u8; __MICROPROFILE_NAME_LEN] =
                    ::microprofile::__private::default_name_bytes(::core::module_path!(), #fn_name);
                ::microprofile::__private::default_name_str(&__MICROPROFILE_NAME)
            })
        }
    };
    // The doc comment describes the first of stacked attributes only (see `mark_stacked`).
    let description = match (&args.description, args.stacked) {
        (Some(description), _) => description.clone(),
        (None, false) => args::doc_description(&function.attrs),
        (None, true) => String::new(),
    };
    let site_span = function.sig.ident.span();
    let site = quote_spanned! {site_span=>
        ::microprofile::__private::Site {
            file: ::core::file!(),
            line: ::core::line!(),
            column: ::core::column!(),
        }
    };
    let suffix = match kind {
        Kind::Counted => "COUNTED",
        Kind::Timed => "TIMED",
        Kind::ConcurrentGauge => "CONCURRENT",
        Kind::Gauge => "GAUGE",
        Kind::Field => "FIELD",
    };
    let metric = format_ident!("__MICROPROFILE_{}", suffix);
    let labels_type = format_ident!("__MicroprofileLabels{}", suffix);
    let guard = format_ident!(
        "__microprofile_{}_guard",
        suffix.to_lowercase(),
        span = Span::mixed_site()
    );
    let reader = format_ident!("__microprofile_gauge_read");
    let gauge_body_fn = format_ident!("__microprofile_gauge_body");
    if kind == Kind::Gauge {
        gauge_body(&mut function, &gauge_body_fn);
    }

    let unit = match kind {
        Kind::Timed => "seconds".to_owned(),
        _ => args
            .unit
            .as_ref()
            .map(|(u, _)| u.clone())
            .unwrap_or_default(),
    };
    let outcome = args.outcome.is_some();
    let (ty, ctor): (TokenStream, TokenStream) = match kind {
        Kind::Counted => (
            quote!(::microprofile::__private::Counter),
            quote!(::microprofile::__private::Counter::new()),
        ),
        Kind::Timed => match (&args.buckets, &args.quantiles) {
            (_, Some((quantiles, span))) => {
                let q = args::f64_slice(quantiles, *span);
                (
                    quote!(::microprofile::__private::Summary),
                    quote!(::microprofile::__private::Summary::with_quantiles(#q, ::microprofile::__private::DEFAULT_WINDOW)),
                )
            }
            (Some((buckets, span)), None) => {
                let b = args::f64_slice(buckets, *span);
                (
                    quote!(::microprofile::__private::Timer),
                    quote!(::microprofile::__private::Timer::with_buckets(#b)),
                )
            }
            (None, None) => (
                quote!(::microprofile::__private::Timer),
                quote!(::microprofile::__private::Timer::new()),
            ),
        },
        Kind::ConcurrentGauge => {
            if args.argument_tags().next().is_some() {
                (
                    quote!(::microprofile::__private::Gauge),
                    quote!(::microprofile::__private::Gauge::new()),
                )
            } else {
                (
                    quote!(::microprofile::__private::ConcurrentGauge),
                    quote!(::microprofile::__private::ConcurrentGauge::new()),
                )
            }
        }
        Kind::Gauge | Kind::Field => (
            quote!(::microprofile::__private::CallbackGauge),
            quote!(::microprofile::__private::CallbackGauge::new(#reader)),
        ),
    };

    let argument_tags: Vec<_> = args.argument_tags().collect();
    let parts = if !argument_tags.is_empty() {
        // A labelled family; the label values are taken from the arguments at each call.
        let mut labels: Vec<(String, TokenStream, TokenStream)> = argument_tags
            .iter()
            .map(|(tag, arg)| {
                let value = quote_spanned!(arg.span()=>
                    ::microprofile::__private::LabelValue::to_label_string(&#arg));
                (tag.key.clone(), quote!(::std::string::String), value)
            })
            .collect();
        if outcome {
            labels.push(("outcome".to_owned(), quote!(&'static str), quote!("")));
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = labels.iter().map(|l| l.0.as_str()).collect();
        let fields: Vec<Ident> = (0..labels.len())
            .map(|i| format_ident!("label_{}", i))
            .collect();
        let field_types = labels.iter().map(|l| &l.1);
        let values = labels.iter().map(|l| &l.2);
        let set_outcome = match names
            .iter()
            .zip(&fields)
            .find(|(n, _)| **n == "outcome")
            .filter(|_| outcome)
        {
            Some((_, field)) => quote!(self.#field = outcome.as_str();),
            None => quote!(let _ = outcome;),
        };
        let metadata = args.metadata_tokens(&name, &description, &unit, None);
        let items = quote! {
            #[derive(::core::clone::Clone, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
            struct #labels_type { #(#fields: #field_types),* }
            impl ::microprofile::__private::LabelSet for #labels_type {
                const NAMES: &'static [&'static str] = &[#(#names),*];
                fn for_each_value(&self, f: &mut dyn ::core::ops::FnMut(&str)) {
                    #(f(&self.#fields);)*
                }
            }
            impl ::microprofile::__private::SetOutcome for #labels_type {
                const HAS_OUTCOME: bool = #outcome;
                fn set_outcome(&mut self, outcome: ::microprofile::__private::Outcome) {
                    #set_outcome
                }
            }
            static #metric: ::microprofile::__private::Family<#labels_type, #ty> =
                ::microprofile::__private::Family::new(#ctor);
            ::microprofile::__private::inventory::submit! {
                ::microprofile::__private::StaticMetric::new(&#metric, #metadata, #site)
            }
        };
        let labels_value = quote!(#labels_type { #(#fields: #values),* });
        let enter = match (kind, outcome) {
            (Kind::Counted, false) => quote!(#metric.with(&#labels_value).inc();),
            (Kind::Counted, true) => quote! {
                let mut #guard = ::microprofile::__private::CallGuard::start(
                    ::microprofile::__private::CountedFamily { family: &#metric, labels: #labels_value });
            },
            (Kind::Timed, _) => {
                let binding = if outcome {
                    quote!(let mut)
                } else {
                    quote!(let)
                };
                quote! {
                    #binding #guard = ::microprofile::__private::CallGuard::start(
                        ::microprofile::__private::TimedFamily { family: &#metric, labels: #labels_value });
                }
            }
            _ => quote! {
                let #guard = ::microprofile::__private::InFlightFamily::enter(&#metric, #labels_value);
            },
        };
        Parts {
            items,
            enter,
            guard,
            outcome,
        }
    } else if outcome {
        // One series per outcome, registered up front so rates start at zero.
        let submits = ["ok", "error", "panic", "cancelled"]
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let metadata =
                    args.metadata_tokens(&name, &description, &unit, Some(("outcome", o)));
                quote! {
                    ::microprofile::__private::inventory::submit! {
                        ::microprofile::__private::StaticMetric::new(&#metric[#i], #metadata, #site)
                    }
                }
            });
        let items = quote! {
            static #metric: [#ty; 4] = [#ctor, #ctor, #ctor, #ctor];
            #(#submits)*
        };
        let recorder = if kind == Kind::Counted {
            quote!(::microprofile::__private::CountedByOutcome(&#metric))
        } else {
            quote!(::microprofile::__private::TimedByOutcome(&#metric))
        };
        Parts {
            items,
            enter: quote!(let mut #guard = ::microprofile::__private::CallGuard::start(#recorder);),
            guard,
            outcome,
        }
    } else {
        let metadata = args.metadata_tokens(&name, &description, &unit, None);
        let reader_fn = if kind == Kind::Gauge {
            quote! {
                fn #reader() -> f64 {
                    #gauge_body_fn() as f64
                }
            }
        } else {
            TokenStream::new()
        };
        let items = quote! {
            #reader_fn
            static #metric: #ty = #ctor;
            ::microprofile::__private::inventory::submit! {
                ::microprofile::__private::StaticMetric::new(&#metric, #metadata, #site)
            }
        };
        let enter = match kind {
            Kind::Counted => quote!(#metric.inc();),
            Kind::Timed => quote! {
                let #guard = ::microprofile::__private::CallGuard::start(
                    ::microprofile::__private::Timed(&#metric));
            },
            Kind::ConcurrentGauge => quote!(let #guard = #metric.enter();),
            Kind::Gauge | Kind::Field => TokenStream::new(),
        };
        Parts {
            items,
            enter,
            guard,
            outcome,
        }
    };
    wrap(function, parts)
}

/// The async block of a body written by `#[async_trait]`: `Box::pin(async move { … })` as the
/// last expression.
fn async_trait_block(block: &mut syn::Block) -> Option<&mut syn::ExprAsync> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else {
        return None;
    };
    let Expr::Path(path) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match call.args.first_mut() {
        Some(Expr::Async(block)) => Some(block),
        _ => None,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl syn::visit_mut::VisitMut for Finder {
        fn visit_type_impl_trait_mut(&mut self, _: &mut syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit_mut::VisitMut::visit_type_mut(&mut finder, &mut ty.clone());
    finder.0
}

/// A statement giving an async block or closure the function's return type, so that `?` inside it
/// knows which error type to convert to (the "fake return edge" of tracing-attributes).
fn fake_return_edge(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::needless_return)]
            if false {
                let __microprofile_fake_return: #ty = loop {};
                return __microprofile_fake_return;
            }
        },
        _ => TokenStream::new(),
    }
}

fn wrap(mut function: ItemFn, parts: Parts) -> TokenStream {
    let Parts {
        items,
        enter,
        guard,
        outcome,
    } = parts;
    let result = Ident::new("__microprofile_result", Span::mixed_site());
    let is_async = function.sig.asyncness.is_some();
    let fake_edge = fake_return_edge(&function.sig.output);

    if !is_async {
        if let Some(inner) = async_trait_block(&mut function.block) {
            let inner_block = inner.block.clone();
            let capture = inner.capture;
            let new_block: syn::Block = if outcome {
                syn::parse_quote!({
                    #enter
                    let #result = async #capture #inner_block.await;
                    #guard.complete_with(&#result);
                    #result
                })
            } else {
                let stmts = &inner_block.stmts;
                syn::parse_quote!({
                    #enter
                    #(#stmts)*
                })
            };
            inner.block = new_block;
            let ItemFn {
                attrs,
                vis,
                sig,
                block,
            } = function;
            let stmts = &block.stmts;
            let mut braced = TokenStream::new();
            block.brace_token.surround(&mut braced, |tokens| {
                tokens.extend(quote! {
                    #items
                    #(#stmts)*
                })
            });
            return quote! {
                #(#attrs)* #vis #sig #braced
            };
        }
    }

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Outer));
    let stmts = &block.stmts;
    let body = if !outcome {
        quote!(#(#stmts)*)
    } else if is_async {
        quote! {
            let #result = async move {
                #fake_edge
                #(#stmts)*
            }.await;
            #guard.complete_with(&#result);
            #result
        }
    } else {
        quote! {
            #[allow(clippy::redundant_closure_call)]
            let #result = (move || {
                #fake_edge
                #(#stmts)*
            })();
            #guard.complete_with(&#result);
            #result
        }
    };
    // The body keeps the function's own braces (and so its span).
    let mut braced = TokenStream::new();
    block.brace_token.surround(&mut braced, |tokens| {
        tokens.extend(quote! {
            #(#inner_attrs)*
            #items
            #enter
            #body
        })
    });
    quote! {
        #(#outer_attrs)* #vis #sig #braced
    }
}
