//! Commit throughput and latency of the metadata server, with one and with two
//! server instances. A benchmark, not a test: it prints figures and asserts
//! nothing about them.
//!
//! ```text
//! cargo bench -p nimbus-server --bench commit_throughput
//! ```
//!
//! Everything runs in this process against the local PostgreSQL and RabbitMQ
//! (127.0.0.1 only), on a fresh database `nimbus_bench_<uuid>` that is dropped
//! at the end, and a random queue prefix whose queues expire on their own.
//!
//! * Scenario A (throughput): 8 clients in a closed loop, each committing
//!   batches of 50 new files, once with 8 users (8 workspaces) and once with 8
//!   devices of one user (one workspace: its commits serialise).
//! * Scenario B (latency at a fixed load): open loop, 200 commits/s in total
//!   across 8 clients, 1 to 5 new files each; latency counts from the moment a
//!   commit was due, so a slow server cannot hide its backlog.
//! * Baselines measured in the same run, so that figures can be read as ratios
//!   on a noisy shared machine: plain multi-row INSERTs of the same rows through
//!   sqlx, and the round trip of a trivial RPC (`getAccount`).
//!
//! `NIMBUS_BENCH_SECS` shortens or lengthens the measured windows (default 10).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use nimbus_protocol::rpc::{ChunkRef, CommitArgs, CommitItem, ItemOutcome};
use nimbus_server::admin::{self, AddUser};
use nimbus_server::rpc::ServerState;
use nimbus_server::{Application, Settings};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool, Postgres, QueryBuilder};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

// Shared with the other benchmarks; this one uses only part of it.
#[allow(dead_code)]
mod support;
use support::cpu::parse_stat;
use support::{BenchDatabase, Device, PASSWORD, Rng, amqp_url, new_file};

const CLIENTS: usize = 8;
const BATCH_ITEMS: usize = 50;
const THROUGHPUT_WARM_UP: Duration = Duration::from_secs(2);
const PACED_RATE: f64 = 200.0;
const PACED_WARM_UP: Duration = Duration::from_secs(1);
const PACED_MAX_ITEMS: u64 = 5;
/// An open-loop client that already waits for this many commits skips the
/// next one (counted as failed), so that an overloaded server cannot pile up
/// minutes of backlog in the queue.
const PACED_MAX_IN_FLIGHT: usize = 25;
/// Longest wait for the servers to empty the queue after a scenario.
const MAX_DRAIN: Duration = Duration::from_secs(60);
const BASELINE_WARM_UP: Duration = Duration::from_millis(500);
const BASELINE_WINDOW: Duration = Duration::from_secs(3);

