//! A metadata server and a proxy in this process, and desktop devices.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nimbus_client::config::ConfigDir;
use nimbus_client::daemon::{self, Target};
use nimbus_client::passphrase::{Passphrase, PassphraseSource};
use nimbus_proxy::config::{Settings as ProxySettings, StorageSettings};
use nimbus_server::admin::{AddUser, add_user};
use nimbus_server::storage::MetadataStore;
use nimbus_server::test_log::record_secret;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// How long a change may take to show before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(120);

fn postgres_url() -> String {
    std::env::var("NIMBUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn amqp_url() -> String {
    std::env::var("NIMBUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The restricted RabbitMQ user the proxy hands to devices (scripts/test.sh
/// creates it), so that every test proves devices need nothing more.
fn client_amqp_url() -> String {
    std::env::var("NIMBUS_TEST_CLIENT_AMQP_URL")
        .unwrap_or_else(|_| "amqp://nimbus-client:nimbus-client@127.0.0.1:5672/%2f".into())
}

/// `postgres://…/name` on the test server.
fn database_url(name: &str) -> String {
    let base = postgres_url();
    format!(
        "{}/{name}",
        &base[..base.rfind('/').expect("a database URL")]
    )
}

async fn admin_connection() -> PgConnection {
    PgConnection::connect(&postgres_url())
        .await
        .expect("PostgreSQL must be running (scripts/test.sh starts it)")
}

/// A metadata server and a proxy on fresh databases and a fresh queue prefix.
pub struct Cluster {
    pub proxy_url: String,
    metadata: Arc<dyn MetadataStore>,
    databases: Vec<String>,
    stops: Vec<oneshot::Sender<()>>,
    /// The root of the proxy's blob store (`fs`).
    objects: PathBuf,
    /// The temporary directory `objects` is, unless it was given.
    _objects_dir: Option<tempfile::TempDir>,
    proxy_database_url: String,
}

impl Cluster {
    pub async fn spawn() -> Self {
        let objects = tempfile::tempdir().unwrap();
        let mut cluster = Self::spawn_storing_in(objects.path()).await;
        cluster._objects_dir = Some(objects);
        cluster
    }

    /// [`Cluster::spawn`] with the proxy's blobs in `objects`.
    pub async fn spawn_storing_in(objects: &Path) -> Self {
        nimbus_server::test_log::init();
        let run = Uuid::new_v4().simple().to_string();
        let prefix = format!("test-{run}");
        let server_db = format!("nimbus_test_client_server_{run}");
        let proxy_db = format!("nimbus_test_client_proxy_{run}");
        let mut admin = admin_connection().await;
        for name in [&server_db, &proxy_db] {
            admin
                .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
                .await
                .expect("create a test database");
        }
        let proxy = nimbus_proxy::startup::Application::build(ProxySettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url(&proxy_db),
            amqp_url: amqp_url(),
            public_amqp_url: Some(client_amqp_url()),
            queue_prefix: prefix.clone(),
            storage: StorageSettings {
                scheme: "fs".into(),
                options: BTreeMap::from([("root".into(), objects.display().to_string())]),
            },
            ..ProxySettings::default()
        })
        .await
        .expect("the proxy starts");
        let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
        let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
        tokio::spawn(proxy.run_until_stopped(async {
            let _ = proxy_stopped.await;
        }));

        let server = nimbus_server::startup::Application::build(nimbus_server::config::Settings {
            database_url: database_url(&server_db),
            amqp_url: amqp_url(),
            queue_prefix: prefix,
            idle_queue_expiry_secs: Some(120),
            storage_url: proxy_url.clone(),
            database_pool_size: 8,
            ..nimbus_server::config::Settings::default()
        })
        .await
        .expect("the metadata server starts");
        let metadata = server.store();
        let (stop_server, server_stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async {
            let _ = server_stopped.await;
        }));
        Self {
            proxy_url,
            metadata,
            proxy_database_url: database_url(&proxy_db),
            databases: vec![server_db, proxy_db],
            stops: vec![stop_server, stop_proxy],
            objects: objects.to_owned(),
            _objects_dir: None,
        }
    }

    pub async fn add_user(&self, name: &str) {
        record_secret("password", PASSWORD);
        add_user(
            self.metadata.as_ref(),
            &nimbus_server::storage::Actor::command_line(),
            AddUser {
                username: name.into(),
                password: PASSWORD.into(),
                email: Some(format!("{name}@example.org")),
                quota_bytes: 8 << 30,
                is_admin: false,
                account: None,
                account_admin: true,
            },
        )
        .await
        .expect("add a user");
    }

    /// Sets `user`'s quota, as an administrator would in the database
    /// (there is no command for it yet).
    pub async fn set_quota(&self, user: &str, bytes: i64) {
        let mut db = PgConnection::connect(&database_url(&self.databases[0]))
            .await
            .expect("connect to the metadata database");
        sqlx::query("UPDATE users SET quota_limit = $2 WHERE username = $1")
            .bind(user)
            .bind(bytes)
            .execute(&mut db)
            .await
            .expect("set the quota");
    }

    /// A device of `user` logged in (in-process) with its own configuration
    /// directory and an empty folder.
    pub async fn device(&self, user: &str, name: &str) -> Device {
        let home = tempfile::tempdir().unwrap();
        let mut device = self.device_in(user, name, home.path()).await;
        device._home = Some(home);
        device
    }

    /// [`Cluster::device`] with its configuration directory and folder in
    /// `home`.
    pub async fn device_in(&self, user: &str, name: &str, home: &Path) -> Device {
        let config = ConfigDir::new(home.join("config"));
        let root = home.join("Nimbus");
        std::fs::create_dir_all(&root).unwrap();
        nimbus_client::cli::login(&config, &self.proxy_url, user, PASSWORD, name)
            .await
            .expect("login");
        let (_, token) = config.load().expect("the device is logged in");
        record_secret("device token", &token.0);
        Device {
            config,
            root,
            _home: None,
        }
    }

    /// The bytes of every object the proxy stores: its blob files, and the
    /// small objects its index keeps inline.
    pub async fn stored_bodies(&self) -> Vec<Vec<u8>> {
        let mut bodies: Vec<Vec<u8>> = walkdir::WalkDir::new(&self.objects)
            .into_iter()
            .flatten()
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| std::fs::read(entry.path()).unwrap())
            .collect();
        let mut index = PgConnection::connect(&self.proxy_database_url)
            .await
            .unwrap();
        let inline: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT inline_data FROM objects WHERE inline_data IS NOT NULL")
                .fetch_all(&mut index)
                .await
                .unwrap();
        bodies.extend(inline.into_iter().map(|(bytes,)| bytes));
        bodies
    }

    /// The blob files of the proxy's store (not its uploads in progress),
    /// for tests that lose bytes behind its back.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let partial = self.objects.join("tmp");
        walkdir::WalkDir::new(&self.objects)
            .into_iter()
            .flatten()
            .filter(|entry| entry.file_type().is_file() && !entry.path().starts_with(&partial))
            .map(walkdir::DirEntry::into_path)
            .collect()
    }

    /// How many item versions the metadata server holds: every commit of
    /// a change adds one.
    pub async fn item_versions(&self) -> i64 {
        let mut db = PgConnection::connect(&database_url(&self.databases[0]))
            .await
            .expect("connect to the metadata database");
        sqlx::query_scalar("SELECT count(*) FROM item_versions")
            .fetch_one(&mut db)
            .await
            .expect("count the versions")
    }

    /// Stops the server and the proxy and drops their databases.
    pub async fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut admin = admin_connection().await;
        for name in &self.databases {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .await;
        }
    }
}

