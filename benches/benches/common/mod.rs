//! The workload every crate is given: label types for each crate, the order in which series are
//! hit, the values observed, and the peers' set-up. Each bench binary uses part of it.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use criterion::Criterion;
#[allow(unused_imports)]
pub use microprofile_benches::{run_threads, METHODS, SERIES, STATUSES};

/// Shortened defaults; `scripts/bench` passes the same on the command line (which wins).
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// Which series the `i`-th update of thread `t` goes to: a fixed pseudo-random walk over the 18
/// series, the same for every crate, so no crate is favoured by a predictable pattern.
#[inline(always)]
pub fn series_index(t: usize, i: u64) -> usize {
    ORDER[(i as usize).wrapping_add(t * 17) & 63] as usize
}

const ORDER: [u8; 64] = {
    let mut order = [0u8; 64];
    let mut state: u32 = 0x9E37_79B9;
    let mut k = 0;
    while k < 64 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        order[k] = (state % SERIES as u32) as u8;
        k += 1;
    }
    order
};

/// The `i`-th observed value (seconds), spread over every bucket of the default layout.
#[inline(always)]
pub fn value(i: u64) -> f64 {
    VALUES[(i & 63) as usize]
}

const VALUES: [f64; 64] = {
    let mut values = [0.0f64; 64];
    let mut k = 0;
    while k < 64 {
        // 0.001 s to ~16 s, geometric steps.
        let mut v = 0.001f64;
        let mut j = 0;
        while j < k {
            v *= 1.165;
            j += 1;
        }
        values[k] = v;
        k += 1;
    }
    values
};

/// The Prometheus default buckets, given to every crate.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

// --- label values as enums, one type shared by the crates that derive on enums ------------------

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    prometheus_client::encoding::EncodeLabelValue,
    measured::FixedCardinalityLabel,
)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    prometheus_client::encoding::EncodeLabelValue,
    measured::FixedCardinalityLabel,
)]
pub enum Status {
    Success,
    ClientError,
    ServerError,
}

pub const METHOD_ENUMS: [Method; 6] = [
    Method::Get,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Patch,
    Method::Head,
];
pub const STATUS_ENUMS: [Status; 3] = [Status::Success, Status::ClientError, Status::ServerError];

impl Method {
    pub const fn as_str(self) -> &'static str {
        METHODS[self as usize]
    }
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        STATUSES[self as usize]
    }
}

/// Series `k` as strings.
#[inline(always)]
pub fn str_labels(k: usize) -> (&'static str, &'static str) {
    (METHODS[k / 3], STATUSES[k % 3])
}

/// Series `k` as enums.
#[inline(always)]
pub fn enum_labels(k: usize) -> (Method, Status) {
    (METHOD_ENUMS[k / 3], STATUS_ENUMS[k % 3])
}

// --- microprofile ---------------------------------------------------------------------------------

/// String labels: hashed, sharded family (`#[derive(LabelSet)]`, as a user writes it).
#[derive(Clone, PartialEq, Eq, Hash, microprofile::LabelSet)]
pub struct MpStr {
    pub method: &'static str,
    pub status: &'static str,
}

/// Enum labels: fixed cardinality, indexed densely (what `#[derive(LabelSet)]` generates for
/// enum-only label sets).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MpEnum {
    pub method: Method,
    pub status: Status,
}

impl microprofile::LabelSet for MpEnum {
    const NAMES: &'static [&'static str] = &["method", "status"];
    const CARDINALITY: Option<usize> = Some(SERIES);
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.method.as_str());
        f(self.status.as_str());
    }
    #[inline(always)]
    fn dense_index(&self) -> usize {
        self.method as usize * 3 + self.status as usize
    }
    fn from_dense_index(index: usize) -> Option<Self> {
        (index < SERIES).then(|| {
            let (method, status) = enum_labels(index);
            MpEnum { method, status }
        })
    }
}

/// One label holding an arbitrary string (the encoding and memory benchmarks).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MpId(pub String);

