//! `getItem`: the latest state of one item, found by id in any workspace the
//! caller is a member of (the REST API addresses files by id alone).

use nimbus_protocol::rpc::{ItemState, LocatedItem};
use uuid::Uuid;

use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    item_id: Uuid,
) -> Result<Reply, OperationError> {
    let (workspace_id, item) = accessible_item(state, caller, item_id).await?;
    Reply::json(LocatedItem { workspace_id, item })
}

/// The item and its workspace, if the caller may read that workspace.
pub(super) async fn accessible_item(
    state: &ServerState,
    caller: &Caller,
    item_id: Uuid,
) -> Result<(Uuid, ItemState), OperationError> {
    let (workspace_id, item) = state
        .store
        .item(item_id)
        .await?
        .ok_or(OperationError::Forbidden(NO_SUCH_ITEM))?;
    require_item_access(state, caller, workspace_id).await?;
    Ok((workspace_id, item))
}

pub(super) const NO_SUCH_ITEM: &str =
    "this item does not exist or is not in one of your workspaces";

/// Items of other users' workspaces look exactly like missing ones.
pub(super) async fn require_item_access(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
) -> Result<(), OperationError> {
    require_role(state, caller, workspace_id, false)
        .await
        .map(drop)
        .map_err(|error| match error {
            OperationError::Forbidden(_) => OperationError::Forbidden(NO_SUCH_ITEM),
            other => other,
        })
}