/// What one device's session sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    pub chunks_put: u64,
    pub bytes_put: u64,
}

pub struct Device {
    pub config: ConfigDir,
    pub root: PathBuf,
    /// The temporary directory the device lives in, unless it was given.
    _home: Option<tempfile::TempDir>,
}

impl Device {
    /// Syncs until the folder and the server agree, in this process.
    pub async fn sync(&self) -> Sent {
        let mut session = daemon::open(&self.config, &self.root, None)
            .await
            .expect("open the folder");
        for _ in 0..20 {
            let round = session.engine.sync_round().await.expect("sync");
            if round.quiet && round.ops == 0 {
                break;
            }
        }
        session.store.close().await;
        Sent {
            chunks_put: session.stats.chunks_put.load(Ordering::Relaxed),
            bytes_put: session.stats.bytes_put.load(Ordering::Relaxed),
        }
    }

    /// Runs `nimbus sync`'s loop (watcher + push) in this process.
    pub async fn start(&self) -> Running {
        self.start_at(&self.root).await
    }

    /// Runs `nimbus sync`'s loop for `root`, a folder already linked.
    pub async fn start_at(&self, root: &Path) -> Running {
        self.start_target(root, &Target::default()).await
    }

    /// Runs `nimbus sync`'s loop with `passphrase` at hand, as
    /// `nimbus sync --passphrase-stdin` has it: its encrypted mounts use it.
    pub async fn start_with_passphrase(&self, passphrase: &str) -> Running {
        record_secret("passphrase", passphrase);
        let target = Target {
            passphrase: PassphraseSource::Given(Passphrase::new(passphrase).unwrap()),
            ..Target::default()
        };
        self.start_target(&self.root, &target).await
    }

