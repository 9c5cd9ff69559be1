//! The reading side: a namespace and its metadata hash read with `HGETALL`, decoded into families, and turned into a
//! [`Registry`] so that it is encoded by the same encoder as every other metric (identical,
//! promtool-clean output).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::codec::{self, Extension, TypeCode, BUCKET_BOUND_LABEL, SKETCH_KEY_LABEL};
use super::resp::{self, Reply};
use super::sketch::{Sketch, SketchKey};
use super::{StoreError, DECODE_ERRORS, READ_ERRORS};
use crate::metadata::{Metadata, Scope};
use crate::metric::counter::Counter;
use crate::metric::summary::DEFAULT_QUANTILES;
use crate::metric::MetricType;
use crate::metric::{
    BucketCounts, Collect, HistogramView, Metric, Number, SeriesLabels, SummaryView, Visitor,
};
use crate::naming;
use crate::registry::{Registry, Selection, StaticMetric};
use crate::Format;

/// Reads a float as written by any writer: decimal or exponent notation, `+Inf`, `-Inf`, `NaN`
/// (any case, `inf`/`infinity` too).
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok(),
    }
}

/// Fields of the namespaces read by an exposition that were skipped, whatever the reason (see
/// [`NamespaceData`'s rule](NamespaceData#what-is-skipped)); counted at every read of the namespace.
pub(crate) static SKIPPED_FIELDS: Counter = Counter::new();

/// The exposition's own vendor metrics, registered in the global registry when the first
/// [`RedisExposition`] is made (as the store's `microprofile_redis_*` ones are).
static EXPORTER_METRICS: [StaticMetric; 1] = [StaticMetric::new(
    &SKIPPED_FIELDS,
    Metadata::new("microprofile_exporter_skipped_fields")
        .description(
            "Fields of a Redis namespace the exporter could not expose and skipped (each counted at every read).",
        )
        .scope(Scope::Vendor),
    crate::site!(),
)];

fn register_exporter_metrics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| crate::registry::global().register_statics_now(&EXPORTER_METRICS));
}

/// Counts `n` skipped fields (also in `microprofile_redis_decode_errors_total`, which counts
/// fields that could not be decoded or exposed).
fn count_skipped(n: usize) {
    if n > 0 {
        let n = n as u64;
        SKIPPED_FIELDS.inc_by(n);
        DECODE_ERRORS.inc_by(n);
    }
}

/// One series of a decoded family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    /// The value field (empty extension; counters and gauges).
    pub value: Option<f64>,
    /// The `s` field.
    pub sum: f64,
    /// The `c` field.
    pub count: Option<f64>,
    /// Histogram buckets: upper bound → observations in that bucket, sorted by bound, `+Inf` last.
    /// Per bucket here (not cumulative), read from the store's cumulative `b` fields.
    pub buckets: Vec<(f64, f64)>,
    /// Summary sketch buckets, merged (this crate's summaries).
    pub sketch: Sketch,
    /// Summary quantiles as another writer left them (`quantile="…"` value fields), sorted.
    pub quantiles: Vec<(f64, f64)>,
    /// How many fields of the hash were merged into this series.
    pub fields: usize,
}

/// One decoded family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyData {
    /// The `d` field.
    pub description: Option<String>,
    /// The `t` field, or the type inferred from the fields when it is missing.
    pub type_code: Option<TypeCode>,
    /// Series by their labels (sorted, without `le` / `__key` / `quantile`).
    pub series: BTreeMap<Vec<(String, String)>, SeriesData>,
    /// The scope its writer recorded in the namespace's [`meta_key`](super::meta_key) hash, if
    /// any (else the exposition's scope for the namespace is used).
    pub scope: Option<Scope>,
    /// The unit its writer recorded there, if any.
    pub unit: Option<String>,
}

impl FamilyData {
    /// How many fields of the hash its series hold.
    fn fields(&self) -> usize {
        self.series.values().map(|s| s.fields).sum()
    }
}

/// A namespace's contents, decoded.
///
/// # What is skipped
///
/// One stray or hostile field never hides anything else: what cannot be exposed is skipped
/// alone, field by field, and everything else is served. Each skipped field is counted in the
/// vendor counter `microprofile_exporter_skipped_fields_total` of the global registry (and in
/// `microprofile_redis_decode_errors_total`), at every read of the namespace (so it keeps
/// growing while the field is in Redis), and listed with its reason in
/// [`errors`](Self::errors). Skipped are:
///
/// - a field that does not decode (see [`codec`](super::codec)): not `name:extension:labels`,
///   an invalid metric name, an unknown extension, an invalid or repeated label name, a label
///   value with a bad percent escape, a field or value that is not UTF-8;
/// - a field with a label name the exposition may not write: reserved (`le` outside a histogram
///   bucket, `quantile`, `mp_scope`, `mp_app`, `mp_overflow`) or starting with `__` (`__name__`;
///   `__key` outside a summary's sketch bucket);
/// - a `d` or `t` field with labels, and a `t` field whose value is not `c`, `g`, `h` or `s`;
/// - a value that is not a number; a count (`c`, a bucket) that is negative or not finite; a
///   bucket whose `le` is not a number, `NaN` or `-Inf`; a counter value below 0 or `NaN`;
/// - a field that does not fit its family's type (the `t` field's, else the type the fields
///   show: buckets with `le` make a histogram, other `s`, `c` or `b` fields a summary, `v`
///   fields alone a gauge): a `v` field of a histogram or summary, an `s`, `c` or `b` field of a
///   counter or gauge, a histogram bucket of a summary and a sketch bucket of a histogram;
/// - every field of a family the registry refuses (its exposed names are taken by another
///   metric of the registry, or by a family of another type from another namespace); of two
///   namespaces exposed in one scope, the second's family of the same name if its type differs,
///   and its series the first already has (the others are merged in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceData {
    /// Families by metric name: only fields that can be exposed.
    pub families: BTreeMap<String, FamilyData>,
    /// Fields that were skipped, with the reason (also counted in
    /// `microprofile_exporter_skipped_fields_total`).
    pub errors: Vec<String>,
}

/// The part of a series one data field holds.
#[derive(Debug, Clone, Copy)]
enum Part {
    Value,
    Sum,
    Count,
    Bound(f64),
    Key(SketchKey),
    Quantile(f64),
}

/// A data field (not `d` or `t`) that decoded, before it is checked against its family's type.
struct DataField {
    field: String,
    name: String,
    labels: Vec<(String, String)>,
    part: Part,
    number: f64,
}

