//! Everything the clients talk to: the run's PostgreSQL and RabbitMQ, two
//! metadata servers and two proxies (the built binaries, configured through
//! the environment as `scripts/dev-up.sh` does), one user and one OAuth
//! application.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::infra::{Postgres, Rabbit, free_port, wait_for_port};
use crate::process::{Launch, Process};

const USER: &str = "faults";
const PASSWORD: &str = "faults under load";
const QUEUE_PREFIX: &str = "faults";

pub struct Cluster {
    pub postgres: Postgres,
    pub rabbit: Rabbit,
    pub servers: Vec<Process>,
    pub proxies: Vec<Process>,
    pub proxy_ports: Vec<u16>,
    pub account: Account,
    pub logs: PathBuf,
}

impl Cluster {
    pub async fn start(bin: &Path, dir: &Path) -> anyhow::Result<Self> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let postgres = Postgres::start(&dir.join("postgres")).await?;
        for name in ["nimbus", "nimbus_proxy"] {
            postgres.create_database(name).await?;
        }
        let rabbit = Rabbit::start(&dir.join("rabbitmq")).await?;
        let proxy_ports = vec![free_port(), free_port()];
        let proxy_url = |port: u16| format!("http://127.0.0.1:{port}");

        let server_env = |storage_url: String| {
            vec![
                ("NIMBUS_DATABASE_URL".into(), postgres.url("nimbus")),
                ("NIMBUS_AMQP_URL".into(), rabbit.url()),
                ("NIMBUS_QUEUE_PREFIX".into(), QUEUE_PREFIX.into()),
                ("NIMBUS_STORAGE_URL".into(), storage_url),
                ("RUST_LOG".into(), "info".into()),
            ]
        };
        let server = |port: u16, args: &[&str]| Launch {
            program: bin.join("nimbus-server"),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: server_env(proxy_url(port)),
        };
        run_with_input(&server(proxy_ports[0], &["migrate"]), "").await?;
        let account = Account::create(
            |args| server(proxy_ports[0], args),
            USER.to_owned(),
            PASSWORD.to_owned(),
        )
        .await?;

        // Each server tells its clients about "its" proxy, so devices that
        // open their folder through different servers use different proxies.
        let servers = ["server-a", "server-b"]
            .iter()
            .zip(&proxy_ports)
            .map(|(name, port)| Process::start(name, server(*port, &["serve"]), &logs))
            .collect::<anyhow::Result<Vec<_>>>()?;

        // One blob store and one index behind both proxies (a deployment
        // shares them); each proxy has its own directory of uploads in
        // progress, which it empties when it starts.
        let objects = dir.join("objects");
        std::fs::create_dir_all(&objects)?;
        let mut proxies = Vec::new();
        for (name, port) in ["proxy-a", "proxy-b"].iter().zip(&proxy_ports) {
            let partial = dir.join(format!("partial-{name}"));
            let env = vec![
                ("NIMBUS_PROXY_LISTEN".into(), format!("127.0.0.1:{port}")),
                ("NIMBUS_PROXY_PUBLIC_URL".into(), proxy_url(*port)),
                (
                    "NIMBUS_PROXY_DATABASE_URL".into(),
                    postgres.url("nimbus_proxy"),
                ),
                ("NIMBUS_PROXY_AMQP_URL".into(), rabbit.url()),
                ("NIMBUS_PROXY_PUBLIC_AMQP_URL".into(), rabbit.client_url()),
                ("NIMBUS_PROXY_QUEUE_PREFIX".into(), QUEUE_PREFIX.into()),
                ("NIMBUS_PROXY_STORAGE__SCHEME".into(), "fs".into()),
                (
                    "NIMBUS_PROXY_STORAGE__OPTIONS__ROOT".into(),
                    objects.display().to_string(),
                ),
                (
                    "NIMBUS_PROXY_STORAGE__OPTIONS__ATOMIC_WRITE_DIR".into(),
                    partial.display().to_string(),
                ),
                ("RUST_LOG".into(), "info".into()),
            ];
            let launch = Launch {
                program: bin.join("nimbus-proxy"),
                args: Vec::new(),
                env,
            };
            proxies.push(Process::start(name, launch, &logs)?);
            wait_for_port(*port, Duration::from_secs(60)).await?;
        }
        Ok(Self {
            postgres,
            rabbit,
            servers,
            proxies,
            proxy_ports,
            account,
            logs,
        })
    }

    pub fn proxy_url(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.proxy_ports[index])
    }

    pub async fn stop(mut self) {
        for process in self.proxies.iter_mut().chain(self.servers.iter_mut()) {
            process.stop().await;
        }
        if let Err(error) = self.rabbit.stop().await {
            eprintln!("could not stop the run's RabbitMQ node: {error:#}");
        }
        if let Err(error) = self.postgres.stop().await {
            eprintln!("could not stop the run's PostgreSQL: {error:#}");
        }
    }
}

/// The user every client signs in as, and the OAuth application of the
/// REST client.
pub struct Account {
    pub user: String,
    pub password: String,
    /// The OAuth application's key and secret.
    pub consumer: (String, String),
}

impl Account {
    /// Adds the user and registers the application with `nimbus-server`,
    /// as `server(args)` runs it (against the cluster's database).
    pub async fn create(
        server: impl Fn(&[&str]) -> Launch,
        user: String,
        password: String,
    ) -> anyhow::Result<Self> {
        let email = format!("{user}@example.org");
        run_with_input(
            &server(&["user", "add", &user, "--email", &email, "--password-stdin"]),
            &password,
        )
        .await?;
        let registered =
            run_with_input(&server(&["oauth", "add-consumer", "Faults under load"]), "").await?;
        let field = |label: &str| {
            registered
                .lines()
                .find_map(|line| line.strip_prefix(label))
                .map(|value| value.trim().to_owned())
                .with_context(|| format!("no {label} in {registered}"))
        };
        let consumer = (field("consumer key:")?, field("consumer secret:")?);
        Ok(Self {
            user,
            password,
            consumer,
        })
    }
}

/// Runs a command to its end with `input` on its standard input.
pub async fn run_with_input(launch: &Launch, input: &str) -> anyhow::Result<String> {
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", launch.program.display()))?;
    let mut stdin = child.stdin.take().context("piped stdin")?;
    stdin.write_all(input.as_bytes()).await?;
    stdin.write_all(b"\n").await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!(
            "{} {:?} failed: {}",
            launch.program.display(),
            launch.args,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
