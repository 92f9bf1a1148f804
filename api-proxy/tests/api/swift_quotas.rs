//! Container quotas (set by the container's owners) and account quotas (set
//! by the installation's administrators): a write past either is 413 and
//! stores nothing.

use futures::stream;
use reqwest::RequestBuilder;

use crate::helpers::{Session, TestApp, spawn_app};

async fn status(request: RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// A body sent without a length (chunked).
fn chunked(bytes: &'static [u8]) -> reqwest::Body {
    reqwest::Body::wrap_stream(stream::iter([Ok::<_, std::io::Error>(bytes)]))
}

async fn alice_with_container(app: &TestApp) -> Session {
    let alice = app.login_new_user("alice").await;
    assert_eq!(status(alice.request(&app.client, "PUT", "c")).await, 201);
    alice
}

#[tokio::test]
async fn a_container_quota_refuses_uploads_and_copies_past_it() {
    let app = spawn_app().await;
    let alice = alice_with_container(&app).await;
    let c = |method, path| alice.request(&app.client, method, path);

    for value in ["ten", "-1", "1.5"] {
        let bad = c("POST", "c").header("X-Container-Meta-Quota-Bytes", value);
        let response = bad.send().await.unwrap();
        assert_eq!(response.status(), 400, "{value}");
        assert_eq!(response.text().await.unwrap(), "Invalid bytes quota.");
    }
    let bad = c("POST", "c").header("X-Container-Meta-Quota-Count", "many");
    assert_eq!(status(bad).await, 400);
    let head = c("HEAD", "c").send().await.unwrap();
    assert!(!head.headers().contains_key("x-container-meta-quota-bytes"));

    let quota = c("POST", "c").header("X-Container-Meta-Quota-Bytes", "10");
    assert_eq!(status(quota).await, 204);
    assert_eq!(status(c("PUT", "c/six").body("123456")).await, 201);
    let stored = app.stored_bodies().await;

    let over = c("PUT", "c/five").body("12345").send().await.unwrap();
    assert_eq!(over.status(), 413);
    assert_eq!(over.text().await.unwrap(), "Upload exceeds quota.");
    // Without a length, a body may grow to the room left and no further.
    let chunked_over = c("PUT", "c/chunked").body(chunked(b"12345"));
    assert_eq!(status(chunked_over).await, 413);
    let copy = c("PUT", "c/copy")
        .header("X-Copy-From", "c/six")
        .header("Content-Length", "0");
    assert_eq!(status(copy).await, 413);
    let copy = c("COPY", "c/six").header("Destination", "c/copy");
    assert_eq!(status(copy).await, 413);
    assert_eq!(app.stored_bodies().await, stored);
    assert_eq!(status(c("HEAD", "c/five")).await, 404);
    assert_eq!(status(c("HEAD", "c/chunked")).await, 404);

    assert_eq!(status(c("PUT", "c/four").body(chunked(b"1234"))).await, 201);
    // At the quota an empty object still fits; one byte more does not.
    assert_eq!(
        status(c("PUT", "c/empty").header("Content-Length", "0")).await,
        201
    );
    assert_eq!(status(c("PUT", "c/one").body("1")).await, 413);

    // Removing the quota lifts the limit.
    let lifted = c("POST", "c").header("X-Remove-Container-Meta-Quota-Bytes", "x");
    assert_eq!(status(lifted).await, 204);
    assert_eq!(status(c("PUT", "c/one").body("1")).await, 201);
}

#[tokio::test]
async fn a_container_count_quota_counts_objects() {
    let app = spawn_app().await;
    let alice = alice_with_container(&app).await;
    let c = |method, path| alice.request(&app.client, method, path);
    let quota = c("POST", "c").header("X-Container-Meta-Quota-Count", "2");
    assert_eq!(status(quota).await, 204);
    assert_eq!(status(c("PUT", "c/a").body("a")).await, 201);
    assert_eq!(status(c("PUT", "c/b").body("b")).await, 201);
    assert_eq!(status(c("PUT", "c/c").body("c")).await, 413);
    let head = c("HEAD", "c").send().await.unwrap();
    assert_eq!(head.headers()["x-container-meta-quota-count"], "2");
    assert_eq!(head.headers()["x-container-object-count"], "2");
}

#[tokio::test]
async fn only_the_installations_administrators_set_account_quotas() {
    let app = spawn_app().await;
    let alice = alice_with_container(&app).await;
    app.add_admin("root").await;
    let root = app.login("root:root").await;
    let c = |method, path| alice.request(&app.client, method, path);
    let as_root = |headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .post(&alice.storage_url)
            .header("X-Auth-Token", &root.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };

    // The account's own administrator may neither set nor remove them.
    for header in [
        "X-Account-Meta-Quota-Bytes",
        "X-Account-Quota-Bytes",
        "X-Account-Quota-Count",
        "X-Account-Quota-Bytes-Policy-default",
        "X-Remove-Account-Meta-Quota-Bytes",
        "X-Remove-Account-Quota-Bytes",
    ] {
        let attempt = c("POST", "").header(header, "0");
        assert_eq!(status(attempt).await, 403, "{header}");
    }
    let anonymous = app
        .client
        .post(&alice.storage_url)
        .header("X-Account-Quota-Bytes", "0");
    assert_eq!(status(anonymous).await, 401);
    // Nor may the installation's administrator change anything else.
    assert_eq!(
        status(as_root(&[("X-Account-Meta-Color", "red")])).await,
        403
    );
    assert_eq!(
        status(as_root(&[("X-Account-Quota-Bytes", "lots")])).await,
        400
    );

    // The legacy spelling, as Swift's older clients send it.
    assert_eq!(
        status(as_root(&[("X-Account-Meta-Quota-Bytes", "10")])).await,
        204
    );
    let head = c("HEAD", "").send().await.unwrap();
    assert_eq!(head.headers()["x-account-quota-bytes"], "10");
    assert!(!head.headers().contains_key("x-account-meta-quota-bytes"));

    assert_eq!(status(c("PUT", "c/six").body("123456")).await, 201);
    let stored = app.stored_bodies().await;
    assert_eq!(status(c("PUT", "c/five").body("12345")).await, 413);
    assert_eq!(
        status(c("PUT", "c/chunked").body(chunked(b"12345"))).await,
        413
    );
    // Every container of the account counts.
    assert_eq!(status(c("PUT", "other")).await, 201);
    let copy = c("COPY", "c/six").header("Destination", "other/six");
    assert_eq!(status(copy).await, 413);
    let manifest = r#"[{"path": "/c/six", "etag": null, "size_bytes": 6}]"#;
    let slo = c("PUT", "other/slo?multipart-manifest=put").body(manifest);
    assert_eq!(status(slo).await, 413);
    assert_eq!(app.stored_bodies().await, stored);

    // A count quota, then both removed.
    assert_eq!(
        status(as_root(&[
            ("X-Remove-Account-Quota-Bytes", "x"),
            ("X-Account-Quota-Count", "1"),
        ]))
        .await,
        204
    );
    let head = c("HEAD", "").send().await.unwrap();
    assert!(!head.headers().contains_key("x-account-quota-bytes"));
    assert_eq!(head.headers()["x-account-quota-count"], "1");
    assert_eq!(status(c("PUT", "other/small").body("1")).await, 413);
    assert_eq!(status(as_root(&[("X-Account-Quota-Count", "")])).await, 204);
    assert_eq!(status(c("PUT", "other/small").body("1")).await, 201);
}
