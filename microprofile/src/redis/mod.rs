//! A shared store in Redis: metrics of many processes (workers of a web app, autoscaled
//! instances, short-lived jobs) added up in one place, in a fixed format any language can read
//! and write, and exposed by the built-in listener or the standalone `microprofile-exporter`.
//!
//! # Writing
//!
//! A [`SharedStore`] sends what changed in the registries attached to it
//! ([`SharedStore::attach_global`], [`SharedStore::attach`]: whatever declared the metrics, the
//! attributes, derive groups, families or the run-time API), read through the registry's one
//! read path and its delta cursor. Its handles ([`RedisCounter`], [`RedisGauge`],
//! [`RedisHistogram`], [`RedisSummary`]) are thin views over metrics of the store's own registry,
//! sent the same way, for values a program computes only for the store. In the default
//! [`TransferMode::Batched`], a transfer sends every delta in one round trip: one run of a Lua
//! script that applies the batch atomically. [`TransferMode::Eager`] sends updates from a
//! background thread as soon as they are made.
//!
//! Which transfer to call where:
//!
//! | where | call | blocks the caller |
//! |---|---|---|
//! | end of a request in an async handler, or any thread that must not block | [`SharedStore::transfer_in_background`] | never: one background thread of the store sends, requests made meanwhile coalesce |
//! | end of an async job, where the outcome matters | `SharedStore::transfer_async().await` | no: the task waits, the runtime worker does not |
//! | end of a batch job, a worker thread, before a sync program exits | [`SharedStore::transfer`] | yes, for at most the configured timeouts |
//! | a long-running process, on a clock | [`SharedStore::spawn_periodic_transfer`] | no (its own thread; one last transfer when stopped) |
//!
//! Redis unreachable, slow or restarted: no call blocks longer than the configured timeouts and
//! none panics. Deltas that could not be sent are kept (at most
//! [`StoreConfig::max_pending_fields`] fields; past that they are dropped and counted in
//! `microprofile_redis_dropped_updates_total`, scope vendor) and sent when Redis is back.
//!
//! **Exactly once.** Every batch carries a sequence number, and the script applies it only if
//! it is newer than the last one this store instance applied (kept, with the increments, in the
//! instance's acknowledgement key `<namespace>:ack:<process>:…`, checked and advanced inside the
//! same atomic script run). A batch whose outcome is unknown (the connection broke or timed out
//! after it was sent) is sent again unchanged, with its own number, before anything newer: if
//! the first attempt ran, runs later (its bytes still on their way on the old connection, through
//! a slow proxy) or never ran, Redis applies it once. A change Redis refuses inside a batch (a
//! field of another type written by another program) is skipped and counted in
//! `microprofile_redis_dropped_updates_total`; the rest of the batch applies.
//!
//! # The format
//!
//! The format of the Instrumentor design document the store comes from, checked byte for byte
//! against the `instrumentor` 0.0.1 Python library (tests/redis_instrumentor.rs), in both
//! directions. One Redis hash per namespace (the hash's key is the namespace); several
//! namespaces can share one Redis. Each field is `{metric_name}:{extension}:{labels}` (see
//! [`codec`] for the grammar, the escaping of label values and how values other writers leave
//! unescaped are read):
//!
//! | extension | holds | written with |
//! |---|---|---|
//! | `d` | description (`# HELP`), labels empty | `HSET`, once per family and connection |
//! | `t` | type: `c` counter, `g` gauge, `h` histogram, `s` summary; labels empty | `HSET`, once per family and connection |
//! | *(empty)* | value of a counter or gauge (`jobs::queue="mail"`, `temperature::`) | counter: `HINCRBY` (integer) or `HINCRBYFLOAT`; gauge: see [`GaugeMode`] |
//! | `s` | sum of a histogram's or summary's observations | `HINCRBYFLOAT` |
//! | `c` | count of a histogram's or summary's observations | `HINCRBY` |
//! | `b` | histogram bucket, **cumulative** (label `le` = upper bound: every observation ≤ it; `le="+Inf"` counts all of them), or this crate's summary sketch bucket (label `__key`, see [`sketch`]) | `HINCRBY` |
//!
//! Labels are `name="value"` pairs joined with `,` and sorted by name, so one label set is one
//! field whatever order it was given in. Values are percent-encoded (`%`, `:`, `,`, `"`, `=` and
//! control characters). Names are the ones the registry exposes: a counter's with its `_total`
//! (`jobs_total::`; a name that already ends in `_total` is not suffixed again), a unit's
//! suffix included. Example hash `shop`:
//!
//! ```text
//! orders_total:t:                             c
//! orders_total:d:                             Orders placed.
//! orders_total::region="eu"                   42
//! latency_seconds:t:                          h
//! latency_seconds:b:le="0.1",path="/a%3Ab"    17
//! latency_seconds:b:le="+Inf",path="/a%3Ab"   18
//! latency_seconds:s:path="/a%3Ab"             2.75
//! latency_seconds:c:path="/a%3Ab"             18
//! size_bytes:t:                               s
//! size_bytes:b:__key="p230"                   3
//! size_bytes:s:                               29.5
//! size_bytes:c:                               3
//! in_flight::mp_process="web-1:4242"          3
//! ```
//!
//! Gauges: [`GaugeMode::Sum`] adds every process's contribution (increments),
//! [`GaugeMode::LastWriterWins`] sets the value (`HSET`), [`GaugeMode::PerProcess`] keeps one
//! series per process under the label `mp_process`.
//!
//! Summaries of this crate are stored as a DDSketch-style logarithmic histogram with 1% relative
//! accuracy, so the exporter computes quantiles over all processes: each quantile is within 1%
//! (relative) of the true quantile of the combined observations. Summaries from the store have
//! no window: they cover every observation since the hash was created. A summary another program
//! wrote as the design document shows it, with `quantile` values
//! (`rpc_duration_seconds::quantile="0.5"` → 4773, `s`, `c`), is exposed with those quantiles as
//! they are (they cannot be merged; one writer's).
//!
//! What the design's fields do not carry — a family's scope and unit — is kept beside the hash,
//! in the namespace's metadata hash [`meta_key`] (`{shop}:meta`: field `latency_seconds`, value
//! `mp_scope="application",unit="seconds"`), so that the exporter shows the same names, types,
//! units, HELP and `mp_scope` as a scrape of one process. Families without an entry there (the
//! store's own handles', other programs') are exposed in the exporter's scope for the namespace.
//! Keeping it out of the namespace's hash keeps that hash exactly the design's, which
//! `instrumentor`'s own reader exposes.
//!
//! Besides the hash, each store writes one small key `{namespace}:ack:{process}:…` (a sequence
//! number with a one-day expiry) in every transaction: it tells a process whose connection broke
//! whether its last transaction was applied. Earlier versions of this crate wrote values with the
//! extension `v` and buckets per bucket; `v` still reads as a value, but per-bucket counts of an
//! old namespace read as cumulative ones would be wrong (the exporter skips a series whose
//! cumulative counts decrease): start a new namespace, or delete the old hash, on upgrade.
//!
//! # Reading
//!
//! [`RedisExposition`] reads namespaces (and their metadata hashes) with `HGETALL` and builds a [`Registry`](crate::Registry)
//! from them, so the output is the same encoder's, in Prometheus text or OpenMetrics. A field
//! that cannot be exposed (it does not decode, has a reserved label, a value that is not a
//! number, does not fit its family's type, …) is skipped alone, never its family, and counted in
//! `microprofile_exporter_skipped_fields_total` (see [`NamespaceData`]). A live exposition swaps
//! each refresh's snapshot whole, so a scrape sees every family complete and of one refresh.

