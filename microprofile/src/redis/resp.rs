//! A minimal Redis client (RESP2 over `std::net::TcpStream`) whose every exchange has one
//! deadline: a pipeline of any length returns within its timeout, whatever the server does.
//! (A general client waits up to its read timeout once per pipelined reply, so a stalled server
//! would hold a transaction of N commands for N timeouts.)

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where to connect: parsed from `redis://[[username]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: i64,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

/// Decodes the URL's user name or password (RFC 3986 percent-encoding, through the
/// `percent-encoding` crate); a `%` without two hex digits after it is refused.
fn percent_decode(text: &str) -> Result<String, String> {
    super::codec::percent_decode(text).ok_or_else(|| format!("bad percent escape in {text:?}"))
}

impl Target {
    /// Parses a `redis://` URL.
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or("only redis:// URLs are supported")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, hostport) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (
                    Some(percent_decode(u)?).filter(|u| !u.is_empty()),
                    Some(percent_decode(p)?),
                ),
                None => (Some(percent_decode(c)?).filter(|u| !u.is_empty()), None),
            },
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (h, after) = bracketed
                .split_once(']')
                .ok_or("an IPv6 address lacks its `]`")?;
            match after.strip_prefix(':') {
                Some(p) => (h, p.parse().map_err(|_| "the port is not a number")?),
                None if after.is_empty() => (h, 6379),
                None => return Err("unexpected text after the IPv6 address".to_owned()),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| "the port is not a number")?),
                None => (hostport, 6379),
            }
        };
        if host.is_empty() {
            return Err("the host is empty".to_owned());
        }
        let path = path.split('?').next().unwrap_or_default();
        let db = if path.is_empty() {
            0
        } else {
            path.parse()
                .map_err(|_| format!("the database {path:?} is not a number"))?
        };
        Ok(Target {
            host: host.to_owned(),
            port,
            db,
            username,
            password,
        })
    }
}

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Encodes one command.
pub(crate) fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The socket, with every read and write bounded by the current deadline.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

/// `now + timeout`, capped at about 136 years for a timeout so huge that the sum would overflow
/// (`Instant + Duration` panics then).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

