//! Authentication for the metrics endpoint, with no HTTP library in it: the built-in listener and
//! the axum router both hand the `Authorization` header to [`Auth::check`].
//!
//! | configuration | in code | environment |
//! |---|---|---|
//! | none (default) | [`Auth::None`] | neither variable set |
//! | bearer token | [`Auth::bearer`]`("s3cret")` | `MICROPROFILE_BEARER_TOKEN=s3cret` |
//! | HTTP basic | [`Auth::basic`]`("prometheus", "s3cret")` | `MICROPROFILE_BASIC_AUTH=prometheus:s3cret` |
//!
//! A request without valid credentials gets `401 Unauthorized` with a `WWW-Authenticate`
//! challenge, whatever path it asks for. Credentials are compared in constant time (the time taken
//! depends on the length of what the client sent, never on the secret or on how much of it
//! matched). Authentication only makes sense over TLS or on a trusted network: over plain HTTP the
//! secret travels in clear.

use std::fmt;

use crate::serve::MetricsResponse;

/// The environment variable holding a bearer token (see [`Auth::from_env`]).
pub const BEARER_TOKEN_ENV: &str = "MICROPROFILE_BEARER_TOKEN";

/// The environment variable holding `user:password` for HTTP basic auth (see [`Auth::from_env`]).
pub const BASIC_AUTH_ENV: &str = "MICROPROFILE_BASIC_AUTH";

/// The realm named in the `WWW-Authenticate` challenge.
pub const REALM: &str = "metrics";

/// Who may read the metrics.
///
/// ```
/// use microprofile::serve::auth::Auth;
///
/// let auth = Auth::bearer("s3cret");
/// assert!(auth.check(Some(b"Bearer s3cret")).is_ok());
/// let refused = auth.check(Some(b"Bearer guess")).unwrap_err();
/// assert_eq!(refused.status, 401);
/// assert_eq!(refused.header("www-authenticate"), Some("Bearer realm=\"metrics\""));
///
/// // "prometheus:s3cret" in base64
/// let auth = Auth::basic("prometheus", "s3cret");
/// assert!(auth.check(Some(b"Basic cHJvbWV0aGV1czpzM2NyZXQ=")).is_ok());
/// assert!(auth.check(None).is_err());
///
/// assert!(Auth::None.check(None).is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// Anyone may read the metrics.
    #[default]
    None,
    /// `Authorization: Bearer <token>` is required.
    Bearer(String),
    /// `Authorization: Basic <base64(user:password)>` is required.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

/// Why the authentication configured in the environment cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Both variables are set: it is unclear which the operator meant.
    #[error("both {BEARER_TOKEN_ENV} and {BASIC_AUTH_ENV} are set; set only one of them")]
    Both,
    /// `MICROPROFILE_BASIC_AUTH` has no `:` between user and password.
    #[error("{BASIC_AUTH_ENV} must be `user:password` (with a `:`)")]
    BasicWithoutColon,
    /// `MICROPROFILE_BASIC_AUTH` has an empty user or password.
    #[error("{BASIC_AUTH_ENV} must have a non-empty user and password")]
    BasicEmpty,
    /// A variable is not valid UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
}

