//! `listFolder`: the live items directly in a folder, folders first, by name.

use uuid::Uuid;

use super::get_item::{NO_SUCH_ITEM, require_item_access};
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
        let (folder_workspace, folder) = state
            .store
            .item(folder_id)
            .await?
            .ok_or(OperationError::Forbidden(NO_SUCH_ITEM))?;
        require_item_access(state, caller, folder_workspace).await?;
        if folder_workspace != workspace_id || !folder.is_folder || folder.deleted {
            return Err(OperationError::BadRequest(
                "folder_id is not a live folder of this workspace".into(),
            ));
        }
    }
    Reply::json(state.store.children(workspace_id, folder_id).await?)
}
