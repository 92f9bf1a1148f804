//! `listFolder`: the live items directly in a folder, folders first, by name.

use uuid::Uuid;

use super::get_item::accessible_item;
use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
    folder_id: Option<Uuid>,
) -> Result<Reply, OperationError> {
    require_role(state, caller, workspace_id, false).await?;
    if let Some(folder_id) = folder_id {
        let (folder_workspace, folder) = accessible_item(state, caller, folder_id).await?;
        if folder_workspace != workspace_id || !folder.is_folder || folder.deleted {
            return Err(OperationError::BadRequest(
                "folder_id is not a live folder of this workspace".into(),
            ));
        }
    }
    Reply::json(state.store.children(workspace_id, folder_id).await?)
}
