//! `chunksStored`: chunks that `collectChunks` claimed are in the object
//! store again (a device stored them anew, or found them there because the
//! proxy's delete lost the race with its confirmation), and the proxy's
//! index has made sure that no claim up to `up_to` deletes them any more; so
//! every claim on them up to `up_to` is lifted and commits may list them
//! again. A service call, like `collectChunks`: a device could otherwise
//! lift the claim on a chunk that is really gone.

use super::collect_chunks::validate_claim;
use super::referenced_chunks::validate_chunk_ids;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(
    state: &ServerState,
    (storage_account, container): (&str, &str),
    up_to: i64,
    chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    validate_claim(up_to)?;
    if let Some(workspace_id) = state
        .store
        .workspace_of_container(storage_account, container)
        .await?
    {
        state
            .store
            .chunks_stored(workspace_id, up_to, &chunk_ids)
            .await?;
    }
    Reply::json(serde_json::Value::Null)
}
