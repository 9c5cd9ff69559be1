//! Web integrations: an axum `Router` serving `/metrics` (feature `axum`) and a
//! tower [`Layer`](tower_layer::Layer) measuring every request of a service (feature `tower`).
//!
//! Three lines add both to an axum application:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//!
//! let app: Router = Router::new()
//!     .route("/hello", get(|| async { "hello" }))
//!     .merge(microprofile::web::router())                 // GET /metrics, /metrics/{scope}/{name}
//!     .layer(microprofile::web::HttpMetricsLayer::new()); // latency, count, in-flight
//! # }
//! ```
//!
//! # The router
//!
//! `router()` serves the routes of the built-in listener (`/metrics`, `/metrics/{scope}`,
//! `/metrics/{scope}/{name}`, `?scope=&name=`), with the same negotiation, status codes and headers:
//! its handler passes the request's method, path, query, `Accept` and `Accept-Encoding` headers
//! to [`crate::http::respond_encoded`], as the built-in listener does, so a large scrape that
//! accepts gzip goes out gzipped (see [`crate::http`]). Authentication comes from the
//! environment (see [`crate::auth`]) unless set with `MetricsRouter::auth`.
//!
//! # Serving
//!
//! `serve(listener, app)` (features `axum` and `server`) runs an application with the limits and
//! timeouts of the built-in listener, from the same code: a header read timeout (a client that
//! connects and sends nothing is closed after 10 s), bounds on the request head (16 KiB, 100
//! headers; `431` beyond), at most 64 connections at once (more wait in the accept queue), and a
//! write-stall timeout. `axum::serve` has no header read timeout, connection bound or write
//! timeout; when no reverse proxy that enforces its own limits is in front, prefer
//! `microprofile::web::serve(listener, app).await?`. `Serve`
//! configures each limit, a graceful shutdown and, with the feature `tls`, HTTPS; `serve_tls`
//! serves a router (the metrics alone, or a whole application) over HTTPS.
//!
//! # The layer's metrics (scope `vendor`)
//!
//! | name | type | labels |
//! |---|---|---|
//! | `http_server_request_duration_seconds` | timer (histogram, seconds) | `method`, `route`, `status` |
//! | `http_server_requests_total` | counter | `method`, `route`, `status` |
//! | `http_server_active_requests` | gauge | none |
//!
//! These names are stable. The labels are bounded by construction (constant labels given to
//! [`HttpMetricsLayerBuilder::constant_label`] come on top, on all three):
//! - `method`: `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `CONNECT`, `OPTIONS`, `TRACE`, `PATCH`, or
//!   `OTHER` for any other method.
//! - `route`: the route template that matched (axum's `MatchedPath`,
//!   such as `/users/{id}`), never the URL asked for; a request no route matched (a 404 from the
//!   fallback, a scanner's probe) is `unmatched`. Without axum, a service may insert a
//!   [`RouteTemplate`] into the request's extensions before the layer sees it.
//! - `status`: the response's status code (`200`, `404`, …), or `error` when the service returned
//!   an error instead of a response.
//!
//! The duration runs from the call to the response head being ready (a streamed body is not
//! included). A request whose future is dropped before it completes (the client went away) or that
//! panics is not recorded, but always leaves `http_server_active_requests`: the gauge is held by a
//! guard inside the response future.
//!
//! Install the layer with `Router::layer`, so it runs after routing and sees the matched route.
//! Wrapped around a whole `Router` from outside (`ServiceBuilder`, `Layer::layer(router)`), it
//! sees no route and labels every request `unmatched`.
//!
//! # The layer's options
//!
//! [`HttpMetricsLayer::new`] records every route with the default buckets (5 ms to 10 s) and no
//! constant label. [`HttpMetricsLayer::builder`] sets, each checked by
//! [`build`](HttpMetricsLayerBuilder::build) (a typed [`LayerError`], nothing panics):
//! - [`buckets`](HttpMetricsLayerBuilder::buckets): the duration histogram's bounds in seconds.
//! - [`exclude_metrics_routes`](HttpMetricsLayerBuilder::exclude_metrics_routes) (the scrapes of
//!   [`router()`], otherwise `route="/metrics/{*rest}"`),
//!   [`exclude_route`](HttpMetricsLayerBuilder::exclude_route) (one template) and
//!   [`exclude_prefix`](HttpMetricsLayerBuilder::exclude_prefix) (templates under a path): such
//!   requests are neither timed, counted nor in flight. They match the route template, so they
//!   need the layer to see it (installed with `Router::layer`).
//! - [`constant_label`](HttpMetricsLayerBuilder::constant_label): a label with a fixed value on
//!   every series, with the naming rules of tags; `method`, `route` and `status` are taken.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use microprofile::web::HttpMetricsLayer;
//!
//! let layer = HttpMetricsLayer::builder()
//!     .buckets([0.001, 0.01, 0.1, 1.0])
//!     .exclude_metrics_routes()
//!     .constant_label("team", "checkout")
//!     .build()
//!     .expect("valid layer options");
//! let app: Router = Router::new()
//!     .route("/hello", get(|| async { "hello" }))
//!     .merge(microprofile::web::router())
//!     .layer(layer);
//! # }
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ::http::{Method, Request, Response};
use parking_lot::Mutex;