impl microprofile::LabelSet for MpId {
    const NAMES: &'static [&'static str] = &["id"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

// --- prometheus-client ----------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcStr {
    pub method: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcEnum {
    pub method: Method,
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcId {
    pub id: String,
}

// --- measured -------------------------------------------------------------------------------------

/// String labels: measured interns each value (its documented dynamic path), then looks the pair
/// up in a sharded map.
#[derive(Clone, Copy, PartialEq, Debug, measured::LabelGroup)]
#[label(set = MeStrSet)]
pub struct MeStr<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    pub method: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    pub status: &'a str,
}

pub fn me_str_set() -> MeStrSet {
    MeStrSet {
        method: paracord::ParaCord::default(),
        status: paracord::ParaCord::default(),
    }
}

/// Enum labels: fixed cardinality, indexed densely.
#[derive(Clone, Copy, PartialEq, Debug, measured::LabelGroup)]
#[label(set = MeEnumSet)]
pub struct MeEnum {
    pub method: Method,
    pub status: Status,
}

pub fn me_enum_set() -> MeEnumSet {
    MeEnumSet {
        method: measured::label::StaticLabelSet::new(),
        status: measured::label::StaticLabelSet::new(),
    }
}

#[derive(Clone, Copy, PartialEq, Debug, measured::LabelGroup)]
#[label(set = MeIdSet)]
pub struct MeId<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    pub id: &'a str,
}

// --- metrics + metrics-exporter-prometheus --------------------------------------------------------

/// Installs the Prometheus recorder globally, as users run it (once per process), with histogram
/// buckets so `histogram!` is exposed as a histogram like the other crates' (not a summary).
pub fn metrics_handle() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("valid buckets")
            .install_recorder()
            .expect("first recorder of the process")
    })
}

// --- the id family of rows 5 and 6, built the same way for both -----------------------------------

/// A microprofile registry with one counter family of `n` series, `id="0"` … `id="<n-1>"`.
pub fn mp_id_registry(n: usize) -> microprofile::Registry {
    let family: microprofile::Family<MpId, microprofile::Counter> =
        microprofile::Family::with_max_series(microprofile::Counter::new(), 2 * n);
    for i in 0..n {
        family.with(&MpId(i.to_string())).inc();
    }
    let registry = microprofile::Registry::new();
    registry
        .register(
            microprofile::Metadata::new("counters").description("help"),
            std::sync::Arc::new(family),
        )
        .unwrap();
    registry
}

/// The same family in a `prometheus` registry.
pub fn prometheus_id_registry(n: usize) -> prometheus::Registry {
    let registry = prometheus::Registry::new();
    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new("counters", "help"), &["id"]).unwrap();
    registry.register(Box::new(vec.clone())).unwrap();
    for i in 0..n {
        vec.with_label_values(&[i.to_string().as_str()]).inc();
    }
    registry
}

/// The same family in a `prometheus-client` registry.
pub fn pc_id_registry(n: usize) -> prometheus_client::registry::Registry {
    let mut registry = prometheus_client::registry::Registry::default();
    let family = prometheus_client::metrics::family::Family::<
        PcId,
        prometheus_client::metrics::counter::Counter,
    >::default();
    registry.register("counters", "help", family.clone());
    for i in 0..n {
        family.get_or_create(&PcId { id: i.to_string() }).inc();
    }
    registry
}

/// The same family in a `metrics` recorder of its own (not the global one), so each size starts
/// empty.
pub fn metrics_id_recorder(n: usize) -> metrics_exporter_prometheus::PrometheusRecorder {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("counters", "help");
        for i in 0..n {
            metrics::counter!("counters", "id" => i.to_string()).increment(1);
        }
    });
    recorder
}

#[derive(measured::MetricGroup)]
pub struct MeMetrics {
    /// help
    pub counters: measured::CounterVec<MeIdSet>,
}

/// The same family as a `measured` metric group.
pub fn me_id_metrics(n: usize) -> MeMetrics {
    let metrics = MeMetrics {
        counters: measured::CounterVec::with_label_set(MeIdSet {
            id: paracord::ParaCord::default(),
        }),
    };
    for i in 0..n {
        metrics.counters.inc(MeId { id: &i.to_string() });
    }
    metrics
}
