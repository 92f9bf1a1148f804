//! `acceptProposal`: the invitee joins the workspace with the proposed role,
//! mounted under a name and in a folder of their own.
//!
//! The default name is the owner's name for the workspace; a name the
//! invitee already uses gets ` (2)`, ` (3)`, … An expired proposal is
//! refused, and so is an end-to-end encrypted workspace without its key
//! check (only a device that typed the right passphrase knows it). The new member's device queues are bound to the workspace at
//! once, so their devices hear its commits without subscribing again; an
//! `access` event tells their devices (and the proxies) of the new role, a
//! `proposal` event tells the proposer, and a `members` event the members.

use nimbus_protocol::names::validate_name;
use nimbus_protocol::rpc::AcceptProposalArgs;
use uuid::Uuid;

use super::membership::{access_event, proposal_event, to_members};
use super::{Amqp, Reply, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub(super) const NO_SUCH_PROPOSAL: &str = "there is no such proposal for you";

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    args: AcceptProposalArgs,
) -> Result<Reply, OperationError> {
    if let Some(name) = &args.mount_name
        && let Err(error) = validate_name(name)
    {
        return Err(OperationError::BadRequest(format!(
            "{name:?} cannot name a mount: {error}"
        )));
    }
    require_invitee(state, caller, args.proposal_id).await?;
    let (proposal, workspace) = state
        .store
        .accept_proposal(
            args.proposal_id,
            args.mount_name.as_deref(),
            args.mount_parent,
            args.key_check.as_deref(),
            &Audit::by(caller, AuditAction::ShareAccept),
        )
        .await?;
    bindings::sync_workspace(state, amqp, caller.user_id, proposal.workspace_id).await?;
    let mut events = vec![
        (proposal.proposer_id, proposal_event(&proposal)),
        access_event(caller.user_id, proposal.workspace_id, Some(proposal.role)),
    ];
    events.extend(to_members(state, proposal.workspace_id).await?);
    Ok(Reply::json(workspace)?.with_events(events))
}

/// Refuses proposals that are not to the caller's user, as if they did not exist.
pub(super) async fn require_invitee(
    state: &ServerState,
    caller: &Caller,
    proposal_id: Uuid,
) -> Result<(), OperationError> {
    match state.store.proposal(proposal_id).await? {
        Some(proposal) if proposal.invitee_id == caller.user_id => Ok(()),
        _ => Err(OperationError::Forbidden(NO_SUCH_PROPOSAL)),
    }
}
