//! The connection handling shared by the built-in listener ([`crate::Server`]) and the axum
//! servers of [`crate::serve::router`] (`serve`, `serve_tls`): one accept loop bounded by a semaphore, and
//! one hyper HTTP/1.1 setup per connection with the header read timeout, the request head limits
//! and the write-stall timeout. Only what is served differs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// Hyper refuses a smaller read buffer (and panics on one), so smaller limits are raised to it.
pub(crate) const MIN_BUF_SIZE: usize = 8192;

/// The limits of one listener, with the defaults of the built-in listener. The setters clamp as
/// the public builders document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) keep_alive: bool,
    pub(crate) write_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 64,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            keep_alive: true,
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// Zero is raised to 1 ms.
    pub(crate) fn set_header_read_timeout(&mut self, timeout: Duration) {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
    }

    /// At least 1, at most what a semaphore holds.
    pub(crate) fn set_max_connections(&mut self, max: usize) {
        self.max_connections = max.clamp(1, Semaphore::MAX_PERMITS);
    }

    /// At least [`MIN_BUF_SIZE`].
    pub(crate) fn set_max_header_bytes(&mut self, max: usize) {
        self.max_header_bytes = max.max(MIN_BUF_SIZE);
    }

    /// Zero is raised to 1 ms.
    pub(crate) fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout.max(Duration::from_millis(1));
    }
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
pub(crate) async fn serve_http<I, S, B>(
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
