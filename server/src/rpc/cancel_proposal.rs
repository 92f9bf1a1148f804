//! `cancelProposal`: the proposer, or the workspace's owner, withdraws a
//! pending offer; the invitee hears that it is gone.

use nimbus_protocol::rpc::{ProposalStatus, Role};
use uuid::Uuid;

use super::accept_proposal::NO_SUCH_PROPOSAL;
use super::membership::proposal_event;
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    proposal_id: Uuid,
) -> Result<Reply, OperationError> {
    let proposal = state
        .store
        .proposal(proposal_id)
        .await?
        .ok_or(OperationError::Forbidden(NO_SUCH_PROPOSAL))?;
    let may_cancel = proposal.proposer_id == caller.user_id
        || state
            .store
            .role_in(proposal.workspace_id, caller.user_id)
            .await?
            == Some(Role::Owner);
    if !may_cancel {
        return Err(OperationError::Forbidden(NO_SUCH_PROPOSAL));
    }
    let proposal = state
        .store
        .close_proposal(
            proposal_id,
            ProposalStatus::Cancelled,
            &Audit::by(caller, AuditAction::ShareCancel),
        )
        .await?;
    let event = (proposal.invitee_id, proposal_event(&proposal));
    Ok(Reply::json(proposal)?.with_events([event]))
}
