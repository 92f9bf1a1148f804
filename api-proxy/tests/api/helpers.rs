//! `spawn_app()`: a proxy on port 0 with its own PostgreSQL database, a real
//! metadata server with its own database, both on a random RabbitMQ queue
//! prefix, and an object store in a temporary directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys};
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::{
    ChunkRef, DeviceArgs, DeviceToken, GetChangesArgs, ItemState, LoginArgs, Password,
    WorkspaceInfo,
};
use nimbus_protocol::{RpcClient, Topology};
use nimbus_proxy::config::{Settings, StorageSettings};
use nimbus_proxy::startup::Application;
use nimbus_server::admin::{AddUser, add_user};
use nimbus_server::storage::MetadataStore;
use nimbus_server::test_log::record_secret;
use reqwest::{Method, RequestBuilder, Response};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Connection, PgConnection, Postgres};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use uuid::Uuid;

/// The PostgreSQL server (without a database name) that test databases go to.
pub fn postgres() -> String {
    let url = std::env::var("NIMBUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url[..url.rfind('/').expect("a database URL has a path")].to_owned()
}

pub fn amqp() -> String {
    std::env::var("NIMBUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The restricted RabbitMQ user the proxy hands to clients (scripts/test.sh
/// creates it), so that every test that goes through a device proves it is
/// enough.
pub fn client_amqp() -> String {
    std::env::var("NIMBUS_TEST_CLIENT_AMQP_URL")
        .unwrap_or_else(|_| "amqp://nimbus-client:nimbus-client@127.0.0.1:5672/%2f".into())
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub metadata: Arc<dyn MetadataStore>,
    pub objects_dir: tempfile::TempDir,
    /// What the proxy was started with.
    pub settings: Settings,
}

/// A logged-in Swift user.
pub struct Session {
    pub token: String,
    pub storage_url: String,
}

/// Settings of a proxy for test run `run` (a fresh id): its own database,
/// the test RabbitMQ with the run's queue prefix (handing clients the
/// restricted user), objects under `objects_dir`.
pub fn proxy_settings(run: &str, objects_dir: &Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("{}/nimbus_test_proxy_{run}", postgres()),
        amqp_url: amqp(),
        public_amqp_url: Some(client_amqp()),
        queue_prefix: format!("test-{run}"),
        storage: StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), objects_dir.display().to_string())]),
        },
        ..Settings::default()
    }
}

/// Settings of the metadata server of test run `run`, handing out
/// `storage_url`.
pub fn metadata_server_settings(run: &str, storage_url: &str) -> nimbus_server::config::Settings {
    nimbus_server::config::Settings {
        database_url: format!("{}/nimbus_test_server_{run}", postgres()),
        amqp_url: amqp(),
        queue_prefix: format!("test-{run}"),
        idle_queue_expiry_secs: Some(60),
        storage_url: storage_url.to_owned(),
        ..nimbus_server::config::Settings::default()
    }
}

/// Starts a metadata server for test run `run`, handing out `storage_url`.
pub async fn start_metadata_server(run: &str, storage_url: &str) -> Arc<dyn MetadataStore> {
    let server_settings = metadata_server_settings(run, storage_url);
    Postgres::create_database(&server_settings.database_url)
        .await
        .unwrap();
    let server = nimbus_server::startup::Application::build(server_settings)
        .await
        .expect("the metadata server starts");
    let metadata = server.store();
    tokio::spawn(server.run_until_stopped(std::future::pending()));
    metadata
}