    async fn start_target(&self, root: &Path, target: &Target) -> Running {
        let mut session = daemon::open_target(&self.config, root, None, target)
            .await
            .expect("open the folder");
        let (stop, stopped) = oneshot::channel::<()>();
        let (count_round, quiet_rounds) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            let result = daemon::run(
                &mut session,
                async {
                    let _ = stopped.await;
                },
                |_| count_round.send_modify(|rounds| *rounds += 1),
            )
            .await;
            session.store.close().await;
            result.expect("the sync loop ends cleanly");
        });
        Running {
            stop,
            task,
            quiet_rounds,
        }
    }
}

pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// How many rounds ended in sync.
    quiet_rounds: watch::Receiver<u64>,
}

impl Running {
    /// How many rounds ended in sync so far.
    pub fn quiet_rounds(&self) -> u64 {
        *self.quiet_rounds.borrow()
    }

    /// Waits until the loop has finished a round (its file watcher is set
    /// up by then).
    pub async fn first_round(&mut self) {
        tokio::time::timeout(DEADLINE, self.quiet_rounds.wait_for(|&rounds| rounds > 0))
            .await
            .expect("the first sync round ends in time")
            .expect("the sync loop runs");
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("the sync loop did not panic");
    }
}

/// `nimbus status` of the device configured in `config`.
pub async fn status(config: &Path) -> String {
    let outcome = run(config, &["status"], "").await;
    assert!(outcome.success, "{}", outcome.stderr);
    outcome.stdout
}

/// Polls `nimbus status` of the device configured in `config` until
/// `done` holds for it, and returns it; fails the test after [`DEADLINE`].
pub async fn wait_for_status(config: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let report = status(config).await;
        if done(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}; the status says:\n{report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many times in a row the status says the (first) stuck download
/// failed.
pub fn failures(status: &str) -> Option<u32> {
    let (_, after) = status.split_once("(failed ")?;
    after.split_once(' ')?.0.parse().ok()
}

/// Polls `done` until it holds; fails the test after [`DEADLINE`].
pub async fn deadline_wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every file (with its bytes) and folder under `root`, except `.nimbus`.
pub fn list_files(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".nimbus")
        .flatten()
        .map(|e| {
            let path = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = e
                .file_type()
                .is_file()
                .then(|| std::fs::read(e.path()).unwrap_or_default());
            (path, bytes)
        })
        .collect()
}

/// Deterministic pseudo-random bytes (splitmix64).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut state = seed;
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `size` pseudo-random bytes to `path`, 4 MiB at a time.
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0;
    let mut block = 0;
    while written < size {
        let len = (size - written).min(4 << 20) as usize;
        file.write_all(&random_bytes(len, seed ^ (block << 32)))
            .unwrap();
        written += len as u64;
        block += 1;
    }
    file.flush().unwrap();
}

/// BLAKE3 of a file, streamed.
pub fn file_digest(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    hasher.finalize().to_hex().to_string()
}

/// The `nimbus` binary with a configuration directory.
pub fn nimbus(config: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_nimbus"));
    command
        .env("NIMBUS_CONFIG_DIR", config)
        .env(
            "RUST_LOG",
            // The suite's log directory takes the level `scripts/test.sh` sets.
            std::env::var("NIMBUS_E2E_LOG")
                .or_else(|_| match std::env::var_os("NIMBUS_TEST_LOG_DIR") {
                    Some(_) => std::env::var("RUST_LOG"),
                    None => Ok("warn".into()),
                })
                .unwrap_or_else(|_| "warn".into()),
        )
        .kill_on_drop(true);
    command
}

/// Where a `nimbus` child whose output the test does not read logs to: the
/// suite's log directory when there is one.
pub fn child_log() -> Stdio {
    nimbus_server::test_log::output_file(CLI_LOG).map_or_else(Stdio::inherit, Stdio::from)
}

/// The log file, in the suite's log directory, of the `nimbus` children.
pub const CLI_LOG: &str = "nimbus-cli";

/// What a run of the binary did.
pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `nimbus ARGS` for the device configured in `config`, with `input`
/// as its standard input.
pub async fn run(config: &Path, args: &[&str], input: &str) -> Outcome {
    let mut child = nimbus(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nimbus");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A command that reads no input may have exited already: its closed
    // pipe is not a failure of the run.
    let fed = async {
        stdin.write_all(input.as_bytes()).await?;
        stdin.write_all(b"\n").await
    };
    if let Err(error) = fed.await {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    nimbus_server::test_log::append_output(CLI_LOG, &output.stderr);
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes a line to the child's standard input and waits for success.
pub async fn feed_and_wait(mut child: tokio::process::Child, line: &str) {
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(line.as_bytes()).await.unwrap();
    stdin.write_all(b"\n").await.unwrap();
    drop(stdin);
    let status = child.wait().await.unwrap();
    assert!(status.success(), "nimbus login failed");
}
