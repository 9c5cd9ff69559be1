//! The limits and timeouts of a server: one type, with one set of setters and their clamping,
//! for the built-in listener ([`ServerBuilder`](crate::ServerBuilder)) and the axum servers
//! ([`Serve`](crate::serve::Serve)). Both builders get their setters from [`limit_setters!`],
//! so the methods, their documentation and their defaults are written once.

use std::time::Duration;

use tokio::sync::Semaphore;

/// Hyper refuses a smaller read buffer (and panics on one), so smaller limits are raised to it.
pub(crate) const MIN_BUF_SIZE: usize = 8192;

/// The limits of one server, with the defaults of the built-in listener. Set them only through
/// the setters, which clamp as the public builders document.
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

    /// Any count.
    pub(crate) fn set_max_headers(&mut self, max: usize) {
        self.max_headers = max;
    }

    /// On or off.
    pub(crate) fn set_keep_alive(&mut self, keep_alive: bool) {
        self.keep_alive = keep_alive;
    }

    /// Zero is raised to 1 ms.
    pub(crate) fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout.max(Duration::from_millis(1));
    }

    /// Any duration.
    pub(crate) fn set_shutdown_grace(&mut self, grace: Duration) {
        self.shutdown_grace = grace;
    }
}

/// The seven public limit setters of a builder with a `limits: Limits` field, each forwarding
/// to the [`Limits`] setter named after it. `shutdown` names, in the documentation of
/// `shutdown_grace`, what starts the shutdown.
macro_rules! limit_setters {
    (shutdown: $shutdown:literal) => {
        $crate::serve::limits::limit_setters! {@each
            /// How long a client may take to send a complete request head (and, with TLS, to
            /// complete the handshake), and how long a keep-alive connection may stay idle
            /// (default 10 s). Zero is raised to 1 ms.
            header_read_timeout(timeout: std::time::Duration) => set_header_read_timeout;
            /// How many connections are served at once (default 64; at least 1). Connections
            /// beyond it wait to be accepted.
            max_connections(max: usize) => set_max_connections;
            /// The largest request head (request line and headers) in bytes (default 16 KiB; at
            /// least 8 KiB, hyper's minimum buffer).
            max_header_bytes(max: usize) => set_max_header_bytes;
            /// The most headers a request may have (default 100).
            max_headers(max: usize) => set_max_headers;
            /// Whether a connection may carry more than one request (default `true`).
            keep_alive(keep_alive: bool) => set_keep_alive;
            /// How long writing a response may make no progress (the client does not read it)
            /// before the connection is closed (default 30 s). Zero is raised to 1 ms.
            write_timeout(timeout: std::time::Duration) => set_write_timeout;
            #[doc = concat!("How long, once ", $shutdown, ", requests in flight may finish before their connections are closed (default 5 s).")]
            shutdown_grace(grace: std::time::Duration) => set_shutdown_grace;
        }
    };
    (@each $($(#[$doc:meta])* $name:ident($arg:ident: $type:ty) => $setter:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $arg: $type) -> Self {
            self.limits.$setter($arg);
            self
        }
    )*};
}

pub(crate) use limit_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_clamp() {
        let mut limits = Limits::default();
        limits.set_max_header_bytes(10);
        limits.set_max_connections(0);
        limits.set_header_read_timeout(Duration::ZERO);
        limits.set_write_timeout(Duration::ZERO);
        assert_eq!(limits.max_header_bytes, MIN_BUF_SIZE);
        assert_eq!(limits.max_connections, 1);
        assert_eq!(limits.header_read_timeout, Duration::from_millis(1));
        assert_eq!(limits.write_timeout, Duration::from_millis(1));
        limits.set_max_connections(usize::MAX);
        assert_eq!(limits.max_connections, Semaphore::MAX_PERMITS);
    }
}
