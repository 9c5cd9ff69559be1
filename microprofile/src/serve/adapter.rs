//! The one conversion between the [`Endpoint`] and the `http` crate's types, which both hyper
//! (the built-in listener) and axum (the router) use: the request head in, the response out.

use ::http::header::{HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION};
use ::http::{HeaderMap, Method, Response, StatusCode, Uri};

use super::endpoint::RequestHead;
use super::{EncodedResponse, Endpoint};

impl Endpoint {
    /// Answers a request given as the `http` crate's method, URI and headers, as a response
    /// with any body type made from bytes (hyper's `Full<Bytes>`, axum's `Body`).
    pub(crate) fn answer_http<B: From<Vec<u8>>>(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Response<B> {
        let accept = join_headers(headers, ACCEPT);
        let accept_encoding = join_headers(headers, ACCEPT_ENCODING);
        let answer = self.answer(&RequestHead {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            accept: accept.as_deref(),
            accept_encoding: accept_encoding.as_deref(),
            authorization: headers.get(AUTHORIZATION).map(|value| value.as_bytes()),
        });
        into_response(answer)
    }
}

/// The values of every `name` header joined with `,`, as [`Endpoint::answer`] takes them (a list
/// header may be sent as several). Bytes that are not UTF-8 are replaced.
fn join_headers(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    let mut joined: Option<String> = None;
    for value in headers.get_all(name) {
        let value = String::from_utf8_lossy(value.as_bytes());
        match &mut joined {
            Some(joined) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => joined = Some(value.into_owned()),
        }
    }
    joined
}

/// The response to write: the status, the headers (replacing any of the same name) and the body.
fn into_response<B: From<Vec<u8>>>(answer: EncodedResponse) -> Response<B> {
    let mut response = Response::new(B::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
