//! The run's own PostgreSQL cluster and RabbitMQ node. The machine's shared
//! ones (5432, 5672) serve other people's tests and are never touched: these
//! live in the run's directory, on free ports, and are the ones restarted.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// Runs a command to completion; fails with its output if it fails.
pub async fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A TCP port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on loopback")
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Waits until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on port {port} after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A PostgreSQL cluster of this run (initdb in the run's directory).
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
    options: String,
}

impl Postgres {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = newest_postgres_bin()?;
        std::fs::create_dir_all(dir)?;
        run(Command::new("chown").arg("postgres:").arg(dir)).await?;
        let port = free_port();
        let cluster = Self {
            data: dir.join("data"),
            log: dir.join("postgres.log"),
            options: format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                dir.display()
            ),
            bin,
            port,
        };
        run(cluster
            .as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&cluster.data))
        .await?;
        cluster.pg_ctl(&["start"]).await?;
        Ok(cluster)
    }

    fn as_postgres(&self, program: &str) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program));
        command
    }

    async fn pg_ctl(&self, action: &[&str]) -> anyhow::Result<()> {
        run(self
            .as_postgres("pg_ctl")
            .args(action)
            .args(["-w", "-t", "120", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &self.options]))
        .await
        .map(drop)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        run(self.as_postgres("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            name,
        ]))
        .await
        .map(drop)
    }

    /// Stops without a checkpoint, as a crash would (the next start
    /// replays the WAL), and starts again.
    pub async fn restart_immediate(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["restart", "-m", "immediate"]).await
    }

    pub async fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-m", "fast"]).await
    }
}

fn newest_postgres_bin() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql)")?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no PostgreSQL version in /usr/lib/postgresql")
}

/// The user the proxies hand to desktop clients, with the rights
/// `scripts/lib.sh` (`ensure_rabbitmq_client_user`) gives it.
pub const CLIENT_USER: &str = "nimbus-client";
const CLIENT_PASSWORD: &str = "nimbus-client";

/// A RabbitMQ node of this run: its own node name, ports, database and
/// logs, no plugins (so no management listener), and a configuration file
/// of its own instead of the machine's (which names the shared port).
pub struct Rabbit {
    dir: PathBuf,
    node: String,
    pub port: u16,
    dist_port: u16,
    server: Option<tokio::process::Child>,
}

impl Rabbit {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("mnesia"))?;
        std::fs::create_dir_all(dir.join("log"))?;
        std::fs::write(dir.join("enabled_plugins"), "")?;
        std::fs::write(dir.join("rabbitmq.conf"), "loopback_users = none\n")?;
        // The broker runs as the rabbitmq user (the package's wrapper
        // switches to it), which must own its directories.
        run(Command::new("chown").arg("-R").arg("rabbitmq:").arg(dir)).await?;
        let (port, dist_port) = rabbit_ports();
        let suffix: u32 = rand::random();
        let mut rabbit = Self {
            dir: dir.to_owned(),
            node: format!("nimbus-faults-{suffix:08x}@localhost"),
            port,
            dist_port,
            server: None,
        };
        rabbit.launch().await?;
        rabbit
            .ctl(&["add_user", CLIENT_USER, CLIENT_PASSWORD])
            .await?;
        rabbit
            .ctl(&[
                "set_permissions",
                "-p",
                "/",
                CLIENT_USER,
                r"^amq\.gen-.*$",
                r"^[^.]+\.rpc$",
                r"^amq\.gen-.*$",
            ])
            .await?;
        rabbit
            .ctl(&[
                "set_policy",
                "-p",
                "/",
                "--apply-to",
                "queues",
                "--priority",
                "0",
                "nimbus-client-queues",
                r"^amq\.gen-",
                r#"{"max-length":1000,"overflow":"drop-head","expires":3600000}"#,
            ])
            .await?;
        Ok(rabbit)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.out"))?;
        let child = Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start rabbitmq-server (is it installed?)")?;
        self.server = Some(child);
        // await_startup fails at once while the node is not reachable yet.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while let Err(error) = self.ctl(&["await_startup", "--timeout", "10"]).await {
            if tokio::time::Instant::now() > deadline {
                return Err(error.context("the RabbitMQ node did not start"));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        wait_for_port(self.port, Duration::from_secs(60)).await
    }

    pub async fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("rabbitmqctl")
            .args(["-q", "-n", &self.node])
            .args(args))
        .await
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub fn client_url(&self) -> String {
        format!(
            "amqp://{CLIENT_USER}:{CLIENT_PASSWORD}@127.0.0.1:{}/%2f",
            self.port
        )
    }

    /// A clean stop of the node and a start, keeping its database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.launch().await
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.ctl(&["stop"]).await?;
        if let Some(mut server) = self.server.take() {
            server.wait().await?;
        }
        Ok(())
    }
}

/// A node port and a distribution port such that the command-line tools'
/// ports (distribution port + 10000 and up) are free too: the shared broker's
/// distribution port is 25672, whose tools use 35672 and up.
fn rabbit_ports() -> (u16, u16) {
    loop {
        let port = free_port();
        let Some(tools) = port.checked_add(10_011) else {
            continue;
        };
        let dist = port + 1;
        if port_is_free(dist) && (dist + 10_000..=tools).all(port_is_free) {
            return (port, dist);
        }
    }
}
