//! `subscribe`: a device hears its own user's workspaces and nobody else's,
//! only broker-named queues that exist are bound, and a revoked device's
//! feed ends at once.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use nimbus_protocol::notify::{Notification, Push, UserEvent};
use nimbus_protocol::rpc::{DeviceInfo, DeviceToken, ErrorCode, Operation};
use nimbus_protocol::{NotificationListener, Topology};
use uuid::Uuid;

use crate::helpers::{TestApp, new_file, spawn_app};

async fn next(listener: &mut NotificationListener) -> Notification {
    tokio::time::timeout(Duration::from_secs(5), listener.next())
        .await
        .expect("a notification within 5 s")
        .expect("the listener is open")
}

/// Publishes a notification with the routing key of `user_id`, as a server
/// would for that user's devices.
async fn publish_to_user(channel: &Channel, topology: &Topology, user_id: Uuid) -> Notification {
    let notification = Notification {
        workspace_id: Uuid::new_v4(),
        revision: 7,
        origin_device: Uuid::new_v4(),
        request_id: Uuid::new_v4(),
    };
    channel
        .basic_publish(
            topology.notify_exchange().into(),
            Topology::user_key(user_id).into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&notification).unwrap(),
            BasicProperties::default(),
        )
        .await
        .unwrap();
    notification
}

/// The refusal `subscribe` gets for `queue`.
async fn refused(app: &TestApp, token: &DeviceToken, queue: &str) -> String {
    let error = app
        .client
        .call::<()>(
            Some(token),
            Operation::Subscribe {
                queue: queue.into(),
            },
        )
        .await
        .expect_err("subscribe must refuse this queue");
    assert_eq!(error.rpc_code(), Some(ErrorCode::BadRequest), "{error}");
    error.to_string()
}

#[tokio::test]
async fn a_device_hears_its_own_users_workspaces_only() {
    let app = spawn_app().await;
    let (alice, alice_workspace) = app.user_with_device("alice").await;
    let (bob, bob_workspace) = app.user_with_device("bob").await;
    let mut listener = app.client.listen(&alice).await.unwrap();

    // Notifications reach one queue in the order they were published, so
    // the first one alice hears after bob's commit shows whether she heard it.
    app.commit(&bob, &bob_workspace, vec![new_file(None, "bob.txt", 1, 10)])
        .await;
    app.commit(
        &alice,
        &alice_workspace,
        vec![new_file(None, "a.txt", 2, 10)],
    )
    .await;
    let heard = next(&mut listener).await;
    assert_eq!(heard.workspace_id, alice_workspace.workspace_id);
    assert_eq!(heard.revision, 1);

    // The user's own key is bound too, and only that user's.
    let topology = Topology::new(app.settings.queue_prefix.clone());
    let connection = Connection::connect(&app.settings.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let bob_id = app.client.get_account(&bob).await.unwrap().user_id;
    let alice_id = app.client.get_account(&alice).await.unwrap().user_id;
    publish_to_user(&channel, &topology, bob_id).await;
    let to_alice = publish_to_user(&channel, &topology, alice_id).await;
    assert_eq!(next(&mut listener).await, to_alice);
    app.stop().await;
}

#[tokio::test]
async fn only_existing_broker_named_queues_are_bound() {
    let app = spawn_app().await;
    let (alice, workspace) = app.user_with_device("alice").await;
    let topology = Topology::new(app.settings.queue_prefix.clone());

    for queue in [topology.rpc_queue(), format!("amq.gen-{}", "x".repeat(300))] {
        let named = refused(&app, &alice, &queue).await;
        assert!(named.contains("only a queue the broker named"), "{named}");
    }
    let missing = refused(&app, &alice, "amq.gen-no-such-queue").await;
    assert!(missing.contains("does not exist"), "{missing}");
    // Another connection's exclusive queue cannot be bound by the server.
    let connection = Connection::connect(&app.settings.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let exclusive = connection
        .create_channel()
        .await
        .unwrap()
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let locked = refused(&app, &alice, exclusive.name().as_str()).await;
    assert!(locked.contains("exclusive"), "{locked}");

    // The refusals closed only their own channels: the server still answers
    // and publishes notifications.
    let mut listener = app.client.listen(&alice).await.unwrap();
    app.commit(&alice, &workspace, vec![new_file(None, "a.txt", 1, 10)])
        .await;
    assert_eq!(
        next(&mut listener).await.workspace_id,
        workspace.workspace_id
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_device_stops_hearing_at_once_and_the_others_are_told() {
    let app = spawn_app().await;
    let (laptop, workspace) = app.user_with_device("alice").await;
    let phone = app.login("alice", "phone").await;
    let mut phone_listener = app.client.listen(&phone).await.unwrap();
    let mut laptop_listener = app.client.listen(&laptop).await.unwrap();
    let devices: Vec<DeviceInfo> = app
        .client
        .call(Some(&laptop), Operation::ListDevices)
        .await
        .unwrap();
    let phone_id = devices
        .iter()
        .find(|d| d.name == "phone")
        .unwrap()
        .device_id;

    app.client
        .call::<()>(
            Some(&laptop),
            Operation::RevokeDevice {
                device_id: phone_id,
            },
        )
        .await
        .unwrap();
    // The phone's queue is deleted, not left bound until it expires.
    let ended = tokio::time::timeout(Duration::from_secs(5), phone_listener.next_push())
        .await
        .expect("the revoked device's feed ends within 5 s");
    assert_eq!(ended, None);
    let told = tokio::time::timeout(Duration::from_secs(5), laptop_listener.next_push())
        .await
        .unwrap();
    assert!(
        matches!(told, Some(Push::User(UserEvent::DeviceRevoked { device_id, .. })) if device_id == phone_id),
        "{told:?}"
    );
    app.commit(
        &laptop,
        &workspace,
        vec![new_file(None, "after.txt", 4, 10)],
    )
    .await;
    assert_eq!(next(&mut laptop_listener).await.revision, 1);
    app.stop().await;
}
