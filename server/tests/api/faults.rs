//! Faults: garbage on the queue, several servers, servers killed or stopped
//! mid-stream, and lost broker and database connections.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::future::join_all;
use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use nimbus_protocol::RpcClient;
use nimbus_protocol::Topology;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::{CommitArgs, ErrorCode, ItemOutcome, Response};
use nimbus_server::Settings;
use sqlx::{Connection as _, Executor, PgConnection};
use uuid::Uuid;

use crate::helpers::{
    PASSWORD, fresh_settings, login_args, new_file, postgres_url, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn garbage_is_dead_lettered_and_the_server_keeps_answering() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_device("alice").await;
    for garbage in [
        &b"\xff\xfe not json"[..],
        br#"{"request_id":"00000000-0000-0000-0000-000000000001","op":"formatDisk"}"#,
        br#"{"op":"getAccount"}"#,
    ] {
        match app.client.call_raw(garbage).await.unwrap() {
            Response::Error(error) => assert_eq!(error.code, ErrorCode::BadRequest),
            Response::Ok(body) => panic!("garbage was answered with {body}"),
        }
    }
    app.client.get_account(&token).await.unwrap();

    let connection = Connection::connect(&app.settings.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let dead_queue = Topology::new(app.settings.queue_prefix.clone()).dead_letter_queue();
    let mut dead = Vec::new();
    while let Some(message) = channel
        .basic_get(dead_queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        dead.push(message.delivery.data.clone());
    }
    assert_eq!(
        dead.len(),
        3,
        "every unparseable request is kept for inspection"
    );
    assert_eq!(dead[0], b"\xff\xfe not json");
    app.stop().await;
}

#[tokio::test]
async fn two_servers_share_the_load() {
    let first = spawn_app().await;
    let second = spawn_app_with(first.settings.clone(), first.database_name.clone()).await;
    let (token, _) = first.user_with_device("alice").await;
    let calls = (0..200).map(|_| first.client.get_account(&token));
    for result in join_all(calls).await {
        result.unwrap();
    }
    let (a, b) = (first.requests_handled(), second.requests_handled());
    assert!(a + b >= 201, "{a} + {b}");
    assert!(a > 20 && b > 20, "both servers took requests: {a} and {b}");
    let mut second = second;
    second.stop_server().await;
    first.stop().await;
}

fn spawn_server_process(settings: &Settings) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nimbus-server"))
        .arg("serve")
        .env("NIMBUS_DATABASE_URL", &settings.database_url)
        .env("NIMBUS_AMQP_URL", &settings.amqp_url)
        .env("NIMBUS_QUEUE_PREFIX", &settings.queue_prefix)
        .env("NIMBUS_IDLE_QUEUE_EXPIRY_SECS", "120")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nimbus-server")
}

/// 150 commits of 4 files each in flight, a server process that goes away
/// after a few of them, and a second server that takes over.
async fn commits_survive(stop: impl FnOnce(&mut Child)) {
    let (settings, database_name) = fresh_settings().await;
    let mut process = spawn_server_process(&settings);
    let client = RpcClient::connect(
        &settings.amqp_url,
        Topology::new(settings.queue_prefix.clone()),
        ClientOptions {
            timeout: Duration::from_secs(3),
            attempts: 8,
        },
    )
    .await
    .unwrap();
    let store = nimbus_server::startup::connect_store(&settings)
        .await
        .unwrap();
    nimbus_server::admin::add_user(
        store.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        nimbus_server::admin::AddUser {
            username: "alice".into(),
            password: PASSWORD.into(),
            email: None,
            quota_bytes: 1 << 30,
            is_admin: false,
            account: None,
            account_admin: true,
        },
    )
    .await
    .unwrap();
    let token = client
        .login(login_args("alice", PASSWORD, "laptop"))
        .await
        .unwrap()
        .token;
    let workspace = client.get_workspaces(&token).await.unwrap().remove(0);

    let commits: Vec<_> = (0..150)
        .map(|i| {
            let client = client.clone();
            let token = token.clone();
            let args = CommitArgs {
                workspace_id: workspace.workspace_id,
                items: (0..4)
                    .map(|j| new_file(None, &format!("{i}-{j}"), 1, 10))
                    .collect(),
            };
            tokio::spawn(async move { client.commit(&token, Uuid::new_v4(), args).await })
        })
        .collect();
    // Let the first server get some way into the stream (bounded, so that a
    // server that never starts fails the test instead of hanging it).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the first server committed nothing in 120 s"
        );
        let revision = store.workspaces_of(workspace.owner_id).await.unwrap()[0].revision;
        if revision >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(&mut process);
    let takeover = spawn_app_with(settings.clone(), database_name.clone()).await;

    for commit in commits {
        let reply = commit.await.unwrap().expect("every commit is answered");
        assert!(
            reply
                .results
                .iter()
                .all(|r| matches!(r.outcome, ItemOutcome::Committed { version: 1, .. }))
        );
    }
    let workspace = store
        .workspaces_of(workspace.owner_id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(workspace.revision, 150, "each commit applied exactly once");
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut PgConnection::connect(&settings.database_url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(items, 600);
    let _ = process.wait();
    takeover.stop().await;
}

#[tokio::test]
async fn a_server_killed_mid_stream_loses_no_request() {
    commits_survive(|process| process.kill().expect("SIGKILL the server")).await;
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_then_exits() {
    commits_survive(|process| {
        let status = Command::new("kill")
            .args(["-TERM", &process.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = process.wait().expect("the server exits");
        assert!(exit.success(), "a graceful stop exits with 0, got {exit}");
    })
    .await;
}

/// Closes this test server's AMQP connection the way a broker restart would.
fn close_broker_connection(queue_prefix: &str) {
    let listing = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl is installed with rabbitmq-server");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let pid = listing
        .lines()
        .find(|line| line.contains(&format!("nimbus-server {queue_prefix}")))
        .and_then(|line| line.split_whitespace().next())
        .expect("the server's connection is listed")
        .to_owned();
    let status = Command::new("rabbitmqctl")
        .args([
            "-q",
            "close_connection",
            &pid,
            "test: simulated broker restart",
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_server_reconnects_after_losing_the_broker() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_device("alice").await;
    close_broker_connection(&app.settings.queue_prefix);
    for _ in 0..5 {
        app.client
            .get_account(&token)
            .await
            .expect("answered after reconnecting");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_server_survives_losing_its_database_connections() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let mut admin = PgConnection::connect(&postgres_url()).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            app.database_name
        )))
        .await
        .unwrap();
    let reply = app
        .commit(&token, &workspace, vec![new_file(None, "after.txt", 1, 10)])
        .await;
    assert!(matches!(
        reply.results[0].outcome,
        ItemOutcome::Committed { .. }
    ));
    app.stop().await;
}
