//! The index's PostgreSQL going away under a request (a restart, a
//! failover): the request is answered `503 Service Unavailable` with
//! `Retry-After`, as Swift answers while a backend is away, not `500`, and
//! changes nothing.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::helpers::{device, spawn_app};

#[tokio::test]
async fn a_statement_cut_by_a_database_shutdown_is_answered_503_with_retry_after() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let container = format!("{}/plain", laptop.storage_url);
    let object = format!("{container}/notes.txt");
    let put = |url: &str, body: &'static str| {
        app.client
            .put(url)
            .header("X-Auth-Token", &laptop.swift_token)
            .body(body)
            .send()
    };
    assert_eq!(put(&container, "").await.unwrap().status(), 201);
    assert_eq!(put(&object, "before").await.unwrap().status(), 201);

    // Hold the object's row, so that an overwrite waits in its statement.
    let mut holder = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM objects WHERE name = 'notes.txt' FOR UPDATE")
        .execute(&mut *held)
        .await
        .unwrap();
    let overwrite = tokio::spawn(put(&object, "after"));
    // Then end the proxy's backend as a shutdown does (57P01).
    let mut admin = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    let started = Instant::now();
    let waiting: Vec<i32> = loop {
        let waiting: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        if !waiting.is_empty() {
            break waiting;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the overwrite never waited for the row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for pid in waiting {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut admin)
            .await
            .unwrap();
    }

    let answer = overwrite.await.unwrap().unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "5");
    held.rollback().await.unwrap();
    let read = app
        .client
        .get(&object)
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.text().await.unwrap(), "before");
}
