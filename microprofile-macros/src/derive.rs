//! `#[derive(Metrics)]`, `#[derive(LabelSet)]` and `#[derive(LabelValue)]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Token, Type};

use crate::args::{self, Kind, MetricArgs, RawArgs};
use crate::check;
use crate::errors::Errors;

fn no_generics(input: &DeriveInput, what: &str, errors: &mut Errors) {
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            format!("#[derive({what})] does not support generic types"),
        ));
    }
}

fn finish(errors: Errors, output: TokenStream) -> TokenStream {
    if errors.is_empty() {
        output
    } else {
        errors.into_compile_errors()
    }
}

fn label_name(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").unwrap_or(&s).to_owned()
}

// ---------------------------------------------------------------------------------------------
// LabelValue

struct Rename(LitStr);

impl Parse for Rename {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if key != "rename" {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown label option `{key}`; expected `rename = \"…\"`"),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Rename(input.parse()?))
    }
}

pub fn label_value(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let ident = &input.ident;
    no_generics(&input, "LabelValue", &mut errors);
    let Data::Enum(data) = &input.data else {
        errors.push(syn::Error::new(
            ident.span(),
            "#[derive(LabelValue)] is for enums whose variants have no fields; for text or numbers use `String`, `&'static str` or an integer directly",
        ));
        return errors.into_compile_errors();
    };
    let mut variants = Vec::new();
    let mut texts = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            errors.push(syn::Error::new_spanned(
                &variant.fields,
                "a label value variant cannot have fields: the set of values must be fixed",
            ));
            continue;
        }
        let mut text = variant.ident.to_string();
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("label")) {
            match attr.parse_args::<Rename>() {
                Ok(Rename(lit)) => text = lit.value(),
                Err(e) => errors.push(e),
            }
        }
        variants.push(&variant.ident);
        texts.push(text);
    }
    let count = variants.len();
    let indexes = 0..count;
    let indexes2 = 0..count;
    let output = quote! {
        impl ::microprofile::__private::LabelValue for #ident {
            const CARDINALITY: ::core::option::Option<usize> = ::core::option::Option::Some(#count);
            fn with_label_value(&self, f: &mut dyn ::core::ops::FnMut(&str)) {
                f(match self { #(#ident::#variants => #texts,)* })
            }
            fn label_index(&self) -> usize {
                match self { #(#ident::#variants => #indexes,)* }
            }
            #[inline]
            fn is_same(&self, other: &Self) -> bool {
                ::microprofile::__private::LabelValue::label_index(self)
                    == ::microprofile::__private::LabelValue::label_index(other)
            }
            fn from_label_index(index: usize) -> ::core::option::Option<Self> {
                match index {
                    #(#indexes2 => ::core::option::Option::Some(#ident::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
    finish(errors, output)
}

// ---------------------------------------------------------------------------------------------
// LabelSet

pub fn label_set(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let ident = &input.ident;
    no_generics(&input, "LabelSet", &mut errors);
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            Fields::Unnamed(unnamed) => {
                errors.push(syn::Error::new_spanned(
                    unnamed,
                    "#[derive(LabelSet)] needs named fields: the field names are the label names, as in `struct HttpLabels { method: Method, status: u16 }`",
                ));
                return errors.into_compile_errors();
            }
            Fields::Unit => {
                errors.push(syn::Error::new(
                    ident.span(),
                    "#[derive(LabelSet)] needs named fields: the field names are the label names",
                ));
                return errors.into_compile_errors();
            }
        },
        _ => {
            errors.push(syn::Error::new(
                ident.span(),
                "#[derive(LabelSet)] is for structs with named fields (the label names)",
            ));
            return errors.into_compile_errors();
        }
    };
    let mut labels: Vec<(String, &Ident, &Type)> = Vec::new();
    for field in &fields {
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let mut name = label_name(field_ident);
        let mut name_span = field_ident.span();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("label")) {
            match attr.parse_args::<Rename>() {
                Ok(Rename(lit)) => {
                    name = lit.value();
                    name_span = lit.span();
                }
                Err(e) => errors.push(e),
            }
        }
        if labels.iter().any(|(n, _, _)| *n == name) {
            errors.push(syn::Error::new(
                name_span,
                format!("label name `{name}` is used twice"),
            ));
        }
        if let Err(e) = check::tag_name(&name, name_span) {
            errors.push(e);
        }
        labels.push((name, field_ident, &field.ty));
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let names = labels.iter().map(|l| &l.0);
    let idents: Vec<&Ident> = labels.iter().map(|l| l.1).collect();
    let types: Vec<&Type> = labels.iter().map(|l| l.2).collect();
    let value_calls = labels.iter().map(|(_, f, ty)| {
        quote_spanned!(ty.span()=> <#ty as ::microprofile::__private::LabelValue>::with_label_value(&self.#f, &mut *f);)
    });
    let card = |ty: &Type| {
        quote!(match <#ty as ::microprofile::__private::LabelValue>::CARDINALITY {
            ::core::option::Option::Some(n) if n > 0 => n,
            _ => 1,
        })
    };
    let index_steps = labels.iter().map(|(_, f, ty)| {
        let card = card(ty);
        quote!(index = index * (#card) + <#ty as ::microprofile::__private::LabelValue>::label_index(&self.#f);)
    });
    let same_steps = labels.iter().map(|(_, f, ty)| {
        quote!(<#ty as ::microprofile::__private::LabelValue>::is_same(&self.#f, &other.#f))
    });
    let decode_steps = labels.iter().rev().map(|(_, f, ty)| {
        let card = card(ty);
        quote! {
            let #f = <#ty as ::microprofile::__private::LabelValue>::from_label_index(rest % (#card))?;
            rest /= #card;
        }
    });
    let output = quote! {
        impl ::microprofile::__private::LabelSet for #ident {
            const NAMES: &'static [&'static str] = &[#(#names),*];
            const CARDINALITY: ::core::option::Option<usize> = ::microprofile::__private::cardinality_product(
                &[#(<#types as ::microprofile::__private::LabelValue>::CARDINALITY),*]);
            fn for_each_value(&self, f: &mut dyn ::core::ops::FnMut(&str)) {
                #(#value_calls)*
            }
            fn dense_index(&self) -> usize {
                let mut index = 0usize;
                #(#index_steps)*
                index
            }
            #[inline]
            fn same_labels(&self, other: &Self) -> bool {
                (true #(&& #same_steps)*) || self == other
            }
            fn from_dense_index(index: usize) -> ::core::option::Option<Self> {
                <Self as ::microprofile::__private::LabelSet>::CARDINALITY?;
                let mut rest = index;
                #(#decode_steps)*
                if rest != 0 {
                    return ::core::option::Option::None;
                }
                ::core::option::Option::Some(#ident { #(#idents),* })
            }
        }
    };
    finish(errors, output)
}

// ---------------------------------------------------------------------------------------------
// Metrics

struct GroupArgs {
    register: Option<Ident>,
    prefix: Option<LitStr>,
}

impl Parse for GroupArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = GroupArgs {
            register: None,
            prefix: None,
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "register" => args.register = Some(input.parse()?),
                "prefix" => {
                    let lit: LitStr = input.parse()?;
                    if !lit.value().is_empty() {
                        check::metric_name_prefix(&lit.value(), lit.span())?;
                    }
                    args.prefix = Some(lit);
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}` for #[metrics]; expected `register = STATIC_NAME` or `prefix = \"…\"`"),
                    ))
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn type_name(ty: &Type) -> Option<(String, Option<&syn::PathArguments>)> {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| (s.ident.to_string(), Some(&s.arguments))),
        _ => None,
    }
}

/// The constructor of a metric field, or an error message.
fn constructor(ty: &Type, args: &MetricArgs, errors: &mut Errors) -> Option<TokenStream> {
    let Some((name, arguments)) = type_name(ty) else {
        errors.push(syn::Error::new_spanned(ty, "unsupported metric field type"));
        return None;
    };
    let reject = |what: &str, span: Span, errors: &mut Errors| {
        errors.push(syn::Error::new(
            span,
            format!("`{what}` cannot be used with a `{name}` field"),
        ))
    };
    match name.as_str() {
        "Counter" | "FloatCounter" | "Gauge" | "FloatGauge" | "ConcurrentGauge" => {
            if let Some((_, span)) = &args.buckets {
                reject("buckets", *span, errors);
            }
            if let Some((_, span)) = &args.quantiles {
                reject("quantiles", *span, errors);
            }
            Some(quote!(<#ty>::new()))
        }
        "Timer" | "Histogram" => {
            if let Some((_, span)) = &args.quantiles {
                reject("quantiles", *span, errors);
            }
            match &args.buckets {
                Some((buckets, span)) => {
                    let b = args::f64_slice(buckets, *span);
                    Some(quote!(<#ty>::with_buckets(#b)))
                }
                None => Some(quote!(<#ty>::new())),
            }
        }
        "Summary" => {
            if let Some((_, span)) = &args.buckets {
                reject("buckets", *span, errors);
            }
            match &args.quantiles {
                Some((q, span)) => {
                    let q = args::f64_slice(q, *span);
                    Some(
                        quote!(<#ty>::with_quantiles(#q, ::microprofile::__private::DEFAULT_WINDOW)),
                    )
                }
                None => Some(quote!(<#ty>::new())),
            }
        }
        "Family" => {
            let inner = match arguments {
                Some(syn::PathArguments::AngleBracketed(a)) => {
                    a.args.iter().nth(1).and_then(|g| match g {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                }
                _ => None,
            };
            let Some(inner) = inner else {
                errors.push(syn::Error::new_spanned(
                    ty,
                    "write the family's types out: `Family<Labels, Counter>`",
                ));
                return None;
            };
            let inner_ctor = constructor(inner, args, errors)?;
            Some(quote!(<#ty>::new(#inner_ctor)))
        }
        "CallbackGauge" => {
            errors.push(syn::Error::new_spanned(
                ty,
                "a `CallbackGauge` needs a function: use `#[gauge]` on the function instead",
            ));
            None
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                ty,
                "unsupported metric field type: expected `Counter`, `FloatCounter`, `Gauge`, `FloatGauge`, `ConcurrentGauge`, `Timer`, `Histogram`, `Summary` or `Family<Labels, _>` of one of them",
            ));
            None
        }
    }
}

pub fn metrics(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let ident = &input.ident;
    let vis = &input.vis;
    no_generics(&input, "Metrics", &mut errors);
    let mut group = GroupArgs {
        register: None,
        prefix: None,
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("metrics")) {
        match attr.parse_args::<GroupArgs>() {
            Ok(g) => {
                if g.register.is_some() {
                    group.register = g.register;
                }
                if g.prefix.is_some() {
                    group.prefix = g.prefix;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            _ => {
                errors.push(syn::Error::new(
                    ident.span(),
                    "#[derive(Metrics)] needs a struct with named fields, one per metric",
                ));
                return errors.into_compile_errors();
            }
        },
        _ => {
            errors.push(syn::Error::new(
                ident.span(),
                "#[derive(Metrics)] is for structs whose fields are metrics",
            ));
            return errors.into_compile_errors();
        }
    };
    let prefix = group.prefix.as_ref().map(LitStr::value).unwrap_or_default();
    let mut inits = Vec::new();
    let mut submits = Vec::new();
    for field in fields {
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let mut args = MetricArgs::default();
        let mut seen_metric = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("metric")) {
            if seen_metric {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "give all options in one #[metric(…)]",
                ));
                continue;
            }
            seen_metric = true;
            match attr.parse_args::<RawArgs>() {
                Ok(raw) => args = MetricArgs::from_raw(raw, Kind::Field, &mut errors),
                Err(e) => errors.push(e),
            }
        }
        if let Some((tag, arg)) = args.argument_tags().next() {
            errors.push(syn::Error::new(
                arg.span(),
                format!(
                    "the tag `{}` of a struct field takes a string value: `{} = \"…\"` (use a `Family` for labels chosen at run time)",
                    tag.key, tag.key
                ),
            ));
        }
        let Some(ctor) = constructor(&field.ty, &args, &mut errors) else {
            continue;
        };
        inits.push(quote!(#field_ident: #ctor));
        let name = match &args.name {
            Some(lit) => lit.value(),
            None => format!("{prefix}{}", label_name(field_ident)),
        };
        if args.name.is_none() {
            // An explicit name was checked where it was written.
            if let Err(e) = check::metric_name(&name, field_ident.span()) {
                errors.push(e);
            }
        }
        let description = args
            .description
            .clone()
            .unwrap_or_else(|| args::doc_description(&field.attrs));
        let unit = args
            .unit
            .as_ref()
            .map(|(u, _)| u.clone())
            .unwrap_or_default();
        let metadata = args.metadata_tokens(&name.to_token_stream(), &description, &unit, None);
        if let Some(static_name) = &group.register {
            let site = quote_spanned! {field_ident.span()=>
                ::microprofile::__private::Site {
                    file: ::core::file!(),
                    line: ::core::line!(),
                    column: ::core::column!(),
                }
            };
            submits.push(quote! {
                ::microprofile::__private::inventory::submit! {
                    ::microprofile::__private::StaticMetric::new(&#static_name.#field_ident, #metadata, #site)
                }
            });
        }
    }
    let register = group.register.as_ref().map(|static_name| {
        let doc = format!("The metrics of [`{ident}`], registered with the global registry.");
        quote! {
            #[doc = #doc]
            #vis static #static_name: #ident = #ident::new();
            #(#submits)*
        }
    });
    let new_doc = format!("All metrics of `{ident}` at zero; usable in a `static`.");
    let output = quote! {
        impl #ident {
            #[doc = #new_doc]
            #[allow(dead_code)]
            #vis const fn new() -> #ident {
                #ident { #(#inits),* }
            }
        }
        #register
    };
    finish(errors, output)
}
