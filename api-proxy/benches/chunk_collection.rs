//! One pass of the collection of unreferenced chunks
//! (`nimbus_proxy::chunk_collection`) over a store of a million chunk
//! objects, beside a plain scan of the same rows in the same run. A
//! benchmark, not a test: it prints figures and ratios, and checks only that
//! the pass deleted exactly the unreferenced chunks.
//!
//! ```text
//! cargo bench -p nimbus-proxy --bench chunk_collection
//! ```
//!
//! The store: `NIMBUS_BENCH_CHUNKS` (1,000,000) chunk objects in one
//! workspace's container of the proxy's index, all older than the grace
//! period, of which `NIMBUS_BENCH_UNREFERENCED_PERCENT` (10) % no version
//! lists; the others are listed by versions of the metadata database, a
//! thousand chunks per file version. The rows are written with SQL, as a
//! store that grew for years would hold them; their ids are SHA-256 digests,
//! so referenced and unreferenced ones interleave in key order as real ones
//! do.
//!
//! The `fs` store holds a file for each *unreferenced* chunk only: the pass
//! never reads or touches the bytes of a referenced chunk (it reads index
//! rows and asks the metadata servers), while it deletes every unreferenced
//! chunk's file, so those are the files whose cost it measures. A million
//! files would add only disk space to this machine's run, not work to the
//! pass. The files are small (the pass unlinks them without reading).
//!
//! The pass runs in a child process (this binary again), so that its peak
//! resident memory (`VmHWM`) is the collector's alone: the metadata server
//! it asks runs in this process, on the local PostgreSQL and RabbitMQ, as in
//! the integration tests. The baseline, in a child of its own too, is the
//! pass's floor: reading the same rows of the index in key order, a
//! thousand at a time, as the pass does, and nothing else.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use nimbus_protocol::{RpcClient, Topology};
use nimbus_proxy::blobs::OpendalBlobStore;
use nimbus_proxy::chunk_collection::{self, CollectionReport};
use nimbus_proxy::config::Settings;
use nimbus_proxy::index::postgres::PgIndex;
use nimbus_proxy::metrics::ProxyMetrics;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};

// The integration tests' helpers; the bench uses only part of them.
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

/// Which child this process is, and the proxy's settings, for a child.
const CHILD: &str = "NIMBUS_BENCH_COLLECTION_CHILD";
const SETTINGS: &str = "NIMBUS_BENCH_COLLECTION_SETTINGS";
/// Chunks per file version.
const CHUNKS_PER_VERSION: u64 = 1000;
/// The rows' age: well past the pass's grace.
const AGE: Duration = Duration::from_secs(7 * 24 * 3600);
const GRACE: Duration = Duration::from_secs(24 * 3600);
/// Stored size of each chunk object.
const CHUNK_SIZE: usize = 256;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a child reports.
#[derive(Debug, Serialize, Deserialize)]
struct ChildReport {
    rows: u64,
    deleted: u64,
    elapsed: Duration,
    peak_rss_kib: u64,
}

fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

