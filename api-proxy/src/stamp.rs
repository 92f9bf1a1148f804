//! Middleware giving every response, errors included, an `X-Timestamp` when
//! the handler set none, as Swift does. (Its transaction id headers come
//! from [`crate::request_id`].)

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::timestamp::Timestamp;

pub async fn stamp_response(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Handler errors arrive here as responses already (`ResponseError`).
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    let timestamp = HeaderName::from_static("x-timestamp");
    if !headers.contains_key(&timestamp) {
        let now = HeaderValue::from_str(&Timestamp::now().x_timestamp())
            .expect("a timestamp is a valid header value");
        headers.insert(timestamp, now);
    }
    Ok(response)
}
