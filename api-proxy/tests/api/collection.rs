//! Collection of unreferenced chunks (`nimbus_proxy::chunk_collection`,
//! docs/operations.md): what no version lists goes, with its bytes, once
//! neither written nor confirmed for the grace period; what a version lists,
//! what is young or was just confirmed, and what is not in a workspace's
//! container stays; and devices that deduplicate against chunks while
//! collection runs never commit a version whose bytes are gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys, open_chunk};
use nimbus_protocol::rpc::{
    ChunkRef, CommitArgs, CommitItem, CommitReply, Content, ErrorCode, ItemOutcome, Operation,
};
use nimbus_protocol::{ClientError, RpcClient, Topology};
use nimbus_proxy::blobs::OpendalBlobStore;
use nimbus_proxy::chunk_collection::{self, CollectionReport};
use nimbus_proxy::index::ObjectIndex;
use nimbus_proxy::index::postgres::PgIndex;
use nimbus_proxy::metrics::ProxyMetrics;
use nimbus_proxy::timestamp::Timestamp;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::helpers::{Device, TestApp, device, files_under, noise, spawn_app, upload_chunks};

/// A proxy's collection, driven by the test: the proxy's own index, blob
/// store and service RPC user.
pub(crate) struct Collector {
    index: PgIndex,
    blobs: OpendalBlobStore,
    rpc: RpcClient,
    metrics: ProxyMetrics,
}

impl Collector {
    pub(crate) async fn of(app: &TestApp) -> Self {
        Self {
            index: PgIndex::connect(&app.settings.database_url, Duration::ZERO)
                .await
                .unwrap(),
            blobs: OpendalBlobStore::from_settings(&app.settings.storage).unwrap(),
            rpc: RpcClient::connect(
                &app.settings.amqp_url,
                Topology::new(app.settings.queue_prefix.clone()),
                Default::default(),
            )
            .await
            .unwrap(),
            metrics: ProxyMetrics::new(),
        }
    }

    pub(crate) async fn pass(&self, grace: Duration) -> CollectionReport {
        chunk_collection::collect(&self.index, &self.blobs, &self.rpc, &self.metrics, grace)
            .await
            .expect("a collection pass runs")
    }

    /// A pass that does not take the collectors' lock, as when the session
    /// holding it dropped while its proxy went on collecting.
    async fn unlocked_pass(&self, grace: Duration) -> CollectionReport {
        chunk_collection::collect_unlocked(
            &self.index,
            &self.blobs,
            &self.rpc,
            &self.metrics,
            grace,
        )
        .await
        .expect("a collection pass runs")
    }
}

/// Content a device uploaded: its chunks, hash and size, and its bytes.
#[derive(Clone)]
struct Uploaded {
    chunks: Vec<ChunkRef>,
    content_hash: String,
    size: u64,
    data: Vec<u8>,
}

async fn upload(app: &TestApp, laptop: &Device, data: Vec<u8>) -> Uploaded {
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let (chunks, content_hash, size) = upload_chunks(
        &app.client,
        &laptop.container_url,
        &laptop.swift_token,
        &keys,
        &data,
    )
    .await;
    Uploaded {
        chunks,
        content_hash,
        size,
        data,
    }
}

/// Commits `content` as a new file `name` of the device's workspace.
async fn commit_file(
    laptop: &Device,
    name: &str,
    content: &Uploaded,
) -> Result<CommitReply, ClientError> {
    laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: laptop.workspace.workspace_id,
                items: vec![CommitItem {
                    id: Uuid::now_v7(),
                    base_version: 0,
                    parent_id: None,
                    name: name.into(),
                    is_folder: false,
                    deleted: false,
                    modified_at: 1_700_000_000_000,
                    content: Content {
                        size: content.size,
                        content_hash: Some(content.content_hash.clone()),
                        chunks: content.chunks.clone(),
                        chunker: Some(ChunkerParams::DEFAULT.describe()),
                    },
                }],
            },
        )
        .await
}

fn committed(reply: &CommitReply) -> bool {
    matches!(reply.results[0].outcome, ItemOutcome::Committed { .. })
}

