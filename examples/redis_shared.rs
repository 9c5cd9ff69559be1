//! Several worker processes whose functions carry the attributes (`#[counted]`, `#[timed]`,
//! `#[concurrent_gauge]`, and a registered `Summary`) share their metrics through one namespace
//! of a Redis shared store: each attaches the global registry to the store, with no store handle
//! in the code; the exposition of the namespace shows their sums.
//!
//! ```text
//! redis-server --port 6379 &
//! MICROPROFILE_REDIS_URL=redis://127.0.0.1:6379 MICROPROFILE_NAMESPACE=shop \
//!     cargo run -p microprofile-examples --example redis_shared
//! # then, to keep serving it: add --serve (built-in listener on 127.0.0.1:9981), or run
//! microprofile-exporter --redis redis://127.0.0.1:6379 --namespace shop --listen 127.0.0.1:9981
//! ```
//!
//! Environment: `MICROPROFILE_REDIS_URL` (default `redis://127.0.0.1:6379`),
//! `MICROPROFILE_NAMESPACE` (default `redis_shared_example`).

use std::process::{Command, ExitCode};
use std::time::Duration;

use microprofile::redis::{GaugePolicy, RedisExposition, SharedStore, StoreConfig};
use microprofile::{concurrent_gauge, counted, timed, Format, Metadata, Scope, Selection, Summary};

const WORKERS: usize = 3;
const JOBS_PER_WORKER: u64 = 1_000;

/// Payload sizes of the jobs.
static PAYLOAD: Summary = Summary::new();
microprofile::register!(
    PAYLOAD,
    Metadata::new("job_payload_bytes").description("Payload sizes of the jobs.")
);

/// Jobs processed by all workers.
#[counted(name = "jobs_processed")]
#[timed(name = "job_duration", buckets = [0.001, 0.01, 0.1])]
fn process(job: u64) {
    // The work itself: its duration and payload are recorded like any metric of the program.
    std::hint::black_box(job.wrapping_mul(0x9e37_79b9));
    PAYLOAD.observe(100.0 + (job * 37 % 900) as f64);
}

/// Workers running a batch now, summed over the processes.
#[concurrent_gauge(name = "workers_busy")]
fn run_batch(store: &SharedStore) {
    for job in 0..JOBS_PER_WORKER {
        process(job);
        // The end of a unit of work: one round trip for everything since the last.
        if job % 100 == 99 {
            if let Err(e) = store.transfer() {
                eprintln!("kept for later: {e}");
            }
        }
    }
}

/// One worker process: its metrics are declared by the attributes above, in the global
/// registry, and reach Redis because the registry is attached to the store; no store handle.
fn worker(id: usize) -> Result<(), Box<dyn std::error::Error>> {
    let store = SharedStore::new(StoreConfig::from_env())?;
    // By kind: the concurrent gauge (jobs in flight) adds up across the workers.
    store.attach_global(Scope::Application, GaugePolicy::ByKind);
    // The end of the job: whatever is left goes when the guard drops (also on panic).
    let transfer = store.job();
    run_batch(&store);
    match transfer.finish() {
        Ok(_) if store.pending_fields() == 0 => Ok(()),
        _ => {
            // Redis was away at the end: a few more tries, bounded.
            for _ in 0..50 {
                std::thread::sleep(Duration::from_millis(100));
                if store.transfer().is_ok() && store.pending_fields() == 0 {
                    return Ok(());
                }
            }
            Err(format!("worker {id}: Redis stayed unreachable; the last deltas are lost").into())
        }
    }
}

fn processed_total(exposition: &RedisExposition, namespace: &str) -> f64 {
    exposition
        .read(namespace)
        .ok()
        .and_then(|data| data.families.get("jobs_processed_total").cloned())
        .map_or(0.0, |family| {
            family.series.values().filter_map(|s| s.value).sum::<f64>()
        })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        let id = args.get(1).and_then(|i| i.parse().ok()).unwrap_or(0);
        return match worker(id) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker {id}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = StoreConfig::from_env();
    let (url, namespace) = (config.url().to_owned(), config.namespace().to_owned());
    let exposition = match RedisExposition::new(&url, &[namespace.as_str()]) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = exposition.read(&namespace) {
        eprintln!("cannot read namespace {namespace:?}: {e}\nstart a redis-server or set MICROPROFILE_REDIS_URL");
        return ExitCode::FAILURE;
    }
    let before = processed_total(&exposition, &namespace);
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("cannot find this program to start the workers");
        return ExitCode::FAILURE;
    };
    let children: Vec<_> = (0..WORKERS)
        .filter_map(|id| {
            Command::new(&exe)
                .args(["worker", &id.to_string()])
                .spawn()
                .ok()
        })
        .collect();
    let started = children.len();
    let ok = children
        .into_iter()
        .filter_map(|mut c| c.wait().ok())
        .filter(|s| s.success())
        .count();
    let after = processed_total(&exposition, &namespace);
    println!(
        "{ok} of {started} workers finished; jobs_processed_total in {namespace:?}: {before} -> {after} (+{}, expected +{})\n",
        after - before,
        ok as u64 * JOBS_PER_WORKER
    );
    match exposition.render(Format::Prometheus, Selection::All) {
        Ok(text) => print!("{text}"),
        Err(e) => eprintln!("{e}"),
    }
    if args.iter().any(|a| a == "--serve") {
        let live = exposition.attach(
            microprofile::global(),
            Duration::from_millis(250),
            Duration::from_secs(5),
        );
        match microprofile::Server::start() {
            Ok(server) => {
                println!(
                    "\nserving {} series of {namespace:?} on http://{}/metrics (Ctrl-C to stop)",
                    live.series(),
                    server.local_addr()
                );
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if ok == started && started == WORKERS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
