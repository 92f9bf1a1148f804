//! `updateDevice`: the caller renames its device or reports a new OS or app version.

use nimbus_protocol::rpc::DeviceArgs;

use super::register_device::validate_device;
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: DeviceArgs,
) -> Result<Reply, OperationError> {
    validate_device(&args)?;
    Reply::json(state.store.update_device(caller.device_id, &args).await?)
}
