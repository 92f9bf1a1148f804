//! `listMembers`: who shares a workspace, with their roles; any member may
//! ask, so that viewers too know who sees their workspace.

use uuid::Uuid;

use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
) -> Result<Reply, OperationError> {
    require_role(state, caller, workspace_id, false).await?;
    Reply::json(state.store.members(workspace_id).await?)
}
