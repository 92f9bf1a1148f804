//! Slow clients are cut off: headers that take longer than
//! `header_timeout_secs`, and bodies that go quiet for
//! `body_idle_timeout_secs`, are answered 408 (or the connection closed),
//! and an upload cut off that way stores nothing. The clients are raw TCP
//! connections, slow on purpose.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    Session, TestApp, files_under, raw_answer, raw_connect, raw_head, spawn_app_with,
};
use crate::oauth::{Signing, api_request, grant, root_listing};

/// A proxy with short timeouts, so that the tests need not wait long.
async fn impatient_proxy() -> TestApp {
    spawn_app_with(|settings| {
        settings.header_timeout_secs = 1;
        settings.body_idle_timeout_secs = 1;
    })
    .await
}

/// Sends the head and the first `sent` bytes of a `length`-byte body, then
/// stalls; returns the proxy's answer.
async fn stall_after(
    app: &TestApp,
    request: reqwest::Request,
    length: usize,
    sent: usize,
) -> String {
    let mut stream = raw_connect(app).await;
    stream.write_all(&raw_head(&request, length)).await.unwrap();
    stream.write_all(&vec![b'x'; sent]).await.unwrap();
    raw_answer(&mut stream).await
}

fn swift_put(app: &TestApp, session: &Session, path: &str) -> reqwest::Request {
    session.request(&app.client, "PUT", path).build().unwrap()
}

#[tokio::test]
async fn headers_sent_too_slowly_are_cut_off() {
    let app = impatient_proxy().await;
    let mut stream = raw_connect(&app).await;
    stream
        .write_all(b"GET /info HTTP/1.1\r\nHost: nimbus\r\n")
        .await
        .unwrap();
    // A header line every 300 ms: steady, but the head never ends.
    let (mut reader, mut writer) = stream.into_split();
    let dribble = tokio::spawn(async move {
        let mut lines = 0u32;
        while writer.write_all(b"X-Slow: a\r\n").await.is_ok() {
            lines += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        lines
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(120), reader.read_to_end(&mut answer));
    let _ = closed.await.expect("the proxy closes the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        !answer.contains("\"swift\""),
        "no request was served: {answer}"
    );
    dribble.abort();
}

#[tokio::test]
async fn a_swift_upload_that_stalls_is_answered_408_and_stores_nothing() {
    let app = impatient_proxy().await;
    let alice = app.login_new_user("alice").await;
    let created = alice.request(&app.client, "PUT", "c").send().await.unwrap();
    assert_eq!(created.status(), 201);

    // One body small enough for the index row, one that streams to a blob.
    for (object, length, sent) in [("small", 1000, 10), ("large", 1 << 20, 64 << 10)] {
        let put = swift_put(&app, &alice, &format!("c/{object}"));
        let answer = stall_after(&app, put, length, sent).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{object}: {answer}");
        let get = alice
            .request(&app.client, "GET", &format!("c/{object}"))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 404, "{object}");
    }
    let container = alice
        .request(&app.client, "HEAD", "c")
        .send()
        .await
        .unwrap();
    assert_eq!(container.headers()["x-container-object-count"], "0");
    assert_eq!(app.stored_bodies().await, 0);
    // Not even a partial upload is left in the store's temporary directory.
    assert_eq!(files_under(app.objects_dir.path()), Vec::<String>::new());

    // A body that keeps coming is stored as usual.
    let kept = alice
        .request(&app.client, "PUT", "c/kept")
        .body(vec![b'k'; 64 << 10])
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 201);
}

#[tokio::test]
async fn a_rest_upload_that_stalls_is_answered_408_and_creates_no_file() {
    let app = impatient_proxy().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    let upload = api_request(
        &app,
        &alice,
        "POST",
        "/v1/file",
        &[("name", "stalled.bin"), ("parent", "0")],
        &Signing::default(),
    )
    .build()
    .unwrap();
    let answer = stall_after(&app, upload, 1 << 20, 10 << 10).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    let listing = root_listing(&app, &alice).await;
    assert!(!listing.to_string().contains("stalled.bin"), "{listing}");
    assert_eq!(app.stored_bodies().await, 0);
}