impl DataField {
    /// Why this field cannot be a part of a series of type `type_code`, if it cannot.
    fn misfit(&self, type_code: TypeCode) -> Option<String> {
        let fits = matches!(
            (type_code, self.part),
            (TypeCode::Counter | TypeCode::Gauge, Part::Value)
                | (
                    TypeCode::Histogram,
                    Part::Sum | Part::Count | Part::Bound(_)
                )
                | (
                    TypeCode::Summary,
                    Part::Sum | Part::Count | Part::Key(_) | Part::Quantile(_)
                )
        );
        let kind = match type_code {
            TypeCode::Counter => "counter",
            TypeCode::Gauge => "gauge",
            TypeCode::Histogram => "histogram",
            TypeCode::Summary => "summary",
        };
        if !fits {
            let part = match self.part {
                Part::Value => "a value",
                Part::Quantile(_) => "a quantile value",
                Part::Sum => "a sum (s)",
                Part::Count => "a count (c)",
                Part::Bound(_) => "a histogram bucket (b with le)",
                Part::Key(_) => "a summary sketch bucket (b with __key)",
            };
            return Some(format!("{part} field in the {kind} family {:?}", self.name));
        }
        if type_code == TypeCode::Counter && (self.number.is_nan() || self.number < 0.0) {
            return Some(format!(
                "a counter's value must be 0 or more, not {}",
                self.number
            ));
        }
        None
    }
}

/// See [`NamespaceData::settle_histograms`]: why the series cannot be exposed, if it cannot.
fn settle_buckets(series: &mut SeriesData) -> Option<String> {
    series.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let inf = series
        .buckets
        .last()
        .filter(|(bound, _)| *bound == f64::INFINITY)
        .map(|(_, n)| *n);
    match (inf, series.count) {
        (None, None) => {
            return Some("a histogram series with neither a +Inf bucket nor a count".to_owned())
        }
        (None, Some(count)) => series.buckets.push((f64::INFINITY, count)),
        (Some(inf), None) => series.count = Some(inf),
        (Some(_), Some(_)) => {}
    }
    let mut below = 0.0;
    for (bound, n) in &mut series.buckets {
        if *n < below {
            return Some(format!(
                "cumulative bucket counts decrease at le=\"{}\" ({n} after {below})",
                crate::encoding::float::format_float(*bound)
            ));
        }
        let cumulative = *n;
        *n -= below;
        below = cumulative;
    }
    None
}

