//! Whether `getChanges` and `commit` cost the same in a workspace of a
//! million items as in a small one: the latency of a call and the CPU the
//! metadata server and its database backends spend on it, measured at each
//! size of one growing workspace and printed as ratios to the smallest. A
//! benchmark, not a test: it prints figures and asserts only that the
//! operations succeeded.
//!
//! ```text
//! cargo bench -p nimbus-server --bench workspace_size
//! ```
//!
//! The server is the `nimbus-server` binary in a process of its own, on a
//! fresh database `nimbus_bench_<uuid>` (dropped at the end), as in
//! `op_costs`. One client calls at a time, so a call's wall time is its
//! latency.
//!
//! **Staging.** Committing a million items through the server would take
//! most of an hour here, so the workspace is grown with bulk `INSERT … SELECT
//! generate_series` statements through sqlx, straight into the tables, in
//! the shape commits leave: folders of [`FOLDER_ITEMS`] items (the folder and
//! its files), each folder one workspace revision, every file one version
//! with one chunk. Quota is not charged for them. After each step the tables
//! are `VACUUM ANALYZE`d, as autovacuum would have done while a real
//! workspace grew. The measured calls then go through the server as a
//! device's do.
//!
//! At each size, one device of the workspace's owner measures:
//!
//! * `getChanges` with nothing new, and the delta of the last 50-file commit;
//! * `commit` of one new file, of 50 new files (both in the device's own
//!   folder), and of an edit of one staged file picked at random in the tree.
//!
//! `NIMBUS_BENCH_SIZES` (`1000,100000,1000000`) lists the sizes in items;
//! `NIMBUS_BENCH_SCALE` (1.0) multiplies the number of calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, ensure};
use nimbus_protocol::rpc::GetChangesArgs;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use uuid::Uuid;

// Shared with the other benchmarks; this one uses only part of it.
#[allow(dead_code)]
mod support;
use support::process::{Cost, ServerProcess, measure};
use support::{BenchDatabase, CHUNKER, Device, Rng, new_file};

/// Items of a staged folder, the folder included.
const FOLDER_ITEMS: i64 = 1_000;
/// Files in the commit whose delta `getChanges` reads.
const DELTA_FILES: usize = 50;
/// One client: a call's wall time is its latency.
const CLIENTS: usize = 1;

fn sizes() -> Vec<i64> {
    std::env::var("NIMBUS_BENCH_SIZES")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect::<Vec<i64>>()
        })
        .filter(|list| !list.is_empty())
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000])
}

fn scaled(calls: usize) -> usize {
    let scale = std::env::var("NIMBUS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    ((calls as f64 * scale).round() as usize).max(10)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut database = BenchDatabase::create().await?;
    let outcome = run(&mut database).await;
    database.drop_database().await;
    outcome
}

/// What was measured at one size of the workspace.
struct AtSize {
    items: i64,
    costs: Vec<(&'static str, Cost)>,
}

async fn run(database: &mut BenchDatabase) -> anyhow::Result<()> {
    let server = ServerProcess::start(database).await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&database.url)
        .await
        .context("connect to the bench database")?;
    println!("Nimbus metadata operations as a workspace grows");
    println!(
        "  nimbus-server pid {} on database {}; {CLIENTS} client, calls one at a time; \
         {} cores on this machine; staged folders of {FOLDER_ITEMS} items",
        server.child.id(),
        database.name,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();

    let device = Arc::new(server.device("alice", "laptop".into()).await?);
    let device_id: Uuid = sqlx::query_scalar(
        "SELECT d.id FROM devices d JOIN users u ON u.id = d.user_id \
         WHERE u.username = 'alice' ORDER BY d.created_at LIMIT 1",
    )
    .fetch_one(&pool)
    .await?;

    let mut curve: Vec<AtSize> = Vec::new();
    let mut next_folder: i64 = 0;
    for target in sizes() {
        let items = workspace_items(&pool, device.workspace_id).await?;
        if target > items {
            let started = Instant::now();
            let first = next_folder;
            next_folder =
                stage(&pool, device.workspace_id, device_id, first, target - items).await?;
            eprintln!(
                "staged {} folders of {FOLDER_ITEMS} items in {:.1} s",
                next_folder - first,
                started.elapsed().as_secs_f64()
            );
        }
        let items = workspace_items(&pool, device.workspace_id).await?;
        println!("workspace of {items} items:");
        let costs = measure_at_size(&server, database, &pool, &device).await?;
        curve.push(AtSize { items, costs });
    }
    pool.close().await;
    print_curve(&curve);
    server.stop()
}

async fn workspace_items(pool: &PgPool, workspace_id: Uuid) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM items WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(pool)
            .await?,
    )
}

