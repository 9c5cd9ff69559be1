//! A registry attached to the shared store (`SharedStore::attach`, `attach_global`) against a real
//! `redis-server`: whatever declared a metric (the attributes, a `Family`, the run-time API), its
//! deltas reach Redis exactly once per transfer, two "processes" (two stores with registries of
//! their own) add up, and the exporter's view equals what the registries recorded.
#![cfg(feature = "redis")]

mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use microprofile::redis::{GaugeMode, RedisExposition, SharedStore, StoreConfig};
use microprofile::{
    counted, Counter, Family, Format, LabelSet, Metadata, Registry, Scope, Selection,
};
use redis_support::{promtool_check, RedisServer};

#[derive(Clone, PartialEq, Eq, Hash)]
struct Queue(&'static str);

impl LabelSet for Queue {
    const NAMES: &'static [&'static str] = &["queue"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.0)
    }
}

/// The metrics of one "process": a registry of its own, attached to its own store.
struct Worker {
    store: SharedStore,
    jobs: microprofile::Handle<Counter>,
    by_queue: Arc<Family<Queue, Counter>>,
    depth: microprofile::Handle<microprofile::Gauge>,
    latency: microprofile::Handle<microprofile::Histogram>,
    sizes: microprofile::Handle<microprofile::Summary>,
    spent: microprofile::Handle<microprofile::FloatCounter>,
}

fn worker(server: &RedisServer, ns: &str, process: &str) -> Worker {
    let registry = Arc::new(Registry::new());
    let store =
        SharedStore::new(StoreConfig::new(server.url(), ns).process_label(process)).unwrap();
    // The cursor first, so summaries keep their sketch from their first observation.
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let jobs = registry
        .counter(Metadata::new("jobs").description("Jobs run."))
        .unwrap();
    let by_queue = Arc::new(Family::<Queue, Counter>::new(Counter::new()));
    registry
        .register(Metadata::new("jobs_by_queue"), by_queue.clone())
        .unwrap();
    Worker {
        store,
        jobs,
        by_queue,
        depth: registry.gauge(Metadata::new("depth")).unwrap(),
        latency: registry
            .histogram(Metadata::new("latency"), Some(vec![1.0, 10.0]))
            .unwrap(),
        sizes: registry.summary(Metadata::new("sizes")).unwrap(),
        spent: registry.float_counter(Metadata::new("spent")).unwrap(),
    }
}

fn number(server: &RedisServer, ns: &str, field: &str) -> f64 {
    server
        .hget(ns, field)
        .unwrap_or_else(|| panic!("no field {field:?} in {:?}", server.hgetall(ns)))
        .parse()
        .unwrap()
}

