//! The registry: every metric with its metadata, grouped into families by exposed name and split
//! into scopes.
//!
//! # The read path
//!
//! Every consumer of a registry (the text encoders, the listener and the axum router through
//! them, the Pushgateway client, snapshots, and the sinks that send what changed) reads it
//! through [`Registry::gather`], as client_golang's `Gatherer` feeds both `promhttp` and `push`.
//!
//! ```text
//!  metric (Counter, Histogram, Family<L, M>, a base collector, …)
//!    │ Collect::collect: SeriesLabels (pairs + rendered text) and &dyn Metric
//!    ▼
//!  Registry::gather(selection, &mut dyn Gather)      (plan copied out of the lock, then read)
//!    │ family(FamilyRead) · series(SeriesRead) · end_family(FamilyRead)
//!    ├─► encoding: Prometheus text / OpenMetrics ─► serve (listener, axum), export::push
//!    ├─► Registry::visit / Registry::snapshot (values for code)
//!    └─► Registry::gather_changes + DeltaCursor ─► sinks sending deltas (the Redis store's
//!                                                   attached registries; OTLP to come)
//! ```
//!
//! A consumer gets, per family, its metadata ([`FamilyInfo`], the help text), and per series the
//! member it belongs to (scope and declared tags, as pairs and rendered), its labels
//! ([`SeriesLabels`](crate::metric::SeriesLabels): pairs, and the rendered text kept as a cache
//! so the text encoders copy it out) and its value ([`Metric::visit`]). Nothing is rendered or
//! parsed that a consumer does not ask for.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use parking_lot::{Mutex, RwLock};

use crate::error::Error;
use crate::metadata::{Metadata, Scope, Site};
use crate::metric::counter::{Counter, FloatCounter};
use crate::metric::family;
use crate::metric::gauge::{CallbackGauge, ConcurrentGauge, FloatGauge, Gauge};
use crate::metric::histogram::{Histogram, Timer};
use crate::metric::MetricType;
use crate::metric::{Collect, Metric};
use crate::naming;
use crate::registry::global_tags::GlobalTags;

pub mod distribution;
pub use distribution::{DistributionConfig, DistributionProperty};
mod gather;
#[cfg(feature = "redis")]
pub(crate) use gather::series_key;
pub use gather::{
    Change, CounterChange, DeltaCursor, FamilyRead, Gather, HistogramChange, MemberRead,
    SeriesRead, SummaryChange,
};
pub(crate) mod global_tags;
mod reuse;
mod self_metrics;
use crate::metric::summary::Summary;

/// A `static` metric and its metadata, collected through `inventory` when the global registry is
/// first used. Made by [`register!`](crate::register!) and by the attribute macros.
pub struct StaticMetric {
    metadata: Metadata,
    metric: &'static dyn Collect,
    site: Site,
}

impl StaticMetric {
    /// Pairs a static metric with its metadata and declaration site.
    pub const fn new(metric: &'static dyn Collect, metadata: Metadata, site: Site) -> StaticMetric {
        StaticMetric {
            metadata,
            metric,
            site,
        }
    }
}

inventory::collect!(StaticMetric);

/// Registers a `static` metric with the global registry, with no run-time call: it is collected
/// when the registry is first used.
///
/// ```
/// use microprofile::{Counter, Metadata};
/// static ORDERS: Counter = Counter::new();
/// microprofile::register!(ORDERS, Metadata::new("orders").description("Orders placed.")
///     .tags(&[("shop", "main")]));
/// ORDERS.inc();
/// let text = microprofile::global().encode_to_string(microprofile::Format::Prometheus, microprofile::Selection::All);
/// assert!(text.contains("orders_total{shop=\"main\",mp_scope=\"application\"} 1"));
/// ```
#[macro_export]
macro_rules! register {
    ($metric:expr, $metadata:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::StaticMetric::new(&$metric, $metadata, $crate::site!())
        }
    };
}

#[derive(Clone)]
pub(crate) enum Source {
    Static(&'static dyn Collect),
    Shared(Arc<dyn Collect>, Arc<dyn Any + Send + Sync>),
    /// Several `static`s declared as one metric ([`reuse`]).
    Reused(Arc<reuse::Reused>),
}

impl Source {
    pub(crate) fn collector(&self) -> &dyn Collect {
        match self {
            Source::Static(c) => *c,
            Source::Shared(c, _) => &**c,
            Source::Reused(r) => &**r,
        }
    }

