//! Collects chunk objects that no version references, so that deleted
//! files, old versions that retention dropped and abandoned uploads (a web
//! upload session that expired, a device that stopped half-way) stop taking
//! space. The argument for why no version ever loses a chunk, with any
//! number of proxies collecting at once, is in docs/operations.md,
//! "Collecting unreferenced chunks"; in short:
//!
//! * Only chunk objects (named by a chunk id) neither written nor
//!   *confirmed* (found by a client's `HEAD` or conditional `PUT`, see
//!   [`confirm`]) for a grace period, and not part of a live upload session,
//!   are candidates.
//! * The index records a fresh, ordered claim number beside them
//!   ([`ObjectIndex::claim_chunks`]); then the metadata servers decide
//!   (`collectChunks`, a service call): in one transaction under the
//!   workspace's lock they hold those no version references under that
//!   claim, and from then on a commit listing one is refused as missing
//!   content.
//! * The index then deletes, in one transaction, those whose row still
//!   holds that claim and that are still stale; the bytes go after.
//! * Storing or finding a claimed chunk again first moves its row to a new
//!   claim number (no earlier claim deletes it any more), then lifts every
//!   claim up to that number (`chunksStored`), so that the device that was
//!   refused can commit.
//!
//! * At the end of a pass every claim made before it is retired: those
//!   whose chunk is stored are lifted, then the servers refuse claims
//!   below the pass's first number and forget the records of lifted
//!   claims below it ([`prune_claims`]). What stays is a record per chunk
//!   deleted and not stored since.
//!
//! One proxy collects at a time (a lock in the index database) only to spare
//! work; every proxy confirms and lifts. A pass is idempotent: stopped
//! anywhere, the next one finishes the job (a blob left without its row is
//! the sweeper's).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use nimbus_protocol::RpcClient;
use nimbus_protocol::client::ClientError;
use nimbus_protocol::names::is_valid_chunk_id;
use nimbus_protocol::rpc::{MAX_REFERENCED_CHUNKS_QUERY, Operation};

use crate::blobs::BlobStore;
use crate::index::{IndexError, ObjectIndex};
use crate::metrics::ProxyMetrics;
use crate::swift::body;
use crate::timestamp::Timestamp;

/// Blobs of collected chunks deleted at once.
const BLOB_DELETES_AT_ONCE: usize = 16;

/// Objects read from the index in one query.
const CANDIDATES_PER_QUERY: usize = 1000;

/// Batches of candidates collected at once.
const BATCHES_AT_ONCE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("the metadata servers did not answer: {0}")]
    Rpc(#[from] ClientError),
}

/// What one pass collected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionReport {
    /// Chunk objects deleted.
    pub chunks: u64,
    /// Their stored sizes.
    pub bytes: u64,
    /// Chunks the servers claimed that a client wrote or confirmed before
    /// they could be deleted: kept, and their claim lifted.
    pub kept: u64,
    /// Claims from before the pass retired: rows of the index lifted
    /// because their chunk is stored, and records the servers forgot.
    pub pruned: u64,
}

/// Records that a client found chunk `name` of `container` in `account`
/// stored (a `HEAD` that answers 200, a `PUT` that stored it or found it),
/// so that collection leaves it alone for the grace period, and lifts a
/// collection claim on it. Best effort: a failure is logged and the request
/// goes on, because what keeps versions whole is the servers' refusal of
/// claimed chunks; this only spares the client that refusal (the next
/// confirmation lifts the claim).
pub async fn confirm(
    index: &dyn ObjectIndex,
    rpc: &RpcClient,
    (account, container, name): (&str, &str, &str),
) {
    if !is_valid_chunk_id(name) {
        return;
    }
    let lifted = match index.confirm_chunk(account, container, name).await {
        Ok(claim_held) => lift_if_held(index, rpc, (account, container, name), claim_held).await,
        Err(error) => Err(error.into()),
    };
    if let Err(error) = lifted {
        tracing::warn!(%error, account, container, chunk = name, "could not confirm a chunk");
    }
}

/// What [`confirm`] does for chunk `name` that a client's write has just
/// stored: the write itself keeps collection away for the grace period
/// (its `modified_us`), and read in the same round trip whether a claim may
/// hold it ([`crate::index::PutResult::claim_held`]), so only that claim is
/// left to lift. Best effort, as [`confirm`].
pub async fn stored(
    index: &dyn ObjectIndex,
    rpc: &RpcClient,
    (account, container, name): (&str, &str, &str),
    claim_held: bool,
) {
    if !is_valid_chunk_id(name) {
        return;
    }
    if let Err(error) = lift_if_held(index, rpc, (account, container, name), claim_held).await {
        tracing::warn!(%error, account, container, chunk = name, "could not lift a claim on a stored chunk");
    }
}

