//! `declineProposal`: the invitee turns an offer down. Unlike an ignored
//! Syncthing offer this is not sticky: the owner can propose again.

use uuid::Uuid;

use super::accept_proposal::require_invitee;
use super::membership::proposal_event;
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};
use nimbus_protocol::rpc::ProposalStatus;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    proposal_id: Uuid,
) -> Result<Reply, OperationError> {
    require_invitee(state, caller, proposal_id).await?;
    let proposal = state
        .store
        .close_proposal(
            proposal_id,
            ProposalStatus::Declined,
            &Audit::by(caller, AuditAction::ShareDecline),
        )
        .await?;
    // The invitee's other devices and pages too: their invitation is answered.
    let events =
        [proposal.proposer_id, proposal.invitee_id].map(|user| (user, proposal_event(&proposal)));
    Ok(Reply::json(proposal)?.with_events(events))
}