impl NamespaceData {
    /// Decodes the fields and values of a namespace's hash. A field that cannot be exposed is
    /// skipped alone, listed in [`errors`](Self::errors) and counted in
    /// `microprofile_exporter_skipped_fields_total`; every other field is used (see
    /// [what is skipped](Self#what-is-skipped)).
    ///
    /// ```
    /// use microprofile::redis::NamespaceData;
    /// let data = NamespaceData::decode([
    ///     ("jobs:t:".to_owned(), "c".to_owned()),
    ///     ("jobs::queue=\"a\"".to_owned(), "3".to_owned()),
    ///     ("jobs:v:queue=\"a\"".to_owned(), "2".to_owned()), // same series (older writer): added
    ///     ("jobs::le=\"1\"".to_owned(), "9".to_owned()), // a reserved label: skipped alone
    /// ]);
    /// let series = &data.families["jobs"].series;
    /// assert_eq!(series.len(), 1);
    /// assert_eq!(series.values().next().unwrap().value, Some(5.0));
    /// assert_eq!(data.errors.len(), 1);
    /// ```
    pub fn decode(fields: impl IntoIterator<Item = (String, String)>) -> NamespaceData {
        let mut data = NamespaceData::default();
        let mut decoded = Vec::new();
        for (name, value) in fields {
            match data.read_field(&name, &value) {
                Ok(Some(field)) => decoded.push(field),
                Ok(None) => {}
                Err(reason) => data.skip(&name, &reason),
            }
        }
        // Families without a `t` field: the type their fields show.
        let mut inferred: BTreeMap<&str, TypeCode> = BTreeMap::new();
        for field in &decoded {
            let kind = match field.part {
                Part::Bound(_) => TypeCode::Histogram,
                Part::Sum | Part::Count | Part::Key(_) | Part::Quantile(_) => TypeCode::Summary,
                Part::Value => TypeCode::Gauge,
            };
            let entry = inferred.entry(field.name.as_str()).or_insert(kind);
            *entry = match (*entry, kind) {
                (TypeCode::Histogram, _) | (_, TypeCode::Histogram) => TypeCode::Histogram,
                (TypeCode::Summary, _) | (_, TypeCode::Summary) => TypeCode::Summary,
                _ => TypeCode::Gauge,
            };
        }
        let mut types: BTreeMap<String, TypeCode> = BTreeMap::new();
        for (name, kind) in inferred {
            let declared = data.families.get(name).and_then(|f| f.type_code);
            types.insert(name.to_owned(), declared.unwrap_or(kind));
        }
        for field in decoded {
            let Some(&type_code) = types.get(&field.name) else {
                continue;
            };
            if let Some(reason) = field.misfit(type_code) {
                data.skip(&field.field, &reason);
                continue;
            }
            let family = data.families.entry(field.name).or_default();
            family.type_code = Some(type_code);
            let series = family.series.entry(field.labels).or_default();
            series.fields += 1;
            let n = field.number;
            match field.part {
                Part::Value => *series.value.get_or_insert(0.0) += n,
                Part::Sum => series.sum += n,
                Part::Count => *series.count.get_or_insert(0.0) += n,
                Part::Bound(le) => match series.buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, c)) => *c += n,
                    None => series.buckets.push((le, n)),
                },
                Part::Key(k) => series.sketch.add_count(k, n as u64),
                Part::Quantile(q) => match series.quantiles.iter_mut().find(|(b, _)| *b == q) {
                    // One writer's quantile, read twice (as "0.5" and "0.50"): the last wins.
                    Some((_, v)) => *v = n,
                    None => series.quantiles.push((q, n)),
                },
            }
        }
        data.settle_histograms();
        // A family of only `d` / `t` fields has nothing to expose.
        data.families.retain(|_, f| !f.series.is_empty());
        for series in data
            .families
            .values_mut()
            .flat_map(|f| f.series.values_mut())
        {
            series.quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        data
    }

    /// Turns each histogram series' cumulative buckets (as stored: `le="x"` counts every
    /// observation ≤ x) into per-bucket counts. The `+Inf` bucket is the count when it is
    /// missing, and the count is the `+Inf` bucket when that is missing. A series whose
    /// cumulative counts decrease, or that has neither a `+Inf` bucket nor a count, cannot be
    /// exposed without inventing numbers: it is skipped, its fields counted.
    fn settle_histograms(&mut self) {
        let mut skipped: Vec<(String, String)> = Vec::new();
        for (name, family) in &mut self.families {
            if family.type_code != Some(TypeCode::Histogram) {
                continue;
            }
            family.series.retain(|labels, series| {
                let reason = settle_buckets(series);
                if let Some(reason) = &reason {
                    let labels =
                        naming::render_labels(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                    skipped.push((
                        format!("{name}{{{labels}}} ({} fields)", series.fields),
                        reason.clone(),
                    ));
                    count_skipped(series.fields);
                }
                reason.is_none()
            });
        }
        for (series, reason) in skipped {
            self.errors.push(format!("{series:?}: {reason}"));
        }
    }

    /// Records what the namespace's [`meta_key`](super::meta_key) hash says of each family:
    /// field = metric name, value = `mp_scope="…",unit="…"`. A field that does not read is
    /// skipped and counted, as in the namespace's hash.
    pub fn apply_meta(&mut self, meta: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in meta {
            let Some(family) = self.families.get_mut(&name) else {
                continue;
            };
            let pairs = match codec::decode_labels(&value) {
                Ok(pairs) => pairs,
                Err(e) => {
                    self.skip(&format!("{{meta}} {name}"), &e.to_string());
                    continue;
                }
            };
            for (key, value) in pairs {
                match key.as_str() {
                    "mp_scope" => match Scope::new(value.clone()) {
                        Ok(scope) => family.scope = Some(scope),
                        Err(e) => {
                            count_skipped(1);
                            self.errors
                                .push(format!("{{meta}} {name}: scope {value:?}: {e}"));
                        }
                    },
                    "unit" if naming::validate_unit(&value).is_ok() => family.unit = Some(value),
                    "unit" => {
                        count_skipped(1);
                        self.errors
                            .push(format!("{{meta}} {name}: unit {value:?} is not a unit"));
                    }
                    // Keys a later version may add.
                    _ => {}
                }
            }
        }
    }

    fn skip(&mut self, field: &str, reason: &str) {
        count_skipped(1);
        self.errors.push(format!("{field:?}: {reason}"));
    }

    /// Reads one field: `d` and `t` go to their family now, data fields are returned to be
    /// checked against their family's type once every field is read.
    fn read_field(&mut self, field_name: &str, value: &str) -> Result<Option<DataField>, String> {
        let field = codec::decode_field(field_name).map_err(|e| e.to_string())?;
        match field.extension {
            Extension::Description | Extension::Type if !field.labels.is_empty() => {
                return Err("a d or t field has no labels".to_owned());
            }
            Extension::Description => {
                let family = self.families.entry(field.name).or_default();
                family.description = Some(value.to_owned());
                return Ok(None);
            }
            Extension::Type => {
                let type_code = TypeCode::from_letter(value.trim())
                    .ok_or_else(|| format!("unknown type {value:?} (expected c, g, h or s)"))?;
                let family = self.families.entry(field.name).or_default();
                family.type_code = Some(type_code);
                return Ok(None);
            }
            _ => {}
        }
        let mut labels = field.labels;
        let part = match field.extension {
            Extension::Bucket => {
                if let Some(i) = labels.iter().position(|(n, _)| n == BUCKET_BOUND_LABEL) {
                    let (_, le) = labels.remove(i);
                    match parse_float(&le) {
                        Some(bound) if !bound.is_nan() && bound != f64::NEG_INFINITY => {
                            Part::Bound(bound)
                        }
                        _ => return Err(format!("bad le {le:?}")),
                    }
                } else if let Some(i) = labels.iter().position(|(n, _)| n == SKETCH_KEY_LABEL) {
                    let (_, k) = labels.remove(i);
                    Part::Key(SketchKey::parse(&k).ok_or_else(|| format!("bad sketch key {k:?}"))?)
                } else {
                    return Err("a bucket field needs the label le or __key".to_owned());
                }
            }
            Extension::Sum => Part::Sum,
            Extension::Count => Part::Count,
            _ => match labels.iter().position(|(n, _)| n == "quantile") {
                // Another writer's summary (the design's `rpc_duration_seconds::quantile="0.5"`).
                Some(i) => {
                    let (_, q) = labels.remove(i);
                    match parse_float(&q) {
                        Some(q) if (0.0..=1.0).contains(&q) => Part::Quantile(q),
                        _ => return Err(format!("bad quantile {q:?}")),
                    }
                }
                None => Part::Value,
            },
        };
        // The labels left must be ones the exposition may write: not reserved (`le`,
        // `quantile`, `mp_scope`, …), not `__`-prefixed.
        for (label, _) in &labels {
            naming::validate_tag_name(label).map_err(|e| e.to_string())?;
        }
        let number = parse_float(value).ok_or_else(|| format!("{value:?} is not a number"))?;
        if matches!(part, Part::Count | Part::Bound(_) | Part::Key(_))
            && (number < 0.0 || !number.is_finite())
        {
            return Err(format!(
                "{value:?} is not a count (a finite number, 0 or more)"
            ));
        }
        Ok(Some(DataField {
            field: field_name.to_owned(),
            name: field.name,
            labels,
            part,
            number,
        }))
    }

    /// Registers every series into `registry`, in `scope`, as constant metrics (one member per
    /// family): summaries get `quantiles` computed from the merged sketch. Returns how many
    /// series were registered. A family the registry refuses (its name is taken by another
    /// metric there) is skipped, its fields counted in
    /// `microprofile_exporter_skipped_fields_total`.
    pub fn register_into(&self, registry: &Registry, scope: &Scope, quantiles: &[f64]) -> usize {
        let mut registered = 0;
        for view in self.views(scope, quantiles) {
            registered += view.register_fixed(registry);
        }
        registered
    }

    /// Every family as it is exposed.
    fn views(&self, scope: &Scope, quantiles: &[f64]) -> Vec<FamilyView> {
        let mut out = Vec::new();
        for (name, family) in &self.families {
            let type_code = family.type_code.unwrap_or(TypeCode::Gauge);
            // Every series of one family carries the same label names; absent ones are empty,
            // which Prometheus treats as absent.
            let names: BTreeSet<&str> = family
                .series
                .keys()
                .flat_map(|labels| labels.iter().map(|(n, _)| n.as_str()))
                .collect();
            let mut series = Vec::with_capacity(family.series.len());
            for (labels, data) in &family.series {
                let pairs: Vec<(String, String)> = names
                    .iter()
                    .map(|label| {
                        let value = labels
                            .iter()
                            .find(|(n, _)| n == label)
                            .map_or(String::new(), |(_, v)| v.clone());
                        ((*label).to_owned(), value)
                    })
                    .collect();
                let rendered =
                    naming::render_labels(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                series.push(ViewSeries {
                    pairs,
                    rendered,
                    fields: data.fields,
                    metric: StoredMetric::from_series(type_code, data, quantiles),
                });
            }
            series.sort_by(|a, b| a.rendered.cmp(&b.rendered));
            let scope = family.scope.clone().unwrap_or_else(|| scope.clone());
            out.push(FamilyView {
                key: (scope, exposable_name(name)),
                unit: family.unit.clone().unwrap_or_default(),
                description: family.description.clone().unwrap_or_default(),
                metric_type: metric_type_of(type_code),
                fields: family.fields(),
                series: FamilySeries {
                    metric_type: metric_type_of(type_code),
                    series,
                },
            });
        }
        out
    }
}

fn metric_type_of(type_code: TypeCode) -> MetricType {
    match type_code {
        TypeCode::Counter => MetricType::Counter,
        TypeCode::Gauge => MetricType::Gauge,
        TypeCode::Histogram => MetricType::Histogram,
        TypeCode::Summary => MetricType::Summary,
    }
}

/// A family's scope and declared name: what it is registered under.
type FamilyKey = (Scope, String);

/// The name a family is registered (and so exposed) under: the writer's name when the registry
/// takes it as it is, else sanitised the MicroProfile way — every character outside
/// `[a-zA-Z0-9_]` becomes `_`, and `_` goes before a leading digit — never dropped.
fn exposable_name(name: &str) -> String {
    if naming::validate_metric_name(name).is_ok() {
        return name.to_owned();
    }
    // The naming rules' own suggestion; only an empty name has none.
    naming::rules::suggested_metric_name(name)
        .unwrap_or_else(|| format!("_{}", naming::sanitize(name)))
}

/// One family of a namespace, ready to be registered.
struct FamilyView {
    key: FamilyKey,
    /// The unit its writer recorded (empty: none).
    unit: String,
    description: String,
    metric_type: MetricType,
    /// The hash fields its series were made of.
    fields: usize,
    series: FamilySeries,
}

impl FamilyView {
    /// Registers the family with its series as they are now; returns how many series were
    /// registered.
    fn register_fixed(mut self, registry: &Registry) -> usize {
        let empty = FamilySeries {
            metric_type: self.metric_type,
            series: Vec::new(),
        };
        let data = std::mem::replace(&mut self.series, empty);
        let series = data.series.len();
        if self.register(registry, Arc::new(FixedFamily(Arc::new(data)))) {
            series
        } else {
            0
        }
    }

    /// Registers `collector` under this family's name and scope; `false` (and its fields
    /// counted as skipped) if the registry refuses it.
    fn register(&self, registry: &Registry, collector: Arc<impl Collect>) -> bool {
        let mut metadata = Metadata::named(self.key.1.clone()).scope(self.key.0.clone());
        if !self.unit.is_empty() {
            metadata = metadata.with_unit(self.unit.clone());
        }
        let described = if self.description.is_empty() {
            metadata.clone()
        } else {
            metadata.clone().with_description(self.description.clone())
        };
        // Namespaces sharing a family may describe it differently: keep the first.
        let result = registry
            .register(described, collector.clone())
            .or_else(|_| registry.register(metadata, collector));
        if result.is_err() {
            count_skipped(self.fields);
        }
        result.is_ok()
    }
}

/// The series of one family at one read, sorted by their rendered labels.
#[derive(Debug)]
struct FamilySeries {
    metric_type: MetricType,
    series: Vec<ViewSeries>,
}

#[derive(Debug)]
struct ViewSeries {
    pairs: Vec<(String, String)>,
    rendered: String,
    /// The hash fields it was made of.
    fields: usize,
    metric: StoredMetric,
}

/// The families of several namespaces, with those exposed in one scope under one name (two
/// namespaces given the same scope) merged into the first: a series the first already has, and
/// a family of another type, are skipped and their fields counted.
fn merge_views(views: Vec<FamilyView>) -> Vec<FamilyView> {
    let mut out: Vec<FamilyView> = Vec::new();
    let mut index: HashMap<FamilyKey, usize> = HashMap::new();
    for view in views {
        let Some(first) = index.get(&view.key).and_then(|&i| out.get_mut(i)) else {
            index.insert(view.key.clone(), out.len());
            out.push(view);
            continue;
        };
        if first.metric_type != view.metric_type {
            count_skipped(view.fields);
            continue;
        }
        if first.description.is_empty() {
            first.description = view.description;
        }
        let mut known: BTreeSet<String> = first
            .series
            .series
            .iter()
            .map(|s| s.rendered.clone())
            .collect();
        for series in view.series.series {
            if known.insert(series.rendered.clone()) {
                first.fields += series.fields;
                first.series.series.push(series);
            } else {
                count_skipped(series.fields);
            }
        }
        first
            .series
            .series
            .sort_by(|a, b| a.rendered.cmp(&b.rendered));
    }
    out
}

impl FamilySeries {
    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        for series in &self.series {
            let pairs: Vec<(&str, &str)> = series
                .pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            f(
                &SeriesLabels::from_pairs(&pairs, &series.rendered),
                &series.metric,
            );
        }
    }
}

