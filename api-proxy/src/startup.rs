//! Building and running the HTTP server. Every client that is bound to a
//! runtime (sqlx pool, opendal operator, AMQP connection) is created here,
//! before `HttpServer::new`, and shared with the workers through `web::Data`.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::SystemTime;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use futures::FutureExt;
use futures::future::BoxFuture;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::{RpcClient, Topology};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing_actix_web::TracingLogger;

use crate::auth::{Authenticator, invalidation};
use crate::blobs::{BlobStore, OpendalBlobStore};
use crate::config::Settings;
use crate::index::ObjectIndex;
use crate::index::postgres::PgIndex;
use crate::metrics::{self, ProxyMetrics};
use crate::rekey::Rekeyer;
use crate::request_id;
use crate::sign_in_rate::{FailedSignIns, limit_failed_sign_ins};
use crate::stamp::stamp_response;
use crate::state::AppState;
use crate::swift::tempauth;
use crate::telemetry::RedactedRootSpan;
use crate::upload_sessions::{self, UploadSessions};
use crate::web::live::LiveStreams;
use crate::{body_timeout, chunk_collection, health, sweeper, swift};

/// Seconds a stopping proxy gives the requests in flight.
const SHUTDOWN_GRACE_SECS: u64 = 10;

crate::routes::route_table! {
    GET "/info" => swift::info::get,
    GET "/auth/v1.0" => tempauth::get_token,
    GET "/auth/v1/{account}/auth" => tempauth::get_token,
    GET "/v1.0" => tempauth::get_token,
}

/// Mounts TempAuth and `/info`, beside the Swift API.
fn configure(config: &mut web::ServiceConfig) {
    crate::routes::register(config, ROUTES, handlers());
}

pub struct Application {
    port: u16,
    server: Server,
    /// Deletes orphaned blobs while the server runs.
    sweeper: BoxFuture<'static, ()>,
    /// Drops cached identities whose access changed, as the servers announce.
    invalidations: BoxFuture<'static, ()>,
    /// Deletes expired upload sessions.
    upload_expiry: BoxFuture<'static, ()>,
    /// Deletes chunks no version references.
    chunk_collection: BoxFuture<'static, ()>,
    /// Re-keys the chunks of converted folders.
    rekeying: BoxFuture<'static, ()>,
}

