//! `updateMount`: a member renames or moves their own mount of a workspace.
//! Each member names and places a workspace on their own (as Dropbox and
//! StackSync do), so nobody else's mount changes; the member's other devices
//! hear a `mount` event.

use nimbus_protocol::names::validate_name;
use nimbus_protocol::notify::UserEvent;
use nimbus_protocol::rpc::UpdateMountArgs;

use super::membership::NOT_A_MEMBER;
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Caller, Mount};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: UpdateMountArgs,
) -> Result<Reply, OperationError> {
    if let Err(error) = validate_name(&args.mount_name) {
        return Err(OperationError::BadRequest(format!(
            "{:?} cannot name a mount: {error}",
            args.mount_name
        )));
    }
    let current = state
        .store
        .member_workspace(caller.user_id, args.workspace_id)
        .await?
        .ok_or(OperationError::Forbidden(NOT_A_MEMBER))?;
    if current.is_default && args.mount_parent.is_some() {
        return Err(OperationError::BadRequest(
            "your default workspace is the top of your sync folder; it cannot be moved".into(),
        ));
    }
    let workspace = state
        .store
        .update_mount(Mount {
            workspace_id: args.workspace_id,
            user_id: caller.user_id,
            name: &args.mount_name,
            parent: args.mount_parent,
        })
        .await?;
    let event = (
        caller.user_id,
        UserEvent::Mount {
            workspace_id: args.workspace_id,
        },
    );
    Ok(Reply::json(workspace)?.with_events([event]))
}