async fn chunk_status(app: &TestApp, laptop: &Device, method: &str, id: &str) -> u16 {
    app.client
        .request(
            method.parse().unwrap(),
            format!("{}/{id}", laptop.container_url),
        )
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The content rebuilt from its chunks, fetched through the Swift API.
async fn download(app: &TestApp, laptop: &Device, content: &Uploaded) -> Vec<u8> {
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let mut rebuilt = Vec::new();
    for chunk in &content.chunks {
        let response = app
            .client
            .get(format!("{}/{}", laptop.container_url, chunk.id))
            .header("X-Auth-Token", &laptop.swift_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "chunk {}", chunk.id);
        rebuilt.extend(open_chunk(&keys, &chunk.id, &response.bytes().await.unwrap()).unwrap());
    }
    rebuilt
}

/// Makes every object of the proxy's index look written and confirmed
/// `age` ago, as if the test had waited that long.
async fn age_objects(app: &TestApp, age: Duration) {
    let mut index = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    let age_us = i64::try_from(age.as_micros()).unwrap();
    sqlx::query(
        "UPDATE objects SET modified_us = modified_us - $1, \
                            confirmed_us = confirmed_us - $1",
    )
    .bind(age_us)
    .execute(&mut index)
    .await
    .unwrap();
}

async fn account_bytes_used(app: &TestApp, laptop: &Device) -> u64 {
    let response = app
        .client
        .head(&laptop.storage_url)
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap();
    response.headers()["x-account-bytes-used"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn unreferenced_chunks_past_the_grace_go_with_their_bytes_and_referenced_ones_stay() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    // Chunks too large to live inline, so their bytes are blob files.
    let kept = upload(&app, &laptop, noise(700_000, 1)).await;
    assert!(committed(
        &commit_file(&laptop, "kept.bin", &kept).await.unwrap()
    ));
    let abandoned = upload(&app, &laptop, noise(500_000, 2)).await;
    let kept_bytes = account_bytes_used(&app, &laptop).await;
    let blobs_before = files_under(app.objects_dir.path()).len();
    let collector = Collector::of(&app).await;

    // Young: nothing goes.
    assert_eq!(collector.pass(HOUR).await, CollectionReport::default());
    age_objects(&app, 2 * HOUR).await;
    let report = collector.pass(HOUR).await;

    assert_eq!(report.chunks, abandoned.chunks.len() as u64);
    assert!(report.bytes > 0);
    for chunk in &abandoned.chunks {
        assert_eq!(chunk_status(&app, &laptop, "HEAD", &chunk.id).await, 404);
    }
    assert_eq!(
        files_under(app.objects_dir.path()).len(),
        blobs_before - abandoned.chunks.len(),
        "the collected chunks' blob files are gone"
    );
    assert_eq!(download(&app, &laptop, &kept).await, kept.data);
    let metrics = collector.metrics.render();
    assert!(
        metrics.contains(&format!(
            "nimbus_proxy_collected_chunks_total {}",
            report.chunks
        )) && metrics.contains(&format!(
            "nimbus_proxy_collected_chunk_bytes_total {}",
            report.bytes
        )),
        "{metrics}"
    );
    // Usage counts what is retained.
    assert_eq!(
        account_bytes_used(&app, &laptop).await,
        kept_bytes - report.bytes
    );
    // Idempotent: the next pass finds nothing more.
    assert_eq!(collector.pass(HOUR).await, CollectionReport::default());

    // A device that saw those chunks before they went cannot commit them…
    let refused = commit_file(&laptop, "late.bin", &abandoned)
        .await
        .expect_err("a commit of collected chunks is refused");
    assert_eq!(refused.rpc_code(), Some(ErrorCode::ContentMissing));
    // …until it stores them again.
    let again = upload(&app, &laptop, abandoned.data.clone()).await;
    assert!(committed(
        &commit_file(&laptop, "late.bin", &again).await.unwrap()
    ));
    assert_eq!(download(&app, &laptop, &again).await, abandoned.data);
}

#[tokio::test]
async fn confirmed_chunks_and_objects_outside_workspaces_stay() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let confirmed = upload(&app, &laptop, noise(300_000, 3)).await;
    let stale = upload(&app, &laptop, noise(300_000, 4)).await;
    // A container of the account that holds no workspace, with an object
    // named like a chunk.
    let plain = format!("{}/plain", laptop.storage_url);
    let put = |url: String| {
        app.client
            .put(url)
            .header("X-Auth-Token", &laptop.swift_token)
    };
    assert_eq!(put(plain.clone()).send().await.unwrap().status(), 201);
    let name = &stale.chunks[0].id;
    let object = put(format!("{plain}/{name}"))
        .body(noise(100_000, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(object.status(), 201);
    age_objects(&app, 2 * HOUR).await;
    // A device finds the first chunk there (as before skipping its upload).
    for chunk in &confirmed.chunks {
        assert_eq!(chunk_status(&app, &laptop, "HEAD", &chunk.id).await, 200);
    }

    let report = Collector::of(&app).await.pass(HOUR).await;

    assert_eq!(report.chunks, stale.chunks.len() as u64);
    assert!(committed(
        &commit_file(&laptop, "confirmed.bin", &confirmed)
            .await
            .unwrap()
    ));
    assert_eq!(download(&app, &laptop, &confirmed).await, confirmed.data);
    let outside = app
        .client
        .head(format!("{plain}/{name}"))
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 200, "not a workspace's chunk");
}

#[tokio::test]
async fn only_objects_named_as_chunk_ids_are_collected() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let put = |name: &str| {
        app.client
            .put(format!("{}/{name}", laptop.container_url))
            .header("X-Auth-Token", &laptop.swift_token)
            .body(noise(1000, 6))
            .send()
    };
    let container = app
        .client
        .put(&laptop.container_url)
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap();
    assert!(container.status().is_success());
    let unreferenced_chunk = "b".repeat(64);
    // Near misses of a chunk id (64 lowercase hexadecimal digits), in the
    // workspace's container: a user's own objects, never collected.
    let not_chunk_ids = [
        "A".repeat(64),
        "a".repeat(63),
        "a".repeat(65),
        format!("g{}", "a".repeat(63)),
        format!("é{}", "a".repeat(63)),
    ];
    for name in std::iter::once(&unreferenced_chunk).chain(&not_chunk_ids) {
        assert_eq!(put(&utf8_percent_encode(name)).await.unwrap().status(), 201);
    }
    age_objects(&app, 2 * HOUR).await;

    let report = Collector::of(&app).await.pass(HOUR).await;

    assert_eq!(report.chunks, 1, "the one unreferenced chunk");
    for name in &not_chunk_ids {
        let found = app
            .client
            .head(format!(
                "{}/{}",
                laptop.container_url,
                utf8_percent_encode(name)
            ))
            .header("X-Auth-Token", &laptop.swift_token)
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200, "{name:?} stays");
    }
}

