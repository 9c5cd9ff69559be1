//! Helpers shared by the integration tests: the real `promtool` and the Python reference parsers.
//!
//! Missing tools make the tests fail with a message saying what to install (`scripts/test`
//! installs them); they never skip silently. The Python parsers run under the interpreter named
//! by `MICROPROFILE_PYTHON` ([`python`]), which `scripts/test` sets to one that imports both.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs `program args` with `input` on stdin; returns (exit success, stdout, stderr).
fn run_with_stdin(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}); install it (Debian packages `prometheus`, `python3-prometheus-client`) or run scripts/test")
        });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("wait for child");
    writer.join().expect("writer thread").expect("write stdin");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `promtool check metrics` on a Prometheus text exposition: `Ok` only with zero errors and zero
/// lint findings.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let (ok, stdout, stderr) = run_with_stdin("promtool", &["check", "metrics"], text);
    if ok && stdout.trim().is_empty() && stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool check metrics failed:\n{stdout}{stderr}"))
    }
}

/// A small valid OpenMetrics exposition that a Prometheus text reader cannot take for valid: in
/// OpenMetrics a counter's family is named without `_total` (`# TYPE io_bytes counter`) while
/// its sample is `io_bytes_total`, which a text 0.0.4 reader sees as a sample of no described
/// family.
const OPENMETRICS_PROBE: &str =
    "# HELP io_bytes Bytes read.\n# TYPE io_bytes counter\n# UNIT io_bytes bytes\nio_bytes_total 1\n# EOF\n";

/// Whether this `promtool check metrics` reads OpenMetrics, found by feeding it
/// `OPENMETRICS_PROBE`. promtool (2.42 here) parses its input as Prometheus text 0.0.4
/// only: `# UNIT` and `# EOF` are read as comments,
/// and the OpenMetrics counter above is reported as `io_bytes_total no help text`. So on such a
/// promtool, OpenMetrics is checked by the strict Python parser alone.
pub fn promtool_reads_openmetrics() -> bool {
    static READS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READS.get_or_init(|| promtool_check(OPENMETRICS_PROBE).is_ok())
}

/// `promtool check metrics` on an OpenMetrics exposition, where this promtool can read
/// OpenMetrics ([`promtool_reads_openmetrics`]): `Ok(true)` when checked clean, `Ok(false)` when
/// this promtool cannot read the format (nothing was checked), `Err` with its findings.
pub fn promtool_check_openmetrics(text: &str) -> Result<bool, String> {
    if !promtool_reads_openmetrics() {
        return Ok(false);
    }
    promtool_check(text).map(|()| true)
}

/// One sample as the Python parser saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name (with `_total`, `_bucket`, … suffixes).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value; NaN and infinities as f64.
    pub value: f64,
}

/// One family as the Python parser saw it.
#[derive(Debug, Clone)]
pub struct ParsedFamily {
    /// Family name.
    pub name: String,
    /// `counter`, `gauge`, `histogram`, `summary`, …
    pub kind: String,
    /// HELP text, unescaped.
    pub help: String,
    /// UNIT (OpenMetrics only).
    pub unit: String,
    /// Samples.
    pub samples: Vec<Sample>,
}

/// Which reference parser.
#[derive(Debug, Clone, Copy)]
pub enum Parser {
    /// `prometheus_client.parser` (text format 0.0.4).
    Prometheus,
    /// `prometheus_client.openmetrics.parser` (strict OpenMetrics 1.0).
    OpenMetrics,
}

/// The environment variable naming the Python interpreter the reference parsers run under.
pub const PYTHON_ENV: &str = "MICROPROFILE_PYTHON";

