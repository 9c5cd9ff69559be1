//! Registries attached to a store ([`SharedStore::attach`](super::SharedStore::attach)): every
//! transfer reads what changed in them through the registry's one read path and its delta cursor
//! ([`Registry::gather_changes`]) and adds it to the store's outbox, beside the deltas of the
//! store's own handles. From the outbox on, both are the same: merged per field, bounded, sent in
//! the store's sequence-numbered transactions and resent after an unknown outcome.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::GaugePolicy;
use super::{add_cumulative_buckets, field, FamilyMeta, Op, Sink, PROCESS_LABEL};
use crate::encoding::float::format_float;
use crate::metadata::Scope;
use crate::metric::{MetricType, Number};
use crate::redis::codec::{Extension, TypeCode, BUCKET_BOUND_LABEL, SKETCH_KEY_LABEL};
use crate::redis::{GaugeMode, DROPPED_UPDATES};
use crate::registry::series_key;
use crate::registry::{Change, DeltaCursor, Registry, Selection};

/// Which registry an attachment reads.
pub(super) enum Attached {
    /// A registry that lives as long as the program: the global one, or one leaked.
    Static(&'static Registry),
    /// A registry of the program's own.
    Shared(Arc<Registry>),
}

/// One attached registry and scope, with what this store last read of it.
pub(super) struct Attachment {
    registry: Attached,
    scope: Scope,
    gauges: GaugePolicy,
    cursor: DeltaCursor,
    /// [`GaugeMode::Sum`]: per gauge field, the value now and the contribution the outbox took
    /// (and so Redis holds once the outbox is confirmed); the difference is sent.
    sent_gauges: HashMap<String, (f64, f64)>,
    /// [`GaugeMode::Sum`] gauges by their cursor key, with their field: one the registry no
    /// longer has takes its contribution back.
    sum_gauges: HashMap<String, String>,
    /// For the store's own registry (its handles'): each gauge family's mode, by name, which
    /// overrides `gauges`.
    own_modes: Option<Arc<Mutex<HashMap<String, GaugeMode>>>>,
}

/// What a drain found out about the families it sent, for their `d` and `t` fields.
pub(super) struct SeenFamily {
    pub(super) name: String,
    pub(super) meta: FamilyMeta,
}

impl Attachment {
    pub(super) fn new(registry: Attached, scope: Scope, gauges: GaugePolicy) -> Attachment {
        Attachment {
            registry,
            scope,
            gauges,
            cursor: DeltaCursor::new(),
            sent_gauges: HashMap::new(),
            sum_gauges: HashMap::new(),
            own_modes: None,
        }
    }

    /// The attachment of a store's own registry, behind its handles: its gauges take the mode
    /// each handle was made with.
    pub(super) fn own(
        registry: Arc<Registry>,
        modes: Arc<Mutex<HashMap<String, GaugeMode>>>,
    ) -> Attachment {
        let mut attachment = Attachment::new(
            Attached::Shared(registry),
            Scope::Application,
            GaugePolicy::ByKind,
        );
        attachment.own_modes = Some(modes);
        attachment
    }

    /// Whether this is the store's own registry.
    pub(super) fn is_own(&self) -> bool {
        self.own_modes.is_some()
    }

