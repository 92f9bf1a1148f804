//! Settings of `nimbus-proxy`: built-in defaults, then an optional TOML file,
//! then `NIMBUS_PROXY_*` environment variables (nested keys with `__`, e.g.
//! `NIMBUS_PROXY_STORAGE__SCHEME=s3`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the proxy needs to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Base URL clients reach the proxy at, used in `X-Storage-Url`. `None`
    /// derives it from the request's `Host`.
    ///
    /// OAuth 1.0a signatures (REST API v2) are checked against this URL,
    /// never against `Host` or `X-Forwarded-*`; `None` means
    /// `http://<listen address>`, right only when clients reach the proxy
    /// directly. Behind TLS or a load balancer, set it (e.g.
    /// `https://cloud.example.org`).
    pub public_url: Option<String>,
    /// The proxy's own PostgreSQL database (the object index).
    pub database_url: String,
    /// RabbitMQ carrying the metadata RPC.
    pub amqp_url: String,
    /// AMQP URL handed to desktop clients at authentication
    /// (`X-Nimbus-Rpc-Url`), with the credentials of a RabbitMQ user that may
    /// only publish requests and listen for notifications (see
    /// `deploy/README.md`). Every client learns it, so it must never be
    /// `amqp_url`'s: whoever holds that can read other users' requests,
    /// device tokens included. `None` falls back to `amqp_url`, for a trial
    /// on loopback only, and the proxy warns at start-up.
    pub public_amqp_url: Option<String>,
    /// Prefix of the RPC exchanges and queues (see `nimbus_protocol::Topology`).
    pub queue_prefix: String,
    /// Lifetime of TempAuth tokens, in seconds.
    pub token_ttl_secs: u64,
    /// How long a validated token is trusted without asking the metadata servers.
    pub token_cache_secs: u64,
    /// How long a container's ACLs are trusted without reading the index, in
    /// seconds (0: always read). Changes made through this proxy apply at
    /// once; those made through another proxy on the same index take up to
    /// this long (Swift itself caches container info for 60 s).
    pub container_cache_secs: u64,
    /// Where object bytes go.
    pub storage: StorageSettings,
    /// Objects up to this many bytes keep their bytes in the index row
    /// instead of `storage`: storing one is then a single durable commit
    /// (no file flush), reading one needs no file open, and the many small
    /// files of a synced folder do not become as many tiny blobs. At most
    /// [`MAX_INLINE_OBJECT_BYTES`]; 0 sends every object to `storage`.
    pub inline_object_max_bytes: u64,
    /// Age, in seconds, past which a complete blob that no object refers to
    /// (left by a proxy that died between writing a blob and committing its
    /// index row) is deleted. Must exceed the longest gap between those two
    /// steps, which is a single database commit.
    pub orphan_grace_secs: u64,
    /// How often, in seconds, to look for such blobs (also at start-up).
    pub sweep_interval_secs: u64,
    /// Seconds a chunk object must go neither written nor confirmed (found
    /// by a client's `HEAD` or conditional `PUT`) before it may be collected
    /// when no version references it (docs/operations.md, "Collecting
    /// unreferenced chunks"). Safety does not depend on it; a shorter one
    /// makes more devices upload a chunk again after it was collected.
    pub chunk_grace_secs: u64,
    /// How often, in seconds, to collect unreferenced chunks.
    pub chunk_collection_interval_secs: u64,
    /// How often, in seconds, to look for versions of converted folders
    /// still under another workspace's keys ([`crate::rekey`]); a
    /// conversion also starts a pass at once. 0: this proxy does not
    /// re-key (another proxy of the deployment does).
    pub rekey_interval_secs: u64,
    /// Seconds an unfinished upload of the web UI lasts after its last
    /// progress; then it is deleted with the bytes it held.
    pub upload_session_ttl_secs: u64,
    /// Whether TempURL signatures may use HMAC-SHA1, which Swift deprecates;
    /// off by default, so only SHA-256 and SHA-512 signatures are accepted.
    /// Turn on only for clients that cannot sign otherwise.
    pub tempurl_allow_sha1: bool,
    /// Seconds a client has, from its first byte, to send a request's
    /// headers; a slower one is answered 408 and disconnected.
    pub header_timeout_secs: u64,
    /// Seconds a request body may go without a byte; past that the request
    /// is answered 408 and nothing of its body is kept.
    pub body_idle_timeout_secs: u64,
    /// Failed sign-ins (TempAuth, the web sign-in, the OAuth authorize form
    /// and handshake) one source address may make per minute, after a burst
    /// of as many; past that its sign-ins are answered 429. Each user's
    /// failed logins are slowed down besides, by the metadata servers.
    pub failed_sign_ins_per_minute_per_address: NonZeroU32,
    /// Most files and folders a folder downloaded as a zip may hold; a
    /// larger one is refused before a byte is sent (Dropbox's cap).
    pub zip_max_entries: u32,
    /// Most bytes of files a folder downloaded as a zip may hold (Dropbox
    /// caps its zips at 20 GB).
    pub zip_max_bytes: u64,
}

