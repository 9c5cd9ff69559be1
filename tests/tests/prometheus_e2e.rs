//! End to end with a real Prometheus server (Debian package `prometheus`, `/usr/bin/prometheus`):
//! an axum service built from the public API (the metrics router, the request-metrics layer, the
//! base and vendor metrics of `microprofile-base`, an application counter) is scraped every second,
//! and everything is checked through Prometheus' HTTP API.
//!
//! Scrape jobs:
//! - `om`: Prometheus' own negotiation, which prefers OpenMetrics.
//! - `text`: the Prometheus text format 0.0.4. Prometheus before 2.49 cannot be told to ask for
//!   it (no `scrape_protocols`), so for those versions the job scrapes a second listener of the
//!   same service that replaces the `Accept` header with `text/plain;version=0.0.4`, as such a
//!   Prometheus would send.
//! - `auth_ok` / `auth_missing`: a listener requiring a bearer token, scraped with and without it.
//! - `tls`: the same over HTTPS (`web::serve_tls`, the test CA of `tests/tls`), with the token.
//! - `listener`: the built-in listener, over HTTPS with basic auth.
//!
//! Prometheus asks for gzip (`Accept-Encoding: gzip`); the test checks that the axum service's
//! scrapes went out gzipped, so every value it reads came through gzip.
//!
//! A missing `prometheus` binary fails the test with a message saying what to install.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, USER_AGENT};
use axum::http::{HeaderValue, Request};
use axum::routing::get;
use axum::Router;
use microprofile::instrument::HttpMetricsLayer;
use microprofile::serve::auth::Auth;
use microprofile::serve::tls::TlsConfig;
use microprofile::serve::MetricsRouter;
use microprofile::{Counter, Metadata};
use microprofile_tests::{free_port, http_get};
use serde_json::Value;

static E2E_ORDERS: Counter = Counter::new();
microprofile::register!(
    E2E_ORDERS,
    Metadata::new("e2e_orders").description("Orders placed by the end-to-end test.")
);

const TOKEN: &str = "e2e-s3cret-token";
const DEADLINE: Duration = Duration::from_secs(45);

fn tls_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tls")
        .join(name)
}

/// The service under test, as an application would build it (plus a recorder of how its
/// scrapes were sent).
fn app(auth: Auth) -> Router {
    Router::new()
        .route("/work", get(|| async { "done" }))
        .merge(MetricsRouter::new().auth(auth).into_router().unwrap())
        .layer(HttpMetricsLayer::new())
        .layer(axum::middleware::from_fn(record_scrape_encoding))
}

/// `(Accept-Encoding, Content-Encoding)` of every successful scrape by Prometheus (told apart by
/// its `User-Agent`).
static SCRAPE_ENCODINGS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

async fn record_scrape_encoding(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let headers = request.headers();
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let from_prometheus = header(USER_AGENT).starts_with("Prometheus/");
    let accept_encoding = header(ACCEPT_ENCODING);
    let response = next.run(request).await;
    if from_prometheus && response.status() == 200 {
        let content_encoding = response
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Ok(mut seen) = SCRAPE_ENCODINGS.lock() {
            seen.push((accept_encoding, content_encoding));
        }
    }
    response
}