use crate::counter::Counter;
use crate::family::{Family, LabelSet};
use crate::gauge::Gauge;
use crate::histogram::Timer;
use crate::metadata::{Metadata, Scope};
use crate::registry::{global, Handle, Registry};

/// The name of the request-duration timer (exposed as is: it already ends in `_seconds`).
pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// The name of the request counter (exposed as `http_server_requests_total`).
pub const REQUESTS: &str = "http_server_requests";
/// The name of the gauge of requests in flight.
pub const ACTIVE_REQUESTS: &str = "http_server_active_requests";
/// The `route` label of a request that no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The `method` label of a method outside the standard set.
pub const OTHER_METHOD: &str = "OTHER";
/// The `status` label of a request whose service returned an error instead of a response.
pub const ERROR_STATUS: &str = "error";

/// The route template of a request, for services not routed by axum: insert it into the request's
/// extensions before [`HttpMetricsLayer`] sees the request, and it becomes the `route` label. Only
/// put templates there (`/users/{id}`), never the path asked for, or the number of series grows
/// with every distinct URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteTemplate(pub Cow<'static, str>);

/// The labels of one series of the layer's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RequestLabels {
    method: &'static str,
    route: Cow<'static, str>,
    /// A status code, or 0 for [`ERROR_STATUS`].
    status: u16,
}

impl LabelSet for RequestLabels {
    const NAMES: &'static [&'static str] = &["method", "route", "status"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.method);
        f(&self.route);
        if self.status == 0 {
            f(ERROR_STATUS);
        } else {
            f(itoa::Buffer::new().format(self.status));
        }
    }
}

/// The method as a label: one of a fixed set, so a client cannot invent new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => OTHER_METHOD,
    }
}

/// The route template of a request: axum's matched path, else a [`RouteTemplate`], else
/// [`UNMATCHED_ROUTE`].
fn route_label<B>(request: &Request<B>) -> Cow<'static, str> {
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Cow::Owned(matched.as_str().to_owned());
    }
    match request.extensions().get::<RouteTemplate>() {
        Some(RouteTemplate(route)) => route.clone(),
        None => Cow::Borrowed(UNMATCHED_ROUTE),
    }
}

/// What a layer's metrics are registered with. Layers of one registry with the same settings
/// share their metrics; other constant labels make other series of the same families.
#[derive(Debug, Clone, PartialEq, Default)]
struct MetricsConfig {
    /// `None`: the default buckets of [`Timer::new`].
    buckets: Option<Vec<f64>>,
    /// Sorted by name.
    labels: Vec<(String, String)>,
}