fn measured_window() -> Duration {
    let secs = std::env::var("NIMBUS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let database = BenchDatabase::create().await?;
    let settings = Settings {
        database_url: database.url.clone(),
        amqp_url: amqp_url(),
        queue_prefix: format!("bench-{}", Uuid::new_v4().simple()),
        idle_queue_expiry_secs: Some(120),
        ..Settings::default()
    };

    let outcome = run(&settings, &database.name).await;
    database.drop_database().await;
    outcome
}

async fn run(settings: &Settings, database_name: &str) -> anyhow::Result<()> {
    let window = measured_window();
    let started = Instant::now();
    println!("Nimbus commit benchmark");
    println!(
        "  database {database_name} on 127.0.0.1:5432, queue prefix {}",
        settings.queue_prefix
    );
    println!(
        "  per server instance: {} database connections, prefetch {}; {} cores on this machine",
        settings.database_pool_size,
        settings.prefetch,
        cpu_count()
    );
    println!(
        "  {CLIENTS} clients, each with its own AMQP connection; windows: {:.0} s measured \
         (A after {} s warm-up, B after {} s), baselines {} s",
        window.as_secs_f64(),
        THROUGHPUT_WARM_UP.as_secs(),
        PACED_WARM_UP.as_secs(),
        BASELINE_WINDOW.as_secs()
    );
    println!(
        "  files: size log-uniform 1 KiB..4 MiB, one chunk per 64 KiB, blake3 content hash, \
         unique names"
    );
    println!();

    let mut rows: Vec<Row> = Vec::new();
    let mut instances: Vec<Instance> = Vec::new();
    instances.push(Instance::start(settings).await?);

    let pool = PgPoolOptions::new()
        .max_connections(CLIENTS as u32)
        .connect(&settings.database_url)
        .await
        .context("connect to the bench database")?;
    let insert_rows = raw_insert_baseline(&pool, false).await?;
    rows.push(insert_rows.clone());
    let insert_commit_shaped = raw_insert_baseline(&pool, true).await?;
    rows.push(insert_commit_shaped.clone());
    pool.close().await;

    let mut by_instances: Vec<Figures> = Vec::new();
    for count in 1..=2 {
        while instances.len() < count {
            instances.push(Instance::start(settings).await?);
        }
        let figures = run_with_instances(settings, &instances, count, window).await?;
        rows.extend(figures.rows());
        by_instances.push(figures);
    }

    for instance in instances {
        instance.stop().await?;
    }

    print_table(&rows);
    print_ratios(&by_instances, &insert_rows, &insert_commit_shaped);
    println!();
    println!(
        "whole run: {:.0} s (database {database_name} dropped)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Every figure measured with one number of server instances.
struct Figures {
    distinct: Row,
    shared: Row,
    paced: Row,
    account_loaded: Row,
    account_single: Row,
}

impl Figures {
    fn rows(&self) -> Vec<Row> {
        vec![
            self.distinct.clone(),
            self.shared.clone(),
            self.paced.clone(),
            self.account_loaded.clone(),
            self.account_single.clone(),
        ]
    }
}

async fn run_with_instances(
    settings: &Settings,
    instances: &[Instance],
    count: usize,
    window: Duration,
) -> anyhow::Result<Figures> {
    eprintln!("[{count} instance(s)] creating users and devices");
    let store = &instances[0].state.store;
    let distinct = Arc::new(distinct_workspaces(settings, store.as_ref(), count).await?);
    let shared = Arc::new(shared_workspace(settings, store.as_ref(), count).await?);

    eprintln!("[{count} instance(s)] A: 8 workspaces, closed loop");
    let op = commit_op(distinct.clone(), |_, _| BATCH_ITEMS as u64);
    let distinct_row = measure(
        instances,
        "A commit 50 files, 8 workspaces".into(),
        count,
        closed_loop(CLIENTS, THROUGHPUT_WARM_UP, window, op),
    )
    .await;

    eprintln!("[{count} instance(s)] A: 1 workspace, closed loop");
    let op = commit_op(shared.clone(), |_, _| BATCH_ITEMS as u64);
    let shared_row = measure(
        instances,
        "A commit 50 files, 1 shared workspace".into(),
        count,
        closed_loop(CLIENTS, THROUGHPUT_WARM_UP, window, op),
    )
    .await;

    eprintln!("[{count} instance(s)] B: 200 commits/s, open loop");
    let op = commit_op(distinct.clone(), |worker, seq| {
        1 + Rng::seeded(worker, seq ^ 0x5eed).below(PACED_MAX_ITEMS)
    });
    let paced_row = measure(
        instances,
        format!("B commit 1-5 files, {PACED_RATE:.0}/s paced"),
        count,
        open_loop(CLIENTS, PACED_RATE, PACED_WARM_UP, window, op),
    )
    .await;

    eprintln!("[{count} instance(s)] getAccount baselines");
    let op = account_op(distinct.clone());
    let account_loaded = measure(
        instances,
        "getAccount, 8 clients closed loop".into(),
        count,
        closed_loop(CLIENTS, BASELINE_WARM_UP, BASELINE_WINDOW, op.clone()),
    )
    .await;
    let account_single = measure(
        instances,
        "getAccount, 1 client sequential".into(),
        count,
        closed_loop(1, BASELINE_WARM_UP, BASELINE_WINDOW, op),
    )
    .await;

    Ok(Figures {
        distinct: distinct_row,
        shared: shared_row,
        paced: paced_row,
        account_loaded,
        account_single,
    })
}

// ---------------------------------------------------------------------------
// Server instances, users and devices

struct Instance {
    state: Arc<ServerState>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Instance {
    /// Another server on the bench database and queue prefix.
    async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let application = Application::build(settings.clone()).await?;
        let state = application.state();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(application.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            state,
            shutdown,
            task,
        })
    }

    fn requests_handled(&self) -> u64 {
        self.state.requests_handled.load(Ordering::Relaxed)
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("server task")?
    }
}

async fn add_user(
    store: &dyn nimbus_server::storage::MetadataStore,
    username: &str,
) -> anyhow::Result<()> {
    admin::add_user(
        store,
        &nimbus_server::storage::Actor::command_line(),
        AddUser {
            username: username.into(),
            password: PASSWORD.into(),
            email: None,
            // Far more than a run writes (sizes are only recorded, never uploaded).
            quota_bytes: 1 << 50,
            is_admin: false,
            account: None,
            account_admin: true,
        },
    )
    .await?;
    Ok(())
}

/// 8 users with one device each: 8 workspaces.
async fn distinct_workspaces(
    settings: &Settings,
    store: &dyn nimbus_server::storage::MetadataStore,
    run: usize,
) -> anyhow::Result<Vec<Device>> {
    let mut devices = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let username = format!("bench-r{run}-u{i}");
        add_user(store, &username).await?;
        devices.push(
            Device::log_in(
                &settings.amqp_url,
                &settings.queue_prefix,
                &username,
                "laptop",
            )
            .await?,
        );
    }
    Ok(devices)
}

/// One user with 8 devices: one workspace.
async fn shared_workspace(
    settings: &Settings,
    store: &dyn nimbus_server::storage::MetadataStore,
    run: usize,
) -> anyhow::Result<Vec<Device>> {
    let username = format!("bench-r{run}-shared");
    add_user(store, &username).await?;
    let mut devices = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        devices.push(
            Device::log_in(
                &settings.amqp_url,
                &settings.queue_prefix,
                &username,
                &format!("device{i}"),
            )
            .await?,
        );
    }
    Ok(devices)
}

