//! A real `redis-server` on a free loopback port, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../process_support/mod.rs"]
mod process_support;
#[allow(unused_imports)]
pub use process_support::*;

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

/// The number of transactions this Redis has run, `EXEC`s and `EVAL`s (`INFO commandstats`).
pub fn transaction_calls(port: u16) -> u64 {
    // A transfer is one run of the store's batch script (`EVAL`); `EXEC` counts the
    // transactions of other writers (and of the store before it used the script).
    let info = command_on(port, &["INFO", "commandstats"]).unwrap_or_default();
    let calls = |command: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    calls("exec") + calls("eval")
}
