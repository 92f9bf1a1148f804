//! One id from an HTTP request through its RPCs into the logs: the web
//! sign-in's request span in the proxy and the metadata server's span of the
//! `login` it makes carry the same id, the one the response echoes.

use std::time::{Duration, Instant};

use nimbus_server::test_log::process_log;
use uuid::Uuid;

use crate::browser::{Browser, value_of, with_form};
use crate::helpers::{PASSWORD, spawn_app};

/// The lines of this process's test log holding `trace_id=<id>`, once one
/// is from the proxy's request span and one from a server's RPC span: the
/// server logs its span after it has answered, so the lines may lag.
async fn proxy_and_server_lines(id: &str) -> (String, String) {
    let log = process_log().expect(
        "NIMBUS_TEST_LOG_DIR names the directory tests log to (scripts/test.sh sets it; \
         so does /tmp/testenv.sh)",
    );
    let field = format!("trace_id={id}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let line_of = |span: &str| {
            text.lines()
                .find(|line| line.contains(span) && line.contains(&field))
                .map(str::to_owned)
        };
        if let (Some(proxy), Some(server)) = (line_of("HTTP request{"), line_of("rpc{")) {
            return (proxy, server);
        }
        assert!(
            Instant::now() < deadline,
            "no proxy and server lines with {field} in {}: RUST_LOG must enable info for \
             nimbus_proxy and nimbus_server",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_web_sign_in_and_its_rpc_log_the_id_the_response_echoes() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/signin").await.text().await.unwrap();
    let nonce = value_of(&form, "name=\"nonce\" value=\"");
    let id = format!("test-{}", Uuid::new_v4().simple());
    let request = browser
        .client
        .post(format!("{}/signin", app.address))
        .header("X-Request-Id", &id);
    let form = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("nonce", nonce.as_str()),
        ("next", "/"),
    ];
    let response = browser.send(with_form(request, &form)).await;
    assert_eq!(response.status(), 303, "signed in");
    for header in ["x-request-id", "x-trans-id", "x-openstack-request-id"] {
        assert_eq!(response.headers()[header], id.as_str(), "{header}");
    }

    let (proxy, server) = proxy_and_server_lines(&id).await;
    assert!(proxy.contains("/signin"), "{proxy}");
    assert!(server.contains("login"), "{server}");
}

#[tokio::test]
async fn an_unfit_request_id_is_replaced_by_a_fresh_one() {
    let app = spawn_app().await;
    let long = "x".repeat(200);
    for unfit in ["two words", "semi;colon", long.as_str()] {
        let response = app
            .client
            .get(format!("{}/healthz", app.address))
            .header("X-Request-Id", unfit)
            .send()
            .await
            .unwrap();
        let given = response.headers()["x-request-id"].to_str().unwrap();
        assert!(given.starts_with("tx") && given != unfit, "{given}");
        assert_eq!(response.headers()["x-trans-id"], given);
    }
}