// ---------------------------------------------------------------------------
// Operations and load generators

/// What one operation did.
#[derive(Debug, Clone, Copy, Default)]
struct Done {
    items: u64,
    chunks: u64,
    /// Items the server answered but did not commit (conflict, refusal).
    not_committed: u64,
}

type OpFuture = Pin<Box<dyn Future<Output = Result<Done, String>> + Send>>;
/// An operation by client `worker`, its `seq`-th.
type Op = Arc<dyn Fn(usize, u64) -> OpFuture + Send + Sync>;

fn commit_op(
    devices: Arc<Vec<Device>>,
    batch: impl Fn(usize, u64) -> u64 + Send + Sync + 'static,
) -> Op {
    Arc::new(move |worker, seq| {
        let devices = devices.clone();
        let size = batch(worker, seq);
        Box::pin(async move {
            let device = &devices[worker % devices.len()];
            let mut rng = Rng::seeded(worker, seq);
            let items: Vec<CommitItem> = (0..size)
                .map(|_| new_file(&mut rng, device.folder_id))
                .collect();
            let chunks = items.iter().map(|i| i.content.chunks.len() as u64).sum();
            let reply = device
                .client
                .commit(
                    &device.token,
                    Uuid::new_v4(),
                    CommitArgs {
                        workspace_id: device.workspace_id,
                        items,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            let committed = reply
                .results
                .iter()
                .filter(|r| matches!(r.outcome, ItemOutcome::Committed { .. }))
                .count() as u64;
            Ok(Done {
                items: committed,
                chunks,
                not_committed: reply.results.len() as u64 - committed,
            })
        })
    })
}

fn account_op(devices: Arc<Vec<Device>>) -> Op {
    Arc::new(move |worker, _| {
        let devices = devices.clone();
        Box::pin(async move {
            let device = &devices[worker % devices.len()];
            device
                .client
                .get_account(&device.token)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Done::default())
        })
    })
}

/// Multi-row INSERTs of the rows a 50-file commit writes, 8 connections in a
/// closed loop. `commit_shaped`: one transaction with the file rows and their
/// chunk rows (what a commit writes, without its reads and checks); otherwise
/// one autocommitted INSERT of the 50 file rows.
async fn raw_insert_baseline(pool: &PgPool, commit_shaped: bool) -> anyhow::Result<Row> {
    pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_scratch_files ( \
           id uuid PRIMARY KEY, workspace_id uuid NOT NULL, parent_id uuid, name text NOT NULL, \
           is_folder boolean NOT NULL, version bigint NOT NULL, device_id uuid NOT NULL, \
           status text NOT NULL, deleted boolean NOT NULL, size bigint NOT NULL, \
           content_hash text, chunker text, modified_at bigint NOT NULL, revision bigint NOT NULL); \
         CREATE TABLE IF NOT EXISTS bench_scratch_chunks ( \
           item_id uuid NOT NULL, version bigint NOT NULL, position integer NOT NULL, \
           chunk_id text NOT NULL, size integer NOT NULL, PRIMARY KEY (item_id, version, position))",
    )
    .await
    .context("create the scratch tables")?;
    let label = if commit_shaped {
        "baseline: SQL txn, 50 file rows + chunk rows"
    } else {
        "baseline: SQL INSERT of 50 file rows"
    };
    eprintln!("[baseline] {label}");
    let workspace_id = Uuid::new_v4();
    let device_id = Uuid::new_v4();
    let pool = pool.clone();
    let op: Op = Arc::new(move |worker, seq| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut rng = Rng::seeded(worker, seq);
            let parent = Uuid::new_v4();
            let files: Vec<CommitItem> = (0..BATCH_ITEMS)
                .map(|_| new_file(&mut rng, parent))
                .collect();
            let chunks: u64 = files.iter().map(|f| f.content.chunks.len() as u64).sum();
            let mut insert_files = QueryBuilder::<Postgres>::new(
                "INSERT INTO bench_scratch_files (id, workspace_id, parent_id, name, is_folder, \
                 version, device_id, status, deleted, size, content_hash, chunker, modified_at, \
                 revision) ",
            );
            insert_files.push_values(&files, |mut row, f| {
                row.push_bind(f.id)
                    .push_bind(workspace_id)
                    .push_bind(f.parent_id)
                    .push_bind(f.name.clone())
                    .push_bind(f.is_folder)
                    .push_bind(1i64)
                    .push_bind(device_id)
                    .push_bind("NEW")
                    .push_bind(f.deleted)
                    .push_bind(f.content.size as i64)
                    .push_bind(f.content.content_hash.clone())
                    .push_bind(f.content.chunker.clone())
                    .push_bind(f.modified_at)
                    .push_bind(seq as i64);
            });
            let sql_error = |e: sqlx::Error| e.to_string();
            if commit_shaped {
                let chunk_rows: Vec<(Uuid, i32, &ChunkRef)> = files
                    .iter()
                    .flat_map(|f| {
                        f.content
                            .chunks
                            .iter()
                            .enumerate()
                            .map(|(p, c)| (f.id, p as i32, c))
                    })
                    .collect();
                let mut insert_chunks = QueryBuilder::<Postgres>::new(
                    "INSERT INTO bench_scratch_chunks (item_id, version, position, chunk_id, size) ",
                );
                insert_chunks.push_values(&chunk_rows, |mut row, (id, position, chunk)| {
                    row.push_bind(*id)
                        .push_bind(1i64)
                        .push_bind(*position)
                        .push_bind(chunk.id.clone())
                        .push_bind(chunk.size as i32);
                });
                let mut tx = pool.begin().await.map_err(sql_error)?;
                insert_files
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_error)?;
                insert_chunks
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_error)?;
                tx.commit().await.map_err(sql_error)?;
            } else {
                insert_files
                    .build()
                    .execute(&pool)
                    .await
                    .map_err(sql_error)?;
            }
            Ok(Done {
                items: BATCH_ITEMS as u64,
                chunks,
                not_committed: 0,
            })
        })
    });
    Ok(measure(
        &[],
        label.into(),
        0,
        closed_loop(CLIENTS, BASELINE_WARM_UP, BASELINE_WINDOW, op),
    )
    .await)
}

