//! Removes what interrupted writes leave in the blob store.
//!
//! A PUT writes its blob completely first and commits the index row that
//! points at it second. A proxy killed between the two steps, or an overwrite
//! whose old blob could not be deleted, leaves a complete blob that no object
//! refers to: an orphan. It is never served, but it takes space. [`sweep`]
//! lists the store, asks the index which of the blobs it references, and
//! deletes the others, but only those last written before a grace period, so
//! that an upload between its two steps is never touched. It also removes
//! partial uploads left as long (see [`BlobStore::remove_partial_uploads`]).
//!
//! [`expire`] deletes the objects whose `X-Delete-At` has passed, with their
//! bytes. Reads hide such objects at once; this frees their space.
//!
//! [`run`] sweeps at start-up and then periodically, and expires objects
//! every [`EXPIRY_INTERVAL`]; every proxy may do it, as the deletes are
//! idempotent.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::{TryStreamExt, future};

use crate::blobs::{BlobError, BlobStore};
use crate::index::{IndexError, ObjectIndex};
use crate::swift::body;
use crate::timestamp::Timestamp;

/// Blob keys checked against the index in one query.
const KEYS_PER_QUERY: usize = 1000;

/// Expired objects deleted in one statement.
const EXPIRED_PER_QUERY: usize = 1000;

/// How often expired objects are deleted.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Complete blobs no object refers to.
    pub orphans: usize,
    /// Uploads that were never finished.
    pub partial_uploads: usize,
}

/// Deletes the orphans and partial uploads last written more than `grace` ago.
pub async fn sweep(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    grace: Duration,
) -> Result<SweepReport, SweepError> {
    let cutoff = SystemTime::now() - grace;
    let partial_uploads = blobs.remove_partial_uploads(cutoff).await?;
    let mut batches = blobs
        .list()
        .await?
        // A blob of unknown age might be an upload between its two steps.
        .try_filter(|blob| future::ready(blob.modified.is_some_and(|m| m < cutoff)))
        .map_ok(|blob| blob.key)
        .try_chunks(KEYS_PER_QUERY);
    let mut orphans = 0;
    while let Some(keys) = batches.try_next().await.map_err(|e| e.1)? {
        let referenced = index.referenced_blobs(&keys).await?;
        for key in keys.iter().filter(|key| !referenced.contains(*key)) {
            blobs.delete(key).await?;
            orphans += 1;
        }
    }
    Ok(SweepReport {
        orphans,
        partial_uploads,
    })
}

/// Deletes every object whose `delete_at` has passed, with its bytes, and
/// returns how many there were.
pub async fn expire(index: &dyn ObjectIndex, blobs: &dyn BlobStore) -> Result<usize, IndexError> {
    expire_in(index, blobs, None).await
}

/// [`expire`] within one container (account, container), or everywhere.
pub async fn expire_in(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    container: Option<(&str, &str)>,
) -> Result<usize, IndexError> {
    let now = u64::try_from(Timestamp::now().as_micros() / 1_000_000).unwrap_or(0);
    let mut expired = 0;
    loop {
        let deleted = index
            .delete_expired(now, EXPIRED_PER_QUERY, container)
            .await?;
        for content in &deleted {
            body::discard(blobs, content).await;
        }
        expired += deleted.len();
        if deleted.len() < EXPIRED_PER_QUERY {
            return Ok(expired);
        }
    }
}

async fn expire_periodically(index: &dyn ObjectIndex, blobs: &dyn BlobStore) {
    let mut ticks = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        ticks.tick().await;
        match expire(index, blobs).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "deleted expired objects"),
            Err(error) => tracing::warn!(%error, "deleting expired objects failed"),
        }
    }
}

/// Sweeps now and then every `every`, and deletes expired objects every
/// [`EXPIRY_INTERVAL`], until the task is dropped.
pub async fn run(
    index: Arc<dyn ObjectIndex>,
    blobs: Arc<dyn BlobStore>,
    grace: Duration,
    every: Duration,
) {
    future::join(
        expire_periodically(index.as_ref(), blobs.as_ref()),
        sweep_periodically(index.as_ref(), blobs.as_ref(), grace, every),
    )
    .await;
}

async fn sweep_periodically(
    index: &dyn ObjectIndex,
    blobs: &dyn BlobStore,
    grace: Duration,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match sweep(index, blobs, grace).await {
            Ok(report) if report == SweepReport::default() => {}
            Ok(report) => tracing::info!(
                orphans = report.orphans,
                partial_uploads = report.partial_uploads,
                "removed unreferenced blobs"
            ),
            Err(error) => tracing::warn!(%error, "sweeping unreferenced blobs failed"),
        }
    }
}
