//! Middleware giving every response, errors included, Swift's `X-Trans-Id`
//! (also as `X-Openstack-Request-Id`) and an `X-Timestamp` when the handler
//! set none.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// `tx` + 21 hex digits + `-` + the Unix time in 10 hex digits, then the
/// client's `X-Trans-Id-Extra` if any.
pub fn new_trans_id(extra: Option<&str>) -> String {
    let random = Uuid::new_v4().simple().to_string();
    let seconds = Timestamp::now().as_micros() / 1_000_000;
    let extra: String = extra
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    format!("tx{}-{seconds:010x}{extra}", &random[..21])
}

pub async fn stamp_response(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let extra = req
        .headers()
        .get("x-trans-id-extra")
        .and_then(|v| v.to_str().ok());
    let trans_id = new_trans_id(extra);
    tracing::Span::current().record("trans_id", trans_id.as_str());
    // Handler errors arrive here as responses already (`ResponseError`).
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    let value = HeaderValue::from_str(&trans_id).expect("a trans id is a valid header value");
    headers.insert(HeaderName::from_static("x-trans-id"), value.clone());
    headers.insert(HeaderName::from_static("x-openstack-request-id"), value);
    let timestamp = HeaderName::from_static("x-timestamp");
    if !headers.contains_key(&timestamp) {
        let now = HeaderValue::from_str(&Timestamp::now().x_timestamp())
            .expect("a timestamp is a valid header value");
        headers.insert(timestamp, now);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trans_ids_have_swifts_shape() {
        let id = new_trans_id(None);
        assert_eq!(id.len(), 2 + 21 + 1 + 10);
        assert!(id.starts_with("tx"));
        assert!(id[2..23].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&id[23..24], "-");
        assert!(new_trans_id(Some("-extra")).ends_with("-extra"));
    }
}
