//! `collectChunks`: the proxy's collection of unreferenced chunks asks
//! which of some chunk objects no version of their workspace references.
//! It is a service call (see [`super::require_service`]): no device may
//! make chunks collectable.
//!
//! The answer is also a promise: in the transaction that computes it, under
//! the workspace's lock that every commit takes first, the ids are recorded
//! as claimed under the proxy's claim number, and a commit that lists one is
//! refused as missing content until `chunksStored` lifts the claim. So a
//! device that found a chunk stored before the proxy deleted it can never
//! commit a version that needs it without storing it again
//! (docs/operations.md, "Collecting unreferenced chunks").

use std::collections::HashSet;

use uuid::Uuid;

use super::referenced_chunks::validate_chunk_ids;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(
    state: &ServerState,
    container: (&str, &str),
    claim: i64,
    chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    validate_claim(claim)?;
    let workspace_id = match holder(state, container).await? {
        Holder::Workspace(workspace_id) => workspace_id,
        // No claim needs recording against a commit: no version can
        // reference them any more.
        Holder::DeletedWorkspace => return Reply::json(chunk_ids),
        Holder::Nobody => return Reply::json(Vec::<String>::new()),
    };
    let chunk_ids = state
        .store
        .collect_unreferenced_chunks(workspace_id, claim, &chunk_ids)
        .await?;
    if !chunk_ids.is_empty() {
        tracing::info!(%workspace_id, claim, chunks = chunk_ids.len(), "chunks claimed for collection");
    }
    Reply::json(chunk_ids)
}

/// `unreferencedChunks`: which of `chunk_ids` [`run`] would claim now, if
/// nothing changed meanwhile; claims nothing. The collection asks it first,
/// so that the index and the servers record claims only on chunks that may
/// go (most of a store is referenced). Its answer decides nothing: `run`
/// decides again under the workspace's lock.
pub async fn unreferenced(
    state: &ServerState,
    container: (&str, &str),
    mut chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    let referenced = match holder(state, container).await? {
        Holder::Workspace(workspace_id) => state
            .store
            .referenced_chunks(workspace_id, &chunk_ids)
            .await?
            .into_iter()
            .collect(),
        Holder::DeletedWorkspace => HashSet::new(),
        Holder::Nobody => return Reply::json(Vec::<String>::new()),
    };
    chunk_ids.retain(|id| !referenced.contains(id));
    chunk_ids.sort_unstable();
    chunk_ids.dedup();
    Reply::json(chunk_ids)
}

/// Whose chunks a container holds.
enum Holder {
    Workspace(Uuid),
    /// A workspace deleted with its user: no version references them.
    DeletedWorkspace,
    /// A Swift user's own objects, whatever their names: never collected.
    Nobody,
}

async fn holder(
    state: &ServerState,
    (storage_account, container): (&str, &str),
) -> Result<Holder, OperationError> {
    if let Some(workspace_id) = state
        .store
        .workspace_of_container(storage_account, container)
        .await?
    {
        return Ok(Holder::Workspace(workspace_id));
    }
    Ok(
        if state
            .store
            .is_deleted_container(storage_account, container)
            .await?
        {
            Holder::DeletedWorkspace
        } else {
            Holder::Nobody
        },
    )
}

/// Claim numbers come from the index's sequence: positive.
pub(super) fn validate_claim(claim: i64) -> Result<(), OperationError> {
    if claim > 0 {
        Ok(())
    } else {
        Err(OperationError::BadRequest(format!(
            "a claim number is positive, not {claim}"
        )))
    }
}
