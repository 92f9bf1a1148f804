//! `referencedChunks`: which of some chunk ids a retained version of a
//! workspace references. The proxy asks before a Swift request deletes or
//! replaces a chunk object, with the token of the caller of that request, so
//! the answer is given only to members of the workspace.
//!
//! A container that holds no workspace references nothing: the answer is
//! empty, and the proxy lets the request through. A workspace the caller is
//! not a member of is refused like any other, so its chunk list stays private.

use nimbus_protocol::names::is_valid_chunk_id;
use nimbus_protocol::rpc::MAX_REFERENCED_CHUNKS_QUERY;

use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    storage_account: &str,
    container: &str,
    chunk_ids: Vec<String>,
) -> Result<Reply, OperationError> {
    validate_chunk_ids(&chunk_ids)?;
    let Some(workspace_id) = state
        .store
        .workspace_of_container(storage_account, container)
        .await?
    else {
        return Reply::json(Vec::<String>::new());
    };
    require_role(state, caller, workspace_id, false).await?;
    Reply::json(
        state
            .store
            .referenced_chunks(workspace_id, &chunk_ids)
            .await?,
    )
}

/// Refuses a question about more than [`MAX_REFERENCED_CHUNKS_QUERY`] ids
/// or about a name that is not a chunk id.
pub(super) fn validate_chunk_ids(chunk_ids: &[String]) -> Result<(), OperationError> {
    if chunk_ids.len() > MAX_REFERENCED_CHUNKS_QUERY {
        return Err(OperationError::BadRequest(format!(
            "ask about at most {MAX_REFERENCED_CHUNKS_QUERY} chunk ids at once, not {}",
            chunk_ids.len()
        )));
    }
    if let Some(bad) = chunk_ids.iter().find(|id| !is_valid_chunk_id(id)) {
        return Err(OperationError::BadRequest(format!(
            "{bad:?} is not a chunk id (64 lowercase hexadecimal digits)"
        )));
    }
    Ok(())
}
