//! The optional HTTP listener (`metrics_listen`): `/healthz`, `/readyz`
//! that tells the truth about the database and the broker, and `/metrics`
//! that moves with real requests.

use nimbus_protocol::rpc::{CommitArgs, ErrorCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    PASSWORD, TestApp, drop_database, fresh_settings, login_args, new_file, new_folder,
    spawn_app_with,
};
use crate::probes::{BrokerRelay, metric, readiness_when};

/// A server with the listener on a free port, and the listener's base URL.
async fn spawn_listening(amqp_url: Option<&str>) -> (TestApp, String) {
    let (mut settings, database_name) = fresh_settings().await;
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    if let Some(url) = amqp_url {
        settings.amqp_url = url.to_owned();
    }
    let app = spawn_app_with(settings, database_name).await;
    let base = format!("http://127.0.0.1:{}", app.status_port.expect("listening"));
    (app, base)
}

async fn metrics_text(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_listener_is_off_unless_configured() {
    let (settings, database_name) = fresh_settings().await;
    let app = spawn_app_with(settings, database_name).await;
    assert_eq!(app.status_port, None);
    app.stop().await;
}

#[tokio::test]
async fn probes_tell_the_truth_and_metrics_count_real_requests() {
    let (app, base) = spawn_listening(None).await;
    let healthz = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200);
    assert_eq!(
        readiness_when(&base, 200).await,
        json!({"status": "ready", "checks": {"broker": "ok", "database": "ok"}})
    );

    let (token, workspace) = app.user_with_device("alice").await;
    let wrong = app
        .client
        .login(login_args("alice", "not the password", "laptop"))
        .await;
    assert_eq!(
        wrong.unwrap_err().rpc_code(),
        Some(ErrorCode::InvalidCredentials)
    );
    let folder = new_folder(None, "photos");
    let file = new_file(Some(folder.id), "cat.jpg", 1, 100);
    let args = CommitArgs {
        workspace_id: workspace.workspace_id,
        items: vec![folder, file],
    };
    let request_id = Uuid::new_v4();
    app.client
        .commit(&token, request_id, args.clone())
        .await
        .unwrap();
    // Re-sent: answered from the first result, no items counted again.
    app.client.commit(&token, request_id, args).await.unwrap();

    let text = metrics_text(&base).await;
    let requests = |operation, outcome| {
        metric(
            &text,
            "nimbus_server_rpc_requests_total",
            &[("operation", operation), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("commit", "ok"), 2.0, "{text}");
    assert_eq!(requests("login", "ok"), 1.0);
    assert_eq!(requests("login", "invalid_credentials"), 1.0);
    assert_eq!(
        metric(
            &text,
            "nimbus_server_rpc_duration_seconds_count",
            &[("operation", "commit")]
        ),
        2.0
    );
    let commits = |result| metric(&text, "nimbus_server_commits_total", &[("result", result)]);
    assert_eq!((commits("written"), commits("replayed")), (1.0, 1.0));
    assert_eq!(
        metric(
            &text,
            "nimbus_server_commit_items_total",
            &[("outcome", "committed")]
        ),
        2.0
    );
    // Labels are operation names and codes, never ids or names.
    for private in [
        workspace.workspace_id.to_string(),
        request_id.to_string(),
        "alice".to_owned(),
        PASSWORD.to_owned(),
    ] {
        assert!(!text.contains(&private), "{private} in {text}");
    }

    // The server's own database goes away: /readyz says so, and only that.
    drop_database(&app.database_name).await;
    assert_eq!(
        readiness_when(&base, 503).await,
        json!({"status": "unavailable", "checks": {"broker": "ok", "database": "unavailable"}})
    );
    let healthz = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200, "alive, though not ready");
    app.stop().await;
}

#[tokio::test]
async fn readyz_names_the_broker_when_the_connection_is_lost() {
    let relay = BrokerRelay::start(&crate::helpers::amqp_url()).await;
    let (app, base) = spawn_listening(Some(&relay.url)).await;
    readiness_when(&base, 200).await;
    relay.cut().await;
    let body = readiness_when(&base, 503).await;
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"broker": "unavailable", "database": "ok"}})
    );
    app.stop().await;
}