#[test]
fn an_attached_registry_reaches_redis_exactly_once_per_transfer() {
    let server = RedisServer::start();
    let w = worker(&server, "one", "p1");
    w.jobs.inc_by(3);
    w.by_queue.with(&Queue("mail")).inc_by(2);
    w.depth.set(4);
    for v in [0.5, 5.0, 50.0] {
        w.latency.observe(v);
    }
    w.sizes.observe(10.0);
    w.spent.inc_by(0.25);
    w.store.transfer().unwrap();
    assert_eq!(number(&server, "one", "jobs_total::"), 3.0);
    assert_eq!(
        number(&server, "one", "jobs_by_queue_total::queue=\"mail\""),
        2.0
    );
    assert_eq!(number(&server, "one", "depth::"), 4.0);
    assert_eq!(number(&server, "one", "spent_total::"), 0.25);
    // Buckets are cumulative, as the design document and Prometheus define them.
    assert_eq!(number(&server, "one", "latency:b:le=\"1.0\""), 1.0);
    assert_eq!(number(&server, "one", "latency:b:le=\"10.0\""), 2.0);
    assert_eq!(number(&server, "one", "latency:b:le=\"+Inf\""), 3.0);
    assert_eq!(number(&server, "one", "latency:c:"), 3.0);
    assert_eq!(number(&server, "one", "latency:s:"), 55.5);
    assert_eq!(number(&server, "one", "sizes:c:"), 1.0);
    assert_eq!(number(&server, "one", "sizes:s:"), 10.0);
    assert_eq!(server.hget("one", "jobs_total:t:").as_deref(), Some("c"));
    assert_eq!(
        server.hget("one", "jobs_total:d:").as_deref(),
        Some("Jobs run.")
    );
    assert_eq!(server.hget("one", "latency:t:").as_deref(), Some("h"));
    assert_eq!(server.hget("one", "sizes:t:").as_deref(), Some("s"));
    let sketch_fields: Vec<_> = server
        .hgetall("one")
        .into_iter()
        .filter(|(f, _)| f.starts_with("sizes:b:"))
        .collect();
    assert_eq!(sketch_fields.len(), 1, "{sketch_fields:?}");

    // A transfer with nothing new sends nothing; the next one only what changed.
    w.store.transfer().unwrap();
    assert_eq!(number(&server, "one", "jobs_total::"), 3.0);
    w.jobs.inc();
    w.depth.set(1);
    w.latency.observe(2.0);
    w.store.transfer().unwrap();
    assert_eq!(number(&server, "one", "jobs_total::"), 4.0);
    assert_eq!(number(&server, "one", "depth::"), 1.0);
    assert_eq!(number(&server, "one", "latency:b:le=\"1.0\""), 1.0);
    assert_eq!(number(&server, "one", "latency:b:le=\"10.0\""), 3.0);
    assert_eq!(number(&server, "one", "latency:b:le=\"+Inf\""), 4.0);
    assert_eq!(number(&server, "one", "latency:c:"), 4.0);
    assert_eq!(number(&server, "one", "latency:s:"), 57.5);
    // A series removed and made again starts from zero: only its new value is added.
    w.by_queue.remove(&Queue("mail"));
    w.by_queue.with(&Queue("mail")).inc();
    w.store.transfer().unwrap();
    assert_eq!(
        number(&server, "one", "jobs_by_queue_total::queue=\"mail\""),
        3.0
    );
}

#[test]
fn two_processes_add_up_and_the_exporter_serves_the_sum() {
    let server = RedisServer::start();
    let a = worker(&server, "shop", "a");
    let b = worker(&server, "shop", "b");
    for (w, n) in [(&a, 5u64), (&b, 7)] {
        w.jobs.inc_by(n);
        w.by_queue.with(&Queue("mail")).inc_by(n);
        w.depth.set(n as i64);
        w.latency.observe(n as f64);
        w.sizes.observe(n as f64);
    }
    a.store.transfer().unwrap();
    b.store.transfer().unwrap();
    // A gauge in Sum mode adds each process's value; moving one moves the sum by the difference.
    a.depth.set(1);
    a.store.transfer().unwrap();
    assert_eq!(number(&server, "shop", "depth::"), 8.0);

    // No scope given: each family's recorded one (the namespace's scope would be `shop`).
    let exposition = RedisExposition::new(&server.url(), &["shop"]).unwrap();
    let text = exposition
        .render(Format::Prometheus, Selection::All)
        .unwrap();
    for expected in [
        "jobs_total{mp_scope=\"application\"} 12\n",
        "jobs_by_queue_total{queue=\"mail\",mp_scope=\"application\"} 12\n",
        "depth{mp_scope=\"application\"} 8\n",
        "latency_count{mp_scope=\"application\"} 2\n",
        "latency_sum{mp_scope=\"application\"} 12.0\n",
        "latency_bucket{mp_scope=\"application\",le=\"10.0\"} 2\n",
        "sizes_count{mp_scope=\"application\"} 2\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(text.contains("# HELP jobs_total Jobs run.\n"), "{text}");
    promtool_check(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}

/// Calls of an instrumented function, declared by the attribute in the global registry.
#[counted(name = "attach_test_calls")]
fn instrumented() {}

#[test]
fn what_the_attributes_declare_reaches_redis_through_the_global_registry() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "global")).unwrap();
    store.attach_global(Scope::Application, GaugeMode::LastWriterWins);
    for _ in 0..3 {
        instrumented();
    }
    store.transfer().unwrap();
    instrumented();
    // The periodic transfer reads attached registries too, and its stop sends the rest.
    let periodic = store
        .spawn_periodic_transfer(Duration::from_millis(50))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    periodic.stop();
    assert_eq!(number(&server, "global", "attach_test_calls_total::"), 4.0);
    assert_eq!(
        server
            .hget("global", "attach_test_calls_total:t:")
            .as_deref(),
        Some("c")
    );
}

