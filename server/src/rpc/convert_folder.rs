//! `convertFolder`: a folder of the caller's default workspace becomes a
//! workspace of its own, so that it can be shared (docs/sharing.md).
//!
//! Only the owner converts, only a live folder of the default workspace
//! (a folder of another workspace would nest shares), never one that holds
//! a mount, never under a name the caller already mounts something as, and
//! not in an end-to-end encrypted workspace (its chunks can only be
//! re-encrypted by the owner's client). The items keep their ids and
//! history; the folder's deletion with `moved_to` is a new revision of the
//! source, notified like a commit. The owner's device queues are bound to
//! the new workspace at once, and an `access` event tells their devices
//! (and the proxies) of it. Re-sent with the same ids, it answers the same.

use nimbus_protocol::notify::Notification;
use nimbus_protocol::rpc::{ConvertFolderArgs, Role};
use uuid::Uuid;

use super::membership::access_event;
use super::{Amqp, Reply, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::{Caller, Conversion};

const NO_SUCH_FOLDER: &str = "there is no such folder of yours";

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    request_id: Uuid,
    args: ConvertFolderArgs,
) -> Result<Reply, OperationError> {
    if args.workspace_id.is_nil() || args.item_id.is_nil() {
        return Err(OperationError::BadRequest(
            "the folder and the new workspace need real ids, not the nil UUID".into(),
        ));
    }
    // Whoever cannot see the folder learns nothing about it; a member who
    // is not the owner is told who may.
    let (source_id, _) = state
        .store
        .item(args.item_id)
        .await?
        .ok_or(OperationError::Forbidden(NO_SUCH_FOLDER))?;
    match state.store.role_in(source_id, caller.user_id).await? {
        None => return Err(OperationError::Forbidden(NO_SUCH_FOLDER)),
        Some(Role::Owner) => {}
        Some(_) => {
            return Err(OperationError::Forbidden(
                "only the owner of a workspace can turn its folders into shared workspaces",
            ));
        }
    }
    let converted = state
        .store
        .convert_folder(&Conversion {
            owner_id: caller.user_id,
            device_id: caller.device_id,
            folder_id: args.item_id,
            workspace_id: args.workspace_id,
        })
        .await?;
    tracing::info!(
        folder_id = %args.item_id,
        %source_id,
        workspace_id = %args.workspace_id,
        "folder converted into a workspace"
    );
    bindings::sync_workspace(state, amqp, caller.user_id, args.workspace_id).await?;
    let notification = Notification {
        workspace_id: source_id,
        revision: converted.source_revision,
        origin_device: caller.device_id,
        request_id,
    };
    let mut reply = Reply::json(converted)?.with_events([access_event(
        caller.user_id,
        args.workspace_id,
        Some(Role::Owner),
    )]);
    reply.notification = Some(notification);
    Ok(reply)
}
