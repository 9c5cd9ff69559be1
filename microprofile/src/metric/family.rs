//! Labelled families: one metric per label set, chosen at run time.
//!
//! Label sets are types implementing [`LabelSet`] (usually `#[derive(LabelSet)]`). A label set made
//! only of enums and `bool`s has a fixed cardinality; up to [`MAX_DENSE_SERIES`] combinations it is
//! indexed densely: an update is an array index and the metric's own atomic op, with no hash and no
//! lock (the family's maximum of series still holds: past it, new series go to the overflow series). Other label sets are hashed into one
//! of [`SHARDS`] independently locked maps, so updates never share a global lock; an existing
//! series is found under a shard's read lock, which is released before [`Family::with`] returns.
//!
//! The handle [`Family::with`] returns, a [`SeriesRef`], holds no lock: it borrows a dense series,
//! or shares ownership of a hashed one. It is `Send` and `Sync`, can be kept (in a struct, across
//! an `.await`) and cloned, and a timer can be started from it in one line
//! (`LATENCY.with(&labels).start_timer()`).

use std::any::Any;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use crate::error::Error;
use crate::metric::histogram::{Observe, TimerGuard};
use crate::metric::MetricType;
use crate::metric::{Collect, Metric, NewLike, SeriesLabels};
use crate::naming;

/// How many independently locked maps a hashed family spreads its series over.
pub const SHARDS: usize = 16;

/// The default maximum number of series of one family.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// The one label of the overflow series: once a family holds its maximum number of series,
/// updates for new label sets go to one series labelled only `mp_overflow="true"` instead, and each
/// redirected update is counted in the vendor metric `microprofile_cardinality_overflow_total`.
///
/// The name is reserved (no tag or label set may use it), and the overflow series carries none of
/// the family's own labels, so it can never share its label set with a series of the family,
/// whatever the label values (the OpenTelemetry SDKs mark their overflow series the same way, with
/// `otel.metric.overflow=true`).
pub const OVERFLOW_LABEL_NAME: &str = "mp_overflow";

/// The value of [`OVERFLOW_LABEL_NAME`] on the overflow series.
pub const OVERFLOW_LABEL_VALUE: &str = "true";

/// The labels of the overflow series, as pairs.
const OVERFLOW_PAIRS: [(&str, &str); 1] = [(OVERFLOW_LABEL_NAME, OVERFLOW_LABEL_VALUE)];

/// The most combinations a fixed-cardinality label set is stored densely for (every combination
/// allocated once, 128 bytes each at least): above it the family hashes its label sets like any
/// other, so it allocates only the series in use. Either way a family keeps to its maximum number
/// of series.
pub const MAX_DENSE_SERIES: usize = 4096;

/// A set of labels: the names (fixed by the type) and their values (per instance).
///
/// `#[derive(LabelSet)]` implements it and checks the names at compile time. By hand:
///
/// ```
/// use microprofile::LabelSet;
/// #[derive(Clone, PartialEq, Eq, Hash)]
/// struct Route { method: &'static str, status: u16 }
/// impl LabelSet for Route {
///     const NAMES: &'static [&'static str] = &["method", "status"];
///     fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
///         f(self.method);
///         f(itoa::Buffer::new().format(self.status));
///     }
/// }
/// # mod itoa { pub struct Buffer(String); impl Buffer { pub fn new() -> Self { Buffer(String::new()) } pub fn format(&mut self, v: u16) -> &str { self.0 = v.to_string(); &self.0 } } }
/// ```
pub trait LabelSet: Clone + Eq + Hash + Send + Sync + 'static {
    /// Label names, sorted, each a valid tag name.
    const NAMES: &'static [&'static str];
    /// `Some(n)` when the type has exactly `n` possible values (enum-only label sets).
    const CARDINALITY: Option<usize> = None;
    /// Calls `f` with each value, in the order of [`NAMES`](Self::NAMES).
    fn for_each_value(&self, f: &mut dyn FnMut(&str));
    /// With a fixed cardinality: this value's index in `0..n`.
    fn dense_index(&self) -> usize {
        0
    }
    /// With a fixed cardinality: the value at `index`.
    fn from_dense_index(index: usize) -> Option<Self> {
        let _ = index;
        None
    }
    /// Whether `self` and `other` are the same label set, as `==` says; a family finds its series
    /// with it. `#[derive(LabelSet)]` first compares the values field by field with
    /// [`LabelValue::is_same`](crate::LabelValue::is_same) (label values taken from the same
    /// `&'static str` literals compare by address), and falls back to `==`.
    #[inline]
    fn same_labels(&self, other: &Self) -> bool {
        self == other
    }
}

/// Renders a label set as `a="x",b="y"`.
pub fn render<L: LabelSet>(labels: &L) -> String {
    let mut out = String::new();
    render_into(labels, &mut out);
    out
}

/// Appends a label set rendered as `a="x",b="y"` to `out`, allocating nothing once `out` has
/// room. Values beyond the number of names are ignored.
fn render_into<L: LabelSet>(labels: &L, out: &mut String) {
    let mut names = L::NAMES.iter();
    let mut first = true;
    labels.for_each_value(&mut |value| {
        if let Some(name) = names.next() {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(name);
            out.push_str("=\"");
            naming::write_escaped_label_value(out, value);
            out.push('"');
        }
    });
}