impl fmt::Debug for Auth {
    /// Never shows the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl Auth {
    /// Requires `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Auth {
        Auth::Bearer(token.into())
    }

    /// Requires HTTP basic authentication with this user and password.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth::Basic {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The authentication configured in the environment: [`BEARER_TOKEN_ENV`] (a token) or
    /// [`BASIC_AUTH_ENV`] (`user:password`, split at the first `:`). Empty values count as unset;
    /// with neither set, [`Auth::None`]. A malformed value is an error rather than no
    /// authentication, so a typo never exposes the metrics.
    pub fn from_env() -> Result<Auth, AuthError> {
        let read = |name: &'static str| -> Result<Option<String>, AuthError> {
            match std::env::var(name) {
                Ok(value) if value.is_empty() => Ok(None),
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(AuthError::NotUtf8(name)),
            }
        };
        Auth::from_values(read(BEARER_TOKEN_ENV)?, read(BASIC_AUTH_ENV)?)
    }

    fn from_values(bearer: Option<String>, basic: Option<String>) -> Result<Auth, AuthError> {
        match (bearer, basic) {
            (Some(_), Some(_)) => Err(AuthError::Both),
            (Some(token), None) => Ok(Auth::Bearer(token)),
            (None, Some(pair)) => match pair.split_once(':') {
                Some((user, password)) if user.is_empty() || password.is_empty() => {
                    Err(AuthError::BasicEmpty)
                }
                Some((user, password)) => Ok(Auth::basic(user, password)),
                None => Err(AuthError::BasicWithoutColon),
            },
            (None, None) => Ok(Auth::None),
        }
    }

    /// `true` unless this is [`Auth::None`].
    pub fn is_required(&self) -> bool {
        !matches!(self, Auth::None)
    }

    /// Checks the value of the request's `Authorization` header (`None` when it has none).
    /// `Err` holds the `401` to send back, with its `WWW-Authenticate` challenge; for a `HEAD`
    /// request a transport should drop its body.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), MetricsResponse> {
        let accepted = match self {
            Auth::None => return Ok(()),
            Auth::Bearer(token) => authorization
                .and_then(|value| credentials(value, b"bearer"))
                .is_some_and(|given| constant_time_eq(given, token.as_bytes())),
            Auth::Basic { user, password } => {
                let expected = format!("{user}:{password}");
                authorization
                    .and_then(|value| credentials(value, b"basic"))
                    .and_then(base64_decode)
                    .is_some_and(|given| constant_time_eq(&given, expected.as_bytes()))
            }
        };
        if accepted {
            Ok(())
        } else {
            Err(self.unauthorized())
        }
    }

    /// The `401` answer with this configuration's challenge.
    fn unauthorized(&self) -> MetricsResponse {
        let challenge = match self {
            Auth::Basic { .. } => format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
            _ => format!("Bearer realm=\"{REALM}\""),
        };
        let body = "Unauthorized: the metrics endpoint needs credentials\n".to_owned();
        MetricsResponse {
            status: 401,
            headers: vec![
                ("content-type", "text/plain; charset=utf-8".to_owned()),
                ("content-length", body.len().to_string()),
                ("www-authenticate", challenge),
            ],
            body,
        }
    }
}

/// The credentials after `scheme` (matched case-insensitively) and spaces, or `None` for another
/// scheme.
fn credentials<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let (head, rest) = value.trim_ascii().split_at_checked(scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme) {
        return None;
    }
    // `rest` is empty when the value is the bare scheme: `None` then.
    match rest.first() {
        Some(b' ' | b'\t') => Some(rest.trim_ascii_start()),
        _ => None,
    }
}

/// Compares `given` (from the client) with `secret` in time that depends only on `given.len()`:
/// every byte of `given` is compared (with the secret cycled), and the length difference is folded
/// into the result rather than returned early.
fn constant_time_eq(given: &[u8], secret: &[u8]) -> bool {
    if secret.is_empty() {
        return false;
    }
    let mut difference = u8::from(given.len() != secret.len());
    // `secret` is not empty, so the cycle never ends before `given` does.
    for (byte, expected) in given.iter().zip(secret.iter().cycle()) {
        difference |= byte ^ expected;
    }
    std::hint::black_box(difference) == 0
}

