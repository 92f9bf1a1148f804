//! One id per HTTP request, from the client through the proxy's log lines and
//! every metadata RPC the request makes into the servers' log lines.
//!
//! The id is the client's `X-Request-Id` when that is a sane trace id
//! (short, of safe characters: [`TraceId::parse`]); otherwise a fresh one in
//! the shape of Swift's transaction ids, so that Swift clients see what they
//! expect. Every response, errors included, echoes it as `X-Request-Id` and
//! as Swift's `X-Trans-Id` and `X-Openstack-Request-Id`. It is random or the
//! client's own choice, never a secret nor derived from one.
//!
//! This middleware wraps every other, so that the request's span (see
//! [`crate::telemetry::RedactedRootSpan`]) can log the id, and runs the
//! request inside [`nimbus_protocol::trace::scope`], which puts the id into
//! the envelope of each RPC the handlers make.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use nimbus_protocol::trace::{self, TraceId, is_trace_id_char};
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// The header a client may name its request by, and that answers carry.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The headers every response carries the id in.
const ECHOED_AS: [&str; 3] = [REQUEST_ID_HEADER, "x-trans-id", "x-openstack-request-id"];

/// Swift's transaction id: `tx` + 21 hex digits + `-` + the Unix time in 10
/// hex digits, then the client's `X-Trans-Id-Extra` if any (its first 32
/// characters that may be in a trace id).
pub fn new_trans_id(extra: Option<&str>) -> TraceId {
    let random = Uuid::new_v4().simple().to_string();
    let seconds = Timestamp::now().as_micros() / 1_000_000;
    let extra: String = extra
        .unwrap_or_default()
        .chars()
        .filter(|c| is_trace_id_char(*c))
        .take(32)
        .collect();
    TraceId::parse(&format!("tx{}-{seconds:010x}{extra}", &random[..21]))
        .expect("a transaction id is made of trace id characters")
}

/// The id of a request with `headers`: the client's, if sane, else a new one.
pub fn of_request(headers: &HeaderMap) -> TraceId {
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok());
    header(REQUEST_ID_HEADER)
        .and_then(TraceId::parse)
        .unwrap_or_else(|| new_trans_id(header("x-trans-id-extra")))
}

/// The middleware: assigns the id, serves the request in its scope, and
/// echoes it.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = of_request(req.headers());
    req.extensions_mut().insert(id.clone());
    // Handler errors arrive here as responses already (`ResponseError`).
    let mut response = trace::scope(id.clone(), next.call(req))
        .await?
        .map_into_boxed_body();
    let value = HeaderValue::from_str(id.as_str()).expect("a trace id is a valid header value");
    for name in ECHOED_AS {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value.clone());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trans_ids_have_swifts_shape() {
        let id = new_trans_id(None).to_string();
        assert_eq!(id.len(), 2 + 21 + 1 + 10);
        assert!(id.starts_with("tx"));
        assert!(id[2..23].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&id[23..24], "-");
        assert!(new_trans_id(Some("-extra")).as_str().ends_with("-extra"));
        assert!(new_trans_id(Some("-a b<c>")).as_str().ends_with("-abc"));
    }

    #[test]
    fn a_sane_client_id_is_kept_and_any_other_replaced() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static(REQUEST_ID_HEADER),
                HeaderValue::from_str(value).unwrap(),
            );
            headers
        };
        assert_eq!(of_request(&headers("abc-123")).as_str(), "abc-123");
        for refused in ["a b", "x".repeat(129).as_str(), "a;b", ""] {
            let id = of_request(&headers(refused));
            assert!(id.as_str().starts_with("tx"), "{refused:?} gave {id}");
        }
        assert!(of_request(&HeaderMap::new()).as_str().starts_with("tx"));
    }
}
