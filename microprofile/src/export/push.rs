//! Pushing metrics to a Prometheus Pushgateway, for batch jobs whose process ends before any
//! scrape (feature `push`).
//!
//! The Pushgateway keeps one group of metrics per grouping key (`job` plus any labels, usually
//! `instance`). As its API defines:
//! - [`Pushgateway::push`] (`PUT`) replaces every metric of the group with the pushed ones;
//! - [`Pushgateway::push_add`] (`POST`) replaces only the metrics with the names pushed, and keeps
//!   the group's other metrics;
//! - [`Pushgateway::delete`] (`DELETE`) removes the group.
//!
//! The body is the Prometheus text format of the selected metrics, written by the same encoder
//! as the listener. The client is a small blocking HTTP/1.1 client over `std::net::TcpStream`
//! (plain `http://` only), with connect, read and write timeouts: a push never blocks longer
//! than them and never panics.
//!
//! # What is pushed
//!
//! A push sends one [`Selection`] of one [`Registry`], so a job pushes only what it means to:
//! - the scope its instrumented functions are declared in: `#[counted(scope = "nightly_backup")]`
//!   on them, then `Selection::Scope(&Scope::new("nightly_backup")?)` of the
//!   [`global()`](crate::global) registry (the attribute macros always register in the global
//!   registry; a custom scope is how a job's metrics are told apart from the rest of the binary);
//! - the application scope, `Selection::Scope(&Scope::Application)`: every instrumented
//!   function of the binary, without the base and vendor metrics;
//! - a [`Registry`] of its own with [`Selection::All`], for metrics made by hand.
//!
//! `Selection::All` of the global registry pushes everything: every instrumented function of
//! the binary and the library's vendor metrics.
//!
//! # Where to call what
//!
//! | where | call |
//! |---|---|
//! | end of a batch job, a thread that may block | [`Pushgateway::push`] / [`push_add`](Pushgateway::push_add) / [`delete`](Pushgateway::delete): blocking, for at most the timeouts; the error is returned |
//! | async code, a request handler, a loop that must not stall | [`BackgroundPusher::push`] (from [`Pushgateway::background`]): returns at once; one thread sends; failures are counted; dropping it, or [`BackgroundPusher::finish`] at the end of the job, sends what is queued |
//!
//! ```no_run
//! use microprofile::export::push::{GroupingKey, Pushgateway};
//! use microprofile::{Scope, Selection};
//!
//! #[microprofile::counted(scope = "nightly_backup")]
//! fn back_up_table(name: &str) { /* … */ }
//!
//! back_up_table("orders");
//! let gateway = Pushgateway::new("http://127.0.0.1:9091")?;
//! let key = GroupingKey::new("nightly_backup")?.instance("db-1")?;
//! let scope = Scope::new("nightly_backup").expect("a valid scope name");
//! gateway.push(microprofile::global(), Selection::Scope(&scope), &key)?;
//! # Ok::<(), microprofile::export::push::PushError>(())
//! ```

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;
use parking_lot::Mutex;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::metadata::{Metadata, Scope};
use crate::metric::counter::Counter;
use crate::naming::rules;
use crate::registry::{Handle, Registry, Selection};
use crate::Format;

/// What a push can fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway URL is not `http://host:port[/path]`.
    #[error("invalid Pushgateway URL {url:?}: {reason} (expected http://host:port or http://host:port/prefix)")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The job name is empty, or a grouping label name is invalid or repeated.
    #[error("invalid grouping key: {0}")]
    InvalidGroupingKey(String),
    /// The gateway could not be reached, or did not answer in time.
    #[error("Pushgateway at {addr} could not be reached: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway answered with an error status.
    #[error("Pushgateway answered {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The response body (the gateway says what it refused and why).
        body: String,
    },
    /// The answer was not HTTP.
    #[error("Pushgateway sent a malformed response: {0}")]
    BadResponse(String),
    /// A [`BackgroundPusher`] already holds [`MAX_QUEUED`] different pushes not yet sent (the
    /// gateway is slow or down); this one was not queued.
    #[error("{MAX_QUEUED} pushes are already waiting for the Pushgateway; this one was dropped")]
    QueueFull,
    /// Pushes of a [`BackgroundPusher`] failed (reported by [`BackgroundPusher::finish`]).
    #[error("{failures} background pushes failed; the last: {last}")]
    Background {
        /// How many failed.
        failures: u64,
        /// The message of the last failure.
        last: String,
    },
    /// The background thread could not be started.
    #[error("could not start the push thread: {0}")]
    Thread(String),
}