impl MetricsConfig {
    fn metadata(&self, name: &'static str, description: &'static str) -> Metadata {
        self.labels.iter().fold(
            Metadata::new(name)
                .description(description)
                .scope(Scope::Vendor),
            |metadata, (label, value)| metadata.with_tag(label.clone(), value.clone()),
        )
    }
}

/// The layer's metrics in one registry.
struct HttpMetrics {
    duration: Arc<Family<RequestLabels, Timer>>,
    requests: Arc<Family<RequestLabels, Counter>>,
    active: Handle<Gauge>,
}

impl HttpMetrics {
    /// Registers the metrics in `registry`. When `strict`, the first registration refused is
    /// returned; otherwise it is reported on stderr, and the layer still records, unexposed.
    fn register(
        registry: &Registry,
        config: &MetricsConfig,
        strict: bool,
    ) -> Result<HttpMetrics, crate::Error> {
        let timer = match &config.buckets {
            Some(buckets) => Timer::try_with_buckets(buckets.clone())?,
            None => Timer::new(),
        };
        let duration = Arc::new(Family::new(timer));
        let requests = Arc::new(Family::new(Counter::new()));
        let refused = |error: crate::Error| {
            if strict {
                return Err(error);
            }
            eprintln!("microprofile: the HTTP request metrics are not exposed: {error}");
            Ok(())
        };
        if let Err(error) = registry.register(
            config.metadata(
                REQUEST_DURATION,
                "Duration of HTTP requests served, until the response head.",
            ),
            duration.clone(),
        ) {
            refused(error)?;
        }
        if let Err(error) = registry.register(
            config.metadata(REQUESTS, "HTTP requests served."),
            requests.clone(),
        ) {
            refused(error)?;
        }
        let active = match registry
            .gauge(config.metadata(ACTIVE_REQUESTS, "HTTP requests being served now."))
        {
            Ok(active) => active,
            Err(error) => {
                refused(error)?;
                Handle::Shared(Arc::new(Gauge::new()))
            }
        };
        Ok(HttpMetrics {
            duration,
            requests,
            active,
        })
    }

    /// The metrics of `registry` with `config`, registered on first use.
    fn of(
        registry: &'static Registry,
        config: &MetricsConfig,
        strict: bool,
    ) -> Result<Arc<HttpMetrics>, crate::Error> {
        type Cache = Vec<(usize, MetricsConfig, Arc<HttpMetrics>)>;
        // Layers are made once per service, not per request: a list is enough.
        static CACHE: Mutex<Cache> = Mutex::new(Vec::new());
        let key = registry as *const Registry as usize;
        let mut cache = CACHE.lock();
        if let Some((_, _, metrics)) = cache.iter().find(|(k, c, _)| *k == key && c == config) {
            return Ok(metrics.clone());
        }
        let metrics = Arc::new(HttpMetrics::register(registry, config, strict)?);
        cache.push((key, config.clone(), metrics.clone()));
        Ok(metrics)
    }
}

/// Counts a request in flight until dropped, so a panic or a dropped future still leaves.
struct InFlight(Arc<HttpMetrics>);

impl InFlight {
    fn enter(metrics: Arc<HttpMetrics>) -> InFlight {
        metrics.active.inc();
        InFlight(metrics)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.active.dec();
    }
}

/// A tower [`Layer`](tower_layer::Layer) that records the latency, count and in-flight number of
/// the requests of the service it wraps (see the [module docs](self) for names and labels).
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{routing::get, Router};
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "a user" }))
///     .layer(microprofile::web::HttpMetricsLayer::new());
/// # }
/// ```
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Arc<HttpMetrics>,
    exclusions: Arc<Exclusions>,
}