/// What a load generator observed in its measured window.
#[derive(Debug, Default)]
struct Sample {
    window: Duration,
    latencies_us: Vec<u64>,
    /// Operations that succeeded in the window (completed in it, or for an
    /// open loop, completed in it whenever they were due).
    completed: u64,
    items: u64,
    chunks: u64,
    not_committed: u64,
    /// Failed operations (whole run, warm-up included).
    errors: u64,
    first_error: Option<String>,
    /// Open loop: commits not sent because the client already waited for
    /// [`PACED_MAX_IN_FLIGHT`] answers.
    skipped: u64,
}

impl Sample {
    fn merge(&mut self, other: Sample) {
        self.latencies_us.extend(other.latencies_us);
        self.completed += other.completed;
        self.items += other.items;
        self.chunks += other.chunks;
        self.not_committed += other.not_committed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn error(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}

/// `workers` clients, each issuing its next operation when the previous one
/// answered, for `warm_up` then `window`. Counts operations that both started
/// and finished inside the window.
async fn closed_loop(workers: usize, warm_up: Duration, window: Duration, op: Op) -> Sample {
    let from = Instant::now() + warm_up;
    let until = from + window;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut sample = Sample::default();
                let mut seq = 0;
                while Instant::now() < until {
                    let started = Instant::now();
                    let result = op(worker, seq).await;
                    let finished = Instant::now();
                    seq += 1;
                    match result {
                        Err(error) => sample.error(error),
                        Ok(done) if started >= from && finished <= until => {
                            sample.latencies_us.push(micros(finished - started));
                            sample.completed += 1;
                            sample.items += done.items;
                            sample.chunks += done.chunks;
                            sample.not_committed += done.not_committed;
                        }
                        Ok(_) => {}
                    }
                }
                sample
            })
        })
        .collect();
    gather(tasks, window).await
}