/// Checks the names of a label set: valid, not reserved, sorted, unique.
pub fn check_names(names: &[&str]) -> Result<(), Error> {
    for name in names {
        naming::validate_tag_name(name)?;
    }
    if let Some((a, b)) = names.windows(2).find_map(|w| match w {
        [a, b] if a >= b => Some((a, b)),
        _ => None,
    }) {
        return Err(if a == b {
            Error::DuplicateTag {
                name: (*a).to_owned(),
            }
        } else {
            Error::InvalidTagName {
                name: (*b).to_owned(),
                reason: "label names of a LabelSet must be listed in sorted order",
            }
        });
    }
    Ok(())
}

struct Series<M> {
    labels: Box<str>,
    metric: M,
}

/// A series of a dense family (and a hashed family's overflow series), on cache lines of its own:
/// threads updating neighbouring series of a dense family (the usual case: one label set per kind
/// of request) would otherwise pass one line back and forth. 128 bytes, as the adjacent-line
/// prefetcher of x86 CPUs moves lines in pairs; a dense family holds at most
/// [`MAX_DENSE_SERIES`] of them (512 KiB of counters at most).
#[repr(align(128))]
struct DenseSeries<M> {
    series: Series<M>,
    touched: AtomicBool,
}

/// A series of a hashed family: its label set, rendered only when scraped, and the metric, shared
/// with the [`SeriesRef`]s handed out for it.
struct Keyed<L, M> {
    key: L,
    metric: Arc<M>,
}

#[inline]
fn find_metric<'t, L: LabelSet, M>(
    table: &'t HashTable<Keyed<L, M>>,
    hash: u64,
    labels: &L,
) -> Option<&'t Arc<M>> {
    table
        .find(hash, |k| k.key.same_labels(labels))
        .map(|k| &k.metric)
}

/// One shard: series found by a hash computed once per update (foldhash, seeded per family).
type Shard<L, M> = RwLock<HashTable<Keyed<L, M>>>;

/// A shard on cache lines of its own: every update takes its shard's read lock, an atomic on the
/// lock word, and shards packed side by side (40 bytes each) would share those lines between
/// threads updating series of different shards.
#[repr(align(128))]
struct PaddedShard<L, M>(Shard<L, M>);

struct Hashed<L, M> {
    shards: Box<[PaddedShard<L, M>; SHARDS]>,
    hasher: foldhash::fast::RandomState,
    /// Series in all shards; only grows under a shard's write lock, checked against the limit.
    len: AtomicUsize,
    overflow: DenseSeries<M>,
    /// Bumped under a shard's write lock by every insert and remove: while it is unchanged, the
    /// tables (and so the order in which they iterate) are unchanged.
    generation: AtomicU64,
    /// The label order of the series as last computed, reused while `generation` is unchanged.
    order: Mutex<Option<Order>>,
}

/// How many series ahead the sorted walk of a scrape fetches into the cache.
const PREFETCH_DISTANCE: usize = 16;

/// Hints the CPU to bring the cache line at `p` in; a no-op where there is no such hint.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no effect visible to the
    // program, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The sorted order of a hashed family's series at one generation.
#[derive(Clone)]
struct Order {
    generation: u64,
    /// Positions, in the shards' iteration order, of the series sorted by label text.
    positions: Arc<[u32]>,
    /// How many of the sorted series come before the overflow series.
    overflow_at: usize,
}

/// The indices `0..n` sorted by `labels(i)`; `n` fits in `u32` (the caller checks).
fn sorted_positions<'a>(n: usize, labels: impl Fn(usize) -> Option<&'a str>) -> Vec<u32> {
    let mut positions: Vec<u32> = (0..n).filter_map(|i| u32::try_from(i).ok()).collect();
    positions.sort_unstable_by(|&a, &b| labels(a as usize).cmp(&labels(b as usize)));
    positions
}

impl<L: LabelSet, M> Hashed<L, M> {
    fn shard(&self, hash: u64) -> &Shard<L, M> {
        // The top bits pick the shard; the table inside uses the low bits.
        let index = (hash >> 60) as usize % SHARDS;
        // `index < SHARDS` always; the first shard stands in rather than a panic path.
        let [first, ..] = &*self.shards;
        &self.shards.get(index).unwrap_or(first).0
    }

    /// The label order of `live` (the series in the shards' iteration order at `generation`):
    /// the cached one while no series was added or removed, else sorted anew and cached. `None`
    /// when there are more series than a `u32` position can name.
    fn order(&self, generation: u64, live: &[&Keyed<L, M>]) -> Option<Order> {
        u32::try_from(live.len()).ok()?;
        let mut cached = self.order.lock();
        if let Some(order) = &*cached {
            if order.generation == generation && order.positions.len() == live.len() {
                return Some(order.clone());
            }
        }
        // Every label set rendered once, end to end in one buffer, to sort by the text.
        let mut text = String::new();
        let mut ends = Vec::with_capacity(live.len());
        for keyed in live {
            render_into(&keyed.key, &mut text);
            ends.push(text.len());
        }
        let label = |i: usize| {
            let start = match i.checked_sub(1) {
                Some(before) => *ends.get(before)?,
                None => 0,
            };
            text.get(start..*ends.get(i)?)
        };
        let positions = sorted_positions(live.len(), label);
        let overflow_labels = &*self.overflow.series.labels;
        let overflow_at =
            positions.partition_point(|&i| label(i as usize).is_some_and(|l| l < overflow_labels));
        let order = Order {
            generation,
            positions: positions.into(),
            overflow_at,
        };
        *cached = Some(order.clone());
        Some(order)
    }
}

