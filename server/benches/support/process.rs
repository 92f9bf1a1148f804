//! The `nimbus-server` binary in a process of its own, and what a call costs
//! it, its database backends and the broker: the measurement the benchmarks
//! of per-operation costs share.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::future::try_join_all;
use serde_json::json;
use uuid::Uuid;

use super::cpu::{CLOCK_TICKS_PER_SECOND, parse_stat, process_cpu};
use super::{BenchDatabase, Device, PASSWORD, amqp_url};

/// CPU and wall time of one call, averaged over a run of calls.
#[derive(Debug, Clone)]
pub struct Cost {
    pub calls: usize,
    pub server_cpu_ms: f64,
    pub database_cpu_ms: f64,
    pub broker_cpu_ms: f64,
    pub wall_ms: f64,
}

impl Cost {
    pub fn minus(&self, other: &Cost) -> Cost {
        Cost {
            calls: self.calls,
            server_cpu_ms: self.server_cpu_ms - other.server_cpu_ms,
            database_cpu_ms: self.database_cpu_ms - other.database_cpu_ms,
            broker_cpu_ms: self.broker_cpu_ms - other.broker_cpu_ms,
            wall_ms: self.wall_ms - other.wall_ms,
        }
    }

    pub fn per(&self, divisor: f64) -> Cost {
        Cost {
            calls: self.calls,
            server_cpu_ms: self.server_cpu_ms / divisor,
            database_cpu_ms: self.database_cpu_ms / divisor,
            broker_cpu_ms: self.broker_cpu_ms / divisor,
            wall_ms: self.wall_ms / divisor,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "calls": self.calls,
            "server_cpu_ms": self.server_cpu_ms,
            "database_cpu_ms": self.database_cpu_ms,
            "broker_cpu_ms": self.broker_cpu_ms,
            "wall_ms": self.wall_ms,
        })
    }
}

/// Runs `calls` calls of `op` (after a tenth as many to warm up) from
/// `clients` clients in a closed loop and prints what one call cost.
pub async fn measure<F, Fut>(
    server: &ServerProcess,
    database: &mut BenchDatabase,
    label: &str,
    clients: usize,
    calls: usize,
    op: F,
) -> anyhow::Result<Cost>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    eprintln!("{label}: {calls} calls");
    run_calls(clients, calls / 10, op.clone()).await?;
    let before = Snapshot::take(server, database).await?;
    let started = Instant::now();
    run_calls(clients, calls, op).await?;
    let wall = started.elapsed();
    let after = Snapshot::take(server, database).await?;
    let per_call = |used: Duration| used.as_secs_f64() * 1000.0 / calls as f64;
    let cost = Cost {
        calls,
        server_cpu_ms: per_call(after.server.saturating_sub(before.server)),
        database_cpu_ms: per_call(after.database_since(&before)),
        broker_cpu_ms: per_call(after.broker.saturating_sub(before.broker)),
        // Calls overlap: the wall time of one is the run's times the clients.
        wall_ms: per_call(wall) * clients as f64,
    };
    println!(
        "{label:<28} {calls:>6} calls  {:>8.3} ms server  {:>8.3} ms database  \
         {:>8.3} ms broker (CPU per call)  {:>8.2} ms per call",
        cost.server_cpu_ms, cost.database_cpu_ms, cost.broker_cpu_ms, cost.wall_ms
    );
    Ok(cost)
}

/// `calls` calls shared out among `clients` clients, each calling in turn.
async fn run_calls<F, Fut>(clients: usize, calls: usize, op: F) -> anyhow::Result<()>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    let workers = (0..clients).map(|worker| {
        let op = op.clone();
        tokio::spawn(async move {
            for seq in (worker..calls).step_by(clients) {
                op(worker, seq).await?;
            }
            anyhow::Ok(())
        })
    });
    for outcome in try_join_all(workers).await? {
        outcome?;
    }
    Ok(())
}

/// CPU used so far by the server, each of its database backends, and the broker.
struct Snapshot {
    server: Duration,
    backends: BTreeMap<u32, Duration>,
    broker: Duration,
}

impl Snapshot {
    async fn take(server: &ServerProcess, database: &mut BenchDatabase) -> anyhow::Result<Self> {
        let backends = database
            .backend_pids()
            .await?
            .into_iter()
            .filter_map(|pid| Some((pid, process_cpu(pid).ok()?)))
            .collect();
        Ok(Self {
            server: process_cpu(server.child.id())?,
            backends,
            broker: broker_cpu(),
        })
    }

    /// Backends that came or went meanwhile count from zero or not at all.
    fn database_since(&self, before: &Snapshot) -> Duration {
        self.backends
            .iter()
            .map(|(pid, used)| {
                used.saturating_sub(before.backends.get(pid).copied().unwrap_or_default())
            })
            .sum()
    }
}

/// CPU time of every RabbitMQ node process (`beam.smp`) on the machine.
fn broker_cpu() -> Duration {
    let ticks: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| {
            parse_stat(&stat).and_then(|(comm, ticks)| (comm == "beam.smp").then_some(ticks))
        })
        .sum();
    Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS_PER_SECOND)
}

/// The release `nimbus-server` in a process of its own.
pub struct ServerProcess {
    pub child: Child,
    amqp_url: String,
    queue_prefix: String,
}

impl ServerProcess {
    pub async fn start(database: &BenchDatabase) -> anyhow::Result<Self> {
        let amqp_url = amqp_url();
        let queue_prefix = format!("bench-{}", Uuid::new_v4().simple());
        let command = |args: &[&str]| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_nimbus-server"));
            command
                .args(args)
                .env("NIMBUS_DATABASE_URL", &database.url)
                .env("NIMBUS_AMQP_URL", &amqp_url)
                .env("NIMBUS_QUEUE_PREFIX", &queue_prefix)
                .env("NIMBUS_IDLE_QUEUE_EXPIRY_SECS", "120")
                // Each client calls far faster than a device may: the costs
                // are measured here, the per-device limit elsewhere.
                .env("NIMBUS_DEVICE_REQUESTS_PER_SECOND", "1000000")
                .env("NIMBUS_DEVICE_REQUEST_BURST", "1000000")
                .env("RUST_LOG", "warn");
            command
        };
        for user in ["alice", "bob"] {
            let mut add = command(&[
                "user",
                "add",
                user,
                "--password-stdin",
                "--quota-gib",
                "1000000",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .context("run nimbus-server user add")?;
            add.stdin
                .take()
                .context("stdin")?
                .write_all(PASSWORD.as_bytes())?;
            ensure!(
                add.wait()?.success(),
                "nimbus-server user add {user} failed"
            );
        }
        let child = command(&["serve"])
            .spawn()
            .context("start nimbus-server serve")?;
        let server = Self {
            child,
            amqp_url,
            queue_prefix,
        };
        server.wait_until_serving().await?;
        Ok(server)
    }

    async fn wait_until_serving(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.device("alice", "probe".into()).await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context("nimbus-server did not answer within 60 s"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    pub async fn device(&self, username: &str, name: String) -> anyhow::Result<Device> {
        Device::log_in(&self.amqp_url, &self.queue_prefix, username, &name).await
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        // SIGTERM: the server drains and exits on its own.
        Command::new("kill")
            .arg(self.child.id().to_string())
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
