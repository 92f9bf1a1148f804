//! `adminDeleteUser`: the administrator deletes a user.
//!
//! The store does it in one transaction (see
//! [`crate::storage::MetadataStore::delete_user`]): a shared workspace the
//! user owns goes to the member the administrator chose, or is deleted only
//! when the administrator said so; the rest of the user's workspaces are
//! deleted and their containers recorded for the proxies' collection. Then,
//! as for any revocation (docs/sharing.md), the broker work: the user's
//! device queues are deleted and the bindings of everyone who lost a
//! workspace removed; and the events: `deviceRevoked` for each device and
//! `access` for each membership ended or changed make every proxy drop its
//! cached identities at once.

use nimbus_protocol::admin::{DeleteUserArgs, DeletedUserReply};
use nimbus_protocol::rpc::Role;

use super::membership::{access_event, to_invitees, to_members};
use super::{Amqp, Reply, ServerState, bindings};
use crate::error::OperationError;
use crate::storage::{Actor, Audit, AuditAction, UserDeletion};

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    actor: &Actor,
    args: DeleteUserArgs,
) -> Result<Reply, OperationError> {
    let user = state
        .store
        .user_by_name(&args.username)
        .await?
        .ok_or_else(|| {
            OperationError::BadRequest(format!("there is no user named {:?}", args.username))
        })?;
    if actor.id == Some(user.id) {
        return Err(OperationError::BadRequest(
            "administrators cannot delete themselves; ask another administrator".into(),
        ));
    }
    let mut transfers = Vec::with_capacity(args.transfers.len());
    for transfer in &args.transfers {
        let to = state
            .store
            .user_by_name(&transfer.to)
            .await?
            .ok_or_else(|| {
                OperationError::BadRequest(format!(
                    "there is no user named {:?} to hand {} to",
                    transfer.to, transfer.workspace_id
                ))
            })?;
        transfers.push((transfer.workspace_id, to.id));
    }
    let deleted = state
        .store
        .delete_user(
            UserDeletion {
                user_id: user.id,
                transfers: &transfers,
                delete_shared: &args.delete_shared,
            },
            &Audit::new(actor.clone(), AuditAction::UserDelete),
        )
        .await?;
    tracing::info!(
        username = %user.username,
        workspaces = deleted.deleted_workspaces.len(),
        devices = deleted.revoked_devices.len(),
        "user deleted"
    );

    let mut events = Vec::new();
    for &device_id in &deleted.revoked_devices {
        events.push(bindings::end_device(state, amqp, user.id, device_id).await?);
    }
    for &workspace_id in &deleted.left_workspaces {
        bindings::sync_workspace(state, amqp, user.id, workspace_id).await?;
        events.push(access_event(user.id, workspace_id, None));
        events.extend(to_members(state, workspace_id).await?);
    }
    for (workspace_id, members) in &deleted.deleted_workspaces {
        for &member in members {
            bindings::sync_workspace(state, amqp, member, *workspace_id).await?;
            events.push(access_event(member, *workspace_id, None));
        }
    }
    for &(workspace_id, to) in &deleted.transferred {
        events.push(access_event(to, workspace_id, Some(Role::Owner)));
        events.extend(to_members(state, workspace_id).await?);
    }
    events.extend(to_invitees(&deleted.cancelled).filter(|(invitee, _)| *invitee != user.id));
    Ok(Reply::json(DeletedUserReply {
        deleted_workspaces: deleted
            .deleted_workspaces
            .iter()
            .map(|(id, _)| *id)
            .collect(),
        transferred_workspaces: deleted.transferred.iter().map(|(id, _)| *id).collect(),
        revoked_devices: deleted.revoked_devices.len() as u64,
    })?
    .with_events(events))
}