impl Deadlined {
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "Redis did not answer in time",
            ))
        } else {
            Ok(left)
        }
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The longest line or bulk string accepted (a reply larger than this is an error, not an
/// allocation).
const MAX_ITEM: usize = 512 << 20;
/// The most a bulk reply's buffer holds before its bytes arrive (it grows with them, up to
/// [`MAX_ITEM`]).
const INITIAL_BULK_CAPACITY: usize = 64 << 10;
const MAX_DEPTH: usize = 8;

/// A connection.
pub(crate) struct Connection {
    reader: BufReader<Deadlined>,
}

impl Connection {
    /// Connects within `connect_timeout`, then authenticates and selects the database within
    /// `io_timeout`.
    pub(crate) fn open(
        target: &Target,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> io::Result<Connection> {
        let deadline = deadline_after(connect_timeout);
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolves to no address");
        let mut stream = None;
        for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or(last)?;
        stream.set_nodelay(true)?;
        let mut connection = Connection {
            reader: BufReader::with_capacity(
                64 * 1024,
                Deadlined {
                    stream,
                    deadline: deadline_after(io_timeout),
                },
            ),
        };
        let mut setup = Vec::new();
        let mut replies = 0;
        if let Some(password) = &target.password {
            match &target.username {
                Some(user) => encode(&mut setup, &[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => encode(&mut setup, &[b"AUTH", password.as_bytes()]),
            }
            replies += 1;
        }
        if target.db != 0 {
            encode(
                &mut setup,
                &[b"SELECT", itoa::Buffer::new().format(target.db).as_bytes()],
            );
            replies += 1;
        }
        if replies > 0 {
            for reply in connection.exchange(&setup, replies, io_timeout)? {
                if let Reply::Error(e) = reply {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, e));
                }
            }
        }
        Ok(connection)
    }

    /// Sends the encoded commands and reads `replies` replies, all within `timeout`.
    pub(crate) fn exchange(
        &mut self,
        request: &[u8],
        replies: usize,
        timeout: Duration,
    ) -> io::Result<Vec<Reply>> {
        self.reader.get_mut().deadline = deadline_after(timeout);
        self.reader.get_mut().write_all(request)?;
        let mut out = Vec::with_capacity(replies);
        for _ in 0..replies {
            out.push(read_reply(&mut self.reader, 0)?);
        }
        Ok(out)
    }
}

fn protocol(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_ITEM as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "Redis closed the connection",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("a reply line does not end with CRLF"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn number(bytes: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol("a reply length or integer is not a number"))
}

fn read_reply(reader: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > MAX_DEPTH {
        return Err(protocol("replies nested too deeply"));
    }
    let line = read_line(reader)?;
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| protocol("an empty reply line"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Status(text())),
        b'-' => Ok(Reply::Error(text())),
        b':' => Ok(Reply::Int(number(rest)?)),
        b'$' => {
            let len = number(rest)?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| protocol("bad bulk length"))?;
            if len > MAX_ITEM {
                return Err(protocol("a bulk reply is too large"));
            }
            // Read as the bytes come, never allocated up front from the length the server
            // announced: a hostile or broken server announcing 512 MiB and sending nothing costs
            // nothing but the I/O timeout; memory grows only with what actually arrives.
            let mut data = Vec::with_capacity(len.min(INITIAL_BULK_CAPACITY) + 2);
            let wanted = len as u64 + 2;
            let read = reader.by_ref().take(wanted).read_to_end(&mut data)?;
            if read as u64 != wanted {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the connection ended inside a bulk reply",
                ));
            }
            if !data.ends_with(b"\r\n") {
                return Err(protocol("a bulk reply does not end with CRLF"));
            }
            data.truncate(len);
            Ok(Reply::Bulk(Some(data)))
        }
        b'*' => {
            let n = number(rest)?;
            if n < 0 {
                return Ok(Reply::Array(None));
            }
            let n = usize::try_from(n).map_err(|_| protocol("bad array length"))?;
            let mut items = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                items.push(read_reply(reader, depth + 1)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        _ => Err(protocol("an unknown reply type")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_do_not_overflow_the_deadline() {
        assert!(deadline_after(Duration::MAX) > Instant::now());
        assert!(deadline_after(Duration::ZERO) <= Instant::now());
    }

    #[test]
    fn urls() {
        let t = Target::parse("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("127.0.0.1", 6380, 2));
        let t = Target::parse("redis://:p%40ss@h").unwrap();
        assert_eq!(
            (t.username, t.password.as_deref(), t.port),
            (None, Some("p@ss"), 6379)
        );
        let t = Target::parse("redis://u:p@[::1]:7000").unwrap();
        assert_eq!((t.host.as_str(), t.username.as_deref()), ("::1", Some("u")));
        for bad in [
            "http://x",
            "redis://",
            "redis://h:x",
            "redis://h/db",
            "redis://[::1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies() {
        let input =
            b"+OK\r\n-ERR x\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n+QUEUED\r\n*1\r\n:1\r\n*-1\r\n";
        let mut reader = &input[..];
        let mut out = Vec::new();
        for _ in 0..7 {
            out.push(read_reply(&mut reader, 0).unwrap());
        }
        assert_eq!(out[0], Reply::Status("OK".into()));
        assert_eq!(out[1], Reply::Error("ERR x".into()));
        assert_eq!(out[2], Reply::Int(42));
        assert_eq!(out[3], Reply::Bulk(Some(b"abc".to_vec())));
        assert_eq!(out[4], Reply::Bulk(None));
        assert_eq!(
            out[5],
            Reply::Array(Some(vec![
                Reply::Status("QUEUED".into()),
                Reply::Array(Some(vec![Reply::Int(1)]))
            ]))
        );
        assert_eq!(out[6], Reply::Array(None));
        for bad in [
            &b"?x\r\n"[..],
            b"$5\r\nab\r\n",
            b":x\r\n",
            b"+OK\n",
            b"",
            b"$3\r\nabcd\r\n",
        ] {
            let mut r = bad;
            assert!(read_reply(&mut r, 0).is_err());
        }
    }

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode(&mut out, &[b"HINCRBY", b"k", b"f:v:", b"1"]);
        assert_eq!(
            out,
            b"*4\r\n$7\r\nHINCRBY\r\n$1\r\nk\r\n$4\r\nf:v:\r\n$1\r\n1\r\n"
        );
    }
}
