//! Every request body has a size limit, enforced before it is read whole:
//! Swift objects (5 GiB + 2, Swift's), REST API JSON bodies and the OAuth
//! handshake's bodies (256 KiB), the web UI's and the OAuth authorize
//! page's forms (16 KiB). A refused body changes nothing.

use tokio::io::AsyncWriteExt;

use crate::helpers::{raw_answer, raw_connect, raw_head, spawn_app};
use crate::oauth::{Signing, api_request, grant, root_listing};

/// 256 KiB, actix-web's limit for a body read whole, and a byte.
const OVER_BYTES_LIMIT: usize = 256 * 1024 + 1;
/// 16 KiB, actix-web's limit for a form, and a byte.
const OVER_FORM_LIMIT: usize = 16 * 1024 + 1;

fn form_of(len: usize) -> String {
    format!("username=alice&password={}", "p".repeat(len))
}

#[tokio::test]
async fn a_swift_object_over_5_gib_is_refused_before_its_body_is_sent() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let created = alice.request(&app.client, "PUT", "c").send().await.unwrap();
    assert_eq!(created.status(), 201);
    let put = alice.request(&app.client, "PUT", "c/huge").build().unwrap();
    let mut stream = raw_connect(&app).await;
    // The head alone: the answer comes without a byte of the body.
    let over = 5 * 1024 * 1024 * 1024 + 3;
    stream.write_all(&raw_head(&put, over)).await.unwrap();
    let answer = raw_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let get = alice
        .request(&app.client, "GET", "c/huge")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
}

#[tokio::test]
async fn rest_json_and_oauth_bodies_over_their_limits_are_413() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    let before = root_listing(&app, &alice).await;

    let name = "n".repeat(OVER_BYTES_LIMIT);
    let folder = api_request(&app, &alice, "POST", "/v1/folder", &[], &Signing::default())
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"name": "{name}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(folder.status(), 413);
    assert_eq!(root_listing(&app, &alice).await, before);

    let handshake = app
        .client
        .post(format!("{}/oauth/request_token", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_of(OVER_BYTES_LIMIT))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 413);
}

#[tokio::test]
async fn forms_over_16_kib_are_413() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    for path in ["/signin", "/oauth/authorize"] {
        let answer = app
            .client
            .post(format!("{}{path}", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_of(OVER_FORM_LIMIT))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413, "{path}");
    }
}