/// The grouping key of a push: the job and further labels (usually `instance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupingKey {
    job: String,
    labels: Vec<(String, String)>,
}

impl GroupingKey {
    /// A key with this job name (any non-empty string).
    pub fn new(job: impl Into<String>) -> Result<GroupingKey, PushError> {
        let job = job.into();
        if job.is_empty() {
            return Err(PushError::InvalidGroupingKey(
                "the job name is empty".to_owned(),
            ));
        }
        Ok(GroupingKey {
            job,
            labels: Vec::new(),
        })
    }

    /// Adds the `instance` label.
    pub fn instance(self, instance: impl Into<String>) -> Result<GroupingKey, PushError> {
        self.label("instance", instance)
    }

    /// Adds a grouping label (a valid label name other than `job`, given once).
    pub fn label(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<GroupingKey, PushError> {
        let name = name.into();
        let valid = rules::is_identifier(&name) && !name.starts_with(rules::RESERVED_TAG_PREFIX);
        if !valid || name == "job" || self.labels.iter().any(|(n, _)| *n == name) {
            return Err(PushError::InvalidGroupingKey(format!(
                "label {name:?} is not a valid label name, is `job`, or is given twice"
            )));
        }
        self.labels.push((name, value.into()));
        Ok(self)
    }

    /// The URL path below the gateway's prefix: `/metrics/job/<job>/<label>/<value>…`, values
    /// percent-encoded, or base64url-encoded (`<label>@base64/<value>`) when they hold a `/` or
    /// are empty.
    ///
    /// ```
    /// use microprofile::export::push::GroupingKey;
    /// let key = GroupingKey::new("backup").unwrap().instance("a/b").unwrap().label("zone", "eu 1").unwrap();
    /// assert_eq!(key.path(), "/metrics/job/backup/instance@base64/YS9i/zone/eu%201");
    /// ```
    pub fn path(&self) -> String {
        let mut path = String::from("/metrics");
        for (name, value) in std::iter::once(("job", self.job.as_str()))
            .chain(self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            path.push('/');
            path.push_str(name);
            if value.is_empty() || value.contains('/') {
                path.push_str("@base64/");
                path.push_str(&base64url(value.as_bytes()));
                if value.is_empty() {
                    path.push('=');
                }
            } else {
                path.push('/');
                percent_encode(&mut path, value);
            }
        }
        path
    }
}

/// What a path segment keeps as it is: RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`);
/// every other byte, UTF-8 included, becomes `%XX` (upper-case hex).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, PATH_SEGMENT));
}

/// Base64url (RFC 4648 §5) with its `=` padding, as the Pushgateway decodes `@base64` values.
fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// A Pushgateway to push to.
#[derive(Debug, Clone)]
pub struct Pushgateway {
    host: String,
    port: u16,
    prefix: String,
    timeout: Duration,
}

impl Pushgateway {
    /// The gateway at `http://host:port[/prefix]` (port 80 when not given), with 5 s timeouts.
    pub fn new(url: &str) -> Result<Pushgateway, PushError> {
        let invalid = |reason: &str| PushError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only http:// is supported"))?;
        let (authority, prefix) = match rest.find('/').and_then(|i| rest.split_at_checked(i)) {
            Some((authority, path)) => (authority, path.trim_end_matches('/')),
            None => (rest, ""),
        };
        let port_of = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| invalid("the port is not a number"))
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address lacks its `]`"))?;
            match after.strip_prefix(':') {
                Some(p) => (host, port_of(p)?),
                None if after.is_empty() => (host, 80),
                None => return Err(invalid("unexpected text after the IPv6 address")),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        Ok(Pushgateway {
            host: host.to_owned(),
            port,
            prefix: prefix.to_owned(),
            timeout: Duration::from_secs(5),
        })
    }

