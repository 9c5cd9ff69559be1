//! TLS (feature `tls`): the metrics router served over HTTPS with `web::serve_tls`, checked by a
//! rustls client that trusts only the test CA (`tests/tls/`), with bearer authentication on top;
//! a plain-HTTP client and garbage do not stop it; bad certificates and keys are clear errors.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use microprofile::serve::auth::Auth;
use microprofile::serve::tls::{TlsConfig, TlsError};
use microprofile::serve::MetricsRouter;
use microprofile::{Metadata, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tls")
        .join(name)
}

fn server_config() -> TlsConfig {
    TlsConfig::from_pem_files(fixture("cert.pem"), fixture("key.pem")).unwrap()
}

fn client() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn serve(auth: Auth) -> SocketAddr {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.counter(Metadata::new("hits")).unwrap().inc_by(3);
    let app = MetricsRouter::new()
        .registry(registry)
        .auth(auth)
        .into_router()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(microprofile::serve::serve_tls(
        listener,
        app,
        server_config(),
    ));
    addr
}

/// One GET over TLS; the raw response.
async fn https_get(addr: SocketAddr, host: &str, headers: &str) -> std::io::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let mut stream = client().connect(name, stream).await?;
    let request = format!(
        "GET /metrics/application HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    Ok(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_over_tls_with_a_bearer_token() {
    let addr = serve(Auth::bearer("tls-token")).await;
    for host in ["localhost", "127.0.0.1"] {
        let ok = https_get(addr, host, "Authorization: Bearer tls-token\r\n")
            .await
            .unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("hits_total{mp_scope=\"application\"} 3"),
            "{ok}"
        );
        let refused = https_get(addr, host, "").await.unwrap();
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        assert!(refused
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer realm=\"metrics\""));
    }
    // A name the certificate does not carry is refused by the client.
    assert!(https_get(addr, "example.invalid", "").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_garbage_do_not_stop_it() {
    let addr = serve(Auth::None).await;
    // Plain HTTP on the TLS port: the handshake fails and the connection is closed.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    assert!(!String::from_utf8_lossy(&answer).contains("hits_total"));
    // Random bytes.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = garbage.write_all(&bytes).await;
    // A client that connects and says nothing holds one slot, not the server.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let ok = https_get(addr, "localhost", "").await.unwrap();
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
}

#[test]
fn bad_material_is_a_clear_error() {
    let cert = std::fs::read(fixture("cert.pem")).unwrap();
    let key = std::fs::read(fixture("key.pem")).unwrap();
    assert!(TlsConfig::from_pem(&cert, &key).is_ok());
    assert!(matches!(
        TlsConfig::from_pem(b"", &key),
        Err(TlsError::Certificate(_))
    ));
    assert!(matches!(
        TlsConfig::from_pem(
            &cert,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        ),
        Err(TlsError::Key(_) | TlsError::Rejected(_))
    ));
    // The key of another certificate: here the certificate's own PEM given as the key.
    assert!(TlsConfig::from_pem(&cert, &cert).is_err());
    let missing = TlsConfig::from_pem_files(fixture("nope.pem"), fixture("key.pem")).unwrap_err();
    assert!(matches!(missing, TlsError::Read { .. }));
    assert!(missing.to_string().contains("nope.pem"), "{missing}");
}

/// Serializes the tests that set the TLS environment variables.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn configuration_from_the_environment() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var(microprofile::serve::tls::CERT_ENV);
    std::env::remove_var(microprofile::serve::tls::KEY_ENV);
    assert!(TlsConfig::from_env().unwrap().is_none());
    std::env::set_var(microprofile::serve::tls::CERT_ENV, fixture("cert.pem"));
    assert!(matches!(TlsConfig::from_env(), Err(TlsError::Incomplete)));
    std::env::set_var(microprofile::serve::tls::KEY_ENV, fixture("key.pem"));
    assert!(TlsConfig::from_env().unwrap().is_some());
    std::env::remove_var(microprofile::serve::tls::CERT_ENV);
    std::env::remove_var(microprofile::serve::tls::KEY_ENV);
}

/// The built-in listener over TLS, with basic auth, and a plain-HTTP client that does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_listener_over_tls() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.counter(Metadata::new("hits")).unwrap().inc_by(3);
    let server = microprofile::Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry)
        .auth(Auth::basic("prometheus", "pw"))
        .tls(server_config())
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    assert!(!String::from_utf8_lossy(&answer).contains("hits_total"));
    // base64("prometheus:pw")
    let ok = https_get(
        addr,
        "localhost",
        "Authorization: Basic cHJvbWV0aGV1czpwdw==\r\n",
    )
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("hits_total{mp_scope=\"application\"} 3"),
        "{ok}"
    );
    let refused = https_get(addr, "127.0.0.1", "").await.unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused
        .to_ascii_lowercase()
        .contains("www-authenticate: basic realm=\"metrics\""));
    tokio::task::spawn_blocking(move || server.shutdown())
        .await
        .unwrap();
}

/// A malformed TLS environment stops the listener from starting, rather than serving plain HTTP.
#[test]
fn built_in_listener_refuses_a_broken_tls_environment() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(microprofile::serve::tls::CERT_ENV, fixture("cert.pem"));
    std::env::set_var(
        microprofile::serve::tls::KEY_ENV,
        fixture("missing-key.pem"),
    );
    let error = microprofile::Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .start()
        .unwrap_err();
    std::env::remove_var(microprofile::serve::tls::CERT_ENV);
    std::env::remove_var(microprofile::serve::tls::KEY_ENV);
    assert!(error.to_string().contains("missing-key.pem"), "{error}");
}