/// A child: one collection pass, or the scan of its candidates.
async fn child(kind: &str) -> anyhow::Result<()> {
    let settings: Settings = serde_json::from_str(&std::env::var(SETTINGS)?)?;
    let index = PgIndex::connect(&settings.database_url, Duration::ZERO).await?;
    let started = Instant::now();
    let (rows, deleted) = if kind == "collect" {
        let blobs = OpendalBlobStore::from_settings(&settings.storage)?;
        let rpc = RpcClient::connect(
            &settings.amqp_url,
            Topology::new(settings.queue_prefix.clone()),
            Default::default(),
        )
        .await?;
        let metrics = ProxyMetrics::new();
        let report: CollectionReport =
            chunk_collection::collect(&index, &blobs, &rpc, &metrics, GRACE).await?;
        (report.chunks + report.kept, report.chunks)
    } else {
        // The rows in key order, a thousand at a time, as a pass reads them,
        // and nothing else.
        let mut connection = PgConnection::connect(&settings.database_url).await?;
        let mut rows = 0;
        let mut after = (String::new(), String::new(), String::new());
        loop {
            let page: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT account, container, name FROM objects
                  WHERE (account, container, name) > ($1, $2, $3)
                  ORDER BY account, container, name LIMIT 1000",
            )
            .bind(&after.0)
            .bind(&after.1)
            .bind(&after.2)
            .fetch_all(&mut connection)
            .await?;
            rows += page.len() as u64;
            match page.into_iter().last() {
                Some(last) => after = last,
                None => break,
            }
        }
        (rows, 0)
    };
    let report = ChildReport {
        rows,
        deleted,
        elapsed: started.elapsed(),
        peak_rss_kib: peak_rss_kib()?,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run_child(kind: &str, settings: &Settings) -> anyhow::Result<ChildReport> {
    let output = Command::new(std::env::current_exe()?)
        .env(CHILD, kind)
        .env(SETTINGS, serde_json::to_string(settings)?)
        .output()?;
    ensure!(
        output.status.success(),
        "the {kind} child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout)?;
    let last = stdout.lines().last().context("the child printed nothing")?;
    Ok(serde_json::from_str(last)?)
}

/// Fills the index, the metadata database and the `fs` store.
async fn populate(
    app: &helpers::TestApp,
    device: &helpers::Device,
    chunks: u64,
    referenced: u64,
) -> anyhow::Result<()> {
    let (account, container) = (
        device.workspace.storage_account.as_str(),
        device.workspace.container.as_str(),
    );
    let created = app
        .client
        .put(&device.container_url)
        .header("X-Auth-Token", &device.swift_token)
        .send()
        .await?;
    ensure!(
        created.status().is_success(),
        "container: {}",
        created.status()
    );
    let old_us = i64::try_from(
        (std::time::SystemTime::now() - AGE)
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros(),
    )?;
    // Chunk n's id is the SHA-256 of n; chunks below `referenced` are
    // listed by versions. Only the others' blob keys name files.
    let mut index = PgConnection::connect(&app.settings.database_url).await?;
    sqlx::query(
        "INSERT INTO objects (account, container, name, blob_key, size, etag, content_type,
                              modified_us)
         SELECT $1, $2, encode(sha256(int8send(n)), 'hex'),
                CASE WHEN n < $4 THEN 'referenced/' || n
                     ELSE right(md5(n::text), 2) || '/' || md5(n::text) END,
                $5, md5(n::text), 'application/octet-stream', $6
           FROM generate_series(0, $3 - 1) AS n",
    )
    .bind(account)
    .bind(container)
    .bind(i64::try_from(chunks)?)
    .bind(i64::try_from(referenced)?)
    .bind(i64::try_from(CHUNK_SIZE)?)
    .bind(old_us)
    .execute(&mut index)
    .await?;
    sqlx::query("ANALYZE objects").execute(&mut index).await?;
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT blob_key FROM objects WHERE blob_key NOT LIKE 'referenced/%'")
            .fetch_all(&mut index)
            .await?;
    let root = app.objects_dir.path().to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let body = vec![7u8; CHUNK_SIZE];
        for key in keys {
            let path = root.join(&key);
            std::fs::create_dir_all(path.parent().context("a fanned-out key")?)?;
            std::fs::write(path, &body)?;
        }
        Ok(())
    })
    .await??;

    let mut metadata = PgConnection::connect(&app.metadata_database_url()).await?;
    let device_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM devices LIMIT 1")
        .fetch_one(&mut metadata)
        .await?;
    let workspace_id = device.workspace.workspace_id;
    let versions = i64::try_from(referenced.div_ceil(CHUNKS_PER_VERSION))?;
    sqlx::query(
        "INSERT INTO items (id, workspace_id, parent_id, name, is_folder, latest_version,
                            deleted, revision)
         SELECT md5('item' || f)::uuid, $1, NULL, 'file-' || f, false, 1, false, 1
           FROM generate_series(0, $2 - 1) AS f",
    )
    .bind(workspace_id)
    .bind(versions)
    .execute(&mut metadata)
    .await?;
    sqlx::query(
        "INSERT INTO item_versions (item_id, version, device_id, status, parent_id, name,
                                    deleted, size, modified_at, revision)
         SELECT md5('item' || f)::uuid, 1, $1, 'NEW', NULL, 'file-' || f, false,
                $3 * $4, 0, 1
           FROM generate_series(0, $2 - 1) AS f",
    )
    .bind(device_id)
    .bind(versions)
    .bind(i64::try_from(CHUNKS_PER_VERSION)?)
    .bind(i64::try_from(CHUNK_SIZE)?)
    .execute(&mut metadata)
    .await?;
    sqlx::query(
        "INSERT INTO version_chunks (item_id, version, position, chunk_id, size)
         SELECT md5('item' || (n / $2))::uuid, 1, n % $2, encode(sha256(int8send(n)), 'hex'), $3
           FROM generate_series(0, $1 - 1) AS n",
    )
    .bind(i64::try_from(referenced)?)
    .bind(i64::try_from(CHUNKS_PER_VERSION)?)
    .bind(i32::try_from(CHUNK_SIZE)?)
    .execute(&mut metadata)
    .await?;
    sqlx::query("ANALYZE").execute(&mut metadata).await?;
    Ok(())
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Ok(kind) = std::env::var(CHILD) {
        return child(&kind).await;
    }
    let chunks = setting("NIMBUS_BENCH_CHUNKS", 1_000_000);
    let unreferenced = chunks * setting("NIMBUS_BENCH_UNREFERENCED_PERCENT", 10) / 100;
    let referenced = chunks - unreferenced;

    let app = helpers::spawn_app().await;
    app.add_user("alice", None, true).await;
    let device = helpers::device(&app, "alice").await;
    let started = Instant::now();
    populate(&app, &device, chunks, referenced).await?;
    println!(
        "populated {chunks} chunk objects ({unreferenced} unreferenced, with {unreferenced} \
         files) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let scan = run_child("scan", &app.settings)?;
    let pass = run_child("collect", &app.settings)?;
    let files_left = helpers::files_under(app.objects_dir.path()).len();

    println!(
        "key-order scan of the rows (baseline): {} rows in {:.2} s, {:.0} rows/s, peak RSS {} MiB",
        scan.rows,
        scan.elapsed.as_secs_f64(),
        per_second(scan.rows, scan.elapsed),
        scan.peak_rss_kib / 1024
    );
    println!(
        "collection pass: {} chunks deleted in {:.2} s, {:.0} chunks examined/s, \
         {:.0} chunks deleted/s, peak RSS {} MiB",
        pass.deleted,
        pass.elapsed.as_secs_f64(),
        per_second(chunks, pass.elapsed),
        per_second(pass.deleted, pass.elapsed),
        pass.peak_rss_kib / 1024
    );
    println!(
        "ratios: pass time / scan time {:.1}, pass peak RSS / scan peak RSS {:.2}",
        pass.elapsed.as_secs_f64() / scan.elapsed.as_secs_f64(),
        pass.peak_rss_kib as f64 / scan.peak_rss_kib as f64
    );
    ensure!(
        scan.rows == chunks,
        "every chunk object is a candidate: {} of {chunks}",
        scan.rows
    );
    ensure!(
        pass.deleted == unreferenced,
        "the pass deletes exactly the unreferenced chunks: {} of {unreferenced}",
        pass.deleted
    );
    ensure!(
        files_left == 0,
        "{files_left} files of collected chunks left"
    );
    Ok(())
}
