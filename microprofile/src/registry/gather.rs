//! The one read path and the delta cursor; documented in the module `registry`.

use std::collections::HashMap;

use crate::metadata::Scope;
use crate::metric::sketch::Sketch;
use crate::metric::{Metric, Number, Reading, SeriesLabels};
use crate::registry::{FamilyInfo, Member, Registry, Selection};

/// One family as the read path hands it to a consumer.
#[derive(Debug, Clone, Copy)]
pub struct FamilyRead<'a> {
    info: &'a FamilyInfo,
    help: &'a str,
}

impl<'a> FamilyRead<'a> {
    /// What the family's series share: exposed name, type, description, unit, label names.
    pub fn info(&self) -> &'a FamilyInfo {
        self.info
    }

    /// The text for `# HELP`: the description, or the declared name of its first member when no
    /// description was given.
    pub fn help(&self) -> &'a str {
        self.help
    }
}

/// The registration a series comes from: a family may be registered in several scopes, or with
/// different declared tags, each a member.
#[derive(Clone, Copy)]
pub struct MemberRead<'a> {
    member: &'a Member,
}

impl<'a> MemberRead<'a> {
    /// The scope.
    pub fn scope(&self) -> &'a Scope {
        &self.member.scope
    }

    /// The name the metric was declared with.
    pub fn declared_name(&self) -> &'a str {
        &self.member.declared
    }

    /// The tags given with the metadata, rendered as escaped text (`a="x"`), sorted by name.
    pub fn tags_rendered(&self) -> &'a str {
        &self.member.tags
    }

    /// Identifies the member within one read (the same member gives the same number).
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self.member) as usize
    }

    /// The tags given with the metadata, as `(name, value)` pairs sorted by name.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.member.tag_pairs.iter().map(|(n, v)| (&**n, &**v))
    }
}

impl std::fmt::Debug for MemberRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberRead")
            .field("scope", self.scope())
            .field("declared_name", &self.declared_name())
            .field("tags", &self.tags_rendered())
            .finish()
    }
}

/// One series as the read path hands it to a consumer.
#[derive(Clone, Copy)]
pub struct SeriesRead<'a> {
    /// Its family.
    pub family: FamilyRead<'a>,
    /// The member (scope, declared tags) it belongs to.
    pub member: MemberRead<'a>,
    /// Its own labels (a family's label set), without the member's tags or global tags.
    pub labels: &'a SeriesLabels<'a>,
    /// Its value, read with [`Metric::visit`].
    pub metric: &'a dyn Metric,
}

impl SeriesRead<'_> {
    /// Calls `f` with every label of the series, unescaped: the member's tags, then the series'
    /// own labels (each group sorted by name), as [`Registry::visit`] lists them.
    pub fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self.member.tags() {
            f(name, value);
        }
        self.labels.for_each(f);
    }
}

/// A consumer of the read path ([`Registry::gather`]): told when each selected family starts and
/// ends, and given each of its series in between. A family with no series at the moment gets
/// [`family`](Self::family) and [`end_family`](Self::end_family) and nothing between.
pub trait Gather {
    /// A family starts.
    fn family(&mut self, family: &FamilyRead<'_>) {
        let _ = family;
    }
    /// One series of the current family, in order: members by scope and tags, series by their
    /// rendered labels.
    fn series(&mut self, series: &SeriesRead<'_>);
    /// The family's series are done.
    fn end_family(&mut self, family: &FamilyRead<'_>) {
        let _ = family;
    }
}

impl Registry {
    /// Reads the selected families into `consumer`: the one read path behind the encoders,
    /// [`visit`](Self::visit), [`snapshot`](Self::snapshot) and
    /// [`gather_changes`](Self::gather_changes). Families come in exposition-name order. The
    /// registry's lock is not held while series are read, so a callback gauge may use the
    /// registry. Returns how many families the selection matched.
    ///
    /// ```
    /// use microprofile::registry::{Gather, SeriesRead};
    /// use microprofile::{Metadata, Registry, Selection};
    ///
    /// struct Names(Vec<String>);
    /// impl Gather for Names {
    ///     fn series(&mut self, series: &SeriesRead<'_>) {
    ///         let mut labels = Vec::new();
    ///         series.for_each_label(&mut |name, value| labels.push(format!("{name}={value}")));
    ///         self.0.push(format!("{} {}", series.family.info().name, labels.join(",")));
    ///     }
    /// }
    ///
    /// let registry = Registry::new();
    /// let tagged = Metadata::new("jobs").tags(&[("queue", "mail")]);
    /// registry.counter(tagged).unwrap().inc();
    /// let mut names = Names(Vec::new());
    /// registry.gather(Selection::All, &mut names);
    /// assert_eq!(names.0, ["jobs_total queue=mail"]);
    /// ```
    pub fn gather(&self, selection: Selection<'_>, consumer: &mut dyn Gather) -> usize {
        let plan = self.plan(selection);
        for planned in plan.iter() {
            let info = &**planned.info;
            let help = match planned.members.first() {
                Some(member) if info.description.is_empty() => &*member.declared,
                _ => info.description.as_str(),
            };
            let family = FamilyRead { info, help };
            consumer.family(&family);
            for member in planned.members {
                let member_read = MemberRead { member };
                member.source.collector().collect(&mut |labels, metric| {
                    consumer.series(&SeriesRead {
                        family,
                        member: member_read,
                        labels,
                        metric,
                    })
                });
            }
            consumer.end_family(&family);
        }
        plan.len()
    }

