//! A malformed authentication in the environment refuses to start, with the same error, in the
//! built-in listener and in the axum router: neither serves the metrics unprotected, and neither
//! starts serving only errors. The one test of this binary sets the environment, so no other test
//! reads it meanwhile (tests of one binary run on threads of one process).

use microprofile::serve::auth::{Auth, AuthError, BASIC_AUTH_ENV, BEARER_TOKEN_ENV};
use microprofile::serve::MetricsRouter;
use microprofile::{Registry, Server, ServerError};

#[test]
fn a_malformed_auth_environment_refuses_to_start_everywhere() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let cases: [(Option<&str>, Option<&str>, AuthError); 4] = [
        (None, Some("no-colon"), AuthError::BasicWithoutColon),
        (None, Some(":"), AuthError::BasicEmpty),
        (None, Some("user:"), AuthError::BasicEmpty),
        (Some("token"), Some("u:p"), AuthError::Both),
    ];
    for (bearer, basic, expected) in cases {
        let set = |name: &str, value: Option<&str>| match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        };
        set(BEARER_TOKEN_ENV, bearer);
        set(BASIC_AUTH_ENV, basic);

        let listener = Server::builder()
            .addr(([127, 0, 0, 1], 0))
            .registry(registry)
            .start();
        let listener_error = match listener {
            Err(ServerError::Auth(error)) => error,
            Err(other) => panic!("{basic:?}: the listener failed otherwise: {other}"),
            Ok(server) => panic!("{basic:?}: the listener started on {}", server.local_addr()),
        };
        let router_error = MetricsRouter::new()
            .registry(registry)
            .into_router::<()>()
            .unwrap_err();
        let default_router_error = microprofile::serve::router::<()>().unwrap_err();

        assert_eq!(listener_error, expected, "{bearer:?} {basic:?}");
        assert_eq!(router_error, expected, "{bearer:?} {basic:?}");
        assert_eq!(default_router_error, expected, "{bearer:?} {basic:?}");
        assert!(
            router_error.to_string().contains(match expected {
                AuthError::Both => BEARER_TOKEN_ENV,
                _ => BASIC_AUTH_ENV,
            }),
            "{router_error}"
        );

        // An authentication given in code does not read the environment.
        let server = Server::builder()
            .addr(([127, 0, 0, 1], 0))
            .registry(registry)
            .auth(Auth::None)
            .start()
            .unwrap();
        server.shutdown();
        let router = MetricsRouter::new()
            .registry(registry)
            .auth(Auth::bearer("s3cret"))
            .into_router::<()>();
        assert!(router.is_ok());
    }
    std::env::remove_var(BEARER_TOKEN_ENV);
    std::env::remove_var(BASIC_AUTH_ENV);
    // A well-formed environment starts both.
    Server::builder()
        .addr(([127, 0, 0, 1], 0))
        .registry(registry)
        .start()
        .unwrap()
        .shutdown();
    assert!(microprofile::serve::router::<()>().is_ok());
}