enum Storage<L, M> {
    Dense(Dense<M>),
    Hashed(Hashed<L, M>),
}

/// The series of a fixed-cardinality family: every possible one, allocated once.
struct Dense<M> {
    series: Box<[DenseSeries<M>]>,
    /// Indices of `series` sorted by label text (fixed at creation).
    order: Box<[u32]>,
    /// Series in use, kept to the family's maximum: the combinations may outnumber it.
    touched: AtomicUsize,
    overflow: DenseSeries<M>,
    /// How many of the sorted series come before the overflow series.
    overflow_at: usize,
    /// Takes the updates of a hand-written `LabelSet` whose index is outside its own cardinality;
    /// never exported.
    discard: M,
}

impl<M: Metric + NewLike> Dense<M> {
    /// The series at `index`: a few instructions while it is in use, which it stays until removed.
    #[inline(always)]
    fn with(&self, index: usize, max_series: usize) -> &M {
        match self.series.get(index) {
            Some(entry) if entry.touched.load(Ordering::Relaxed) => &entry.series.metric,
            Some(entry) => self.touch(entry, max_series),
            None => self.reject(),
        }
    }

    /// Puts a series in use, unless the family already holds its maximum: then the update goes
    /// to the overflow series.
    #[cold]
    #[inline(never)]
    fn touch<'a>(&'a self, entry: &'a DenseSeries<M>, max_series: usize) -> &'a M {
        // Count first, so that the limit holds whatever races; a second thread that counted the
        // same series gives its place back.
        if self.touched.fetch_add(1, Ordering::Relaxed) >= max_series {
            self.touched.fetch_sub(1, Ordering::Relaxed);
            crate::metric::events::CARDINALITY_OVERFLOW.inc();
            self.overflow.touched.store(true, Ordering::Relaxed);
            return &self.overflow.series.metric;
        }
        if entry.touched.swap(true, Ordering::Relaxed) {
            self.touched.fetch_sub(1, Ordering::Relaxed);
        }
        &entry.series.metric
    }

    #[cold]
    #[inline(never)]
    fn reject(&self) -> &M {
        crate::metric::events::REJECTED_UPDATES.inc();
        &self.discard
    }
}

/// The overflow series of a family, labelled only `mp_overflow="true"`.
fn overflow_series<M: NewLike>(template: &M) -> DenseSeries<M> {
    DenseSeries {
        series: Series {
            labels: naming::render_labels(std::iter::once((
                OVERFLOW_LABEL_NAME,
                OVERFLOW_LABEL_VALUE,
            )))
            .into_boxed_str(),
            metric: template.new_like(),
        },
        touched: AtomicBool::new(false),
    }
}

/// A labelled family of metrics of one type. Usable as a `static`.
///
/// ```
/// use microprofile::{Counter, Family, LabelSet};
/// #[derive(Clone, PartialEq, Eq, Hash)]
/// struct Path(String);
/// impl LabelSet for Path {
///     const NAMES: &'static [&'static str] = &["path"];
///     fn for_each_value(&self, f: &mut dyn FnMut(&str)) { f(&self.0) }
/// }
/// static HITS: Family<Path, Counter> = Family::new(Counter::new());
/// HITS.with(&Path("/".into())).inc();
/// assert_eq!(HITS.with(&Path("/".into())).get(), 1);
/// ```
///
/// A removed series ([`remove`](Self::remove)) starts again from zero when it is next used, in
/// both storages. A [`SeriesRef`] kept from before the removal still updates the old series: of a
/// hashed family, one no longer exported; of a dense family, the same slot (which a later
/// [`with`](Self::with) for those labels exports again). Take a new one after a removal.
pub struct Family<L, M> {
    template: M,
    max_series: usize,
    storage: OnceLock<Storage<L, M>>,
}

impl<L: LabelSet, M: Metric + NewLike> Family<L, M> {
    /// A family whose series are configured like `template` (buckets, quantiles).
    pub const fn new(template: M) -> Family<L, M> {
        Family::with_max_series(template, DEFAULT_MAX_SERIES)
    }

    /// A family holding at most `max_series` series (at least 1); updates for further label sets
    /// go to one overflow series labelled only [`OVERFLOW_LABEL_NAME`]`="true"`.
    ///
    /// ```
    /// use microprofile::{Counter, Family, LabelSet};
    /// #[derive(Clone, PartialEq, Eq, Hash)]
    /// struct User(u32);
    /// impl LabelSet for User {
    ///     const NAMES: &'static [&'static str] = &["user"];
    ///     fn for_each_value(&self, f: &mut dyn FnMut(&str)) { f(&self.0.to_string()) }
    /// }
    /// let family: Family<User, Counter> = Family::with_max_series(Counter::new(), 2);
    /// for id in 0..5 { family.with(&User(id)).inc(); }
    /// assert_eq!(family.len(), 3); // two series and the overflow series
    /// ```
    pub const fn with_max_series(template: M, max_series: usize) -> Family<L, M> {
        Family {
            template,
            max_series: if max_series == 0 { 1 } else { max_series },
            storage: OnceLock::new(),
        }
    }