impl std::fmt::Debug for HttpMetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetricsLayer")
            .field("exclusions", &self.exclusions)
            .finish_non_exhaustive()
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        HttpMetricsLayer::new()
    }
}

impl HttpMetricsLayer {
    /// Records into the global registry, with the default buckets, every route and no constant
    /// label. A registration the registry refuses (the names are taken by metrics of another
    /// type) is reported on stderr and the layer records unexposed; [`builder`](Self::builder)
    /// returns such errors instead.
    pub fn new() -> HttpMetricsLayer {
        HttpMetricsLayer::with_registry(global())
    }

    /// Records into `registry`. Every layer of one registry shares the same metrics.
    pub fn with_registry(registry: &'static Registry) -> HttpMetricsLayer {
        let config = MetricsConfig::default();
        let metrics = HttpMetrics::of(registry, &config, false).unwrap_or_else(|_| {
            // Not strict: registration errors were reported, not returned; only invalid
            // buckets could fail, and the defaults are valid. Record unexposed all the same.
            Arc::new(HttpMetrics {
                duration: Arc::new(Family::new(Timer::new())),
                requests: Arc::new(Family::new(Counter::new())),
                active: Handle::Shared(Arc::new(Gauge::new())),
            })
        });
        HttpMetricsLayer {
            metrics,
            exclusions: Arc::new(Exclusions::default()),
        }
    }

    /// A builder for a layer with other buckets, routes left out, or constant labels.
    ///
    /// ```
    /// # fn main() -> Result<(), microprofile::web::LayerError> {
    /// use microprofile::web::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::builder()
    ///     .buckets([0.005, 0.025, 0.1, 0.5, 2.5])
    ///     .exclude_metrics_routes()   // the scrapes of `web::router()`
    ///     .exclude_prefix("/internal") // `/internal`, `/internal/{*rest}`, ...
    ///     .constant_label("team", "checkout")
    ///     .build()?;
    /// # let _ = layer;
    ///
    /// // Names are checked as for any metric.
    /// assert!(HttpMetricsLayer::builder().constant_label("le", "1").build().is_err());
    /// assert!(HttpMetricsLayer::builder().buckets([1.0, 0.5]).build().is_err());
    /// assert!(HttpMetricsLayer::builder().exclude_route("metrics").build().is_err());
    /// # Ok(()) }
    /// ```
    pub fn builder() -> HttpMetricsLayerBuilder {
        HttpMetricsLayerBuilder::new()
    }
}

/// The route templates [`router()`](crate::web::router) serves, as the layer sees them when the
/// router is merged at the root: what
/// [`exclude_metrics_routes`](HttpMetricsLayerBuilder::exclude_metrics_routes) leaves out.
pub const METRICS_ROUTES: [&str; 3] = ["/metrics", "/metrics/", "/metrics/{*rest}"];

/// Why [`HttpMetricsLayerBuilder::build`] refused the options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// Buckets that are not strictly increasing finite numbers, a constant label whose name
    /// breaks the naming rules (or is one of the layer's own `method`, `route` and `status`),
    /// or a registration the registry refused (for example the same constant labels again with
    /// other buckets, or other label names than another layer of the registry uses).
    #[error("cannot build the HTTP metrics layer: {0}")]
    Metric(#[from] crate::Error),
    /// A route to leave out that is not a route template or prefix.
    #[error("cannot build the HTTP metrics layer: invalid route {route:?} to leave out: {reason}")]
    InvalidRoute {
        /// The route as given.
        route: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Configures an [`HttpMetricsLayer`]; made by [`HttpMetricsLayer::builder`]. Nothing is
/// checked or registered until [`build`](Self::build).
///
/// The defaults are those of [`HttpMetricsLayer::new`]: the global registry, the buckets of
/// [`Timer::new`] (5 ms to 10 s), every route recorded, no constant label.
#[derive(Clone)]
pub struct HttpMetricsLayerBuilder {
    registry: &'static Registry,
    config: MetricsConfig,
    exclusions: Exclusions,
}

impl std::fmt::Debug for HttpMetricsLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetricsLayerBuilder")
            .field("buckets", &self.config.buckets)
            .field("constant_labels", &self.config.labels)
            .field("exclusions", &self.exclusions)
            .finish_non_exhaustive()
    }
}

