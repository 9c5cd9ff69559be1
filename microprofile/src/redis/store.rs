//! The writing side: handles that accumulate deltas locally, and the transfer that sends them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

mod attached;
use attached::{Attached, Attachment};

use super::codec::{self, Extension, TypeCode};
use super::resp::{self, Reply};
use super::{StoreError, DROPPED_UPDATES, TRANSFERS, TRANSFER_ERRORS};
use crate::encoding::float::format_float;
use crate::metadata::{Metadata, Scope};
use crate::metric::histogram::{Buckets, Observe, TimerGuard, DEFAULT_BUCKETS};
use crate::naming;
use crate::registry::Registry;

/// How updates reach Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferMode {
    /// Updates accumulate in the process; a transfer sends them in one round trip: at the end
    /// of a request [`SharedStore::transfer_in_background`] (never blocks), at the end of a job
    /// [`SharedStore::transfer`] (blocks for at most the timeouts), or periodically with
    /// [`SharedStore::spawn_periodic_transfer`].
    #[default]
    Batched,
    /// A background thread sends updates as soon as they are made, pipelining whatever
    /// accumulated while the previous round trip was under way: an update of a store handle
    /// wakes it; attached registries, whose updates are plain atomics that wake nothing, it
    /// reads every [`StoreConfig::eager_interval`] (10 ms by default), sending what changed.
    /// An update so reaches Redis within one round trip (handles) or the interval plus one
    /// round trip (registries). The cost: a round trip per burst of updates instead of per
    /// transfer, and for registries one read of the attached scopes per interval (a walk over
    /// their series, on that thread; no round trip when nothing changed). A program about to
    /// exit should still call [`SharedStore::transfer`] once, so the last updates do not wait
    /// for a thread that is about to end.
    Eager,
}

/// What a gauge means when several processes write the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaugeMode {
    /// Each process contributes its own value and the stored gauge is the sum of the
    /// contributions (sent as increments of the difference since the last transfer). Right for
    /// "in flight", "queue length", "open connections" across workers.
    Sum,
    /// The last process to transfer sets the value (`HSET`). Right for values every process
    /// knows equally, such as a configuration version.
    LastWriterWins,
    /// One series per process: the label `mp_process` (see
    /// [`StoreConfig::process_label`]) is added and each process sets its own value. Series of
    /// processes that ended stay until the field is deleted.
    PerProcess,
}

/// The label [`GaugeMode::PerProcess`] adds.
pub const PROCESS_LABEL: &str = "mp_process";

/// How the gauges of an attached registry combine across processes
/// ([`SharedStore::attach`]). Counters, histograms and summaries always add up.
///
/// ```
/// use microprofile::redis::{GaugeMode, GaugePolicy};
/// assert_eq!(GaugePolicy::default(), GaugePolicy::ByKind);
/// assert_eq!(GaugePolicy::from(GaugeMode::Sum), GaugePolicy::All(GaugeMode::Sum));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GaugePolicy {
    /// By what the gauge is (the default): a concurrent gauge (`#[concurrent_gauge]`,
    /// [`ConcurrentGauge`](crate::ConcurrentGauge): calls in flight) is
    /// [`Sum`](GaugeMode::Sum), the number in flight across all processes; every other gauge —
    /// a value the program sets, a `#[gauge]` function's reading of its own state, a process
    /// or host figure — is [`PerProcess`](GaugeMode::PerProcess): summing or overwriting it
    /// would make a number no process has (two workers' "cache size" added, one worker's CPU
    /// percentage instead of each).
    #[default]
    ByKind,
    /// Every gauge of the attachment in one mode.
    All(GaugeMode),
}

impl From<GaugeMode> for GaugePolicy {
    fn from(mode: GaugeMode) -> GaugePolicy {
        GaugePolicy::All(mode)
    }
}

impl GaugePolicy {
    /// The mode of one gauge series, by its metric.
    pub(crate) fn mode_for(self, metric: &dyn crate::metric::Metric) -> GaugeMode {
        match self {
            GaugePolicy::All(mode) => mode,
            GaugePolicy::ByKind
                if (metric as &dyn std::any::Any).is::<crate::metric::gauge::ConcurrentGauge>() =>
            {
                GaugeMode::Sum
            }
            GaugePolicy::ByKind => GaugeMode::PerProcess,
        }
    }
}

/// How a [`SharedStore`] connects and transfers.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    url: String,
    namespace: String,
    mode: TransferMode,
    connect_timeout: Duration,
    io_timeout: Duration,
    retry_backoff: Duration,
    max_pending_fields: usize,
    process_label: String,
    eager_interval: Duration,
}

impl StoreConfig {
    /// A configuration for the Redis at `url` (`redis://host:port/db`) and this namespace (the
    /// name of the hash), with the defaults: batched, 250 ms connect and I/O timeouts, 1 s
    /// backoff after a failure, at most 100 000 pending fields.
    pub fn new(url: impl Into<String>, namespace: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: url.into(),
            namespace: namespace.into(),
            mode: TransferMode::Batched,
            connect_timeout: Duration::from_millis(250),
            io_timeout: Duration::from_millis(250),
            retry_backoff: Duration::from_secs(1),
            max_pending_fields: 100_000,
            process_label: default_process_label(),
            eager_interval: Duration::from_millis(10),
        }
    }

    /// Reads `MICROPROFILE_REDIS_URL` (default `redis://127.0.0.1:6379`) and
    /// `MICROPROFILE_NAMESPACE` (default `microprofile`).
    pub fn from_env() -> StoreConfig {
        let url = std::env::var("MICROPROFILE_REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
        let namespace = std::env::var("MICROPROFILE_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "microprofile".to_owned());
        StoreConfig::new(url, namespace)
    }

    /// Batched (default) or eager transfer.
    pub fn mode(mut self, mode: TransferMode) -> StoreConfig {
        self.mode = mode;
        self
    }

    /// The longest a connection attempt may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> StoreConfig {
        self.connect_timeout = timeout;
        self
    }

    /// The longest one exchange with Redis may take, from the first byte written to the last
    /// reply read, whatever the number of commands (and the longest
    /// [`SharedStore::transfer`] waits for a concurrent transfer).
    pub fn io_timeout(mut self, timeout: Duration) -> StoreConfig {
        self.io_timeout = timeout;
        self
    }

    /// After a failure, transfers return at once (keeping their deltas) until this much time
    /// has passed.
    pub fn retry_backoff(mut self, backoff: Duration) -> StoreConfig {
        self.retry_backoff = backoff;
        self
    }

    /// In [`TransferMode::Eager`], how often the eager thread reads the attached registries
    /// (default 10 ms, at least 100 µs): the longest an update of a registry waits before it
    /// leaves, besides the round trip.
    pub fn eager_interval(mut self, interval: Duration) -> StoreConfig {
        self.eager_interval = interval.max(Duration::from_micros(100));
        self
    }

    /// The most hash fields kept waiting while Redis is unreachable; deltas for further fields
    /// are dropped and counted in `microprofile_redis_dropped_updates_total`.
    pub fn max_pending_fields(mut self, max: usize) -> StoreConfig {
        self.max_pending_fields = max.max(1);
        self
    }

    /// The value of the `mp_process` label of [`GaugeMode::PerProcess`] gauges (default
    /// `<hostname>:<pid>`).
    pub fn process_label(mut self, label: impl Into<String>) -> StoreConfig {
        self.process_label = label.into();
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn default_process_label() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// One pending change of one hash field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    IncrInt(i64),
    IncrFloat(f64),
    Set(f64),
}

/// Deltas waiting to be sent, bounded in fields.
#[derive(Debug, Default)]
struct Outbox {
    ops: HashMap<String, Op>,
}

impl Outbox {
    fn len(&self) -> usize {
        self.ops.len()
    }

    /// Merges one change; `false` if it was dropped because the outbox is full.
    fn add(&mut self, field: &str, op: Op, room: usize) -> bool {
        if let Some(existing) = self.ops.get_mut(field) {
            *existing = merge(*existing, op);
            return true;
        }
        if self.ops.len() >= room {
            DROPPED_UPDATES.inc();
            return false;
        }
        self.ops.insert(field.to_owned(), op);
        true
    }
}

fn merge(older: Op, newer: Op) -> Op {
    match (older, newer) {
        (Op::IncrInt(a), Op::IncrInt(b)) => Op::IncrInt(a.saturating_add(b)),
        (Op::IncrFloat(a), Op::IncrFloat(b)) => Op::IncrFloat(a + b),
        (Op::IncrInt(a), Op::IncrFloat(b)) | (Op::IncrFloat(b), Op::IncrInt(a)) => {
            Op::IncrFloat(a as f64 + b)
        }
        (_, newer @ Op::Set(_)) => newer,
        (Op::Set(v), Op::IncrFloat(d)) => Op::Set(v + d),
        (Op::Set(v), Op::IncrInt(d)) => Op::Set(v + d as f64),
    }
}

/// Where a cell drains its deltas.
struct Sink<'a> {
    outbox: &'a mut Outbox,
    room: usize,
}