    /// Whether the label set is stored densely: decided by its type alone, so that `with`
    /// compiles to one path.
    const DENSE: bool = matches!(L::CARDINALITY, Some(n) if n <= MAX_DENSE_SERIES);

    fn storage(&self) -> &Storage<L, M> {
        self.storage.get_or_init(|| match L::CARDINALITY {
            Some(n) if Self::DENSE => {
                let series: Box<[DenseSeries<M>]> = (0..n)
                    .map(|i| DenseSeries {
                        series: Series {
                            labels: L::from_dense_index(i)
                                .map(|l| render(&l))
                                .unwrap_or_default()
                                .into_boxed_str(),
                            metric: self.template.new_like(),
                        },
                        touched: AtomicBool::new(false),
                    })
                    .collect();
                let order =
                    sorted_positions(series.len(), |i| series.get(i).map(|s| &*s.series.labels));
                let overflow = overflow_series(&self.template);
                let overflow_at = order.partition_point(|&i| {
                    series
                        .get(i as usize)
                        .is_some_and(|s| s.series.labels < overflow.series.labels)
                });
                Storage::Dense(Dense {
                    series,
                    order: order.into_boxed_slice(),
                    touched: AtomicUsize::new(0),
                    overflow,
                    overflow_at,
                    discard: self.template.new_like(),
                })
            }
            _ => Storage::Hashed(Hashed {
                shards: Box::new(std::array::from_fn(|_| {
                    PaddedShard(RwLock::new(HashTable::new()))
                })),
                hasher: foldhash::fast::RandomState::default(),
                len: AtomicUsize::new(0),
                overflow: overflow_series(&self.template),
                generation: AtomicU64::new(0),
                order: Mutex::new(None),
            }),
        })
    }

    /// The series for these labels, created on first use. The handle holds no lock.
    #[inline(always)]
    pub fn with(&self, labels: &L) -> SeriesRef<'_, M> {
        // The arm taken is fixed by the type (`DENSE`), so a dense family's `with` has no
        // hashed path, and its handle is known to borrow (nothing to release when it drops).
        match self.storage() {
            Storage::Dense(dense) if Self::DENSE => SeriesRef(Inner::Direct(
                dense.with(labels.dense_index(), self.max_series),
            )),
            Storage::Hashed(hashed) if !Self::DENSE => {
                let hash = hashed.hasher.hash_one(labels);
                // The read lock lives only to the end of this statement.
                let found = find_metric(&hashed.shard(hash).read(), hash, labels).cloned();
                match found {
                    Some(metric) => SeriesRef(Inner::Shared(metric)),
                    None => self.insert(hashed, hash, labels),
                }
            }
            // Cannot happen: the storage is chosen by `DENSE` too. The template takes the update
            // rather than a panic path (it is never exported; new series copy only its
            // configuration).
            _ => SeriesRef(Inner::Direct(&self.template)),
        }
    }

    /// Makes the series for `labels` (or finds the one another thread just made), or hands out
    /// the overflow series once the family is full.
    #[cold]
    #[inline(never)]
    fn insert<'a>(&'a self, hashed: &'a Hashed<L, M>, hash: u64, labels: &L) -> SeriesRef<'a, M> {
        if hashed.len.load(Ordering::Relaxed) >= self.max_series {
            return self.overflow(hashed);
        }
        let mut table = hashed.shard(hash).write();
        if let Some(metric) = find_metric(&table, hash, labels) {
            // Another thread made it between the two locks.
            return SeriesRef(Inner::Shared(Arc::clone(metric)));
        }
        // Reserve a place under the limit; racing inserts in other shards may have taken the last
        // one since the check above.
        if hashed.len.fetch_add(1, Ordering::Relaxed) >= self.max_series {
            hashed.len.fetch_sub(1, Ordering::Relaxed);
            drop(table);
            return self.overflow(hashed);
        }
        let metric = Arc::new(self.template.new_like());
        let entry = Keyed {
            key: labels.clone(),
            metric: Arc::clone(&metric),
        };
        table.insert_unique(hash, entry, |k| hashed.hasher.hash_one(&k.key));
        hashed.generation.fetch_add(1, Ordering::Relaxed);
        SeriesRef(Inner::Shared(metric))
    }

    fn overflow<'a>(&'a self, hashed: &'a Hashed<L, M>) -> SeriesRef<'a, M> {
        crate::metric::events::CARDINALITY_OVERFLOW.inc();
        if !hashed.overflow.touched.load(Ordering::Relaxed) {
            hashed.overflow.touched.store(true, Ordering::Relaxed);
        }
        SeriesRef(Inner::Direct(&hashed.overflow.series.metric))
    }

    /// The maximum number of series (the overflow series not counted).
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Removes the series for these labels; `true` if it existed. The next use of these labels
    /// starts a series from zero.
    pub fn remove(&self, labels: &L) -> bool {
        match self.storage() {
            Storage::Dense(dense) => match dense.series.get(labels.dense_index()) {
                Some(s) if s.touched.swap(false, Ordering::Relaxed) => {
                    dense.touched.fetch_sub(1, Ordering::Relaxed);
                    s.series.metric.reset();
                    true
                }
                _ => false,
            },
            Storage::Hashed(hashed) => {
                let hash = hashed.hasher.hash_one(labels);
                let removed = match hashed
                    .shard(hash)
                    .write()
                    .find_entry(hash, |k| k.key.same_labels(labels))
                {
                    Ok(entry) => {
                        entry.remove();
                        // Still under the shard's write lock (the guard lives to the `;`).
                        hashed.generation.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    Err(_) => false,
                };
                if removed {
                    hashed.len.fetch_sub(1, Ordering::Relaxed);
                }
                removed
            }
        }
    }

    /// Number of series in use (the overflow series included once used).
    pub fn len(&self) -> usize {
        match self.storage() {
            Storage::Dense(dense) => {
                dense
                    .series
                    .iter()
                    .filter(|s| s.touched.load(Ordering::Relaxed))
                    .count()
                    + usize::from(dense.overflow.touched.load(Ordering::Relaxed))
            }
            Storage::Hashed(hashed) => {
                hashed
                    .shards
                    .iter()
                    .map(|s| s.0.read().len())
                    .sum::<usize>()
                    + usize::from(hashed.overflow.touched.load(Ordering::Relaxed))
            }
        }
    }

    /// `true` when no series is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handle on one series of a [`Family`], from [`Family::with`].
///
/// It holds no lock: keep it as long as you like (in a struct, across an `.await`: it is `Send`
/// and `Sync`), clone it, and update the series through it (it dereferences to the metric). Of a
/// hashed family it shares ownership of the series, so it stays valid after a
/// [`remove`](Family::remove), but then updates a series no longer exported.
///
/// ```
/// use microprofile::{Family, LabelSet, Timer};
/// #[derive(Clone, PartialEq, Eq, Hash)]
/// struct Route { status: u16 }
/// impl LabelSet for Route {
///     const NAMES: &'static [&'static str] = &["status"];
///     fn for_each_value(&self, f: &mut dyn FnMut(&str)) { f(&self.status.to_string()) }
/// }
/// static LATENCY: Family<Route, Timer> = Family::new(Timer::new());
/// let labels = Route { status: 200 };
/// {
///     let _t = LATENCY.with(&labels).start_timer();
///     // While timing, other series of the family can be created and updated.
///     LATENCY.with(&Route { status: 404 }).record(std::time::Duration::ZERO);
/// }
/// assert_eq!(LATENCY.with(&labels).count(), 1);
/// ```
pub struct SeriesRef<'a, M>(Inner<'a, M>);