    /// Adds what changed since the last drain to `sink`. `types` are the families the store knows
    /// (its own handles' and earlier drains'): a family of another type under the same name is
    /// not sent (it would mix two kinds of field), and counted in
    /// `microprofile_redis_dropped_updates_total`. Returns the families this drain sent.
    pub(super) fn drain(
        &mut self,
        sink: &mut Sink<'_>,
        types: &HashMap<String, TypeCode>,
        process: &str,
    ) -> Vec<SeenFamily> {
        let mut seen: Vec<SeenFamily> = Vec::new();
        let registry: &Registry = match &self.registry {
            Attached::Static(registry) => registry,
            Attached::Shared(registry) => registry,
        };
        let gauges = self.gauges;
        let sent_gauges = &mut self.sent_gauges;
        let sum_gauges = &mut self.sum_gauges;
        let own_modes = &self.own_modes;
        let selection = Selection::Scope(&self.scope);
        let per_process_scope = self.scope == Scope::Base;
        registry.gather_changes(selection, &mut self.cursor, &mut |series, change| {
            let info = series.family.info();
            let type_code = match info.metric_type {
                MetricType::Counter => TypeCode::Counter,
                MetricType::Gauge => TypeCode::Gauge,
                MetricType::Histogram | MetricType::Timer => TypeCode::Histogram,
                MetricType::Summary => TypeCode::Summary,
            };
            // The name as the registry exposes it (a counter's with its `_total`, which the
            // exporter does not add again): the store's name is the one Prometheus shows.
            let name = info.name.as_str();
            if types.get(name).is_some_and(|t| *t != type_code) {
                DROPPED_UPDATES.inc();
                return;
            }
            let mut labels: Vec<(String, String)> = Vec::new();
            series.for_each_label(&mut |n, v| labels.push((n.to_owned(), v.to_owned())));
            // A host's figures are the same from every process on it: none is added up.
            let per_process = per_process_scope
                && !labels.iter().any(|(n, _)| n == PROCESS_LABEL)
                && !matches!(change, Change::Gauge(_));
            if per_process {
                labels.push((PROCESS_LABEL.to_owned(), process.to_owned()));
            }
            labels.sort();
            let own_mode = own_modes
                .as_ref()
                .and_then(|modes| modes.lock().get(&info.name).copied());
            let mode = match own_mode {
                Some(mode) => mode,
                None if per_process_scope => GaugeMode::PerProcess,
                None => gauges.mode_for(series.metric),
            };
            if !add_change(sink, name, &labels, change, mode, sent_gauges, process) {
                DROPPED_UPDATES.inc();
                return;
            }
            if mode == GaugeMode::Sum && matches!(change, Change::Gauge(_)) {
                if let Ok(value) = field(name, Extension::Value, &labels, None) {
                    sum_gauges.insert(series_key(series), value);
                }
            }
            if seen.last().is_none_or(|f| f.name != name) {
                seen.push(SeenFamily {
                    name: name.to_owned(),
                    meta: FamilyMeta {
                        type_code,
                        description: series.family.help().to_owned(),
                        bounds: histogram_bounds(change),
                        recorded: Some((series.member.scope().clone(), info.unit.clone())),
                    },
                });
            }
        });
        // A gauge the registry no longer has (removed) contributes nothing any more.
        let cursor = &self.cursor;
        sum_gauges.retain(|key, value| {
            let kept = cursor.remembers(key);
            if !kept {
                if let Some(gauge) = sent_gauges.get_mut(value.as_str()) {
                    gauge.0 = 0.0;
                }
            }
            kept
        });
        send_gauge_sums(sink, sent_gauges);
        sent_gauges.retain(|_, (now, sent)| *now != 0.0 || *sent != 0.0);
        seen
    }
}

/// Sends, for every [`GaugeMode::Sum`] gauge whose contribution differs from its value, the
/// difference. The contribution advances only with a delta the outbox took: a delta dropped
/// because the outbox was full is sent again by the next transfer, so the sum across processes
/// never keeps an offset.
fn send_gauge_sums(sink: &mut Sink<'_>, gauges: &mut HashMap<String, (f64, f64)>) {
    for (field, (value, sent)) in gauges.iter_mut() {
        let delta = *value - *sent;
        if delta != 0.0 && delta.is_finite() && sink.add(field, Op::IncrFloat(delta)) {
            *sent = *value;
        }
    }
}

fn histogram_bounds(change: &Change) -> Option<Vec<f64>> {
    match change {
        Change::Histogram(h) => Some(h.bounds.clone()),
        _ => None,
    }
}

/// An `IncrInt` of `n`, clamped to what `HINCRBY` takes.
fn incr(n: u64) -> Op {
    Op::IncrInt(n.min(i64::MAX as u64) as i64)
}

/// Adds one series' change to the sink; `false` when a field name could not be encoded.
fn add_change(
    sink: &mut Sink<'_>,
    name: &str,
    labels: &[(String, String)],
    change: &Change,
    gauges: GaugeMode,
    sent_gauges: &mut HashMap<String, (f64, f64)>,
    process: &str,
) -> bool {
    let encoded = |extension, extra: Option<(&str, &str)>| field(name, extension, labels, extra);
    match change {
        Change::Counter(c) => {
            let Ok(value) = encoded(Extension::Value, None) else {
                return false;
            };
            let op = match c.delta {
                Number::UInt(n) => incr(n),
                other => Op::IncrFloat(other.as_f64()),
            };
            sink.add(&value, op);
        }
        Change::Gauge(v) => {
            let v = v.as_f64();
            let process_label = (PROCESS_LABEL, process);
            let extra = (gauges == GaugeMode::PerProcess).then_some(process_label);
            let Ok(value) = encoded(Extension::Value, extra) else {
                return false;
            };
            match gauges {
                GaugeMode::Sum => {
                    // Sent by `send_gauge_sums` once the read is done.
                    sent_gauges.entry(value).or_insert((0.0, 0.0)).0 = v;
                }
                GaugeMode::LastWriterWins | GaugeMode::PerProcess => {
                    sink.add(&value, Op::Set(v));
                }
            }
        }
        Change::Histogram(h) => {
            let mut fields = Vec::with_capacity(h.buckets.len());
            for bound in h.bounds.iter().copied().chain([f64::INFINITY]) {
                let le = format_float(bound);
                let Ok(bucket) = encoded(Extension::Bucket, Some((BUCKET_BOUND_LABEL, &le))) else {
                    return false;
                };
                fields.push(bucket);
            }
            add_cumulative_buckets(sink, &fields, &h.buckets);
            if !add_sum_and_count(sink, &encoded, h.sum, h.count) {
                return false;
            }
        }
        Change::Summary(s) => {
            for (key, n) in s.sketch.iter().flat_map(|sketch| sketch.buckets()) {
                let key = key.to_string();
                let Ok(bucket) = encoded(Extension::Bucket, Some((SKETCH_KEY_LABEL, &key))) else {
                    return false;
                };
                sink.add(&bucket, incr(n));
            }
            if !add_sum_and_count(sink, &encoded, s.sum, s.count) {
                return false;
            }
        }
    }
    true
}

/// The field name of one extension (and extra label) of the series being added.
type FieldOf<'a> =
    dyn Fn(Extension, Option<(&str, &str)>) -> Result<String, super::StoreError> + 'a;

fn add_sum_and_count(sink: &mut Sink<'_>, encoded: &FieldOf<'_>, sum: f64, count: u64) -> bool {
    let (Ok(sum_field), Ok(count_field)) = (
        encoded(Extension::Sum, None),
        encoded(Extension::Count, None),
    ) else {
        return false;
    };
    if count > 0 {
        sink.add(&sum_field, Op::IncrFloat(sum));
        sink.add(&count_field, incr(count));
    }
    true
}