/// A family read once ([`RedisExposition::registry`]): its series never change.
struct FixedFamily(Arc<FamilySeries>);

impl Collect for FixedFamily {
    fn collect_type(&self) -> MetricType {
        self.0.metric_type
    }

    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        self.0.collect(f)
    }

    fn check(&self) -> Result<(), crate::Error> {
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A series read from the store, exposed as a constant.
#[derive(Debug, Clone)]
enum StoredMetric {
    Counter(f64),
    Gauge(f64),
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        sum: f64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        sum: f64,
        count: u64,
        max: f64,
    },
}

fn to_count(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n.round() as u64
    } else {
        0
    }
}

fn number(value: f64) -> Number {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        if value >= 0.0 {
            Number::UInt(value as u64)
        } else {
            Number::Int(value as i64)
        }
    } else {
        Number::Float(value)
    }
}

impl StoredMetric {
    fn from_series(type_code: TypeCode, s: &SeriesData, quantiles: &[f64]) -> Self {
        match type_code {
            TypeCode::Counter => StoredMetric::Counter(s.value.unwrap_or(0.0)),
            TypeCode::Gauge => StoredMetric::Gauge(s.value.unwrap_or(0.0)),
            TypeCode::Histogram => {
                let mut buckets: Vec<(f64, f64)> = s.buckets.clone();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut bounds = Vec::with_capacity(buckets.len());
                let mut counts = Vec::with_capacity(buckets.len() + 1);
                let mut inf = 0u64;
                for (bound, n) in buckets {
                    if bound.is_finite() {
                        bounds.push(bound);
                        counts.push(to_count(n));
                    } else if bound > 0.0 {
                        inf += to_count(n);
                    }
                }
                counts.push(inf);
                StoredMetric::Histogram {
                    bounds,
                    counts,
                    sum: s.sum,
                }
            }
            TypeCode::Summary => StoredMetric::Summary {
                // Another writer's quantiles as it wrote them; this crate's from the sketch.
                quantiles: if s.quantiles.is_empty() {
                    quantiles
                        .iter()
                        .map(|q| (*q, s.sketch.quantile(*q)))
                        .collect()
                } else {
                    s.quantiles.clone()
                },
                sum: s.sum,
                count: s.count.map_or_else(|| s.sketch.count(), to_count),
                max: s.sketch.max(),
            },
        }
    }
}

impl Metric for StoredMetric {
    fn metric_type(&self) -> MetricType {
        match self {
            StoredMetric::Counter(_) => MetricType::Counter,
            StoredMetric::Gauge(_) => MetricType::Gauge,
            StoredMetric::Histogram { .. } => MetricType::Histogram,
            StoredMetric::Summary { .. } => MetricType::Summary,
        }
    }