    /// The `static` declarations behind this source (none for a shared one).
    fn statics(&self) -> &[&'static dyn Collect] {
        match self {
            Source::Static(c) => std::slice::from_ref(c),
            Source::Shared(..) => &[],
            Source::Reused(r) => r.parts(),
        }
    }
}

/// What a family shares across its series.
#[derive(Debug, Clone)]
pub struct FamilyInfo {
    /// The exposed family name (`_total` included for counters).
    pub name: String,
    /// The type.
    pub metric_type: MetricType,
    /// The description (`# HELP`); the first non-empty one declared.
    pub description: String,
    /// The unit as exposed (`seconds` for timers, empty for none).
    pub unit: String,
    /// All tag and label names each series carries, sorted.
    pub tag_names: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) scope: Scope,
    pub(crate) tags: Arc<str>,
    /// The same tags as pairs, sorted by name.
    pub(crate) tag_pairs: Arc<[(Box<str>, Box<str>)]>,
    pub(crate) declared: Arc<str>,
    pub(crate) source: Source,
    pub(crate) site: Option<Site>,
}

struct FamilyEntry {
    info: Arc<FamilyInfo>,
    members: BTreeMap<(Scope, Arc<str>), Member>,
}

#[derive(Default)]
struct State {
    families: BTreeMap<String, FamilyEntry>,
    /// Scope and declared name → exposed name, so one declared name cannot map to two families in
    /// one scope. Each scope is a registry of its own, as in MicroProfile: the same declared name
    /// may be a counter in one scope and a timer in another, as long as their outputs use
    /// different names (all scopes are written together on `/metrics`).
    declared: HashMap<(Scope, String), String>,
    /// Every name a family uses in the output of either format ([`exposition_names`]) → the
    /// exposed name of that family and how it uses the name. Two families whose names meet here
    /// would write one sample or family name twice (a gauge `x_count` beside a histogram `x`),
    /// which parsers and the Pushgateway reject; one lookup per name keeps registration O(1) in
    /// the number of families.
    occupied: HashMap<String, (String, NameUse)>,
}

/// How a family uses a name in its exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameUse {
    /// The name of a `# TYPE` line, in one format at least.
    Family,
    /// The name of samples.
    Sample,
    /// Both (a gauge, a Prometheus text counter, a summary's quantiles).
    FamilyAndSample,
    /// Not written, but reserved by OpenMetrics for the type (`_created`): the strict parser
    /// refuses a family whose names could clash with another's.
    Reserved,
}

impl NameUse {
    fn describe(self) -> &'static str {
        match self {
            NameUse::Family => "a family name",
            NameUse::Sample => "a sample name",
            NameUse::FamilyAndSample => "a family and sample name",
            NameUse::Reserved => "a name OpenMetrics reserves for its `_created` samples",
        }
    }
}

/// Every name a family of this type and exposed name uses in Prometheus text 0.0.4 or OpenMetrics
/// 1.0: its family names, the names of the samples the encoder writes, and the names the
/// OpenMetrics text format reserves for the type. They follow `encoding/text.rs`; a suffix added
/// there must be added here.
fn exposition_names(exposed: &str, metric_type: MetricType) -> Vec<(String, NameUse)> {
    let with = |suffix: &str, name_use| (format!("{exposed}{suffix}"), name_use);
    match metric_type {
        // Prometheus text: the family and its samples are `x_total`; OpenMetrics: the family is
        // `x`, its samples `x_total` (and `x_created`, reserved).
        MetricType::Counter => match exposed.strip_suffix("_total") {
            Some(base) => vec![
                with("", NameUse::FamilyAndSample),
                (base.to_owned(), NameUse::Family),
                (format!("{base}_created"), NameUse::Reserved),
            ],
            None => vec![
                with("", NameUse::FamilyAndSample),
                with("_created", NameUse::Reserved),
            ],
        },
        MetricType::Gauge => vec![with("", NameUse::FamilyAndSample)],
        MetricType::Histogram => vec![
            with("", NameUse::Family),
            with("_bucket", NameUse::Sample),
            with("_count", NameUse::Sample),
            with("_sum", NameUse::Sample),
            with("_created", NameUse::Reserved),
        ],
        // Timers are histograms in seconds with an `x_seconds_max` gauge family of their own.
        MetricType::Timer => vec![
            with("", NameUse::Family),
            with("_bucket", NameUse::Sample),
            with("_count", NameUse::Sample),
            with("_sum", NameUse::Sample),
            with("_created", NameUse::Reserved),
            with("_max", NameUse::FamilyAndSample),
        ],
        // The quantile samples carry the family name; `x_max` is a gauge family of its own.
        MetricType::Summary => vec![
            with("", NameUse::FamilyAndSample),
            with("_count", NameUse::Sample),
            with("_sum", NameUse::Sample),
            with("_created", NameUse::Reserved),
            with("_max", NameUse::FamilyAndSample),
        ],
    }
}

/// Whether `name` is one of the family names (`# TYPE` names, in either format) that a family of
/// this type and exposed name writes: the names [`exposition_names`] marks as family names,
/// matched without allocating since a lookup by name runs per family on every such request.
fn names_family(exposed: &str, metric_type: MetricType, name: &str) -> bool {
    exposed == name
        || match metric_type {
            // OpenMetrics names the family `x` of the samples `x_total`.
            MetricType::Counter => exposed.strip_suffix("_total") == Some(name),
            // `x_max` is a gauge family written beside the summary or timer `x`.
            MetricType::Summary | MetricType::Timer => name.strip_suffix("_max") == Some(exposed),
            MetricType::Gauge | MetricType::Histogram => false,
        }
}