fn utf8_percent_encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Stores a chunk as the desktop client does: `HEAD`, and `PUT` only when
/// missing, or `PUT` unconditionally when told the chunk was collected.
async fn store_chunk(app: &TestApp, laptop: &Device, id: &str, sealed: &[u8], skip_if_found: bool) {
    if skip_if_found && chunk_status(app, laptop, "HEAD", id).await == 200 {
        return;
    }
    let put = app
        .client
        .put(format!("{}/{id}", laptop.container_url))
        .header("X-Auth-Token", &laptop.swift_token)
        .body(sealed.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "chunk {id}");
}

#[tokio::test]
async fn devices_deduplicating_while_collection_runs_commit_nothing_whose_bytes_are_gone() {
    race_devices_against_collectors(1).await;
}

#[tokio::test]
async fn two_proxies_collecting_at_once_while_devices_deduplicate_lose_nothing() {
    race_devices_against_collectors(2).await;
}

/// Devices store (or find) chunks of files that were abandoned earlier and
/// commit them, while `collectors` proxies run collection passes over and
/// over; with more than one, neither takes the lock, so their passes
/// overlap. Every file ends committed and downloadable.
async fn race_devices_against_collectors(collectors: usize) {
    const WRITERS: u64 = 3;
    const FILES_PER_WRITER: u64 = 8;
    const GRACE: Duration = Duration::from_millis(40);
    let app = Arc::new(spawn_app().await);
    app.add_user("alice", None, true).await;
    let laptop = Arc::new(device(&app, "alice").await);
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    // Every file's chunks are first stored and abandoned (a device that
    // stopped half-way), so each is collectable until a version lists it.
    let mut planned = Vec::new();
    for writer in 0..WRITERS {
        for file in 0..FILES_PER_WRITER {
            let data = noise(400_000, 100 * writer + file + 10);
            planned.push((writer, file, upload(&app, &laptop, data).await));
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let collected = Arc::new(AtomicU64::new(0));
    let mut collecting = Vec::new();
    for number in 0..collectors {
        let collector = Collector::of(&app).await;
        let (stop, collected) = (Arc::clone(&stop), Arc::clone(&collected));
        collecting.push(tokio::spawn(async move {
            let mut mine = 0;
            while !stop.load(Ordering::Relaxed) {
                let report = if collectors == 1 {
                    collector.pass(GRACE).await
                } else {
                    collector.unlocked_pass(GRACE).await
                };
                mine += report.chunks;
                collected.fetch_add(report.chunks, Ordering::Relaxed);
                // Out of step, so that the passes overlap in every way.
                let pause = 3 + 4 * number as u64;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            mine
        }));
    }
    let refusals = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let files: Vec<Uploaded> = planned
            .iter()
            .filter(|(w, _, _)| *w == writer)
            .map(|(_, _, content)| content.clone())
            .collect();
        let (app, laptop, keys, refusals) = (
            Arc::clone(&app),
            Arc::clone(&laptop),
            keys.clone(),
            Arc::clone(&refusals),
        );
        writers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for (file, content) in files.into_iter().enumerate() {
                let sealed: Vec<_> = Chunker::new(&content.data[..], &keys, ChunkerParams::DEFAULT)
                    .map(Result::unwrap)
                    .collect();
                let mut skip_if_found = true;
                loop {
                    for chunk in &sealed {
                        store_chunk(&app, &laptop, &chunk.id, &chunk.sealed, skip_if_found).await;
                    }
                    // A device takes a while between finding its chunks and
                    // committing, sometimes longer than the grace: collection
                    // passes run meanwhile. A retry commits at once.
                    if skip_if_found {
                        let pause = (writer * 7 + file as u64 * 13) % 80;
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                    match commit_file(&laptop, &format!("w{writer}-{file}.bin"), &content).await {
                        Ok(reply) => {
                            assert!(committed(&reply));
                            break;
                        }
                        Err(error) if error.rpc_code() == Some(ErrorCode::ContentMissing) => {
                            refusals.fetch_add(1, Ordering::Relaxed);
                            skip_if_found = false;
                        }
                        Err(error) => panic!("commit failed: {error}"),
                    }
                }
                done.push(content);
            }
            done
        }));
    }
    let mut files = Vec::new();
    for writer in writers {
        files.extend(writer.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let mut by_collector = Vec::new();
    for collector in collecting {
        by_collector.push(collector.await.unwrap());
    }
    // And a last pass once everything is committed, then one more, which
    // retires the claims the last one lifted.
    let last = Collector::of(&app).await.pass(Duration::ZERO).await;
    Collector::of(&app).await.pass(Duration::ZERO).await;

    println!(
        "race: {} files committed, {} chunks collected while they were (by collector: \
         {by_collector:?}), {} commits refused and re-uploaded, {} collected after",
        files.len(),
        collected.load(Ordering::Relaxed),
        refusals.load(Ordering::Relaxed),
        last.chunks
    );
    assert_eq!(files.len() as u64, WRITERS * FILES_PER_WRITER);
    assert!(
        collected.load(Ordering::Relaxed) > 0,
        "collection raced with the devices"
    );
    assert_eq!(last.chunks, 0, "every chunk left is listed by a version");
    for content in &files {
        assert_eq!(download(&app, &laptop, content).await, content.data);
    }
    // Every chunk is stored and listed: no claim needs a record any more.
    assert_eq!(claim_records(&app).await, (0, 0, 0));
}

/// Records of collection claims: rows of the proxy's index, and records
/// of the metadata servers, all and those held (a claim not lifted).
async fn claim_records(app: &TestApp) -> (i64, i64, i64) {
    let mut index = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM collected_chunks")
        .fetch_one(&mut index)
        .await
        .unwrap();
    let mut metadata = PgConnection::connect(&app.metadata_database_url())
        .await
        .unwrap();
    let (records, held): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE claim > lifted) FROM collected_chunks",
    )
    .fetch_one(&mut metadata)
    .await
    .unwrap();
    (rows, records, held)
}