impl Default for HttpMetricsLayerBuilder {
    fn default() -> Self {
        HttpMetricsLayerBuilder::new()
    }
}

impl HttpMetricsLayerBuilder {
    /// The defaults (see the type's docs).
    pub fn new() -> HttpMetricsLayerBuilder {
        HttpMetricsLayerBuilder {
            registry: global(),
            config: MetricsConfig::default(),
            exclusions: Exclusions::default(),
        }
    }

    /// The registry to record into (default: [`global()`](crate::global)).
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// The upper bounds, in seconds, of the request-duration histogram's buckets (finite and
    /// strictly increasing; `+Inf` is implicit). See [`crate::Buckets`] for generated lists.
    pub fn buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.config.buckets = Some(bounds.into());
        self
    }

    /// Leaves out requests whose route template (the `route` label) is exactly `route`: they
    /// are neither timed, nor counted, nor in flight. A template starts with `/`
    /// (`/health`, `/users/{id}`); [`UNMATCHED_ROUTE`] leaves out requests no route matched.
    pub fn exclude_route(mut self, route: impl Into<String>) -> Self {
        self.exclusions.routes.push(route.into());
        self
    }

    /// Leaves out requests whose route template starts with `prefix` at a segment boundary:
    /// `/internal` leaves out `/internal`, `/internal/` and `/internal/{*rest}`, not
    /// `/internals`. The prefix starts with `/`.
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.exclusions.prefixes.push(prefix.into());
        self
    }

    /// Leaves out the scrapes of the metrics router ([`METRICS_ROUTES`]: `/metrics`,
    /// `/metrics/` and `/metrics/{*rest}`), which would otherwise be recorded as
    /// `route="/metrics/{*rest}"`. For the router nested under another path
    /// (`Router::nest("/admin", router())`), use `exclude_prefix("/admin/metrics")`.
    pub fn exclude_metrics_routes(mut self) -> Self {
        self.exclusions
            .routes
            .extend(METRICS_ROUTES.iter().map(|r| (*r).to_owned()));
        self
    }

    /// Adds a label with a fixed value to every series of the layer's three metrics (as a tag
    /// of their metadata, so the naming rules of tags apply). Layers of one registry with other
    /// values make other series of the same families; they must use the same label names.
    pub fn constant_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.labels.push((name.into(), value.into()));
        self
    }

    /// Checks the options, registers the metrics (or finds those of an earlier layer with the
    /// same registry, buckets and constant labels) and makes the layer.
    ///
    /// # Errors
    ///
    /// [`LayerError::InvalidRoute`] for a route or prefix not starting with `/`;
    /// [`LayerError::Metric`] for invalid buckets, an invalid, reserved or repeated constant
    /// label name, or a registration the registry refuses. When a registration is refused, the
    /// metrics registered before it stay registered.
    pub fn build(self) -> Result<HttpMetricsLayer, LayerError> {
        let HttpMetricsLayerBuilder {
            registry,
            mut config,
            exclusions,
        } = self;
        for route in &exclusions.routes {
            if !route.starts_with('/') && route != UNMATCHED_ROUTE {
                return Err(LayerError::InvalidRoute {
                    route: route.clone(),
                    reason: "a route template starts with `/` (or is `unmatched`)",
                });
            }
        }
        for prefix in &exclusions.prefixes {
            if !prefix.starts_with('/') {
                return Err(LayerError::InvalidRoute {
                    route: prefix.clone(),
                    reason: "a route prefix starts with `/`",
                });
            }
        }
        if let Some(buckets) = &config.buckets {
            crate::histogram::Buckets::check(buckets)?;
        }
        for (name, _) in &config.labels {
            if RequestLabels::NAMES.contains(&name.as_str()) {
                return Err(LayerError::Metric(crate::Error::InvalidTagName {
                    name: name.clone(),
                    reason: "`method`, `route` and `status` are the labels the layer sets itself",
                }));
            }
        }
        // The registry's own check (names, reserved names, a name given twice).
        config.metadata(REQUESTS, "").validate()?;
        config.labels.sort();
        let metrics = HttpMetrics::of(registry, &config, true)?;
        Ok(HttpMetricsLayer {
            metrics,
            exclusions: Arc::new(exclusions),
        })
    }
}