/// The source of a member declared a second time with the same scope, name, metadata and tags:
/// both `static`s read as one (MicroProfile's "Reusing Metrics", [`reuse`]), or why they cannot be.
fn reused_source(
    existing: &Source,
    new: &Source,
    metric_type: MetricType,
) -> Result<Source, String> {
    let taken = "the same name, scope and tags are already registered; give one of them another name or tag";
    let (first, [second]) = (existing.statics(), new.statics()) else {
        // A collector registered at run time: its owner holds it, and the get-or-create API
        // (`Registry::counter`, …) is the way to share one.
        return Err(taken.to_owned());
    };
    if first.is_empty() {
        return Err(taken.to_owned());
    }
    if first.iter().any(|f| std::ptr::addr_eq(*f, *second)) {
        return Err(
            "this `static` is already registered under the same name, scope and tags".to_owned(),
        );
    }
    let new_key = second.reuse_key();
    let Some(new_key) = new_key else {
        return Err(match metric_type {
            MetricType::Gauge => "the same name, scope and tags are already registered, and a gauge is declared once (MicroProfile's reuse of one metric by several declarations does not apply to gauges); give one of them another name or tag".to_owned(),
            _ => "the same name, scope and tags are already registered, and this collector cannot be shared by two declarations (its `Collect::reuse_key` is `None`); give one of them another name or tag".to_owned(),
        });
    };
    match existing.collector().reuse_key() {
        Some(key) if key == new_key => Ok(Source::Reused(Arc::new(reuse::Reused::of(first, *second)))),
        Some(key) => Err(format!(
            "it is declared again as a {new_key}, but first as a {key}; declarations of one metric must be configured alike"
        )),
        None => Err(taken.to_owned()),
    }
}

/// A metric handed out by the get-or-create API: a `static` or a shared one.
pub enum Handle<M: 'static> {
    /// A `static` declared in code.
    Static(&'static M),
    /// One created at run time.
    Shared(Arc<M>),
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        match self {
            Handle::Static(m) => Handle::Static(m),
            Handle::Shared(m) => Handle::Shared(Arc::clone(m)),
        }
    }
}

impl<M> Deref for Handle<M> {
    type Target = M;
    fn deref(&self) -> &M {
        match self {
            Handle::Static(m) => m,
            Handle::Shared(m) => m,
        }
    }
}

impl<M: std::fmt::Debug> std::fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// The families and members a selection covers, copied out of the registry's lock and encoded
/// after it is released (so a callback gauge may itself use the registry): two allocations per
/// scrape, whatever the number of families.
pub(crate) struct Plan {
    families: Vec<(Arc<FamilyInfo>, std::ops::Range<usize>)>,
    members: Vec<Member>,
}

/// One family of a [`Plan`] and its selected members.
pub(crate) struct Planned<'a> {
    pub(crate) info: &'a Arc<FamilyInfo>,
    pub(crate) members: &'a [Member],
}

impl Plan {
    /// The number of families.
    pub(crate) fn len(&self) -> usize {
        self.families.len()
    }

    /// The families, in exposition-name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Planned<'_>> {
        self.families.iter().map(|(info, range)| Planned {
            info,
            members: self.members.get(range.clone()).unwrap_or_default(),
        })
    }
}

/// What to read from a registry.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every scope.
    All,
    /// One scope.
    Scope(&'a Scope),
    /// One metric in one scope, by its declared name or by any family name its exposition
    /// writes in either format: a counter `x_total` by `x_total` and `x`, a timer by `x_seconds`
    /// and `x_seconds_max`, a summary `x` by `x` and by `x_max` (either selects the whole summary
    /// or timer, its `_max` gauge included). Sample names (`x_bucket`, `x_count`, `x_sum`) select nothing.
    Metric(&'a Scope, &'a str),
}

