//! An idle timeout on request bodies.
//!
//! actix-web cuts off a client that is slow to send its headers
//! (`client_request_timeout`), but reads a body for as long as the
//! connection stays open: a client that stalls mid-upload, or sends a byte
//! now and then, would hold a connection, a handler and a partial blob for
//! ever. [`limit_idle_body`] wraps every request's payload so that a gap of
//! `idle` between two parts of the body ends it with the error of
//! [`timed_out`]; the handlers answer 408 Request Timeout and their upload
//! paths clean up as after any broken body.

use std::io;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use futures::{StreamExt, stream};

/// Middleware: the request's body, cut off after `idle` without a byte.
pub async fn limit_idle_body<B: MessageBody>(
    idle: Duration,
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let payload = request.take_payload();
    let limited = stream::unfold(Some(payload), move |payload| async move {
        let mut payload = payload?;
        match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(part)) => Some((part, Some(payload))),
            Ok(None) => None,
            // The error ends the body: nothing is read after it.
            Err(_) => Some((Err(timed_out(idle)), None)),
        }
    });
    request.set_payload(Payload::from(limited.boxed_local()));
    next.call(request).await
}

/// The error a body ends with when the client went quiet.
fn timed_out(idle: Duration) -> PayloadError {
    PayloadError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no part of the body arrived for {} s", idle.as_secs_f64()),
    ))
}

/// Whether `error` is that of a body cut off by [`limit_idle_body`].
pub fn is_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(error) if error.kind() == io::ErrorKind::TimedOut)
}