/// The routes a layer leaves out.
#[derive(Debug, Clone, Default)]
struct Exclusions {
    routes: Vec<String>,
    prefixes: Vec<String>,
}

impl Exclusions {
    fn excludes(&self, route: &str) -> bool {
        self.routes.iter().any(|r| r == route)
            || self.prefixes.iter().any(|prefix| {
                route.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/')
                })
            })
    }
}

impl<S> tower_layer::Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;
    fn layer(&self, inner: S) -> HttpMetricsService<S> {
        HttpMetricsService {
            inner,
            metrics: self.metrics.clone(),
            exclusions: self.exclusions.clone(),
        }
    }
}

/// The service made by [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    metrics: Arc<HttpMetrics>,
    exclusions: Arc<Exclusions>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for HttpMetricsService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetricsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for HttpMetricsService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = method_label(request.method());
        let route = route_label(&request);
        if self.exclusions.excludes(&route) {
            return ResponseFuture {
                inner: self.inner.call(request),
                recording: None,
            };
        }
        let in_flight = InFlight::enter(self.metrics.clone());
        let start = Instant::now();
        ResponseFuture {
            inner: self.inner.call(request),
            recording: Some(Recording {
                method,
                route,
                start,
                in_flight,
            }),
        }
    }
}

struct Recording {
    method: &'static str,
    route: Cow<'static, str>,
    start: Instant,
    in_flight: InFlight,
}

impl Recording {
    fn finish(self, status: u16) {
        let elapsed = self.start.elapsed();
        let metrics = &self.in_flight.0;
        let labels = RequestLabels {
            method: self.method,
            route: self.route,
            status,
        };
        metrics.duration.with(&labels).record(elapsed);
        metrics.requests.with(&labels).inc();
        // `self.in_flight` drops here and leaves the gauge.
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`HttpMetricsService`]: records when the inner future completes,
    /// and leaves the in-flight gauge when dropped, completed or not.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recording: Option<Recording>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(recording) = this.recording.take() {
            let status = match &result {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            };
            recording.finish(status);
        }
        Poll::Ready(result)
    }
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::router::{router, MetricsRouter};
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

    use crate::conn::Limits;

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
    /// let app: axum::Router = axum::Router::new().merge(microprofile::web::router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// microprofile::web::serve(listener, app).await?;
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
    /// let app: axum::Router = axum::Router::new().merge(microprofile::web::router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// // … `stop.send(())` from elsewhere ends serving.
    /// microprofile::web::Serve::new(listener, app)
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
        tls: Option<crate::tls::TlsConfig>,
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

        /// Serves HTTPS with this certificate and key (feature `tls`; see [`crate::tls`]).
        #[cfg(feature = "tls")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
        pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Self {
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
            let accept = crate::conn::accept_loop(listener, limits, stopped, |stream, stopped| {
                serve_connection(
                    stream,
                    app.clone(),
                    limits,
                    #[cfg(feature = "tls")]
                    tls.clone(),
                    stopped,
                )
            });
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
        #[cfg(feature = "tls")] tls: Option<crate::tls::TlsConfig>,
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
                let _ =
                    crate::conn::serve_http(TokioIo::new(stream), &limits, service, stopped).await;
            }
            return;
        }
        let _ = crate::conn::serve_http(TokioIo::new(stream), &limits, service, stopped).await;
    }

    /// Serves `app` over HTTPS (HTTP/1.1) on `listener` until the returned future is dropped:
    /// for applications that serve the metrics router (or everything) over TLS without a TLS
    /// terminator in front. Handshakes and request heads must complete within 10 s, and at
    /// most 256 connections are served at once; the other limits are those of [`serve`]. For
    /// other limits, or a graceful shutdown, use [`Serve::tls`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use microprofile::tls::TlsConfig;
    /// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
    /// microprofile::web::serve_tls(listener, microprofile::web::router(), tls).await;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub async fn serve_tls(listener: TcpListener, app: Router, tls: crate::tls::TlsConfig) {
        let _ = Serve::new(listener, app)
            .tls(tls)
            .max_connections(256)
            .await;
    }
}