enum Inner<'a, M> {
    Direct(&'a M),
    Shared(Arc<M>),
}

impl<M> Clone for SeriesRef<'_, M> {
    fn clone(&self) -> Self {
        SeriesRef(match &self.0 {
            Inner::Direct(m) => Inner::Direct(m),
            Inner::Shared(m) => Inner::Shared(Arc::clone(m)),
        })
    }
}

impl<M> Deref for SeriesRef<'_, M> {
    type Target = M;
    #[inline(always)]
    fn deref(&self) -> &M {
        match &self.0 {
            Inner::Direct(m) => m,
            Inner::Shared(m) => m,
        }
    }
}

impl<'a, M> SeriesRef<'a, M> {
    /// The series: borrowed (`Ok`) or shared (`Err`).
    pub(crate) fn into_inner(self) -> Result<&'a M, Arc<M>> {
        match self.0 {
            Inner::Direct(m) => Ok(m),
            Inner::Shared(m) => Err(m),
        }
    }
}

impl<'a, M: Observe + Send + Sync + 'static> SeriesRef<'a, M> {
    /// Starts a timer on this series that records the elapsed seconds when dropped; the guard
    /// keeps the series, so `family.with(&labels).start_timer()` works in one line.
    pub fn start_timer(self) -> TimerGuard<'a> {
        match self.into_inner() {
            Ok(m) => TimerGuard::new(m),
            Err(m) => TimerGuard::shared(m),
        }
    }
}

impl<L: LabelSet, M: Metric + NewLike> Collect for Family<L, M> {
    fn collect_type(&self) -> MetricType {
        self.template.metric_type()
    }

    fn label_names(&self) -> &[&'static str] {
        L::NAMES
    }

