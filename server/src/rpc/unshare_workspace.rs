//! `unshareWorkspace`: the owner ends every other member's access and every
//! pending proposal, at once ([`super::membership::end_access`]). The
//! workspace stays the owner's, in place, with all its history (StackSync
//! moved it back into the owner's default workspace instead).

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
) -> Result<Reply, OperationError> {
    require_owner(state, caller, workspace_id).await?;
    let ended = end_access(
        state,
        amqp,
        workspace_id,
        None,
        &Audit::by(caller, AuditAction::Unshare),
    )
    .await?;
    Ok(Reply::json(())?.with_events(ended.events))
}