/// Adds about `count` items (whole folders of [`FOLDER_ITEMS`]) to the
/// workspace, the folders numbered from `first_folder`; returns the number of
/// the next folder.
async fn stage(
    pool: &PgPool,
    workspace_id: Uuid,
    device_id: Uuid,
    first_folder: i64,
    count: i64,
) -> anyhow::Result<i64> {
    let folders = (count / FOLDER_ITEMS).max(1);
    let end_folder = first_folder + folders;
    let mut tx = pool.begin().await?;
    let revision: i64 =
        sqlx::query_scalar("SELECT revision FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
    tx.execute(
        "CREATE TEMP TABLE staged (id uuid, parent_id uuid, name text, is_folder boolean, \
         revision bigint) ON COMMIT DROP",
    )
    .await?;
    // Each folder is the revision of the commit that would have made it.
    sqlx::query(
        "INSERT INTO staged \
         SELECT gen_random_uuid(), NULL, 'staged-' || f, true, $1 + f - $2 + 1 \
         FROM generate_series($2::bigint, $3::bigint - 1) f",
    )
    .bind(revision)
    .bind(first_folder)
    .bind(end_folder)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO staged \
         SELECT gen_random_uuid(), s.id, 'IMG_' || k || '.jpg', false, s.revision \
         FROM staged s, generate_series(1, $1::bigint - 1) k WHERE s.is_folder",
    )
    .bind(FOLDER_ITEMS)
    .execute(&mut *tx)
    .await?;
    // In id order, so that the primary keys' B-trees fill page by page.
    sqlx::query(
        "INSERT INTO items (id, workspace_id, parent_id, name, is_folder, latest_version, revision) \
         SELECT id, $1, parent_id, name, is_folder, 1, revision FROM staged ORDER BY id",
    )
    .bind(workspace_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO item_versions (item_id, version, device_id, status, parent_id, name, \
                                    deleted, size, content_hash, chunker, modified_at, revision) \
         SELECT id, 1, $1, 'NEW', parent_id, name, false, \
                CASE WHEN is_folder THEN 0 ELSE 65536 END, \
                CASE WHEN is_folder THEN NULL \
                     ELSE 'blake3:' || md5(id::text) || md5(name || id::text) END, \
                CASE WHEN is_folder THEN NULL ELSE $2 END, \
                0, revision \
         FROM staged ORDER BY id",
    )
    .bind(device_id)
    .bind(CHUNKER)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO version_chunks (item_id, version, position, chunk_id, size) \
         SELECT id, 1, 0, md5(id::text || 'chunk') || md5('chunk' || id::text), 65536 \
         FROM staged WHERE NOT is_folder ORDER BY id",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE workspaces SET revision = revision + $2 WHERE id = $1")
        .bind(workspace_id)
        .bind(folders)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    pool.execute("VACUUM ANALYZE items, item_versions, version_chunks")
        .await?;
    Ok(end_folder)
}

/// A staged file, to edit.
struct StagedFile {
    id: Uuid,
    parent_id: Uuid,
    name: String,
    version: u64,
}

