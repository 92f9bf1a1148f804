//! Probes and metrics for load balancers, orchestrators and Prometheus:
//!
//! * `GET /healthz`: 200 while the process serves HTTP;
//! * `GET /readyz`: 200 when the index database, the broker and the object
//!   store all answer, else 503 with a [`Readiness`] body naming those that
//!   do not; a load balancer stops sending requests this proxy cannot serve;
//! * `GET /metrics`: [`ProxyMetrics`] in Prometheus' text format.
//!
//! They need no credentials and show no secret, host name or error text
//! (failures are logged). Behind a public load balancer, keep `/metrics`
//! to the internal network if request counts are not for everyone.

use std::future::Future;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use nimbus_protocol::health::Readiness;

use crate::metrics::ProxyMetrics;
use crate::state::AppState;

crate::routes::route_table! {
    GET "/healthz" => healthz,
    GET "/readyz" => readyz,
    GET "/metrics" => metrics,
}

pub fn configure(config: &mut web::ServiceConfig) {
    crate::routes::register(config, ROUTES, handlers());
}

/// How long `/readyz` waits for each dependency before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, broker, object_store) = futures::join!(
        answers("database", state.index.ping()),
        answers("broker", state.rpc.check_connection()),
        answers("object_store", state.blobs.check()),
    );
    let readiness = Readiness::from_checks([
        ("database", database),
        ("broker", broker),
        ("object_store", object_store),
    ]);
    if readiness.is_ready() {
        HttpResponse::Ok().json(readiness)
    } else {
        HttpResponse::ServiceUnavailable().json(readiness)
    }
}

/// Whether `check` succeeds within [`CHECK_TIMEOUT`]; a failure is logged.
async fn answers<E: std::fmt::Display>(
    what: &str,
    check: impl Future<Output = Result<(), E>>,
) -> bool {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the {what} does not answer");
            false
        }
        Err(_) => {
            tracing::warn!(timeout = ?CHECK_TIMEOUT, "readiness: the {what} does not answer in time");
            false
        }
    }
}

async fn metrics(metrics: web::Data<ProxyMetrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(metrics.render())
}
