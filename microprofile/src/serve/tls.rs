//! TLS for the metrics endpoint (feature `tls`, rustls with the *ring* provider): a certificate
//! chain and its private key, from PEM in code, from files, or from the environment.
//!
//! | in code | environment |
//! |---|---|
//! | [`TlsConfig::from_pem`]`(cert, key)` / [`TlsConfig::from_pem_files`]`(cert_path, key_path)` | `MICROPROFILE_TLS_CERT=/path/cert.pem` and `MICROPROFILE_TLS_KEY=/path/key.pem` |
//!
//! The server speaks TLS 1.2 and 1.3 and offers ALPN `http/1.1`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The environment variable naming the PEM file of the certificate chain.
pub const CERT_ENV: &str = "MICROPROFILE_TLS_CERT";
/// The environment variable naming the PEM file of the private key.
pub const KEY_ENV: &str = "MICROPROFILE_TLS_KEY";

/// Why a TLS configuration cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The certificate PEM holds no certificate, or one that does not parse.
    #[error("no usable certificate in the certificate PEM (expected `-----BEGIN CERTIFICATE-----` blocks): {0}")]
    Certificate(String),
    /// The key PEM holds no private key, or one that does not parse.
    #[error("no usable private key in the key PEM (expected PKCS#8, PKCS#1 or SEC1): {0}")]
    Key(String),
    /// rustls refused the pair (for example the key does not match the certificate).
    #[error("the certificate and key cannot be used: {0}")]
    Rejected(#[from] rustls::Error),
    /// Only one of the two environment variables is set.
    #[error("{CERT_ENV} and {KEY_ENV} must be set together")]
    Incomplete,
}

/// A server certificate and key, ready to accept TLS connections. Cheap to clone.
///
/// ```
/// use microprofile::serve::tls::{TlsConfig, TlsError};
/// // Garbage is an error that says what was expected, never a panic.
/// let error = TlsConfig::from_pem(b"not a certificate", b"not a key").unwrap_err();
/// assert!(matches!(error, TlsError::Certificate(_)));
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// From a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<TlsConfig, TlsError> {
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsError::Certificate("none found".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Key(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// From a PEM file holding the certificate chain and one holding the private key.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        TlsConfig::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// From the files named by [`CERT_ENV`] and [`KEY_ENV`]; `Ok(None)` when neither is set (or
    /// both are empty), an error when only one is.
    pub fn from_env() -> Result<Option<TlsConfig>, TlsError> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        match (var(CERT_ENV), var(KEY_ENV)) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => TlsConfig::from_pem_files(cert, key).map(Some),
            _ => Err(TlsError::Incomplete),
        }
    }

    /// Runs the server side of the handshake on `stream`, within `timeout` (a client that never
    /// completes it cannot hold the connection).
    pub async fn accept(
        &self,
        stream: TcpStream,
        timeout: Duration,
    ) -> io::Result<TlsStream<TcpStream>> {
        match tokio::time::timeout(timeout, self.acceptor.accept(stream)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake not completed in time",
            )),
        }
    }
}
