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
use std::sync::Arc;

use anyhow::{Context, ensure};
use futures::future::try_join_all;
use nimbus_protocol::rpc::{DEFAULT_CHANGES_PAGE, GetChangesArgs};
use serde_json::json;
use uuid::Uuid;

// Shared with the other benchmarks; this one uses only part of it.
#[allow(dead_code)]
mod support;
use support::process::{ServerProcess, measure};
use support::{BenchDatabase, Rng, new_file};

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
            CLIENTS,
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
            async move { devices[worker].commit_new_files(worker, seq, files).await }
        }
    };
    let commit_one = measure(
        &server,
        database,
        "commit, 1 file",
        CLIENTS,
        scaled(1500),
        commit_op(1),
    )
    .await?;
    let commit_fifty = measure(
        &server,
        database,
        "commit, 50 files",
        CLIENTS,
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
        CLIENTS,
        scaled(4000),
        changes_op(head, 0),
    )
    .await?;
    let page = measure(
        &server,
        database,
        &format!("getChanges, page of {DEFAULT_CHANGES_PAGE}"),
        CLIENTS,
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
