//! `spawn_app()`: a proxy on port 0 with its own PostgreSQL database, a real
//! metadata server with its own database, both on a random RabbitMQ queue
//! prefix, and an object store in a temporary directory.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_proxy::config::{Settings, StorageSettings};
use nimbus_proxy::startup::Application;
use nimbus_server::admin::{AddUser, add_user};
use nimbus_server::storage::MetadataStore;
use reqwest::{Method, RequestBuilder, Response};
use sqlx::Postgres;
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

/// The PostgreSQL server (without a database name) that test databases go to.
fn postgres() -> String {
    let url = std::env::var("NIMBUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url[..url.rfind('/').expect("a database URL has a path")].to_owned()
}

fn amqp() -> String {
    std::env::var("NIMBUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub metadata: Arc<dyn MetadataStore>,
    pub objects_dir: tempfile::TempDir,
}

/// A logged-in Swift user.
pub struct Session {
    pub token: String,
    pub storage_url: String,
}

pub async fn spawn_app() -> TestApp {
    nimbus_proxy::telemetry::init(if std::env::var("TEST_LOG").is_ok() {
        "info"
    } else {
        "off"
    });
    let run = Uuid::new_v4().simple().to_string();
    let prefix = format!("test-{run}");
    let objects_dir = tempfile::tempdir().unwrap();

    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("{}/nimbus_test_proxy_{run}", postgres()),
        amqp_url: amqp(),
        queue_prefix: prefix.clone(),
        storage: StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), objects_dir.path().display().to_string())]),
        },
        ..Settings::default()
    };
    let proxy = Application::build(settings)
        .await
        .expect("the proxy starts");
    let address = format!("http://127.0.0.1:{}", proxy.port());
    tokio::spawn(proxy.run_until_stopped(std::future::pending()));

    let server_db = format!("{}/nimbus_test_server_{run}", postgres());
    Postgres::create_database(&server_db).await.unwrap();
    let server_settings = nimbus_server::config::Settings {
        database_url: server_db,
        amqp_url: amqp(),
        queue_prefix: prefix,
        idle_queue_expiry_secs: Some(60),
        storage_url: address.clone(),
        ..nimbus_server::config::Settings::default()
    };
    let server = nimbus_server::startup::Application::build(server_settings)
        .await
        .expect("the metadata server starts");
    let metadata = server.store();
    tokio::spawn(server.run_until_stopped(std::future::pending()));

    TestApp {
        address,
        client: reqwest::Client::new(),
        metadata,
        objects_dir,
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Creates `user`, in `account` when given (else the user's own account).
    pub async fn add_user(&self, user: &str, account: Option<&str>, account_admin: bool) {
        add_user(
            self.metadata.as_ref(),
            AddUser {
                username: user.into(),
                password: PASSWORD.into(),
                email: None,
                quota_bytes: 1 << 30,
                is_admin: false,
                account: account.map(Into::into),
                account_admin,
            },
        )
        .await
        .unwrap();
    }

    pub async fn get_token(&self, auth_user: &str, key: &str) -> Response {
        self.client
            .get(format!("{}/auth/v1.0", self.address))
            .header("X-Auth-User", auth_user)
            .header("X-Auth-Key", key)
            .send()
            .await
            .unwrap()
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

    /// Files in the object store, to check that failures leave nothing behind.
    pub fn stored_files(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .map(|e| e.unwrap().path())
                        .map(|p| if p.is_dir() { count(&p) } else { 1 })
                        .sum()
                })
                .unwrap_or(0)
        }
        count(self.objects_dir.path())
    }
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
