//! The retention job: every metadata server applies the deployment's
//! [`RetentionPolicy`] once per `retention_interval_secs`, removing the
//! versions and trashed items it no longer keeps.
//!
//! Each step is one short transaction on one workspace, which takes the
//! workspace's lock as a commit does (so it never races a commit) and an
//! advisory lock that makes servers running at once share the workspaces out
//! rather than wait on each other. A step removes only what the policy says
//! at that moment, so a pass stopped anywhere (a crash, a restart) leaves a
//! consistent state that the next pass continues. The chunks the removed
//! versions referenced are the object store's collector's business: they
//! are no longer in `referencedChunks`.

use std::sync::Arc;
use std::time::Duration;

use nimbus_protocol::rpc::RetentionPolicy;
use tokio_util::sync::CancellationToken;

use crate::storage::{MetadataStore, Removed, StoreResult};

/// Items and versions one transaction removes at most, so that a commit to
/// the workspace waits for its lock for moments only.
const BATCH: u32 = 500;

/// Applies `policy` every `interval` until `stop`.
pub async fn run_periodically(
    store: Arc<dyn MetadataStore>,
    policy: RetentionPolicy,
    interval: Duration,
    stop: CancellationToken,
) {
    // The first pass one interval after the start: servers restarted together
    // do not all start with it.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        match apply(store.as_ref(), &policy).await {
            Ok(removed) if removed == Removed::default() => {}
            Ok(removed) => tracing::info!(
                items = removed.items,
                versions = removed.versions,
                freed_bytes = removed.freed_bytes,
                "retention removed what the policy no longer keeps"
            ),
            Err(error) => tracing::warn!(%error, "the retention job failed; it runs again later"),
        }
    }
}

/// One pass over every workspace; returns what it removed. Workspaces
/// another server is working on are left to it.
pub async fn apply(store: &dyn MetadataStore, policy: &RetentionPolicy) -> StoreResult<Removed> {
    let mut total = Removed::default();
    for workspace_id in store.workspace_ids().await? {
        while let Some(step) = store.apply_retention(workspace_id, policy, BATCH).await? {
            if step.items == 0 && step.versions == 0 {
                break;
            }
            total.items += step.items;
            total.versions += step.versions;
            total.freed_bytes += step.freed_bytes;
        }
    }
    Ok(total)
}
