//! Revocation reaches every proxy at once: each proxy listens to the user
//! events of the notification exchange on an exclusive queue of its own,
//! bound to `user.*`, and instead of serving cached identities until they
//! expire it drops, on an `access` event, those of that user
//! ([`Authenticator::forget_user`]; all of them when a workspace changed
//! owner), and on a `device_revoked` event that of the device's token.
//!
//! An event published while this listener is cut off from the broker would
//! be missed, so every time it has bound a fresh queue the proxy drops its
//! whole identity cache: what it holds may predate a change it did not hear.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, Consumer, ExchangeKind};
use nimbus_protocol::Topology;
use nimbus_protocol::client::redact_url;
use nimbus_protocol::notify::{Push, UserEvent};
use nimbus_protocol::rpc::Role;
use tokio::sync::Notify;

use super::Authenticator;

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);

/// Listens until dropped, reconnecting with backoff. A workspace with a new
/// owner (a converted folder, a transfer) also wakes `rekey_wake`, the
/// re-keying job ([`crate::rekey`]).
pub async fn run(
    amqp_url: String,
    topology: Topology,
    authenticator: Arc<Authenticator>,
    rekey_wake: Arc<Notify>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        match listen(&amqp_url, &topology).await {
            Ok((connection, mut consumer)) => {
                authenticator.forget_all();
                delay = Duration::from_millis(100);
                tracing::debug!("listening for access changes");
                while let Some(Ok(delivery)) = consumer.next().await {
                    if let Ok(Push::User(event)) = serde_json::from_slice(&delivery.data) {
                        if matches!(
                            event,
                            UserEvent::Access {
                                role: Some(Role::Owner),
                                ..
                            }
                        ) {
                            rekey_wake.notify_one();
                        }
                        forget(&authenticator, event);
                    }
                }
                drop(connection);
                tracing::warn!("lost the access-change broadcast; reconnecting");
            }
            Err(error) => tracing::warn!(
                url = %redact_url(&amqp_url),
                %error,
                retry_in = ?delay,
                "cannot listen for access changes; cached identities may live their full time"
            ),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

/// Drops what `event` makes stale.
fn forget(authenticator: &Authenticator, event: UserEvent) {
    match event {
        // A new owner: the workspace was transferred, and every administrator
        // of its container's account lost it, whom this proxy cannot name.
        UserEvent::Access {
            role: Some(Role::Owner),
            ..
        } => authenticator.forget_all(),
        UserEvent::Access { user_id, .. } => authenticator.forget_user(user_id),
        UserEvent::DeviceRevoked { device_id } => authenticator.forget_device(device_id),
        UserEvent::Proposal { .. } | UserEvent::Members { .. } | UserEvent::Mount { .. } => {}
    }
}

/// A connection and a consumer of a fresh exclusive queue bound to every
/// user's key.
async fn listen(amqp_url: &str, topology: &Topology) -> lapin::Result<(Connection, Consumer)> {
    let connection = Connection::connect(
        amqp_url,
        ConnectionProperties::default().with_connection_name(
            format!("nimbus-proxy access changes {}", topology.prefix()).into(),
        ),
    )
    .await?;
    let channel = connection.create_channel().await?;
    let exchange = topology.notify_exchange();
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.as_str().into(),
            Topology::EVERY_USER_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let consumer = channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((connection, consumer))
}
