//! `spawn_app()`: a metadata server on a fresh database and queue prefix,
//! plus helpers to build commit items.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::{
    Changes, ChunkRef, CommitArgs, CommitItem, CommitReply, Content, DeviceArgs, DeviceToken,
    GetChangesArgs, LoginArgs, Password, WorkspaceInfo,
};
use nimbus_protocol::{RpcClient, Topology};
use nimbus_server::admin::{self, AddUser};
use nimbus_server::rpc::ServerState;
use nimbus_server::storage::MetadataStore;
use nimbus_server::test_log::record_secret;
use nimbus_server::{Application, Settings};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// PostgreSQL server for test databases (a maintenance database on it).
pub fn postgres_url() -> String {
    std::env::var("NIMBUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("NIMBUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A running metadata server and everything a test needs to talk to it.
pub struct TestApp {
    pub settings: Settings,
    pub store: Arc<dyn MetadataStore>,
    pub state: Arc<ServerState>,
    pub client: RpcClient,
    pub database_name: String,
    /// The `/healthz`, `/readyz` and `/metrics` port, with `metrics_listen`.
    pub status_port: Option<u16>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a new, empty database and an unused queue prefix.
pub async fn fresh_settings() -> (Settings, String) {
    let database_name = format!("nimbus_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&postgres_url())
        .await
        .expect("PostgreSQL must be running (see README: scripts/test.sh starts it)");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{database_name}""#
        )))
        .await
        .expect("create the test database");
    let base = postgres_url();
    let database_url = format!("{}/{database_name}", &base[..base.rfind('/').unwrap()]);
    let settings = Settings {
        database_url,
        amqp_url: amqp_url(),
        queue_prefix: format!("test-{}", Uuid::new_v4().simple()),
        idle_queue_expiry_secs: Some(120),
        database_pool_size: 8,
        ..Settings::default()
    };
    (settings, database_name)
}

pub async fn spawn_app() -> TestApp {
    let (settings, database_name) = fresh_settings().await;
    spawn_app_with(settings, database_name).await
}

/// Starts another server on the same database and queue as `settings`.
pub async fn spawn_app_with(settings: Settings, database_name: String) -> TestApp {
    nimbus_server::test_log::init();
    let application = Application::build(settings.clone())
        .await
        .expect("build the server");
    let store = application.store();
    let state = application.state();
    let status_port = application.status_port();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = client_for(&settings).await;
    TestApp {
        settings,
        store,
        state,
        client,
        database_name,
        status_port,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

pub async fn client_for(settings: &Settings) -> RpcClient {
    RpcClient::connect(
        &settings.amqp_url,
        Topology::new(settings.queue_prefix.clone()),
        ClientOptions {
            timeout: Duration::from_secs(5),
            attempts: 3,
        },
    )
    .await
    .expect("RabbitMQ must be running (see README: scripts/test.sh starts it)")
}

impl TestApp {
    /// Requests this server instance has taken on.
    pub fn requests_handled(&self) -> u64 {
        self.state.requests_handled.load(Ordering::Relaxed)
    }

    pub async fn add_user(&self, username: &str) {
        self.create_user(username, false).await;
    }

    /// Creates `username`, an administrator of the service.
    pub async fn add_admin(&self, username: &str) {
        self.create_user(username, true).await;
    }

    async fn create_user(&self, username: &str, is_admin: bool) {
        record_secret("password", PASSWORD);
        admin::add_user(
            self.store.as_ref(),
            &nimbus_server::storage::Actor::command_line(),
            AddUser {
                username: username.into(),
                password: PASSWORD.into(),
                email: Some(format!("{username}@example.org")),
                quota_bytes: 1 << 30,
                is_admin,
                account: None,
                account_admin: true,
            },
        )
        .await
        .expect("add a user");
    }

    /// Logs a device of `username` in.
    pub async fn login(&self, username: &str, device: &str) -> DeviceToken {
        let token = self
            .client
            .login(login_args(username, PASSWORD, device))
            .await
            .expect("login")
            .token;
        record_secret("device token", &token.0);
        token
    }

    /// A new user with one logged-in device, and that user's default workspace.
    pub async fn user_with_device(&self, username: &str) -> (DeviceToken, WorkspaceInfo) {
        self.add_user(username).await;
        let token = self.login(username, "laptop").await;
        let workspace = self.default_workspace(&token).await;
        (token, workspace)
    }

    pub async fn default_workspace(&self, token: &DeviceToken) -> WorkspaceInfo {
        let workspaces = self
            .client
            .get_workspaces(token)
            .await
            .expect("getWorkspaces");
        workspaces
            .into_iter()
            .find(|w| w.is_default)
            .expect("every user has a default workspace")
    }

    /// The whole delta of a workspace after `since` (one page).
    pub async fn changes_since(
        &self,
        token: &DeviceToken,
        workspace_id: Uuid,
        since: u64,
    ) -> Result<Changes, nimbus_protocol::ClientError> {
        self.client
            .get_changes(
                token,
                GetChangesArgs {
                    workspace_id,
                    since,
                    page: None,
                    limit: None,
                },
            )
            .await
    }

    pub async fn commit(
        &self,
        token: &DeviceToken,
        workspace: &WorkspaceInfo,
        items: Vec<CommitItem>,
    ) -> CommitReply {
        self.client
            .commit(
                token,
                Uuid::new_v4(),
                CommitArgs {
                    workspace_id: workspace.workspace_id,
                    items,
                },
            )
            .await
            .expect("commit")
    }

    /// Stops the server (finishing requests in flight) and drops its database.
    pub async fn stop(mut self) {
        self.stop_server().await;
        drop_database(&self.database_name).await;
    }

    /// Stops the server only; the database stays for another instance.
    pub async fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }
}

pub async fn drop_database(database_name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&postgres_url()).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)"#
            )))
            .await;
    }
}

pub fn login_args(username: &str, password: &str, device: &str) -> LoginArgs {
    // A wrong password may be a mistyped right one: it stays out of logs too.
    record_secret("password", password);
    LoginArgs {
        username: username.into(),
        password: Password(password.into()),
        device: DeviceArgs {
            device_name: device.into(),
            os: Some("linux".into()),
            app_version: Some("test".into()),
        },
        token_ttl_secs: None,
    }
}

/// A new folder named `name` under `parent`.
pub fn new_folder(parent: Option<Uuid>, name: &str) -> CommitItem {
    CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: parent,
        name: name.into(),
        is_folder: true,
        deleted: false,
        modified_at: 1_700_000_000_000,
        content: Content::default(),
    }
}

/// A new file whose content is described by `seed` (one chunk of `size` bytes).
pub fn new_file(parent: Option<Uuid>, name: &str, seed: u8, size: u32) -> CommitItem {
    CommitItem {
        is_folder: false,
        content: content(seed, size),
        ..new_folder(parent, name)
    }
}

pub fn content(seed: u8, size: u32) -> Content {
    let digest = format!("{seed:02x}").repeat(32);
    Content {
        size: u64::from(size),
        content_hash: Some(format!("blake3:{digest}")),
        chunks: vec![ChunkRef { id: digest, size }],
        chunker: Some("fastcdc-v2020-5.0.0:64k/256k/1m".into()),
    }
}

/// `item` changed on top of `version`.
pub fn based_on(item: &CommitItem, version: u64) -> CommitItem {
    CommitItem {
        base_version: version,
        ..item.clone()
    }
}