/// `workers` clients issuing `rate` operations per second in total on a fixed
/// schedule, whether or not earlier ones have answered. Latency counts from
/// when an operation was due; the rate counts answers that arrived in the window.
async fn open_loop(
    workers: usize,
    rate: f64,
    warm_up: Duration,
    window: Duration,
    op: Op,
) -> Sample {
    let period = Duration::from_secs_f64(workers as f64 / rate);
    let start = Instant::now() + Duration::from_millis(20);
    let from = start + warm_up;
    let until = from + window;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut due = start + period.mul_f64(worker as f64 / workers as f64);
                let mut seq = 0;
                let mut in_flight = Vec::new();
                let waiting = Arc::new(AtomicUsize::new(0));
                let mut skipped = 0;
                while due < until {
                    tokio::time::sleep_until(due.into()).await;
                    if waiting.load(Ordering::Relaxed) >= PACED_MAX_IN_FLIGHT {
                        skipped += 1;
                    } else {
                        waiting.fetch_add(1, Ordering::Relaxed);
                        let op = op.clone();
                        let this_due = due;
                        let waiting = waiting.clone();
                        in_flight.push(tokio::spawn(async move {
                            let result = op(worker, seq).await;
                            waiting.fetch_sub(1, Ordering::Relaxed);
                            (this_due, result, Instant::now())
                        }));
                    }
                    seq += 1;
                    due += period;
                }
                let mut sample = Sample {
                    skipped,
                    ..Sample::default()
                };
                for call in in_flight {
                    match call.await {
                        Ok((_, Err(error), _)) => sample.error(error),
                        Ok((due, Ok(done), finished)) => {
                            if due >= from {
                                sample.latencies_us.push(micros(finished - due));
                                sample.not_committed += done.not_committed;
                            }
                            if finished >= from && finished <= until {
                                sample.completed += 1;
                                sample.items += done.items;
                                sample.chunks += done.chunks;
                            }
                        }
                        Err(error) => sample.error(format!("call task failed: {error}")),
                    }
                }
                sample
            })
        })
        .collect();
    gather(tasks, window).await
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// Measurement: figures, request split and CPU use of one scenario