/// The registry. Most programs use the global one, [`global()`](crate::global); separate ones are
/// handy in tests.
///
/// Every name a metric's exposition uses belongs to that metric alone, in every scope (all scopes
/// are written together on `/metrics`): its family names (a counter `x_total` is the OpenMetrics
/// family `x`), its sample names (`x_bucket`, `x_count` and `x_sum` of a histogram or timer `x`,
/// and the gauge `x_max` of a timer; `x`, `x_count`, `x_sum` and the gauge `x_max` of a summary
/// `x`) and the `x_created` OpenMetrics
/// reserves for counters, histograms and summaries. A registration using a name another metric
/// uses is refused with [`Error::Conflict`] (a `static` is left out and reported in
/// [`registration_errors`](Registry::registration_errors)), so the output never writes one name
/// twice.
///
/// Declared names are kept per scope, as MicroProfile keeps one registry per scope: one name may
/// be a counter in one scope and a timer in another, their outputs being `x_total` and
/// `x_seconds`. Two `static`s declared with the same scope, name, metadata and tags are one
/// metric (MicroProfile's "Reusing Metrics"): both keep counting into their own atomics, and the
/// registry reads them as one series (see [`Metric::reuse_key`];
/// gauges are excluded, as in MicroProfile).
///
/// ```
/// use microprofile::{Error, Metadata, Registry};
/// let registry = Registry::new();
/// registry.histogram(Metadata::new("queue_wait"), None).unwrap();
/// assert!(matches!(
///     registry.gauge(Metadata::new("queue_wait_count")),
///     Err(Error::Conflict { .. })
/// ));
/// assert!(registry.gauge(Metadata::new("queue_waits")).is_ok());
/// ```
pub struct Registry {
    state: RwLock<State>,
    global_tags: GlobalTags,
    errors: Mutex<Vec<Error>>,
    distribution: DistributionConfig,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    let (tags, tag_errors) = GlobalTags::from_env();
    let (distribution, distribution_errors) = DistributionConfig::from_env();
    let registry = Registry::with_global_tags(tags).with_distribution(distribution);
    for error in tag_errors.into_iter().chain(distribution_errors) {
        registry.record_error(error);
    }
    registry.register_statics();
    registry
});

/// The global registry, holding every `static` metric of the program.
pub fn global() -> &'static Registry {
    &GLOBAL
}

impl Registry {
    /// An empty registry without global tags and without the program's statics.
    pub fn new() -> Registry {
        Registry::with_global_tags(GlobalTags::none())
    }

    /// An empty registry adding these global tags to every series.
    pub fn with_global_tags(global_tags: GlobalTags) -> Registry {
        Registry {
            state: RwLock::new(State::default()),
            global_tags,
            errors: Mutex::new(Vec::new()),
            distribution: DistributionConfig::new(),
        }
    }

    /// This registry with a distribution configuration (MicroProfile's
    /// `mp.metrics.distribution.*`): the buckets and quantiles of the histograms, timers and
    /// summaries it makes without explicit ones ([`histogram`](Self::histogram),
    /// [`timer`](Self::timer), [`summary`](Self::summary)), by their declared name. The global
    /// registry reads it from the environment ([`DistributionConfig::from_env`]; entries that do
    /// not read are in [`registration_errors`](Self::registration_errors)).
    ///
    /// ```
    /// use microprofile::registry::DistributionConfig;
    /// use microprofile::{Metadata, Registry};
    ///
    /// let config = DistributionConfig::new().timer_buckets("alpha.timer=500ms,2s,3m").unwrap();
    /// let registry = Registry::new().with_distribution(config);
    /// let timer = registry.timer(Metadata::new("alpha.timer"), None).unwrap();
    /// assert_eq!(timer.histogram().bounds(), [0.5, 2.0, 180.0]);
    /// ```
    #[must_use]
    pub fn with_distribution(mut self, distribution: DistributionConfig) -> Registry {
        self.distribution = distribution;
        self
    }

    /// The distribution configuration ([`with_distribution`](Self::with_distribution)).
    pub fn distribution(&self) -> &DistributionConfig {
        &self.distribution
    }

    /// An empty registry holding the program's `static` metrics, as the global one does (but with
    /// these global tags instead of the environment's).
    pub fn with_statics(global_tags: GlobalTags) -> Registry {
        let registry = Registry::with_global_tags(global_tags);
        registry.register_statics();
        registry
    }

    /// The global tags.
    pub fn global_tags(&self) -> &GlobalTags {
        &self.global_tags
    }

    fn register_statics(&self) {
        let mut statics: Vec<&StaticMetric> = inventory::iter::<StaticMetric>.into_iter().collect();
        // Link order is arbitrary; sorting makes "first" and "second" in conflict reports stable.
        statics.sort_by_key(|s| (s.site.file, s.site.line, s.site.column));
        for s in statics {
            if let Err(error) =
                self.insert(&s.metadata, Source::Static(s.metric), Some(s.site), false)
            {
                self.record_error(error);
            }
        }
    }

    /// Registers `static` metrics declared with [`StaticMetric::new`] now rather than at the
    /// registry's creation: for a subsystem's vendor metrics, which should appear only once the
    /// program uses the subsystem. Refusals are recorded as for [`register!`](crate::register).
    /// Call it once per set (behind a `std::sync::Once`): a second call reports conflicts.
    #[cfg(feature = "redis")]
    pub(crate) fn register_statics_now(&self, statics: &'static [StaticMetric]) {
        for s in statics {
            if let Err(error) =
                self.insert(&s.metadata, Source::Static(s.metric), Some(s.site), false)
            {
                self.record_error(error);
            }
        }
    }