    /// Reads what changed in the selected series since this `cursor`'s last read, and calls `f`
    /// with each changed series and its [`Change`]: counter increases, histogram bucket, count
    /// and sum increases, summary count and sum increases with the sketch of the observations in
    /// between (and the window's quantiles now), gauge values that moved. A series read for the
    /// first time reports its whole value; a counter, histogram or summary that went down (reset,
    /// or removed and made again) reports its whole new value, marked
    /// [`reset`](CounterChange::reset). Series that were not read this time (removed, or left out
    /// by the selection) are forgotten by the cursor. Each consumer keeps its own cursor (one per
    /// selection), so several sinks read the same registry independently.
    ///
    /// ```
    /// use microprofile::registry::{Change, DeltaCursor};
    /// use microprofile::{Metadata, Registry, Selection};
    ///
    /// let registry = Registry::new();
    /// let hits = registry.counter(Metadata::new("hits")).unwrap();
    /// let mut cursor = DeltaCursor::new();
    /// let mut deltas = Vec::new();
    /// hits.inc_by(5);
    /// registry.gather_changes(Selection::All, &mut cursor, &mut |_, change| {
    ///     if let Change::Counter(c) = change { deltas.push(c.delta.as_f64()) }
    /// });
    /// hits.inc_by(2);
    /// registry.gather_changes(Selection::All, &mut cursor, &mut |_, change| {
    ///     if let Change::Counter(c) = change { deltas.push(c.delta.as_f64()) }
    /// });
    /// // Nothing changed: nothing is reported.
    /// registry.gather_changes(Selection::All, &mut cursor, &mut |_, _| panic!("no change"));
    /// assert_eq!(deltas, [5.0, 2.0]);
    /// ```
    pub fn gather_changes(
        &self,
        selection: Selection<'_>,
        cursor: &mut DeltaCursor,
        f: &mut dyn FnMut(&SeriesRead<'_>, &Change),
    ) -> usize {
        cursor.pass = cursor.pass.wrapping_add(1);
        let mut reader = ChangeReader { cursor, f };
        let matched = self.gather(selection, &mut reader);
        let pass = reader.cursor.pass;
        reader.cursor.last.retain(|_, last| last.pass == pass);
        matched
    }
}

/// What one consumer read last of each series, so that [`Registry::gather_changes`] can say what
/// changed since. Owned by the consumer; one per consumer and selection.
///
/// Making one tells summaries to keep a mergeable sketch of their observations (see
/// [`Metric::cumulative_sketch`]), so that the cursor can report the sketch of what each summary
/// observed between two reads: make the cursor before the summaries take observations.
#[derive(Debug)]
pub struct DeltaCursor {
    last: HashMap<String, Last>,
    pass: u64,
}

impl Default for DeltaCursor {
    fn default() -> Self {
        DeltaCursor::new()
    }
}

impl DeltaCursor {
    /// A cursor that has read nothing: the first read reports every series whole.
    pub fn new() -> DeltaCursor {
        crate::metric::summary::TRACK_SKETCHES.store(true, std::sync::atomic::Ordering::Relaxed);
        DeltaCursor {
            last: HashMap::new(),
            pass: 0,
        }
    }

