//! `revokeDevice`: the caller revokes one of its user's devices (a lost laptop).
//! The `device_revoked` event makes every proxy drop its cached identity of
//! the device's token, instead of trusting it until the cache expires.

use nimbus_protocol::notify::UserEvent;
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
    Ok(Reply::json(())?.with_events([revoked_event(caller, device_id)]))
}

/// Tells the proxies to stop trusting the device's token at once.
pub(super) fn revoked_event(caller: &Caller, device_id: Uuid) -> (Uuid, UserEvent) {
    (caller.user_id, UserEvent::DeviceRevoked { device_id })
}