    /// The connect, read and write timeout (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Pushgateway {
        self.timeout = timeout;
        self
    }

    /// A [`BackgroundPusher`] for this gateway: pushes handed to it return at once and are
    /// sent by one thread of its own.
    pub fn background(&self) -> Result<BackgroundPusher, PushError> {
        BackgroundPusher::new(self.clone())
    }

    /// `PUT`: the group's metrics become exactly the selected ones.
    ///
    /// A blocking socket call (for at most the timeouts): call it at the end of a batch job or
    /// in a thread of its own. In async code, or wherever the caller must not block, use
    /// [`Pushgateway::background`] and [`BackgroundPusher::push`].
    ///
    /// The selection decides what is pushed: a [`Registry`] of the job's own metrics with
    /// [`Selection::All`], or one scope of the global registry, e.g. the custom scope the job's
    /// instrumented functions are declared in (`#[counted(scope = "nightly_backup")]`):
    /// `Selection::Scope(&Scope::new("nightly_backup")?)`. `Selection::All` on
    /// [`global()`](crate::global) pushes every instrumented function of the binary, and its
    /// base and vendor metrics.
    pub fn push(
        &self,
        registry: &Registry,
        selection: Selection<'_>,
        key: &GroupingKey,
    ) -> Result<(), PushError> {
        let body = registry.encode_to_string(Format::Prometheus, selection);
        self.request("PUT", key, &body)
    }

    /// `POST`: the selected metrics replace those of the same names in the group; the group's
    /// other metrics stay.
    pub fn push_add(
        &self,
        registry: &Registry,
        selection: Selection<'_>,
        key: &GroupingKey,
    ) -> Result<(), PushError> {
        let body = registry.encode_to_string(Format::Prometheus, selection);
        self.request("POST", key, &body)
    }

    /// `DELETE`: removes the group.
    pub fn delete(&self, key: &GroupingKey) -> Result<(), PushError> {
        self.request("DELETE", key, "")
    }

    fn addr(&self) -> Result<SocketAddr, PushError> {
        let io = |source| PushError::Io {
            addr: format!("{}:{}", self.host, self.port),
            source,
        };
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(io)?
            .next()
            .ok_or_else(|| {
                io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the host resolves to no address",
                ))
            })
    }

    /// Sends one request with a text body; `Ok` on a 2xx answer.
    pub fn request(&self, method: &str, key: &GroupingKey, body: &str) -> Result<(), PushError> {
        let addr = self.addr()?;
        let io = |source| PushError::Io {
            addr: addr.to_string(),
            source,
        };
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout).map_err(io)?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let host = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let head = format!(
            "{method} {}{} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: microprofile\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.prefix,
            key.path(),
            Format::Prometheus.content_type(),
            body.len()
        );
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body.as_bytes()).map_err(io)?;
        stream.flush().map_err(io)?;
        let mut response = Vec::new();
        stream
            .take(1 << 20)
            .read_to_end(&mut response)
            .map_err(io)?;
        let text = String::from_utf8_lossy(&response);
        let status_line = text.lines().next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| PushError::BadResponse(status_line.to_owned()))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let chunked = head.lines().any(|l| {
                l.to_ascii_lowercase()
                    .replace(' ', "")
                    .starts_with("transfer-encoding:chunked")
            });
            let body = if chunked {
                dechunk(body)
            } else {
                body.to_owned()
            };
            Err(PushError::Status {
                status,
                body: body.trim().to_owned(),
            })
        }
    }
}

/// The most different pushes a [`BackgroundPusher`] keeps waiting.
pub const MAX_QUEUED: usize = 64;

/// Pushes from a thread of its own, so that the caller never waits for the gateway: each call
/// encodes the selected metrics (no I/O) and queues them. Made by [`Pushgateway::background`].
///
/// Bounded: a push to the same group, with the same method and selection, as one still waiting
/// replaces that one's body (the gateway would get the newer values anyway); past
/// [`MAX_QUEUED`] different waiting pushes, a push is refused with [`PushError::QueueFull`].
/// Failures (unreachable gateway, timeouts, refusals) are counted in
/// `microprofile_push_failures_total` (scope vendor, registered in the global registry when the
/// first pusher is made), and the last one is kept for [`BackgroundPusher::last_error`]; a
/// failed push is not retried (the next push of the group carries newer values).
///
/// Dropping the pusher, or [`BackgroundPusher::finish`], sends what is queued and ends the
/// thread: this blocks while the queued pushes are sent; if the gateway turns out to be
/// unreachable (or silent past the timeouts), the push under way is the last one tried and the
/// rest are given up and counted as failed, so a dead gateway holds the program for one
/// request's timeouts, not one per waiting push. Do it where blocking is acceptable: at the
/// end of `main` or of a batch job, or in `spawn_blocking`.
///
/// ```no_run
/// use microprofile::export::push::{GroupingKey, Pushgateway};
/// use microprofile::{Registry, Metadata, Selection};
/// let pusher = Pushgateway::new("http://127.0.0.1:9091")?.background()?;
/// let key = GroupingKey::new("importer")?;
/// let registry = Registry::new();
/// let rows = registry.counter(Metadata::new("importer_rows")).unwrap();
/// for _batch in 0..3 {
///     rows.inc_by(1_000);
///     pusher.push(&registry, Selection::All, &key)?; // returns at once, even in async code
/// }
/// pusher.finish()?; // the last push is sent before the job exits
/// # Ok::<(), microprofile::export::push::PushError>(())
/// ```
pub struct BackgroundPusher {
    shared: Arc<PushShared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for BackgroundPusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundPusher")
            .field("gateway", &self.shared.gateway)
            .field("queued", &self.shared.queue.lock().len())
            .finish_non_exhaustive()
    }
}

