//! Shared helpers for the comparison benchmarks in `benches/`: the multi-threaded timing loop and
//! the label values every crate is given.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The first label's values (6).
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
/// The second label's values (3).
pub const STATUSES: [&str; 3] = ["2xx", "4xx", "5xx"];
/// Series in the labelled benchmarks: 6 × 3.
pub const SERIES: usize = METHODS.len() * STATUSES.len();

/// Runs `op(thread, i)` `iters` times on each of `threads` threads, all started together, and
/// returns the wall time from the common start to the last thread's end. Criterion divides it by
/// `iters`: the figure is the time one operation takes on each thread while the others do the
/// same (equal to the one-thread figure under perfect scaling, higher under contention).
pub fn run_threads<F>(threads: usize, iters: u64, op: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    if threads == 1 {
        let start = Instant::now();
        for i in 0..iters {
            op(0, i);
        }
        return start.elapsed();
    }
    let barrier = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            let op = &op;
            s.spawn(move || {
                barrier.wait();
                for i in 0..iters {
                    op(t, i);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    });
    elapsed
}