/// Pruning (docs/operations.md, "Pruning the claims' records"): a chunk
/// deleted keeps one record on each side (a device may still remember it);
/// once stored again, the next pass forgets both. A claim taken before a
/// pass and sent to the servers after it (a proxy that stalled) finds its
/// records pruned and claims nothing: without the floor it would hold
/// chunks that are stored, with no row left in the index to lift them.
#[tokio::test]
async fn retired_claims_leave_no_records_and_a_claim_below_the_floor_holds_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let container = (
        laptop.workspace.storage_account.as_str(),
        laptop.workspace.container.as_str(),
    );
    let abandoned = upload(&app, &laptop, noise(500_000, 21)).await;
    let deleted = abandoned.chunks.len() as i64;
    age_objects(&app, 2 * HOUR).await;
    let collector = Collector::of(&app).await;

    assert_eq!(collector.pass(HOUR).await.chunks, deleted as u64);
    assert_eq!(claim_records(&app).await, (deleted, deleted, deleted));
    // Stored again (each PUT lifts its claim) and committed.
    let again = upload(&app, &laptop, abandoned.data.clone()).await;
    assert!(committed(
        &commit_file(&laptop, "again.bin", &again).await.unwrap()
    ));
    assert_eq!(claim_records(&app).await, (0, deleted, 0));
    assert_eq!(collector.pass(HOUR).await.pruned, deleted as u64);
    assert_eq!(claim_records(&app).await, (0, 0, 0));

    // A claims stale chunks in the index and stalls before asking the
    // servers.
    let stale = upload(&app, &laptop, noise(300_000, 22)).await;
    let names: Vec<String> = stale.chunks.iter().map(|c| c.id.clone()).collect();
    age_objects(&app, 2 * HOUR).await;
    let stalled = Collector::of(&app).await;
    let cutoff_us = Timestamp::now().as_micros() - 3_600_000_000;
    let (claim, recorded) = stalled
        .index
        .claim_chunks(container, &names, cutoff_us)
        .await
        .unwrap()
        .expect("the stale chunks are claimed");
    // Passes that find nothing stale retire A's claim: its rows are lifted
    // (the chunks are stored), then the servers forget the lifted records.
    let far = 1000 * HOUR;
    assert_eq!(collector.pass(far).await.pruned, names.len() as u64);
    assert_eq!(claim_records(&app).await, (0, names.len() as i64, 0));
    assert_eq!(collector.pass(far).await.pruned, names.len() as u64);
    assert_eq!(claim_records(&app).await, (0, 0, 0));

    // A wakes up.
    let claimed: Vec<String> = stalled
        .rpc
        .call(
            None,
            Operation::CollectChunks {
                storage_account: container.0.into(),
                container: container.1.into(),
                claim,
                chunk_ids: recorded.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(claimed, Vec::<String>::new(), "a claim below the floor");
    let removed = stalled
        .index
        .collect_chunks(container, claim, (&claimed, &recorded), i64::MAX)
        .await
        .unwrap();
    assert_eq!(removed, Vec::new());
    assert_eq!(claim_records(&app).await, (0, 0, 0));
    assert!(committed(
        &commit_file(&laptop, "stale.bin", &stale).await.unwrap()
    ));
    assert_eq!(download(&app, &laptop, &stale).await, stale.data);
    assert_eq!(download(&app, &laptop, &again).await, abandoned.data);
}

/// The hole of a single collector's lock, replayed step by step: proxy A
/// claims a chunk and stalls before deleting it; proxy B (the lock's
/// session having dropped) claims it again and deletes it; a device stores
/// it again and commits a version listing it. A's delete, when it finally
/// runs, must find its claim superseded and delete nothing, even with a
/// cutoff that makes every object look stale (clocks are no part of it).
#[tokio::test]
async fn a_stalled_claim_deletes_nothing_once_a_later_claim_was_lifted() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let abandoned = upload(&app, &laptop, noise(300_000, 7)).await;
    let names: Vec<String> = abandoned.chunks.iter().map(|c| c.id.clone()).collect();
    let container = (
        laptop.workspace.storage_account.as_str(),
        laptop.workspace.container.as_str(),
    );
    age_objects(&app, 2 * HOUR).await;
    let (a, b) = (Collector::of(&app).await, Collector::of(&app).await);
    let cutoff_us = Timestamp::now().as_micros() - 3_600_000_000;

    // A: claimed in the index and by the servers, then stalled.
    let (a_claim, a_recorded) = a
        .index
        .claim_chunks(container, &names, cutoff_us)
        .await
        .unwrap()
        .expect("A claims the abandoned chunks");
    let a_claimed: Vec<String> = a
        .rpc
        .call(
            None,
            Operation::CollectChunks {
                storage_account: container.0.into(),
                container: container.1.into(),
                claim: a_claim,
                chunk_ids: a_recorded,
            },
        )
        .await
        .unwrap();
    assert_eq!(a_claimed.len(), names.len());
    // B: a whole pass, which deletes them.
    assert_eq!(b.unlocked_pass(HOUR).await.chunks, names.len() as u64);
    for name in &names {
        assert_eq!(chunk_status(&app, &laptop, "HEAD", name).await, 404);
    }
    // The device stores them again and commits.
    let again = upload(&app, &laptop, abandoned.data.clone()).await;
    assert!(committed(
        &commit_file(&laptop, "again.bin", &again).await.unwrap()
    ));

    // A wakes up.
    let deleted = a
        .index
        .collect_chunks(container, a_claim, (&a_claimed, &[]), i64::MAX)
        .await
        .unwrap();

    assert_eq!(deleted, Vec::new(), "a superseded claim deletes nothing");
    assert_eq!(download(&app, &laptop, &again).await, abandoned.data);
}
