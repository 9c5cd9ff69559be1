//! The reading side: a namespace read with `HGETALL`, decoded into families, and turned into a
//! [`Registry`] so that it is encoded by the same encoder as every other metric (identical,
//! promtool-clean output).

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
use crate::metric::summary::DEFAULT_QUANTILES;
use crate::metric::MetricType;
use crate::metric::{BucketCounts, HistogramView, Metric, Number, SummaryView, Visitor};
use crate::registry::{Registry, Selection};
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

/// One series of a decoded family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    /// The `v` field (counters and gauges).
    pub value: Option<f64>,
    /// The `s` field.
    pub sum: f64,
    /// The `c` field.
    pub count: Option<f64>,
    /// Histogram buckets: upper bound → observations in that bucket (not cumulative).
    pub buckets: Vec<(f64, f64)>,
    /// Summary sketch buckets, merged.
    pub sketch: Sketch,
}

/// One decoded family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyData {
    /// The `d` field.
    pub description: Option<String>,
    /// The `t` field, or the type inferred from the fields when it is missing.
    pub type_code: Option<TypeCode>,
    /// Series by their labels (sorted, without `le` / `__key`).
    pub series: BTreeMap<Vec<(String, String)>, SeriesData>,
}

/// A namespace's contents, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceData {
    /// Families by metric name.
    pub families: BTreeMap<String, FamilyData>,
    /// Fields that could not be read, with the reason (also counted in
    /// `microprofile_redis_decode_errors_total`).
    pub errors: Vec<String>,
}

impl NamespaceData {
    /// Decodes the fields and values of a namespace's hash. Fields that do not decode are
    /// listed in [`errors`](Self::errors) and skipped; the rest is still used.
    ///
    /// ```
    /// use microprofile::redis::NamespaceData;
    /// let data = NamespaceData::decode([
    ///     ("jobs:t:".to_owned(), "c".to_owned()),
    ///     ("jobs:v:queue=\"a\"".to_owned(), "3".to_owned()),
    ///     ("jobs:v:queue=\"a\"".to_owned(), "2".to_owned()), // same series: added
    /// ]);
    /// let series = &data.families["jobs"].series;
    /// assert_eq!(series.values().next().unwrap().value, Some(5.0));
    /// ```
    pub fn decode(fields: impl IntoIterator<Item = (String, String)>) -> NamespaceData {
        let mut data = NamespaceData::default();
        for (name, value) in fields {
            if let Err(reason) = data.add(&name, &value) {
                DECODE_ERRORS.inc();
                data.errors.push(format!("{name:?}: {reason}"));
            }
        }
        for family in data.families.values_mut() {
            if family.type_code.is_none() {
                family.type_code = Some(infer_type(family));
            }
        }
        data
    }

    fn add(&mut self, field_name: &str, value: &str) -> Result<(), String> {
        let field = codec::decode_field(field_name).map_err(|e| e.to_string())?;
        let family = self.families.entry(field.name.clone()).or_default();
        let number = || parse_float(value).ok_or_else(|| format!("{value:?} is not a number"));
        match field.extension {
            Extension::Description => {
                family.description = Some(value.to_owned());
                return Ok(());
            }
            Extension::Type => {
                family.type_code = Some(
                    TypeCode::from_letter(value)
                        .ok_or_else(|| format!("unknown type {value:?}"))?,
                );
                return Ok(());
            }
            _ => {}
        }
        let mut labels = field.labels;
        let mut bound = None;
        let mut key = None;
        if field.extension == Extension::Bucket {
            if let Some(i) = labels.iter().position(|(n, _)| n == BUCKET_BOUND_LABEL) {
                let (_, le) = labels.remove(i);
                bound = Some(parse_float(&le).ok_or_else(|| format!("bad le {le:?}"))?);
            } else if let Some(i) = labels.iter().position(|(n, _)| n == SKETCH_KEY_LABEL) {
                let (_, k) = labels.remove(i);
                key = Some(SketchKey::parse(&k).ok_or_else(|| format!("bad sketch key {k:?}"))?);
            } else {
                return Err("a bucket field needs the label le or __key".to_owned());
            }
        }
        let n = number()?;
        let series = family.series.entry(labels).or_default();
        match field.extension {
            Extension::Value => *series.value.get_or_insert(0.0) += n,
            Extension::Sum => series.sum += n,
            Extension::Count => *series.count.get_or_insert(0.0) += n,
            Extension::Bucket => match (bound, key) {
                (Some(le), _) => match series.buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, c)) => *c += n,
                    None => series.buckets.push((le, n)),
                },
                (None, Some(k)) => {
                    if n < 0.0 || !n.is_finite() {
                        return Err(format!("bad sketch count {value:?}"));
                    }
                    series.sketch.add_count(k, n as u64)
                }
                (None, None) => {}
            },
            Extension::Description | Extension::Type => {}
        }
        Ok(())
    }

    /// Registers every series into `registry`, in `scope`, as constant metrics: summaries get
    /// `quantiles` computed from the merged sketch. Returns how many series were registered;
    /// series that cannot be exposed (invalid or reserved label names, a name clash between
    /// types) are skipped and counted in `microprofile_redis_decode_errors_total`.
    pub fn register_into(&self, registry: &Registry, scope: &Scope, quantiles: &[f64]) -> usize {
        let mut registered = 0;
        for series in self.exposed_series(scope, quantiles) {
            if register_series(registry, &series, Arc::new(series.metric.clone())) {
                registered += 1;
            }
        }
        registered
    }

    /// Every series as it is registered: family name, description, scope, tags (absent label
    /// names filled with empty values) and value.
    fn exposed_series(&self, scope: &Scope, quantiles: &[f64]) -> Vec<ExposedSeries> {
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
            for (labels, series) in &family.series {
                let Some(metric) = StoredMetric::from_series(type_code, series, quantiles) else {
                    continue;
                };
                let tags = names
                    .iter()
                    .map(|label| {
                        let value = labels
                            .iter()
                            .find(|(n, _)| n == label)
                            .map_or(String::new(), |(_, v)| v.clone());
                        ((*label).to_owned(), value)
                    })
                    .collect();
                out.push(ExposedSeries {
                    name: name.clone(),
                    description: family.description.clone().unwrap_or_default(),
                    scope: scope.clone(),
                    tags,
                    metric,
                });
            }
        }
        out
    }
}

