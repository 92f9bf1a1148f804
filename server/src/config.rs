//! Settings of the metadata server: defaults that work on one machine,
//! overridden by a TOML file, overridden by `NIMBUS_*` environment variables
//! (`NIMBUS_DATABASE_URL`, `NIMBUS_AMQP_URL`, `NIMBUS_QUEUE_PREFIX`, ...).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use nimbus_protocol::rpc::RetentionPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// PostgreSQL URL of the metadata database.
    pub database_url: String,
    /// Most connections a server opens to the database.
    pub database_pool_size: u32,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Prefix of every exchange and queue name, so that deployments and test
    /// runs can share one broker.
    pub queue_prefix: String,
    /// `classic` on one broker; `quorum` on a RabbitMQ cluster.
    pub queue_type: QueueType,
    /// Requests a server works on at once (AMQP prefetch).
    pub prefetch: u16,
    /// Delete the queues after this many seconds without consumers (for
    /// throw-away deployments such as test runs); `None` keeps them.
    pub idle_queue_expiry_secs: Option<u32>,
    /// Public base URL of the object store (the proxy), reported by `getAccount`.
    pub storage_url: String,
    /// Quota of a new user, in bytes.
    pub default_quota_bytes: u64,
    /// Requests per second one device may send to one server, sustained
    /// ([`crate::rate`]); more are refused with `tooManyRequests`.
    pub device_requests_per_second: NonZeroU32,
    /// Requests one device may send at once above that rate (a full sync's
    /// catch-up, a batch of commits).
    pub device_request_burst: NonZeroU32,
    /// Accept OAuth PLAINTEXT signatures on plain-http URLs (local trials
    /// only: the signature is the secret itself).
    pub oauth_plaintext_over_http: bool,
    /// Address of the HTTP listener serving `/healthz`, `/readyz` and
    /// `/metrics` ([`crate::status_listener`]); `None` (the default) serves
    /// none. Port 0 picks a free port.
    pub metrics_listen: Option<SocketAddr>,
    /// Days a deleted item stays in the trash before the retention job
    /// removes it with its versions ([`crate::retention`]).
    pub trash_retention_days: u32,
    /// Days an older version of a live file or folder is kept.
    pub version_retention_days: u32,
    /// Versions of an item kept whatever their age, the current one included.
    pub min_versions_kept: u32,
    /// Versions of an item kept at most, the current one included.
    pub max_versions_kept: u32,
    /// Seconds between two runs of the retention job on this server.
    pub retention_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Classic,
    Quorum,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/nimbus".into(),
            database_pool_size: 16,
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue_prefix: "nimbus".into(),
            queue_type: QueueType::Classic,
            prefetch: 64,
            idle_queue_expiry_secs: None,
            storage_url: "http://127.0.0.1:8080".into(),
            default_quota_bytes: 10 << 30,
            device_requests_per_second: NonZeroU32::new(100).expect("not zero"),
            device_request_burst: NonZeroU32::new(1000).expect("not zero"),
            oauth_plaintext_over_http: false,
            metrics_listen: None,
            trash_retention_days: RetentionPolicy::default().trash_days,
            version_retention_days: RetentionPolicy::default().version_days,
            min_versions_kept: RetentionPolicy::default().min_versions,
            max_versions_kept: RetentionPolicy::default().max_versions,
            retention_interval_secs: 3600,
        }
    }
}

impl Settings {
    /// The retention policy these settings give; refused when it would
    /// remove current versions.
    pub fn retention_policy(&self) -> Result<RetentionPolicy, String> {
        if self.min_versions_kept == 0 || self.max_versions_kept < self.min_versions_kept {
            return Err(format!(
                "min_versions_kept ({}) must be at least 1 (the current version) and at most \
                 max_versions_kept ({})",
                self.min_versions_kept, self.max_versions_kept
            ));
        }
        Ok(RetentionPolicy {
            trash_days: self.trash_retention_days,
            version_days: self.version_retention_days,
            min_versions: self.min_versions_kept,
            max_versions: self.max_versions_kept,
        })
    }

    /// Defaults, then the file (if given), then the environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "the configuration file {} does not exist",
                    path.display()
                ))));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(Env::prefixed("NIMBUS_"))
            .extract()
            .map_err(Box::new)
    }
}