/// Serves `app` on a free loopback port of `runtime`.
fn serve(runtime: &tokio::runtime::Runtime, app: Router) -> SocketAddr {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A Prometheus server on a free loopback port, killed (and its data removed) on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `(major, minor)` of the installed Prometheus.
fn prometheus_version() -> (u32, u32) {
    let output = Command::new("prometheus")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `prometheus` ({e}): install the Debian package `prometheus` \
                 (apt-get install prometheus), or run .ci/run / scripts/test, which install it"
            )
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the version of prometheus from {text:?}"));
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

impl Prometheus {
    fn start(config: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "microprofile-prometheus-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(dir.join("data")).expect("create a temporary directory");
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let check = Command::new("promtool")
            .arg("check")
            .arg("config")
            .arg(&config_path)
            .output();
        if let Ok(check) = check {
            assert!(
                check.status.success(),
                "promtool rejects the configuration:\n{}{}\n---\n{config}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("create the log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `prometheus` ({e}): install the Debian package `prometheus`")
            });
        let mut prometheus = Prometheus { child, addr, dir };
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = http_get(addr, "/-/ready", None) {
                if r.status == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!(
                    "prometheus exited ({status}) before it was ready:\n{}",
                    prometheus.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {DEADLINE:?}:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query; the result vector as (labels, value).
    fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let response = http_get(self.addr, &path, None)
            .unwrap_or_else(|e| panic!("query {promql}: {e}\n{}", self.log()));
        let json: Value = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("query {promql}: {e}: {}", response.body));
        assert_eq!(json["status"], "success", "query {promql}: {json}");
        json["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        let labels = r["metric"].as_object().cloned().unwrap_or_default();
                        let value = match r["value"][1].as_str() {
                            Some("NaN") => f64::NAN,
                            Some("+Inf") => f64::INFINITY,
                            Some("-Inf") => f64::NEG_INFINITY,
                            Some(v) => v.parse().unwrap_or(f64::NAN),
                            None => f64::NAN,
                        };
                        (labels, value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of `promql`, if there is exactly one series.
    fn value(&self, promql: &str) -> Option<f64> {
        match self.query(promql).as_slice() {
            [(_, value)] => Some(*value),
            _ => None,
        }
    }

    /// Polls until `check` holds for `promql`'s single value; fails with the targets' state.
    fn wait_for(&self, promql: &str, what: &str, check: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let value = self.value(promql);
            if let Some(v) = value.filter(|v| check(*v)) {
                return v;
            }
            if Instant::now() > deadline {
                let targets = http_get(self.addr, "/api/v1/targets", None)
                    .map(|r| r.body)
                    .unwrap_or_default();
                panic!(
                    "after {DEADLINE:?}, `{promql}` is {value:?}, expected {what}\n\
                     targets: {targets}\nall results: {:?}\nlog:\n{}",
                    self.query(promql),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn job(name: &str, target: SocketAddr, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    metrics_path: /metrics\n{extra}    static_configs:\n      - targets: ['{target}']\n"
    )
}

fn count_work(prometheus: &Prometheus, job: &str, expected: f64) {
    prometheus.wait_for(
        &format!(
            "http_server_requests_total{{job=\"{job}\",method=\"GET\",route=\"/work\",status=\"200\",mp_scope=\"vendor\"}}"
        ),
        &format!("{expected}"),
        |v| v == expected,
    );
}

#[test]
fn real_prometheus_scrapes_the_axum_service() {
    let version = prometheus_version();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    microprofile_base::init();

    let open = serve(&runtime, app(Auth::None));
    let protected = serve(&runtime, app(Auth::bearer(TOKEN)));
    let over_tls = {
        let tls = TlsConfig::from_pem_files(tls_fixture("cert.pem"), tls_fixture("key.pem"))
            .expect("the test certificate in tests/tls");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        runtime.spawn(microprofile::serve::serve_tls(
            listener,
            app(Auth::bearer(TOKEN)),
            tls,
        ));
        addr
    };
    // The built-in listener, over TLS with basic auth.
    let listener = microprofile::Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .auth(Auth::basic("prometheus", TOKEN))
        .tls(
            TlsConfig::from_pem_files(tls_fixture("cert.pem"), tls_fixture("key.pem"))
                .expect("the test certificate in tests/tls"),
        )
        .start()
        .expect("start the built-in listener");
    let supports_scrape_protocols = version >= (2, 49);
    let (text_target, text_extra, om_extra) = if supports_scrape_protocols {
        (
            open,
            "    scrape_protocols: [PrometheusText0.0.4]\n",
            "    scrape_protocols: [OpenMetricsText1.0.0]\n",
        )
    } else {
        let forced_text = app(Auth::None).layer(tower::util::MapRequestLayer::new(
            |mut request: Request<axum::body::Body>| {
                request
                    .headers_mut()
                    .insert(ACCEPT, HeaderValue::from_static("text/plain;version=0.0.4"));
                request
            },
        ));
        (serve(&runtime, forced_text), "", "")
    };

    // What each job is served when it sends Prometheus' own Accept header.
    const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let served = |addr| {
        http_get(addr, "/metrics", Some(PROMETHEUS_ACCEPT))
            .expect("GET /metrics")
            .header("content-type")
            .unwrap_or_default()
            .to_owned()
    };
    assert!(served(open).starts_with("application/openmetrics-text"));
    if !supports_scrape_protocols {
        assert!(served(text_target).starts_with("text/plain; version=0.0.4"));
    }

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{}{}{}{}{}{}",
        job("om", open, om_extra),
        job("text", text_target, text_extra),
        job(
            "auth_ok",
            protected,
            &format!("    authorization:\n      type: Bearer\n      credentials: {TOKEN}\n")
        ),
        job("auth_missing", protected, ""),
        job(
            "tls",
            over_tls,
            &format!(
                "    scheme: https\n    tls_config:\n      ca_file: {}\n    authorization:\n      credentials: {TOKEN}\n",
                tls_fixture("ca.pem").display()
            )
        ),
        job(
            "listener",
            listener.local_addr(),
            &format!(
                "    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: prometheus\n      password: {TOKEN}\n",
                tls_fixture("ca.pem").display()
            )
        ),
    );
    let prometheus = Prometheus::start(&config);

    // Every target is up, except the one scraped without credentials.
    for name in ["om", "text", "auth_ok", "tls", "listener"] {
        prometheus.wait_for(&format!("up{{job=\"{name}\"}}"), "1 (up)", |v| v == 1.0);
    }
    prometheus.wait_for("up{job=\"auth_missing\"}", "0 (down: 401)", |v| v == 0.0);
    let targets = http_get(prometheus.addr, "/api/v1/targets", None)
        .expect("targets")
        .body;
    assert!(targets.contains("401"), "{targets}");

    // Counter increments made here show up with their values, in both formats.
    E2E_ORDERS.inc_by(7);
    for name in ["om", "text", "auth_ok", "tls", "listener"] {
        prometheus.wait_for(
            &format!("e2e_orders_total{{job=\"{name}\",mp_scope=\"application\"}}"),
            "7",
            |v| v == 7.0,
        );
    }
    E2E_ORDERS.inc_by(5);
    for name in ["om", "text"] {
        prometheus.wait_for(
            &format!("e2e_orders_total{{job=\"{name}\",mp_scope=\"application\"}}"),
            "12",
            |v| v == 12.0,
        );
    }

    // Requests through the layer are counted under their route template.
    for _ in 0..10 {
        let r = http_get(open, "/work", None).expect("GET /work");
        assert_eq!(r.status, 200);
    }
    for name in ["om", "text"] {
        count_work(&prometheus, name, 10.0);
    }
    assert!(prometheus
        .query("http_server_requests_total{route!~\"unmatched|/work|/metrics.*\"}")
        .is_empty());

    // histogram_quantile over the latency histogram is a finite number of seconds.
    for name in ["om", "text"] {
        let q = prometheus.wait_for(
            &format!(
                "histogram_quantile(0.9, sum by (le) (http_server_request_duration_seconds_bucket{{job=\"{name}\",route=\"/work\"}}))"
            ),
            "a finite quantile",
            f64::is_finite,
        );
        assert!(q >= 0.0, "{q}");
    }
    prometheus.wait_for(
        "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job=\"om\"}[1m])))",
        "a finite quantile over a rate",
        f64::is_finite,
    );

    // Base, vendor and application series are all stored, with their scope.
    for name in ["om", "text", "auth_ok", "tls", "listener"] {
        let scopes: Vec<String> = {
            let deadline = Instant::now() + DEADLINE;
            loop {
                let mut scopes: Vec<String> = prometheus
                    .query(&format!(
                        "count by (mp_scope) ({{job=\"{name}\",mp_scope!=\"\"}})"
                    ))
                    .into_iter()
                    .filter_map(|(labels, _)| {
                        labels
                            .get("mp_scope")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect();
                scopes.sort();
                if scopes.len() >= 3 || Instant::now() > deadline {
                    break scopes;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        };
        assert_eq!(scopes, ["application", "base", "vendor"], "job {name}");
        for (series, scope) in [
            ("memory_total_bytes", "base"),
            ("process_resident_memory_bytes", "vendor"),
            ("http_server_active_requests", "vendor"),
        ] {
            let found =
                prometheus.query(&format!("{series}{{job=\"{name}\",mp_scope=\"{scope}\"}}"));
            assert_eq!(found.len(), 1, "{series} in job {name}: {found:?}");
        }
    }

    // Prometheus asks for gzip, and its scrapes (far above the threshold) were sent gzipped:
    // every value checked above came through gzip.
    let seen = SCRAPE_ENCODINGS
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    assert!(seen.len() >= 5, "{seen:?}");
    for (accept_encoding, content_encoding) in &seen {
        assert!(accept_encoding.contains("gzip"), "{seen:?}");
        assert_eq!(content_encoding, "gzip", "{seen:?}");
    }

    // Nothing of the protected target was stored from the scrape without credentials.
    assert!(prometheus
        .query("{job=\"auth_missing\",__name__!~\"up|scrape_.*\"}")
        .is_empty());

    drop(prometheus);
    listener.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(5));
}

#[test]
fn url_encoding() {
    assert_eq!(url_encode("up{job=\"a b\"}"), "up%7Bjob%3D%22a%20b%22%7D");
}
