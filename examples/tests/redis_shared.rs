//! The multi-process demo, for real: a `redis-server` on a free loopback port, the compiled
//! `redis_shared` example starting its three worker processes (metrics declared with the
//! attributes, the global registry attached to the store), and the exposed sums equal to the work
//! the workers did.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microprofile_tests::{exposed_value, free_port, promtool_check};

fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("redis_shared");
    assert!(
        path.exists(),
        "{} not built; run `cargo test --workspace` (it builds the examples)",
        path.display()
    );
    path
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(port: u16) -> Redis {
    let dir = std::env::temp_dir().join(format!("microprofile-demo-redis-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/test installs it)");
    let redis = Redis(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut reply = [0u8; 7];
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return redis;
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn three_workers_declared_with_the_attributes_add_up_in_redis() {
    let port = free_port();
    let _redis = start_redis(port);
    let output = Command::new(example_binary())
        .env(
            "MICROPROFILE_REDIS_URL",
            format!("redis://127.0.0.1:{port}"),
        )
        .env("MICROPROFILE_NAMESPACE", "demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with(
            "3 of 3 workers finished; jobs_processed_total in \"demo\": 0 -> 3000 (+3000, expected +3000)"
        ),
        "{stdout}"
    );
    // The exposition the demo printed: the sums of the three processes' work.
    let text = &stdout[stdout.find('#').unwrap()..];
    for (series, expected) in [
        ("jobs_processed_total{mp_scope=\"application\"}", 3000.0),
        (
            "job_duration_seconds_count{mp_scope=\"application\"}",
            3000.0,
        ),
        ("job_payload_bytes_count{mp_scope=\"application\"}", 3000.0),
        // Each worker's jobs have payloads 100 + (37 j mod 900): the sum over three workers.
        (
            "job_payload_bytes_sum{mp_scope=\"application\"}",
            3.0 * (0..1000u64)
                .map(|j| 100.0 + (j * 37 % 900) as f64)
                .sum::<f64>(),
        ),
        // In a batch and out again, in every process: the sum over the processes is back to 0.
        ("workers_busy{mp_scope=\"application\"}", 0.0),
    ] {
        assert_eq!(
            exposed_value(text, series),
            Some(expected),
            "{series} in\n{text}"
        );
    }
    assert!(
        text.contains("# HELP jobs_processed_total Jobs processed by all workers.\n"),
        "{text}"
    );
    promtool_check(text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}
