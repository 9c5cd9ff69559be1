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

    use ::http::Request;
    use axum::Router;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;
    use tokio::sync::watch;

    use crate::serve::connection::Tls;
    use crate::serve::limits::Limits;

    /// Serves `app` (HTTP/1.1) on `listener` with the limits and timeouts of the built-in
    /// listener, until the returned future is dropped: the recommended way to run an axum
    /// application that serves [`router()`](super::router) when no other server (a reverse proxy
    /// that enforces its own limits) is in front. `axum::serve` has no header read timeout: a
    /// client that connects and sends nothing holds its connection forever.
    ///
    /// The result is a [`Serve`], to await as is or to configure first.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router()?);
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
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router()?);
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
        tls: Tls,
    }

    impl<G> std::fmt::Debug for Serve<G> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Serve")
                .field("listener", &self.listener)
                .field("limits", &self.limits)
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
                tls: None,
            }
        }
    }

    impl<G> Serve<G> {
        crate::serve::limits::limit_setters!(
            shutdown: "the [shutdown signal](Self::with_graceful_shutdown) has come"
        );

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
                tls,
            } = self;
            let (stop, stopped) = watch::channel(false);
            // Sends the stop, then keeps the sender alive: a dropped sender also means stop.
            let signal = async move {
                signal.await;
                let _ = stop.send(true);
                std::future::pending::<()>().await
            };
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
            let accept =
                crate::serve::connection::serve(listener, limits, tls, stopped, service, None);
            tokio::select! {
                () = accept => {}
                () = signal => {}
            }
            Ok(())
        }
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
    /// microprofile::serve::serve_tls(listener, microprofile::serve::router()?, tls).await;
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

    use ::http::{HeaderMap, Method, Uri};
    use axum::body::Body;
    use axum::response::Response;
    use axum::routing::any;
    use axum::Router;

    use crate::registry::{global, Registry};
    use crate::serve::auth::{Auth, AuthError};
    use crate::serve::Endpoint;

    /// An axum [`Router`] serving the global registry under `/metrics`, with the authentication
    /// configured in the environment ([`Auth::from_env`]). Merge it into an application with
    /// [`Router::merge`], or nest it elsewhere with [`Router::nest`].
    ///
    /// A malformed configuration in the environment is an error here, when the router is made
    /// (as the built-in listener refuses to start on it), rather than a router that answers
    /// every request `500` or serves without authentication.
    ///
    /// ```
    /// # fn main() -> Result<(), microprofile::serve::auth::AuthError> {
    /// let app: axum::Router = axum::Router::new().merge(microprofile::serve::router()?);
    /// # Ok(()) }
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>() -> Result<Router<S>, AuthError> {
        MetricsRouter::new().into_router()
    }

    /// Configures the metrics [`Router`]: which registry, which authentication.
    ///
    /// ```
    /// use microprofile::serve::{auth::Auth, MetricsRouter};
    /// let metrics: axum::Router = MetricsRouter::new()
    ///     .auth(Auth::bearer("s3cret"))
    ///     .into_router()
    ///     .expect("an authentication given in code is never refused");
    /// ```
    #[derive(Clone)]
    pub struct MetricsRouter {
        registry: &'static Registry,
        /// `None`: read from the environment when the router is made.
        auth: Option<Auth>,
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
        /// The global registry, with the authentication of the environment ([`Auth::from_env`],
        /// read by [`into_router`](Self::into_router)) unless [`auth`](Self::auth) sets one.
        pub fn new() -> MetricsRouter {
            MetricsRouter {
                registry: global(),
                auth: None,
            }
        }

        /// The registry to serve.
        pub fn registry(mut self, registry: &'static Registry) -> MetricsRouter {
            self.registry = registry;
            self
        }

        /// The authentication, instead of the environment's.
        pub fn auth(mut self, auth: Auth) -> MetricsRouter {
            self.auth = Some(auth);
            self
        }

        /// The router: `/metrics`, `/metrics/` and `/metrics/{*rest}`, any method (methods other
        /// than `GET` and `HEAD` get `405`, as from the built-in listener).
        ///
        /// Without [`auth`](Self::auth), the environment's authentication is read now; a
        /// malformed one is the error (the one `ServerError::Auth` holds
        /// when the built-in listener refuses to start on it). With `auth`, this never fails.
        pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Result<Router<S>, AuthError> {
            let endpoint = Arc::new(Endpoint::new(self.registry, self.auth)?);
            let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
                let endpoint = endpoint.clone();
                async move { endpoint.answer_http::<Body>(&method, &uri, &headers) as Response }
            };
            Ok(Router::new()
                .route("/metrics", any(handler.clone()))
                .route("/metrics/", any(handler.clone()))
                .route("/metrics/{*rest}", any(handler)))
        }
    }
}