/// The Python interpreter for the reference parsers: `$MICROPROFILE_PYTHON`, else `python3` on
/// `PATH`. `scripts/test` sets the variable to an interpreter that imports both parsers (the
/// system Python with the Debian package `python3-prometheus-client`, or a virtual environment
/// under `target/`), so the tests never depend on which `python3` comes first on `PATH`.
pub fn python() -> String {
    std::env::var(PYTHON_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/parse_exposition.py")
}

/// Parses `text` with the Python reference parser; `Err` carries the parser's message.
pub fn python_parse(parser: Parser, text: &str) -> Result<Vec<ParsedFamily>, String> {
    let which = match parser {
        Parser::Prometheus => "prometheus",
        Parser::OpenMetrics => "openmetrics",
    };
    let script = script();
    let script = script.to_str().expect("utf-8 path");
    let python = python();
    let (ok, stdout, stderr) = run_with_stdin(&python, &[script, which], text);
    if stderr.contains("No module named") {
        panic!(
            "`{python}` cannot import prometheus_client's parsers: run scripts/test (it installs them), \
             install the Debian package python3-prometheus-client, or set {PYTHON_ENV} to a Python \
             that has prometheus_client\n{stderr}"
        );
    }
    if !ok {
        return Err(format!(
            "{which} parser rejected the exposition: {stderr}\n---\n{text}"
        ));
    }
    let json: serde_json::Value = serde_json::from_str(&stdout).map_err(|e| e.to_string())?;
    let families = json.as_array().ok_or("not a list")?;
    Ok(families
        .iter()
        .map(|f| ParsedFamily {
            name: f["name"].as_str().unwrap_or_default().to_owned(),
            kind: f["type"].as_str().unwrap_or_default().to_owned(),
            help: f["help"].as_str().unwrap_or_default().to_owned(),
            unit: f["unit"].as_str().unwrap_or_default().to_owned(),
            samples: f["samples"]
                .as_array()
                .map(|s| s.iter().map(sample).collect())
                .unwrap_or_default(),
        })
        .collect())
}

fn sample(s: &serde_json::Value) -> Sample {
    let value = match &s["value"] {
        serde_json::Value::String(text) => match text.as_str() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => panic!("unexpected value {other}"),
        },
        other => other.as_f64().expect("numeric sample value"),
    };
    Sample {
        name: s["name"].as_str().unwrap_or_default().to_owned(),
        labels: s["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        value,
    }
}

/// All samples of all families, flattened.
pub fn samples(families: &[ParsedFamily]) -> Vec<Sample> {
    families.iter().flat_map(|f| f.samples.clone()).collect()
}

/// The value of the one line of `text` starting with `series ` (name and labels as exposed, in
/// Prometheus text); panics if it appears more than once or its value does not parse.
pub fn exposed_value(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    let found: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|e| panic!("{series}: value {v:?}: {e}"))
        })
        .collect();
    assert!(found.len() <= 1, "{series} appears more than once:\n{text}");
    found.first().copied()
}

/// The value of the one sample with this name and exactly these labels.
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
        .collect();
    match found.as_slice() {
        [v] => Some(*v),
        [] => None,
        more => panic!("{} samples named {name} with {labels:?}", more.len()),
    }
}

/// `promtool check metrics` on `text`, accepting a clean run, or its lint status 3 when every
/// finding contains one of `allowed` (names the spec's or TCK's own examples use, which
/// promtool's naming lint flags: `alpha.histogram`, `timerMe`). A parse error is status 1, never
/// accepted.
pub fn promtool_check_allowing(text: &str, allowed: &[&str]) -> Result<(), String> {
    let (status, report) = promtool_report(text)?;
    let only_allowed = report
        .lines()
        .all(|l| allowed.iter().any(|a| l.contains(a)));
    if status == Some(0) || (status == Some(3) && only_allowed) {
        Ok(())
    } else {
        Err(format!("promtool: exit {status:?}\n{report}"))
    }
}

