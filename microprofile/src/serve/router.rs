//! The axum router and `serve`; its documentation is the module `serve`'s.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::metrics_router::{router, MetricsRouter};
#[cfg(all(feature = "axum", feature = "tls"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "tls"))))]
pub use self::serve::serve_tls;
#[cfg(all(feature = "axum", feature = "server"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "server"))))]
pub use self::serve::{serve, Serve};

#[cfg(all(feature = "axum", feature = "server"))]
mod serve {
    use std::convert::Infallible;
    use std::future::{Future, IntoFuture, Pending};
    use std::io;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::time::Duration;

    use ::http::Request;
    use axum::Router;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    use crate::serve::connection::Limits;

    /// Serves `app` (HTTP/1.1) on `listener` with the limits and timeouts of the built-in
    /// listener, until the returned future is dropped: the recommended way to run an axum
    /// application that serves [`router()`](super::router) when no other server (a reverse proxy
    /// that enforces its own limits) is in front. `axum::serve` has no header read timeout: a
    /// client that connects and sends nothing holds its connection forever.
    ///
    /// The result is a [`Serve`], to await as is or to configure first.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// microprofile::serve::serve(listener, app).await?;
    /// # Ok(()) }
    /// ```
    pub fn serve(listener: TcpListener, app: Router) -> Serve {
        Serve::new(listener, app)
    }

    /// An axum application served with limits (see [`serve`]); awaiting it serves until the
    /// [shutdown signal](Self::with_graceful_shutdown), or forever.
    ///
    /// The defaults and protections are those of the built-in listener
    /// ([`ServerBuilder`](crate::ServerBuilder)), from the same code:
    /// - [`header_read_timeout`](Self::header_read_timeout) (10 s) closes a connection whose
    ///   request head is not complete in time; it is also the keep-alive idle timeout, and with
    ///   [TLS](Self::tls) the handshake's timeout.
    /// - [`max_header_bytes`](Self::max_header_bytes) (16 KiB) and
    ///   [`max_headers`](Self::max_headers) (100) bound a request head; larger ones get `431` and
    ///   the connection is closed. A request line counts in the head's bytes.
    /// - [`max_connections`](Self::max_connections) (64) bounds the connections served at once;
    ///   further ones wait in the operating system's accept queue until a slot frees.
    /// - [`write_timeout`](Self::write_timeout) (30 s) closes a connection whose client stops
    ///   reading a response.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// // … `stop.send(())` from elsewhere ends serving.
    /// microprofile::serve::Serve::new(listener, app)
    ///     .header_read_timeout(Duration::from_secs(5))
    ///     .max_connections(256)
    ///     .with_graceful_shutdown(async { let _ = stopped.await; })
    ///     .await?;
    /// # drop(stop);
    /// # Ok(()) }
    /// ```
    #[must_use = "nothing is served until it is awaited"]
    pub struct Serve<G = Pending<()>> {
        listener: TcpListener,
        app: Router,
        limits: Limits,
        signal: G,
        #[cfg(feature = "tls")]
        tls: Option<crate::serve::tls::TlsConfig>,
    }

