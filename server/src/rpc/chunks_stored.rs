//! `chunksStored`: chunks that `collectChunks` claimed are in the object
//! store again (a device stored them anew, or found them there because the
//! proxy's delete lost the race with its confirmation), so commits may list
//! them again. A service call, like `collectChunks`: a device could
//! otherwise lift the record of a chunk that is really gone.

use uuid::Uuid;

use super::referenced_chunks::validate_chunk_ids;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(
    state: &ServerState,
    storage_account: &str,
    container: &str,
    claim_id: Uuid,
    chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    if let Some(workspace_id) = state
        .store
        .workspace_of_container(storage_account, container)
        .await?
    {
        state
            .store
            .chunks_stored(workspace_id, claim_id, &chunk_ids)
            .await?;
    }
    Reply::json(serde_json::Value::Null)
}
