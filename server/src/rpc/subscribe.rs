//! `subscribe`: binds the caller's notification queue to what its user may see.
//!
//! Every device connects to the broker as the same restricted user, which may
//! not bind queues to the notification exchange: with that right, any device
//! could bind its queue to `#` and watch every workspace's commits. Instead a
//! device declares and consumes a server-named queue, and this operation binds
//! it to `workspace.<id>` for each workspace of the caller's user and to
//! `user.<id>`. The keys come from the authenticated device, never from the
//! message.
//!
//! Only server-named queues (`amq.gen-…`) are bound: their names carry 128
//! random bits, so a caller can only name its own, and never a queue such as
//! the request queue, which would then receive every notification. A queue
//! that does not exist, or is exclusive to the connection that declared it, is
//! refused with an error that says so.
//!
//! The binds run on a channel of their own, opened for this request: a bind
//! to a missing queue makes the broker close its channel, and that must not be
//! the channel that publishes every reply.
//!
//! The queue is recorded for the device before anything is bound, so that a
//! membership that ends later is unbound from it ([`super::bindings`]), and
//! a workspace joined later is bound to it. A membership that ended while
//! this request was binding is unbound before it answers. A binding lasts as
//! long as its queue, which the broker deletes with its consumer.

use lapin::ErrorKind;
use lapin::options::QueueBindOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use nimbus_protocol::Topology;
use nimbus_protocol::topology::SERVER_NAMED_QUEUE_PREFIX;

use super::bindings::{is_not_found, unbind_keys};
use super::{Amqp, Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

/// Longest name AMQP can carry (a short string). A longer one would not even
/// reach the broker as a refusable bind: the client library would send a
/// broken frame (or panic, in debug builds), and the broker would close the
/// connection that serves every request.
const MAX_QUEUE_NAME_BYTES: usize = 255;

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    caller: &Caller,
    queue: String,
) -> Result<Reply, OperationError> {
    if !queue.starts_with(SERVER_NAMED_QUEUE_PREFIX) || queue.len() > MAX_QUEUE_NAME_BYTES {
        return Err(OperationError::BadRequest(format!(
            "only a queue the broker named ({SERVER_NAMED_QUEUE_PREFIX}…) can be subscribed; \
             declare one with an empty name"
        )));
    }
    state
        .store
        .record_device_queue(caller.device_id, &queue)
        .await?;
    let bound = workspace_keys(state, caller).await?;
    let mut keys = vec![Topology::user_key(caller.user_id)];
    keys.extend(bound.iter().cloned());
    // Closed when dropped, on return.
    let channel = amqp
        .connection
        .create_channel()
        .await
        .map_err(OperationError::Broker)?;
    let exchange = amqp.topology.notify_exchange();
    for key in keys {
        let bound = channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await;
        if let Err(error) = bound {
            let refused = refusal(error, &queue);
            if matches!(
                refused,
                OperationError::QueueNotFound(_) | OperationError::QueueExclusive(_)
            ) {
                // Nothing was or will be bound to it.
                state
                    .store
                    .forget_device_queues(std::slice::from_ref(&queue))
                    .await?;
            }
            return Err(refused);
        }
    }
    let still = workspace_keys(state, caller).await?;
    let lost: Vec<String> = bound
        .into_iter()
        .filter(|key| !still.contains(key))
        .collect();
    unbind_keys(&channel, &exchange, &queue, &lost).await?;
    tracing::debug!(device_id = %caller.device_id, %queue, "subscribed");
    Reply::json(())
}

/// The routing keys of the workspaces the caller's user is a member of.
async fn workspace_keys(
    state: &ServerState,
    caller: &Caller,
) -> Result<Vec<String>, OperationError> {
    Ok(state
        .store
        .workspaces_of(caller.user_id)
        .await?
        .into_iter()
        .map(|w| Topology::workspace_key(w.workspace_id))
        .collect())
}

/// What a failed bind means for the caller.
fn refusal(error: lapin::Error, queue: &str) -> OperationError {
    match error.kind() {
        _ if is_not_found(&error) => OperationError::QueueNotFound(queue.to_owned()),
        ErrorKind::ProtocolError(e)
            if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::RESOURCELOCKED) =>
        {
            OperationError::QueueExclusive(queue.to_owned())
        }
        _ => OperationError::Broker(error),
    }
}