pub mod codec;

/// The key of the hash beside a namespace's that holds what the design's fields do not carry:
/// per family (field = metric name), its scope and unit as `mp_scope="…",unit="…"` (label pairs,
/// values percent-encoded as in [`codec`]). `{namespace}:meta`: the braces put it in the
/// namespace's Redis Cluster hash slot.
///
/// ```
/// assert_eq!(microprofile::redis::meta_key("shop"), "{shop}:meta");
/// ```
pub fn meta_key(namespace: &str) -> String {
    format!("{{{namespace}}}:meta")
}
mod expose;
mod resp;
pub use crate::metric::sketch;
mod store;

pub use codec::{CodecError, Extension, TypeCode};
pub use expose::{
    parse_float, scope_for_namespace, FamilyData, LiveExposition, NamespaceData, RedisExposition,
    SeriesData,
};
pub use store::{
    GaugeMode, GaugePolicy, JobTransfer, PeriodicTransfer, RedisCounter, RedisFloatCounter, RedisGauge,
    RedisHistogram, RedisSummary, SharedStore, StoreConfig, TransferFuture, TransferMode,
    TransferReport, PROCESS_LABEL,
};

use crate::metadata::{Metadata, Scope};
use crate::metric::counter::Counter;
use crate::registry::StaticMetric;