impl Application {
    /// Connects to the database (migrating it), the object store and the
    /// metadata RPC, and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let index: Arc<dyn ObjectIndex> = Arc::new(
            PgIndex::connect(&settings.database_url, settings.container_cache_ttl())
                .await
                .context("cannot open the object index database")?,
        );
        let blobs: Arc<dyn BlobStore> = Arc::new(
            OpendalBlobStore::from_settings(&settings.storage)
                .context("cannot configure the object store")?,
        );
        // On `fs` the directory of uploads in progress is this proxy's alone,
        // so whatever is there before it serves was cut short by a crash. A
        // Swift or S3 container is shared by every proxy: another may be
        // uploading into it now, so its partial uploads are left to the
        // sweeper, which takes only those idle for `orphan_grace_secs`.
        if settings.storage.scheme == "fs" {
            let cleared = blobs
                .remove_partial_uploads(SystemTime::now())
                .await
                .context("cannot remove the unfinished uploads of a previous run")?;
            if cleared > 0 {
                tracing::info!(cleared, "removed unfinished uploads of a previous run");
            }
        }
        if settings.public_amqp_url.is_none() {
            tracing::warn!(
                "public_amqp_url is not set, so clients are handed this proxy's own RabbitMQ \
                 credentials (amqp_url), with which any of them can read other users' requests \
                 and device tokens. Create a RabbitMQ user for clients as deploy/README.md \
                 shows and set public_amqp_url (NIMBUS_PROXY_PUBLIC_AMQP_URL) to its URL."
            );
        }
        let rpc = RpcClient::connect(
            &settings.amqp_url,
            Topology::new(settings.queue_prefix.clone()),
            ClientOptions::default(),
        )
        .await?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let rest = web::Data::new(crate::state::RestState::from_settings(
            rpc.clone(),
            &settings,
            listener.local_addr()?,
        ));
        let auth = Arc::new(Authenticator::new(
            rpc.clone(),
            Arc::clone(&index),
            settings.token_cache_ttl(),
        ));
        let rekey_wake = Arc::new(Notify::new());
        let invalidations = invalidation::run(
            settings.amqp_url.clone(),
            Topology::new(settings.queue_prefix.clone()),
            Arc::clone(&auth),
            Arc::clone(&rekey_wake),
        )
        .boxed();
        let sweeper = sweeper::run(
            Arc::clone(&index),
            Arc::clone(&blobs),
            settings.orphan_grace(),
            settings.sweep_interval(),
        )
        .boxed();
        let uploads = Arc::new(
            UploadSessions::connect(&settings.database_url, settings.upload_session_ttl())
                .await
                .context("cannot open the upload sessions database")?,
        );
        let upload_expiry = upload_sessions::expire_periodically(
            Arc::clone(&uploads),
            settings.upload_session_ttl().min(sweeper::EXPIRY_INTERVAL),
        )
        .boxed();
        let header_timeout = settings.header_timeout();
        let body_idle_timeout = settings.body_idle_timeout();
        let sign_in_rate = Arc::new(FailedSignIns::new(
            settings.failed_sign_ins_per_minute_per_address,
        ));
        let proxy_metrics = web::Data::new(ProxyMetrics::new());
        let chunk_collection = chunk_collection::run(
            Arc::clone(&index),
            Arc::clone(&blobs),
            rpc.clone(),
            proxy_metrics.clone().into_inner(),
            settings.chunk_grace(),
            settings.chunk_collection_interval(),
        )
        .boxed();
        let rekeying = Rekeyer {
            index: Arc::clone(&index),
            blobs: Arc::clone(&blobs),
            rpc: rpc.clone(),
            inline_max: settings.inline_object_max_bytes,
        }
        .run(settings.rekey_interval(), rekey_wake)
        .boxed();
        // One table for all workers: the limit is per session, not per worker.
        let live_streams = web::Data::new(LiveStreams::default());
        let state = web::Data::new(AppState {
            settings,
            index,
            blobs,
            auth,
            rpc,
            uploads,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(move |request, next| {
                    body_timeout::limit_idle_body(body_idle_timeout, request, next)
                }))
                .wrap(from_fn({
                    let rate = Arc::clone(&sign_in_rate);
                    move |request, next| {
                        let rate = Arc::clone(&rate);
                        async move { limit_failed_sign_ins(&rate, request, next).await }
                    }
                }))
                .wrap(from_fn(stamp_response))
                .wrap(from_fn({
                    let proxy_metrics = proxy_metrics.clone();
                    move |request, next| metrics::record(proxy_metrics.clone(), request, next)
                }))
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                // Outermost: the request span logs the id it assigns.
                .wrap(from_fn(request_id::assign))
                .app_data(proxy_metrics.clone())
                .configure(health::configure)
                .configure(configure)
                .app_data(rest.clone())
                .app_data(live_streams.clone())
                .configure(crate::oauth::configure)
                .configure(crate::rest::configure)
                .configure(crate::web::configure)
                .default_service(web::to(swift::dispatch))
        })
        // Without it, small responses wait for the client's delayed ACK (~40 ms).
        .tcp_nodelay(true)
        .client_request_timeout(header_timeout)
        // A stop lets requests in flight finish for this long, then closes
        // what is left (a browser's live stream never finishes by itself).
        // Below the 15 s the scripts wait and a service manager's default;
        // a client whose upload was cut retries it, and nothing unfinished
        // was acknowledged.
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .listen(listener)?
        .disable_signals()
        .run();
        tracing::info!(port, "nimbus-proxy listening");
        Ok(Self {
            port,
            server,
            sweeper,
            invalidations,
            upload_expiry,
            chunk_collection,
            rekeying,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        // Aborted when this returns; sweeping deletes are idempotent, so
        // stopping between two is harmless.
        let mut background = JoinSet::new();
        background.spawn(self.sweeper);
        background.spawn(self.invalidations);
        background.spawn(self.upload_expiry);
        background.spawn(self.chunk_collection);
        background.spawn(self.rekeying);
        let mut server = std::pin::pin!(self.server);
        tokio::select! {
            result = &mut server => return result,
            () = shutdown => {}
        }
        tracing::info!("shutting down");
        // The server future carries out the stop, so keep polling it.
        let (result, ()) = tokio::join!(server, handle.stop(true));
        result
    }
}