struct PushShared {
    gateway: Pushgateway,
    queue: Mutex<VecDeque<PushJob>>,
    /// Set by [`BackgroundPusher::finish`] or drop: send what is queued, then end.
    closing: AtomicBool,
    failures: Handle<Counter>,
    /// The failures of this pusher (the vendor counter adds up every pusher's).
    own_failures: std::sync::atomic::AtomicU64,
    last_error: Mutex<Option<String>>,
}

struct PushJob {
    method: &'static str,
    key: GroupingKey,
    /// The selection as it was given, so that a newer push of the same one replaces it.
    selection: (Option<Scope>, Option<String>),
    body: String,
}

/// The vendor counter of failed background pushes, registered once in the global registry.
fn failures_counter() -> Handle<Counter> {
    static FAILURES: OnceLock<Handle<Counter>> = OnceLock::new();
    FAILURES
        .get_or_init(|| {
            crate::global()
                .counter(
                    Metadata::new("microprofile_push_failures")
                        .description(
                            "Pushes to a Pushgateway from a background pusher that failed.",
                        )
                        .scope(Scope::Vendor),
                )
                // The name is taken by another metric: count anyway, unexposed.
                .unwrap_or_else(|_| Handle::Shared(Arc::new(Counter::new())))
        })
        .clone()
}