/// Deltas the shared store had to drop because more fields than
/// [`StoreConfig::max_pending_fields`] were waiting for Redis.
pub static DROPPED_UPDATES: Counter = Counter::new();
/// Transfers to Redis that failed (the deltas were kept for a later one).
pub static TRANSFER_ERRORS: Counter = Counter::new();
/// Transfers to Redis that succeeded.
pub static TRANSFERS: Counter = Counter::new();
/// Fields read from Redis that could not be decoded or exposed.
pub static DECODE_ERRORS: Counter = Counter::new();
/// Reads of namespaces from Redis that failed (the last values were kept).
pub static READ_ERRORS: Counter = Counter::new();

/// The counters above, registered in the global registry by [`register_vendor_metrics`] when a
/// [`SharedStore`] or [`RedisExposition`] is first made, not at start-up: a program that never
/// uses Redis does not expose them.
static VENDOR_METRICS: [StaticMetric; 5] = [
    StaticMetric::new(
        &DROPPED_UPDATES,
        Metadata::new("microprofile_redis_dropped_updates")
            .description("Deltas the Redis shared store dropped because too many fields were waiting to be sent.")
            .scope(Scope::Vendor),
        crate::site!(),
    ),
    StaticMetric::new(
        &TRANSFER_ERRORS,
        Metadata::new("microprofile_redis_transfer_errors")
            .description("Transfers to the Redis shared store that failed; their deltas were kept.")
            .scope(Scope::Vendor),
        crate::site!(),
    ),
    StaticMetric::new(
        &TRANSFERS,
        Metadata::new("microprofile_redis_transfers")
            .description("Transfers to the Redis shared store that succeeded.")
            .scope(Scope::Vendor),
        crate::site!(),
    ),
    StaticMetric::new(
        &READ_ERRORS,
        Metadata::new("microprofile_redis_read_errors")
            .description("Reads of namespaces from Redis that failed; the last values were served.")
            .scope(Scope::Vendor),
        crate::site!(),
    ),
    StaticMetric::new(
        &DECODE_ERRORS,
        Metadata::new("microprofile_redis_decode_errors")
            .description(
                "Fields read from the Redis shared store that could not be decoded or exposed.",
            )
            .scope(Scope::Vendor),
        crate::site!(),
    ),
];

/// Registers the shared store's vendor metrics in the global registry, once per process.
pub(crate) fn register_vendor_metrics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| crate::registry::global().register_statics_now(&VENDOR_METRICS));
}

/// What the shared store can refuse or fail at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The Redis URL does not parse.
    #[error(
        "invalid Redis URL {url:?}: {reason} (expected redis://host:port or redis://host:port/db)"
    )]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The namespace is empty.
    #[error("invalid namespace {namespace:?}: a namespace is the non-empty key of a Redis hash")]
    InvalidNamespace {
        /// The namespace as given.
        namespace: String,
    },
    /// A metric name, label name or metadata was refused.
    #[error(transparent)]
    Metric(#[from] crate::Error),
    /// A field could not be built.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The name is already used in this store with another type.
    #[error("metric {name:?} is already a {existing:?} in this store, not a {requested:?}")]
    TypeConflict {
        /// The metric name.
        name: String,
        /// The type it has.
        existing: TypeCode,
        /// The type asked for.
        requested: TypeCode,
    },
    /// An integer counter was asked for where a float counter of the same name and labels exists,
    /// or the other way round: the two would share one field, which Redis then refuses to
    /// `HINCRBY` once it holds a fraction.
    #[error("counter {name:?} with these labels is already a counter of the other kind (integer or float) in this store; the two cannot share one field")]
    CounterKindConflict {
        /// The metric name.
        name: String,
    },
    /// A histogram was asked for with other buckets than its family has.
    #[error("histogram {name:?} already has other buckets in this store; every series of one histogram shares its buckets")]
    BucketConflict {
        /// The metric name.
        name: String,
    },
    /// A gauge was asked for with another [`GaugeMode`] than it has.
    #[error("gauge {name:?} is already {existing:?} in this store, not {requested:?}")]
    GaugeModeConflict {
        /// The metric name.
        name: String,
        /// The mode it has.
        existing: GaugeMode,
        /// The mode asked for.
        requested: GaugeMode,
    },
    /// Redis could not be reached or did not answer in time; the deltas are kept.
    #[error(
        "Redis at {url} is unavailable ({reason}); {pending} fields are kept for a later transfer"
    )]
    Unavailable {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
        /// Fields waiting to be sent.
        pending: usize,
    },
    /// Another transfer held the connection for longer than the I/O timeout.
    #[error("another transfer is still running; the deltas stay for the next transfer")]
    Busy,
    /// A background thread could not be started.
    #[error("could not start the transfer thread: {0}")]
    Thread(String),
}