#[derive(Debug, Clone)]
struct Row {
    label: String,
    instances: usize,
    ops_per_sec: f64,
    items_per_sec: f64,
    chunks_per_item: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    not_committed: u64,
    first_error: Option<String>,
    skipped: u64,
    /// How long the servers still worked on queued requests after the scenario.
    drain: Duration,
    /// Requests taken by each server instance during the scenario.
    split: Vec<u64>,
    cpu: CpuUse,
}

async fn measure(
    instances: &[Instance],
    label: String,
    count: usize,
    load: impl Future<Output = Sample>,
) -> Row {
    let before: Vec<u64> = instances.iter().map(Instance::requests_handled).collect();
    let cpu_before = CpuSnapshot::take();
    let sample = load.await;
    let cpu = CpuSnapshot::take().since(&cpu_before);
    let drain = drain(instances).await;
    let split = instances
        .iter()
        .zip(before)
        .map(|(i, b)| i.requests_handled() - b)
        .collect();
    let mut latencies = sample.latencies_us;
    latencies.sort_unstable();
    let secs = sample.window.as_secs_f64();
    Row {
        label,
        instances: count,
        ops_per_sec: sample.completed as f64 / secs,
        items_per_sec: sample.items as f64 / secs,
        chunks_per_item: if sample.items == 0 {
            0.0
        } else {
            sample.chunks as f64 / sample.items as f64
        },
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies.last().map_or(f64::NAN, |&us| us as f64 / 1000.0),
        errors: sample.errors,
        skipped: sample.skipped,
        drain,
        not_committed: sample.not_committed,
        first_error: sample.first_error,
        split,
        cpu,
    }
}

