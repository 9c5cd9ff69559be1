//! `microprofile-exporter`: serves namespaces of a Redis shared store as Prometheus text or
//! OpenMetrics, through the built-in listener (same routes, negotiation and output).
//!
//! ```text
//! microprofile-exporter --redis redis://127.0.0.1:6379 --namespace shop,billing --listen 127.0.0.1:9981
//! ```
//!
//! Each namespace is served in the scope of the same name (`/metrics/shop`); `/metrics` serves
//! every namespace, plus the exporter's own vendor metrics (`/metrics/vendor`).

use std::process::ExitCode;
use std::time::Duration;

use microprofile::redis::RedisExposition;
use microprofile::Server;

const USAGE: &str = "\
usage: microprofile-exporter [--redis URL] [--namespace NS[,NS...]] [--listen ADDR]
                             [--max-age MS] [--refresh SECONDS] [--timeout MS]

  --redis URL        Redis holding the shared store (default $MICROPROFILE_REDIS_URL,
                     else redis://127.0.0.1:6379)
  --namespace LIST   namespaces to serve, comma-separated (default $MICROPROFILE_NAMESPACE,
                     else microprofile); each is served in the scope of the same name
  --listen ADDR      address to serve on (default 127.0.0.1:9981)
  --max-age MS       a scrape reads Redis again when the values are older (default 250)
  --refresh SECONDS  background refresh interval (default 5)
  --timeout MS       Redis connect and read timeout (default 2000)
";

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
        listen: "127.0.0.1:9981".to_owned(),
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
        let millis = |v: String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{flag}: {v:?} is not a whole number"))
        };
        match flag.as_str() {
            "--redis" => options.redis = value()?,
            "--namespace" | "--namespaces" => namespaces = value()?,
            "--listen" => options.listen = value()?,
            "--max-age" => options.max_age = millis(value()?)?,
            "--timeout" => options.timeout = millis(value()?)?,
            "--refresh" => {
                let v = value()?;
                options.refresh = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| format!("--refresh: {v:?} is not a positive number"))?;
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