pub fn init_logging() {
    nimbus_server::test_log::init();
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let run = Uuid::new_v4().simple().to_string();
    let objects_dir = tempfile::tempdir().unwrap();
    let mut settings = proxy_settings(&run, objects_dir.path());
    configure(&mut settings);
    let proxy = Application::build(settings.clone())
        .await
        .expect("the proxy starts");
    let address = format!("http://127.0.0.1:{}", proxy.port());
    tokio::spawn(proxy.run_until_stopped(std::future::pending()));
    let metadata = start_metadata_server(&run, &address).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        metadata,
        objects_dir,
        settings,
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Creates `user`, in `account` when given (else the user's own account).
    pub async fn add_user(&self, user: &str, account: Option<&str>, account_admin: bool) {
        self.create_user(user, account, account_admin, false).await;
    }

    /// Creates `user`, an administrator of the service, in an account of
    /// their own.
    pub async fn add_admin(&self, user: &str) {
        self.create_user(user, None, true, true).await;
    }

    async fn create_user(
        &self,
        user: &str,
        account: Option<&str>,
        account_admin: bool,
        is_admin: bool,
    ) {
        record_secret("password", PASSWORD);
        add_user(
            self.metadata.as_ref(),
            &nimbus_server::storage::Actor::command_line(),
            AddUser {
                username: user.into(),
                password: PASSWORD.into(),
                email: None,
                quota_bytes: 1 << 30,
                is_admin,
                account: account.map(Into::into),
                account_admin,
            },
        )
        .await
        .unwrap();
    }

    /// TempAuth's answer; a token it hands out is noted as a secret, with
    /// the key that earned it.
    pub async fn get_token(&self, auth_user: &str, key: &str) -> Response {
        let response = self
            .client
            .get(format!("{}/auth/v1.0", self.address))
            .header("X-Auth-User", auth_user)
            .header("X-Auth-Key", key)
            .send()
            .await
            .unwrap();
        if let Some(token) = response.headers().get("x-auth-token") {
            record_secret("password", key);
            record_secret("device token", token.to_str().unwrap());
        }
        response
    }

    /// Creates the user `name` in its own account and logs in.
    pub async fn login_new_user(&self, name: &str) -> Session {
        self.add_user(name, None, true).await;
        self.login(&format!("{name}:{name}")).await
    }

    pub async fn login(&self, auth_user: &str) -> Session {
        let response = self.get_token(auth_user, PASSWORD).await;
        assert_eq!(response.status(), 200, "login of {auth_user}");
        let header = |name| response.headers()[name].to_str().unwrap().to_owned();
        Session {
            token: header("x-auth-token"),
            storage_url: header("x-storage-url"),
        }
    }

    /// The metadata server's database, beside the proxy's own.
    pub fn metadata_database_url(&self) -> String {
        self.settings
            .database_url
            .replace("nimbus_test_proxy_", "nimbus_test_server_")
    }

    /// Object bodies stored: files in the blob store plus small objects kept
    /// inline in the index, to check that failures leave nothing behind.
    pub async fn stored_bodies(&self) -> usize {
        let mut index = PgConnection::connect(&self.settings.database_url)
            .await
            .unwrap();
        let (inline,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM objects WHERE inline_data IS NOT NULL")
                .fetch_one(&mut index)
                .await
                .unwrap();
        files_under(self.objects_dir.path()).len() + inline as usize
    }
}

/// Files under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, found);
            } else {
                found.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

impl Session {
    /// A request to `path` under the storage URL (`""` = the account).
    pub fn request(&self, client: &reqwest::Client, method: &str, path: &str) -> RequestBuilder {
        let url = if path.is_empty() {
            self.storage_url.clone()
        } else {
            format!("{}/{path}", self.storage_url)
        };
        client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("X-Auth-Token", &self.token)
    }
}

/// Chunks `data` as the desktop client does and `PUT`s the sealed chunks
/// into `container_url` through the Swift API. Returns what a commit of the
/// content names: its chunks, keyed content hash and size.
pub async fn upload_chunks(
    client: &reqwest::Client,
    container_url: &str,
    token: &str,
    keys: &WorkspaceKeys,
    data: &[u8],
) -> (Vec<ChunkRef>, String, u64) {
    let mut chunker = Chunker::new(data, keys, ChunkerParams::DEFAULT);
    let mut chunks = Vec::new();
    for chunk in chunker.by_ref() {
        let chunk = chunk.unwrap();
        let put = client
            .put(format!("{container_url}/{}", chunk.id))
            .header("X-Auth-Token", token)
            .body(chunk.sealed)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "chunk {}", chunk.id);
        chunks.push(ChunkRef {
            id: chunk.id,
            size: chunk.plain_len,
        });
    }
    let (content_hash, size) = chunker.finish();
    (chunks, content_hash, size)
}

/// A device of `user`, as the desktop client is one: its RPC client (found
/// through TempAuth's headers), token, default workspace and storage URL.
pub struct Device {
    pub rpc: RpcClient,
    pub token: DeviceToken,
    pub workspace: WorkspaceInfo,
    pub swift_token: String,
    /// The account's storage URL, and its default workspace's container.
    pub storage_url: String,
    pub container_url: String,
}

/// The metadata RPC, reached as a TempAuth answer says.
pub async fn rpc_of(tempauth: &Response) -> RpcClient {
    let header = |name: &str| tempauth.headers()[name].to_str().unwrap().to_owned();
    RpcClient::connect_device(
        &header("x-nimbus-rpc-url"),
        Topology::new(header("x-nimbus-rpc-prefix")),
        ClientOptions::default(),
    )
    .await
    .unwrap()
}

pub async fn device(app: &TestApp, user: &str) -> Device {
    let response = app.get_token(&format!("{user}:{user}"), PASSWORD).await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let rpc = rpc_of(&response).await;
    let login = rpc
        .login(LoginArgs {
            username: user.into(),
            password: Password(PASSWORD.into()),
            device: DeviceArgs {
                device_name: "laptop".into(),
                os: None,
                app_version: None,
            },
            token_ttl_secs: None,
        })
        .await
        .unwrap();
    record_secret("device token", &login.token.0);
    let workspace = rpc
        .get_workspaces(&login.token)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.is_default)
        .unwrap();
    let storage_url = header("x-storage-url");
    let container_url = format!("{storage_url}/{}", workspace.container);
    Device {
        rpc,
        token: login.token,
        workspace,
        swift_token: header("x-auth-token"),
        storage_url,
        container_url,
    }
}

/// Every live item of the device's workspace, read page by page.
pub async fn live_items(laptop: &Device) -> Vec<ItemState> {
    let mut items = Vec::new();
    let mut page = None;
    loop {
        let changes = laptop
            .rpc
            .get_changes(
                &laptop.token,
                GetChangesArgs {
                    workspace_id: laptop.workspace.workspace_id,
                    since: 0,
                    page,
                    limit: None,
                },
            )
            .await
            .unwrap();
        items.extend(changes.items.into_iter().filter(|item| !item.deleted));
        match changes.next_page {
            Some(next) => page = Some(next),
            None => return items,
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), which do not compress.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A raw TCP connection to the proxy, for clients that misbehave.
pub async fn raw_connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// The HTTP/1.1 head of `request`, announcing a body of `length` bytes.
pub fn raw_head(request: &reqwest::Request, length: usize) -> Vec<u8> {
    let url = request.url();
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {length}\r\n",
        request.method(),
        url.authority()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// What the proxy sends until it closes the connection. The time limit
/// only keeps a broken proxy from hanging the suite.
pub async fn raw_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_all = async {
        // A reset after the answer counts as the end of it.
        while let Ok(n @ 1..) = stream.read(&mut buffer).await {
            answer.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read_all)
        .await
        .expect("the proxy ends a stalled request");
    String::from_utf8_lossy(&answer).into_owned()
}
