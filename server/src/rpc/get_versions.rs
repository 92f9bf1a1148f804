//! `getVersions`: the history of an item, newest first. Each version keeps
//! its own name, place and chunks, so any of them can be restored by
//! committing its content as a new version.

use nimbus_protocol::rpc::ItemHistory;
use uuid::Uuid;

use super::get_item::{NO_SUCH_ITEM, require_item_access};
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    item_id: Uuid,
) -> Result<Reply, OperationError> {
    let (workspace_id, versions) = state
        .store
        .versions(item_id)
        .await?
        .ok_or(OperationError::Forbidden(NO_SUCH_ITEM))?;
    require_item_access(state, caller, workspace_id).await?;
    Reply::json(ItemHistory {
        workspace_id,
        versions,
    })
}