/// Waits until no server has taken a new request for a while: requests that
/// clients gave up on are still in the queue after an overload, and would
/// otherwise delay the next scenario.
async fn drain(instances: &[Instance]) -> Duration {
    let started = Instant::now();
    let handled = || -> u64 { instances.iter().map(Instance::requests_handled).sum() };
    let mut last = handled();
    while started.elapsed() < MAX_DRAIN {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = handled();
        if now == last {
            break;
        }
        last = now;
    }
    started.elapsed().saturating_sub(Duration::from_millis(300))
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time in jiffies: the whole machine, and per group of processes.
#[derive(Debug, Clone, Default)]
struct CpuSnapshot {
    machine_total: u64,
    machine_idle: u64,
    groups: HashMap<&'static str, u64>,
}

/// Average cores busy during a scenario, per group of processes.
#[derive(Debug, Clone, Default)]
struct CpuUse {
    bench: f64,
    postgres: f64,
    rabbitmq: f64,
    other: f64,
    idle: f64,
}

impl CpuSnapshot {
    /// Reads /proc; all zeros where it cannot be read.
    fn take() -> Self {
        let mut snapshot = CpuSnapshot::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/stat")
            && let Some(line) = stat.lines().next()
        {
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            snapshot.machine_total = fields.iter().take(8).sum();
            snapshot.machine_idle =
                fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        }
        let own_pid = std::process::id().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return snapshot;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some((comm, used)) = parse_stat(&stat) else {
                continue;
            };
            let group = if pid == own_pid {
                "bench"
            } else if comm == "postgres" {
                "postgres"
            } else if matches!(
                comm,
                "beam.smp" | "erl_child_setup" | "epmd" | "inet_gethost"
            ) {
                "rabbitmq"
            } else {
                "other"
            };
            *snapshot.groups.entry(group).or_default() += used;
        }
        snapshot
    }

    fn since(&self, before: &CpuSnapshot) -> CpuUse {
        let total = self.machine_total.saturating_sub(before.machine_total);
        if total == 0 {
            return CpuUse::default();
        }
        let cores = cpu_count() as f64;
        let share = |jiffies: u64| jiffies as f64 / total as f64 * cores;
        let group = |name: &str| {
            share(
                self.groups
                    .get(name)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(before.groups.get(name).copied().unwrap_or(0)),
            )
        };
        let idle = share(self.machine_idle.saturating_sub(before.machine_idle));
        let (bench, postgres, rabbitmq) = (group("bench"), group("postgres"), group("rabbitmq"));
        // Whatever the machine did besides: other processes, and processes
        // that came and went during the scenario.
        let other = (cores - idle - bench - postgres - rabbitmq).max(0.0);
        CpuUse {
            bench,
            postgres,
            rabbitmq,
            other,
            idle,
        }
    }
}

// ---------------------------------------------------------------------------
// Output

fn print_table(rows: &[Row]) {
    println!(
        "{:<46} {:>4} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>5} {:>9}  \
         cpu cores: nimbus+clients / postgres / rabbitmq / other / idle",
        "scenario",
        "inst",
        "ops/s",
        "items/s",
        "chunk/i",
        "p50 ms",
        "p99 ms",
        "max ms",
        "fail",
        "req split",
    );
    println!("{}", "-".repeat(176));
    for row in rows {
        let instances = if row.instances == 0 {
            "-".to_string()
        } else {
            row.instances.to_string()
        };
        let split = if row.split.len() < 2 {
            "-".to_string()
        } else {
            let total: u64 = row.split.iter().sum::<u64>().max(1);
            row.split
                .iter()
                .map(|n| format!("{:.0}", *n as f64 * 100.0 / total as f64))
                .collect::<Vec<_>>()
                .join("/")
                + "%"
        };
        let items = if row.items_per_sec > 0.0 {
            format!("{:.0}", row.items_per_sec)
        } else {
            "-".into()
        };
        let chunks = if row.chunks_per_item > 0.0 {
            format!("{:.1}", row.chunks_per_item)
        } else {
            "-".into()
        };
        let cpu = &row.cpu;
        println!(
            "{:<46} {:>4} {:>9.1} {:>9} {:>7} {:>8.2} {:>8.2} {:>8.1} {:>5} {:>9}  {:.2} / {:.2} / {:.2} / {:.2} / {:.2}",
            row.label,
            instances,
            row.ops_per_sec,
            items,
            chunks,
            row.p50_ms,
            row.p99_ms,
            row.max_ms,
            row.errors + row.not_committed + row.skipped,
            split,
            cpu.bench,
            cpu.postgres,
            cpu.rabbitmq,
            cpu.other,
            cpu.idle,
        );
    }
    for row in rows {
        if row.errors > 0 || row.not_committed > 0 || row.skipped > 0 {
            println!(
                "  ! {} ({} inst): {} failed calls, {} items not committed, {} commits not sent \
                 (client already waiting for {PACED_MAX_IN_FLIGHT}); first error: {}",
                row.label,
                row.instances,
                row.errors,
                row.not_committed,
                row.skipped,
                row.first_error.as_deref().unwrap_or("-")
            );
        }
        if row.drain >= Duration::from_millis(500) {
            println!(
                "  ! {} ({} inst): the servers needed {:.1} s more to empty the queue after the \
                 clients stopped",
                row.label,
                row.instances,
                row.drain.as_secs_f64()
            );
        }
    }
    println!(
        "  ops/s: commits (or calls, or SQL transactions) per second; items/s: files committed per \
         second; fail: failed calls + items not committed + commits not sent"
    );
    println!(
        "  closed loop: a client sends its next request when the previous one answered; B is an \
         open loop, latency counted from when the commit was due"
    );
}

