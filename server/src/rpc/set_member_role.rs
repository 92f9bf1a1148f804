//! `setMemberRole`: the owner makes a member an editor or a viewer.
//!
//! The server authorizes every commit against the role it holds now, so a
//! downgrade binds the next commit; the `access` event makes every proxy
//! drop its cached identities of the member, so Swift writes stop at once
//! too. The member stays subscribed: a viewer still hears the workspace.

use nimbus_protocol::rpc::Role;
use uuid::Uuid;

use super::membership::{access_event, require_grantable, require_owner, to_members};
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<Reply, OperationError> {
    require_grantable(role)?;
    require_owner(state, caller, workspace_id).await?;
    if user_id == caller.user_id {
        return Err(OperationError::BadRequest(
            "the owner's role changes only by transferOwnership".into(),
        ));
    }
    let member = state
        .store
        .set_member_role(
            workspace_id,
            user_id,
            role,
            &Audit::by(caller, AuditAction::MemberRole),
        )
        .await?
        .ok_or_else(|| {
            OperationError::BadRequest(format!("{user_id} is not a member of this workspace"))
        })?;
    let mut events = vec![access_event(user_id, workspace_id, Some(role))];
    events.extend(to_members(state, workspace_id).await?);
    Ok(Reply::json(member)?.with_events(events))
}
