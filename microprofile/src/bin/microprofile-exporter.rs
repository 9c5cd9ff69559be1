//! `microprofile-exporter`: serves namespaces of a Redis shared store as Prometheus text or
//! OpenMetrics, through the built-in listener (same routes, negotiation and output).
//!
//! ```text
//! microprofile-exporter --redis redis://127.0.0.1:6379 --namespace shop,billing --listen 127.0.0.1:9982
//! ```
//!
//! It listens on `127.0.0.1:9982` by default, beside the built-in listener's `9981`, so an
//! application and the exporter can run on one host with their defaults. Durations take a unit:
//! `--max-age 250ms`, `--refresh 5s`, `--timeout 2s` (`ms`, `s`, `m` or `h`, fractions allowed).
//!
//! Each family is served in the scope its writer recorded in the namespace's metadata hash (a
//! registry attached to a store records it: `/metrics/application`), a family without a record
//! in the scope named after its namespace (`/metrics/shop`); `/metrics` serves every namespace,
//! plus the exporter's own vendor metrics (`/metrics/vendor`).
//!
//! It serves through the built-in listener, so through the one endpoint and connection path of
//! `microprofile::serve`: authentication (`MICROPROFILE_BEARER_TOKEN`, `MICROPROFILE_BASIC_AUTH`)
//! and, built with the feature `tls`, TLS (`MICROPROFILE_TLS_CERT`, `MICROPROFILE_TLS_KEY`) come
//! from the environment as for any application, and a malformed value stops it at start (exit
//! status 1) rather than serve without it.

use std::process::ExitCode;
use std::time::Duration;

use microprofile::redis::RedisExposition;
use microprofile::Server;

const USAGE: &str = "\
usage: microprofile-exporter [--redis URL] [--namespace NS[,NS...]] [--listen ADDR]
                             [--max-age DURATION] [--refresh DURATION] [--timeout DURATION]

  --redis URL          Redis holding the shared store (default $MICROPROFILE_REDIS_URL,
                       else redis://127.0.0.1:6379)
  --namespace LIST     namespaces to serve, comma-separated (default $MICROPROFILE_NAMESPACE,
                       else microprofile); a family without a recorded scope is served
                       in the scope of its namespace's name
  --listen ADDR        address to serve on (default 127.0.0.1:9982; the built-in listener of
                       an application uses 9981)
  --max-age DURATION   a scrape reads Redis again when the values are older (default 250ms)
  --refresh DURATION   background refresh interval (default 5s)
  --timeout DURATION   Redis connect and read timeout (default 2s)

A DURATION is a number and a unit: 500ms, 2s, 1.5s, 1m, 1h. A bare number is still read as
before (milliseconds for --max-age and --timeout, seconds for --refresh), with a warning.
";

/// The default `--listen`: not the built-in listener's 9981, so that an application serving
/// its own metrics and the exporter can both run on one host with their defaults.
const DEFAULT_LISTEN: &str = "127.0.0.1:9982";

/// Reads a duration with a unit (`500ms`, `2s`, `1.5s`, `1m`, `1h`). A bare number is the old
/// form of the flag, in `bare_unit` (`"ms"` or `"s"`); it is accepted with a warning on stderr.
fn parse_duration(flag: &str, text: &str, bare_unit: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let invalid = || format!("{flag}: {text:?} is not a duration such as 500ms, 2s or 1m");
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let unit = if unit.is_empty() {
        eprintln!(
            "microprofile-exporter: warning: {flag} {text} without a unit is deprecated; write {text}{bare_unit}"
        );
        bare_unit
    } else {
        unit
    };
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

struct Options {
    redis: String,
    namespaces: Vec<String>,
    listen: String,
    max_age: Duration,
    refresh: Duration,
    timeout: Duration,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut options = Options {
        redis: env("MICROPROFILE_REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
        namespaces: Vec::new(),
        listen: DEFAULT_LISTEN.to_owned(),
        max_age: Duration::from_millis(250),
        refresh: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
    };
    let mut namespaces = env("MICROPROFILE_NAMESPACE").unwrap_or_else(|| "microprofile".into());
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--redis" => options.redis = value()?,
            "--namespace" | "--namespaces" => namespaces = value()?,
            "--listen" => options.listen = value()?,
            "--max-age" => options.max_age = parse_duration(&flag, &value()?, "ms")?,
            "--timeout" => options.timeout = parse_duration(&flag, &value()?, "ms")?,
            "--refresh" => {
                let refresh = parse_duration(&flag, &value()?, "s")?;
                if refresh.is_zero() {
                    return Err("--refresh: the interval must be more than zero".to_owned());
                }
                options.refresh = refresh;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    options.namespaces = namespaces
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if options.namespaces.is_empty() {
        return Err("no namespace given".to_owned());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("microprofile-exporter: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listen = match std::net::ToSocketAddrs::to_socket_addrs(options.listen.as_str())
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) => addr,
        None => {
            eprintln!(
                "microprofile-exporter: --listen {:?} is not an address",
                options.listen
            );
            return ExitCode::from(2);
        }
    };
    let exposition = match RedisExposition::new(&options.redis, &options.namespaces) {
        Ok(e) => e.timeout(options.timeout),
        Err(e) => {
            eprintln!("microprofile-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    let registry = microprofile::global();
    let live = exposition.attach(registry, options.max_age, options.refresh);
    if let Err(e) = live.refresh() {
        eprintln!("microprofile-exporter: {e} (will keep trying)");
    }
    let server = match Server::builder().addr(listen).registry(registry).start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("microprofile-exporter: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "microprofile-exporter: serving {} from {} on http://{}/metrics",
        options.namespaces.join(","),
        options.redis,
        server.local_addr()
    );
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn durations_take_units() {
        let o = parsed(&["--max-age", "30s", "--refresh=500ms", "--timeout", "1.5s"]).unwrap();
        assert_eq!(o.max_age, Duration::from_secs(30));
        assert_eq!(o.refresh, Duration::from_millis(500));
        assert_eq!(o.timeout, Duration::from_millis(1500));
        let o = parsed(&["--refresh", "2m", "--max-age", "1h"]).unwrap();
        assert_eq!(o.refresh, Duration::from_secs(120));
        assert_eq!(o.max_age, Duration::from_secs(3600));
        for bad in ["", "s", "10x", "-1s", "1..5s", "ms5"] {
            assert!(parsed(&["--max-age", bad]).is_err(), "{bad:?}");
        }
        assert!(parsed(&["--refresh", "0s"]).is_err());
    }

    #[test]
    fn bare_numbers_keep_their_old_units() {
        let o = parsed(&["--max-age", "50", "--refresh", "0.1", "--timeout", "2000"]).unwrap();
        assert_eq!(o.max_age, Duration::from_millis(50));
        assert_eq!(o.refresh, Duration::from_millis(100));
        assert_eq!(o.timeout, Duration::from_secs(2));
    }

    #[test]
    fn defaults_do_not_take_the_builtin_listeners_port() {
        let o = parsed(&[]).unwrap();
        assert_eq!(o.listen, "127.0.0.1:9982");
        assert_ne!(
            o.listen.parse::<std::net::SocketAddr>().unwrap(),
            microprofile::DEFAULT_ADDR
        );
        assert_eq!(o.max_age, Duration::from_millis(250));
        assert_eq!(o.refresh, Duration::from_secs(5));
        assert_eq!(o.timeout, Duration::from_secs(2));
    }
}
