//! The built-in listener (feature `server`): hyper 1 on a current-thread tokio runtime of its own
//! thread, so programs without an async runtime can serve `/metrics` with one call.
//!
//! All routing, negotiation and compression is [`crate::serve::respond_encoded`]; this module
//! only moves bytes.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

use ::http::{Request, Response};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metadata::{Metadata, Scope};
use crate::metric::counter::Counter;
use crate::metric::gauge::ConcurrentGauge;
use crate::registry::{global, Registry};
use crate::serve::auth::{Auth, AuthError};
use crate::serve::connection::{ConnectionCounts, Tls};
use crate::serve::limits::Limits;
use crate::serve::Endpoint;

/// The address served when neither [`ServerBuilder::addr`] nor [`ADDR_ENV`] says otherwise:
/// loopback only.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9981);

/// The environment variable that replaces [`DEFAULT_ADDR`], as `host:port` (for example
/// `0.0.0.0:9981` or `[::1]:9981`). An empty value counts as unset.
pub const ADDR_ENV: &str = "MICROPROFILE_ADDR";

/// Requests answered by the built-in listener (any status).
static REQUESTS: Counter = Counter::new();
/// Connections that ended on an error rather than a clean close.
static CONNECTION_ERRORS: Counter = Counter::new();
/// Connections being served.
static OPEN_CONNECTIONS: ConcurrentGauge = ConcurrentGauge::new();

crate::register!(
    REQUESTS,
    Metadata::new("microprofile_server_requests")
        .description("Requests answered by the built-in metrics listener, whatever their status.")
        .scope(Scope::Vendor)
);
crate::register!(
    CONNECTION_ERRORS,
    Metadata::new("microprofile_server_connection_errors")
        .description("Connections of the built-in metrics listener closed on an error: a malformed or oversized request, a header or write timeout, or a client gone mid-request.")
        .scope(Scope::Vendor)
);
crate::register!(
    OPEN_CONNECTIONS,
    Metadata::new("microprofile_server_open_connections")
        .description("Connections the built-in metrics listener is serving.")
        .scope(Scope::Vendor)
);

/// The address [`ServerBuilder::addr`] binds: a socket address, or text `host:port` resolved
/// when the listener starts (text that does not resolve is [`ServerError::InvalidBuilderAddr`]
/// from [`ServerBuilder::start`], never a panic). Anything [`SocketAddr`] converts from, and
/// `&str` and `String`, convert into it:
///
/// ```no_run
/// use microprofile::Server;
/// let _a = Server::builder().addr("127.0.0.1:9981").start();
/// let _b = Server::builder().addr(([127, 0, 0, 1], 9981)).start();
/// let _c = Server::builder().addr(String::from("localhost:9981")).start();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindAddr {
    /// This address.
    Socket(SocketAddr),
    /// `host:port` (a literal address or a host name), resolved at start; the first address
    /// it resolves to is bound.
    HostPort(String),
}

