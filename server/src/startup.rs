//! Building a server from its settings, and running it until told to stop.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context;
use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

use crate::broker::{self, BrokerSettings};
use crate::config::Settings;
use crate::metrics::ServerMetrics;
use crate::rate::DeviceRate;
use crate::retention;
use crate::rpc::{OAUTH_TIMESTAMP_WINDOW_SECS, ServerState};
use crate::status_listener;
use crate::storage::postgres::PgStore;
use crate::storage::{MetadataStore, StoreError};

pub struct Application {
    state: Arc<ServerState>,
    retention_interval: Duration,
    broker: BrokerSettings,
    /// The `/healthz`, `/readyz` and `/metrics` listener, when configured.
    status_listener: Option<StatusListener>,
}

struct StatusListener {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database (waiting up to about half a minute for it to come
    /// up) and applies pending migrations. Migrations take a database lock,
    /// so several servers may start at once.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let retention = settings
            .retention_policy()
            .map_err(anyhow::Error::msg)
            .context("the retention settings are not valid")?;
        let store = connect_store(&settings).await?;
        let state = Arc::new(ServerState {
            store,
            storage_url: settings.storage_url.clone(),
            retention,
            requests_handled: AtomicU64::new(0),
            oauth_plaintext_over_http: settings.oauth_plaintext_over_http,
            device_rate: DeviceRate::new(
                settings.device_requests_per_second,
                settings.device_request_burst,
            ),
            metrics: ServerMetrics::new(),
            broker_connected: AtomicBool::new(false),
        });
        let status_listener = match settings.metrics_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .with_context(|| format!("cannot listen on {address} (metrics_listen)"))?;
                let port = listener.local_addr()?.port();
                let server = status_listener::serve(listener, state.clone())?;
                tracing::info!(port, "serving /healthz, /readyz and /metrics");
                Some(StatusListener { port, server })
            }
            None => None,
        };
        Ok(Self {
            state,
            retention_interval: Duration::from_secs(settings.retention_interval_secs.max(1)),
            broker: BrokerSettings::from(&settings),
            status_listener,
        })
    }

    /// The port of the `/healthz`, `/readyz` and `/metrics` listener, if any.
    pub fn status_port(&self) -> Option<u16> {
        self.status_listener.as_ref().map(|listener| listener.port)
    }

    pub fn store(&self) -> Arc<dyn MetadataStore> {
        self.state.store.clone()
    }

    /// Shared state, e.g. to read how many requests this server handled.
    pub fn state(&self) -> Arc<ServerState> {
        self.state.clone()
    }

    /// Serves requests until `shutdown` completes, then finishes the requests
    /// in flight and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        tokio::spawn(purge_old_records(self.state.store.clone(), token.clone()));
        tokio::spawn(retention::run_periodically(
            self.state.store.clone(),
            self.state.retention,
            self.retention_interval,
            token.clone(),
        ));
        let status_server = self.status_listener.map(|listener| {
            let handle = listener.server.handle();
            tokio::spawn(listener.server);
            handle
        });
        let served = broker::run(self.broker, self.state, token).await;
        // Answers until the requests in flight are done, so that a load
        // balancer sees the server go unready rather than vanish.
        if let Some(handle) = status_server {
            handle.stop(true).await;
        }
        served
    }
}

/// Answers to commits are kept this long for re-sent commits: a week.
const KEEP_ANSWERS_SECS: u64 = 7 * 24 * 3600;

/// Expired TempAuth sessions stay listed nowhere but are kept this long, so
/// that a purge never races a request still being answered: a day.
const KEEP_EXPIRED_DEVICES_SECS: u64 = 24 * 3600;

/// Forgets old commit answers, OAuth nonces and expired sessions, and marks
/// pending share proposals past their expiry as expired, once an hour.
/// Every server does it; the changes are idempotent. (Reads treat an
/// overdue proposal as expired already; this only makes the rows say so.)
async fn purge_old_records(store: Arc<dyn MetadataStore>, stop: CancellationToken) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every_hour.tick() => {}
            () = stop.cancelled() => return,
        }
        match store.purge_processed_requests(KEEP_ANSWERS_SECS).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot old commit answers"),
            Err(error) => tracing::warn!(%error, "could not purge old commit answers"),
        }
        // Past the timestamp window a replayed nonce is refused as stale anyway.
        if let Err(error) = store.purge_nonces(2 * OAUTH_TIMESTAMP_WINDOW_SECS).await {
            tracing::warn!(%error, "could not purge old OAuth nonces");
        }
        match store.purge_expired_devices(KEEP_EXPIRED_DEVICES_SECS).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot expired sessions"),
            Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
        }
        match store.expire_proposals().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "share proposals expired"),
            Err(error) => tracing::warn!(%error, "could not expire share proposals"),
        }
    }
}

/// Opens the store named by the settings and brings its schema up to date.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Arc<dyn MetadataStore>> {
    let store = PgStore::connect_lazy(&settings.database_url, settings.database_pool_size)
        .context("the database URL is not valid (NIMBUS_DATABASE_URL)")?;
    (|| store.migrate())
        .retry(
            ExponentialBuilder::default()
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(8),
        )
        .when(|e| matches!(e, StoreError::Unavailable(_)))
        .notify(|error, wait| tracing::warn!(%error, ?wait, "database not reachable yet"))
        .await
        .context(
            "cannot prepare the metadata database: is PostgreSQL running, does the database \
             exist, and is NIMBUS_DATABASE_URL right?",
        )?;
    Ok(Arc::new(store))
}