    fn record_error(&self, error: Error) {
        crate::metric::events::REGISTRATION_ERRORS.inc();
        eprintln!("microprofile: {error}");
        self.errors.lock().push(error);
    }

    /// Registrations of `static`s (and global tags) that were refused, in the order met. Each is
    /// also printed once to stderr and counted in `microprofile_registration_errors_total`.
    pub fn registration_errors(&self) -> Vec<Error> {
        self.errors.lock().clone()
    }

    /// Registers a collector (a family, or a custom [`Collect`] implementation) under this metadata.
    pub fn register(&self, metadata: Metadata, collector: Arc<impl Collect>) -> Result<(), Error> {
        let any: Arc<dyn Any + Send + Sync> = collector.clone();
        self.insert(&metadata, Source::Shared(collector, any), None, false)
            .map(|_| ())
    }

    /// Adds a member; with `reuse`, an existing member with the same identity is returned instead
    /// of being a conflict.
    fn insert(
        &self,
        metadata: &Metadata,
        source: Source,
        site: Option<Site>,
        reuse: bool,
    ) -> Result<Option<Member>, Error> {
        let collector = source.collector();
        collector.check()?;
        let tags = metadata.validated_tags()?;
        family::check_names(collector.label_names())?;
        let mut tag_names: Vec<String> = tags
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain(collector.label_names().iter().map(|n| (*n).to_owned()))
            .collect();
        tag_names.sort();
        // The declared tags are unique (a tag given twice kept its last value), and so are a
        // family's label names: what is left is a tag named like one of the family's labels,
        // which every series would write twice, and no value of the two can win for all series.
        if let Some(name) = tag_names.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(a.clone()),
            _ => None,
        }) {
            return Err(Error::DuplicateTag { name });
        }
        let metric_type = collector.collect_type();
        let exposed = naming::exposed_name(metadata.name(), metric_type, metadata.unit_text());
        let unit = naming::effective_unit(metric_type, metadata.unit_text()).to_owned();
        let rendered: Arc<str> = naming::render_labels(tags.iter().copied()).into();
        let scope = metadata.scope_ref().clone();
        let conflict = |reason: String, first: Option<Site>| Error::Conflict {
            name: metadata.name().to_owned(),
            reason,
            first,
            second: site,
        };

        let mut state = self.state.write();
        let declared_key = (scope.clone(), metadata.name().to_owned());
        if let Some(previous) = state.declared.get(&declared_key) {
            if *previous != exposed {
                let earlier = state.families.get(previous);
                let first_site = earlier.and_then(|e| e.members.values().find_map(|m| m.site));
                let reason = match earlier.map(|e| &e.info) {
                    Some(info) if info.metric_type != metric_type => {
                        format!("it is registered as a {}, not a {metric_type}", info.metric_type)
                    }
                    Some(info) => format!(
                        "it is registered with the unit {:?}, not {unit:?} (exposed as `{previous}`, not `{exposed}`)",
                        info.unit
                    ),
                    None => format!("it is already exposed as `{previous}`, not `{exposed}`"),
                };
                return Err(conflict(reason, first_site));
            }
        }
        let member = Member {
            scope: scope.clone(),
            tags: rendered.clone(),
            tag_pairs: tags
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            declared: metadata.name().into(),
            source,
            site,
        };
        match state.families.get_mut(&exposed) {
            Some(entry) => {
                let first_site = entry.members.values().find_map(|m| m.site);
                let info = &entry.info;
                if info.metric_type != metric_type {
                    return Err(conflict(
                        format!(
                            "it is registered as a {}, not a {metric_type}",
                            info.metric_type
                        ),
                        first_site,
                    ));
                }
                // Two declared names that differ only in characters the output replaces (`a-b`
                // and `a.b` are both `a_b`) would write one family under two names that both
                // select it: a conflict. (`c` and `c_total` stay one counter.)
                let sanitized = naming::sanitize(metadata.name());
                if let Some(other) = entry.members.values().find(|m| {
                    m.scope == scope
                        && &*m.declared != metadata.name()
                        && naming::sanitize(&m.declared) == sanitized
                }) {
                    return Err(conflict(
                        format!(
                            "`{}` is already registered, and both are exposed as `{exposed}` (every character outside `[a-zA-Z0-9_]` becomes `_`); give one of them another name",
                            other.declared
                        ),
                        other.site.or(first_site),
                    ));
                }
                if info.tag_names != tag_names {
                    return Err(conflict(
                        format!(
                            "it is registered with the tag names {:?}, not {:?}; all series of one metric carry the same tag names",
                            info.tag_names, tag_names
                        ),
                        first_site,
                    ));
                }
                let description = metadata.description_text();
                if !description.is_empty()
                    && !info.description.is_empty()
                    && info.description != description
                {
                    return Err(conflict(
                        format!(
                            "it is registered with the description {:?}, not {description:?}",
                            info.description
                        ),
                        first_site,
                    ));
                }
                let key = (scope, rendered);
                let reused = match entry.members.get(&key) {
                    Some(existing) if reuse => return Ok(Some(existing.clone())),
                    Some(existing) => Some(
                        reused_source(&existing.source, &member.source, metric_type)
                            .map_err(|reason| conflict(reason, existing.site))?,
                    ),
                    None => None,
                };
                if info.description.is_empty() && !description.is_empty() {
                    let mut updated = (**info).clone();
                    updated.description = description.to_owned();
                    entry.info = Arc::new(updated);
                }
                match (reused, entry.members.get_mut(&key)) {
                    (Some(source), Some(existing)) => existing.source = source,
                    _ => {
                        entry.members.insert(key, member);
                    }
                }
            }
            None => {
                let names = exposition_names(&exposed, metric_type);
                if let Some((name, new_use, (owner, old_use))) = names
                    .iter()
                    .find_map(|(n, u)| state.occupied.get(n).map(|owner| (n, u, owner)))
                {
                    let earlier = state.families.get(owner);
                    let first_site = earlier.and_then(|e| e.members.values().find_map(|m| m.site));
                    let what = match earlier {
                        Some(e) => {
                            let declared = e.members.values().next().map(|m| &*m.declared);
                            match declared {
                                Some(d) if d != owner => {
                                    format!("{} `{d}` (exposed as `{owner}`)", e.info.metric_type)
                                }
                                _ => format!("{} `{owner}`", e.info.metric_type),
                            }
                        }
                        None => format!("metric exposed as `{owner}`"),
                    };
                    return Err(conflict(
                        format!(
                            "its exposition would use `{name}` as {}, which the {what} already uses as {}; two metrics may not share a name in the output, so rename one of them",
                            new_use.describe(),
                            old_use.describe()
                        ),
                        first_site,
                    ));
                }
                for (name, name_use) in names {
                    state.occupied.insert(name, (exposed.clone(), name_use));
                }
                let info = Arc::new(FamilyInfo {
                    name: exposed.clone(),
                    metric_type,
                    description: metadata.description_text().to_owned(),
                    unit,
                    tag_names,
                });
                let mut members = BTreeMap::new();
                members.insert((scope, rendered), member);
                state
                    .families
                    .insert(exposed.clone(), FamilyEntry { info, members });
            }
        }
        state.declared.insert(declared_key, exposed);
        Ok(None)
    }

    fn get_or_create<M: Metric>(
        &self,
        metadata: Metadata,
        make: impl FnOnce() -> Result<M, Error>,
    ) -> Result<Handle<M>, Error> {
        let metric = Arc::new(make()?);
        let requested = metric.metric_type();
        let any: Arc<dyn Any + Send + Sync> = metric.clone();
        let source = Source::Shared(metric.clone(), any);
        match self.insert(&metadata, source, None, true)? {
            None => Ok(Handle::Shared(metric)),
            Some(existing) => {
                let wrong_type = || Error::WrongType {
                    name: metadata.name().to_owned(),
                    registered: existing.source.collector().collect_type(),
                    requested,
                };
                match &existing.source {
                    Source::Static(c) => c
                        .as_any()
                        .downcast_ref::<M>()
                        .map(Handle::Static)
                        .ok_or_else(wrong_type),
                    Source::Shared(_, any) => Arc::clone(any)
                        .downcast::<M>()
                        .map(Handle::Shared)
                        .map_err(|_| wrong_type()),
                    // The first declaration stands for all: they are read as one.
                    Source::Reused(reused) => reused
                        .parts()
                        .first()
                        .and_then(|first| first.as_any().downcast_ref::<M>())
                        .map(Handle::Static)
                        .ok_or_else(wrong_type),
                }
            }
        }
    }

    /// Gets or creates an integer counter. The same name, scope and tags give the same counter.
    ///
    /// ```
    /// use microprofile::{Registry, Metadata};
    /// let registry = Registry::new();
    /// let a = registry.counter(Metadata::new("jobs").with_tag("queue", "mail")).unwrap();
    /// let b = registry.counter(Metadata::new("jobs").with_tag("queue", "mail")).unwrap();
    /// a.inc();
    /// assert_eq!(b.get(), 1);
    /// assert!(registry.gauge(Metadata::new("jobs").with_tag("queue", "sms")).is_err());
    /// ```
    pub fn counter(&self, metadata: Metadata) -> Result<Handle<Counter>, Error> {
        self.get_or_create(metadata, || Ok(Counter::new()))
    }

    /// Gets or creates a float counter.
    pub fn float_counter(&self, metadata: Metadata) -> Result<Handle<FloatCounter>, Error> {
        self.get_or_create(metadata, || Ok(FloatCounter::new()))
    }

    /// Gets or creates an integer gauge.
    pub fn gauge(&self, metadata: Metadata) -> Result<Handle<Gauge>, Error> {
        self.get_or_create(metadata, || Ok(Gauge::new()))
    }

    /// Gets or creates a float gauge.
    pub fn float_gauge(&self, metadata: Metadata) -> Result<Handle<FloatGauge>, Error> {
        self.get_or_create(metadata, || Ok(FloatGauge::new()))
    }

    /// Gets or creates a gauge of calls in flight.
    pub fn concurrent_gauge(&self, metadata: Metadata) -> Result<Handle<ConcurrentGauge>, Error> {
        self.get_or_create(metadata, || Ok(ConcurrentGauge::new()))
    }

    /// Registers a gauge read from `callback` at scrape time. Callback gauges are not reusable: the
    /// same identity twice is a conflict.
    pub fn callback_gauge(
        &self,
        metadata: Metadata,
        callback: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.register(metadata, Arc::new(CallbackGauge::from_fn(callback)))
    }

    /// Gets or creates a histogram; `buckets` default to the Prometheus defaults.
    pub fn histogram(
        &self,
        metadata: Metadata,
        buckets: Option<Vec<f64>>,
    ) -> Result<Handle<Histogram>, Error> {
        let configured = || {
            self.distribution
                .histogram_bounds(metadata.name(), crate::DEFAULT_BUCKETS)
        };
        let buckets = buckets.or_else(configured);
        self.get_or_create(metadata, || match buckets {
            Some(b) => Histogram::try_with_buckets(b),
            None => Ok(Histogram::new()),
        })
    }

    /// Gets or creates a timer (a histogram in seconds).
    pub fn timer(
        &self,
        metadata: Metadata,
        buckets: Option<Vec<f64>>,
    ) -> Result<Handle<Timer>, Error> {
        let configured = || {
            self.distribution
                .timer_bounds(metadata.name(), crate::DEFAULT_BUCKETS)
        };
        let buckets = buckets.or_else(configured);
        self.get_or_create(metadata, || match buckets {
            Some(b) => Timer::try_with_buckets(b),
            None => Ok(Timer::new()),
        })
    }

    /// Gets or creates a summary with the default quantiles (or those the
    /// [distribution configuration](Self::with_distribution) gives its name; none when it
    /// disables them: only `_count`, `_sum` and `_max`) and a 10-minute window.
    pub fn summary(&self, metadata: Metadata) -> Result<Handle<Summary>, Error> {
        let quantiles = self
            .distribution
            .percentiles_for(metadata.name())
            .map(<[f64]>::to_vec);
        self.get_or_create(metadata, || match quantiles {
            Some(q) => Summary::with_configured_quantiles(q, crate::DEFAULT_WINDOW),
            None => Ok(Summary::new()),
        })
    }

    /// Gets or creates a summary with these quantiles and window.
    pub fn summary_with(
        &self,
        metadata: Metadata,
        quantiles: Vec<f64>,
        window: std::time::Duration,
    ) -> Result<Handle<Summary>, Error> {
        self.get_or_create(metadata, || Summary::try_new(quantiles, window))
    }

    /// Removes the series with this scope, declared name and tags; `true` if it existed.
    pub fn remove(&self, scope: &Scope, name: &str, tags: &[(&str, &str)]) -> bool {
        let mut sorted: Vec<(&str, &str)> = tags.to_vec();
        sorted.sort_unstable();
        let rendered: Arc<str> = naming::render_labels(sorted).into();
        let mut state = self.state.write();
        let Some(exposed) = state
            .declared
            .get(&(scope.clone(), name.to_owned()))
            .cloned()
        else {
            return false;
        };
        let Some(entry) = state.families.get_mut(&exposed) else {
            return false;
        };
        let removed = entry.members.remove(&(scope.clone(), rendered)).is_some();
        let still_declared = entry
            .members
            .values()
            .any(|m| m.scope == *scope && &*m.declared == name);
        if !still_declared {
            state.declared.remove(&(scope.clone(), name.to_owned()));
        }
        let Some(entry) = state.families.get(&exposed) else {
            return removed;
        };
        if entry.members.is_empty() {
            let metric_type = entry.info.metric_type;
            state.families.remove(&exposed);
            state.declared.retain(|_, e| *e != exposed);
            for (name, _) in exposition_names(&exposed, metric_type) {
                if state
                    .occupied
                    .get(&name)
                    .is_some_and(|(owner, _)| *owner == exposed)
                {
                    state.occupied.remove(&name);
                }
            }
        }
        removed
    }

    /// Whether a scope exists: base, vendor and application always do; a custom one once it holds a
    /// metric.
    pub fn has_scope(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Custom(_) => self
                .state
                .read()
                .families
                .values()
                .any(|f| f.members.keys().any(|(s, _)| s == scope)),
            _ => true,
        }
    }

    /// The families and members a selection covers, ordered by exposed name, then scope and tags.
    pub(crate) fn plan(&self, selection: Selection<'_>) -> Plan {
        let state = self.state.read();
        let mut plan = Plan {
            families: Vec::new(),
            members: Vec::new(),
        };
        for (exposed, entry) in &state.families {
            let start = plan.members.len();
            plan.members.extend(
                entry
                    .members
                    .values()
                    .filter(|m| match selection {
                        Selection::All => true,
                        Selection::Scope(scope) => m.scope == *scope,
                        Selection::Metric(scope, name) => {
                            m.scope == *scope
                                && (&*m.declared == name
                                    || names_family(exposed, entry.info.metric_type, name))
                        }
                    })
                    .cloned(),
            );
            if plan.members.len() > start {
                plan.families
                    .push((Arc::clone(&entry.info), start..plan.members.len()));
            }
        }
        plan
    }

    /// The families a selection covers, with their shared metadata.
    pub fn families(&self, selection: Selection<'_>) -> Vec<FamilyInfo> {
        self.plan(selection)
            .iter()
            .map(|p| (**p.info).clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Format;

    /// One `static` registered twice under one identity is not two declarations of one metric
    /// (reading it twice would double every call): the second registration is a conflict. Three
    /// distinct `static`s are one metric, read as their sum, and removing it removes them all.
    #[test]
    fn reuse_takes_distinct_statics_only() {
        static A: Counter = Counter::new();
        static B: Counter = Counter::new();
        static C: FloatCounter = FloatCounter::new();
        let registry = Registry::new();
        let metadata = Metadata::new("reused").with_tag("tier", "web");
        let site = |line| Site {
            file: "here.rs",
            line,
            column: 1,
        };
        let insert = |metric: &'static dyn Collect, line| {
            registry.insert(&metadata, Source::Static(metric), Some(site(line)), false)
        };
        assert!(insert(&A, 1).is_ok());
        assert!(insert(&B, 2).is_ok());
        assert!(insert(&C, 3).is_ok());
        let again = insert(&A, 4).map(|_| ());
        assert!(
            matches!(&again, Err(Error::Conflict { reason, first: Some(first), .. })
                if reason.contains("already registered") && first.line == 1),
            "{again:?}"
        );
        A.inc();
        B.inc_by(2);
        C.inc_by(0.5);
        let text = registry.encode_to_string(Format::Prometheus, Selection::All);
        assert!(
            text.contains("reused_total{tier=\"web\",mp_scope=\"application\"} 3.5\n"),
            "{text}"
        );
        // The get-or-create API hands out the first declaration.
        let handle = registry.counter(metadata.clone()).unwrap();
        assert!(matches!(handle, Handle::Static(c) if std::ptr::eq(c, &A)));
        assert!(registry.remove(&Scope::Application, "reused", &[("tier", "web")]));
        assert!(registry.plan(Selection::All).iter().next().is_none());
    }

    /// `names_family` accepts exactly the family names of `exposition_names`.
    #[test]
    fn names_family_agrees_with_exposition_names() {
        for metric_type in [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Timer,
            MetricType::Summary,
        ] {
            let exposed = match metric_type {
                MetricType::Counter => "x_total",
                MetricType::Timer => "x_seconds",
                _ => "x",
            };
            for (name, name_use) in exposition_names(exposed, metric_type) {
                let family = matches!(name_use, NameUse::Family | NameUse::FamilyAndSample);
                assert_eq!(
                    names_family(exposed, metric_type, &name),
                    family,
                    "{metric_type:?} {name}"
                );
            }
        }
    }

    /// The family and sample names the encoder writes for one metric of each type, in both
    /// formats, are all among the names `exposition_names` gives the family: the conflict check
    /// cannot miss a name the output uses.
    #[test]
    fn exposition_names_cover_every_written_name() {
        let registry = Registry::new();
        let metadata = |name: &'static str| Metadata::new(name).description("Some help.");
        registry.counter(metadata("c")).unwrap().inc();
        registry.float_counter(metadata("f")).unwrap().inc_by(0.5);
        registry.gauge(metadata("g")).unwrap().set(-3);
        let h = registry.histogram(metadata("h"), None).unwrap();
        for v in [-1.0, 0.2, 7.0] {
            h.observe(v);
        }
        let t = registry.timer(metadata("t"), None).unwrap();
        t.observe(0.3);
        let s = registry.summary(metadata("s")).unwrap();
        for v in [-1.0, 0.2, 7.0] {
            s.observe(v);
        }
        let infos = registry.families(Selection::All);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = registry.encode_to_string(format, Selection::All);
            for line in text.lines().filter(|l| *l != "# EOF") {
                let name = match line.strip_prefix("# ") {
                    Some(meta) => meta.split(' ').nth(1).unwrap(),
                    None => line.split(['{', ' ']).next().unwrap(),
                };
                let owners: Vec<&FamilyInfo> = infos
                    .iter()
                    .filter(|i| {
                        exposition_names(&i.name, i.metric_type)
                            .iter()
                            .any(|(n, _)| n == name)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{format:?}: `{name}` in {line:?}");
            }
        }
    }
}