    fn visit(&self, visitor: &mut dyn Visitor) {
        match self {
            StoredMetric::Counter(v) => visitor.counter(number(v.max(0.0))),
            StoredMetric::Gauge(v) => visitor.gauge(number(*v)),
            StoredMetric::Histogram {
                bounds,
                counts,
                sum,
            } => visitor.histogram(&HistogramView::new(
                bounds,
                BucketCounts::Plain(counts),
                *sum,
            )),
            StoredMetric::Summary {
                quantiles,
                sum,
                count,
                max,
            } => visitor.summary(&SummaryView {
                quantiles,
                sum: *sum,
                count: *count,
                max: *max,
            }),
        }
    }
}

/// The scope a namespace is exposed in: `base`, `vendor` and `application` are those scopes;
/// any other namespace is a custom scope of the same name, with characters outside
/// `[a-zA-Z0-9_]` replaced by `_` (and `_` put before a leading digit).
///
/// ```
/// use microprofile::{redis::scope_for_namespace, Scope};
/// assert_eq!(scope_for_namespace("application"), Scope::Application);
/// assert_eq!(scope_for_namespace("my-shop").as_str(), "my_shop");
/// ```
pub fn scope_for_namespace(namespace: &str) -> Scope {
    let mut name = crate::naming::sanitize(namespace);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    Scope::new(name.clone()).unwrap_or(Scope::Custom(name.into()))
}

/// The field–value pairs of an `HGETALL` reply, and how many were not UTF-8 strings.
fn string_pairs(items: Vec<Reply>) -> (Vec<(String, String)>, usize) {
    let mut bad = 0usize;
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        match (k, v) {
            (Reply::Bulk(Some(k)), Reply::Bulk(Some(v))) => {
                match (String::from_utf8(k), String::from_utf8(v)) {
                    (Ok(k), Ok(v)) => pairs.push((k, v)),
                    _ => bad += 1,
                }
            }
            _ => bad += 1,
        }
    }
    (pairs, bad)
}

/// Reads namespaces from a Redis and exposes them: one round trip of two `HGETALL`s (the
/// namespace's hash and its [`meta_key`](super::meta_key) hash) per namespace on every
/// [`registry`](Self::registry) call (a scrape), over a cached connection with timeouts.
pub struct RedisExposition {
    target: resp::Target,
    url: String,
    namespaces: Vec<(String, Scope)>,
    quantiles: Vec<f64>,
    timeout: Duration,
    connection: Mutex<Option<resp::Connection>>,
}

impl std::fmt::Debug for RedisExposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisExposition")
            .field("url", &self.url)
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl RedisExposition {
    /// Exposes these namespaces of the Redis at `url`, each in the scope
    /// [`scope_for_namespace`] gives it. Does not connect yet.
    pub fn new<S: AsRef<str>>(url: &str, namespaces: &[S]) -> Result<RedisExposition, StoreError> {
        super::register_vendor_metrics();
        register_exporter_metrics();
        let target = resp::Target::parse(url).map_err(|reason| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason,
        })?;
        let mut list = Vec::new();
        for ns in namespaces {
            let ns = ns.as_ref();
            if ns.is_empty() {
                return Err(StoreError::InvalidNamespace {
                    namespace: ns.to_owned(),
                });
            }
            list.push((ns.to_owned(), scope_for_namespace(ns)));
        }
        Ok(RedisExposition {
            target,
            url: url.to_owned(),
            namespaces: list,
            quantiles: DEFAULT_QUANTILES.to_vec(),
            timeout: Duration::from_secs(2),
            connection: Mutex::new(None),
        })
    }

    /// Exposes one namespace in a scope of your choice (for example the application scope).
    pub fn with_scope(mut self, namespace: &str, scope: Scope) -> RedisExposition {
        match self.namespaces.iter_mut().find(|(n, _)| n == namespace) {
            Some(entry) => entry.1 = scope,
            None => self.namespaces.push((namespace.to_owned(), scope)),
        }
        self
    }

    /// The quantiles of summaries (default: the MicroProfile ones).
    pub fn quantiles(mut self, quantiles: &[f64]) -> RedisExposition {
        self.quantiles = quantiles
            .iter()
            .copied()
            .filter(|q| (0.0..=1.0).contains(q))
            .collect();
        self
    }

    /// The connect and read timeout (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> RedisExposition {
        self.timeout = timeout;
        self
    }

    /// The namespaces and their scopes.
    pub fn namespaces(&self) -> &[(String, Scope)] {
        &self.namespaces
    }

    /// Reads one namespace's hash and its metadata hash (two `HGETALL`s in one round trip,
    /// within the timeout).
    pub fn read(&self, namespace: &str) -> Result<NamespaceData, StoreError> {
        let mut guard = self.connection.lock();
        if guard.is_none() {
            let c = resp::Connection::open(&self.target, self.timeout, self.timeout)
                .map_err(|e| self.unavailable(e.to_string()))?;
            *guard = Some(c);
        }
        // The namespace's hash and its metadata hash, in one round trip.
        let meta_key = super::meta_key(namespace);
        let mut request = Vec::new();
        resp::encode(&mut request, &[b"HGETALL", namespace.as_bytes()]);
        resp::encode(&mut request, &[b"HGETALL", meta_key.as_bytes()]);
        let result = match guard.as_mut() {
            Some(c) => c.exchange(&request, 2, self.timeout),
            None => return Err(self.unavailable("no connection".to_owned())),
        };
        let (items, meta) = match result {
            Ok(replies) => match <[Reply; 2]>::try_from(replies) {
                Ok([Reply::Array(Some(items)), Reply::Array(Some(meta))]) => (items, meta),
                Ok([Reply::Error(e), _] | [_, Reply::Error(e)]) => return Err(self.unavailable(e)),
                other => {
                    *guard = None;
                    return Err(self.unavailable(format!("unexpected reply {other:?}")));
                }
            },
            Err(e) => {
                *guard = None;
                return Err(self.unavailable(e.to_string()));
            }
        };
        let (fields, bad) = string_pairs(items);
        let mut data = NamespaceData::decode(fields);
        let (meta, bad_meta) = string_pairs(meta);
        data.apply_meta(meta);
        count_skipped(bad + bad_meta);
        for _ in 0..bad + bad_meta {
            data.errors
                .push("a field or value is not a UTF-8 string".to_owned());
        }
        Ok(data)
    }

    fn unavailable(&self, reason: String) -> StoreError {
        StoreError::Unavailable {
            url: self.url.clone(),
            reason,
            pending: 0,
        }
    }

    /// A fresh registry holding every namespace's series (read now), each in its scope.
    pub fn registry(&self) -> Result<Registry, StoreError> {
        let registry = Registry::new();
        self.register_into(&registry)?;
        Ok(registry)
    }

    /// Reads every namespace now and registers its series into `registry` (which should be
    /// fresh: series already there conflict). Returns how many series were registered.
    pub fn register_into(&self, registry: &Registry) -> Result<usize, StoreError> {
        let mut views = Vec::new();
        for (namespace, scope) in &self.namespaces {
            views.extend(self.read(namespace)?.views(scope, &self.quantiles));
        }
        Ok(merge_views(views)
            .into_iter()
            .map(|view| view.register_fixed(registry))
            .sum())
    }

    /// Reads every namespace and encodes the selection in `format`.
    pub fn render(&self, format: Format, selection: Selection<'_>) -> Result<String, StoreError> {
        Ok(self.registry()?.encode_to_string(format, selection))
    }
}