/// One series ready to be registered.
#[derive(Debug, Clone)]
struct ExposedSeries {
    name: String,
    description: String,
    scope: Scope,
    tags: Vec<(String, String)>,
    metric: StoredMetric,
}

type SeriesKey = (Scope, String, Vec<(String, String)>);

impl ExposedSeries {
    fn key(&self) -> SeriesKey {
        (self.scope.clone(), self.name.clone(), self.tags.clone())
    }
}

fn register_series(registry: &Registry, series: &ExposedSeries, metric: Arc<impl Metric>) -> bool {
    let mut metadata = Metadata::named(series.name.clone()).scope(series.scope.clone());
    for (n, v) in &series.tags {
        metadata = metadata.with_tag(n.clone(), v.clone());
    }
    let described = if series.description.is_empty() {
        metadata.clone()
    } else {
        metadata
            .clone()
            .with_description(series.description.clone())
    };
    // Namespaces sharing a family may describe it differently: keep the first.
    let result = registry
        .register(described, metric.clone())
        .or_else(|_| registry.register(metadata, metric));
    if result.is_err() {
        DECODE_ERRORS.inc();
    }
    result.is_ok()
}

fn infer_type(family: &FamilyData) -> TypeCode {
    let series = family.series.values();
    let mut kind = TypeCode::Gauge;
    for s in series {
        if !s.buckets.is_empty() {
            return TypeCode::Histogram;
        }
        if !s.sketch.is_empty() || s.count.is_some() {
            kind = TypeCode::Summary;
        }
    }
    kind
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
    fn from_series(type_code: TypeCode, s: &SeriesData, quantiles: &[f64]) -> Option<Self> {
        Some(match type_code {
            TypeCode::Counter => StoredMetric::Counter(s.value?),
            TypeCode::Gauge => StoredMetric::Gauge(s.value?),
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
                quantiles: quantiles
                    .iter()
                    .map(|q| (*q, s.sketch.quantile(*q)))
                    .collect(),
                sum: s.sum,
                count: s.count.map_or_else(|| s.sketch.count(), to_count),
                max: s.sketch.max(),
            },
        })
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

/// Reads namespaces from a Redis and exposes them: one `HGETALL` per namespace on every
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

    /// Reads one namespace's hash (one `HGETALL`, within the timeout).
    pub fn read(&self, namespace: &str) -> Result<NamespaceData, StoreError> {
        let mut guard = self.connection.lock();
        if guard.is_none() {
            let c = resp::Connection::open(&self.target, self.timeout, self.timeout)
                .map_err(|e| self.unavailable(e.to_string()))?;
            *guard = Some(c);
        }
        let mut request = Vec::new();
        resp::encode(&mut request, &[b"HGETALL", namespace.as_bytes()]);
        let result = match guard.as_mut() {
            Some(c) => c.exchange(&request, 1, self.timeout),
            None => return Err(self.unavailable("no connection".to_owned())),
        };
        let items = match result {
            Ok(mut replies) => match replies.pop() {
                Some(Reply::Array(Some(items))) => items,
                Some(Reply::Error(e)) => return Err(self.unavailable(e)),
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
        let mut bad = 0usize;
        let mut fields = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            match (k, v) {
                (Reply::Bulk(Some(k)), Reply::Bulk(Some(v))) => {
                    match (String::from_utf8(k), String::from_utf8(v)) {
                        (Ok(k), Ok(v)) => fields.push((k, v)),
                        _ => bad += 1,
                    }
                }
                _ => bad += 1,
            }
        }
        let mut data = NamespaceData::decode(fields);
        for _ in 0..bad {
            DECODE_ERRORS.inc();
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
        let mut registered = 0;
        for (namespace, scope) in &self.namespaces {
            let data = self.read(namespace)?;
            registered += data.register_into(registry, scope, &self.quantiles);
        }
        Ok(registered)
    }

    /// Reads every namespace and encodes the selection in `format`.
    pub fn render(&self, format: Format, selection: Selection<'_>) -> Result<String, StoreError> {
        Ok(self.registry()?.encode_to_string(format, selection))
    }
}

/// A series of a [`LiveExposition`]: its value is replaced by every refresh.
struct LiveMetric {
    metric_type: MetricType,
    value: RwLock<StoredMetric>,
    shared: Weak<LiveShared>,
}

impl Metric for LiveMetric {
    fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    fn visit(&self, visitor: &mut dyn Visitor) {
        if let Some(shared) = self.shared.upgrade() {
            shared.refresh_if_stale();
        }
        self.value.read().visit(visitor)
    }
}

struct LiveState {
    series: HashMap<SeriesKey, Arc<LiveMetric>>,
    refreshed: Option<Instant>,
}

struct LiveShared {
    exposition: RedisExposition,
    registry: &'static Registry,
    max_age: Duration,
    state: Mutex<LiveState>,
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

    fn sync(&self, state: &mut LiveState) -> Result<usize, StoreError> {
        state.refreshed = Some(Instant::now());
        let mut desired: HashMap<SeriesKey, ExposedSeries> = HashMap::new();
        for (namespace, scope) in &self.exposition.namespaces {
            let data = match self.exposition.read(namespace) {
                Ok(data) => data,
                Err(e) => {
                    READ_ERRORS.inc();
                    return Err(e);
                }
            };
            for series in data.exposed_series(scope, &self.exposition.quantiles) {
                desired.insert(series.key(), series);
            }
        }
        // Families whose set of series changed are registered again as a whole, since every
        // series of one family carries the same tag names.
        let mut changed: BTreeSet<(Scope, String)> = BTreeSet::new();
        for key in state.series.keys() {
            if !desired.contains_key(key) {
                changed.insert((key.0.clone(), key.1.clone()));
            }
        }
        for (key, series) in &desired {
            match state.series.get(key) {
                Some(live) if live.metric_type == series.metric.metric_type() => {}
                _ => {
                    changed.insert((key.0.clone(), key.1.clone()));
                }
            }
        }
        let in_changed = |key: &SeriesKey| changed.contains(&(key.0.clone(), key.1.clone()));
        let stale: Vec<SeriesKey> = state
            .series
            .keys()
            .filter(|k| in_changed(k))
            .cloned()
            .collect();
        for key in stale {
            let tags: Vec<(&str, &str)> = key
                .2
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            self.registry.remove(&key.0, &key.1, &tags);
            state.series.remove(&key);
        }
        for (key, series) in desired {
            if let Some(live) = state.series.get(&key) {
                *live.value.write() = series.metric;
                continue;
            }
            let live = Arc::new(LiveMetric {
                metric_type: series.metric.metric_type(),
                value: RwLock::new(series.metric.clone()),
                shared: self.me.clone(),
            });
            if register_series(self.registry, &series, live.clone()) {
                state.series.insert(key, live);
            }
        }
        Ok(state.series.len())
    }
}

/// Namespaces of a Redis kept in step with a registry, so that whatever serves the registry
/// (the built-in listener, an axum route, [`Registry::encode`]) serves them too.
///
/// Every scrape reads the namespaces again (at most once per `max_age`, 250 ms by default) and
/// updates the values in place; series that appear or disappear in Redis are added to or
/// removed from the registry by that refresh, so they show from the next scrape on. A background
/// thread also refreshes every `interval` (5 s by default). When Redis cannot be read, the last
/// values stay and `microprofile_redis_read_errors_total` counts the failure.
///
/// Dropping it stops the background thread; the series stay registered with their last values.
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
    /// Reads Redis now and registers the series; `Err` (with nothing registered yet, but the
    /// background refresh running) if Redis could not be read.
    pub fn refresh(&self) -> Result<usize, StoreError> {
        let mut state = self.shared.state.lock();
        self.shared.sync(&mut state)
    }

    /// How many series are registered.
    pub fn series(&self) -> usize {
        self.shared.state.lock().series.len()
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
                series: HashMap::new(),
                refreshed: None,
            }),
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
            ("requests:v:method=\"GET\"", "7"),
            ("requests:v:method=\"P%3AO%2CS%22T\"", "2"),
            ("temp:t:", "g"),
            ("temp:v:", "21.5"),
            ("lat:t:", "h"),
            ("lat:b:le=\"0.5\"", "2"),
            ("lat:b:le=\"1.0\"", "1"),
            ("lat:b:le=\"+Inf\"", "1"),
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
            ("g:v:a=\"1\"", "1"),
            ("g:v:b=\"2\"", "2"),
            ("h:b:le=\"1\"", "1"),
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
    fn parses_floats_of_any_writer() {
        assert_eq!(parse_float("1e+20"), Some(1e20));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("x"), None);
    }
}
