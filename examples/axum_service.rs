//! A small axum web service with microprofile: handlers annotated with the macros, an outbound
//! HTTP call timed as `outbound_http_latency_seconds{region,path}`, the request-metrics layer on
//! every route, and the metrics at `/metrics`.
//!
//! ```sh
//! cargo run -p microprofile-examples --example axum_service
//! curl http://127.0.0.1:3000/items/7
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! The address is `127.0.0.1:3000`, or the first argument (`0.0.0.0:3000` exposes the service to
//! the network, and says so). `MICROPROFILE_BEARER_TOKEN` or `MICROPROFILE_BASIC_AUTH` protect
//! `/metrics` (see `microprofile::serve::auth`). It is served with `microprofile::serve::serve`, which
//! applies the built-in listener's limits and timeouts. Ctrl-C stops it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Greetings served.
#[microprofile::counted(name = "greetings")]
async fn hello() -> &'static str {
    "hello from microprofile\n"
}

/// Time to look up an item, the stock call included.
#[microprofile::timed(name = "item_lookup", outcome)]
async fn item(
    State(upstream): State<SocketAddr>,
    Path(id): Path<u32>,
) -> Result<String, (StatusCode, String)> {
    if id == 0 {
        return Err((StatusCode::NOT_FOUND, "no item 0\n".to_owned()));
    }
    let stock = fetch_stock(upstream, id)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("stock service: {e}\n")))?;
    Ok(format!("item {id}: {stock} in stock\n"))
}

/// Latency of outbound HTTP calls.
///
/// The "stock service" is a route of this same program, so the example needs no network; a real
/// service would call another host here (with reqwest, hyper's client, …).
#[microprofile::timed(
    name = "outbound_http_latency_seconds",
    tags(region = "eu-west-1", path = "/stock")
)]
async fn fetch_stock(upstream: SocketAddr, id: u32) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(upstream).await?;
    let request =
        format!("GET /stock/{id} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim().to_owned())
        .unwrap_or_default();
    Ok(body)
}

/// Requests in flight to the simulated stock service.
#[microprofile::concurrent_gauge(name = "stock_requests_in_flight")]
async fn stock(Path(id): Path<u32>) -> String {
    // Some latency, varying with the item, for the histograms to show.
    tokio::time::sleep(Duration::from_millis(u64::from(id % 7) * 3)).await;
    (u64::from(id) * 37 % 100).to_string()
}

/// The service: a few routes, the metrics router and the request-metrics layer. A malformed
/// `MICROPROFILE_BEARER_TOKEN` / `MICROPROFILE_BASIC_AUTH` is the error.
fn app(upstream: SocketAddr) -> Result<Router, microprofile::serve::auth::AuthError> {
    Ok(Router::new()
        .route("/", get(hello))
        .route("/items/{id}", get(item))
        .route("/stock/{id}", get(stock))
        .with_state(upstream)
        .merge(microprofile::serve::router()?)
        .layer(microprofile::instrument::HttpMetricsLayer::new()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr: SocketAddr = match std::env::args().nth(1).as_deref().map(str::parse) {
        None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        Some(Ok(addr)) => addr,
        Some(Err(e)) => {
            eprintln!("axum_service: the argument must be an address such as 127.0.0.1:3000: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !addr.ip().is_loopback() {
        eprintln!(
            "axum_service: listening on {addr}, which is not a loopback address: the service and its metrics are reachable from the network"
        );
    }
    microprofile_base::init();
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("axum_service: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(e) => {
            eprintln!("axum_service: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match app(local) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("axum_service: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("axum_service: try http://{local}/items/7, metrics at http://{local}/metrics");
    // `web::serve` rather than `axum::serve`: the built-in listener's limits and timeouts (a
    // client that sends half a request and stalls is closed after 10 s; axum's would be kept).
    let served = microprofile::serve::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum_service: {e}");
            ExitCode::FAILURE
        }
    }
}
