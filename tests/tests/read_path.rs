//! The one read path (`Registry::gather`) and the per-consumer delta cursor
//! (`Registry::gather_changes`): every kind of collector hands over its labels as pairs that agree
//! with the rendered text the encoders write, and a cursor reports exactly what changed since its
//! own last read.

use std::sync::Arc;
use std::time::Duration;

use microprofile::metric::family::{OVERFLOW_LABEL_NAME, OVERFLOW_LABEL_VALUE};
use microprofile::metric::Number;
use microprofile::registry::{Change, DeltaCursor, Gather, SeriesRead};
use microprofile::{
    Counter, Family, Format, Histogram, LabelSet, LabelValue, Metadata, Registry, Scope, Selection,
};

#[derive(Clone, Copy, PartialEq, Eq, Hash, LabelValue)]
enum Method {
    Get,
    Post,
}

#[derive(Clone, PartialEq, Eq, Hash, LabelSet)]
struct Dense {
    method: Method,
}

#[derive(Clone, PartialEq, Eq, Hash, LabelSet)]
struct Hashed {
    path: String,
    user: String,
}

/// Every series the read path hands over: family, scope, labels as pairs (member tags, then the
/// series' labels) and the rendered text of the series' own labels.
#[derive(Default)]
struct Collected(Vec<Row>);

/// Family, scope, label pairs, rendered series labels.
type Row = (String, String, Vec<(String, String)>, String);