    impl<G> std::fmt::Debug for Serve<G> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let limits = &self.limits;
            f.debug_struct("Serve")
                .field("listener", &self.listener)
                .field("header_read_timeout", &limits.header_read_timeout)
                .field("max_connections", &limits.max_connections)
                .field("max_header_bytes", &limits.max_header_bytes)
                .field("max_headers", &limits.max_headers)
                .field("keep_alive", &limits.keep_alive)
                .field("shutdown_grace", &limits.shutdown_grace)
                .field("write_timeout", &limits.write_timeout)
                .finish_non_exhaustive()
        }
    }

    impl Serve {
        /// Serves `app` on `listener` with the defaults (the same as [`serve`]).
        pub fn new(listener: TcpListener, app: Router) -> Serve {
            Serve {
                listener,
                app,
                limits: Limits::default(),
                signal: std::future::pending(),
                #[cfg(feature = "tls")]
                tls: None,
            }
        }
    }

    impl<G> Serve<G> {
        /// How long a client may take to send a complete request head (and complete the TLS
        /// handshake), and how long a keep-alive connection may stay idle (default 10 s). Zero
        /// is raised to 1 ms.
        pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
            self.limits.set_header_read_timeout(timeout);
            self
        }

        /// How many connections are served at once (default 64; at least 1). Connections beyond
        /// it wait to be accepted.
        pub fn max_connections(mut self, max: usize) -> Self {
            self.limits.set_max_connections(max);
            self
        }

        /// The largest request head (request line and headers) in bytes (default 16 KiB; at
        /// least 8 KiB, hyper's minimum buffer).
        pub fn max_header_bytes(mut self, max: usize) -> Self {
            self.limits.set_max_header_bytes(max);
            self
        }

        /// The most headers a request may have (default 100).
        pub fn max_headers(mut self, max: usize) -> Self {
            self.limits.max_headers = max;
            self
        }

        /// Whether a connection may carry more than one request (default `true`).
        pub fn keep_alive(mut self, keep_alive: bool) -> Self {
            self.limits.keep_alive = keep_alive;
            self
        }

        /// How long writing a response may make no progress (the client does not read it)
        /// before the connection is closed (default 30 s). Zero is raised to 1 ms.
        pub fn write_timeout(mut self, timeout: Duration) -> Self {
            self.limits.set_write_timeout(timeout);
            self
        }

        /// How long, once the [shutdown signal](Self::with_graceful_shutdown) has come, requests
        /// in flight may finish before their connections are closed (default 5 s).
        pub fn shutdown_grace(mut self, grace: Duration) -> Self {
            self.limits.shutdown_grace = grace;
            self
        }

        /// Serves HTTPS with this certificate and key (feature `tls`; see [`crate::serve::tls`]).
        #[cfg(feature = "tls")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
        pub fn tls(mut self, tls: crate::serve::tls::TlsConfig) -> Self {
            self.tls = Some(tls);
            self
        }

        /// Stops when `signal` completes: no more connections are accepted, idle ones are
        /// closed, requests in flight get the [grace period](Self::shutdown_grace) to finish,
        /// and then the future resolves.
        pub fn with_graceful_shutdown<H>(self, signal: H) -> Serve<H>
        where
            H: Future<Output = ()> + Send + 'static,
        {
            Serve {
                listener: self.listener,
                app: self.app,
                limits: self.limits,
                signal,
                #[cfg(feature = "tls")]
                tls: self.tls,
            }
        }

        /// The address the listener is bound to.
        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            self.listener.local_addr()
        }
    }

    impl<G> IntoFuture for Serve<G>
    where
        G: Future<Output = ()> + Send + 'static,
    {
        type Output = io::Result<()>;
        type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

        fn into_future(self) -> Self::IntoFuture {
            Box::pin(self.run())
        }
    }

    impl<G> Serve<G>
    where
        G: Future<Output = ()> + Send + 'static,
    {
        async fn run(self) -> io::Result<()> {
            let Serve {
                listener,
                app,
                limits,
                signal,
                #[cfg(feature = "tls")]
                tls,
            } = self;
            let (stop, stopped) = watch::channel(false);
            // Sends the stop, then keeps the sender alive: a dropped sender also means stop.
            let signal = async move {
                signal.await;
                let _ = stop.send(true);
                std::future::pending::<()>().await
            };
            let accept = crate::serve::connection::accept_loop(
                listener,
                limits,
                stopped,
                |stream, stopped| {
                    serve_connection(
                        stream,
                        app.clone(),
                        limits,
                        #[cfg(feature = "tls")]
                        tls.clone(),
                        stopped,
                    )
                },
            );
            tokio::select! {
                () = accept => {}
                () = signal => {}
            }
            Ok(())
        }
    }

    async fn serve_connection(
        stream: TcpStream,
        app: Router,
        limits: Limits,
        #[cfg(feature = "tls")] tls: Option<crate::serve::tls::TlsConfig>,
        stopped: watch::Receiver<bool>,
    ) {
        let service = service_fn(move |request: Request<Incoming>| {
            let mut app = app.clone();
            async move {
                let response =
                    tower_service::Service::call(&mut app, request.map(axum::body::Body::new))
                        .await;
                Ok::<_, Infallible>(match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                })
            }
        });
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            if let Ok(stream) = tls.accept(stream, limits.header_read_timeout).await {
                let _ = crate::serve::connection::serve_http(
                    TokioIo::new(stream),
                    &limits,
                    service,
                    stopped,
                )
                .await;
            }
            return;
        }
        let _ =
            crate::serve::connection::serve_http(TokioIo::new(stream), &limits, service, stopped)
                .await;
    }

    /// Serves `app` over HTTPS (HTTP/1.1) on `listener` until the returned future is dropped:
    /// for applications that serve the metrics router (or everything) over TLS without a TLS
    /// terminator in front. Handshakes and request heads must complete within 10 s, and at
    /// most 256 connections are served at once; the other limits are those of [`serve`]. For
    /// other limits, or a graceful shutdown, use [`Serve::tls`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use microprofile::serve::tls::TlsConfig;
    /// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
    /// microprofile::serve::serve_tls(listener, microprofile::serve::router(), tls).await;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub async fn serve_tls(listener: TcpListener, app: Router, tls: crate::serve::tls::TlsConfig) {
        let _ = Serve::new(listener, app)
            .tls(tls)
            .max_connections(256)
            .await;
    }
}

