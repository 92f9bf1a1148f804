//! Prometheus metrics of the proxy, served as `/metrics` ([`crate::health`]).
//!
//! [`record`] (a middleware around every request) counts requests by route,
//! method and status, times them to the response head, and counts the body
//! bytes received and sent. The route is the pattern a request matched
//! (`/api/v2/workspaces/{workspace_id}`), or for the Swift API the level it
//! addresses (`swift:object`), never a path: label values stay few.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// Latency buckets, in seconds: 1 ms to 30 s (large uploads take long).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct ProxyMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    received: IntCounterVec,
    sent: IntCounterVec,
    chunks_collected: IntCounter,
    chunk_bytes_collected: IntCounter,
}

impl ProxyMetrics {
    pub fn new() -> Self {
        let per_route = ["route", "method"];
        let requests = IntCounterVec::new(
            Opts::new(
                "nimbus_proxy_http_requests_total",
                "HTTP requests answered, by route pattern, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "nimbus_proxy_http_request_duration_seconds",
                "Time from a request's arrival to its response head, by route and method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &per_route,
        )
        .expect("valid metric");
        let received = IntCounterVec::new(
            Opts::new(
                "nimbus_proxy_http_received_bytes_total",
                "Request body bytes read, by route and method",
            ),
            &per_route,
        )
        .expect("valid metric");
        let sent = IntCounterVec::new(
            Opts::new(
                "nimbus_proxy_http_sent_bytes_total",
                "Response body bytes sent, by route and method",
            ),
            &per_route,
        )
        .expect("valid metric");
        let chunks_collected = IntCounter::new(
            "nimbus_proxy_collected_chunks_total",
            "Chunk objects deleted because no version referenced them",
        )
        .expect("valid metric");
        let chunk_bytes_collected = IntCounter::new(
            "nimbus_proxy_collected_chunk_bytes_total",
            "Stored bytes of the chunk objects deleted because no version referenced them",
        )
        .expect("valid metric");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(received.clone()),
            Box::new(sent.clone()),
            Box::new(chunks_collected.clone()),
            Box::new(chunk_bytes_collected.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            received,
            sent,
            chunks_collected,
            chunk_bytes_collected,
        }
    }

    /// Counts chunk objects the collection deleted, with their stored bytes.
    pub fn observe_collection(&self, chunks: u64, bytes: u64) {
        self.chunks_collected.inc_by(chunks);
        self.chunk_bytes_collected.inc_by(bytes);
    }

    /// Every metric in Prometheus' text format.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .expect("metrics encode as text")
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: records the request in `metrics`.
pub async fn record<B: MessageBody + 'static>(
    metrics: web::Data<ProxyMetrics>,
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<CountedBody>, Error> {
    let started = Instant::now();
    let route = route_label(&request);
    let method = method_label(request.method());
    let labels = [route.as_str(), method];
    let received = metrics.received.with_label_values(&labels);
    let payload = request
        .take_payload()
        .inspect_ok(move |chunk| received.inc_by(chunk.len() as u64));
    request.set_payload(Payload::from(payload.boxed_local()));
    let result = next.call(request).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    metrics
        .requests
        .with_label_values(&[route.as_str(), method, status.as_str()])
        .inc();
    metrics
        .latency
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    let sent = metrics.sent.with_label_values(&labels);
    result.map(|response| {
        response.map_body(|_, body| CountedBody {
            inner: body.boxed(),
            sent,
        })
    })
}

/// The route pattern `request` matches, or the Swift level it addresses.
fn route_label(request: &ServiceRequest) -> String {
    if let Some(pattern) = request.match_pattern() {
        return pattern;
    }
    let Some(rest) = request.path().strip_prefix("/v1/") else {
        return "unmatched".to_owned();
    };
    // `/v1/{account}`, `/v1/{account}/{container}`, `/v1/{account}/{container}/{object…}`
    match rest.trim_end_matches('/').splitn(3, '/').count() {
        1 => "swift:account",
        2 => "swift:container",
        _ => "swift:object",
    }
    .to_owned()
}

/// The method, or `other` for one no API serves.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "COPY" => "COPY",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A response body that counts its bytes as they are sent. Its size is the
/// inner body's, so a `Content-Length` stays one.
pub struct CountedBody {
    inner: BoxBody,
    sent: IntCounter,
}

impl MessageBody for CountedBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.sent.inc_by(chunk.len() as u64);
        }
        next
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        let Self { inner, sent } = self;
        match inner.try_into_bytes() {
            Ok(bytes) => {
                sent.inc_by(bytes.len() as u64);
                Ok(bytes)
            }
            Err(inner) => Err(Self { inner, sent }),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::route_label;

    #[test]
    fn swift_paths_are_labelled_by_level_never_by_name() {
        let label = |path| route_label(&TestRequest::with_uri(path).to_srv_request());
        assert_eq!(label("/v1/AUTH_ada"), "swift:account");
        assert_eq!(label("/v1/AUTH_ada/"), "swift:account");
        assert_eq!(label("/v1/AUTH_ada/photos"), "swift:container");
        assert_eq!(label("/v1/AUTH_ada/photos/2026/cat.jpg"), "swift:object");
        assert_eq!(label("/no/such/thing"), "unmatched");
    }
}