impl Sink<'_> {
    /// `false` when the outbox was full and the change was dropped (and counted).
    fn add(&mut self, field: &str, op: Op) -> bool {
        self.outbox.add(field, op, self.room)
    }
}

/// Metadata of one family in this store.
struct FamilyMeta {
    type_code: TypeCode,
    description: String,
    /// `Some(bounds)` for histograms: every series of a family shares them.
    bounds: Option<Vec<f64>>,
    /// The scope and unit recorded in the namespace's metadata hash ([`super::meta_key`]):
    /// those of an attached registry's family; `None` for the store's own handles.
    recorded: Option<(Scope, String)>,
}

#[derive(Default)]
struct Cells {
    /// Families by the name the store writes (the registry's exposed name).
    families: HashMap<String, FamilyMeta>,
    /// The handles' series: identity (the value field's name) → the registry metric (for
    /// get-or-create), with the name and tags it was declared with in the store's registry.
    series: HashMap<String, OwnSeries>,
    /// The family each name declared by a handle is written under.
    declared: HashMap<String, String>,
}

/// One series of the store's own handles: a metric of the store's own registry.
struct OwnSeries {
    family: String,
    metric: Arc<dyn std::any::Any + Send + Sync>,
    declared: String,
    tags: Vec<(String, String)>,
}

struct Link {
    connection: Option<resp::Connection>,
    outbox: Outbox,
    /// A batch whose transaction was sent but not confirmed, with its sequence number.
    in_doubt: Option<(u64, Outbox)>,
    next_seq: u64,
    /// When the last transfer failed; transfers wait `retry_backoff` from then. (Kept as the
    /// failure time, not `now + backoff`, which overflows, and panics, for a huge backoff.)
    failed_at: Option<Instant>,
}

pub(crate) struct Inner {
    config: StoreConfig,
    target: resp::Target,
    ack_key: String,
    /// The namespace's metadata hash ([`super::meta_key`]).
    meta_key: String,
    cells: Mutex<Cells>,
    /// The registry behind the store's own handles ([`SharedStore::counter`] and the others):
    /// they are views over its metrics, transferred like any attached registry.
    own: Arc<Registry>,
    /// The [`GaugeMode`] of each gauge family of the handles, by the name the store writes.
    own_gauge_modes: Arc<Mutex<HashMap<String, GaugeMode>>>,
    link: Mutex<Link>,
    /// Set by updates in eager mode; the sender thread clears it before draining.
    notified: AtomicBool,
    sender: Mutex<Option<thread::Thread>>,
    stop: AtomicBool,
    /// Description and type fields must be (re)written: a family was added or we reconnected.
    meta_dirty: AtomicBool,
    /// The thread serving [`SharedStore::transfer_in_background`], started by its first call.
    background: Mutex<Option<(Arc<Background>, thread::Thread)>>,
    /// Registries read at every transfer ([`SharedStore::attach`]); locked only by a transfer,
    /// which holds the link.
    attached: Mutex<Vec<Attachment>>,
}

impl Inner {
    #[inline]
    fn updated(&self) {
        if self.config.mode == TransferMode::Eager && !self.notified.swap(true, Ordering::AcqRel) {
            if let Some(t) = &*self.sender.lock() {
                t.unpark();
            }
        }
    }
}

/// What one successful transfer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferReport {
    /// Hash fields changed (deltas, sets and metadata).
    pub fields: usize,
    /// Whether a round trip to Redis was made (none when there was nothing to send).
    pub round_trip: bool,
}

/// A namespace in a shared Redis that any number of processes add to. Cheap to clone (shared).
///
/// ```no_run
/// use microprofile::redis::{GaugeMode, SharedStore, StoreConfig};
/// let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "shop"))?;
/// let orders = store.counter("orders", &[("region", "eu")])?;
/// let in_flight = store.gauge("in_flight", &[], GaugeMode::Sum)?;
/// orders.inc();
/// in_flight.add(1.0);
/// // At the end of a request, sync or async: returns at once, a background thread sends.
/// store.transfer_in_background()?;
/// // At the end of a batch job: one blocking round trip, never longer than the timeouts.
/// if let Err(e) = store.transfer() {
///     eprintln!("metrics kept for later: {e}");
/// }
/// # Ok::<(), microprofile::redis::StoreError>(())
/// ```
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("url", &self.inner.config.url)
            .field("namespace", &self.inner.config.namespace)
            .field("mode", &self.inner.config.mode)
            .finish_non_exhaustive()
    }
}

static INSTANCE_SEQ: AtomicU64 = AtomicU64::new(0);

