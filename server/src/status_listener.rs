//! The metadata server's optional HTTP listener (`metrics_listen`), for
//! load balancers, orchestrators and Prometheus:
//!
//! * `GET /healthz`: 200 while the process runs;
//! * `GET /readyz`: 200 when the database answers and this server consumes
//!   the request queue, else 503 with a [`Readiness`] body naming what is
//!   down;
//! * `GET /metrics`: [`crate::metrics::ServerMetrics`] in Prometheus' text
//!   format.
//!
//! None of them needs credentials, and none shows a secret, a host name or
//! an error text. The requests themselves arrive over RabbitMQ; this
//! listener serves only these three.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use nimbus_protocol::health::Readiness;

use crate::rpc::ServerState;

/// How long `/readyz` waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves the three endpoints on `listener` until the returned server is
/// stopped. One worker: the endpoints are cheap and rarely asked.
pub fn serve(listener: TcpListener, state: Arc<ServerState>) -> std::io::Result<Server> {
    let state = web::Data::from(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    // Its answers are instant; what a stop would wait for is a scraper's idle
    // keep-alive connection (actix's default wait is 30 s).
    .shutdown_timeout(1)
    .listen(listener)?
    .disable_signals()
    .run())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<ServerState>) -> HttpResponse {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the database does not answer");
            false
        }
        Err(_) => {
            tracing::warn!(timeout = ?CHECK_TIMEOUT, "readiness: the database does not answer in time");
            false
        }
    };
    let broker = state.broker_connected.load(Ordering::Relaxed);
    let readiness = Readiness::from_checks([("database", database), ("broker", broker)]);
    if readiness.is_ready() {
        HttpResponse::Ok().json(readiness)
    } else {
        HttpResponse::ServiceUnavailable().json(readiness)
    }
}

async fn metrics(state: web::Data<ServerState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(state.metrics.render())
}