async fn lift_if_held(
    index: &dyn ObjectIndex,
    rpc: &RpcClient,
    (account, container, name): (&str, &str, &str),
    claim_held: bool,
) -> Result<(), CollectionError> {
    if !claim_held {
        return Ok(());
    }
    lift(index, rpc, (account, container), &[name.to_owned()])
        .await
        .map(drop)
}

/// Lifts the claims on those of `names` of `container` that exist: first
/// fences them in the index (no claim made so far deletes them any more),
/// then tells the servers up to which claim they are stored, then forgets
/// them. Returns how many were lifted.
async fn lift(
    index: &dyn ObjectIndex,
    rpc: &RpcClient,
    container: (&str, &str),
    names: &[String],
) -> Result<usize, CollectionError> {
    let Some((up_to, fenced)) = index.fence_collected_chunks(container, names).await? else {
        return Ok(0);
    };
    rpc.call::<serde_json::Value>(
        None,
        Operation::ChunksStored {
            storage_account: container.0.to_owned(),
            container: container.1.to_owned(),
            up_to,
            chunk_ids: fenced.clone(),
        },
    )
    .await?;
    index
        .forget_collected_chunks(container, up_to, &fenced)
        .await?;
    Ok(fenced.len())
}

/// One pass: collects the chunks neither written nor confirmed for `grace`
/// that no version references. Does nothing (an empty report) while another
/// proxy collects. `metrics` counts what is deleted as it goes.
pub async fn collect(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    rpc: &RpcClient,
    metrics: &ProxyMetrics,
    grace: Duration,
) -> Result<CollectionReport, CollectionError> {
    let Some(_only_collector) = index.lock_collection().await? else {
        return Ok(CollectionReport::default());
    };
    collect_unlocked(index, blobs, rpc, metrics, grace).await
}

/// A pass without the lock, as when the session holding it dropped while
/// its proxy went on: overlapping passes are safe (they only repeat work).
pub async fn collect_unlocked(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    rpc: &RpcClient,
    metrics: &ProxyMetrics,
    grace: Duration,
) -> Result<CollectionReport, CollectionError> {
    // Every claim of this pass is above it.
    let floor = index.claim_floor().await?;
    let grace_us = i64::try_from(grace.as_micros()).unwrap_or(i64::MAX);
    let cutoff_us = Timestamp::now().as_micros().saturating_sub(grace_us);
    // The candidates in key order, a page at a time, as batches of one
    // container's names. Batches are disjoint, and each locks its rows in
    // name order, so several run at once: a batch spends most of its time
    // waiting (for the metadata servers, for its transactions' commits).
    let mut report = CollectionReport::default();
    let mut in_flight = FuturesUnordered::new();
    let mut queued = VecDeque::new();
    // The key after which the next page starts; `None` once all are read.
    let mut next_page = Some(None);
    loop {
        while in_flight.len() < BATCHES_AT_ONCE {
            if let Some((container, names)) = queued.pop_front() {
                in_flight.push(collect_owned_batch(
                    index, blobs, rpc, container, names, cutoff_us,
                ));
            } else if let Some(after) = next_page.take() {
                let page = index
                    .collection_candidates(cutoff_us, key_of(&after), CANDIDATES_PER_QUERY)
                    .await?;
                queued.extend(batches_of(page.candidates));
                next_page = page.next.map(Some);
            } else {
                break;
            }
        }
        let Some(batch) = in_flight.next().await else {
            break;
        };
        let batch = batch?;
        metrics.observe_collection(batch.chunks, batch.bytes);
        report.chunks += batch.chunks;
        report.bytes += batch.bytes;
        report.kept += batch.kept;
    }
    report.pruned = prune_claims(index, rpc, floor).await?;
    Ok(report)
}

/// A batch: one container's candidate names.
type Batch = ((String, String), Vec<String>);

/// A page of candidates (in key order) as batches.
fn batches_of(candidates: Vec<(String, String, String)>) -> Vec<Batch> {
    let mut batches = Vec::new();
    for same_container in candidates.chunk_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1)) {
        let (account, container, _) = &same_container[0];
        for batch in same_container.chunks(MAX_REFERENCED_CHUNKS_QUERY) {
            let names = batch.iter().map(|(_, _, name)| name.clone()).collect();
            batches.push(((account.clone(), container.clone()), names));
        }
    }
    batches
}

async fn collect_owned_batch(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    rpc: &RpcClient,
    (account, container): (String, String),
    names: Vec<String>,
    cutoff_us: i64,
) -> Result<CollectionReport, CollectionError> {
    collect_batch(index, blobs, rpc, (&account, &container), &names, cutoff_us).await
}

/// A page's last key, as the index takes it.
fn key_of(after: &Option<(String, String, String)>) -> Option<(&str, &str, &str)> {
    after
        .as_ref()
        .map(|(a, c, n)| (a.as_str(), c.as_str(), n.as_str()))
}

