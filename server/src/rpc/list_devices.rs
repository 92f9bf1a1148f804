//! `listDevices`: every device of the caller's user, revoked ones included.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    Reply::json(state.store.list_devices(caller.user_id).await?)
}
