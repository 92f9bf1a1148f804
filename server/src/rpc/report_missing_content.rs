//! `reportMissingContent`: a device could not download the latest version
//! of a file because chunks of it are missing from the object store (deleted
//! behind the proxy's back, or lost by its disk). The server cannot look at
//! the bytes itself (they never pass through it), so it asks the devices: a
//! `content_missing` event goes to the workspace, and a device whose copy
//! matches the version uploads the missing chunks again.

use nimbus_protocol::notify::WorkspaceEvent;
use uuid::Uuid;

use super::get_item::accessible_item;
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    item_id: Uuid,
) -> Result<Reply, OperationError> {
    let (workspace_id, item) = accessible_item(state, caller, item_id).await?;
    if item.is_folder || item.deleted || item.content.chunks.is_empty() {
        return Err(OperationError::BadRequest(
            "this item has no content to download: it is a folder, deleted, or empty".into(),
        ));
    }
    tracing::info!(%workspace_id, %item_id, device_id = %caller.device_id, "content reported missing");
    Ok(
        Reply::json(serde_json::Value::Null)?.with_workspace_event(
            WorkspaceEvent::ContentMissing {
                workspace_id,
                item_id,
            },
        ),
    )
}