/// The largest `inline_object_max_bytes` allowed: a body is held in memory
/// until it is known to fit, and large values do not belong in index rows.
pub const MAX_INLINE_OBJECT_BYTES: u64 = 1024 * 1024;

/// An opendal service by scheme name (`fs`, `swift`, `s3`) and its options, as
/// documented by opendal (e.g. `root` for `fs`; `endpoint`, `container`,
/// `token` for `swift`; `bucket`, `region`, `endpoint` for `s3`).
///
/// With `fs`, uploads in progress go to `atomic_write_dir`, by default `tmp/`
/// in the root. The root belongs to one proxy: at start-up it deletes every
/// upload left there, as only a crash can have interrupted them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageSettings {
    pub scheme: String,
    pub options: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: "postgres://postgres@127.0.0.1:5432/nimbus_proxy".into(),
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            public_amqp_url: None,
            queue_prefix: "nimbus".into(),
            token_ttl_secs: 86_400,
            token_cache_secs: 30,
            container_cache_secs: 10,
            storage: StorageSettings {
                scheme: "fs".into(),
                options: BTreeMap::from([("root".into(), "./data/objects".into())]),
            },
            inline_object_max_bytes: 16 * 1024,
            orphan_grace_secs: 3600,
            sweep_interval_secs: 3600,
            chunk_grace_secs: 24 * 3600,
            chunk_collection_interval_secs: 3600,
            rekey_interval_secs: 600,
            upload_session_ttl_secs: 24 * 3600,
            tempurl_allow_sha1: false,
            header_timeout_secs: 10,
            body_idle_timeout_secs: 60,
            failed_sign_ins_per_minute_per_address: NonZeroU32::new(10).expect("not zero"),
            zip_max_entries: 10_000,
            zip_max_bytes: 20_000_000_000,
        }
    }
}

impl Settings {
    /// Loads the defaults, overridden by `file` (when given) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Self = figment
            .merge(Env::prefixed("NIMBUS_PROXY_").split("__"))
            .extract()
            .map_err(Box::new)?;
        if settings.inline_object_max_bytes > MAX_INLINE_OBJECT_BYTES {
            return Err(Box::new(figment::Error::from(format!(
                "inline_object_max_bytes is {}, but at most {MAX_INLINE_OBJECT_BYTES} is allowed",
                settings.inline_object_max_bytes
            ))));
        }
        Ok(settings)
    }

    pub fn token_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.token_cache_secs)
    }

    pub fn container_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.container_cache_secs)
    }

    pub fn orphan_grace(&self) -> Duration {
        Duration::from_secs(self.orphan_grace_secs)
    }

    pub fn chunk_grace(&self) -> Duration {
        Duration::from_secs(self.chunk_grace_secs)
    }

    pub fn chunk_collection_interval(&self) -> Duration {
        Duration::from_secs(self.chunk_collection_interval_secs)
    }

    pub fn rekey_interval(&self) -> Duration {
        Duration::from_secs(self.rekey_interval_secs)
    }

    pub fn upload_session_ttl(&self) -> Duration {
        Duration::from_secs(self.upload_session_ttl_secs)
    }

    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_secs)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.body_idle_timeout_secs)
    }

    /// The AMQP URL clients should use for the metadata RPC.
    pub fn client_amqp_url(&self) -> &str {
        self.public_amqp_url.as_deref().unwrap_or(&self.amqp_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // the closure's type is figment's `Jail` API
    fn environment_overrides_defaults_and_nested_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NIMBUS_PROXY_DATABASE_URL", "postgres://db/x");
            jail.set_env("NIMBUS_PROXY_STORAGE__SCHEME", "memory");
            let settings = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(settings.database_url, "postgres://db/x");
            assert_eq!(settings.storage.scheme, "memory");
            assert_eq!(settings.listen.port(), 8080);
            assert_eq!(settings.client_amqp_url(), settings.amqp_url);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn an_inline_limit_past_the_maximum_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NIMBUS_PROXY_INLINE_OBJECT_MAX_BYTES", "1048577");
            let error = Settings::load(None).unwrap_err();
            assert!(error.to_string().contains("at most 1048576"), "{error}");
            Ok(())
        });
    }
}