    /// How many series the cursor remembers.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether the cursor remembers no series.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Whether the last read saw the series of this [`series_key`] (a removed series is
    /// forgotten).
    #[cfg(feature = "redis")]
    pub(crate) fn remembers(&self, key: &str) -> bool {
        self.last.contains_key(key)
    }
}

#[derive(Debug)]
struct Last {
    pass: u64,
    value: LastValue,
}

#[derive(Debug)]
enum LastValue {
    Counter(Number),
    Gauge(Number),
    Histogram {
        buckets: Vec<u64>,
        sum: f64,
    },
    Summary {
        count: u64,
        sum: f64,
        sketch: Option<Sketch>,
    },
}

/// What changed in one series since the cursor's last read.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A counter went up.
    Counter(CounterChange),
    /// A gauge has a new value (gauges have no delta: the value is the current one).
    Gauge(Number),
    /// A histogram took observations.
    Histogram(HistogramChange),
    /// A summary took observations.
    Summary(SummaryChange),
}

/// The change of a counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterChange {
    /// The increase since the last read (the whole value on a first read or after a reset).
    pub delta: Number,
    /// The value now.
    pub total: Number,
    /// Whether the counter went down since the last read (it was reset, or removed and made
    /// again): `delta` is then the whole value.
    pub reset: bool,
}

/// The change of a histogram: observations since the last read.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramChange {
    /// The finite upper bounds.
    pub bounds: Vec<f64>,
    /// Observations per bucket since the last read (not cumulative), `bounds.len() + 1` of them,
    /// the last for `+Inf`.
    pub buckets: Vec<u64>,
    /// The number of observations since the last read.
    pub count: u64,
    /// The sum of those observations.
    pub sum: f64,
    /// Whether the histogram went down since the last read (reset or made again): the fields are
    /// then its whole value.
    pub reset: bool,
}

/// The change of a summary: observations since the last read, and the window's quantiles now.
/// The quantiles are of a sliding window, so they are sent as they are, not as a delta.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryChange {
    /// The number of observations since the last read.
    pub count: u64,
    /// The sum of those observations.
    pub sum: f64,
    /// `(quantile, value)` over the window now.
    pub quantiles: Vec<(f64, f64)>,
    /// The largest observation in the window now.
    pub max: f64,
    /// The observations since the last read as a mergeable sketch (bucket counts to add to a
    /// stored sketch, as the Redis store's format keeps them); `None` for a summary that keeps
    /// no sketch (see [`Metric::cumulative_sketch`]).
    pub sketch: Option<Sketch>,
    /// Whether the count went down since the last read: the fields are then the whole value.
    pub reset: bool,
}

/// The identity of a series across reads: family, scope, declared tags and labels.
pub(crate) fn series_key(series: &SeriesRead<'_>) -> String {
    let info = series.family.info();
    let scope = series.member.scope().as_str();
    let tags = series.member.tags_rendered();
    let labels = series.labels.rendered();
    let mut key =
        String::with_capacity(info.name.len() + scope.len() + tags.len() + labels.len() + 3);
    for part in [info.name.as_str(), scope, tags, labels] {
        key.push_str(part);
        // A byte no name or rendered label can hold (label values are escaped, names are
        // identifiers) separates the parts.
        key.push('\u{0}');
    }
    key
}

struct ChangeReader<'c, 'f> {
    cursor: &'c mut DeltaCursor,
    f: &'f mut dyn FnMut(&SeriesRead<'_>, &Change),
}

