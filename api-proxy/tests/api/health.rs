//! `/healthz`, `/readyz` and `/metrics` of the proxy: readiness that names
//! the dependency that is gone (its own index database, its broker
//! connection; never the shared services), and metrics
//! that move with real requests, labelled by route, never by path.

use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::helpers::{TestApp, amqp, postgres, spawn_app, spawn_app_with};
use crate::probes::{BrokerRelay, metric, readiness_when};

const ALL_OK: &str = "ok";

fn readiness(database: &str, broker: &str, object_store: &str) -> serde_json::Value {
    let ready = [database, broker, object_store]
        .iter()
        .all(|c| *c == ALL_OK);
    json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {"database": database, "broker": broker, "object_store": object_store},
    })
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn probes_answer_and_metrics_count_real_requests_by_route() {
    let app = spawn_app().await;
    let healthz = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    assert_eq!(
        readiness_when(&app.address, 200).await,
        readiness("ok", "ok", "ok")
    );

    let session = app.login_new_user("ada").await;
    let put = |url: String, body: Vec<u8>| {
        app.client
            .put(url)
            .header("X-Auth-Token", &session.token)
            .body(body)
            .send()
    };
    let container = format!("{}/holiday-photos", session.storage_url);
    assert_eq!(
        put(container.clone(), Vec::new()).await.unwrap().status(),
        201
    );
    // Past the inline limit, so the bytes go through the object store.
    let body = vec![7u8; 40_000];
    let object = format!("{container}/beach.jpg");
    assert_eq!(
        put(object.clone(), body.clone()).await.unwrap().status(),
        201
    );
    let read = app
        .client
        .get(&object)
        .header("X-Auth-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.unwrap().len(), body.len());

    let text = metrics_text(&app).await;
    let requests = |route, method, status| {
        metric(
            &text,
            "nimbus_proxy_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("swift:container", "PUT", "201"), 1.0, "{text}");
    assert_eq!(requests("swift:object", "PUT", "201"), 1.0);
    assert_eq!(requests("swift:object", "GET", "200"), 1.0);
    assert_eq!(requests("/auth/v1.0", "GET", "200"), 1.0);
    assert!(requests("/readyz", "GET", "200") >= 1.0);
    let object_bytes = |name, method| {
        metric(
            &text,
            name,
            &[("route", "swift:object"), ("method", method)],
        )
    };
    assert_eq!(
        object_bytes("nimbus_proxy_http_received_bytes_total", "PUT"),
        40_000.0
    );
    assert_eq!(
        object_bytes("nimbus_proxy_http_sent_bytes_total", "GET"),
        40_000.0
    );
    assert_eq!(
        object_bytes("nimbus_proxy_http_request_duration_seconds_count", "GET"),
        1.0
    );
    for private in [
        "holiday-photos",
        "beach.jpg",
        "AUTH_ada",
        session.token.as_str(),
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }
}

#[tokio::test]
async fn readyz_names_the_database_when_it_is_gone() {
    let app = spawn_app().await;
    readiness_when(&app.address, 200).await;
    // The proxy's own index database goes away.
    let database = app.settings.database_url.rsplit('/').next().unwrap();
    let mut admin = PgConnection::connect(&format!("{}/postgres", postgres()))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"DROP DATABASE "{database}" WITH (FORCE)"#
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let body = readiness_when(&app.address, 503).await;
    assert_eq!(body, readiness("unavailable", "ok", "ok"));
    let healthz = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200, "alive, though not ready");
}

#[tokio::test]
async fn readyz_names_the_broker_when_the_connection_is_lost() {
    let relay = BrokerRelay::start(&amqp()).await;
    let relayed = relay.url.clone();
    let app = spawn_app_with(|settings| settings.amqp_url = relayed).await;
    readiness_when(&app.address, 200).await;
    relay.cut().await;
    let body = readiness_when(&app.address, 503).await;
    assert_eq!(body, readiness("ok", "unavailable", "ok"));
    let text = body.to_string();
    assert!(!text.contains("guest") && !text.contains("amqp"), "{text}");
}