impl BindAddr {
    fn resolve(&self) -> Result<SocketAddr, ServerError> {
        let text = match self {
            BindAddr::Socket(addr) => return Ok(*addr),
            BindAddr::HostPort(text) => text.trim(),
        };
        let invalid = |reason: String| ServerError::InvalidBuilderAddr {
            value: text.to_owned(),
            reason,
        };
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(addr);
        }
        match text.to_socket_addrs() {
            Ok(mut addrs) => addrs
                .next()
                .ok_or_else(|| invalid("the host name resolves to no address".to_owned())),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}

impl From<&str> for BindAddr {
    fn from(text: &str) -> Self {
        BindAddr::HostPort(text.to_owned())
    }
}

impl From<String> for BindAddr {
    fn from(text: String) -> Self {
        BindAddr::HostPort(text)
    }
}

impl From<&String> for BindAddr {
    fn from(text: &String) -> Self {
        BindAddr::HostPort(text.clone())
    }
}

/// The conversions into [`SocketAddr`] that std offers, so `addr(([127, 0, 0, 1], 0))` and the
/// like keep working.
macro_rules! bind_addr_from_socket_addr {
    ($($from:ty),* $(,)?) => {$(
        impl From<$from> for BindAddr {
            fn from(addr: $from) -> Self {
                BindAddr::Socket(SocketAddr::from(addr))
            }
        }
    )*};
}

bind_addr_from_socket_addr!(
    SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    (std::net::IpAddr, u16),
    (std::net::Ipv4Addr, u16),
    (std::net::Ipv6Addr, u16),
    ([u8; 4], u16),
    ([u8; 16], u16),
    ([u16; 8], u16),
);

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `MICROPROFILE_ADDR` is not an address with a port.
    #[error("invalid {ADDR_ENV} {value:?}: {reason} (expected `host:port`, for example `127.0.0.1:9981` or `[::1]:9981`)")]
    InvalidAddr {
        /// The value as found in the environment.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text given to [`ServerBuilder::addr`] is not a `host:port` that resolves.
    #[error("invalid listen address {value:?} given to ServerBuilder::addr: {reason} (expected `host:port`, for example `127.0.0.1:9981`, `[::1]:9981` or `localhost:9981`)")]
    InvalidBuilderAddr {
        /// The text as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The address could not be bound: it is in use, or not an address of this host, or a
    /// privileged port.
    #[error("cannot listen on {addr}: {source} (is another process using the port? choose another with {ADDR_ENV} or ServerBuilder::addr)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The authentication configured in the environment is malformed (see
    /// [`Auth::from_env`]); the listener does not start rather than serve without it.
    #[error("cannot start the metrics server: {0}")]
    Auth(#[from] AuthError),
    /// The TLS certificate or key (given, or named in the environment) cannot be used.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("cannot start the metrics server: {0}")]
    Tls(#[from] crate::serve::tls::TlsError),
    /// The runtime or the thread could not be created.
    #[error("cannot start the metrics server: {0}")]
    Start(#[source] io::Error),
}

/// The built-in metrics listener. [`Server::start`] serves the global registry on
/// [`DEFAULT_ADDR`] (or [`ADDR_ENV`]); [`Server::builder`] configures it.
///
/// It counts its own work in scope vendor of the global registry:
/// `microprofile_server_requests_total` (requests answered),
/// `microprofile_server_connection_errors_total` (connections closed on a malformed or oversized
/// request, a timeout, or a client gone mid-request) and `microprofile_server_open_connections`.
///
/// ```
/// use std::io::{Read, Write};
///
/// let server = microprofile::Server::builder()
///     .addr(([127, 0, 0, 1], 0))
///     .start()
///     .unwrap();
/// let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// stream.write_all(b"GET /metrics/vendor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut response = String::new();
/// stream.read_to_string(&mut response).unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
/// server.shutdown();
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Server;

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Starts serving the global registry with the defaults: [`DEFAULT_ADDR`], or the address in
    /// [`ADDR_ENV`].
    pub fn start() -> Result<ServerHandle, ServerError> {
        ServerBuilder::default().start()
    }
}

/// Configures and starts the listener.
///
/// Protections, so that misbehaving clients cannot stop it serving others:
/// - [`header_read_timeout`](Self::header_read_timeout) closes a connection whose request head
///   is not complete in time. The same timer runs while a keep-alive connection waits for its
///   next request, so it is also the keep-alive idle timeout.
/// - [`max_header_bytes`](Self::max_header_bytes) and [`max_headers`](Self::max_headers) bound a
///   request head; larger ones get `431` and the connection is closed.
/// - [`max_connections`](Self::max_connections) bounds the connections served at once. Further
///   connections are not refused: they are left in the operating system's accept queue and
///   accepted, in order, as soon as a served connection ends, so a burst of scrapes is served
///   late rather than failed, and a slot held by a silent client frees within the header timeout.
/// - [`write_timeout`](Self::write_timeout) closes a connection whose client stops reading a
///   response, so it cannot hold its slot either.
#[derive(Clone)]
pub struct ServerBuilder {
    addr: Option<BindAddr>,
    registry: &'static Registry,
    /// `None`: read from the environment at start.
    auth: Option<Auth>,
    /// `None`: read from the environment at start.
    #[cfg(feature = "tls")]
    tls: Option<Option<crate::serve::tls::TlsConfig>>,
    /// The limits and timeouts, of the same type and setters as the axum `Serve`'s.
    limits: Limits,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            addr: None,
            registry: global(),
            auth: None,
            #[cfg(feature = "tls")]
            tls: None,
            limits: Limits::default(),
        }
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("addr", &self.addr)
            .field("auth", &self.auth)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// The address to listen on: a [`SocketAddr`] (or what converts into one, as
    /// `([127, 0, 0, 1], 9981)`) or text `host:port` (`"127.0.0.1:9981"`, `"localhost:9981"`),
    /// resolved at [`start`](Self::start), where text that does not resolve is an error (see
    /// [`BindAddr`]). Port 0 picks a free one (see [`ServerHandle::local_addr`]). Given here, it
    /// wins over [`ADDR_ENV`]. A non-loopback address exposes the metrics to the network and is
    /// reported on stderr at start.
    pub fn addr(mut self, addr: impl Into<BindAddr>) -> Self {
        self.addr = Some(addr.into());
        self
    }

    /// The registry to serve (default: [`global()`](crate::global)). A registry of one's own can
    /// be made `'static` with `Box::leak` or a `static LazyLock`.
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Who may read the metrics (see [`crate::serve::auth`]). Without this call, the authentication
    /// configured in the environment ([`Auth::from_env`]) applies, none by default. A request
    /// without valid credentials gets `401`, whatever it asks for.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serves HTTPS with this certificate and key (feature `tls`; see [`crate::serve::tls`]). Without
    /// this call, the files named by `MICROPROFILE_TLS_CERT` and `MICROPROFILE_TLS_KEY` are used
    /// when both are set, plain HTTP otherwise. The TLS handshake must complete within the
    /// [header read timeout](Self::header_read_timeout).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::serve::tls::TlsConfig) -> Self {
        self.tls = Some(Some(tls));
        self
    }

    crate::serve::limits::limit_setters!(shutdown: "[`ServerHandle::shutdown`] is called");

    /// Binds the address and starts serving on a thread of its own. Returns once the socket is
    /// bound, so a scrape right after is served.
    pub fn start(self) -> Result<ServerHandle, ServerError> {
        // A malformed authentication in the environment refuses to start, as the axum router
        // refuses to be built (see `Endpoint::new`).
        let endpoint = Arc::new(Endpoint::new(self.registry, self.auth)?);
        #[cfg(feature = "tls")]
        let tls: Tls = match &self.tls {
            Some(tls) => tls.clone(),
            None => crate::serve::tls::TlsConfig::from_env()?,
        };
        #[cfg(not(feature = "tls"))]
        let tls: Tls = None;
        let addr = match &self.addr {
            Some(addr) => addr.resolve()?,
            None => {
                let value = std::env::var_os(ADDR_ENV);
                let value = match value.as_deref().map(|v| v.to_str()) {
                    None => None,
                    Some(Some(v)) => Some(v),
                    Some(None) => {
                        return Err(ServerError::InvalidAddr {
                            value: value
                                .as_deref()
                                .map(|v| v.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                            reason: "it is not valid UTF-8".to_owned(),
                        })
                    }
                };
                resolve_addr(value)?
            }
        };
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(ServerError::Start)?;
        listener.set_nonblocking(true).map_err(ServerError::Start)?;
        let (stop, stopped) = watch::channel(false);
        let (ready, started) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        let limits = self.limits;
        // The runtime is made, used and dropped on its own thread only: dropping a runtime on a
        // thread that runs another one (a caller's async code) would panic.
        let thread = std::thread::Builder::new()
            .name("microprofile-server".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                let listener = {
                    let _context = runtime.enter();
                    TcpListener::from_std(listener)
                };
                match listener {
                    Ok(listener) => {
                        let _ = ready.send(Ok(()));
                        runtime.block_on(serve(listener, limits, tls, endpoint, stopped));
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            })
            .map_err(ServerError::Start)?;
        let failed = match started.recv() {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some(io::Error::other("the server thread ended before serving")),
        };
        if let Some(error) = failed {
            let _ = thread.join();
            return Err(ServerError::Start(error));
        }
        if !local_addr.ip().is_loopback() {
            eprintln!(
                "microprofile: serving metrics on {local_addr}, which is not a loopback address: they are reachable from the network"
            );
        }
        Ok(ServerHandle {
            local_addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// The address in `value` (from [`ADDR_ENV`]), or [`DEFAULT_ADDR`] when there is none.
fn resolve_addr(value: Option<&str>) -> Result<SocketAddr, ServerError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_ADDR);
    };
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let invalid = |reason: String| ServerError::InvalidAddr {
        value: value.to_owned(),
        reason,
    };
    match value.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| invalid("the host name resolves to no address".to_owned())),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// The running listener. Dropping it shuts it down as [`shutdown`](Self::shutdown) does, so
/// keep it for as long as the metrics should be served (in `main`, bind it to a named variable:
/// `let _server = ...`; `let _ = ...` drops it at once).
#[must_use = "dropping the ServerHandle stops the listener at once; bind it to a variable that lives as long as the metrics should be served"]
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address actually bound (with the port chosen when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets requests in flight finish (up to the
    /// [grace period](ServerBuilder::shutdown_grace)), closes every connection and joins the
    /// thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            // The thread only ends by returning; a panic in it is not ours to propagate.
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Serves the endpoint through the one connection path of [`crate::serve::connection`],
/// counting requests, open connections and connections closed on an error.
async fn serve(
    listener: TcpListener,
    limits: Limits,
    tls: Tls,
    endpoint: Arc<Endpoint>,
    stopped: watch::Receiver<bool>,
) {
    static COUNTS: ConnectionCounts = ConnectionCounts {
        open: &OPEN_CONNECTIONS,
        errors: &CONNECTION_ERRORS,
    };
    let service = service_fn(move |request: Request<Incoming>| {
        REQUESTS.inc();
        let response: Response<Full<Bytes>> =
            endpoint.answer_http(request.method(), request.uri(), request.headers());
        async move { Ok::<_, Infallible>(response) }
    });
    crate::serve::connection::serve(listener, limits, tls, stopped, service, Some(&COUNTS)).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn addresses_from_the_environment() {
        assert_eq!(resolve_addr(None).unwrap(), DEFAULT_ADDR);
        assert_eq!(resolve_addr(Some("")).unwrap(), DEFAULT_ADDR);
        assert_eq!(resolve_addr(Some("  ")).unwrap(), DEFAULT_ADDR);
        assert_eq!(
            resolve_addr(Some("127.0.0.1:1234")).unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 1234))
        );
        assert_eq!(
            resolve_addr(Some(" [::1]:80 ")).unwrap(),
            "[::1]:80".parse::<SocketAddr>().unwrap()
        );
        for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999", "host:port", ":"] {
            let error = resolve_addr(Some(bad)).unwrap_err();
            assert!(
                matches!(&error, ServerError::InvalidAddr { value, .. } if value == bad.trim()),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains(ADDR_ENV));
        }
    }

    #[test]
    fn limits_are_clamped() {
        let builder = Server::builder()
            .max_header_bytes(10)
            .max_connections(0)
            .header_read_timeout(Duration::ZERO);
        assert_eq!(
            builder.limits.max_header_bytes,
            crate::serve::limits::MIN_BUF_SIZE
        );
        assert_eq!(builder.limits.max_connections, 1);
        assert_eq!(builder.limits.header_read_timeout, Duration::from_millis(1));
        assert!(format!("{builder:?}").contains("max_connections: 1"));
    }

    /// `addr` takes text too, resolved at start; text that does not resolve is an error from
    /// `start`, not a panic.
    #[test]
    fn addresses_as_text() {
        let server = Server::builder()
            .registry(Box::leak(Box::new(Registry::new())))
            .auth(Auth::None)
            .addr("127.0.0.1:0")
            .start()
            .unwrap();
        assert!(server.local_addr().ip().is_loopback());
        assert_ne!(server.local_addr().port(), 0);
        server.shutdown();
        let server = Server::builder()
            .auth(Auth::None)
            .addr(String::from("localhost:0"))
            .start()
            .unwrap();
        assert!(server.local_addr().ip().is_loopback());
        server.shutdown();
        // No host names that would need a DNS server: the tests stay on loopback.
        for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999", "", "host:port"] {
            let error = Server::builder().addr(bad).start().unwrap_err();
            assert!(
                matches!(&error, ServerError::InvalidBuilderAddr { value, .. } if value == bad),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("ServerBuilder::addr"), "{error}");
        }
    }

    #[test]
    fn bind_conflict_is_an_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = Server::builder().addr(addr).start().unwrap_err();
        assert!(matches!(error, ServerError::Bind { addr: a, .. } if a == addr));
        assert!(error.to_string().contains(&addr.to_string()));
    }
}
