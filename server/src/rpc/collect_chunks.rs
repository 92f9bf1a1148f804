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

use super::referenced_chunks::validate_chunk_ids;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(
    state: &ServerState,
    (storage_account, container): (&str, &str),
    claim: i64,
    chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    validate_claim(claim)?;
    // A container that holds no workspace holds a Swift user's own objects,
    // whatever their names: never collected; unless it held a workspace
    // deleted with its user, which no version can reference any more: all
    // of its chunks go, and no claim needs recording against a commit.
    let Some(workspace_id) = state
        .store
        .workspace_of_container(storage_account, container)
        .await?
    else {
        let deleted = state
            .store
            .is_deleted_container(storage_account, container)
            .await?;
        return Reply::json(if deleted { chunk_ids } else { Vec::new() });
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