#[cfg(feature = "axum")]
mod router {
    use std::sync::Arc;

    use ::http::header::{HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION};
    use ::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::body::Body;
    use axum::response::Response;
    use axum::routing::any;
    use axum::Router;

    use crate::auth::{Auth, AuthError};
    use crate::http::{EncodedResponse, MetricsResponse};
    use crate::registry::{global, Registry};

    /// An axum [`Router`] serving the global registry under `/metrics`, with the authentication
    /// configured in the environment ([`Auth::from_env`]). Merge it into an application with
    /// [`Router::merge`], or nest it elsewhere with [`Router::nest`].
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new().merge(microprofile::web::router());
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
        MetricsRouter::new().into_router()
    }

    /// Configures the metrics [`Router`]: which registry, which authentication.
    ///
    /// ```
    /// use microprofile::{auth::Auth, web::MetricsRouter};
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
                        crate::http::respond_encoded(
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

    /// Several `name` headers joined with `,`, as [`crate::http::respond_encoded`] takes them.
    fn join_headers(headers: &HeaderMap, name: HeaderName) -> Option<String> {
        crate::http::join_header_values(headers.get_all(name).iter().map(|v| v.as_bytes()))
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap()),
            OTHER_METHOD
        );
        let request = Request::new(());
        assert_eq!(route_label(&request), UNMATCHED_ROUTE);
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(RouteTemplate(Cow::Borrowed("/users/{id}")));
        assert_eq!(route_label(&request), "/users/{id}");
        let labels = RequestLabels {
            method: "GET",
            route: Cow::Borrowed("/"),
            status: 0,
        };
        assert_eq!(
            crate::family::render(&labels),
            "method=\"GET\",route=\"/\",status=\"error\""
        );
    }

    #[test]
    fn exclusions_match_templates_and_segment_prefixes() {
        let exclusions = Exclusions {
            routes: vec!["/health".to_owned(), UNMATCHED_ROUTE.to_owned()],
            prefixes: vec!["/internal".to_owned(), "/admin/".to_owned()],
        };
        for excluded in [
            "/health",
            "unmatched",
            "/internal",
            "/internal/",
            "/internal/{*rest}",
            "/internal/a/b",
            "/admin/",
            "/admin/{id}",
        ] {
            assert!(exclusions.excludes(excluded), "{excluded}");
        }
        for kept in [
            "/health/",
            "/healthz",
            "/internals",
            "/internal_x",
            "/admin",
            "/",
            "",
            "/metrics/{*rest}",
        ] {
            assert!(!exclusions.excludes(kept), "{kept}");
        }
        assert!(!Exclusions::default().excludes("/anything"));
        let everything = Exclusions {
            routes: Vec::new(),
            prefixes: vec!["/".to_owned()],
        };
        assert!(everything.excludes("/x/y") && everything.excludes("/"));
        assert!(!everything.excludes(UNMATCHED_ROUTE));
    }
}
