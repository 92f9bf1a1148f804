//! What one metadata operation costs: the CPU of the metadata server and of
//! the PostgreSQL backends serving it, per call. A benchmark, not a test: it
//! prints figures and asserts only that the operations succeeded. These are
//! the costs the load model (`bench/load-model/`) starts from.
//!
//! ```text
//! cargo bench -p nimbus-server --bench op_costs
//! ```
//!
//! The server is the `nimbus-server` binary built with the bench (release) in
//! a process of its own, so that its CPU time (`/proc/<pid>/stat`) is its
//! alone, on a fresh database `nimbus_bench_<uuid>` (dropped at the end) and
//! a random queue prefix on the local RabbitMQ. The database's share is the
//! CPU of the backends `pg_stat_activity` lists for that database; the
//! broker's, the CPU of RabbitMQ's `beam.smp` (shared with whatever else uses
//! the broker meanwhile, so read it as an upper bound).
//!
//! Each operation runs [`CLIENTS`] clients in a closed loop for a fixed number
//! of calls, after a warm-up:
//!
//! * `getAccount`: the lightest authenticated call, the floor of every RPC;
//! * `commit`, one new file, and 50 new files (sizes 1 KiB to 4 MiB,
//!   log-uniform, a chunk per 64 KiB): the difference gives the cost of one
//!   more item in a commit;
//! * `getChanges` with nothing new (a device catching up after a reconnect)
//!   and a full page of the delta of a workspace of [`TREE_FILES`] files.
//!
//! `NIMBUS_BENCH_SCALE` (1.0) multiplies the number of calls.
//! `NIMBUS_BENCH_COSTS_OUT` names a JSON file to write the figures to.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::future::try_join_all;
use nimbus_protocol::rpc::{DEFAULT_CHANGES_PAGE, GetChangesArgs};
use serde_json::json;
use uuid::Uuid;

// Shared with the other benchmarks; this one uses only part of it.
#[allow(dead_code)]
mod support;
use support::cpu::{parse_stat, process_cpu};
use support::{BenchDatabase, Device, PASSWORD, Rng, amqp_url, new_file};

const CLIENTS: usize = 4;
/// Files in the workspace whose delta `getChanges` pages through.
const TREE_FILES: usize = 20_000;
/// Items per commit while that workspace is filled.
const FILL_BATCH: usize = 500;

