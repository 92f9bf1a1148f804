//! `revokeDevice`: the caller revokes one of its user's devices (a lost laptop).

use uuid::Uuid;

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    device_id: Uuid,
) -> Result<Reply, OperationError> {
    if !state.store.revoke_device(caller.user_id, device_id).await? {
        return Err(OperationError::Forbidden("no such device among yours"));
    }
    tracing::info!(username = %caller.username, %device_id, "device revoked");
    Reply::json(())
}
