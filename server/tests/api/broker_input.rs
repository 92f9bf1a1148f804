//! Hostile or broken input on the request queue: wrong types, unknown
//! operations, deep nesting, huge messages and batches, requests nobody can
//! answer, and a flood from one device. The server answers an error or
//! dead-letters, never crashes, and keeps serving everyone else.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use futures::future::join_all;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use nimbus_protocol::Topology;
use nimbus_protocol::rpc::{CommitArgs, ErrorCode, MAX_COMMIT_ITEMS, Operation, Request, Response};
use nimbus_protocol::topology::REQUEST_ROUTING_KEY;
use uuid::Uuid;

use crate::helpers::{fresh_settings, new_file, spawn_app, spawn_app_with};

fn refusal_code(response: Response) -> ErrorCode {
    match response {
        Response::Error(error) => error.code,
        Response::Ok(body) => panic!("bad input was answered with {body}"),
    }
}

#[tokio::test]
async fn malformed_requests_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let request_id = Uuid::new_v4();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let junk = vec![b'{'; 16 << 20];
    let inputs: Vec<Vec<u8>> = vec![
        // A number where the token goes, a string where the id goes.
        format!(r#"{{"request_id":"{request_id}","token":7,"op":"getAccount"}}"#).into_bytes(),
        format!(r#"{{"request_id":42,"token":"{}","op":"getAccount"}}"#, token.0).into_bytes(),
        // Commit arguments of the wrong shape.
        format!(
            r#"{{"request_id":"{request_id}","token":"{}","op":"commit","args":{{"workspace_id":"{}","items":"all"}}}}"#,
            token.0, workspace.workspace_id
        )
        .into_bytes(),
        format!(r#"{{"request_id":"{request_id}","token":"{}","op":"dropDatabase"}}"#, token.0)
            .into_bytes(),
        deep.into_bytes(),
        junk,
        Vec::new(),
    ];
    for input in &inputs {
        assert_eq!(
            refusal_code(app.client.call_raw(input).await.unwrap()),
            ErrorCode::BadRequest,
            "{:?}",
            String::from_utf8_lossy(&input[..input.len().min(120)])
        );
    }

    // A batch over the limit is refused whole.
    let items = (0..=MAX_COMMIT_ITEMS)
        .map(|n| new_file(None, &format!("f{n}"), 1, 1))
        .collect();
    let oversized = Request {
        request_id: Uuid::new_v4(),
        token: Some(token.clone()),
        trace_id: None,
        operation: Operation::Commit(CommitArgs {
            workspace_id: workspace.workspace_id,
            items,
        }),
    };
    let response = app
        .client
        .call_raw(&serde_json::to_vec(&oversized).unwrap())
        .await
        .unwrap();
    assert_eq!(refusal_code(response), ErrorCode::BadRequest);

    let changes = app
        .changes_since(&token, workspace.workspace_id, 0)
        .await
        .unwrap();
    assert!(
        changes.items.is_empty(),
        "nothing was committed: {changes:?}"
    );
    app.client.get_account(&token).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_reply_address_are_consumed_and_the_server_carries_on() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let connection = Connection::connect(&app.settings.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let topology = Topology::new(app.settings.queue_prefix.clone());
    // A commit that nobody waits for still happens: the device may have
    // crashed after sending it, and will find it in its changes.
    let commit = Request {
        request_id: Uuid::new_v4(),
        token: Some(token.clone()),
        trace_id: None,
        operation: Operation::Commit(CommitArgs {
            workspace_id: workspace.workspace_id,
            items: vec![new_file(None, "unanswered.txt", 3, 10)],
        }),
    };
    for (body, properties) in [
        (b"not json".to_vec(), BasicProperties::default()),
        (
            serde_json::to_vec(&commit).unwrap(),
            // A reply address but no correlation id.
            BasicProperties::default().with_reply_to("amq.rabbitmq.reply-to.nobody".into()),
        ),
        (
            serde_json::to_vec(&commit).unwrap(),
            BasicProperties::default(),
        ),
    ] {
        channel
            .basic_publish(
                topology.rpc_exchange().into(),
                REQUEST_ROUTING_KEY.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let changes = app
            .changes_since(&token, workspace.workspace_id, 0)
            .await
            .unwrap();
        if !changes.items.is_empty() {
            assert_eq!(changes.items.len(), 1, "the re-sent commit counted once");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the commit never happened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.client.get_account(&token).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_flooding_device_is_slowed_and_other_users_are_still_served() {
    let (mut settings, database_name) = fresh_settings().await;
    settings.device_requests_per_second = NonZeroU32::new(20).unwrap();
    settings.device_request_burst = NonZeroU32::new(50).unwrap();
    let app = spawn_app_with(settings, database_name).await;
    let (flooder, _) = app.user_with_device("mallory").await;
    let (bob, _) = app.user_with_device("bob").await;

    let started = Instant::now();
    let flood = join_all((0..600).map(|_| app.client.get_account(&flooder)));
    let (results, served) = tokio::join!(flood, app.client.get_account(&bob));
    let elapsed = started.elapsed();
    served.expect("another user's request is served during the flood");

    let mut flood_served = 0;
    for result in results {
        match result {
            Ok(_) => flood_served += 1,
            Err(nimbus_protocol::ClientError::Rpc(refusal)) => {
                assert_eq!(
                    refusal.code,
                    ErrorCode::TooManyRequests,
                    "{}",
                    refusal.message
                );
                assert!(refusal.retry_after_secs.is_some_and(|secs| secs >= 1));
            }
            Err(other) => panic!("the flood broke the server: {other}"),
        }
    }
    // The burst (less the call that looked up the workspace), plus what the
    // bucket refilled while the flood lasted.
    let refilled = 20 * (elapsed.as_secs() as usize + 2);
    assert!(
        (40..=50 + refilled).contains(&flood_served),
        "{flood_served} of 600 served in {elapsed:?}"
    );
    app.client.get_account(&bob).await.unwrap();
    app.stop().await;
}