impl Gather for ChangeReader<'_, '_> {
    fn series(&mut self, series: &SeriesRead<'_>) {
        let Some(now) = Reading::of(series.metric) else {
            return;
        };
        let pass = self.cursor.pass;
        let key = series_key(series);
        let previous = self.cursor.last.get(&key).map(|last| &last.value);
        let (change, value) = match now {
            Reading::Counter(total) => {
                let (delta, reset) = match previous {
                    Some(LastValue::Counter(last)) => match counter_delta(*last, total) {
                        Some(delta) => (delta, false),
                        None => (total, true),
                    },
                    _ => (total, false),
                };
                let changed = delta.as_f64() != 0.0 || reset || previous.is_none();
                let change = changed.then_some(Change::Counter(CounterChange {
                    delta,
                    total,
                    reset,
                }));
                (change, LastValue::Counter(total))
            }
            Reading::Gauge(value) => {
                let same = matches!(
                    previous,
                    Some(LastValue::Gauge(last)) if same_number(*last, value)
                );
                (
                    (!same).then_some(Change::Gauge(value)),
                    LastValue::Gauge(value),
                )
            }
            Reading::Histogram {
                bounds,
                buckets,
                sum,
            } => {
                let last = match previous {
                    Some(LastValue::Histogram { buckets, sum }) => Some((buckets, *sum)),
                    _ => None,
                };
                let went_down = last.is_some_and(|(last, _)| {
                    last.len() != buckets.len() || last.iter().zip(&buckets).any(|(a, b)| b < a)
                });
                let (delta, delta_sum, reset) = match last {
                    Some((last, last_sum)) if !went_down => {
                        let delta: Vec<u64> =
                            buckets.iter().zip(last).map(|(b, a)| b - a).collect();
                        (delta, sum - last_sum, false)
                    }
                    _ => (buckets.clone(), sum, went_down),
                };
                let count = delta.iter().fold(0u64, |acc, n| acc.wrapping_add(*n));
                let changed = count != 0 || reset || last.is_none();
                let change = changed.then_some(Change::Histogram(HistogramChange {
                    bounds,
                    buckets: delta,
                    count,
                    sum: delta_sum,
                    reset,
                }));
                (change, LastValue::Histogram { buckets, sum })
            }
            Reading::Summary {
                quantiles,
                count,
                sum,
                max,
            } => {
                // Count, sum and sketch read at one instant when the summary keeps a sketch.
                let (count, sum, sketch) = match series.metric.cumulative_sketch() {
                    Some(read) => (read.count, read.sum, Some(read.sketch)),
                    None => (count, sum, None),
                };
                let last = match previous {
                    Some(LastValue::Summary { count, sum, sketch }) => {
                        Some((*count, *sum, sketch.as_ref()))
                    }
                    _ => None,
                };
                let sketch_delta = |last: Option<&Sketch>| -> Option<Option<Sketch>> {
                    let Some(now) = &sketch else {
                        return Some(None);
                    };
                    let Some(last) = last else {
                        return Some(Some(now.clone()));
                    };
                    sketch_difference(now, last).map(Some)
                };
                let (delta_count, delta_sum, delta_sketch, reset) = match last {
                    Some((last_count, last_sum, last_sketch)) if count >= last_count => {
                        match sketch_delta(last_sketch) {
                            Some(delta) => (count - last_count, sum - last_sum, delta, false),
                            None => (count, sum, sketch.clone(), true),
                        }
                    }
                    Some(_) => (count, sum, sketch.clone(), true),
                    None => (count, sum, sketch.clone(), false),
                };
                let changed = delta_count != 0 || reset || last.is_none();
                let change = changed.then_some(Change::Summary(SummaryChange {
                    count: delta_count,
                    sum: delta_sum,
                    quantiles,
                    max,
                    sketch: delta_sketch,
                    reset,
                }));
                (change, LastValue::Summary { count, sum, sketch })
            }
        };
        if let Some(change) = &change {
            (self.f)(series, change);
        }
        self.cursor.last.insert(key, Last { pass, value });
    }
}

/// The buckets `now` holds beyond `last`; `None` when a bucket went down (the summary was reset).
fn sketch_difference(now: &Sketch, last: &Sketch) -> Option<Sketch> {
    let mut delta = Sketch::new();
    let mut last_buckets = last.buckets().peekable();
    for (key, count) in now.buckets() {
        let before = match last_buckets.peek().copied() {
            // A bucket the last read had and this one has not: it went down to zero.
            Some((last_key, _)) if last_key < key => return None,
            Some((last_key, last_count)) if last_key == key => {
                last_buckets.next();
                last_count
            }
            _ => 0,
        };
        let added = count.checked_sub(before)?;
        if added > 0 {
            delta.add_count(key, added);
        }
    }
    // Buckets left over were in the last read only.
    last_buckets.next().is_none().then_some(delta)
}

/// `now - last` when the counter did not go down.
fn counter_delta(last: Number, now: Number) -> Option<Number> {
    match (last, now) {
        (Number::UInt(a), Number::UInt(b)) => b.checked_sub(a).map(Number::UInt),
        (a, b) => {
            let (a, b) = (a.as_f64(), b.as_f64());
            (b >= a).then_some(Number::Float(b - a))
        }
    }
}

/// Whether two gauge readings are the same value (NaN equals NaN here: unchanged).
fn same_number(a: Number, b: Number) -> bool {
    match (a, b) {
        (Number::UInt(a), Number::UInt(b)) => a == b,
        (Number::Int(a), Number::Int(b)) => a == b,
        (a, b) => a.as_f64().to_bits() == b.as_f64().to_bits(),
    }
}
