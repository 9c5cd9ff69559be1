//! The one connection path of every server here: the built-in listener ([`crate::Server`], and
//! through it the `microprofile-exporter` binary) and the axum servers ([`crate::serve::serve`],
//! [`crate::serve::serve_tls`]) all run [`serve`]: one accept loop bounded by a semaphore, the
//! TLS-or-plain branch, and one hyper HTTP/1.1 setup per connection with the header read timeout,
//! the request head limits and the write-stall timeout. Only the service differs (the endpoint,
//! or an axum application).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::metric::counter::Counter;
use crate::metric::gauge::ConcurrentGauge;
use crate::serve::limits::{Limits, MIN_BUF_SIZE};

#[cfg(feature = "tls")]
pub(crate) use crate::serve::tls::TlsConfig;
/// Without feature `tls` there is no TLS configuration to give: every connection is plain.
#[cfg(not(feature = "tls"))]
pub(crate) type TlsConfig = std::convert::Infallible;

/// The TLS configuration of a server: `None` serves plain HTTP.
pub(crate) type Tls = Option<TlsConfig>;

/// What a server counts of its connections (the built-in listener's own metrics).
pub(crate) struct ConnectionCounts {
    /// Connections being served.
    pub(crate) open: &'static ConcurrentGauge,
    /// Connections that ended on an error: a failed TLS handshake, a malformed or oversized
    /// request, a timeout, or a client gone mid-request.
    pub(crate) errors: &'static Counter,
}

/// Why a connection ended on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionError {
    /// The TLS handshake failed or did not complete within the header read timeout.
    #[cfg(feature = "tls")]
    Handshake,
    /// A malformed or oversized request, a timeout, or a client gone mid-request.
    Http,
}

/// Serves `service` on `listener` until `stopped` turns `true` (see [`accept_loop`] for the
/// connection bound and the graceful close), each connection over TLS when `tls` is given (see
/// [`serve_connection`]). `counts`, when given, counts the open connections and those that end
/// on an error.
pub(crate) async fn serve<S, B>(
    listener: TcpListener,
    limits: Limits,
    tls: Tls,
    stopped: watch::Receiver<bool>,
    service: S,
    counts: Option<&'static ConnectionCounts>,
) where
    S: HttpService<Incoming, ResBody = B> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    accept_loop(listener, limits, stopped, |stream, stopped| {
        let service = service.clone();
        // Without feature `tls` the configuration is a `Copy` `None`.
        #[cfg_attr(not(feature = "tls"), allow(clippy::clone_on_copy))]
        let tls = tls.clone();
        async move {
            let _open = counts.map(|counts| counts.open.enter());
            let served = serve_connection(stream, &limits, tls.as_ref(), service, stopped).await;
            if let (Err(_), Some(counts)) = (served, counts) {
                counts.errors.inc();
            }
        }
    })
    .await;
}

/// Serves one accepted connection: the TLS handshake first when `tls` is given (it must complete
/// within the header read timeout), then HTTP/1.1 as [`serve_http`] does.
pub(crate) async fn serve_connection<S, B>(
    stream: TcpStream,
    limits: &Limits,
    tls: Option<&TlsConfig>,
    service: S,
    stopped: watch::Receiver<bool>,
) -> Result<(), ConnectionError>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let served = match tls {
        #[cfg(feature = "tls")]
        Some(tls) => match tls.accept(stream, limits.header_read_timeout).await {
            Ok(stream) => serve_http(TokioIo::new(stream), limits, service, stopped).await,
            Err(_) => return Err(ConnectionError::Handshake),
        },
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
        None => serve_http(TokioIo::new(stream), limits, service, stopped).await,
    };
    served.map_err(|_| ConnectionError::Http)
}

/// Resolves once `true` is sent (or the sender is gone).
pub(crate) async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Accepts connections on `listener` until `stopped` turns `true`, at most
/// [`Limits::max_connections`] served at once, each by the future `serve` makes of it (given a
/// receiver of the stop signal, for a graceful close). Connections beyond the limit are not
/// accepted until a slot frees: they wait in the operating system's accept queue.
///
/// Once stopped, the listener is closed and the connections get [`Limits::shutdown_grace`] to
/// finish; those left are closed when this returns. Dropping the future closes them all at once.
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
    mut serve: F,
) where
    F: FnMut(TcpStream, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        // Wait for a free slot before accepting, so excess connections queue in the kernel.
        let permit = tokio::select! {
            biased;
            _ = stop_requested(&mut stopped) => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = stop_requested(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors or a connection reset before it was accepted:
                    // pause briefly rather than spin, then go on.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let connection = serve(stream, stopped.clone());
        connections.spawn(async move {
            let _permit = permit;
            connection.await;
        });
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(limits.shutdown_grace, drain).await;
    // Dropping the set closes whatever is left.
}

/// Serves HTTP/1.1 on one connection (plain or TLS) with the limits: the header read timeout
/// (also the keep-alive idle timeout), the request head's size and header count (`431` beyond),
/// and the write-stall timeout. Once `stopped` turns `true`, the request in flight is finished
/// and the connection closed. An error is a connection closed on a malformed or oversized
/// request, a timeout, or a client gone mid-request.
async fn serve_http<I, S, B>(
    io: I,
    limits: &Limits,
    service: S,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_BUF_SIZE))
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers)
        .keep_alive(limits.keep_alive);
    let io = WriteTimeout::new(io, limits.write_timeout);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        _ = stop_requested(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}

/// A connection whose writes fail once they have made no progress for `timeout`.
struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    /// Running while a write is pending; reset by any progress.
    stall: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteTimeout<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stall: None,
        }
    }

    /// Turns a pending write into an error once the stall has lasted `timeout`.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stall = None;
            return poll;
        }
        let timeout = self.timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stall = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading the response",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for WriteTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for WriteTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll)
    }
}
