//! Global tags added to every exported series, read from `MP_METRICS_TAGS`, and the application
//! name `mp_app`, from `MP_METRICS_APPNAME` or else `MP_METRICS_DEFAULTAPPNAME`.

use crate::error::Error;
use crate::naming;

/// Tags added to every series, and the application name exposed as `mp_app`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalTags {
    tags: Vec<(String, String)>,
    app: Option<String>,
}

impl GlobalTags {
    /// No global tags.
    pub fn none() -> GlobalTags {
        GlobalTags::default()
    }

    /// Parses `MP_METRICS_TAGS` syntax (`app=shop,region=eu-west-1`, with `\,`, `\=` and `\\`
    /// escapes) and an optional application name.
    ///
    /// ```
    /// use microprofile::GlobalTags;
    /// let tags = GlobalTags::parse(r"region=eu-west-1,note=a\,b", Some("shop")).unwrap();
    /// assert_eq!(tags.tags(), &[("note".to_string(), "a,b".to_string()), ("region".to_string(), "eu-west-1".to_string())]);
    /// assert_eq!(tags.app(), Some("shop"));
    /// assert!(GlobalTags::parse("le=1", None).is_err());
    /// ```
    pub fn parse(spec: &str, app: Option<&str>) -> Result<GlobalTags, Error> {
        let (tags, errors) = Self::parse_lenient(spec);
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(GlobalTags {
                tags,
                app: app.filter(|a| !a.is_empty()).map(str::to_owned),
            }),
        }
    }

    /// Reads `MP_METRICS_TAGS` and the application name. Entries that do not parse are returned
    /// as errors and left out; the valid ones are kept.
    ///
    /// The application name (`mp_app`) is MicroProfile Metrics' `mp.metrics.appName`, or, when
    /// that is not set, `mp.metrics.defaultAppName`: the spec ("Usage of MicroProfile Metrics in
    /// application servers with multiple applications") has the default name used "for all
    /// metrics that do not have an `mp_app` tag value defined by the `mp.metrics.appName`
    /// property", and one process here is one application. Each property is looked up in the
    /// environment as MicroProfile Config does it: the exact name, then with every character
    /// other than a letter or digit replaced by `_`, then that in upper case
    /// (`mp.metrics.appName`, `mp_metrics_appName`, `MP_METRICS_APPNAME`; `MP_METRICS_DEFAULTAPPNAME`).
    /// The first variable set decides; an empty value counts as not set, as in MicroProfile
    /// Config.
    pub fn from_env() -> (GlobalTags, Vec<Error>) {
        let spec = std::env::var("MP_METRICS_TAGS").unwrap_or_default();
        let (tags, errors) = Self::parse_lenient(&spec);
        let app = config_from_env("mp.metrics.appName")
            .or_else(|| config_from_env("mp.metrics.defaultAppName"));
        (GlobalTags { tags, app }, errors)
    }

    fn parse_lenient(spec: &str) -> (Vec<(String, String)>, Vec<Error>) {
        let mut tags: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        for entry in split_unescaped(spec, ',') {
            if entry.trim().is_empty() {
                continue;
            }
            let invalid = |reason: &str| Error::InvalidGlobalTags {
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            let mut parts = split_unescaped(entry, '=');
            let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
                errors.push(invalid(
                    "an entry is `name=value` with exactly one unescaped `=`",
                ));
                continue;
            };
            let name = unescape(name.trim());
            if let Err(e) = naming::validate_tag_name(&name) {
                errors.push(invalid(&e.to_string()));
                continue;
            }
            if tags.iter().any(|(n, _)| *n == name) {
                errors.push(invalid("this tag name is given twice"));
                continue;
            }
            tags.push((name, unescape(value)));
        }
        tags.sort();
        (tags, errors)
    }

    /// The tags, sorted by name.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// The application name (`mp_app`), if set.
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }
}

/// A MicroProfile Config property from the environment, as its environment source finds it: the
/// exact name, then with each character that is not an ASCII letter or digit replaced by `_`,
/// then that in upper case. The first variable set decides; an empty (or not UTF-8) value is
/// taken as not set.
fn config_from_env(property: &str) -> Option<String> {
    config_value(property).filter(|value| !value.is_empty())
}

/// A MicroProfile Config property from the environment, looked up as MicroProfile Config maps
/// property names to variables: the name itself, then every character outside `[a-zA-Z0-9]`
/// replaced by `_`, then that upper-cased; the first variable set decides (an empty value is
/// returned as it is).
pub(crate) fn config_value(property: &str) -> Option<String> {
    let underscored: String = property
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let upper = underscored.to_ascii_uppercase();
    let value = [property, underscored.as_str(), upper.as_str()]
        .into_iter()
        .find_map(std::env::var_os)?;
    value.into_string().ok()
}

fn split_unescaped(s: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut escaped = false;
    let mut pieces = Vec::new();
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            pieces.push(&s[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&s[start..]);
    pieces.into_iter()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) => out.push(next),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_errors() {
        let t = GlobalTags::parse(r"a=x\=y,b=1\\2, c = z ", None).unwrap();
        assert_eq!(
            t.tags(),
            &[
                ("a".into(), "x=y".into()),
                ("b".into(), r"1\2".into()),
                ("c".into(), " z ".into())
            ]
        );
        assert!(GlobalTags::parse("a", None).is_err());
        assert!(GlobalTags::parse("a=1=2", None).is_err());
        assert!(GlobalTags::parse("a=1,a=2", None).is_err());
        assert!(GlobalTags::parse("mp_scope=x", None).is_err());
        let (kept, errors) = GlobalTags::parse_lenient("ok=1,bad-name=2");
        assert_eq!(kept, vec![("ok".into(), "1".into())]);
        assert_eq!(errors.len(), 1);
    }
}
