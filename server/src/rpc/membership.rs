//! What the sharing operations share: who may manage a workspace's members,
//! which workspaces can be shared, and ending access.
//!
//! Ending access (remove, leave, unshare) happens everywhere at once: the
//! membership rows and the pending proposals to and from the members end in
//! one transaction; then the `workspace.<id>` bindings of their device queues
//! are removed ([`bindings`]); then the reply carries an `access` event per
//! member, which their devices hear and on which every proxy drops its cached
//! identities of them. Ending access never deletes bytes: the workspace and
//! its history stay the owner's.

use nimbus_protocol::notify::UserEvent;
use nimbus_protocol::rpc::{Proposal, Role};
use uuid::Uuid;

use super::{Amqp, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::{Audit, Caller, WorkspaceRecord};

pub(super) const NOT_A_MEMBER: &str = "this workspace does not exist or you are not a member of it";
const NOT_THE_OWNER: &str =
    "only the owner of this workspace can share it, change roles or remove members";

/// The workspace, when the caller owns it; members who are not its owner
/// are told so, anybody else learns nothing about it.
pub(super) async fn require_owner(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
) -> Result<WorkspaceRecord, OperationError> {
    match state.store.role_in(workspace_id, caller.user_id).await? {
        None => Err(OperationError::Forbidden(NOT_A_MEMBER)),
        Some(Role::Editor | Role::Viewer) => Err(OperationError::Forbidden(NOT_THE_OWNER)),
        Some(Role::Owner) => state
            .store
            .workspace_record(workspace_id)
            .await?
            .ok_or(OperationError::Forbidden(NOT_A_MEMBER)),
    }
}

/// Refuses the workspaces that cannot have members. End-to-end encrypted
/// ones can: the invitee's device checks the passphrase before accepting.
pub(super) fn require_shareable(workspace: &WorkspaceRecord) -> Result<(), OperationError> {
    if workspace.is_default {
        return Err(OperationError::BadRequest(
            "your default workspace cannot be shared; create a workspace (createWorkspace) \
             for what you want to share"
                .into(),
        ));
    }
    Ok(())
}

/// Refuses what a proposal or a role change may not grant.
pub(super) fn require_grantable(role: Role) -> Result<(), OperationError> {
    if role == Role::Owner {
        return Err(OperationError::BadRequest(
            "ownership cannot be granted by a proposal or a role change; the owner hands it \
             over with transferOwnership"
                .into(),
        ));
    }
    Ok(())
}

/// The `proposal` event for the proposals' invitees.
pub(super) fn to_invitees(proposals: &[Proposal]) -> impl Iterator<Item = (Uuid, UserEvent)> {
    proposals.iter().map(|p| (p.invitee_id, proposal_event(p)))
}

pub(super) fn proposal_event(proposal: &Proposal) -> UserEvent {
    UserEvent::Proposal {
        proposal_id: proposal.proposal_id,
        workspace_id: proposal.workspace_id,
        status: proposal.status,
    }
}

/// The `access` event for a user whose role in the workspace is now `role`.
pub(super) fn access_event(
    user_id: Uuid,
    workspace_id: Uuid,
    role: Option<Role>,
) -> (Uuid, UserEvent) {
    (
        user_id,
        UserEvent::Access {
            user_id,
            workspace_id,
            role,
        },
    )
}

/// The `members` event for every current member of the workspace.
pub(super) async fn to_members(
    state: &ServerState,
    workspace_id: Uuid,
) -> Result<Vec<(Uuid, UserEvent)>, OperationError> {
    Ok(state
        .store
        .members(workspace_id)
        .await?
        .into_iter()
        .map(|m| (m.user_id, UserEvent::Members { workspace_id }))
        .collect())
}

/// What [`end_access`] did.
pub(super) struct Ended {
    /// The users whose membership ended.
    pub removed: Vec<Uuid>,
    /// What to publish about it.
    pub events: Vec<(Uuid, UserEvent)>,
}

/// Ends the access of `user_id` (of every member but the owner when `None`)
/// everywhere.
pub(super) async fn end_access(
    state: &ServerState,
    amqp: &Amqp<'_>,
    workspace_id: Uuid,
    user_id: Option<Uuid>,
    audit: &Audit,
) -> Result<Ended, OperationError> {
    let removal = state
        .store
        .remove_members(workspace_id, user_id, audit)
        .await?;
    // Also when nobody was removed: a retry after a broker failure must
    // still reach the bindings the first attempt left.
    let unbind: Vec<Uuid> = match user_id {
        Some(user) => vec![user],
        None => removal.removed.clone(),
    };
    for user in unbind {
        bindings::sync_workspace(state, amqp, user, workspace_id).await?;
    }
    let mut events: Vec<(Uuid, UserEvent)> = removal
        .removed
        .iter()
        .map(|&user| access_event(user, workspace_id, None))
        .collect();
    events.extend(to_invitees(&removal.cancelled));
    if !removal.removed.is_empty() {
        events.extend(to_members(state, workspace_id).await?);
    }
    Ok(Ended {
        removed: removal.removed,
        events,
    })
}
