//! What the metadata server's benchmarks share: their own database, devices
//! logged in over RabbitMQ, and reproducible random files to commit.

pub mod cpu;
pub mod process;

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::{
    ChunkRef, CommitArgs, CommitItem, Content, DeviceArgs, DeviceToken, ItemOutcome, LoginArgs,
    Password, Revision,
};
use nimbus_protocol::{RpcClient, Topology};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

pub const PASSWORD: &str = "bench password, not secret";
const CHUNK_SIZE: u64 = 64 * 1024;
pub const CHUNKER: &str = "fastcdc-v2020-5.0.0:64k/256k/1m";

pub fn postgres_url() -> String {
    std::env::var("NIMBUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("NIMBUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A fresh database `nimbus_bench_<uuid>` on the local PostgreSQL, dropped by
/// [`BenchDatabase::drop_database`] (and by `scripts/test.sh` when a run
/// crashed before that).
pub struct BenchDatabase {
    pub name: String,
    pub url: String,
    admin: PgConnection,
}

impl BenchDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let name = format!("nimbus_bench_{}", Uuid::new_v4().simple());
        let base = postgres_url();
        let mut admin = PgConnection::connect(&base)
            .await
            .context("PostgreSQL must be running on 127.0.0.1:5432")?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .context("create the bench database")?;
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap_or(base.len())]);
        Ok(Self { name, url, admin })
    }

    /// Process ids of the PostgreSQL backends connected to this database.
    pub async fn backend_pids(&mut self) -> anyhow::Result<Vec<u32>> {
        let pids: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
                .bind(&self.name)
                .fetch_all(&mut self.admin)
                .await?;
        Ok(pids
            .into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .collect())
    }

    pub async fn drop_database(mut self) {
        let _ = self
            .admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
                self.name
            )))
            .await;
    }
}

pub async fn connect(amqp_url: &str, queue_prefix: &str) -> anyhow::Result<RpcClient> {
    RpcClient::connect(
        amqp_url,
        Topology::new(queue_prefix.to_owned()),
        ClientOptions {
            timeout: Duration::from_secs(10),
            // A retry would hide a slow answer inside a fast-looking one.
            attempts: 1,
        },
    )
    .await
    .context("RabbitMQ must be running on 127.0.0.1:5672")
}

/// One bench client: its own AMQP connection, device token and folder.
pub struct Device {
    pub client: RpcClient,
    pub token: DeviceToken,
    pub workspace_id: Uuid,
    pub folder_id: Uuid,
}

impl Device {
    /// Logs a device of `username` in and gives it a folder of its own in the
    /// user's default workspace.
    pub async fn log_in(
        amqp_url: &str,
        queue_prefix: &str,
        username: &str,
        device_name: &str,
    ) -> anyhow::Result<Self> {
        let client = connect(amqp_url, queue_prefix).await?;
        let token = client
            .login(LoginArgs {
                username: username.into(),
                password: Password(PASSWORD.into()),
                device: DeviceArgs {
                    device_name: device_name.into(),
                    os: Some("linux".into()),
                    app_version: Some("bench".into()),
                },
                token_ttl_secs: None,
            })
            .await
            .context("login")?
            .token;
        let workspace_id = client
            .get_workspaces(&token)
            .await
            .context("getWorkspaces")?
            .into_iter()
            .find(|w| w.is_default)
            .context("every user has a default workspace")?
            .workspace_id;
        let device = Self {
            client,
            token,
            workspace_id,
            folder_id: Uuid::now_v7(),
        };
        let folder = CommitItem {
            id: device.folder_id,
            base_version: 0,
            parent_id: None,
            name: format!("{device_name}-files"),
            is_folder: true,
            deleted: false,
            modified_at: now_millis(),
            content: Content::default(),
        };
        let (committed, _) = device.commit(vec![folder]).await?;
        anyhow::ensure!(committed == 1, "the device's folder was not committed");
        Ok(device)
    }

    /// Commits `items`; returns how many the server committed and the
    /// workspace's revision after the commit.
    pub async fn commit(&self, items: Vec<CommitItem>) -> anyhow::Result<(u64, Revision)> {
        let reply = self
            .client
            .commit(
                &self.token,
                Uuid::new_v4(),
                CommitArgs {
                    workspace_id: self.workspace_id,
                    items,
                },
            )
            .await
            .context("commit")?;
        let committed = reply
            .results
            .iter()
            .filter(|r| matches!(r.outcome, ItemOutcome::Committed { .. }))
            .count() as u64;
        Ok((committed, reply.revision))
    }

    /// Commits `files` new files of reproducible random content (seeded by
    /// `worker` and `seq`) into the device's folder; fails unless every one
    /// was committed. Returns how many were.
    pub async fn commit_new_files(
        &self,
        worker: usize,
        seq: usize,
        files: usize,
    ) -> anyhow::Result<u64> {
        let mut rng = Rng::seeded(worker, seq as u64);
        let items = (0..files)
            .map(|_| new_file(&mut rng, self.folder_id))
            .collect();
        let (committed, _) = self.commit(items).await?;
        anyhow::ensure!(committed == files as u64, "a commit was refused");
        Ok(committed)
    }
}

/// SplitMix64: enough randomness for sizes and hashes, reproducible per call.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(worker: usize, seq: u64) -> Self {
        let salt = Uuid::new_v4().as_u64_pair().0;
        Rng(salt ^ (worker as u64).rotate_left(48) ^ seq)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// 64 lowercase hex digits, like a BLAKE3 digest.
    fn hex64(&mut self) -> String {
        let mut s = String::with_capacity(64);
        for _ in 0..4 {
            let _ = write!(s, "{:016x}", self.next());
        }
        s
    }
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A new file in `parent`: log-uniform size between 1 KiB and 4 MiB, one
/// chunk per 64 KiB, a unique name.
pub fn new_file(rng: &mut Rng, parent: Uuid) -> CommitItem {
    let size = 2f64.powf(10.0 + 12.0 * rng.unit()) as u64;
    let chunks = (0..size.div_ceil(CHUNK_SIZE))
        .map(|k| ChunkRef {
            id: rng.hex64(),
            size: (size - k * CHUNK_SIZE).min(CHUNK_SIZE) as u32,
        })
        .collect();
    let id = Uuid::now_v7();
    CommitItem {
        id,
        base_version: 0,
        parent_id: Some(parent),
        name: format!("IMG_{}.jpg", id.simple()),
        is_folder: false,
        deleted: false,
        modified_at: now_millis(),
        content: Content {
            size,
            content_hash: Some(format!("blake3:{}", rng.hex64())),
            chunks,
            chunker: Some(CHUNKER.into()),
        },
    }
}