impl BackgroundPusher {
    fn new(gateway: Pushgateway) -> Result<BackgroundPusher, PushError> {
        let shared = Arc::new(PushShared {
            gateway,
            queue: Mutex::new(VecDeque::new()),
            closing: AtomicBool::new(false),
            failures: failures_counter(),
            own_failures: std::sync::atomic::AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let thread_shared = shared.clone();
        let thread = thread::Builder::new()
            .name("mp-push".to_owned())
            .spawn(move || push_loop(&thread_shared))
            .map_err(|e| PushError::Thread(e.to_string()))?;
        Ok(BackgroundPusher {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues a `PUT` of the selected metrics ([`Pushgateway::push`]); returns at once.
    pub fn push(
        &self,
        registry: &Registry,
        selection: Selection<'_>,
        key: &GroupingKey,
    ) -> Result<(), PushError> {
        let body = registry.encode_to_string(Format::Prometheus, selection);
        self.enqueue("PUT", key, selection, body)
    }

    /// Queues a `POST` of the selected metrics ([`Pushgateway::push_add`]); returns at once.
    pub fn push_add(
        &self,
        registry: &Registry,
        selection: Selection<'_>,
        key: &GroupingKey,
    ) -> Result<(), PushError> {
        let body = registry.encode_to_string(Format::Prometheus, selection);
        self.enqueue("POST", key, selection, body)
    }

    /// Queues a `DELETE` of the group ([`Pushgateway::delete`]); returns at once.
    pub fn delete(&self, key: &GroupingKey) -> Result<(), PushError> {
        self.enqueue("DELETE", key, Selection::All, String::new())
    }

    fn enqueue(
        &self,
        method: &'static str,
        key: &GroupingKey,
        selection: Selection<'_>,
        body: String,
    ) -> Result<(), PushError> {
        let selection = match selection {
            Selection::All => (None, None),
            Selection::Scope(scope) => (Some(scope.clone()), None),
            Selection::Metric(scope, name) => (Some(scope.clone()), Some(name.to_owned())),
        };
        {
            let mut queue = self.shared.queue.lock();
            let full = queue.len() >= MAX_QUEUED;
            let same = queue
                .iter_mut()
                .find(|j| j.method == method && j.key == *key && j.selection == selection);
            match same {
                Some(job) => job.body = body,
                None if full => {
                    drop(queue);
                    self.shared.failed(&PushError::QueueFull);
                    return Err(PushError::QueueFull);
                }
                None => queue.push_back(PushJob {
                    method,
                    key: key.clone(),
                    selection,
                    body,
                }),
            }
        }
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
        Ok(())
    }

    /// Pushes that failed so far, this pusher's (including those refused with
    /// [`PushError::QueueFull`]).
    pub fn failures(&self) -> u64 {
        self.shared.own_failures.load(Ordering::Relaxed)
    }

    /// The message of the last failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().clone()
    }

    /// Pushes queued and not yet sent (the one being sent is not counted).
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().len()
    }

    /// Sends what is queued, ends the thread and waits for it (see the type's documentation for
    /// how long); `Err` with the last failure if any push of this pusher failed since it was
    /// made.
    pub fn finish(mut self) -> Result<(), PushError> {
        self.shutdown();
        match (self.failures(), self.last_error()) {
            (0, _) | (_, None) => Ok(()),
            (failures, Some(last)) => Err(PushError::Background { failures, last }),
        }
    }

    fn shutdown(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundPusher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl PushShared {
    fn failed(&self, error: &PushError) {
        self.failures.inc();
        self.own_failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some(error.to_string());
    }
}

fn push_loop(shared: &PushShared) {
    loop {
        let job = shared.queue.lock().pop_front();
        match job {
            Some(job) => {
                if let Err(e) = shared.gateway.request(job.method, &job.key, &job.body) {
                    let unreachable = matches!(e, PushError::Io { .. });
                    shared.failed(&e);
                    if unreachable && shared.closing.load(Ordering::Acquire) {
                        // Closing with the gateway unreachable: give up the rest rather than
                        // hold the program for one timeout per waiting push.
                        let given_up = std::mem::take(&mut *shared.queue.lock());
                        for _ in given_up {
                            shared.failed(&e);
                        }
                    }
                }
            }
            None if shared.closing.load(Ordering::Acquire) => return,
            // Woken by a push or by closing (an unpark before this park is not lost).
            None => thread::park(),
        }
    }
}

/// Decodes a chunked body (best effort: it only serves error messages).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(rest.get(..size).unwrap_or_default());
        body = rest
            .get(size..)
            .unwrap_or_default()
            .trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[test]
    fn dechunks() {
        assert_eq!(
            super::dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(super::dechunk("zz\r\n"), "");
    }

    use super::*;

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg==");
        assert_eq!(base64url(b"fo"), "Zm8=");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"/a/b?"), "L2EvYj8=");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn grouping_paths() {
        let key = GroupingKey::new("j").unwrap();
        assert_eq!(key.path(), "/metrics/job/j");
        let key = GroupingKey::new("a b/c").unwrap().label("x", "").unwrap();
        assert_eq!(key.path(), "/metrics/job@base64/YSBiL2M=/x@base64/=");
        assert!(GroupingKey::new("").is_err());
        assert!(GroupingKey::new("j").unwrap().label("job", "x").is_err());
        assert!(GroupingKey::new("j").unwrap().label("a-b", "x").is_err());
        assert!(GroupingKey::new("j")
            .unwrap()
            .instance("1")
            .unwrap()
            .instance("2")
            .is_err());
    }

    #[test]
    fn urls() {
        let g = Pushgateway::new("http://127.0.0.1:9091").unwrap();
        assert_eq!(
            (g.host.as_str(), g.port, g.prefix.as_str()),
            ("127.0.0.1", 9091, "")
        );
        let g = Pushgateway::new("http://gw/prefix/").unwrap();
        assert_eq!(
            (g.host.as_str(), g.port, g.prefix.as_str()),
            ("gw", 80, "/prefix")
        );
        let g = Pushgateway::new("http://[::1]:9091").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("::1", 9091));
        let g = Pushgateway::new("http://[::1]").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("::1", 80));
        assert!(Pushgateway::new("https://x").is_err());
        assert!(Pushgateway::new("http://:1").is_err());
        assert!(Pushgateway::new("http://x:port").is_err());
    }

    #[test]
    fn unreachable_gateway_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let g = Pushgateway::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .timeout(Duration::from_millis(200));
        let key = GroupingKey::new("j").unwrap();
        assert!(matches!(g.delete(&key), Err(PushError::Io { .. })));
    }
}
