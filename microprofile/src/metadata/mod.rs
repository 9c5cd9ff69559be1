//! Metric metadata: name, description, unit, scope, tags, and where a metric was declared.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;
use crate::naming;

pub(crate) mod site;
pub use site::Site;

/// A string that is either `'static` (for `static` metrics, built in `const` context) or owned.
pub type Str = Cow<'static, str>;

/// The scope a metric belongs to, exposed as the `mp_scope` label and served at `/metrics/<scope>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Host metrics every deployment gets (CPU, memory, disk, network, sockets).
    Base,
    /// Process and library metrics.
    Vendor,
    /// The application's own metrics (the default).
    Application,
    /// A custom scope; its name must match `[a-zA-Z_][a-zA-Z0-9_]*`.
    Custom(Str),
}

impl Scope {
    /// A custom scope, validated.
    ///
    /// ```
    /// use microprofile::Scope;
    /// assert_eq!(Scope::new("base").unwrap(), Scope::Base);
    /// assert!(Scope::new("billing").is_ok());
    /// assert!(Scope::new("no-dash").is_err());
    /// ```
    pub fn new(name: impl Into<Str>) -> Result<Scope, Error> {
        let name = name.into();
        Ok(match &*name {
            "base" => Scope::Base,
            "vendor" => Scope::Vendor,
            "application" => Scope::Application,
            other => {
                naming::validate_scope_name(other)?;
                Scope::Custom(name)
            }
        })
    }