/// Every family of a [`LiveExposition`] as one refresh read it.
#[derive(Default)]
struct Snapshot {
    families: HashMap<FamilyKey, Arc<FamilySeries>>,
    series: usize,
}

/// A family of a [`LiveExposition`], as registered: its series are those of the current
/// snapshot, all read from it at once.
struct LiveFamily {
    key: FamilyKey,
    metric_type: MetricType,
    /// The exposition's current snapshot (kept when the exposition is dropped).
    current: Arc<RwLock<Arc<Snapshot>>>,
    /// The exposition, to refresh stale values.
    shared: Weak<LiveShared>,
}

impl Collect for LiveFamily {
    fn collect_type(&self) -> MetricType {
        self.metric_type
    }

    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        if let Some(shared) = self.shared.upgrade() {
            shared.refresh_if_stale();
        }
        // One read of the snapshot for the whole family: its series all come from one refresh.
        let snapshot = Arc::clone(&self.current.read());
        if let Some(family) = snapshot.families.get(&self.key) {
            if family.metric_type == self.metric_type {
                family.collect(f);
            }
        }
    }

    fn check(&self) -> Result<(), crate::Error> {
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct LiveState {
    /// The families registered, with the type, unit and description they were registered with.
    registered: HashMap<FamilyKey, (MetricType, String, String)>,
    refreshed: Option<Instant>,
}

struct LiveShared {
    exposition: RedisExposition,
    registry: &'static Registry,
    max_age: Duration,
    /// Held by a refresh from its read to its swap: one refresh at a time.
    state: Mutex<LiveState>,
    /// The last complete read, replaced whole (under this lock, held only for the swap).
    current: Arc<RwLock<Arc<Snapshot>>>,
    me: Weak<LiveShared>,
}

impl LiveShared {
    fn refresh_if_stale(&self) {
        // A refresh under way (another scrape, the background thread): use the values we have.
        let Some(mut state) = self.state.try_lock() else {
            return;
        };
        if state
            .refreshed
            .is_some_and(|at| at.elapsed() < self.max_age)
        {
            return;
        }
        let _ = self.sync(&mut state);
    }

    /// Reads every namespace, builds the new snapshot whole, registers the families that are
    /// new, swaps the snapshot in, then removes the families that are gone. A scrape reads
    /// each family from one snapshot, the previous or the new one, never a mix, and a family
    /// present in both is never missing from the registry meanwhile.
    fn sync(&self, state: &mut LiveState) -> Result<usize, StoreError> {
        state.refreshed = Some(Instant::now());
        let mut views: Vec<FamilyView> = Vec::new();
        for (namespace, scope) in &self.exposition.namespaces {
            let data = match self.exposition.read(namespace) {
                Ok(data) => data,
                Err(e) => {
                    READ_ERRORS.inc();
                    return Err(e);
                }
            };
            views.extend(data.views(scope, &self.exposition.quantiles));
        }
        let mut next = Snapshot::default();
        for view in merge_views(views) {
            let wanted = (
                view.metric_type,
                view.unit.clone(),
                view.description.clone(),
            );
            let registered = state.registered.get(&view.key);
            if registered != Some(&wanted) {
                if registered.is_some() {
                    // The family changed type or description: it is registered again.
                    self.registry.remove(&view.key.0, &view.key.1, &[]);
                    state.registered.remove(&view.key);
                }
                let live = Arc::new(LiveFamily {
                    key: view.key.clone(),
                    metric_type: view.metric_type,
                    current: Arc::clone(&self.current),
                    shared: self.me.clone(),
                });
                if !view.register(self.registry, live) {
                    continue;
                }
                state.registered.insert(view.key.clone(), wanted);
            }
            next.series += view.series.series.len();
            next.families.insert(view.key, Arc::new(view.series));
        }
        let series = next.series;
        let gone: Vec<FamilyKey> = state
            .registered
            .keys()
            .filter(|key| !next.families.contains_key(*key))
            .cloned()
            .collect();
        // The swap: a scrape holds the lock only to clone the `Arc`.
        let previous = std::mem::replace(&mut *self.current.write(), Arc::new(next));
        drop(previous);
        for key in gone {
            self.registry.remove(&key.0, &key.1, &[]);
            state.registered.remove(&key);
        }
        Ok(series)
    }
}

/// Namespaces of a Redis kept in step with a registry, so that whatever serves the registry
/// (the built-in listener, an axum route, [`Registry::encode`]) serves them too.
///
/// Every scrape reads the namespaces again (at most once per `max_age`, 250 ms by default); a
/// background thread also refreshes every `interval` (5 s by default). When Redis cannot be
/// read, the last values stay and `microprofile_redis_read_errors_total` counts the failure.
///
/// A refresh reads every namespace, builds the new values whole, and only then swaps them in
/// (one `Arc`, under a lock held for the swap alone). Each family is registered once, as one
/// member whose series are read from the current values in one go, so a scrape running during a
/// refresh sees every family either as it was or as it is now, never part of it or a mix of both
/// reads. Families that appear in Redis are registered before the swap (they show from it on);
/// families that disappear are removed after it; a family whose type or description (`t`, `d`)
/// changes is registered again, so that one family may be missing from a scrape running during
/// that refresh. (Two families of one scrape may come from two consecutive refreshes, as two
/// scrapes would.)
///
/// Dropping it stops the background thread; the families stay registered with their last values.
pub struct LiveExposition {
    shared: Arc<LiveShared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LiveExposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveExposition")
            .field("exposition", &self.shared.exposition)
            .finish_non_exhaustive()
    }
}

impl LiveExposition {
    /// Reads Redis now and registers the series; returns how many series are served, or `Err`
    /// (the last values kept, the background refresh running) if Redis could not be read.
    pub fn refresh(&self) -> Result<usize, StoreError> {
        let mut state = self.shared.state.lock();
        self.shared.sync(&mut state)
    }

    /// How many series are served.
    pub fn series(&self) -> usize {
        self.shared.current.read().series
    }
}