    fn collect(&self, f: &mut dyn FnMut(&SeriesLabels<'_>, &dyn Metric)) {
        match self.storage() {
            Storage::Dense(dense) => {
                let overflow = &dense.overflow;
                let overflow_labels =
                    || SeriesLabels::from_pairs(&OVERFLOW_PAIRS, &overflow.series.labels);
                for (n, &i) in dense.order.iter().enumerate() {
                    if n == dense.overflow_at && overflow.touched.load(Ordering::Relaxed) {
                        f(&overflow_labels(), &overflow.series.metric);
                    }
                    let Some(s) = dense.series.get(i as usize) else {
                        continue;
                    };
                    if s.touched.load(Ordering::Relaxed) {
                        let labels =
                            SeriesLabels::of_dense_index::<L>(i as usize, &s.series.labels);
                        f(&labels, &s.series.metric);
                    }
                }
                if dense.overflow_at >= dense.order.len()
                    && overflow.touched.load(Ordering::Relaxed)
                {
                    f(&overflow_labels(), &overflow.series.metric);
                }
            }
            Storage::Hashed(hashed) => {
                let guards: Vec<_> = hashed.shards.iter().map(|s| s.0.read()).collect();
                let live: Vec<&Keyed<L, M>> = guards.iter().flat_map(|g| g.iter()).collect();
                // Read under every shard's read lock: no insert or remove is under way, and the
                // tables are those of this generation.
                let generation = hashed.generation.load(Ordering::Relaxed);
                let overflow = hashed
                    .overflow
                    .touched
                    .load(Ordering::Relaxed)
                    .then_some(&hashed.overflow.series);
                let mut text = String::new();
                let Some(order) = hashed.order(generation, &live) else {
                    // More series than a u32 can index: listed in storage order.
                    for keyed in live {
                        text.clear();
                        render_into(&keyed.key, &mut text);
                        f(&SeriesLabels::of_set(&keyed.key, &text), &*keyed.metric);
                    }
                    if let Some(o) = overflow {
                        f(
                            &SeriesLabels::from_pairs(&OVERFLOW_PAIRS, &o.labels),
                            &o.metric,
                        );
                    }
                    return;
                };
                let at = |n: usize| order.positions.get(n).and_then(|&i| live.get(i as usize));
                let sorted = order.positions.iter().filter_map(|&i| live.get(i as usize));
                for (n, keyed) in sorted.enumerate() {
                    // The sorted walk visits the tables in random order: fetch the series a few
                    // steps ahead, and the label values and metric of a series already fetched.
                    if let Some(ahead) = at(n + PREFETCH_DISTANCE) {
                        prefetch(*ahead as *const Keyed<L, M>);
                    }
                    if let Some(ahead) = at(n + PREFETCH_DISTANCE / 2) {
                        ahead.key.for_each_value(&mut |v| prefetch(v.as_ptr()));
                        prefetch(Arc::as_ptr(&ahead.metric));
                    }
                    if n == order.overflow_at {
                        if let Some(o) = overflow {
                            f(
                                &SeriesLabels::from_pairs(&OVERFLOW_PAIRS, &o.labels),
                                &o.metric,
                            );
                        }
                    }
                    text.clear();
                    render_into(&keyed.key, &mut text);
                    f(&SeriesLabels::of_set(&keyed.key, &text), &*keyed.metric);
                }
                if order.overflow_at >= order.positions.len() {
                    if let Some(o) = overflow {
                        f(
                            &SeriesLabels::from_pairs(&OVERFLOW_PAIRS, &o.labels),
                            &o.metric,
                        );
                    }
                }
            }
        }
    }

    fn check(&self) -> Result<(), Error> {
        check_names(L::NAMES)?;
        self.template.validate()
    }

    fn reuse_key(&self) -> Option<String> {
        self.template.reuse_key()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::counter::Counter;

    #[derive(Clone, PartialEq, Eq, Hash)]
    struct Id(String);
    impl LabelSet for Id {
        const NAMES: &'static [&'static str] = &["id"];
        fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
            f(&self.0)
        }
    }

    struct CounterReader(u64);
    impl crate::metric::Visitor for CounterReader {
        fn counter(&mut self, value: crate::metric::Number) {
            self.0 = value.as_f64() as u64;
        }
        fn gauge(&mut self, _: crate::metric::Number) {}
        fn histogram(&mut self, _: &crate::metric::HistogramView<'_>) {}
        fn summary(&mut self, _: &crate::metric::SummaryView<'_>) {}
    }

    fn series<L: LabelSet>(family: &Family<L, Counter>) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        family.collect(&mut |labels, metric| {
            let mut reader = CounterReader(0);
            metric.visit(&mut reader);
            out.push((labels.rendered().to_owned(), reader.0));
        });
        out
    }

    #[test]
    fn overflow_series_takes_updates_past_the_limit() {
        let family: Family<Id, Counter> = Family::with_max_series(Counter::new(), 3);
        for i in 0..10 {
            family.with(&Id(format!("u{i}"))).inc();
        }
        // Existing series keep counting after the limit is reached.
        family.with(&Id("u0".into())).inc();
        let seen = series(&family);
        assert_eq!(
            seen,
            vec![
                ("id=\"u0\"".to_owned(), 2),
                ("id=\"u1\"".to_owned(), 1),
                ("id=\"u2\"".to_owned(), 1),
                ("mp_overflow=\"true\"".to_owned(), 7),
            ]
        );
        assert!(family.remove(&Id("u1".into())));
        family.with(&Id("fresh".into())).inc();
        assert_eq!(family.len(), 4);
        assert!(series(&family)
            .iter()
            .any(|(l, v)| l == "id=\"fresh\"" && *v == 1));
    }