async fn measure_at_size(
    server: &ServerProcess,
    database: &mut BenchDatabase,
    pool: &PgPool,
    device: &Arc<Device>,
) -> anyhow::Result<Vec<(&'static str, Cost)>> {
    let mut costs = Vec::new();

    let mut rng = Rng::seeded(7, 0);
    let delta = (0..DELTA_FILES)
        .map(|_| new_file(&mut rng, device.folder_id))
        .collect();
    let (_, head) = device.commit(delta).await?;
    let changes_op = |since: u64, expect_items: usize| {
        let device = device.clone();
        move |_worker: usize, _seq: usize| {
            let device = device.clone();
            async move {
                let args = GetChangesArgs {
                    workspace_id: device.workspace_id,
                    since,
                    page: None,
                    limit: None,
                };
                let page = device.client.get_changes(&device.token, args).await?;
                ensure!(page.items.len() == expect_items, "an unexpected page");
                Ok(page.items.len() as u64)
            }
        }
    };
    let label = "getChanges, nothing new";
    let cost = measure(
        server,
        database,
        label,
        CLIENTS,
        scaled(500),
        changes_op(head, 0),
    )
    .await?;
    costs.push((label, cost));
    let label = "getChanges, last commit (50)";
    let op = changes_op(head - 1, DELTA_FILES);
    let cost = measure(server, database, label, CLIENTS, scaled(300), op).await?;
    costs.push((label, cost));

    let commit_op = |files: usize| {
        let device = device.clone();
        move |worker: usize, seq: usize| {
            let device = device.clone();
            async move { device.commit_new_files(worker, seq, files).await }
        }
    };
    let label = "commit, 1 new file";
    let cost = measure(server, database, label, CLIENTS, scaled(300), commit_op(1)).await?;
    costs.push((label, cost));
    let label = "commit, 50 new files";
    let cost = measure(server, database, label, CLIENTS, scaled(60), commit_op(50)).await?;
    costs.push((label, cost));

    let calls = scaled(300);
    // The warm-up takes a tenth as many; every call edits another file.
    let files = staged_files(pool, device.workspace_id, calls + calls / 10).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let edit_op = {
        let device = device.clone();
        move |worker: usize, seq: usize| {
            let device = device.clone();
            let files = files.clone();
            let next = next.clone();
            async move {
                let file = &files[next.fetch_add(1, Ordering::Relaxed)];
                let mut item = new_file(&mut Rng::seeded(worker, seq as u64), file.parent_id);
                item.id = file.id;
                item.base_version = file.version;
                item.name = file.name.clone();
                let (committed, _) = device.commit(vec![item]).await?;
                ensure!(committed == 1, "an edit was refused");
                Ok(committed)
            }
        }
    };
    let label = "commit, edit 1 file of the tree";
    let cost = measure(server, database, label, CLIENTS, calls, edit_op).await?;
    costs.push((label, cost));
    println!();
    Ok(costs)
}

/// `count` live staged files of the workspace, picked at random.
async fn staged_files(
    pool: &PgPool,
    workspace_id: Uuid,
    count: usize,
) -> anyhow::Result<Arc<Vec<StagedFile>>> {
    let rows: Vec<(Uuid, Uuid, String, i64)> = sqlx::query_as(
        "SELECT id, parent_id, name, latest_version FROM items \
         WHERE workspace_id = $1 AND NOT is_folder AND NOT deleted AND name LIKE 'IMG\\_%' \
           AND parent_id IN (SELECT id FROM items WHERE workspace_id = $1 AND name LIKE 'staged-%') \
         ORDER BY random() LIMIT $2",
    )
    .bind(workspace_id)
    .bind(i64::try_from(count)?)
    .fetch_all(pool)
    .await?;
    ensure!(rows.len() == count, "not enough staged files to edit");
    Ok(Arc::new(
        rows.into_iter()
            .map(|(id, parent_id, name, version)| StagedFile {
                id,
                parent_id,
                name,
                version: u64::try_from(version).unwrap_or(0),
            })
            .collect(),
    ))
}

fn print_curve(curve: &[AtSize]) {
    let Some(smallest) = curve.first() else {
        return;
    };
    println!(
        "Per call, and as a ratio to the smallest workspace ({} items)",
        smallest.items
    );
    println!(
        "{:<32} {:>9} {:>9} {:>6} {:>11} {:>6} {:>11} {:>6}",
        "operation", "items", "wall ms", "ratio", "server CPU", "ratio", "db CPU ms", "ratio"
    );
    println!("{}", "-".repeat(96));
    for (index, (label, _)) in smallest.costs.iter().enumerate() {
        let base = &smallest.costs[index].1;
        for at in curve {
            let cost = &at.costs[index].1;
            println!(
                "{:<32} {:>9} {:>9.2} {:>6.2} {:>11.3} {:>6.2} {:>11.3} {:>6.2}",
                label,
                at.items,
                cost.wall_ms,
                cost.wall_ms / base.wall_ms,
                cost.server_cpu_ms,
                cost.server_cpu_ms / base.server_cpu_ms,
                cost.database_cpu_ms,
                cost.database_cpu_ms / base.database_cpu_ms,
            );
        }
    }
    println!("  wall: latency of one call (one client); CPU: milliseconds per call");
}
