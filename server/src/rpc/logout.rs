//! `logout`: revokes the caller's own token.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    state
        .store
        .revoke_device(caller.user_id, caller.device_id)
        .await?;
    tracing::info!(username = %caller.username, device_id = %caller.device_id, "logout");
    Ok(
        Reply::json(())?.with_events([super::revoke_device::revoked_event(
            caller,
            caller.device_id,
        )]),
    )
}