/// Retires every claim below `floor` (docs/operations.md, "Pruning the
/// claims' records"): lifts those whose chunk is stored, as a confirmation
/// would, so that the index keeps rows only of chunks that are gone; then
/// has the servers refuse claims below `floor` from now on and forget the
/// records no answer depends on any more. A claim still on its way from an
/// overlapping pass only ends up deleting nothing. Returns the rows lifted
/// plus the records forgotten.
async fn prune_claims(
    index: &dyn ObjectIndex,
    rpc: &RpcClient,
    floor: i64,
) -> Result<u64, CollectionError> {
    let mut lifted = 0;
    let mut after: Option<(String, String, String)> = None;
    loop {
        let page = index
            .lingering_claims(floor, key_of(&after), CANDIDATES_PER_QUERY)
            .await?;
        for same_container in page.chunk_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1)) {
            let (account, container, _) = &same_container[0];
            for batch in same_container.chunks(MAX_REFERENCED_CHUNKS_QUERY) {
                let names: Vec<String> = batch.iter().map(|(_, _, name)| name.clone()).collect();
                lifted += lift(index, rpc, (account, container), &names).await? as u64;
            }
        }
        if page.len() < CANDIDATES_PER_QUERY {
            break;
        }
        after = page.last().cloned();
    }
    let forgotten: u64 = rpc
        .call(None, Operation::PruneChunkClaims { floor })
        .await?;
    Ok(lifted + forgotten)
}

/// Of `names`, claims in the index those no version references now, asks
/// the servers to claim them, deletes what they claimed and is still
/// stale, and lifts the rest of their claim.
async fn collect_batch(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    rpc: &RpcClient,
    container: (&str, &str),
    names: &[String],
    cutoff_us: i64,
) -> Result<CollectionReport, CollectionError> {
    let mut report = CollectionReport::default();
    // Most chunks of a store are referenced: asking first spares a claim
    // row written, locked and removed again for each of them. A chunk
    // referenced now is only left for a later pass; one unreferenced now
    // may be referenced by the time of the claim, which decides.
    let unreferenced: Vec<String> = rpc
        .call(
            None,
            Operation::UnreferencedChunks {
                storage_account: container.0.to_owned(),
                container: container.1.to_owned(),
                chunk_ids: names.to_vec(),
            },
        )
        .await?;
    if unreferenced.is_empty() {
        return Ok(report);
    }
    let Some((claim, recorded)) = index
        .claim_chunks(container, &unreferenced, cutoff_us)
        .await?
    else {
        return Ok(report);
    };
    let claimed: Vec<String> = rpc
        .call(
            None,
            Operation::CollectChunks {
                storage_account: container.0.to_owned(),
                container: container.1.to_owned(),
                claim,
                chunk_ids: recorded.clone(),
            },
        )
        .await?;
    let by_servers: HashSet<&str> = claimed.iter().map(String::as_str).collect();
    let unclaimed: Vec<String> = recorded
        .into_iter()
        .filter(|name| !by_servers.contains(name.as_str()))
        .collect();
    let deleted = index
        .collect_chunks(container, claim, (&claimed, &unclaimed), cutoff_us)
        .await?;
    // Their bytes, a few at a time: one by one, waiting for each unlink
    // (or each object store round trip) was most of a pass.
    futures::stream::iter(&deleted)
        .for_each_concurrent(BLOB_DELETES_AT_ONCE, |object| {
            body::discard(blobs, &object.content)
        })
        .await;
    report.chunks += deleted.len() as u64;
    report.bytes += deleted.iter().map(|object| object.size).sum::<u64>();
    let gone: HashSet<&str> = deleted.iter().map(|o| o.name.as_str()).collect();
    let kept: Vec<String> = claimed
        .into_iter()
        .filter(|name| !gone.contains(name.as_str()))
        .collect();
    if !kept.is_empty() {
        report.kept += kept.len() as u64;
        lift(index, rpc, container, &kept).await?;
    }
    Ok(report)
}

/// Collects every `every` (the first pass after one interval, so that a
/// proxy starting up serves first), until the task is dropped.
pub async fn run(
    index: Arc<dyn ObjectIndex>,
    blobs: Arc<dyn BlobStore>,
    rpc: RpcClient,
    metrics: Arc<ProxyMetrics>,
    grace: Duration,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match collect(index.as_ref(), blobs.as_ref(), &rpc, &metrics, grace).await {
            Ok(report) if report == CollectionReport::default() => {}
            Ok(report) => tracing::info!(
                chunks = report.chunks,
                bytes = report.bytes,
                kept = report.kept,
                pruned = report.pruned,
                "collected unreferenced chunks"
            ),
            Err(error) => tracing::warn!(%error, "collecting unreferenced chunks failed"),
        }
    }
}
