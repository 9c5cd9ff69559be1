//! The demo service: `cargo run --example quickstart`, then open the printed URL.
//!
//! It serves `/metrics` (and `/metrics/base`, `/metrics/vendor`, `/metrics/application`) on
//! `127.0.0.1:9981`, or on `MICROPROFILE_ADDR`, drives simulated traffic from a background thread,
//! and exits cleanly on Ctrl-C.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use microprofile::Server;
use microprofile_examples::demo;

fn main() -> ExitCode {
    // Host metrics (scope base) and process metrics (scope vendor).
    microprofile_base::init();
    let server = match Server::start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("quickstart: cannot start the metrics listener: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    if let Err(error) = ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed)) {
        eprintln!("quickstart: cannot install the Ctrl-C handler: {error}");
        return ExitCode::FAILURE;
    }
    let traffic = demo::spawn_traffic(stop.clone());
    println!(
        "microprofile quickstart: metrics at http://{}/metrics",
        server.local_addr()
    );
    println!("press Ctrl-C to stop");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let handled = traffic.join().unwrap_or(0);
    server.shutdown();
    println!("stopped after {handled} simulated requests");
    ExitCode::SUCCESS
}
