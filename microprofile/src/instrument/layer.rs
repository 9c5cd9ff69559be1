//! The tower layer; its documentation is the module `instrument`'s.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ::http::{Method, Request, Response};
use parking_lot::Mutex;

use crate::metadata::{Metadata, Scope};
use crate::metric::counter::Counter;
use crate::metric::family::{Family, LabelSet};
use crate::metric::gauge::Gauge;
use crate::metric::histogram::Timer;
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
/// the requests of the service it wraps (see the [module docs](crate::instrument) for names and labels).
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{routing::get, Router};
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "a user" }))
///     .layer(microprofile::instrument::HttpMetricsLayer::new());
/// # }
/// ```
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Arc<HttpMetrics>,
    exclusions: Arc<Exclusions>,
    after_response: Option<AfterResponse>,
}

/// Called when a recorded response is finished ([`HttpMetricsLayerBuilder::after_response`]).
type AfterResponse = Arc<dyn Fn() + Send + Sync>;

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
            after_response: None,
            metrics,
            exclusions: Arc::new(Exclusions::default()),
        }
    }

    /// A builder for a layer with other buckets, routes left out, or constant labels.
    ///
    /// ```
    /// # fn main() -> Result<(), microprofile::instrument::LayerError> {
    /// use microprofile::instrument::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::builder()
    ///     .buckets([0.005, 0.025, 0.1, 0.5, 2.5])
    ///     .exclude_metrics_routes()   // the scrapes of `serve::router()`
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

/// The route templates `serve::router()` serves, as the layer sees them when the
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
    after_response: Option<AfterResponse>,
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
            after_response: None,
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

    /// Calls `hook` when a recorded response is finished (its head ready, the request counted and
    /// timed, the in-flight gauge left), on the task that polled the response: the end of a
    /// request, where the design's Django and Flask middleware call `transfer()`. The hook runs
    /// in the response's path, so it must not block: to share the metrics through Redis, call
    /// `SharedStore::transfer_in_background` (feature `redis`: one background thread sends; calls
    /// made meanwhile coalesce; a slow Redis never slows a request). A hook that panics is caught: the response goes out as if it had none.
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// use microprofile::instrument::HttpMetricsLayer;
    /// use microprofile::redis::{SharedStore, StoreConfig};
    ///
    /// let store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:6379", "web")).unwrap();
    /// let layer = HttpMetricsLayer::builder()
    ///     .after_response(move || {
    ///         let _ = store.transfer_in_background();
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// # }
    /// ```
    pub fn after_response(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.after_response = Some(Arc::new(hook));
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
            after_response,
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
            crate::metric::histogram::Buckets::check(buckets)?;
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
        // A label given twice keeps its last value (as any tag given twice at run time), then
        // the labels are in name order.
        let mut labels: Vec<(String, String)> = Vec::with_capacity(config.labels.len());
        for (name, value) in config.labels.drain(..) {
            match labels.iter_mut().find(|(n, _)| *n == name) {
                Some(label) => label.1 = value,
                None => labels.push((name, value)),
            }
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        config.labels = labels;
        let metrics = HttpMetrics::of(registry, &config, true)?;
        Ok(HttpMetricsLayer {
            metrics,
            exclusions: Arc::new(exclusions),
            after_response,
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
            after_response: self.after_response.clone(),
        }
    }
}

/// The service made by [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    metrics: Arc<HttpMetrics>,
    exclusions: Arc<Exclusions>,
    after_response: Option<AfterResponse>,
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
                after_response: self.after_response.clone(),
            }),
        }
    }
}

struct Recording {
    method: &'static str,
    route: Cow<'static, str>,
    start: Instant,
    in_flight: InFlight,
    after_response: Option<AfterResponse>,
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
        drop(self.in_flight);
        if let Some(hook) = self.after_response {
            // A panicking hook must not take the response down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook()));
        }
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
            crate::metric::family::render(&labels),
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