    /// The scope's name as used in `mp_scope` and URLs.
    pub fn as_str(&self) -> &str {
        match self {
            Scope::Base => "base",
            Scope::Vendor => "vendor",
            Scope::Application => "application",
            Scope::Custom(name) => name,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        match self {
            Scope::Custom(name) => match &**name {
                "base" | "vendor" | "application" => Err(Error::InvalidScopeName {
                    name: name.to_string(),
                }),
                other => naming::validate_scope_name(other),
            },
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tags given with the metadata: a static list (for `static` metrics) or owned pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Tags {
    Static(&'static [(&'static str, &'static str)]),
    Owned(Vec<(Str, Str)>),
}

/// The pairs of a static tag list whose name is not listed again later: each name once, with its
/// last value, in the order of those last occurrences. Tag lists are short: the quadratic scan
/// beats allocating.
fn last_of_each<'a>(
    tags: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    tags.iter()
        .enumerate()
        .filter(|&(i, (name, _))| {
            !tags
                .get(i + 1..)
                .is_some_and(|later| later.iter().any(|(n, _)| n == name))
        })
        .map(|(_, &pair)| pair)
}

/// What describes a metric: name, description, unit, scope and tags. The type comes from the
/// metric itself.
///
/// Built in `const` context for statics, or at run time with the `with_*` methods:
///
/// ```
/// use microprofile::{Metadata, Scope};
/// const LATENCY: Metadata = Metadata::new("outbound_http_latency_seconds")
///     .description("Latency of outbound HTTP calls.")
///     .unit("seconds")
///     .tags(&[("region", "eu-west-1")]);
/// let dynamic = Metadata::new("jobs").with_tag("queue", String::from("mail")).scope(Scope::Vendor);
/// assert_eq!(dynamic.tag_list().count(), 1);
/// # let _ = LATENCY;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metadata {
    name: Str,
    description: Str,
    unit: Str,
    scope: Scope,
    tags: Tags,
}

impl Metadata {
    /// Metadata with this name, no description, no unit, scope application and no tags.
    pub const fn new(name: &'static str) -> Metadata {
        Metadata {
            name: Cow::Borrowed(name),
            description: Cow::Borrowed(""),
            unit: Cow::Borrowed(""),
            scope: Scope::Application,
            tags: Tags::Static(&[]),
        }
    }

    /// Metadata with an owned (run-time) name.
    pub fn named(name: impl Into<Str>) -> Metadata {
        Metadata {
            name: name.into(),
            ..Metadata::new("")
        }
    }

    /// Sets the description (`# HELP`).
    pub const fn description(mut self, description: &'static str) -> Metadata {
        std::mem::forget(std::mem::replace(
            &mut self.description,
            Cow::Borrowed(description),
        ));
        self
    }

    /// Sets the unit (`seconds`, `bytes`, `percent`, …), appended to the exposed name.
    pub const fn unit(mut self, unit: &'static str) -> Metadata {
        std::mem::forget(std::mem::replace(&mut self.unit, Cow::Borrowed(unit)));
        self
    }

    /// Sets the scope.
    pub const fn scope(mut self, scope: Scope) -> Metadata {
        std::mem::forget(std::mem::replace(&mut self.scope, scope));
        self
    }

    /// Sets the tags from a static list of `(name, value)` pairs. A name listed twice keeps its
    /// last value, as [`with_tag`](Self::with_tag) does (in an attribute's `tags(...)` it is a
    /// compile error).
    pub const fn tags(mut self, tags: &'static [(&'static str, &'static str)]) -> Metadata {
        std::mem::forget(std::mem::replace(&mut self.tags, Tags::Static(tags)));
        self
    }

    /// Sets an owned description.
    pub fn with_description(mut self, description: impl Into<Str>) -> Metadata {
        self.description = description.into();
        self
    }

    /// Sets an owned unit.
    pub fn with_unit(mut self, unit: impl Into<Str>) -> Metadata {
        self.unit = unit.into();
        self
    }

    /// Adds one tag. A tag of the same name given before is replaced: the last value wins, as
    /// MicroProfile Metrics has it for tags given twice (TCK `TagsTest.lastTagValueTest`).
    ///
    /// ```
    /// use microprofile::Metadata;
    /// let metadata = Metadata::new("lastTag").with_tag("colour", "red").with_tag("colour", "blue");
    /// assert_eq!(metadata.tag_list().collect::<Vec<_>>(), [("colour", "blue")]);
    /// ```
    pub fn with_tag(mut self, name: impl Into<Str>, value: impl Into<Str>) -> Metadata {
        let (name, value) = (name.into(), value.into());
        if let Tags::Static(tags) = self.tags {
            self.tags = Tags::Owned(
                last_of_each(tags)
                    .map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
                    .collect(),
            );
        }
        if let Tags::Owned(tags) = &mut self.tags {
            match tags.iter_mut().find(|(n, _)| *n == name) {
                Some(pair) => pair.1 = value,
                None => tags.push((name, value)),
            }
        }
        self
    }

    /// The declared name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description, empty when none was given.
    pub fn description_text(&self) -> &str {
        &self.description
    }

    /// The unit, empty when none was given.
    pub fn unit_text(&self) -> &str {
        &self.unit
    }

    /// The scope.
    pub fn scope_ref(&self) -> &Scope {
        &self.scope
    }

    /// The tags as `(name, value)`, in the order given; a name given twice is listed once, with
    /// its last value.
    pub fn tag_list(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        type Lists<'a> = (&'a [(&'a str, &'a str)], &'a [(Str, Str)]);
        let (fixed, owned): Lists<'_> = match &self.tags {
            Tags::Static(tags) => (tags, &[]),
            Tags::Owned(tags) => (&[], tags),
        };
        // `with_tag` keeps the owned list free of repeated names.
        last_of_each(fixed).chain(owned.iter().map(|(n, v)| (&**n, &**v)))
    }

    /// Checks the name, unit, scope and tags; returns the tags sorted by name.
    pub(crate) fn validated_tags(&self) -> Result<Vec<(&str, &str)>, Error> {
        naming::validate_declared_metric_name(&self.name)?;
        naming::validate_unit(&self.unit)?;
        self.scope.validate()?;
        // Names are unique here: a name given twice kept its last value (`tag_list`).
        let mut tags: Vec<(&str, &str)> = self.tag_list().collect();
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (name, _) in &tags {
            naming::validate_tag_name(name)?;
        }
        Ok(tags)
    }

    /// Checks the name, unit, scope and tag names, as the registry does on registration. A tag
    /// given twice is no error: its last value wins.
    ///
    /// ```
    /// use microprofile::Metadata;
    /// assert!(Metadata::new("ok").validate().is_ok());
    /// assert!(Metadata::new("ok").tags(&[("le", "1")]).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.validated_tags().map(|_| ())
    }
}