#[test]
fn a_family_of_another_type_under_a_name_the_store_holds_is_not_mixed_in() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "mixed")).unwrap();
    let own = store
        .gauge("clash", &[], GaugeMode::LastWriterWins)
        .unwrap();
    own.set(2.0);
    let registry = Arc::new(Registry::new());
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    registry
        .histogram(Metadata::new("clash"), Some(vec![1.0]))
        .unwrap()
        .observe(0.5);
    store.transfer().unwrap();
    // The store's gauge is there, the registry's histogram of the same name is not mixed in.
    assert!(server.hget("mixed", "clash:c:").is_none());
    assert_eq!(number(&server, "mixed", "clash::"), 2.0);
    assert_eq!(server.hget("mixed", "clash:t:").as_deref(), Some("g"));
}

#[test]
fn a_job_guard_transfers_when_the_job_ends_also_on_panic() {
    let server = RedisServer::start();
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(StoreConfig::new(server.url(), "jobs")).unwrap();
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let rows = registry.counter(Metadata::new("rows")).unwrap();
    let imported = store.run_job(|| {
        rows.inc_by(10);
        10
    });
    assert_eq!(imported, 10);
    assert_eq!(number(&server, "jobs", "rows_total::"), 10.0);
    // A job that panics half-way still sends what it recorded.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _transfer = store.job();
        rows.inc_by(5);
        panic!("the job failed");
    }));
    assert!(panicked.is_err());
    assert_eq!(number(&server, "jobs", "rows_total::"), 15.0);
    // `finish` returns the outcome.
    rows.inc();
    let report = store.job().finish().unwrap();
    assert!(report.fields > 0, "{report:?}");
    assert_eq!(number(&server, "jobs", "rows_total::"), 16.0);
}

#[test]
fn stopping_a_periodic_transfer_sends_everything_recorded_before_the_stop() {
    let server = RedisServer::start();
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(StoreConfig::new(server.url(), "periodic")).unwrap();
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let hits = registry.counter(Metadata::new("hits")).unwrap();
    // Many rounds with a 1 ms interval: the stops land before, during and after transfers.
    let mut total = 0u64;
    for round in 0..30u64 {
        let periodic = store
            .spawn_periodic_transfer(Duration::from_millis(1))
            .unwrap();
        let until = std::time::Instant::now() + Duration::from_millis(5 + round % 7);
        while std::time::Instant::now() < until {
            hits.inc();
            total += 1;
        }
        periodic.stop();
        assert_eq!(
            number(&server, "periodic", "hits_total::"),
            total as f64,
            "round {round}"
        );
    }
}

/// The end of a request: the request-metrics layer's `after_response` hook asks for a background
/// transfer, so the request's own metrics reach Redis without the response waiting for it.
#[cfg(feature = "tower")]
#[test]
fn the_end_of_a_request_transfers_in_the_background() {
    use std::convert::Infallible;
    use std::future::{ready, Ready};
    use std::task::{Context, Poll};
    use tower_layer::Layer;
    use tower_service::Service;

    /// A service answering 200 at once.
    #[derive(Clone)]
    struct Hello;
    impl Service<http::Request<()>> for Hello {
        type Response = http::Response<()>;
        type Error = Infallible;
        type Future = Ready<Result<http::Response<()>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            ready(Ok(http::Response::new(())))
        }
    }

    let server = RedisServer::start();
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let store = SharedStore::new(StoreConfig::new(server.url(), "web")).unwrap();
    // The layer's metrics are in the vendor scope of the registry it records into.
    store.attach_static(registry, Scope::Vendor, GaugeMode::Sum);
    let hook_store = store.clone();
    let layer = microprofile::instrument::HttpMetricsLayer::builder()
        .registry(registry)
        .after_response(move || {
            let _ = hook_store.transfer_in_background();
        })
        .build()
        .unwrap();
    let mut service = layer.layer(Hello);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for _ in 0..3 {
        let response = runtime
            .block_on(service.call(http::Request::new(())))
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let field = "http_server_requests_total::method=\"GET\",route=\"unmatched\",status=\"200\"";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.hget("web", field).as_deref() != Some("3") {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.hgetall("web")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unregister_takes_a_family_out_of_the_store_view() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "unreg")).unwrap();
    let kept = store.counter("kept", &[]).unwrap();
    let gone = store.counter("gone", &[("a", "1")]).unwrap();
    kept.inc();
    gone.inc();
    store.transfer().unwrap();
    gone.inc_by(10);
    assert!(store.unregister("gone"));
    assert!(!store.unregister("gone"));
    kept.inc();
    gone.inc();
    store.transfer().unwrap();
    assert_eq!(number(&server, "unreg", "kept_total::"), 2.0);
    // Neither what was pending at the unregister nor what came after is sent.
    assert_eq!(number(&server, "unreg", "gone_total::a=\"1\""), 1.0);
    // A new handle of that name makes the family again.
    store.counter("gone", &[("a", "1")]).unwrap().inc();
    store.transfer().unwrap();
    assert_eq!(number(&server, "unreg", "gone_total::a=\"1\""), 2.0);

    // An attached registry's metric leaves the store's view when it leaves the registry.
    let registry = Arc::new(Registry::new());
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let temp = registry.counter(Metadata::new("temp")).unwrap();
    temp.inc();
    store.transfer().unwrap();
    assert_eq!(number(&server, "unreg", "temp_total::"), 1.0);
    assert!(registry.remove(&Scope::Application, "temp", &[]));
    temp.inc();
    store.transfer().unwrap();
    assert_eq!(number(&server, "unreg", "temp_total::"), 1.0);
}

