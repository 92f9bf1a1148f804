//! `removeMember`: the owner ends a member's access, everywhere at once
//! ([`super::membership::end_access`]). The member's devices keep their
//! files; the workspace keeps every byte.

use uuid::Uuid;

use super::membership::{end_access, require_owner};
use super::{Amqp, Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Reply, OperationError> {
    require_owner(state, caller, workspace_id).await?;
    if user_id == caller.user_id {
        return Err(OperationError::BadRequest(
            "the owner cannot be removed; transfer ownership first, or unshare the workspace"
                .into(),
        ));
    }
    let ended = end_access(
        state,
        amqp,
        workspace_id,
        Some(user_id),
        &Audit::by(caller, AuditAction::MemberRemove),
    )
    .await?;
    if ended.removed.is_empty() {
        return Err(OperationError::BadRequest(format!(
            "{user_id} is not a member of this workspace"
        )));
    }
    Ok(Reply::json(())?.with_events(ended.events))
}
