//! `logout`: revokes the caller's own token, at once everywhere (see
//! [`bindings::end_device`]).

use super::{Amqp, Reply, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
) -> Result<Reply, OperationError> {
    state
        .store
        .revoke_device(caller.user_id, caller.device_id)
        .await?;
    tracing::info!(username = %caller.username, device_id = %caller.device_id, "logout");
    let ended = bindings::end_device(state, amqp, caller.user_id, caller.device_id).await?;
    Ok(Reply::json(())?.with_events([ended]))
}
