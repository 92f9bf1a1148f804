//! The broker bindings of a user's device queues to a workspace's key, kept
//! in line with the user's membership.
//!
//! RabbitMQ keeps delivering on a binding until it is removed, whoever may
//! still read the workspace, so ending a membership unbinds `workspace.<id>`
//! from every queue `subscribe` bound for the user's devices (recorded in the
//! store), and joining one binds it, so the new member hears commits without
//! subscribing again.
//!
//! A membership can change while its bindings are being changed (a removal
//! racing an accept, or a `subscribe`). Each side changes the database first
//! and the broker after, and [`sync_workspace`] reads the membership again
//! after its broker work, repeating until both reads agree: whichever side
//! finishes last leaves the bindings as the final membership says.

use lapin::options::{QueueBindOptions, QueueDeleteOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{Channel, ErrorKind};
use nimbus_protocol::Topology;
use nimbus_protocol::notify::UserEvent;
use uuid::Uuid;

use super::{Amqp, ServerState};
use crate::error::OperationError;

/// Whether the broker refused because the queue does not exist.
pub(super) fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ProtocolError(e) if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}

/// Binds, or unbinds, `workspace.<id>` for every recorded queue of the user's
/// devices, until the membership read before and after agree.
pub(super) async fn sync_workspace(
    state: &ServerState,
    amqp: &Amqp<'_>,
    user_id: Uuid,
    workspace_id: Uuid,
) -> Result<(), OperationError> {
    let key = Topology::workspace_key(workspace_id);
    let mut member = state.store.role_in(workspace_id, user_id).await?.is_some();
    loop {
        let queues = state.store.device_queues_of(user_id).await?;
        let gone = apply(amqp, &queues, &key, member).await?;
        if !gone.is_empty() {
            state.store.forget_device_queues(&gone).await?;
        }
        let now_member = state.store.role_in(workspace_id, user_id).await?.is_some();
        if now_member == member {
            return Ok(());
        }
        member = now_member;
    }
}

/// Binds (`bind`) or unbinds `key` for each queue; returns the queues the
/// broker no longer has. Unbinding what is not bound is not an error.
async fn apply(
    amqp: &Amqp<'_>,
    queues: &[String],
    key: &str,
    bind: bool,
) -> Result<Vec<String>, OperationError> {
    let exchange = amqp.topology.notify_exchange();
    let mut gone = Vec::new();
    let mut channel: Option<Channel> = None;
    for queue in queues {
        // A refusal closes its channel, so each one gets a fresh channel
        // for what follows; none is the channel that publishes replies.
        let live = match channel.take() {
            Some(live) if live.status().connected() => live,
            _ => amqp
                .connection
                .create_channel()
                .await
                .map_err(OperationError::Broker)?,
        };
        let result = if bind {
            live.queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
        } else {
            live.queue_unbind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                FieldTable::default(),
            )
            .await
        };
        match result {
            Ok(()) => channel = Some(live),
            Err(error) if is_not_found(&error) => gone.push(queue.clone()),
            Err(error) => return Err(OperationError::Broker(error)),
        }
    }
    Ok(gone)
}

/// Ends a revoked device's feed: deletes the queues `subscribe` bound for it
/// (its consumer is cancelled; bindings would otherwise keep delivering) and
/// returns the event that makes every proxy forget the device's token.
pub(super) async fn end_device(
    state: &ServerState,
    amqp: &Amqp<'_>,
    user_id: Uuid,
    device_id: Uuid,
) -> Result<(Uuid, UserEvent), OperationError> {
    let queues = state.store.queues_of_device(device_id).await?;
    if !queues.is_empty() {
        let channel = amqp
            .connection
            .create_channel()
            .await
            .map_err(OperationError::Broker)?;
        for queue in &queues {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(OperationError::Broker)?;
        }
        state.store.forget_device_queues(&queues).await?;
    }
    Ok((user_id, UserEvent::DeviceRevoked { device_id }))
}

/// Unbinds keys from one queue (the counterpart of a `subscribe` that bound
/// keys its user lost while it was binding).
pub(super) async fn unbind_keys(
    channel: &Channel,
    exchange: &str,
    queue: &str,
    keys: &[String],
) -> Result<(), OperationError> {
    for key in keys {
        channel
            .queue_unbind(
                queue.into(),
                exchange.into(),
                key.as_str().into(),
                FieldTable::default(),
            )
            .await
            .map_err(OperationError::Broker)?;
    }
    Ok(())
}
