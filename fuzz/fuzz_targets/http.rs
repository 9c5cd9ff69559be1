//! The HTTP routing and `Accept` negotiation shared by the built-in listener and the axum router:
//! any method, path, query and Accept header gives one of the documented statuses, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use microprofile::http::{negotiate, respond};
use microprofile::{Metadata, Registry, Scope};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::new();
        let _ = registry.counter(Metadata::new("hits").with_tag("path", "/"));
        let _ = registry.gauge(Metadata::new("cpu").scope(Scope::Base));
        if let Ok(scope) = Scope::new("billing") {
            let _ = registry.counter(Metadata::new("invoices").scope(scope));
        }
        registry
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let query = parts.next();
    let accept = parts.next();
    let _ = negotiate(accept);
    let response = respond(registry(), method, path, query, accept);
    assert!(
        matches!(response.status, 200 | 404 | 405 | 406),
        "{method:?} {path:?} {query:?} {accept:?} -> {}",
        response.status
    );
    if method == "HEAD" {
        assert!(response.body.is_empty());
    }
});