/// Gauges combine by what they are unless told otherwise: a concurrent gauge adds up across
/// processes, every other gauge is kept per process; a base attachment labels every series
/// with the process, counters too (a host's figures are the same from each process on it).
#[test]
fn gauges_combine_by_kind_and_base_metrics_stay_per_process() {
    use microprofile::redis::GaugePolicy;
    let server = RedisServer::start();
    let mut stores = Vec::new();
    for (process, n) in [("a", 2i64), ("b", 3)] {
        let registry = Arc::new(Registry::new());
        let store =
            SharedStore::new(StoreConfig::new(server.url(), "kinds").process_label(process))
                .unwrap();
        store.attach(registry.clone(), Scope::Application, GaugePolicy::ByKind);
        store.attach(registry.clone(), Scope::Base, GaugePolicy::ByKind);
        // Leaked, so the guards below (calls in flight) can outlive this loop.
        let in_flight: &'static Arc<microprofile::ConcurrentGauge> =
            Box::leak(Box::new(Arc::new(microprofile::ConcurrentGauge::new())));
        registry
            .register(Metadata::new("in_flight"), in_flight.clone())
            .unwrap();
        let guards: Vec<_> = (0..n).map(|_| in_flight.enter()).collect();
        registry
            .gauge(Metadata::new("cache_entries"))
            .unwrap()
            .set(10 * n);
        registry
            .callback_gauge(Metadata::new("heap_ratio"), move || n as f64 / 10.0)
            .unwrap();
        registry
            .float_gauge(Metadata::new("host_cpu_percent").scope(Scope::Base))
            .unwrap()
            .set(40.0 + n as f64);
        registry
            .counter(Metadata::new("host_boots").scope(Scope::Base))
            .unwrap()
            .inc();
        store.transfer().unwrap();
        stores.push((store, guards));
    }
    let fields: std::collections::BTreeMap<String, String> =
        server.hgetall("kinds").into_iter().collect();
    let num = |f: &str| -> f64 {
        fields
            .get(f)
            .unwrap_or_else(|| panic!("no {f:?} in {fields:#?}"))
            .parse()
            .unwrap()
    };
    assert_eq!(num("in_flight::"), 5.0);
    assert_eq!(num("cache_entries::mp_process=\"a\""), 20.0);
    assert_eq!(num("cache_entries::mp_process=\"b\""), 30.0);
    assert_eq!(num("heap_ratio::mp_process=\"b\""), 0.3);
    assert_eq!(num("host_cpu_percent::mp_process=\"a\""), 42.0);
    assert_eq!(num("host_cpu_percent::mp_process=\"b\""), 43.0);
    assert_eq!(num("host_boots_total::mp_process=\"a\""), 1.0);
    assert!(!fields.contains_key("host_boots_total::"), "{fields:#?}");
    assert!(!fields.contains_key("cache_entries::"), "{fields:#?}");
    // Ending the calls in flight brings the sum back to 0.
    for (store, guards) in &mut stores {
        guards.clear();
        store.transfer().unwrap();
    }
    assert_eq!(number(&server, "kinds", "in_flight::"), 0.0);
    // An explicit mode still applies to every gauge of an attachment.
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(StoreConfig::new(server.url(), "kinds")).unwrap();
    store.attach(
        registry.clone(),
        Scope::Application,
        GaugeMode::LastWriterWins,
    );
    registry.gauge(Metadata::new("version")).unwrap().set(7);
    store.transfer().unwrap();
    assert_eq!(number(&server, "kinds", "version::"), 7.0);
}