#[cfg(feature = "axum")]
mod metrics_router {
    use std::sync::Arc;

    use ::http::header::{HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION};
    use ::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::body::Body;
    use axum::response::Response;
    use axum::routing::any;
    use axum::Router;

    use crate::registry::{global, Registry};
    use crate::serve::auth::{Auth, AuthError};
    use crate::serve::{EncodedResponse, MetricsResponse};

    /// An axum [`Router`] serving the global registry under `/metrics`, with the authentication
    /// configured in the environment ([`Auth::from_env`]). Merge it into an application with
    /// [`Router::merge`], or nest it elsewhere with [`Router::nest`].
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router());
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
        MetricsRouter::new().into_router()
    }

    /// Configures the metrics [`Router`]: which registry, which authentication.
    ///
    /// ```
    /// use microprofile::serve::{auth::Auth, MetricsRouter};
    /// let metrics: axum::Router = MetricsRouter::new()
    ///     .auth(Auth::bearer("s3cret"))
    ///     .into_router();
    /// ```
    #[derive(Clone)]
    pub struct MetricsRouter {
        registry: &'static Registry,
        auth: Result<Auth, AuthError>,
    }

    impl std::fmt::Debug for MetricsRouter {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("MetricsRouter")
                .field("auth", &self.auth)
                .finish_non_exhaustive()
        }
    }

    impl Default for MetricsRouter {
        fn default() -> Self {
            MetricsRouter::new()
        }
    }

    impl MetricsRouter {
        /// The global registry, with the authentication of the environment ([`Auth::from_env`]).
        /// If the environment's configuration is malformed, every request is answered `500`
        /// (and the reason printed on stderr) rather than served without authentication.
        pub fn new() -> MetricsRouter {
            MetricsRouter {
                registry: global(),
                auth: Auth::from_env(),
            }
        }

        /// The registry to serve.
        pub fn registry(mut self, registry: &'static Registry) -> MetricsRouter {
            self.registry = registry;
            self
        }

        /// The authentication, instead of the environment's.
        pub fn auth(mut self, auth: Auth) -> MetricsRouter {
            self.auth = Ok(auth);
            self
        }

        /// The router: `/metrics`, `/metrics/` and `/metrics/{*rest}`, any method (methods other
        /// than `GET` and `HEAD` get `405`, as from the built-in listener).
        pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
            if let Err(error) = &self.auth {
                eprintln!(
                    "microprofile: the metrics endpoint answers 500 to every request: {error}"
                );
            }
            let config = Arc::new(self);
            let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
                let config = config.clone();
                async move { config.answer(&method, &uri, &headers) }
            };
            Router::new()
                .route("/metrics", any(handler.clone()))
                .route("/metrics/", any(handler.clone()))
                .route("/metrics/{*rest}", any(handler))
        }

        fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
            let head = method == Method::HEAD;
            let accept_encoding = join_headers(headers, ACCEPT_ENCODING);
            let answer = match &self.auth {
                Err(error) => {
                    let body = format!(
                        "Internal Server Error: the metrics endpoint is misconfigured: {error}\n"
                    );
                    MetricsResponse {
                        status: 500,
                        headers: vec![
                            ("content-type", "text/plain; charset=utf-8".to_owned()),
                            ("content-length", body.len().to_string()),
                        ],
                        body,
                    }
                    .encode(accept_encoding.as_deref(), head)
                }
                Ok(auth) => match auth.check(headers.get(AUTHORIZATION).map(|v| v.as_bytes())) {
                    Err(refused) => refused.encode(accept_encoding.as_deref(), head),
                    Ok(()) => {
                        let accept = join_headers(headers, ACCEPT);
                        crate::serve::respond_encoded(
                            self.registry,
                            method.as_str(),
                            uri.path(),
                            uri.query(),
                            accept.as_deref(),
                            accept_encoding.as_deref(),
                        )
                    }
                },
            };
            into_response(answer)
        }
    }

    /// Several `name` headers joined with `,`, as [`crate::serve::respond_encoded`] takes them.
    fn join_headers(headers: &HeaderMap, name: HeaderName) -> Option<String> {
        crate::serve::join_header_values(headers.get_all(name).iter().map(|v| v.as_bytes()))
    }

    fn into_response(answer: EncodedResponse) -> Response {
        let mut response = Response::new(Body::from(answer.body));
        *response.status_mut() =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in answer.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