/// Standard base64 (RFC 4648 §4) with optional padding; `None` when malformed.
///
/// The `base64` crate instead of a hand-written decoder. Padding is all or nothing (`Zg==` or
/// `Zg`, never `Zg=`), and the unused low bits of the last character are not checked, as the
/// decoder this replaces did.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    use base64::alphabet::STANDARD;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const fn engine(padding: DecodePaddingMode) -> GeneralPurpose {
        GeneralPurpose::new(
            &STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(padding),
        )
    }
    const PADDED: GeneralPurpose = engine(DecodePaddingMode::RequireCanonical);
    const UNPADDED: GeneralPurpose = engine(DecodePaddingMode::RequireNone);
    let engine = if text.ends_with(b"=") {
        &PADDED
    } else {
        &UNPADDED
    };
    engine.decode(text).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        for (text, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9vYg", "foob"),
            ("dTpwOnE=", "u:p:q"),
            // Unused low bits are not checked (as before the `base64` crate decoded this).
            ("Zh==", "f"),
            ("Zh", "f"),
        ] {
            assert_eq!(
                base64_decode(text.as_bytes()).as_deref(),
                Some(plain.as_bytes()),
                "{text}"
            );
        }
        for bad in [
            "Z", "Zm9vY", "Zm9v!", "Zg=", "Zg===", "=", "Zm 9v", "Zg==Zg==",
        ] {
            assert_eq!(base64_decode(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcabc", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(!constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer() {
        let auth = Auth::bearer("t0k:en");
        assert!(auth.check(Some(b"Bearer t0k:en")).is_ok());
        assert!(auth.check(Some(b"bearer   t0k:en  ")).is_ok());
        assert!(auth.check(Some(b"BEARER\tt0k:en")).is_ok());
        for bad in [
            &b"Bearer t0k:e"[..],
            b"Bearer t0k:enn",
            b"Bearer",
            b"Bearer ",
            b"Bearert0k:en",
            b"Basic t0k:en",
            b"t0k:en",
            b"",
            b"\xff\xfe",
        ] {
            let refused = auth.check(Some(bad)).unwrap_err();
            assert_eq!(refused.status, 401);
            assert_eq!(
                refused.header("www-authenticate"),
                Some("Bearer realm=\"metrics\"")
            );
            assert_eq!(
                refused.header("content-length"),
                Some(refused.body.len().to_string().as_str())
            );
        }
        assert!(auth.check(None).is_err());
        // An empty token never matches anything.
        assert!(Auth::bearer("").check(Some(b"Bearer ")).is_err());
    }

    #[test]
    fn basic() {
        let auth = Auth::basic("prometheus", "pa:ss");
        // base64("prometheus:pa:ss")
        assert!(auth.check(Some(b"Basic cHJvbWV0aGV1czpwYTpzcw==")).is_ok());
        assert!(auth.check(Some(b"basic cHJvbWV0aGV1czpwYTpzcw")).is_ok());
        // base64("prometheus:pa:sx"), base64("prometheus:"), garbage
        for bad in [
            &b"Basic cHJvbWV0aGV1czpwYTpzeA=="[..],
            b"Basic cHJvbWV0aGV1czo=",
            b"Basic !!!",
            b"Bearer cHJvbWV0aGV1czpwYTpzcw==",
        ] {
            let refused = auth.check(Some(bad)).unwrap_err();
            assert_eq!(
                refused.header("www-authenticate"),
                Some("Basic realm=\"metrics\", charset=\"UTF-8\"")
            );
        }
    }

    #[test]
    fn configuration_from_values() {
        assert_eq!(Auth::from_values(None, None), Ok(Auth::None));
        assert_eq!(
            Auth::from_values(Some("t".into()), None),
            Ok(Auth::bearer("t"))
        );
        assert_eq!(
            Auth::from_values(None, Some("u:p:q".into())),
            Ok(Auth::basic("u", "p:q"))
        );
        assert_eq!(
            Auth::from_values(None, Some("nocolon".into())),
            Err(AuthError::BasicWithoutColon)
        );
        for empty in [":", "u:", ":p"] {
            assert_eq!(
                Auth::from_values(None, Some(empty.into())),
                Err(AuthError::BasicEmpty)
            );
        }
        assert_eq!(
            Auth::from_values(Some("t".into()), Some("u:p".into())),
            Err(AuthError::Both)
        );
    }

    #[test]
    fn never_panics_on_generated_headers() {
        let auths = [
            Auth::bearer("t"),
            Auth::basic("u", "p"),
            Auth::bearer(""),
            Auth::basic("", ""),
        ];
        let alphabet = b"BasicBearer =+/:\t\xff\x00Zm9vYQ";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let header: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 8 * 8)) as usize + i) % alphabet.len()])
                .collect();
            for auth in &auths {
                if let Err(refused) = auth.check(Some(&header)) {
                    assert_eq!(refused.status, 401);
                }
            }
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            Auth::bearer("s3cret"),
            Auth::basic("u", "s3cret")
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("\"u\""));
    }
}