/// In eager mode, what an attached registry records leaves by itself, without a transfer call.
#[test]
fn eager_mode_sends_an_attached_registry_by_itself() {
    let server = RedisServer::start();
    let registry = Arc::new(Registry::new());
    let store = SharedStore::new(
        StoreConfig::new(server.url(), "eager")
            .mode(microprofile::redis::TransferMode::Eager)
            .eager_interval(Duration::from_millis(5)),
    )
    .unwrap();
    store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let hits = registry.counter(Metadata::new("hits")).unwrap();
    for expected in 1..=3 {
        hits.inc();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.hget("eager", "hits_total::").as_deref() != Some(&expected.to_string()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                server.hgetall("eager")
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Scopes, names, types, units and HELP survive the trip: the exporter's scrape of a
/// namespace that one process wrote is that process's own scrape, line for line (both formats),
/// and with two processes the values are the sums.
#[test]
fn the_exporter_shows_what_one_process_shows() {
    let server = RedisServer::start();
    let make = |process: &str| {
        let registry = Arc::new(Registry::new());
        let store = SharedStore::new(StoreConfig::new(server.url(), "same").process_label(process))
            .unwrap();
        store.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
        store.attach(registry.clone(), Scope::Vendor, GaugeMode::Sum);
        let orders = registry
            .counter(
                Metadata::new("orders")
                    .description("Orders placed.")
                    .with_tag("region", "eu"),
            )
            .unwrap();
        let read = registry
            .counter(
                Metadata::new("io.read")
                    .unit("bytes")
                    .description("Bytes read.")
                    .scope(Scope::Vendor),
            )
            .unwrap();
        let latency = registry
            .timer(
                Metadata::new("checkout").description("Checkout time."),
                Some(vec![0.1, 1.0]),
            )
            .unwrap();
        let size = registry
            .histogram(Metadata::new("basket").unit("items"), Some(vec![1.0, 5.0]))
            .unwrap();
        let queue = registry
            .gauge(Metadata::new("queue_depth").description("Waiting."))
            .unwrap();
        orders.inc_by(3);
        read.inc_by(4096);
        latency.record(Duration::from_millis(250));
        size.observe(3.0);
        queue.set(4);
        store.transfer().unwrap();
        (registry, store)
    };
    let (one, _store) = make("p1");
    let exposition = RedisExposition::new(&server.url(), &["same"]).unwrap();
    // The store keeps a timer as a histogram: the process's `x_seconds_max` gauge families (the
    // largest duration in its own window) are not in the store, and so not in the export.
    let timer_max: Vec<String> = one
        .families(Selection::All)
        .iter()
        .filter(|i| i.metric_type == microprofile::MetricType::Timer)
        .map(|i| format!("{}_max", i.name))
        .collect();
    assert!(!timer_max.is_empty());
    let is_timer_max = |line: &str| {
        let name = match line.strip_prefix("# ") {
            Some(meta) => meta.split(' ').nth(1).unwrap_or_default(),
            None => line.split(['{', ' ']).next().unwrap_or_default(),
        };
        timer_max.iter().any(|m| m == name)
    };
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let own = one.encode_to_string(format, Selection::All);
        assert!(own.lines().any(is_timer_max), "{own}");
        let own: String = own
            .lines()
            .filter(|l| !is_timer_max(l))
            .flat_map(|l| [l, "\n"])
            .collect();
        let exported = exposition.render(format, Selection::All).unwrap();
        assert_eq!(exported, own, "{format:?}");
        assert!(own.contains("mp_scope=\"vendor\""), "{own}");
    }
    promtool_check(
        &exposition
            .render(Format::Prometheus, Selection::All)
            .unwrap(),
    )
    .unwrap();
    let (_two, _store2) = make("p2");
    let exported = exposition
        .render(Format::OpenMetrics, Selection::All)
        .unwrap();
    for line in [
        "# UNIT io_read_bytes bytes\n",
        "io_read_bytes_total{mp_scope=\"vendor\"} 8192\n",
        "orders_total{region=\"eu\",mp_scope=\"application\"} 6\n",
        "checkout_seconds_count{mp_scope=\"application\"} 2\n",
        "basket_items_bucket{mp_scope=\"application\",le=\"5.0\"} 2\n",
        "queue_depth{mp_scope=\"application\"} 8\n",
    ] {
        assert!(exported.contains(line), "{line:?} in\n{exported}");
    }
}

/// An integer and a float counter of the same name and labels (a registry's and a store
/// handle's, or two processes') share one field exactly: once it holds a fraction, integer
/// increments are added as floats instead of being refused.
#[test]
fn integer_and_float_counters_of_one_field_add_up() {
    let server = RedisServer::start();
    let floats = SharedStore::new(StoreConfig::new(server.url(), "mix")).unwrap();
    floats.float_counter("mix_total", &[]).unwrap().inc_by(0.5);
    floats.transfer().unwrap();
    let registry = Arc::new(Registry::new());
    let ints = SharedStore::new(StoreConfig::new(server.url(), "mix")).unwrap();
    ints.attach(registry.clone(), Scope::Application, GaugeMode::Sum);
    let mix = registry.counter(Metadata::new("mix")).unwrap();
    let dropped = microprofile::registry::global()
        .encode_to_string(Format::Prometheus, Selection::All)
        .lines()
        .find(|l| l.starts_with("microprofile_redis_dropped_updates_total{"))
        .map(str::to_owned);
    for _ in 0..3 {
        mix.inc_by(2);
        ints.transfer().unwrap();
    }
    assert_eq!(number(&server, "mix", "mix_total::"), 6.5);
    let dropped_after = microprofile::registry::global()
        .encode_to_string(Format::Prometheus, Selection::All)
        .lines()
        .find(|l| l.starts_with("microprofile_redis_dropped_updates_total{"))
        .map(str::to_owned);
    assert_eq!(dropped, dropped_after, "an increment was refused");
}

/// Two attached registries declaring one name with two types, in the same first transfer: the
/// first one's family is sent, the second's is not mixed into its fields.
#[test]
fn two_attached_registries_with_one_name_of_two_types_do_not_mix() {
    let server = RedisServer::start();
    let store = SharedStore::new(StoreConfig::new(server.url(), "two")).unwrap();
    let first = Arc::new(Registry::new());
    let second = Arc::new(Registry::new());
    store.attach(first.clone(), Scope::Application, GaugeMode::Sum);
    store.attach(second.clone(), Scope::Application, GaugeMode::Sum);
    first.gauge(Metadata::new("dup")).unwrap().set(3);
    second
        .histogram(Metadata::new("dup"), Some(vec![1.0]))
        .unwrap()
        .observe(0.5);
    store.transfer().unwrap();
    assert_eq!(number(&server, "two", "dup::"), 3.0);
    assert_eq!(server.hget("two", "dup:t:").as_deref(), Some("g"));
    assert!(
        server.hget("two", "dup:c:").is_none(),
        "{:?}",
        server.hgetall("two")
    );
}

/// A gauge in `Sum` mode that leaves its registry takes its contribution back from the sum.
#[test]
fn a_removed_sum_gauge_takes_its_contribution_back() {
    let server = RedisServer::start();
    let a = Arc::new(Registry::new());
    let b = Arc::new(Registry::new());
    let store_a = SharedStore::new(StoreConfig::new(server.url(), "gone")).unwrap();
    let store_b = SharedStore::new(StoreConfig::new(server.url(), "gone")).unwrap();
    store_a.attach(a.clone(), Scope::Application, GaugeMode::Sum);
    store_b.attach(b.clone(), Scope::Application, GaugeMode::Sum);
    a.gauge(Metadata::new("workers")).unwrap().set(3);
    b.gauge(Metadata::new("workers")).unwrap().set(4);
    store_a.transfer().unwrap();
    store_b.transfer().unwrap();
    assert_eq!(number(&server, "gone", "workers::"), 7.0);
    assert!(a.remove(&Scope::Application, "workers", &[]));
    store_a.transfer().unwrap();
    assert_eq!(number(&server, "gone", "workers::"), 4.0);
    // Made again, it contributes its new value.
    a.gauge(Metadata::new("workers")).unwrap().set(1);
    store_a.transfer().unwrap();
    assert_eq!(number(&server, "gone", "workers::"), 5.0);
}
