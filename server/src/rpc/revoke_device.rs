//! `revokeDevice`: the caller revokes one of its user's devices (a lost
//! laptop), at once everywhere: its push queues go and every proxy drops its
//! cached identity of the device's token (see [`bindings::end_device`]).

use uuid::Uuid;

use super::{Amqp, Reply, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    device_id: Uuid,
) -> Result<Reply, OperationError> {
    if !state.store.revoke_device(caller.user_id, device_id).await? {
        return Err(OperationError::Forbidden("no such device among yours"));
    }
    tracing::info!(username = %caller.username, %device_id, "device revoked");
    let ended = bindings::end_device(state, amqp, caller.user_id, device_id).await?;
    Ok(Reply::json(())?.with_events([ended]))
}