impl Gather for Collected {
    fn series(&mut self, series: &SeriesRead<'_>) {
        let mut pairs = Vec::new();
        series.for_each_label(&mut |n, v| pairs.push((n.to_owned(), v.to_owned())));
        self.0.push((
            series.family.info().name.clone(),
            series.member.scope().as_str().to_owned(),
            pairs,
            series.labels.rendered().to_owned(),
        ));
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// Escapes a value as the text formats do, to compare the pairs with the rendered text.
fn render(pairs: &[(String, String)]) -> String {
    let rendered: Vec<String> = pairs
        .iter()
        .map(|(n, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{n}=\"{v}\"")
        })
        .collect();
    rendered.join(",")
}

#[test]
fn every_collector_hands_over_pairs_that_match_its_rendered_labels() {
    let registry = Registry::new();
    let tagged = Metadata::new("tagged")
        .tags(&[("region", "eu")])
        .scope(Scope::Vendor);
    registry.counter(tagged).unwrap().inc();
    let dense = Arc::new(Family::<Dense, Counter>::new(Counter::new()));
    registry
        .register(Metadata::new("dense"), dense.clone())
        .unwrap();
    dense
        .with(&Dense {
            method: Method::Post,
        })
        .inc();
    let hashed = Arc::new(Family::<Hashed, Counter>::with_max_series(
        Counter::new(),
        2,
    ));
    registry
        .register(Metadata::new("hashed"), hashed.clone())
        .unwrap();
    let odd = "a\"b\\c\nd";
    for user in ["x", odd, "overflowing"] {
        hashed
            .with(&Hashed {
                path: "/p".to_owned(),
                user: user.to_owned(),
            })
            .inc();
    }
    let mut collected = Collected::default();
    let matched = registry.gather(Selection::All, &mut collected);
    assert_eq!(matched, 3);
    let expected = vec![
        ("dense_total", "application", pairs(&[("method", "Post")])),
        // Sorted by the rendered labels: `mp_overflow="true"` before `path=…`.
        (
            "hashed_total",
            "application",
            pairs(&[(OVERFLOW_LABEL_NAME, OVERFLOW_LABEL_VALUE)]),
        ),
        (
            "hashed_total",
            "application",
            pairs(&[("path", "/p"), ("user", odd)]),
        ),
        (
            "hashed_total",
            "application",
            pairs(&[("path", "/p"), ("user", "x")]),
        ),
        ("tagged_total", "vendor", pairs(&[("region", "eu")])),
    ];
    let got: Vec<_> = collected
        .0
        .iter()
        .map(|(f, s, p, _)| (f.as_str(), s.as_str(), p.clone()))
        .collect();
    assert_eq!(got, expected);
    // The series' own labels (not the member's tags) are the rendered text the encoders write.
    for (family, _, labels, rendered) in &collected.0 {
        if family != "tagged_total" {
            assert_eq!(&render(labels), rendered, "{family}");
        } else {
            assert_eq!(rendered, "");
        }
    }
    // And the text encoder writes exactly those labels.
    let text = registry.encode_to_string(Format::Prometheus, Selection::All);
    assert!(
        text.contains(r#"hashed_total{path="/p",user="a\"b\\c\nd",mp_scope="application"} 1"#),
        "{text}"
    );
}

#[test]
fn host_metrics_hand_over_pairs_that_match_their_rendered_labels() {
    // microprofile-base's collector keeps each label set beside its rendering.
    let registry = Registry::new();
    let collector = Arc::new(microprofile_base::Collector::new());
    collector.register_into(&registry).unwrap();
    let mut collected = Collected::default();
    registry.gather(Selection::Scope(&Scope::Base), &mut collected);
    assert!(!collected.0.is_empty());
    for (family, scope, labels, rendered) in &collected.0 {
        assert_eq!(scope, "base");
        assert_eq!(&render(labels), rendered, "{family}");
    }
}

/// The changes one read of `cursor` reports, as text.
fn changes(registry: &Registry, cursor: &mut DeltaCursor) -> Vec<String> {
    let mut seen = Vec::new();
    registry.gather_changes(Selection::All, cursor, &mut |series, change| {
        let labels = series.labels.rendered();
        let what = match change {
            Change::Counter(c) => format!(
                "counter +{} ={} reset={}",
                c.delta.as_f64(),
                c.total.as_f64(),
                c.reset
            ),
            Change::Gauge(v) => format!("gauge {}", v.as_f64()),
            Change::Histogram(h) => format!(
                "histogram {:?} count={} sum={} reset={}",
                h.buckets, h.count, h.sum, h.reset
            ),
            Change::Summary(s) => {
                format!("summary count={} sum={} reset={}", s.count, s.sum, s.reset)
            }
        };
        seen.push(format!("{}{{{labels}}} {what}", series.family.info().name));
    });
    seen
}

#[test]
fn a_delta_cursor_reports_what_changed_since_its_own_last_read() {
    let registry = Registry::new();
    let hits = registry.counter(Metadata::new("hits")).unwrap();
    let depth = registry.gauge(Metadata::new("depth")).unwrap();
    let latency = registry
        .histogram(Metadata::new("latency"), Some(vec![1.0, 5.0]))
        .unwrap();
    let sizes = registry
        .summary_with(Metadata::new("sizes"), vec![0.5], Duration::from_secs(60))
        .unwrap();
    let jobs = Arc::new(Family::<Dense, Counter>::new(Counter::new()));
    registry
        .register(Metadata::new("jobs"), jobs.clone())
        .unwrap();

    let mut cursor = DeltaCursor::new();
    let mut other = DeltaCursor::new();
    // First read: every series whole (a labelled family has no series yet).
    hits.inc_by(3);
    depth.set(7);
    latency.observe(0.5);
    latency.observe(3.0);
    sizes.observe(10.0);
    assert_eq!(
        changes(&registry, &mut cursor),
        [
            "depth{} gauge 7",
            "hits_total{} counter +3 =3 reset=false",
            "latency{} histogram [1, 1, 0] count=2 sum=3.5 reset=false",
            "sizes{} summary count=1 sum=10 reset=false",
        ]
    );
    assert_eq!(cursor.len(), 4);
    // Nothing changed: nothing reported.
    assert!(changes(&registry, &mut cursor).is_empty());
    // Only what changed, by how much.
    hits.inc_by(2);
    latency.observe(9.0);
    latency.observe(0.25);
    depth.set(7);
    jobs.with(&Dense {
        method: Method::Get,
    })
    .inc_by(4);
    assert_eq!(
        changes(&registry, &mut cursor),
        [
            "hits_total{} counter +2 =5 reset=false",
            "jobs_total{method=\"Get\"} counter +4 =4 reset=false",
            "latency{} histogram [1, 0, 1] count=2 sum=9.25 reset=false",
        ]
    );
    depth.set(-1);
    sizes.observe(2.0);
    sizes.observe(3.0);
    assert_eq!(
        changes(&registry, &mut cursor),
        [
            "depth{} gauge -1",
            "sizes{} summary count=2 sum=5 reset=false"
        ]
    );
    // A series removed and made again starts from zero: a reset, reported whole.
    jobs.remove(&Dense {
        method: Method::Get,
    });
    jobs.with(&Dense {
        method: Method::Get,
    })
    .inc();
    assert_eq!(
        changes(&registry, &mut cursor),
        ["jobs_total{method=\"Get\"} counter +1 =1 reset=true"]
    );
    // A series that is gone is forgotten; made again, it is new (not a reset).
    jobs.remove(&Dense {
        method: Method::Get,
    });
    assert!(changes(&registry, &mut cursor).is_empty());
    assert_eq!(cursor.len(), 4);
    jobs.with(&Dense {
        method: Method::Get,
    })
    .inc_by(2);
    assert_eq!(
        changes(&registry, &mut cursor),
        ["jobs_total{method=\"Get\"} counter +2 =2 reset=false"]
    );
    // Another consumer's cursor is independent: its first read sees everything whole.
    let whole = changes(&registry, &mut other);
    assert_eq!(whole.len(), 5, "{whole:?}");
    assert!(whole.contains(&"hits_total{} counter +5 =5 reset=false".to_owned()));
    assert!(
        whole.contains(&"latency{} histogram [2, 1, 1] count=4 sum=12.75 reset=false".to_owned())
    );
}

#[test]
fn float_counters_report_float_deltas() {
    let registry = Registry::new();
    let spent = registry.float_counter(Metadata::new("spent")).unwrap();
    let mut cursor = DeltaCursor::new();
    spent.inc_by(0.5);
    assert_eq!(
        changes(&registry, &mut cursor),
        ["spent_total{} counter +0.5 =0.5 reset=false"]
    );
    spent.inc_by(0.25);
    let mut deltas = Vec::new();
    registry.gather_changes(Selection::All, &mut cursor, &mut |_, change| {
        if let Change::Counter(c) = change {
            deltas.push(c.delta);
        }
    });
    assert_eq!(deltas, [Number::Float(0.25)]);
}

#[test]
fn gather_counts_the_families_a_selection_matches_like_encode() {
    let registry = Registry::new();
    registry.counter(Metadata::new("a")).unwrap().inc();
    registry
        .gauge(Metadata::new("b").scope(Scope::Vendor))
        .unwrap()
        .set(1);
    let _unused: microprofile::Handle<Histogram> =
        registry.histogram(Metadata::new("c"), None).unwrap();
    let mut sink = Collected::default();
    for selection in [
        Selection::All,
        Selection::Scope(&Scope::Vendor),
        Selection::Metric(&Scope::Application, "a"),
    ] {
        let mut text = String::new();
        let encoded = registry
            .encode(&mut text, Format::OpenMetrics, selection)
            .unwrap();
        assert_eq!(registry.gather(selection, &mut sink), encoded);
    }
}

/// The sketch buckets of the summary changes one read reports: `(representative value, count)`.
fn sketch_changes(registry: &Registry, cursor: &mut DeltaCursor) -> Vec<(u64, Vec<(f64, u64)>)> {
    let mut seen = Vec::new();
    registry.gather_changes(Selection::All, cursor, &mut |_, change| {
        if let Change::Summary(s) = change {
            let buckets = s
                .sketch
                .as_ref()
                .expect("a summary keeps a sketch once a cursor exists");
            seen.push((
                s.count,
                buckets.buckets().map(|(k, n)| (k.value(), n)).collect(),
            ));
        }
    });
    seen
}

#[test]
fn a_delta_cursor_reports_the_sketch_of_what_a_summary_observed_in_between() {
    use microprofile::redis::sketch::{Sketch, SketchKey, RELATIVE_ACCURACY};
    // The cursor first: summaries keep their sketch from their first observation on.
    let mut cursor = DeltaCursor::new();
    let registry = Registry::new();
    let sizes = registry
        .summary_with(
            Metadata::new("sizes"),
            vec![0.5, 0.99],
            Duration::from_secs(60),
        )
        .unwrap();
    let close = |a: f64, b: f64| ((a - b) / b).abs() <= RELATIVE_ACCURACY * (1.0 + 1e-9);
    for v in [10.0, 10.0, 1000.0] {
        sizes.observe(v);
    }
    let first = sketch_changes(&registry, &mut cursor);
    assert_eq!(first.len(), 1);
    let (count, buckets) = &first[0];
    assert_eq!(*count, 3);
    assert_eq!(buckets.len(), 2);
    assert!(
        close(buckets[0].0, 10.0) && buckets[0].1 == 2,
        "{buckets:?}"
    );
    assert!(
        close(buckets[1].0, 1000.0) && buckets[1].1 == 1,
        "{buckets:?}"
    );
    // Only the observations since the last read.
    sizes.observe(10.0);
    sizes.observe(0.5);
    let second = sketch_changes(&registry, &mut cursor);
    let (count, buckets) = &second[0];
    assert_eq!(*count, 2);
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    assert!(close(buckets[0].0, 0.5) && buckets[0].1 == 1, "{buckets:?}");
    assert!(
        close(buckets[1].0, 10.0) && buckets[1].1 == 1,
        "{buckets:?}"
    );
    assert!(sketch_changes(&registry, &mut cursor).is_empty());
    // Added up, the deltas are the sketch of every observation: what a store merging them holds.
    let mut merged = Sketch::new();
    for (_, buckets) in first.iter().chain(&second) {
        for (value, n) in buckets {
            merged.add_count(SketchKey::of(*value).unwrap(), *n);
        }
    }
    let mut all = Sketch::new();
    for v in [10.0, 10.0, 1000.0, 10.0, 0.5] {
        all.add(v);
    }
    assert_eq!(merged, all);
    // A series of a family made after the cursor keeps its sketch from its first observation.
    let by_queue = Arc::new(Family::<Dense, microprofile::Summary>::new(
        microprofile::Summary::try_new(vec![0.5], Duration::from_secs(60)).unwrap(),
    ));
    registry
        .register(Metadata::new("by_queue"), by_queue.clone())
        .unwrap();
    by_queue
        .with(&Dense {
            method: Method::Get,
        })
        .observe(2.0);
    let third = sketch_changes(&registry, &mut cursor);
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].0, 1);
    assert_eq!(third[0].1.len(), 1);
    assert!(close(third[0].1[0].0, 2.0));
    // Removed and made again: a reset, reported whole (count and sketch).
    by_queue.remove(&Dense {
        method: Method::Get,
    });
    by_queue
        .with(&Dense {
            method: Method::Get,
        })
        .observe(3.0);
    let mut resets = Vec::new();
    registry.gather_changes(Selection::All, &mut cursor, &mut |_, change| {
        if let Change::Summary(s) = change {
            resets.push((s.reset, s.count, s.sketch.as_ref().map(Sketch::count)));
        }
    });
    assert_eq!(resets, [(true, 1, Some(1))]);
}
