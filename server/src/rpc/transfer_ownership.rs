//! `transferOwnership`: the owner hands the workspace to a member.
//!
//! Quota is charged to the owner, so the new owner's quota must have room
//! for the workspace's usage (the chunks its retained versions reference), else
//! nothing changes. The former owner stays as an editor, and the proposals
//! they made and that are still pending are cancelled: they may no longer
//! grant access. The container stays where its bytes are.

use nimbus_protocol::rpc::Role;
use uuid::Uuid;

use super::membership::{access_event, require_owner, to_invitees, to_members};
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Reply, OperationError> {
    require_owner(state, caller, workspace_id).await?;
    if user_id == caller.user_id {
        return Err(OperationError::BadRequest(
            "you already own this workspace".into(),
        ));
    }
    let cancelled = state
        .store
        .transfer_ownership(
            workspace_id,
            caller.user_id,
            user_id,
            &Audit::by(caller, AuditAction::OwnershipTransfer),
        )
        .await?;
    let mut events = vec![
        access_event(user_id, workspace_id, Some(Role::Owner)),
        access_event(caller.user_id, workspace_id, Some(Role::Editor)),
    ];
    events.extend(to_invitees(&cancelled));
    events.extend(to_members(state, workspace_id).await?);
    Ok(Reply::json(state.store.members(workspace_id).await?)?.with_events(events))
}
