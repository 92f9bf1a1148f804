//! `adminRevokeLink`: an administrator ends any user's public link at once
//! (every open checks the link row, so the next visit is refused on every
//! proxy). The audit record names the link's creator as its target.

use uuid::Uuid;

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Actor, Audit, AuditAction};

pub async fn run(
    state: &ServerState,
    actor: &Actor,
    link_id: Uuid,
) -> Result<Reply, OperationError> {
    let link = state
        .store
        .revoke_link(
            link_id,
            None,
            &Audit::new(actor.clone(), AuditAction::LinkRevoke),
        )
        .await?
        .ok_or_else(|| OperationError::BadRequest(format!("there is no link {link_id}")))?;
    tracing::info!(%link_id, "link revoked by an administrator");
    Reply::json(link)
}