impl SharedStore {
    /// A store for this configuration. Does not connect (the first transfer does), so it never
    /// blocks; fails only on an invalid URL or namespace.
    pub fn new(config: StoreConfig) -> Result<SharedStore, StoreError> {
        super::register_vendor_metrics();
        if config.namespace.is_empty() {
            return Err(StoreError::InvalidNamespace {
                namespace: config.namespace,
            });
        }
        let target = resp::Target::parse(&config.url).map_err(|reason| StoreError::InvalidUrl {
            url: config.url.clone(),
            reason,
        })?;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Unique per store instance, so a new process never mistakes an old acknowledgement for
        // its own.
        let ack_key = format!(
            "{}:ack:{}:{}:{started}:{}",
            config.namespace,
            config.process_label,
            std::process::id(),
            INSTANCE_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let eager = config.mode == TransferMode::Eager;
        let meta_key = super::meta_key(&config.namespace);
        let own = Arc::new(Registry::new());
        let own_gauge_modes = Arc::new(Mutex::new(HashMap::new()));
        // The handles' registry comes first: a name its handles hold with one type is the
        // store's, whatever an attached registry declares under it.
        let own_attachment = Attachment::own(own.clone(), own_gauge_modes.clone());
        let inner = Arc::new(Inner {
            config,
            target,
            ack_key,
            meta_key,
            cells: Mutex::new(Cells::default()),
            own,
            own_gauge_modes,
            link: Mutex::new(Link {
                connection: None,
                outbox: Outbox::default(),
                in_doubt: None,
                next_seq: 1,
                failed_at: None,
            }),
            meta_dirty: AtomicBool::new(true),
            notified: AtomicBool::new(false),
            sender: Mutex::new(None),
            stop: AtomicBool::new(false),
            background: Mutex::new(None),
            attached: Mutex::new(vec![own_attachment]),
        });
        if eager {
            let weak = Arc::downgrade(&inner);
            let handle = thread::Builder::new()
                .name("microprofile-redis".to_owned())
                .spawn(move || eager_loop(weak))
                .map_err(|e| StoreError::Thread(e.to_string()))?;
            *inner.sender.lock() = Some(handle.thread().clone());
        }
        Ok(SharedStore { inner })
    }

    /// [`SharedStore::new`] with [`StoreConfig::from_env`].
    pub fn from_env() -> Result<SharedStore, StoreError> {
        SharedStore::new(StoreConfig::from_env())
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Gets or makes one series of the store's own handles: checks the name and labels, the
    /// family's type and bounds, then gets or makes the metric in the store's registry (the
    /// labels are its tags) with `make`.
    fn series<M: crate::metric::Metric>(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        metric_type: crate::MetricType,
        bounds: Option<&[f64]>,
        make: impl FnOnce(&Registry, Metadata) -> Result<crate::Handle<M>, crate::Error>,
    ) -> Result<crate::Handle<M>, StoreError> {
        naming::validate_metric_name(name)?;
        let mut sorted: Vec<(&str, &str)> = labels.to_vec();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut previous = None;
        for (label, _) in &sorted {
            naming::validate_tag_name(label)?;
            if previous.replace(*label) == Some(*label) {
                return Err(crate::Error::DuplicateTag {
                    name: (*label).to_owned(),
                }
                .into());
            }
        }
        let type_code = type_code_of(metric_type);
        // The name the store writes: the registry's exposed one (a counter's with `_total`).
        let family = naming::exposed_name(name, metric_type, "");
        let identity = codec::encode_sorted(&family, Extension::Value, &sorted)?;
        let mut cells = self.inner.cells.lock();
        // The name declared with another type (written under another name, `x_total` and `x`):
        // still one name in the store's registry.
        let other = cells
            .declared
            .get(name)
            .filter(|written| **written != family)
            .and_then(|written| cells.families.get(written));
        if let Some(meta) = other {
            return Err(StoreError::TypeConflict {
                name: name.to_owned(),
                existing: meta.type_code,
                requested: type_code,
            });
        }
        match cells.families.get(&family) {
            Some(meta) if meta.type_code != type_code => {
                return Err(StoreError::TypeConflict {
                    name: name.to_owned(),
                    existing: meta.type_code,
                    requested: type_code,
                })
            }
            Some(meta) if bounds.is_some() && meta.bounds.as_deref() != bounds => {
                return Err(StoreError::BucketConflict {
                    name: name.to_owned(),
                })
            }
            _ => {}
        }
        if let Some(existing) = cells.series.get(&identity) {
            // The same series of the same type: an integer and a float counter differ only in
            // their metric, and must not share the field.
            return Arc::clone(&existing.metric)
                .downcast::<M>()
                .map(crate::Handle::Shared)
                .map_err(|_| StoreError::CounterKindConflict {
                    name: name.to_owned(),
                });
        }
        let mut metadata = Metadata::named(name.to_owned());
        for (label, value) in &sorted {
            metadata = metadata.with_tag((*label).to_owned(), (*value).to_owned());
        }
        let handle = make(&self.inner.own, metadata)?;
        let metric: Arc<dyn std::any::Any + Send + Sync> = match &handle {
            crate::Handle::Shared(metric) => metric.clone(),
            // The store's registry makes every metric itself: never a static.
            crate::Handle::Static(_) => {
                return Err(StoreError::CounterKindConflict {
                    name: name.to_owned(),
                })
            }
        };
        if !cells.families.contains_key(&family) {
            cells.families.insert(
                family.clone(),
                FamilyMeta {
                    type_code,
                    description: String::new(),
                    bounds: bounds.map(<[f64]>::to_vec),
                    recorded: None,
                },
            );
            self.inner.meta_dirty.store(true, Ordering::Release);
        }
        cells.declared.insert(name.to_owned(), family.clone());
        cells.series.insert(
            identity,
            OwnSeries {
                family,
                metric,
                declared: name.to_owned(),
                tags: sorted
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            },
        );
        Ok(handle)
    }

    /// The family a handle name stands for: its counter's (`name_total`) or its own.
    fn family_of(cells: &Cells, name: &str) -> Option<String> {
        let counter = naming::exposed_name(name, crate::MetricType::Counter, "");
        [counter, name.to_owned()]
            .into_iter()
            .find(|family| cells.families.contains_key(family))
    }

    /// Attaches the global registry's `scope`: from the next transfer on, every series of it,
    /// whatever declared it (`#[counted]`, `#[timed]`, `#[gauge]`, `#[derive(Metrics)]`, a
    /// [`Family`](crate::Family), the run-time API), is sent to this store as deltas — read
    /// through the registry's one read path and its delta cursor
    /// ([`Registry::gather_changes`](crate::Registry::gather_changes)), then merged, bounded and
    /// sent with the deltas of this store's own handles, in the same transactions (and resent
    /// the same way after an unknown outcome). Counters, histograms and summaries add up across
    /// processes; gauges combine by `gauges` ([`GaugePolicy`]: by default a concurrent gauge
    /// adds up and every other gauge is kept per process; or one [`GaugeMode`] for all). What
    /// happened before the call is sent whole by the first transfer.
    ///
    /// The fields are named as the registry exposes the families (a counter's name with its
    /// `_total`, a unit's suffix), and each family's scope and unit are recorded in the
    /// namespace's metadata hash ([`meta_key`](super::meta_key)), so the exporter shows them as
    /// one process's scrape does. A histogram has its cumulative buckets, `s` and `c`, a summary
    /// its sketch (kept once this call made the store's delta cursor; a summary observed before
    /// keeps only its count and sum whole). A family whose name this store already holds with
    /// another type is not sent, and counted in `microprofile_redis_dropped_updates_total`.
    ///
    /// Which scope to attach: the application scope is the one to share (what the program
    /// counts adds up across its processes); the vendor scope's process figures add up where
    /// that means something (CPU seconds, requests) and its gauges are per process by default.
    /// The **base** scope describes a host, which every process on it reports alike: every
    /// series of a base attachment (counters too) carries `mp_process`, so nothing of a host is
    /// added up across the processes that read it (its CPU percentages least of all).
    ///
    /// Attached registries are read at each transfer (explicit, background, periodic) and, in
    /// [`TransferMode::Eager`], continuously by the eager thread (see
    /// [`StoreConfig::eager_interval`]).
    pub fn attach_global(&self, scope: Scope, gauges: impl Into<GaugePolicy>) {
        self.attach_static(crate::global(), scope, gauges);
    }

    /// [`attach_global`](Self::attach_global) for a `'static` registry of the program's own (as
    /// the request-metrics layer and the listener take them).
    pub fn attach_static(
        &self,
        registry: &'static Registry,
        scope: Scope,
        gauges: impl Into<GaugePolicy>,
    ) {
        self.attach_source(Attached::Static(registry), scope, gauges.into());
    }

    /// [`attach_global`](Self::attach_global) for a registry of the program's own.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use microprofile::redis::{GaugePolicy, SharedStore, StoreConfig};
    /// use microprofile::{Metadata, Registry, Scope};
    ///
    /// let registry = Arc::new(Registry::new());
    /// let jobs = registry.counter(Metadata::new("jobs")).unwrap();
    /// let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "shop")).unwrap();
    /// store.attach(registry.clone(), Scope::Application, GaugePolicy::ByKind);
    /// jobs.inc();
    /// store.transfer().unwrap(); // `jobs_total::` += 1 in the hash `shop`
    /// ```
    pub fn attach(&self, registry: Arc<Registry>, scope: Scope, gauges: impl Into<GaugePolicy>) {
        self.attach_source(Attached::Shared(registry), scope, gauges.into());
    }

    fn attach_source(&self, registry: Attached, scope: Scope, gauges: GaugePolicy) {
        let attachment = Attachment::new(registry, scope, gauges);
        self.inner.attached.lock().push(attachment);
        self.inner.updated();
    }

    /// Unregisters a family of this store's own handles (the design's `unregister`): none of its
    /// series is transferred any more (handles kept by the program still count, locally, and
    /// what is pending for it is dropped); the fields already in Redis stay, as other processes
    /// may still write them. `true` if the store had it. A family of an attached registry leaves
    /// the store's view when it leaves the registry ([`Registry::remove`]): the store then stops
    /// reading it.
    pub fn unregister(&self, name: &str) -> bool {
        let mut cells = self.inner.cells.lock();
        let Some(family) = Self::family_of(&cells, name) else {
            return false;
        };
        cells.families.remove(&family);
        cells.declared.retain(|_, written| *written != family);
        self.inner.own_gauge_modes.lock().remove(&family);
        let mut removed = Vec::new();
        cells.series.retain(|_, series| {
            let keep = series.family != family;
            if !keep {
                removed.push((series.declared.clone(), std::mem::take(&mut series.tags)));
            }
            keep
        });
        drop(cells);
        // Out of the store's registry: the next transfer's read forgets the series, and what
        // they recorded since the last transfer is not sent.
        for (declared, tags) in removed {
            let tags: Vec<(&str, &str)> =
                tags.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            self.inner.own.remove(&Scope::Application, &declared, &tags);
        }
        // What waits unsent for it goes too, unless a transfer holds the link longer than the
        // I/O timeout (then that much is still sent once).
        let prefix = format!("{family}:");
        if let Some(mut link) = self.inner.link.try_lock_for(self.inner.config.io_timeout) {
            link.outbox
                .ops
                .retain(|field, _| !field.starts_with(&prefix));
        }
        true
    }

    /// Sets the description (`# HELP`) of a family, written with its type once per connection.
    pub fn describe(&self, name: &str, description: &str) {
        let mut cells = self.inner.cells.lock();
        let family = Self::family_of(&cells, name);
        if let Some(meta) = family.and_then(|family| cells.families.get_mut(&family)) {
            if meta.description != description {
                meta.description = description.to_owned();
                self.inner.meta_dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Gets or creates an integer counter (`HINCRBY`). The same name and labels, in any order,
    /// give the same counter. Written as the registry exposes it: `jobs` → `jobs_total::…`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Result<RedisCounter, StoreError> {
        let handle = self.series(name, labels, crate::MetricType::Counter, None, |r, m| {
            r.counter(m)
        })?;
        Ok(RedisCounter {
            field: self.own_field(name, crate::MetricType::Counter, labels)?,
            handle,
            inner: self.inner.clone(),
        })
    }

    /// Gets or creates a float counter (`HINCRBYFLOAT`).
    pub fn float_counter(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<RedisFloatCounter, StoreError> {
        let handle = self.series(name, labels, crate::MetricType::Counter, None, |r, m| {
            r.float_counter(m)
        })?;
        Ok(RedisFloatCounter {
            handle,
            inner: self.inner.clone(),
        })
    }

    /// Gets or creates a gauge with the given cross-process meaning. The mode is part of the
    /// family's identity: asking again with another mode is an error.
    pub fn gauge(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        mode: GaugeMode,
    ) -> Result<RedisGauge, StoreError> {
        let family = naming::exposed_name(name, crate::MetricType::Gauge, "");
        {
            let modes = self.inner.own_gauge_modes.lock();
            if let Some(existing) = modes.get(&family).copied().filter(|m| *m != mode) {
                return Err(StoreError::GaugeModeConflict {
                    name: name.to_owned(),
                    existing,
                    requested: mode,
                });
            }
        }
        let handle = self.series(name, labels, crate::MetricType::Gauge, None, |r, m| {
            r.float_gauge(m)
        })?;
        self.inner.own_gauge_modes.lock().insert(family, mode);
        Ok(RedisGauge {
            handle,
            mode,
            inner: self.inner.clone(),
        })
    }

    /// Gets or creates a histogram with these bucket bounds (default: the Prometheus defaults).
    /// Every series of one name must use the same bounds.
    pub fn histogram(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: Option<&[f64]>,
    ) -> Result<RedisHistogram, StoreError> {
        let bounds = bounds.unwrap_or(DEFAULT_BUCKETS);
        Buckets::check(bounds)?;
        let handle = self.series(
            name,
            labels,
            crate::MetricType::Histogram,
            Some(bounds),
            |r, m| r.histogram(m, Some(bounds.to_vec())),
        )?;
        Ok(RedisHistogram {
            handle,
            inner: self.inner.clone(),
        })
    }

    /// Gets or creates a summary, stored as a mergeable sketch (see [`super::sketch`]): the
    /// exporter computes quantiles over every process within 1% relative error.
    pub fn summary(&self, name: &str, labels: &[(&str, &str)]) -> Result<RedisSummary, StoreError> {
        let handle = self.series(name, labels, crate::MetricType::Summary, None, |r, m| {
            r.summary(m)
        })?;
        Ok(RedisSummary {
            name: name.to_owned(),
            handle,
            inner: self.inner.clone(),
        })
    }

    /// The value field of a handle's series.
    fn own_field(
        &self,
        name: &str,
        metric_type: crate::MetricType,
        labels: &[(&str, &str)],
    ) -> Result<String, StoreError> {
        Ok(codec::encode_field(
            &naming::exposed_name(name, metric_type, ""),
            Extension::Value,
            labels,
        )?)
    }

    /// Hash fields waiting to be sent (after a failed transfer).
    pub fn pending_fields(&self) -> usize {
        let link = self.inner.link.lock();
        link.outbox.len() + link.in_doubt.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// Sends every delta accumulated since the last transfer in one round trip (one run of the
    /// batch script, see the module docs' "Exactly once").
    ///
    /// Blocks at most: the I/O timeout waiting for a concurrent transfer, the connect timeout
    /// (only when there is no connection), the I/O timeout for resending a batch of unknown
    /// outcome (only after one) and the I/O timeout for the batch itself:
    /// each exchange with Redis has one deadline, however many commands it carries. A
    /// transaction carries at most 20 000 fields; more wait for the next transfer. On failure the deltas are kept, bounded
    /// by [`StoreConfig::max_pending_fields`], and sent by a later transfer; for
    /// [`StoreConfig::retry_backoff`] after a failure, transfers return at once. A batch whose
    /// outcome is unknown (the connection broke after it was sent) is resent with its own
    /// sequence number, which the script applies at most once, so it is counted exactly once.
    ///
    /// This is a blocking socket call: call it where blocking for the timeouts is acceptable (at
    /// the end of a batch job, in a worker thread, before a program exits). In an async handler
    /// or on any thread that must not block, call [`SharedStore::transfer_in_background`]
    /// instead, or `.await` [`SharedStore::transfer_async`].
    pub fn transfer(&self) -> Result<TransferReport, StoreError> {
        transfer(&self.inner)
    }

    /// Asks for a transfer and returns at once: one background thread of this store (started by
    /// the first call) performs it, so the caller never waits for Redis, whatever state Redis is
    /// in. This is the form to call at the end of a request in an async handler (or anywhere a
    /// thread must not block); it needs no async runtime.
    ///
    /// Bounded: at most one transfer runs and at most one waits. A call made while a transfer is
    /// waiting joins it; one made while a transfer runs makes the next one wait, so every delta
    /// recorded before a call is sent by a transfer that starts after it. A waiting transfer
    /// holds the store, so the deltas are sent even if every handle is dropped meanwhile.
    ///
    /// Outcomes are not returned: failures are counted in
    /// `microprofile_redis_transfer_errors_total` (scope vendor), the deltas are kept as for
    /// [`SharedStore::transfer`], and the thread tries again after
    /// [`StoreConfig::retry_backoff`] while fields are pending (and the store is alive), without
    /// another call. The thread ends when the store and every handle are dropped.
    ///
    /// Fails only if the thread cannot be started ([`StoreError::Thread`]).
    ///
    /// ```no_run
    /// use microprofile::redis::{SharedStore, StoreConfig};
    /// let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "shop"))?;
    /// let orders = store.counter("orders", &[])?;
    /// // In a request handler, sync or async:
    /// orders.inc();
    /// store.transfer_in_background()?;
    /// # Ok::<(), microprofile::redis::StoreError>(())
    /// ```
    pub fn transfer_in_background(&self) -> Result<(), StoreError> {
        self.request_background(None)
    }

    /// Asks for a transfer as [`SharedStore::transfer_in_background`] does, and returns a future
    /// of its outcome: `.await` it where an async program must know that its deltas left (at the
    /// end of an async job, before it exits) without blocking a runtime worker. Works with any
    /// executor (the background thread wakes the task; no runtime is required).
    ///
    /// The transfer is asked for when this is called, not when the future is first polled; the
    /// future only waits for its outcome, and dropping it does not cancel the transfer. The
    /// outcome is that of the transfer that carried this call's deltas (when the call joined a
    /// waiting transfer, that one's).
    ///
    /// ```no_run
    /// # async fn job() -> Result<(), microprofile::redis::StoreError> {
    /// use microprofile::redis::{SharedStore, StoreConfig};
    /// let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "jobs"))?;
    /// store.counter("jobs_done", &[])?.inc();
    /// let report = store.transfer_async().await?;
    /// println!("{} fields sent", report.fields);
    /// # Ok(())
    /// # }
    /// ```
    pub fn transfer_async(&self) -> TransferFuture {
        let completion = Arc::new(Completion::default());
        if let Err(e) = self.request_background(Some(completion.clone())) {
            completion.complete(Err(e));
        }
        TransferFuture { completion }
    }

    fn request_background(&self, waiter: Option<Arc<Completion>>) -> Result<(), StoreError> {
        let (background, worker) = {
            let mut slot = self.inner.background.lock();
            match &*slot {
                Some((background, worker)) => (background.clone(), worker.clone()),
                None => {
                    let background = Arc::new(Background::default());
                    let thread_background = background.clone();
                    let weak = Arc::downgrade(&self.inner);
                    let handle = thread::Builder::new()
                        .name("mp-redis-bg".to_owned())
                        .spawn(move || background_loop(&thread_background, &weak))
                        .map_err(|e| StoreError::Thread(e.to_string()))?;
                    let worker = handle.thread().clone();
                    *slot = Some((background.clone(), worker.clone()));
                    (background, worker)
                }
            }
        };
        {
            let mut pending = background.pending.lock();
            match &mut *pending {
                Some(request) => request.waiters.extend(waiter),
                None => {
                    *pending = Some(Request {
                        inner: self.inner.clone(),
                        waiters: waiter.into_iter().collect(),
                    })
                }
            }
        }
        worker.unpark();
        Ok(())
    }

    /// A guard for a short-lived job (the design's Celery decorator): when it is dropped — the
    /// job returned, failed with `?`, or panicked and is unwinding — it transfers once, blocking
    /// for at most the configured timeouts. [`JobTransfer::finish`] does the same and returns
    /// the outcome.
    ///
    /// ```no_run
    /// # use microprofile::redis::{SharedStore, StoreConfig};
    /// # let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "jobs")).unwrap();
    /// fn nightly_import(store: &SharedStore) -> Result<(), std::io::Error> {
    ///     let _transfer = store.job();
    ///     // … the job's work, recording metrics; sent when `_transfer` goes out of scope …
    ///     Ok(())
    /// }
    /// ```
    pub fn job(&self) -> JobTransfer {
        JobTransfer {
            store: Some(self.clone()),
        }
    }

    /// Runs `job` and transfers when it ends, also when it panics (the panic then goes on):
    /// [`job`](Self::job) as a closure.
    pub fn run_job<R>(&self, job: impl FnOnce() -> R) -> R {
        let _transfer = self.job();
        job()
    }

    /// Starts a thread that transfers every `interval` and once more when the returned guard is
    /// dropped (or [`PeriodicTransfer::stop`]ped): that last transfer always starts after the
    /// stop, so everything recorded before `stop` (or the drop) is sent, even when the stop came
    /// while a transfer was running.
    pub fn spawn_periodic_transfer(
        &self,
        interval: Duration,
    ) -> Result<PeriodicTransfer, StoreError> {
        let store = self.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let handle = thread::Builder::new()
            .name("microprofile-redis-periodic".to_owned())
            .spawn(move || loop {
                thread::park_timeout(interval);
                // Read before the transfer: once `stop` is seen, one more transfer starts after
                // it, so a stop that lands while a transfer runs is followed by another one,
                // which sends what was recorded before the stop.
                let stopping = thread_stop.load(Ordering::Acquire);
                let mut outcome = store.transfer();
                if stopping {
                    // The last one waits out a transfer of another thread holding the link.
                    let deadline = Instant::now() + store.inner.config.io_timeout * 3;
                    while matches!(outcome, Err(StoreError::Busy)) && Instant::now() < deadline {
                        outcome = store.transfer();
                    }
                    break;
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(PeriodicTransfer {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = &*self.sender.lock() {
            t.unpark();
        }
        // No request can be pending (a pending request holds the store), so the background
        // thread has nothing left to send: it ends at its next wake-up. (Not joined: this may
        // run on that very thread, when it dropped the last reference.)
        if let Some((background, t)) = self.background.get_mut().take() {
            background.stop.store(true, Ordering::Release);
            t.unpark();
        }
    }
}

/// Transfers once when dropped ([`SharedStore::job`]).
#[derive(Debug)]
#[must_use = "the transfer happens when the guard is dropped: keep it for the job's duration"]
pub struct JobTransfer {
    store: Option<SharedStore>,
}

impl JobTransfer {
    /// Transfers now and returns the outcome (instead of at the drop).
    pub fn finish(mut self) -> Result<TransferReport, StoreError> {
        match self.store.take() {
            Some(store) => store.transfer(),
            None => Ok(TransferReport::default()),
        }
    }
}

impl Drop for JobTransfer {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            let _ = store.transfer();
        }
    }
}

/// Stops its periodic transfer thread when dropped, after one last transfer.
#[derive(Debug)]
pub struct PeriodicTransfer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl PeriodicTransfer {
    /// Stops the thread after one last transfer and waits for it (bounded by the timeouts).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

impl Drop for PeriodicTransfer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What [`SharedStore::transfer_in_background`] hands to the background thread.
#[derive(Default)]
struct Background {
    /// The transfer asked for and not started yet (at most one: later calls join it).
    pending: Mutex<Option<Request>>,
    /// Set when the store is dropped.
    stop: AtomicBool,
}

struct Request {
    /// Held so that a requested transfer happens even if the store is dropped meanwhile.
    inner: Arc<Inner>,
    /// The futures of [`SharedStore::transfer_async`] waiting for this transfer.
    waiters: Vec<Arc<Completion>>,
}

/// The outcome of one background transfer, and the task waiting for it.
#[derive(Default)]
struct Completion {
    state: Mutex<CompletionState>,
}

/// The outcome once known, and the waker of the task polling for it until then.
type CompletionState = (Option<Result<TransferReport, StoreError>>, Option<Waker>);

impl Completion {
    fn complete(&self, outcome: Result<TransferReport, StoreError>) {
        let waker = {
            let mut state = self.state.lock();
            state.0 = Some(outcome);
            state.1.take()
        };
        // Woken outside the lock: a waker may poll at once, on this thread.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The outcome of a transfer asked for by [`SharedStore::transfer_async`]: resolves when the
/// background thread has performed it. Dropping it does not cancel the transfer.
#[must_use = "the transfer is under way anyway; await the future to learn its outcome, or call transfer_in_background instead"]
pub struct TransferFuture {
    completion: Arc<Completion>,
}

impl std::fmt::Debug for TransferFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = self.completion.state.lock().0.is_some();
        f.debug_struct("TransferFuture")
            .field("done", &done)
            .finish()
    }
}

impl Future for TransferFuture {
    type Output = Result<TransferReport, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.completion.state.lock();
        match state.0.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                match &mut state.1 {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

/// Serves the requests of [`SharedStore::transfer_in_background`] one at a time, and retries
/// a failed transfer after the backoff while fields are pending.
fn background_loop(background: &Background, weak: &Weak<Inner>) {
    let mut retry_at: Option<Instant> = None;
    loop {
        if background.stop.load(Ordering::Acquire) {
            return;
        }
        let request = background.pending.lock().take();
        if let Some(Request { inner, waiters }) = request {
            let outcome = transfer(&inner);
            retry_at = retry_time(&inner, &outcome);
            for waiter in waiters {
                waiter.complete(outcome.clone());
            }
            // May drop the store, whose drop then sets `stop`.
            drop(inner);
            continue;
        }
        match retry_at {
            Some(at) if Instant::now() >= at => {
                let Some(inner) = weak.upgrade() else { return };
                let outcome = transfer(&inner);
                retry_at = retry_time(&inner, &outcome);
                drop(inner);
            }
            // Woken early by a request or by the store's drop, or at the retry time.
            Some(at) => thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => thread::park(),
        }
    }
}

/// When the background thread should try again after this outcome: after the backoff when
/// Redis failed and fields are waiting, soon when another transfer held the connection.
fn retry_time(inner: &Inner, outcome: &Result<TransferReport, StoreError>) -> Option<Instant> {
    let wait = match outcome {
        Err(StoreError::Unavailable { pending, .. }) if *pending > 0 => inner
            .config
            .retry_backoff
            // Capped so that a huge backoff cannot overflow the clock; a wake-up still in
            // backoff costs no I/O.
            .clamp(Duration::from_millis(10), Duration::from_secs(60)),
        Err(StoreError::Busy) => Duration::from_millis(10),
        _ => return None,
    };
    Some(Instant::now() + wait)
}

fn eager_loop(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        let wanted = inner.notified.swap(false, Ordering::AcqRel);
        let pending = {
            let link = inner.link.lock();
            link.outbox.len() > 0 || link.in_doubt.is_some()
        };
        let mut wait = Duration::from_secs(1);
        // The store's own registry needs no polling: its handles wake this thread.
        let attached = inner.attached.lock().iter().any(|a| !a.is_own());
        if attached {
            wait = inner.config.eager_interval;
        }
        if wanted || pending || attached {
            if let Err(StoreError::Unavailable { .. }) = transfer(&inner) {
                wait = inner.config.retry_backoff.max(Duration::from_millis(10));
            } else if inner.notified.load(Ordering::Acquire) {
                continue;
            }
        }
        drop(inner);
        thread::park_timeout(wait);
    }
}

fn field(
    name: &str,
    extension: Extension,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
) -> Result<String, StoreError> {
    let mut pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    pairs.extend(extra);
    Ok(codec::encode_field(name, extension, &pairs)?)
}

fn transfer(inner: &Inner) -> Result<TransferReport, StoreError> {
    let config = &inner.config;
    let mut link = inner
        .link
        .try_lock_for(config.io_timeout)
        .ok_or(StoreError::Busy)?;
    let link = &mut *link;
    let room = config.max_pending_fields;
    // Always move the deltas out of the handles, so what waits is bounded by `room`.
    {
        let doubt_len = link.in_doubt.as_ref().map_or(0, |(_, b)| b.len());
        let mut sink = Sink {
            outbox: &mut link.outbox,
            room: room.saturating_sub(doubt_len),
        };
        let mut types: HashMap<String, TypeCode> = {
            let cells = inner.cells.lock();
            cells
                .families
                .iter()
                .map(|(name, meta)| (name.clone(), meta.type_code))
                .collect()
        };
        // The attached registries, read without the cells' lock: a callback gauge read here may
        // make store handles.
        // Taken out of their lock while read, so that a callback may even attach a registry.
        let mut attachments = std::mem::take(&mut *inner.attached.lock());
        let mut seen = Vec::new();
        for attachment in &mut attachments {
            let families = attachment.drain(&mut sink, &types, &config.process_label);
            // What one attachment sent is a type the next one must not mix in, in this very
            // transfer too.
            for family in &families {
                types
                    .entry(family.name.clone())
                    .or_insert(family.meta.type_code);
            }
            seen.extend(families);
        }
        {
            let mut attached = inner.attached.lock();
            let added_meanwhile = std::mem::replace(&mut *attached, attachments);
            attached.extend(added_meanwhile);
        }
        if !seen.is_empty() {
            let mut cells = inner.cells.lock();
            for family in seen {
                if let std::collections::hash_map::Entry::Vacant(entry) =
                    cells.families.entry(family.name)
                {
                    entry.insert(family.meta);
                    inner.meta_dirty.store(true, Ordering::Release);
                }
            }
        }
    }
    let unavailable = |link: &Link, reason: String| StoreError::Unavailable {
        url: config.url.clone(),
        reason,
        pending: link.outbox.len() + link.in_doubt.as_ref().map_or(0, |(_, b)| b.len()),
    };
    if let Some(at) = link.failed_at {
        if at.elapsed() < config.retry_backoff {
            return Err(unavailable(link, "in backoff after a failure".to_owned()));
        }
        link.failed_at = None;
    }
    let nothing_to_send = link.outbox.len() == 0
        && link.in_doubt.is_none()
        && !inner.meta_dirty.load(Ordering::Acquire);
    if nothing_to_send {
        return Ok(TransferReport::default());
    }
    let fail = |link: &mut Link, reason: String| {
        TRANSFER_ERRORS.inc();
        link.connection = None;
        link.failed_at = Some(Instant::now());
        Err(unavailable(link, reason))
    };
    if link.connection.is_none() {
        match connect(inner) {
            Ok(c) => {
                link.connection = Some(c);
                inner.meta_dirty.store(true, Ordering::Release);
            }
            Err(e) => return fail(link, e),
        }
    }
    // A batch of unknown outcome goes first, again, unchanged and with its own sequence number:
    // the script applies a sequence number at most once, so whether the first attempt ran, runs
    // later (its bytes still in flight on the old connection) or never, Redis counts it once.
    let mut resent = 0;
    if let Some((seq, batch)) = link.in_doubt.take() {
        match send_batch(inner, link, seq, &batch, &[]) {
            Ok(fields) => resent = fields,
            Err(reason) => {
                link.in_doubt = Some((seq, batch));
                return fail(link, reason);
            }
        }
    }
    // Only the resend had anything to carry: no second round trip.
    if link.outbox.len() == 0 && !inner.meta_dirty.load(Ordering::Acquire) {
        TRANSFERS.inc();
        return Ok(TransferReport {
            fields: resent,
            round_trip: true,
        });
    }
    let seq = link.next_seq;
    link.next_seq += 1;
    // One transaction carries at most MAX_FIELDS_PER_TRANSACTION fields, so that it fits the
    // I/O timeout; the rest waits for the next transfer.
    let batch = link.outbox.split_off(MAX_FIELDS_PER_TRANSACTION);
    let meta_dirty = inner.meta_dirty.swap(false, Ordering::AcqRel);
    // (op, field, value): `s` sets a field of the namespace's hash, `m` one of its metadata hash.
    let mut meta: Vec<(&[u8], String, String)> = Vec::new();
    if meta_dirty {
        let cells = inner.cells.lock();
        for (name, family) in &cells.families {
            let type_field = codec::encode_field(name, Extension::Type, &[])?;
            meta.push((b"s", type_field, family.type_code.letter().to_owned()));
            if !family.description.is_empty() {
                let description_field = codec::encode_field(name, Extension::Description, &[])?;
                meta.push((b"s", description_field, family.description.clone()));
            }
            if let Some((scope, unit)) = &family.recorded {
                let mut recorded = String::from("mp_scope=\"");
                codec::escape_label_value(&mut recorded, scope.as_str());
                recorded.push_str("\",unit=\"");
                codec::escape_label_value(&mut recorded, unit);
                recorded.push('"');
                meta.push((b"m", name.clone(), recorded));
            }
        }
    }
    match send_batch(inner, link, seq, &batch, &meta) {
        Ok(fields) => {
            TRANSFERS.inc();
            Ok(TransferReport {
                fields: resent + fields,
                round_trip: true,
            })
        }
        Err(reason) => {
            if meta_dirty {
                inner.meta_dirty.store(true, Ordering::Release);
            }
            link.in_doubt = Some((seq, batch));
            fail(link, reason)
        }
    }
}

/// Applies one batch in Redis at most once: the script compares the batch's sequence number
/// with the last one this store instance applied (its acknowledgement key), and only when it is
/// newer applies every change and records the number, all in one atomic script run. A change
/// Redis refuses (a field of another type written by another program) is skipped and counted;
/// the others are applied; an integer increment of a field that holds a fraction is added with
/// `HINCRBYFLOAT` (an integer and a float counter may share a field). Ops: `i` `HINCRBY`, `f` `HINCRBYFLOAT`, `s` `HSET` in the namespace's
/// hash (KEYS[1]); `m` `HSET` in its metadata hash (KEYS[3]).
const APPLY_BATCH: &str = r#"
local done = tonumber(redis.call('GET', KEYS[2]) or '0')
if done >= tonumber(ARGV[1]) then return {0, 0} end
local refused = 0
for i = 2, #ARGV, 3 do
  local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local command, key = 'HSET', KEYS[1]
  if op == 'i' then command = 'HINCRBY' elseif op == 'f' then command = 'HINCRBYFLOAT'
  elseif op == 'm' then key = KEYS[3] end
  local reply = redis.pcall(command, key, field, value)
  if op == 'i' and type(reply) == 'table' and reply.err then
    -- The field holds a fraction (a float counter of the same name and labels, here or in
    -- another process): an integer increment is added as a float, exactly, not refused.
    reply = redis.pcall('HINCRBYFLOAT', key, field, value)
  end
  if type(reply) == 'table' and reply.err then refused = refused + 1 end
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
return {1, refused}
"#;

/// Sends one batch (and the metadata fields) as one run of [`APPLY_BATCH`]; the number of fields
/// it carried, or why the outcome is unknown.
fn send_batch(
    inner: &Inner,
    link: &mut Link,
    seq: u64,
    batch: &Outbox,
    meta: &[(&[u8], String, String)],
) -> Result<usize, String> {
    let config = &inner.config;
    let seq_text = seq.to_string();
    let mut values: Vec<(&[u8], String)> = Vec::with_capacity(batch.ops.len());
    for op in batch.ops.values() {
        let mut int = itoa::Buffer::new();
        values.push(match op {
            Op::IncrInt(n) => (b"i", int.format(*n).to_owned()),
            Op::IncrFloat(d) => (b"f", format_float(*d)),
            Op::Set(v) => (b"s", format_float(*v)),
        });
    }
    let mut args: Vec<&[u8]> = Vec::with_capacity(6 + 3 * (batch.ops.len() + meta.len()));
    args.extend([
        b"EVAL".as_slice(),
        APPLY_BATCH.as_bytes(),
        b"3",
        config.namespace.as_bytes(),
        inner.ack_key.as_bytes(),
        inner.meta_key.as_bytes(),
        seq_text.as_bytes(),
    ]);
    for (op, field, value) in meta {
        args.extend([*op, field.as_bytes(), value.as_bytes()]);
    }
    for ((field, _), (op, value)) in batch.ops.iter().zip(&values) {
        args.extend([*op, field.as_bytes(), value.as_bytes()]);
    }
    let fields = batch.ops.len() + meta.len();
    let mut request = Vec::with_capacity(APPLY_BATCH.len() + 64 + fields * 96);
    resp::encode(&mut request, &args);
    let reply = match link.connection.as_mut() {
        Some(c) => c.exchange(&request, 1, config.io_timeout),
        None => return Err("no connection".to_owned()),
    };
    match reply.as_deref() {
        Ok([Reply::Array(Some(result))]) => {
            if let [Reply::Int(_applied), Reply::Int(refused)] = result.as_slice() {
                if *refused > 0 {
                    // Applied, except the changes Redis refused: those cannot be sent as they
                    // are.
                    TRANSFER_ERRORS.inc();
                    DROPPED_UPDATES.inc_by(*refused as u64);
                }
                Ok(fields)
            } else {
                Err(format!("unexpected reply to the batch: {result:?}"))
            }
        }
        Ok(other) => Err(format!("the batch was not applied: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The most fields one transaction carries.
const MAX_FIELDS_PER_TRANSACTION: usize = 20_000;

impl Outbox {
    /// Takes up to `max` fields out (all of them when there are no more).
    fn split_off(&mut self, max: usize) -> Outbox {
        if self.ops.len() <= max {
            return std::mem::take(self);
        }
        let keys: Vec<String> = self.ops.keys().take(max).cloned().collect();
        let mut taken = Outbox::default();
        for k in keys {
            if let Some(op) = self.ops.remove(&k) {
                taken.ops.insert(k, op);
            }
        }
        taken
    }
}

fn connect(inner: &Inner) -> Result<resp::Connection, String> {
    let config = &inner.config;
    resp::Connection::open(&inner.target, config.connect_timeout, config.io_timeout)
        .map_err(|e| e.to_string())
}

/// Adds a histogram series' bucket deltas (`deltas`, per bucket, `+Inf` last) as the store keeps
/// them, **cumulative**: the field of bound x grows by every new observation ≤ x. When anything
/// was observed, every bucket field is sent (those below the first observation with 0), so the
/// store holds the series' whole set of bounds. Returns whether anything was observed.
fn add_cumulative_buckets(sink: &mut Sink<'_>, fields: &[String], deltas: &[u64]) -> bool {
    if deltas.iter().all(|&n| n == 0) {
        return false;
    }
    let mut cumulative = 0u64;
    for (field, n) in fields.iter().zip(deltas) {
        cumulative = cumulative.saturating_add(*n);
        sink.add(field, Op::IncrInt(cumulative.min(i64::MAX as u64) as i64));
    }
    true
}

/// An integer counter in a [`SharedStore`]: a view over a counter of the store's own
/// registry, so one relaxed atomic add per update.
#[derive(Clone)]
pub struct RedisCounter {
    handle: crate::Handle<crate::Counter>,
    field: String,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisCounter").field(&self.field).finish()
    }
}

impl RedisCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1)
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.handle.inc_by(n);
        self.inner.updated();
    }

    /// The hash field it writes.
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// A float counter in a [`SharedStore`] (a view over a float counter of the store's registry).
/// Negative, NaN or infinite increments are refused and counted in
/// `microprofile_rejected_updates_total`.
#[derive(Clone)]
pub struct RedisFloatCounter {
    handle: crate::Handle<crate::FloatCounter>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisFloatCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFloatCounter").finish_non_exhaustive()
    }
}

impl RedisFloatCounter {
    /// Adds `delta` (finite, not negative).
    pub fn inc_by(&self, delta: f64) {
        if delta.is_finite() && delta >= 0.0 {
            self.handle.inc_by(delta);
            self.inner.updated();
        } else {
            crate::metric::events::REJECTED_UPDATES.inc();
        }
    }
}

/// A gauge in a [`SharedStore`] (a view over a gauge of the store's registry), with the meaning
/// its [`GaugeMode`] gives it.
#[derive(Clone)]
pub struct RedisGauge {
    handle: crate::Handle<crate::FloatGauge>,
    mode: GaugeMode,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisGauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGauge")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl RedisGauge {
    /// Sets this process's value (NaN is refused).
    pub fn set(&self, value: f64) {
        if value.is_nan() {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        self.handle.set(value);
        self.inner.updated();
    }

    /// Adds `delta` (which may be negative) to this process's value.
    pub fn add(&self, delta: f64) {
        if !delta.is_finite() {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        self.handle.add(delta);
        self.inner.updated();
    }

    /// This process's value.
    pub fn get(&self) -> f64 {
        self.handle.get()
    }

    /// The cross-process meaning.
    pub fn mode(&self) -> GaugeMode {
        self.mode
    }
}

/// A histogram in a [`SharedStore`] (a view over a histogram of the store's registry); bucket
/// counts, sum and count are increments.
#[derive(Clone)]
pub struct RedisHistogram {
    handle: crate::Handle<crate::Histogram>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHistogram").finish_non_exhaustive()
    }
}

impl RedisHistogram {
    /// Records one observation (NaN and infinities are refused and counted as rejected).
    pub fn observe(&self, value: f64) {
        if !value.is_finite() {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        self.handle.observe(value);
        self.inner.updated();
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64())
    }

    /// Starts a guard that records the elapsed seconds when dropped.
    pub fn start_timer(&self) -> TimerGuard<'_> {
        TimerGuard::new(self)
    }
}

impl Observe for RedisHistogram {
    fn observe_value(&self, value: f64) {
        self.observe(value)
    }
}

/// A summary in a [`SharedStore`] (a view over a summary of the store's registry), sent as a
/// mergeable sketch.
#[derive(Clone)]
pub struct RedisSummary {
    name: String,
    handle: crate::Handle<crate::Summary>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisSummary").field(&self.name).finish()
    }
}

impl RedisSummary {
    /// Records one observation (NaN and infinities are refused and counted as rejected).
    pub fn observe(&self, value: f64) {
        if !value.is_finite() {
            crate::metric::events::REJECTED_UPDATES.inc();
            return;
        }
        self.handle.observe(value);
        self.inner.updated();
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64())
    }

    /// Starts a guard that records the elapsed seconds when dropped.
    pub fn start_timer(&self) -> TimerGuard<'_> {
        TimerGuard::new(self)
    }
}

impl Observe for RedisSummary {
    fn observe_value(&self, value: f64) {
        self.observe(value)
    }
}

/// The store's type letter of a metric type (a timer is a histogram).
fn type_code_of(metric_type: crate::MetricType) -> TypeCode {
    match metric_type {
        crate::MetricType::Counter => TypeCode::Counter,
        crate::MetricType::Gauge => TypeCode::Gauge,
        crate::MetricType::Histogram | crate::MetricType::Timer => TypeCode::Histogram,
        crate::MetricType::Summary => TypeCode::Summary,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn merge_rules() {
        assert_eq!(merge(Op::IncrInt(2), Op::IncrInt(3)), Op::IncrInt(5));
        assert_eq!(
            merge(Op::IncrFloat(0.5), Op::IncrInt(1)),
            Op::IncrFloat(1.5)
        );
        assert_eq!(merge(Op::Set(1.0), Op::Set(2.0)), Op::Set(2.0));
        assert_eq!(merge(Op::Set(1.0), Op::IncrFloat(2.0)), Op::Set(3.0));
    }

    #[test]
    fn outbox_is_bounded_and_counts_drops() {
        let before = DROPPED_UPDATES.get();
        let mut outbox = Outbox::default();
        assert!(outbox.add("a", Op::IncrInt(1), 2));
        assert!(outbox.add("b", Op::IncrInt(1), 2));
        assert!(outbox.add("a", Op::IncrInt(1), 2));
        assert!(!outbox.add("c", Op::IncrInt(1), 2));
        assert_eq!(outbox.len(), 2);
        assert_eq!(outbox.ops["a"], Op::IncrInt(2));
        assert!(DROPPED_UPDATES.get() > before);
    }

    #[test]
    fn unreachable_redis_never_blocks_long_and_keeps_deltas() {
        // A port nothing listens on (bound then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let store = SharedStore::new(
            StoreConfig::new(format!("redis://127.0.0.1:{port}"), "t")
                .connect_timeout(Duration::from_millis(100)),
        )
        .unwrap();
        let c = store.counter("c", &[("a", "1")]).unwrap();
        c.inc_by(5);
        let start = Instant::now();
        assert!(matches!(
            store.transfer(),
            Err(StoreError::Unavailable { pending: 2, .. }) | Err(StoreError::Unavailable { .. })
        ));
        assert!(start.elapsed() < Duration::from_secs(2));
        // In backoff: returns at once.
        let start = Instant::now();
        assert!(store.transfer().is_err());
        assert!(start.elapsed() < Duration::from_millis(50));
        assert_eq!(store.pending_fields(), 1);
    }

    #[test]
    fn huge_timeouts_and_backoff_do_not_panic() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let store = SharedStore::new(
            StoreConfig::new(format!("redis://127.0.0.1:{port}"), "t")
                .connect_timeout(Duration::MAX)
                .io_timeout(Duration::MAX)
                .retry_backoff(Duration::MAX),
        )
        .unwrap();
        store.counter("c", &[]).unwrap().inc();
        assert!(store.transfer().is_err());
        // In (endless) backoff.
        assert!(matches!(
            store.transfer(),
            Err(StoreError::Unavailable { reason, .. }) if reason.contains("backoff")
        ));
    }

    #[test]
    fn refuses_bad_names_and_conflicts() {
        let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:1", "t")).unwrap();
        assert!(store.counter("9x", &[]).is_err());
        assert!(store.counter("x", &[("le", "1")]).is_err());
        assert!(store.counter("x", &[("a", "1"), ("a", "2")]).is_err());
        store.counter("x", &[]).unwrap();
        assert!(matches!(
            store.gauge("x", &[], GaugeMode::Sum),
            Err(StoreError::TypeConflict { .. })
        ));
        store.gauge("g", &[], GaugeMode::Sum).unwrap();
        assert!(store.gauge("g", &[], GaugeMode::LastWriterWins).is_err());
        store.histogram("h", &[], Some(&[1.0, 2.0])).unwrap();
        assert!(store.histogram("h", &[("a", "b")], Some(&[1.0])).is_err());
        assert!(SharedStore::new(StoreConfig::new("nope://x", "t")).is_err());
        // Same series in any label order: one handle.
        let a = store.counter("y", &[("a", "1"), ("b", "2")]).unwrap();
        let b = store.counter("y", &[("b", "2"), ("a", "1")]).unwrap();
        assert_eq!(a.field(), b.field());
        a.inc();
        assert_eq!(b.handle.get(), 1);
    }
}
