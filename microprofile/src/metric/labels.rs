//! The labels of one series as a collector hands them to the read path: each label as a name and
//! a value (what protobuf, OTLP and the Redis store need), and the same labels rendered as escaped
//! Prometheus text (`a="x",b="y"`), the cache the text encoders copy out as is.
//!
//! The pairs are produced only when a consumer asks for them, from what the collector already
//! holds (a label set, the index of a dense series, plain pairs), so a text scrape costs what it
//! cost when collectors handed over text alone.

use std::fmt;

use crate::metric::family::LabelSet;

/// The values of a label set, in the order of its names; object-safe, so that a series' labels
/// can be handed over without knowing their type. Every [`LabelSet`] is one.
pub trait LabelValues {
    /// Calls `f` with each value, in the order of the label names.
    fn for_each_value(&self, f: &mut dyn FnMut(&str));
}

impl<L: LabelSet> LabelValues for L {
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        LabelSet::for_each_value(self, f)
    }
}

/// Decodes the values of the dense series at an index, calling the function with each.
type DecodeDense = fn(usize, &mut dyn FnMut(&str));

/// Where the pairs of a [`SeriesLabels`] come from.
#[derive(Clone, Copy)]
enum Pairs<'a> {
    /// Values of a label set, named by `names`.
    Values(&'static [&'static str], &'a dyn LabelValues),
    /// The series at `index` of a dense family: its values are decoded from the index when asked.
    Dense(&'static [&'static str], usize, DecodeDense),
    /// Explicit pairs.
    Slice(&'a [(&'a str, &'a str)]),
    /// Only the rendered text (a collector that renders its labels itself): parsed when asked.
    Rendered,
}

/// The labels of one series: pairs of name and (unescaped) value, sorted by name, and the same
/// labels rendered as escaped Prometheus text. A series without labels has both empty.
///
/// ```
/// use microprofile::metric::SeriesLabels;
/// let pairs = [("method", "GET"), ("route", "/a\"b")];
/// let labels = SeriesLabels::from_pairs(&pairs, r#"method="GET",route="/a\"b""#);
/// assert_eq!(labels.rendered(), r#"method="GET",route="/a\"b""#);
/// assert_eq!(labels.to_pairs(), [("method".to_owned(), "GET".to_owned()), ("route".to_owned(), "/a\"b".to_owned())]);
/// ```
#[derive(Clone, Copy)]
pub struct SeriesLabels<'a> {
    rendered: &'a str,
    pairs: Pairs<'a>,
}

impl fmt::Debug for SeriesLabels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        self.for_each(&mut |name, value| {
            list.entry(&(name, value));
        });
        list.finish()
    }
}

impl<'a> SeriesLabels<'a> {
    /// No labels.
    pub const NONE: SeriesLabels<'static> = SeriesLabels {
        rendered: "",
        pairs: Pairs::Slice(&[]),
    };

    /// The labels of a label set, with their rendering (as [`render`](crate::metric::family::render)
    /// writes it).
    pub fn of_set<L: LabelSet>(set: &'a L, rendered: &'a str) -> SeriesLabels<'a> {
        SeriesLabels {
            rendered,
            pairs: Pairs::Values(L::NAMES, set),
        }
    }

    /// The labels of the dense series at `index` of a family labelled by `L`, with their
    /// rendering: the values are decoded from the index only when asked for.
    pub(crate) fn of_dense_index<L: LabelSet>(index: usize, rendered: &'a str) -> SeriesLabels<'a> {
        fn decode<L: LabelSet>(index: usize, f: &mut dyn FnMut(&str)) {
            if let Some(set) = L::from_dense_index(index) {
                LabelSet::for_each_value(&set, f);
            }
        }
        SeriesLabels {
            rendered,
            pairs: Pairs::Dense(L::NAMES, index, decode::<L>),
        }
    }

    /// Labels given as `(name, value)` pairs (sorted by name, values unescaped) and their
    /// rendering.
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)], rendered: &'a str) -> SeriesLabels<'a> {
        SeriesLabels {
            rendered,
            pairs: Pairs::Slice(pairs),
        }
    }

    /// Labels known only as rendered text (`a="x",b="y"`, escaped as this crate renders them),
    /// for a collector that renders its labels itself; the pairs are parsed from the text when a
    /// consumer asks for them.
    pub fn from_rendered(rendered: &'a str) -> SeriesLabels<'a> {
        SeriesLabels {
            rendered,
            pairs: Pairs::Rendered,
        }
    }

    /// The labels rendered as escaped Prometheus text, `a="x",b="y"`; empty without labels.
    pub fn rendered(&self) -> &'a str {
        self.rendered
    }

    /// Whether the series has no labels.
    pub fn is_empty(&self) -> bool {
        self.rendered.is_empty()
    }

    /// Calls `f` with each label's name and unescaped value, sorted by name.
    pub fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        match self.pairs {
            Pairs::Values(names, values) => {
                let mut names = names.iter();
                values.for_each_value(&mut |value| {
                    if let Some(name) = names.next() {
                        f(name, value);
                    }
                });
            }
            Pairs::Dense(names, index, decode) => {
                let mut names = names.iter();
                decode(index, &mut |value| {
                    if let Some(name) = names.next() {
                        f(name, value);
                    }
                });
            }
            Pairs::Slice(pairs) => {
                for (name, value) in pairs {
                    f(name, value);
                }
            }
            Pairs::Rendered => {
                for (name, value) in parse_rendered(self.rendered) {
                    f(&name, &value);
                }
            }
        }
    }

    /// The pairs as owned strings.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        self.for_each(&mut |name, value| pairs.push((name.to_owned(), value.to_owned())));
        pairs
    }
}

/// Parses labels rendered by this crate (`a="x",b="y"`, escaped) back into pairs: only for
/// collectors that hand over nothing but the text ([`SeriesLabels::from_rendered`]).
pub(crate) fn parse_rendered(rendered: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = rendered;
    while let Some((head, tail)) = rest.split_once("=\"") {
        let name = head.trim_start_matches(',').to_owned();
        let mut value = String::new();
        let mut chars = tail.char_indices();
        let mut after = "";
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    after = tail.get(i + 1..).unwrap_or("");
                    break;
                }
                c => value.push(c),
            }
        }
        pairs.push((name, value));
        rest = after;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming;

    #[test]
    fn rendered_labels_round_trip() {
        let rendered = naming::render_labels([("a", "x\"y\\z\nw,b=\"q\""), ("b", "")]);
        assert_eq!(
            parse_rendered(&rendered),
            vec![
                ("a".to_owned(), "x\"y\\z\nw,b=\"q\"".to_owned()),
                ("b".to_owned(), String::new())
            ]
        );
        assert!(parse_rendered("").is_empty());
        assert_eq!(
            SeriesLabels::from_rendered(&rendered).to_pairs(),
            parse_rendered(&rendered)
        );
    }

    #[test]
    fn every_source_gives_the_same_pairs() {
        let pairs = [("a", "1"), ("b", "x\"y")];
        let rendered = naming::render_labels(pairs);
        let expected = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x\"y".to_owned()),
        ];
        assert_eq!(
            SeriesLabels::from_pairs(&pairs, &rendered).to_pairs(),
            expected
        );
        assert_eq!(SeriesLabels::from_rendered(&rendered).to_pairs(), expected);
        assert!(SeriesLabels::NONE.to_pairs().is_empty() && SeriesLabels::NONE.is_empty());
    }
}
