//! Process-level helpers for the tests of background threads: a server that never answers,
//! counting this process' threads by name, running one test alone in a child process, and a
//! runtime-free `block_on`. Shared by the Redis and Pushgateway tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP server on a free loopback port that accepts connections and never answers (nor
/// closes them): the worst case for a client, which can only give up on its timeouts.
pub struct BlackHole {
    pub port: u16,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        BlackHole { port }
    }
}

/// How many threads of this process have this name (as the kernel shows it, at most 15 bytes).
pub fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|comm| comm.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits (at most 5 s) until no thread of this process has this name.
pub fn assert_threads_end(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads_named(name) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} thread(s) named {name:?} still running",
            threads_named(name)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a future to completion on this thread, with no runtime: the waker unparks the thread.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Runs the test `name` of this test binary alone in a child process (so that its thread and
/// counter checks see no other test), with `env` set; panics if it fails.
pub fn run_isolated(name: &str, env: &str) {
    let exe = std::env::current_exe().expect("current exe");
    let status = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .stdout(Stdio::null())
        .status()
        .expect("spawn the isolated test");
    assert!(status.success(), "isolated test {name} failed: {status}");
}
