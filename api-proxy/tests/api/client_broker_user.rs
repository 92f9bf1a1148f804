//! The RabbitMQ user TempAuth hands to clients may call the metadata RPC and
//! listen for its notifications, but not touch the request queue that every
//! device's requests (and device tokens) pass through, nor bind a queue to
//! the notification exchange (a metadata server binds it, to the keys of the
//! caller's workspaces only).

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ErrorKind};
use nimbus_protocol::Topology;
use nimbus_protocol::client::redact_url;
use nimbus_protocol::topology::REQUEST_ROUTING_KEY;

use crate::helpers::{PASSWORD, device, spawn_app};

#[tokio::test]
async fn clients_may_call_the_rpc_but_not_read_or_remove_the_request_queue() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    // TempAuth, then login and getWorkspaces over the handed-out URL.
    let alice = device(&app, "alice").await;
    alice
        .rpc
        .listen(&alice.token)
        .await
        .expect("the client user may subscribe to notifications");

    let tempauth = app.get_token("alice:alice", PASSWORD).await;
    let header = |name: &str| tempauth.headers()[name].to_str().unwrap().to_owned();
    let url = header("x-nimbus-rpc-url");
    assert_ne!(
        redact_url(&url),
        redact_url(&app.settings.amqp_url),
        "TempAuth handed out the proxy's own RabbitMQ user"
    );
    let topology = Topology::new(header("x-nimbus-rpc-prefix"));
    let requests = topology.rpc_queue();
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    // A refusal closes its channel, so every attempt gets a fresh one.
    let channel = || async { connection.create_channel().await.unwrap() };

    let consumed = channel()
        .await
        .basic_consume(
            requests.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_refused("consuming the request queue", consumed);
    let got = channel()
        .await
        .basic_get(requests.as_str().into(), BasicGetOptions::default())
        .await;
    assert_refused("getting from the request queue", got);
    let purged = channel()
        .await
        .queue_purge(requests.as_str().into(), QueuePurgeOptions::default())
        .await;
    assert_refused("purging the request queue", purged);
    let deleted = channel()
        .await
        .queue_delete(requests.as_str().into(), QueueDeleteOptions::default())
        .await;
    assert_refused("deleting the request queue", deleted);
    let dead_letters = channel()
        .await
        .basic_get(
            topology.dead_letter_queue().into(),
            BasicGetOptions::default(),
        )
        .await;
    assert_refused("reading the dead-letter queue", dead_letters);
    let named = channel()
        .await
        .queue_declare(
            format!("{}.mine", topology.prefix()).into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_refused("declaring a queue that is not server-named", named);
    let exchange_deleted = channel()
        .await
        .exchange_delete(
            topology.rpc_exchange().into(),
            ExchangeDeleteOptions::default(),
        )
        .await;
    assert_refused("deleting the RPC exchange", exchange_deleted);

    // Its own queue may be bound neither to the RPC exchange, to copy the
    // requests, nor to the notification exchange, to hear every workspace.
    for (exchange, key) in [
        (topology.rpc_exchange(), REQUEST_ROUTING_KEY),
        (topology.notify_exchange(), "#"),
    ] {
        let own = channel().await;
        let queue = own
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the client user may declare a server-named queue");
        let bound = own
            .queue_bind(
                queue.name().clone(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await;
        assert_refused(&format!("binding a queue to {exchange}"), bound);
    }

    // After all that, the RPC still works.
    alice.rpc.get_account(&alice.token).await.unwrap();
}

/// The most a client's queue holds, set by the broker policy that
/// `scripts/lib.sh` installs with the client user.
const CLIENT_QUEUE_MAX_LENGTH: u32 = 1000;

#[tokio::test]
async fn a_clients_queue_is_bounded_by_the_broker_policy() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let tempauth = app.get_token("alice:alice", PASSWORD).await;
    let url = tempauth.headers()["x-nimbus-rpc-url"]
        .to_str()
        .unwrap()
        .to_owned();
    let client = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let client_channel = client.create_channel().await.unwrap();
    let queue = client_channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    // A flood the client cannot send itself (it may not publish to its own
    // queue), as a burst of notifications would be.
    let broker = Connection::connect(&app.settings.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = broker.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for i in 0..CLIENT_QUEUE_MAX_LENGTH + 20 {
        channel
            .basic_publish(
                "".into(),
                queue.name().clone(),
                BasicPublishOptions::default(),
                i.to_string().as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let held = client_channel
        .queue_declare(
            queue.name().clone(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count();
    assert_eq!(
        held, CLIENT_QUEUE_MAX_LENGTH,
        "the broker policy `nimbus-client-queues` is missing: scripts/test.sh installs it"
    );
    // The oldest gave way.
    let first = client_channel
        .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("a message");
    assert_eq!(first.delivery.data, b"20");
}

fn assert_refused<T>(what: &str, result: lapin::Result<T>) {
    let refused = AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED);
    match result {
        Err(error) if matches!(error.kind(), ErrorKind::ProtocolError(e) if *e.kind() == refused) =>
            {}
        Err(error) => panic!("{what}: expected ACCESS_REFUSED, got {error}"),
        Ok(_) => panic!("{what}: the broker allowed it"),
    }
}