impl Drop for LiveExposition {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl RedisExposition {
    /// Keeps `registry` in step with these namespaces (see [`LiveExposition`]): reads them
    /// now, then at every scrape (at most once per `max_age`) and every `interval`.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use microprofile::redis::RedisExposition;
    /// let live = RedisExposition::new("redis://127.0.0.1:6379", &["shop"])?
    ///     .attach(microprofile::global(), Duration::from_millis(250), Duration::from_secs(5));
    /// // microprofile::Server::start() now also serves namespace `shop` in scope `shop`.
    /// # Ok::<(), microprofile::redis::StoreError>(())
    /// ```
    pub fn attach(
        self,
        registry: &'static Registry,
        max_age: Duration,
        interval: Duration,
    ) -> LiveExposition {
        let shared = Arc::new_cyclic(|me| LiveShared {
            exposition: self,
            registry,
            max_age,
            state: Mutex::new(LiveState {
                registered: HashMap::new(),
                refreshed: None,
            }),
            current: Arc::new(RwLock::new(Arc::new(Snapshot::default()))),
            me: me.clone(),
        });
        {
            let mut state = shared.state.lock();
            let _ = shared.sync(&mut state);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(&shared);
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("microprofile-redis-refresh".to_owned())
            .spawn(move || loop {
                std::thread::park_timeout(interval.max(Duration::from_millis(10)));
                if thread_stop.load(Ordering::Acquire) {
                    return;
                }
                let Some(shared) = weak.upgrade() else { return };
                let mut state = shared.state.lock();
                let _ = shared.sync(&mut state);
            })
            .ok();
        LiveExposition {
            shared,
            stop,
            thread,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn renders_every_type() {
        let data = NamespaceData::decode(fields(&[
            ("requests:t:", "c"),
            ("requests:d:", "Requests \"served\"."),
            ("requests::method=\"GET\"", "7"),
            ("requests::method=\"P%3AO%2CS%22T\"", "2"),
            ("temp:t:", "g"),
            ("temp::", "21.5"),
            ("lat:t:", "h"),
            // Cumulative, as stored.
            ("lat:b:le=\"0.5\"", "2"),
            ("lat:b:le=\"1.0\"", "3"),
            ("lat:b:le=\"+Inf\"", "4"),
            ("lat:s:", "3.25"),
            ("lat:c:", "4"),
            ("size:t:", "s"),
            ("size:b:__key=\"p0\"", "1"),
            ("size:s:", "1"),
            ("size:c:", "1"),
            ("broken", "1"),
        ]));
        assert_eq!(data.errors.len(), 1);
        let registry = Registry::new();
        assert_eq!(
            data.register_into(&registry, &Scope::Application, &[0.5]),
            5
        );
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        for line in [
            "# HELP requests_total Requests \"served\".",
            "# TYPE requests_total counter",
            "requests_total{method=\"GET\",mp_scope=\"application\"} 7",
            "requests_total{method=\"P:O,S\\\"T\",mp_scope=\"application\"} 2",
            "temp{mp_scope=\"application\"} 21.5",
            "lat_bucket{mp_scope=\"application\",le=\"0.5\"} 2",
            "lat_bucket{mp_scope=\"application\",le=\"1.0\"} 3",
            "lat_bucket{mp_scope=\"application\",le=\"+Inf\"} 4",
            "lat_count{mp_scope=\"application\"} 4",
            "lat_sum{mp_scope=\"application\"} 3.25",
            "size{mp_scope=\"application\",quantile=\"0.5\"} 0.99",
            "size_count{mp_scope=\"application\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn infers_types_and_fills_missing_labels() {
        let data = NamespaceData::decode(fields(&[
            ("g::a=\"1\"", "1"),
            // `v`, as earlier versions wrote, still reads as a value.
            ("g:v:b=\"2\"", "2"),
            ("h:b:le=\"1\"", "1"),
            ("h:b:le=\"+Inf\"", "1"),
            ("s:b:__key=\"p3\"", "2"),
        ]));
        assert_eq!(data.families["g"].type_code, Some(TypeCode::Gauge));
        assert_eq!(data.families["h"].type_code, Some(TypeCode::Histogram));
        assert_eq!(data.families["s"].type_code, Some(TypeCode::Summary));
        let registry = Registry::new();
        assert_eq!(
            data.register_into(&registry, &Scope::Application, &[0.5]),
            4
        );
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        assert!(
            text.contains("g{a=\"1\",b=\"\",mp_scope=\"application\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn a_hostile_field_is_skipped_alone() {
        let data = NamespaceData::decode(fields(&[
            ("jobs:t:", "c"),
            ("jobs::queue=\"a\"", "3"),
            ("jobs::queue=\"b\"", "4"),
            ("jobs::le=\"1\"", "1"),
            ("jobs::quantile=\"1\"", "1"),
            ("jobs::mp_scope=\"x\"", "1"),
            ("jobs::__name__=\"x\"", "1"),
            ("jobs::queue=\"c\"", "many"),
            // Not an escape: another writer's plain value, read as it is.
            ("jobs::queue=\"%g1\"", "1"),
            ("jobs::queue=\"d\"", "-1"),
            ("jobs:b:le=\"1\",queue=\"a\"", "1"),
            ("jobs:s:queue=\"a\"", "1"),
            ("jobs:t:queue=\"a\"", "g"),
            ("jobs:d:queue=\"a\"", "Other."),
            ("jobs:x:", "1"),
            // A name the exposition cannot take as it is: sanitised, not dropped.
            ("1jobs::", "1"),
            ("lat:t:", "h"),
            ("lat:b:le=\"1\"", "2"),
            ("lat:b:le=\"NaN\"", "2"),
            ("lat:b:__key=\"p1\"", "2"),
            ("lat:c:", "2"),
            ("lat:c:x=\"1\"", "+Inf"),
            ("lat::", "2"),
            ("odd:t:", "z"),
            ("odd::", "1"),
        ]));
        assert_eq!(data.errors.len(), 16, "{:#?}", data.errors);
        let jobs = &data.families["jobs"];
        assert_eq!(jobs.type_code, Some(TypeCode::Counter));
        assert_eq!(jobs.series.len(), 3);
        assert_eq!(data.families["lat"].series.len(), 1);
        assert_eq!(
            data.families["lat"].series.values().next().unwrap().fields,
            2
        );
        // `odd` lost its `t` field: its type is the one its fields show.
        assert_eq!(data.families["odd"].type_code, Some(TypeCode::Gauge));
        let registry = Registry::new();
        assert_eq!(
            data.register_into(&registry, &Scope::Application, &[0.5]),
            6
        );
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        for line in [
            "jobs_total{queue=\"a\",mp_scope=\"application\"} 3",
            "jobs_total{queue=\"b\",mp_scope=\"application\"} 4",
            "jobs_total{queue=\"%g1\",mp_scope=\"application\"} 1",
            "lat_bucket{mp_scope=\"application\",le=\"1.0\"} 2",
            "lat_bucket{mp_scope=\"application\",le=\"+Inf\"} 2",
            "lat_count{mp_scope=\"application\"} 2",
            "odd{mp_scope=\"application\"} 1",
            "_1jobs{mp_scope=\"application\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("jobs_total{").count(), 3, "{text}");
    }

    #[test]
    fn cumulative_buckets_are_checked_and_completed() {
        let data = NamespaceData::decode(fields(&[
            ("h:t:", "h"),
            // No +Inf bucket: the count is.
            ("h:b:le=\"1\",s=\"count\"", "2"),
            ("h:b:le=\"2\",s=\"count\"", "5"),
            ("h:c:s=\"count\"", "6"),
            // No count: the +Inf bucket is.
            ("h:b:le=\"1\",s=\"inf\"", "1"),
            ("h:b:le=\"+Inf\",s=\"inf\"", "3"),
            ("h:s:s=\"inf\"", "4.5"),
            // Decreasing: skipped whole (its 3 fields).
            ("h:b:le=\"1\",s=\"bad\"", "4"),
            ("h:b:le=\"2\",s=\"bad\"", "3"),
            ("h:c:s=\"bad\"", "4"),
            // Neither +Inf nor count: skipped (1 field).
            ("h:b:le=\"1\",s=\"bare\"", "4"),
        ]));
        assert_eq!(data.errors.len(), 2, "{:#?}", data.errors);
        let series = &data.families["h"].series;
        let get = |s: &str| &series[&vec![("s".to_owned(), s.to_owned())]];
        assert_eq!(
            get("count").buckets,
            vec![(1.0, 2.0), (2.0, 3.0), (f64::INFINITY, 1.0)]
        );
        assert_eq!(get("inf").buckets, vec![(1.0, 1.0), (f64::INFINITY, 2.0)]);
        assert_eq!(get("inf").count, Some(3.0));
        assert_eq!(series.len(), 2);
    }

    #[test]
    fn another_writers_quantiles_make_a_summary() {
        // The design document's summary example (its one typo, `quantile:=`, left out).
        let data = NamespaceData::decode(fields(&[
            ("rpc_duration_seconds::quantile=\"0.05\"", "3272"),
            ("rpc_duration_seconds::quantile=\"0.5\"", "4773"),
            ("rpc_duration_seconds::quantile=\"0.9\"", "9001"),
            ("rpc_duration_seconds::quantile=\"0.99\"", "76656"),
            ("rpc_duration_seconds:sum:", "1.7560473e+07"),
            ("rpc_duration_seconds:count:", "2693"),
            ("rpc_duration_seconds:description:", "Duration of RPC"),
            ("rpc_duration_seconds:type:", "summary"),
        ]));
        assert!(data.errors.is_empty(), "{:#?}", data.errors);
        let registry = Registry::new();
        assert_eq!(
            data.register_into(&registry, &Scope::Application, &[0.5]),
            1
        );
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        for line in [
            "# HELP rpc_duration_seconds Duration of RPC",
            "# TYPE rpc_duration_seconds summary",
            "rpc_duration_seconds{mp_scope=\"application\",quantile=\"0.05\"} 3272.0",
            "rpc_duration_seconds{mp_scope=\"application\",quantile=\"0.99\"} 76656.0",
            "rpc_duration_seconds_count{mp_scope=\"application\"} 2693",
            "rpc_duration_seconds_sum{mp_scope=\"application\"} 17560473.0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn recorded_scope_and_unit_are_exposed() {
        let mut data = NamespaceData::decode(fields(&[
            ("latency_seconds:t:", "h"),
            ("latency_seconds:b:le=\"+Inf\"", "1"),
            ("latency_seconds:s:", "0.5"),
            ("latency_seconds:c:", "1"),
            ("cpu:t:", "g"),
            ("cpu::", "2"),
            ("plain:t:", "c"),
            ("plain::", "2"),
        ]));
        data.apply_meta(fields(&[
            ("latency_seconds", "mp_scope=\"vendor\",unit=\"seconds\""),
            ("cpu", "mp_scope=\"base\",unit=\"percent\""),
            ("gone", "mp_scope=\"base\",unit=\"\""),
            ("plain", "broken"),
        ]));
        assert_eq!(data.errors.len(), 1, "{:#?}", data.errors);
        let registry = Registry::new();
        assert_eq!(
            data.register_into(&registry, &scope_for_namespace("shop"), &[0.5]),
            3
        );
        let text = registry.encode_to_string(Format::OpenMetrics, Selection::All);
        for line in [
            "# UNIT latency_seconds seconds",
            "latency_seconds_count{mp_scope=\"vendor\"} 1",
            "# UNIT cpu_percent percent",
            "cpu_percent{mp_scope=\"base\"} 2",
            "plain_total{mp_scope=\"shop\"} 2",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_family_the_registry_refuses_is_skipped_alone() {
        let registry = Registry::new();
        registry
            .gauge(Metadata::new("taken").scope(Scope::Application))
            .unwrap();
        let data = NamespaceData::decode(fields(&[
            ("taken:t:", "c"),
            ("taken::a=\"1\"", "1"),
            ("taken::a=\"2\"", "1"),
            ("free::", "2"),
        ]));
        assert!(data.errors.is_empty());
        let before = SKIPPED_FIELDS.get();
        assert_eq!(
            data.register_into(&registry, &Scope::Application, &[0.5]),
            1
        );
        assert!(SKIPPED_FIELDS.get() >= before + 2);
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        assert!(text.contains("free{mp_scope=\"application\"} 2"), "{text}");
    }

    #[test]
    fn namespaces_sharing_a_scope_are_merged_family_by_family() {
        let a = NamespaceData::decode(fields(&[
            ("jobs:t:", "c"),
            ("jobs::q=\"a\"", "1"),
            ("temp::", "3"),
        ]));
        let b = NamespaceData::decode(fields(&[
            ("jobs:t:", "c"),
            ("jobs:d:", "Jobs."),
            ("jobs::q=\"a\"", "5"),
            ("jobs::q=\"b\"", "2"),
            ("temp:t:", "h"),
            ("temp:b:le=\"1\"", "1"),
            ("temp:c:", "1"),
        ]));
        let scope = Scope::Application;
        let mut views = a.views(&scope, &[0.5]);
        views.extend(b.views(&scope, &[0.5]));
        let before = SKIPPED_FIELDS.get();
        let merged = merge_views(views);
        // `jobs{q="a"}` of b (1 field) and the histogram `temp` of b (1 field) are skipped.
        assert!(SKIPPED_FIELDS.get() >= before + 2);
        let registry = Registry::new();
        let registered: usize = merged
            .into_iter()
            .map(|v| v.register_fixed(&registry))
            .sum();
        assert_eq!(registered, 3);
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        for line in [
            "# HELP jobs_total Jobs.",
            "jobs_total{q=\"a\",mp_scope=\"application\"} 1",
            "jobs_total{q=\"b\",mp_scope=\"application\"} 2",
            "temp{mp_scope=\"application\"} 3",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn parses_floats_of_any_writer() {
        assert_eq!(parse_float("1e+20"), Some(1e20));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("x"), None);
    }
}