    #[test]
    fn scrape_order_follows_inserts_and_removes() {
        let family: Family<Id, Counter> = Family::with_max_series(Counter::new(), 4);
        let labels = |family: &Family<Id, Counter>| -> Vec<String> {
            series(family).into_iter().map(|(l, _)| l).collect()
        };
        let sorted = |family: &Family<Id, Counter>| {
            let mut expected = labels(family);
            expected.sort();
            expected
        };
        for id in ["m", "B", "z"] {
            family.with(&Id(id.into())).inc();
            assert_eq!(labels(&family), sorted(&family));
        }
        // A scrape with nothing changed reuses the order it computed.
        let cached = || match family.storage() {
            Storage::Hashed(hashed) => hashed.order.lock().as_ref().map(|o| o.positions.clone()),
            Storage::Dense(..) => None,
        };
        let before = cached().unwrap();
        assert_eq!(labels(&family), ["id=\"B\"", "id=\"m\"", "id=\"z\""]);
        assert!(Arc::ptr_eq(&before, &cached().unwrap()));
        assert!(family.remove(&Id("m".into())));
        assert_eq!(labels(&family), ["id=\"B\"", "id=\"z\""]);
        // Past the limit: the overflow series (`mp_overflow=` sorts after `id=`) joins in order.
        for id in ["a", "c", "d", "e"] {
            family.with(&Id(id.into())).inc();
        }
        let expected = [
            "id=\"B\"",
            "id=\"a\"",
            "id=\"c\"",
            "id=\"z\"",
            "mp_overflow=\"true\"",
        ];
        assert_eq!(labels(&family), expected);
        assert_eq!(labels(&family), expected);
        assert!(family.remove(&Id("z".into())));
        family.with(&Id("0".into())).inc();
        assert_eq!(labels(&family), sorted(&family));
        assert_eq!(
            labels(&family).first().map(String::as_str),
            Some("id=\"0\"")
        );
        // Removing everything leaves the overflow series alone, still listed.
        for id in ["0", "B", "a", "c"] {
            assert!(family.remove(&Id(id.into())));
        }
        assert_eq!(labels(&family), ["mp_overflow=\"true\""]);
    }

    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    enum Color {
        Red,
        Green,
        Blue,
    }
    impl LabelSet for Color {
        const NAMES: &'static [&'static str] = &["color"];
        const CARDINALITY: Option<usize> = Some(3);
        fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
            f(match self {
                Color::Red => "red",
                Color::Green => "green",
                Color::Blue => "blue",
            })
        }
        fn dense_index(&self) -> usize {
            *self as usize
        }
        fn from_dense_index(index: usize) -> Option<Self> {
            [Color::Red, Color::Green, Color::Blue].get(index).copied()
        }
    }

    #[test]
    fn dense_series_are_listed_by_label_text() {
        let family: Family<Color, Counter> = Family::new(Counter::new());
        family.with(&Color::Red).inc();
        family.with(&Color::Blue).inc();
        let mut seen = Vec::new();
        family
            .collect(&mut |labels, _| seen.push((labels.rendered().to_owned(), labels.to_pairs())));
        let pair = |v: &str| vec![("color".to_owned(), v.to_owned())];
        assert_eq!(
            seen,
            [
                ("color=\"blue\"".to_owned(), pair("blue")),
                ("color=\"red\"".to_owned(), pair("red"))
            ]
        );
    }

    /// Runs `f` on another thread and fails if it has not finished within 20 s (a deadlock),
    /// instead of hanging the test suite.
    fn within_deadline(f: impl FnOnce() + Send + 'static) {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("deadlocked: did not finish within 20 s");
    }

    #[test]
    fn a_kept_series_ref_does_not_block_creating_series() {
        within_deadline(|| {
            static FAMILY: Family<Id, Counter> = Family::new(Counter::new());
            let total = FAMILY.with(&Id("total".into()));
            for i in 1..64 {
                FAMILY.with(&Id(i.to_string())).inc();
                total.inc();
                // A scrape while the handle is held, too.
                assert_eq!(series(&FAMILY).len(), i + 1);
            }
            assert_eq!(total.get(), 63);
        });
    }

    #[test]
    fn a_series_ref_held_on_one_thread_does_not_stall_others() {
        static FAMILY: Family<Id, Counter> = Family::new(Counter::new());
        let held = FAMILY.with(&Id("slow request".into()));
        within_deadline(|| {
            for i in 0..1000 {
                FAMILY.with(&Id(format!("other {i}"))).inc();
                assert!(FAMILY.remove(&Id(format!("other {i}"))));
            }
        });
        held.inc();
        assert_eq!(FAMILY.with(&Id("slow request".into())).get(), 1);
    }

    #[test]
    fn series_refs_are_send_sync_clone_and_static() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
        static FAMILY: Family<Id, crate::metric::histogram::Timer> =
            Family::new(crate::metric::histogram::Timer::new());
        let handle = FAMILY.with(&Id("a".into()));
        assert_send_sync(&handle);
        let timer = FAMILY.with(&Id("a".into())).start_timer();
        std::thread::spawn(move || drop(timer)).join().unwrap();
        let clone = handle.clone();
        std::thread::spawn(move || clone.record(std::time::Duration::ZERO))
            .join()
            .unwrap();
        assert_eq!(handle.count(), 2);
    }

    #[test]
    fn a_removed_series_starts_from_zero_in_both_storages() {
        let dense: Family<Color, crate::metric::gauge::Gauge> =
            Family::new(crate::metric::gauge::Gauge::new());
        dense.with(&Color::Red).set(5);
        assert!(dense.remove(&Color::Red));
        assert!(!dense.remove(&Color::Red));
        dense.with(&Color::Red).inc();
        assert_eq!(dense.with(&Color::Red).get(), 1);

        let counted: Family<Color, Counter> = Family::new(Counter::new());
        counted.with(&Color::Blue).inc_by(5);
        assert!(counted.remove(&Color::Blue));
        assert!(counted.is_empty());
        counted.with(&Color::Blue).inc();
        assert_eq!(counted.with(&Color::Blue).get(), 1);

        let timed: Family<Color, crate::metric::histogram::Timer> =
            Family::new(crate::metric::histogram::Timer::new());
        timed.with(&Color::Green).observe(0.2);
        assert!(timed.remove(&Color::Green));
        timed.with(&Color::Green).observe(0.1);
        assert_eq!(timed.with(&Color::Green).count(), 1);
        assert_eq!(timed.with(&Color::Green).sum(), 0.1);

        let summarised: Family<Color, crate::metric::summary::Summary> =
            Family::new(crate::metric::summary::Summary::new());
        summarised.with(&Color::Red).observe(7.0);
        assert!(summarised.remove(&Color::Red));
        summarised.with(&Color::Red).observe(1.0);
        assert_eq!(summarised.with(&Color::Red).count(), 1);

        let hashed: Family<Id, crate::metric::gauge::Gauge> =
            Family::new(crate::metric::gauge::Gauge::new());
        hashed.with(&Id("x".into())).set(5);
        assert!(hashed.remove(&Id("x".into())));
        hashed.with(&Id("x".into())).inc();
        assert_eq!(hashed.with(&Id("x".into())).get(), 1);
    }

    #[test]
    fn no_label_values_collide_with_the_overflow_series() {
        let family: Family<Id, Counter> = Family::with_max_series(Counter::new(), 2);
        for id in ["__overflow__", "true", "a", "b", "c"] {
            family.with(&Id(id.into())).inc();
        }
        let seen = series(&family);
        let mut labels: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(
            labels.len(),
            seen.len(),
            "two series share a label set: {seen:?}"
        );
        assert_eq!(
            seen,
            [
                ("id=\"__overflow__\"".to_owned(), 1),
                ("id=\"true\"".to_owned(), 1),
                ("mp_overflow=\"true\"".to_owned(), 3),
            ]
        );
        // And no label set can use the overflow series' label name.
        assert!(check_names(&[OVERFLOW_LABEL_NAME]).is_err());
    }

    /// 24 `bool`s: 16,777,216 combinations.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    struct Flags(u32);
    impl LabelSet for Flags {
        const NAMES: &'static [&'static str] = &[
            "f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09", "f10", "f11",
            "f12", "f13", "f14", "f15", "f16", "f17", "f18", "f19", "f20", "f21", "f22", "f23",
        ];
        const CARDINALITY: Option<usize> = Some(1 << 24);
        fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
            for bit in 0..24 {
                f(if self.0 & (1 << bit) != 0 {
                    "true"
                } else {
                    "false"
                });
            }
        }
        fn dense_index(&self) -> usize {
            self.0 as usize
        }
        fn from_dense_index(index: usize) -> Option<Self> {
            u32::try_from(index)
                .ok()
                .filter(|&i| i < 1 << 24)
                .map(Flags)
        }
    }

    /// Bytes allocated by the family's storage, estimated from the process' resident set.
    fn resident_bytes() -> usize {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
            .map_or(0, |pages| pages * 4096)
    }

    #[test]
    fn a_huge_fixed_cardinality_is_not_allocated_up_front() {
        let before = resident_bytes();
        let family: Family<Flags, Counter> = Family::new(Counter::new());
        for i in 0..100u32 {
            family.with(&Flags(i * 4099)).inc();
        }
        assert!(matches!(family.storage(), Storage::Hashed(_)));
        assert_eq!(family.len(), 100);
        assert_eq!(series(&Family::<Id, Counter>::new(Counter::new())).len(), 0);
        let mut scraped = 0;
        family.collect(&mut |_, _| scraped += 1);
        assert_eq!(scraped, 100);
        // Dense storage would hold 16 M series (hundreds of MiB); hashed, a few KiB.
        let grown = resident_bytes().saturating_sub(before);
        assert!(grown < 64 << 20, "resident set grew by {grown} bytes");
    }

    #[test]
    fn the_series_limit_holds_for_fixed_cardinality_label_sets() {
        let family: Family<Color, Counter> = Family::with_max_series(Counter::new(), 2);
        for color in [Color::Red, Color::Green, Color::Blue, Color::Blue] {
            family.with(&color).inc();
        }
        assert!(matches!(family.storage(), Storage::Dense(..)));
        let seen = series(&family);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen.last(), Some(&("mp_overflow=\"true\"".to_owned(), 2)));
        assert_eq!(family.len(), 3);
        // Red and green took the two places, blue went to the overflow series. A removed series
        // gives its place back.
        assert!(family.remove(&Color::Red));
        family.with(&Color::Blue).inc();
        assert_eq!(family.with(&Color::Blue).get(), 1);
        let seen = series(&family);
        assert_eq!(
            seen,
            [
                ("color=\"blue\"".to_owned(), 1),
                ("color=\"green\"".to_owned(), 1),
                ("mp_overflow=\"true\"".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn racing_first_uses_keep_the_dense_limit() {
        for _ in 0..50 {
            let family: Family<Color, Counter> = Family::with_max_series(Counter::new(), 2);
            std::thread::scope(|s| {
                for start in 0..3 {
                    let family = &family;
                    s.spawn(move || {
                        for k in 0..30 {
                            let color = [Color::Red, Color::Green, Color::Blue][(start + k) % 3];
                            family.with(&color).inc();
                        }
                    });
                }
            });
            let seen = series(&family);
            // At most two series and the overflow series, and no update lost.
            assert!(seen.len() <= 3, "{seen:?}");
            assert_eq!(seen.iter().map(|(_, v)| v).sum::<u64>(), 90);
            assert!(seen.iter().filter(|(l, _)| l.starts_with("color=")).count() <= 2);
        }
    }
}