fn print_ratios(by_instances: &[Figures], insert_rows: &Row, insert_commit_shaped: &Row) {
    println!();
    println!("Ratios (same run, so that machine noise mostly cancels)");
    for (i, f) in by_instances.iter().enumerate() {
        let n = i + 1;
        println!("  {n} instance(s):");
        println!(
            "    A, 8 workspaces: commit items/s / raw INSERT rows/s = {:.3}; / commit-shaped SQL txn rows/s = {:.3}",
            f.distinct.items_per_sec / insert_rows.items_per_sec,
            f.distinct.items_per_sec / insert_commit_shaped.items_per_sec
        );
        println!(
            "    A, 1 workspace:  commit items/s / raw INSERT rows/s = {:.3}; / commit-shaped SQL txn rows/s = {:.3}",
            f.shared.items_per_sec / insert_rows.items_per_sec,
            f.shared.items_per_sec / insert_commit_shaped.items_per_sec
        );
        println!(
            "    A, 8 workspaces: commit latency / getAccount latency (8 clients) = p50 {:.1}x, p99 {:.1}x",
            f.distinct.p50_ms / f.account_loaded.p50_ms,
            f.distinct.p99_ms / f.account_loaded.p99_ms
        );
        println!(
            "    B, paced:        commit latency / getAccount latency (1 client)  = p50 {:.1}x, p99 {:.1}x",
            f.paced.p50_ms / f.account_single.p50_ms,
            f.paced.p99_ms / f.account_single.p99_ms
        );
    }
    if by_instances.len() >= 2 {
        let (one, two) = (&by_instances[0], &by_instances[1]);
        println!(
            "  2 instances / 1 instance: A 8 workspaces items/s {:.2}x, A 1 workspace items/s {:.2}x, \
             B p99 {:.2}x, getAccount calls/s {:.2}x",
            two.distinct.items_per_sec / one.distinct.items_per_sec,
            two.shared.items_per_sec / one.shared.items_per_sec,
            two.paced.p99_ms / one.paced.p99_ms,
            two.account_loaded.ops_per_sec / one.account_loaded.ops_per_sec
        );
    }
    if let Some(one) = by_instances.first() {
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        println!();
        println!("Goals of the issue (one instance)");
        println!(
            "  >= 5,000 committed items/s:        {:.0} items/s (8 workspaces), {:.0} (1 workspace): {}",
            one.distinct.items_per_sec,
            one.shared.items_per_sec,
            verdict(one.distinct.items_per_sec >= 5000.0)
        );
        println!(
            "  p99 < 50 ms at 200 commits/s:      {:.1} commits/s achieved, p99 {:.1} ms: {}",
            one.paced.ops_per_sec,
            one.paced.p99_ms,
            verdict(one.paced.p99_ms < 50.0 && one.paced.ops_per_sec >= PACED_RATE * 0.95)
        );
        println!(
            "  StackSync reference (4 instances, 200 commits/s under 0.1 s): p99 here {:.1} ms with 1 instance",
            one.paced.p99_ms
        );
    }
}

/// Merges the samples of the client tasks of one measurement window.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Sample>>, window: Duration) -> Sample {
    let mut total = Sample {
        window,
        ..Sample::default()
    };
    for task in tasks {
        match task.await {
            Ok(sample) => total.merge(sample),
            Err(error) => total.error(format!("client task failed: {error}")),
        }
    }
    total
}
