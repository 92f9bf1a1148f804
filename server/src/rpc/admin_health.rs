//! `adminHealth`: the request queue as the answering server sees it: how
//! many metadata servers consume it and how many requests wait. That this
//! answers at all says a metadata server is up.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use nimbus_protocol::admin::ServiceHealth;

use super::{Amqp, Reply, ServerState};
use crate::error::OperationError;

pub async fn run(state: &ServerState, amqp: &Amqp<'_>) -> Result<Reply, OperationError> {
    let request_queue = amqp.topology.rpc_queue();
    let channel = amqp
        .connection
        .create_channel()
        .await
        .map_err(OperationError::Broker)?;
    // Passive: reads the queue's counts, creates and changes nothing.
    let queue = channel
        .queue_declare(
            request_queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(OperationError::Broker)?;
    Reply::json(ServiceHealth {
        request_queue,
        metadata_servers: queue.consumer_count(),
        queued_requests: queue.message_count(),
        database_ok: state.store.ping().await.is_ok(),
    })
}
