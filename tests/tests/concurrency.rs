//! N threads × M updates are exact, and scrapes racing observations always see consistent
//! histograms: `_count` equal to the `+Inf` bucket, cumulative buckets, counts that never go back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use microprofile::{
    Counter, Family, FloatCounter, Format, Histogram, LabelSet, Metadata, Registry, Selection,
    Value,
};

const THREADS: usize = 4;
const PER_THREAD: u64 = 50_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Method {
    Get,
    Post,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Dense(Method);

impl LabelSet for Dense {
    const NAMES: &'static [&'static str] = &["method"];
    const CARDINALITY: Option<usize> = Some(2);
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(match self.0 {
            Method::Get => "GET",
            Method::Post => "POST",
        })
    }
    fn dense_index(&self) -> usize {
        self.0 as usize
    }
    fn from_dense_index(index: usize) -> Option<Self> {
        [Method::Get, Method::Post].get(index).copied().map(Dense)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Hashed(String);

impl LabelSet for Hashed {
    const NAMES: &'static [&'static str] = &["user"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

#[test]
fn concurrent_updates_are_exact() {
    static COUNTER: Counter = Counter::new();
    static FLOAT: FloatCounter = FloatCounter::new();
    static HISTOGRAM: Histogram = Histogram::with_buckets(&[10.0, 100.0, 1000.0]);
    static DENSE: Family<Dense, Counter> = Family::new(Counter::new());
    static HASHED: Family<Hashed, Counter> = Family::new(Counter::new());
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    COUNTER.inc();
                    FLOAT.inc_by(0.5);
                    HISTOGRAM.observe((i % 2000) as f64);
                    DENSE
                        .with(&Dense(if i % 2 == 0 {
                            Method::Get
                        } else {
                            Method::Post
                        }))
                        .inc();
                    HASHED
                        .with(&Hashed(format!("u{}", (i + t as u64) % 10)))
                        .inc();
                }
            });
        }
    });
    let total = THREADS as u64 * PER_THREAD;
    assert_eq!(COUNTER.get(), total);
    assert_eq!(FLOAT.get(), total as f64 * 0.5);
    assert_eq!(HISTOGRAM.count(), total);
    let per_thread_sum: u64 = (0..PER_THREAD).map(|i| i % 2000).sum();
    assert_eq!(HISTOGRAM.sum(), (per_thread_sum * THREADS as u64) as f64);
    assert_eq!(DENSE.with(&Dense(Method::Get)).get(), total / 2);
    assert_eq!(DENSE.with(&Dense(Method::Post)).get(), total / 2);
    assert_eq!(HASHED.len(), 10);
    let hashed_total: u64 = (0..10)
        .map(|u| HASHED.with(&Hashed(format!("u{u}"))).get())
        .sum();
    assert_eq!(hashed_total, total);
}

#[test]
fn scrapes_racing_observations_stay_consistent() {
    let registry = Registry::new();
    let histogram = registry
        .histogram(
            Metadata::new("race").unit("seconds"),
            Some(vec![0.1, 0.5, 1.0]),
        )
        .unwrap();
    let stop = AtomicBool::new(false);
    let scrapes = thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let histogram = histogram.clone();
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        histogram.observe(((i + t as u64) % 13) as f64 / 10.0);
                    }
                })
            })
            .collect();
        let scraper = s.spawn(|| {
            let mut last_count = 0u64;
            let mut n = 0u32;
            // Keep scraping while writers run, and at least 10 times.
            while !stop.load(Ordering::Relaxed) || n < 10 {
                for family in registry.snapshot(Selection::All) {
                    for series in family.series {
                        let Value::Histogram { buckets, count, .. } = series.value else {
                            panic!("not a histogram");
                        };
                        assert_eq!(
                            buckets.last().map(|b| b.1),
                            Some(count),
                            "+Inf bucket != count"
                        );
                        assert!(
                            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                            "not cumulative: {buckets:?}"
                        );
                        assert!(
                            count >= last_count,
                            "count went back from {last_count} to {count}"
                        );
                        last_count = count;
                    }
                }
                // The text path takes the same consistent read.
                let text = registry.encode_to_string(Format::Prometheus, Selection::All);
                assert!(text.contains("race_seconds_count"));
                n += 1;
            }
            n
        });
        for writer in writers {
            writer.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        scraper.join().unwrap()
    });
    assert!(scrapes >= 10);
    assert_eq!(histogram.count(), THREADS as u64 * PER_THREAD);
}
