//! `revokeLink`: ends one of the caller's user's public links. Every open
//! checks the link row, so the next visit is refused on every proxy.

use uuid::Uuid;

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    link_id: Uuid,
) -> Result<Reply, OperationError> {
    let link = state
        .store
        .revoke_link(
            link_id,
            Some(caller.user_id),
            &Audit::by(caller, AuditAction::LinkRevoke),
        )
        .await?
        .ok_or(OperationError::Forbidden(
            "this link does not exist or is not one of yours",
        ))?;
    tracing::info!(%link_id, "link revoked");
    Reply::json(link)
}