/// `promtool check metrics` on `text`: its exit status (0 clean, 1 a parse error, 3 lint
/// findings) and what it printed, for tests that judge the findings themselves.
pub fn promtool_report(text: &str) -> Result<(Option<i32>, String), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("run promtool (Debian package `prometheus`): {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("promtool stdin: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("promtool: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.code(), report))
}

/// Checks an exposition with promtool and both Python parsers; returns the samples each parser
/// read: (prometheus, openmetrics). promtool checks the Prometheus text, and the OpenMetrics text
/// too where it can read that format ([`promtool_check_openmetrics`]; promtool 2.42 cannot).
pub fn check_both_formats(
    prometheus_text: &str,
    openmetrics_text: &str,
) -> (Vec<Sample>, Vec<Sample>) {
    if let Err(e) = promtool_check(prometheus_text) {
        panic!("{e}\n---\n{prometheus_text}");
    }
    if let Err(e) = promtool_check_openmetrics(openmetrics_text) {
        panic!("{e}\n---\n{openmetrics_text}");
    }
    let prom = python_parse(Parser::Prometheus, prometheus_text).unwrap_or_else(|e| panic!("{e}"));
    let om = python_parse(Parser::OpenMetrics, openmetrics_text).unwrap_or_else(|e| panic!("{e}"));
    (samples(&prom), samples(&om))
}

/// A response read by [`http_get`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines as `(lower-case name, value)`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET over loopback with `Connection: close`, optionally with an `Accept`
/// header; 10 s timeouts.
pub fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<HttpResponse> {
    http_request(addr, "GET", path, accept)
}

/// [`http_get`] with any method (`HEAD`, `OPTIONS`, …); a chunked body is de-chunked.
pub fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<HttpResponse> {
    use std::io::Read;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(10))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let body = if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Raw-socket helpers for the listener abuse tests: bytes in, bytes out, no HTTP client.
pub mod raw {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpStream};
    use std::time::Duration;

    /// How long a raw read or write may wait before the test fails.
    pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

    /// A connection with read and write timeouts of [`IO_TIMEOUT`].
    pub fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).expect("connect over loopback");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("write timeout");
        stream
    }

    /// Reads until the server closes; a reset after a refused request counts as the end.
    pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return data,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("the server neither answered nor closed within {IO_TIMEOUT:?}")
                }
                Err(_) => return data,
            }
        }
    }

    /// Sends a complete request (with `Connection: close`) and reads the whole reply, without
    /// closing the write side first: hyper drops a connection whose client half-closes it while a
    /// handler is still running, which would make a valid request fail at random.
    pub fn send_complete(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
        let mut stream = connect(addr);
        stream.write_all(request).expect("write the request");
        read_all(&mut stream)
    }

    /// Sends raw bytes (a malformed or oversized request) on a new connection, closes the write
    /// side, and reads the whole reply.
    pub fn send(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
        let mut stream = connect(addr);
        // The server may answer and close before all of an oversized request is written.
        let _ = stream.write_all(request);
        let _ = stream.shutdown(Shutdown::Write);
        read_all(&mut stream)
    }

    /// The abuse both transports (the built-in listener and the axum `serve`, one connection
    /// path) are tested with, so that the two suites send the same bytes.
    pub mod abuse {
        /// 20 pseudo-random byte strings of 1 to 4096 bytes, every other one ending like a
        /// request head (`\r\n\r\n`): a fixed sequence, the same every run.
        pub fn garbage() -> Vec<Vec<u8>> {
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            (0..20)
                .map(|round| {
                    let len = 1 + (next() % 4096) as usize;
                    let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                    if round % 2 == 0 {
                        bytes.extend_from_slice(b"\r\n\r\n");
                    }
                    bytes
                })
                .collect()
        }

        /// Malformed request heads: no request line, a bad version, a header without a colon, a
        /// negative length, a broken chunk, a TLS hello, HTTP/2's preface, bytes that are not
        /// UTF-8 in the path and in `Accept`.
        pub const MALFORMED: [&[u8]; 10] = [
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET /metrics/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: \xff\xfe;q=\x80\r\nConnection: close\r\n\r\n",
        ];

        /// `GET <path><1 MiB of 'a'> HTTP/1.1`: a request line far over the head limit.
        pub fn huge_request_line(path: &str) -> Vec<u8> {
            let mut request = format!("GET {path}").into_bytes();
            request.extend(std::iter::repeat_n(b'a', 1 << 20));
            request.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
            request
        }

        /// A request for `path` with `count` headers `X-Header-<i>: <i>`.
        pub fn many_headers(path: &str, count: usize) -> Vec<u8> {
            let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n").into_bytes();
            for i in 0..count {
                request.extend_from_slice(format!("X-Header-{i}: {i}\r\n").as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            request
        }

        /// `GET /metrics` with 150 short headers (within the default byte limit, over the
        /// default count of 100) and `Connection: close`.
        pub fn over_the_header_count() -> Vec<u8> {
            let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
            for i in 0..150 {
                request.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
            }
            request.extend_from_slice(b"Connection: close\r\n\r\n");
            request
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `promtool check metrics` checks, as the README says: Prometheus text always; an
    /// OpenMetrics exposition only if this promtool reads that format. The probe is valid
    /// OpenMetrics (the strict Python parser takes it), so promtool's verdict on it is about the
    /// format it reads, not about the text.
    #[test]
    fn promtool_checks_prometheus_text_and_openmetrics_only_where_it_can() {
        promtool_check("# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total 1\n")
            .unwrap();
        python_parse(Parser::OpenMetrics, OPENMETRICS_PROBE).unwrap();
        let reads = promtool_reads_openmetrics();
        assert_eq!(reads, promtool_check(OPENMETRICS_PROBE).is_ok());
        if !reads {
            let findings = promtool_check(OPENMETRICS_PROBE).unwrap_err();
            assert!(findings.contains("io_bytes_total"), "{findings}");
            assert_eq!(promtool_check_openmetrics(OPENMETRICS_PROBE), Ok(false));
        } else {
            assert_eq!(promtool_check_openmetrics(OPENMETRICS_PROBE), Ok(true));
        }
    }
}
