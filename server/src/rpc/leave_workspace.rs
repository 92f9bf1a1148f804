//! `leaveWorkspace`: a member ends their own access, everywhere at once
//! ([`super::membership::end_access`]). The owner cannot leave: they hand
//! the workspace over or unshare it, so that a workspace never lacks one.

use nimbus_protocol::rpc::Role;
use uuid::Uuid;

use super::membership::{NOT_A_MEMBER, end_access};
use super::{Amqp, Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    workspace_id: Uuid,
) -> Result<Reply, OperationError> {
    match state.store.role_in(workspace_id, caller.user_id).await? {
        None => return Err(OperationError::Forbidden(NOT_A_MEMBER)),
        Some(Role::Owner) => {
            return Err(OperationError::BadRequest(
                "the owner cannot leave a workspace; transfer ownership to a member first, or \
                 unshare it"
                    .into(),
            ));
        }
        Some(Role::Editor | Role::Viewer) => {}
    }
    let ended = end_access(
        state,
        amqp,
        workspace_id,
        Some(caller.user_id),
        &Audit::by(caller, AuditAction::ShareLeave),
    )
    .await?;
    Ok(Reply::json(())?.with_events(ended.events))
}
