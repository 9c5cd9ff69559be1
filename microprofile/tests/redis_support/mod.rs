//! A real `redis-server` on a free loopback port, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

fn binary(env: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "{} not found: install the Debian package `{package}` (CI installs it) or set {env}",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    persistent: bool,
    extra: Vec<String>,
}

impl RedisServer {
    /// Without persistence.
    pub fn start() -> RedisServer {
        Self::launch(false, &[])
    }

    /// With more `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        Self::launch(false, extra)
    }

    /// With an append-only file fsynced on every write, so a SIGKILL loses no acknowledged write.
    pub fn start_persistent() -> RedisServer {
        Self::launch(true, &[])
    }

    fn launch(persistent: bool, extra: &[&str]) -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "microprofile-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir,
            persistent,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let bin = binary("REDIS_SERVER", REDIS_SERVER, "redis-server");
        let mut cmd = Command::new(bin);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--protected-mode")
            .arg("yes");
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.args(&self.extra);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("could not start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "redis-server exited at start ({status}); is port {} taken?",
                    self.port
                );
            }
            if let Ok(reply) = self.command(&["PING"]) {
                if reply.starts_with("+PONG") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer PING on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, then wait for the process to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends one command (RESP) and returns the raw reply's first line, or the bulk strings of an
    /// array joined by `\n` for array replies.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        command_on(self.port, args)
    }

    /// `HGETALL key` as pairs.
    pub fn hgetall(&self, key: &str) -> Vec<(String, String)> {
        let reply = self.command(&["HGETALL", key]).expect("HGETALL");
        let items: Vec<&str> = if reply.is_empty() {
            vec![]
        } else {
            reply.split('\n').collect()
        };
        items
            .chunks(2)
            .map(|c| (c[0].to_owned(), c.get(1).unwrap_or(&"").to_string()))
            .collect()
    }

    pub fn hget(&self, key: &str, field: &str) -> Option<String> {
        let reply = self.command(&["HGET", key, field]).expect("HGET");
        if reply == "<nil>" {
            None
        } else {
            Some(reply)
        }
    }
}

pub fn command_on(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
    }
    stream.write_all(req.as_bytes())?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    Ok(line.trim_end_matches("\r\n").to_owned())
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<String> {
    let line = read_line(reader)?;
    match line.as_bytes().first() {
        Some(b'$') => {
            let len: i64 = line[1..].parse().unwrap_or(-1);
            if len < 0 {
                return Ok("<nil>".to_owned());
            }
            let mut buf = vec![0u8; len as usize + 2];
            std::io::Read::read_exact(reader, &mut buf)?;
            buf.truncate(len as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Some(b'*') => {
            let n: i64 = line[1..].parse().unwrap_or(-1);
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                items.push(read_reply(reader)?);
            }
            Ok(items.join("\n"))
        }
        _ => Ok(line),
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `promtool check metrics` on `text`; returns its combined output on failure.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let bin = binary("PROMTOOL", "/usr/bin/promtool", "prometheus");
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && all.trim().is_empty() {
        Ok(())
    } else {
        Err(all)
    }
}

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

/// The number of `EXEC` commands this Redis has run (`INFO commandstats`).
pub fn exec_calls(port: u16) -> u64 {
    let info = command_on(port, &["INFO", "commandstats"]).unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_exec:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