fn scaled(calls: usize) -> usize {
    let scale = std::env::var("NIMBUS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    ((calls as f64 * scale).round() as usize).max(CLIENTS)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut database = BenchDatabase::create().await?;
    let outcome = run(&mut database).await;
    database.drop_database().await;
    outcome
}

async fn run(database: &mut BenchDatabase) -> anyhow::Result<()> {
    let server = ServerProcess::start(database).await?;
    println!("Nimbus metadata operation costs");
    println!(
        "  nimbus-server (release) pid {} on database {}; {CLIENTS} clients in a closed loop; \
         {} cores on this machine",
        server.child.id(),
        database.name,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();

    let devices = Arc::new(
        try_join_all(
            (0..CLIENTS)
                .map(|i| server.device(if i == 0 { "alice" } else { "bob" }, format!("device{i}"))),
        )
        .await?,
    );
    let mut costs = BTreeMap::new();

    let account = {
        let devices = devices.clone();
        measure(
            &server,
            database,
            "getAccount",
            scaled(4000),
            move |worker, _| {
                let devices = devices.clone();
                async move {
                    let device = &devices[worker];
                    device.client.get_account(&device.token).await?;
                    Ok(0)
                }
            },
        )
        .await?
    };
    costs.insert("get_account", account.clone());

    let commit_op = |files: usize| {
        let devices = devices.clone();
        move |worker: usize, seq: usize| {
            let devices = devices.clone();
            async move {
                let device = &devices[worker];
                let mut rng = Rng::seeded(worker, seq as u64);
                let items = (0..files)
                    .map(|_| new_file(&mut rng, device.folder_id))
                    .collect();
                let (committed, _) = device.commit(items).await?;
                ensure!(committed == files as u64, "a commit was refused");
                Ok(committed)
            }
        }
    };
    let commit_one = measure(
        &server,
        database,
        "commit, 1 file",
        scaled(1500),
        commit_op(1),
    )
    .await?;
    let commit_fifty = measure(
        &server,
        database,
        "commit, 50 files",
        scaled(150),
        commit_op(50),
    )
    .await?;
    let per_item = commit_fifty.minus(&commit_one).per(49.0);
    costs.insert("commit_1_file", commit_one.clone());
    costs.insert("commit_50_files", commit_fifty);

    eprintln!("filling a workspace with {TREE_FILES} files");
    let owner = &devices[0];
    let mut rng = Rng::seeded(99, 0);
    let mut head = 0;
    for _ in 0..TREE_FILES / FILL_BATCH {
        let items = (0..FILL_BATCH)
            .map(|_| new_file(&mut rng, owner.folder_id))
            .collect();
        (_, head) = owner.commit(items).await?;
    }

    let changes_op = |since: u64, expect_items: usize| {
        let devices = devices.clone();
        move |_worker: usize, _seq: usize| {
            let devices = devices.clone();
            async move {
                let owner = &devices[0];
                let page = owner
                    .client
                    .get_changes(&owner.token, changes_after(owner.workspace_id, since))
                    .await?;
                ensure!(page.items.len() == expect_items, "an unexpected page");
                Ok(page.items.len() as u64)
            }
        }
    };
    let empty = measure(
        &server,
        database,
        "getChanges, nothing new",
        scaled(4000),
        changes_op(head, 0),
    )
    .await?;
    let page = measure(
        &server,
        database,
        &format!("getChanges, page of {DEFAULT_CHANGES_PAGE}"),
        scaled(300),
        changes_op(0, DEFAULT_CHANGES_PAGE as usize),
    )
    .await?;
    costs.insert("get_changes_empty", empty);
    costs.insert("get_changes_page", page.clone());

    println!();
    println!(
        "one more item in a commit: server {:.3} ms, database {:.3} ms of CPU \
         ({:.2} and {:.2} times a getAccount's)",
        per_item.server_cpu_ms,
        per_item.database_cpu_ms,
        per_item.server_cpu_ms / account.server_cpu_ms,
        per_item.database_cpu_ms / account.database_cpu_ms,
    );
    println!(
        "one item of a getChanges page: server {:.4} ms, database {:.4} ms of CPU",
        page.server_cpu_ms / f64::from(DEFAULT_CHANGES_PAGE),
        page.database_cpu_ms / f64::from(DEFAULT_CHANGES_PAGE),
    );
    costs.insert("commit_item", per_item);

    if let Ok(path) = std::env::var("NIMBUS_BENCH_COSTS_OUT") {
        let figures: serde_json::Map<_, _> = costs
            .iter()
            .map(|(name, cost)| (name.to_string(), cost.to_json()))
            .collect();
        let document = json!({
            "source": "cargo bench -p nimbus-server --bench op_costs",
            "tree_files": TREE_FILES,
            "changes_page_items": DEFAULT_CHANGES_PAGE,
            "operations": figures,
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&document)?)
            .with_context(|| format!("write {path}"))?;
        println!("costs written to {path}");
    }
    server.stop()
}

fn changes_after(workspace_id: Uuid, since: u64) -> GetChangesArgs {
    GetChangesArgs {
        workspace_id,
        since,
        page: None,
        limit: None,
    }
}

/// CPU and wall time of one call, averaged over a run of calls.
#[derive(Debug, Clone)]
struct Cost {
    calls: usize,
    server_cpu_ms: f64,
    database_cpu_ms: f64,
    broker_cpu_ms: f64,
    wall_ms: f64,
}

impl Cost {
    fn minus(&self, other: &Cost) -> Cost {
        Cost {
            calls: self.calls,
            server_cpu_ms: self.server_cpu_ms - other.server_cpu_ms,
            database_cpu_ms: self.database_cpu_ms - other.database_cpu_ms,
            broker_cpu_ms: self.broker_cpu_ms - other.broker_cpu_ms,
            wall_ms: self.wall_ms - other.wall_ms,
        }
    }

    fn per(&self, divisor: f64) -> Cost {
        Cost {
            calls: self.calls,
            server_cpu_ms: self.server_cpu_ms / divisor,
            database_cpu_ms: self.database_cpu_ms / divisor,
            broker_cpu_ms: self.broker_cpu_ms / divisor,
            wall_ms: self.wall_ms / divisor,
        }
    }

    fn to_json(&self) -> serde_json::Value {
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
/// [`CLIENTS`] clients and prints what one call cost.
async fn measure<F, Fut>(
    server: &ServerProcess,
    database: &mut BenchDatabase,
    label: &str,
    calls: usize,
    op: F,
) -> anyhow::Result<Cost>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    eprintln!("{label}: {calls} calls");
    run_calls(calls / 10, op.clone()).await?;
    let before = Snapshot::take(server, database).await?;
    let started = Instant::now();
    run_calls(calls, op).await?;
    let wall = started.elapsed();
    let after = Snapshot::take(server, database).await?;
    let per_call = |used: Duration| used.as_secs_f64() * 1000.0 / calls as f64;
    let cost = Cost {
        calls,
        server_cpu_ms: per_call(after.server.saturating_sub(before.server)),
        database_cpu_ms: per_call(after.database_since(&before)),
        broker_cpu_ms: per_call(after.broker.saturating_sub(before.broker)),
        // Calls overlap: the wall time of one is the run's times the clients.
        wall_ms: per_call(wall) * CLIENTS as f64,
    };
    println!(
        "{label:<28} {calls:>6} calls  {:>8.3} ms server  {:>8.3} ms database  \
         {:>8.3} ms broker (CPU per call)  {:>8.2} ms per call",
        cost.server_cpu_ms, cost.database_cpu_ms, cost.broker_cpu_ms, cost.wall_ms
    );
    Ok(cost)
}

/// `calls` calls shared out among [`CLIENTS`] clients, each calling in turn.
async fn run_calls<F, Fut>(calls: usize, op: F) -> anyhow::Result<()>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    let workers = (0..CLIENTS).map(|worker| {
        let op = op.clone();
        tokio::spawn(async move {
            for seq in (worker..calls).step_by(CLIENTS) {
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
    Duration::from_secs_f64(ticks as f64 / support::cpu::CLOCK_TICKS_PER_SECOND)
}

/// The release `nimbus-server` in a process of its own.
struct ServerProcess {
    child: Child,
    amqp_url: String,
    queue_prefix: String,
}

impl ServerProcess {
    async fn start(database: &BenchDatabase) -> anyhow::Result<Self> {
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

    async fn device(&self, username: &str, name: String) -> anyhow::Result<Device> {
        Device::log_in(&self.amqp_url, &self.queue_prefix, username, &name).await
    }

    fn stop(mut self) -> anyhow::Result<()> {
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
