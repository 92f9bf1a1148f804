//! `purgeItem`: "delete forever" from the trash. The item and everything
//! below it go with all their versions at once, instead of when the
//! retention policy would remove them ([`crate::retention`]); the bytes no
//! remaining version references come off the owner's quota. Only members who
//! can change the workspace may; the store refuses an item that is not in
//! the trash, under the same workspace lock a commit takes, so an item
//! restored meanwhile is never lost. The removal is a new workspace
//! revision, pushed like a commit's, so that other views drop the item.

use nimbus_protocol::notify::Notification;
use nimbus_protocol::rpc::PurgedItem;
use uuid::Uuid;

use super::get_item::accessible_item;
use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::{Caller, StoreError};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    request_id: Uuid,
    item_id: Uuid,
) -> Result<Reply, OperationError> {
    let (workspace_id, _) = accessible_item(state, caller, item_id).await?;
    require_role(state, caller, workspace_id, true).await?;
    let removed = state.store.purge_item(workspace_id, item_id).await?;
    let revision = removed.revision.ok_or_else(|| {
        StoreError::Corrupt("a purge removed items without recording a revision".into())
    })?;
    tracing::info!(
        %workspace_id,
        %item_id,
        items = removed.items,
        versions = removed.versions,
        freed_bytes = removed.freed_bytes,
        "deleted forever from the trash"
    );
    let mut reply = Reply::json(PurgedItem {
        workspace_id,
        items: removed.items,
        versions: removed.versions,
        freed_bytes: removed.freed_bytes,
        revision,
    })?;
    reply.notification = Some(Notification {
        workspace_id,
        revision,
        origin_device: caller.device_id,
        request_id,
    });
    Ok(reply)
}
