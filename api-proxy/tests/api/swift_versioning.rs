//! Object versioning (Swift's `versioned_writes`): `X-Versions-Location`
//! (stack mode) and `X-History-Location` (history mode), through
//! python-swiftclient and plain HTTP.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::clients::run;
use crate::helpers::{PASSWORD, Session, TestApp, noise, spawn_app};

const DELETE_MARKER: &str = "application/x-deleted;swift_versions_deleted=1";

async fn status(request: RequestBuilder) -> StatusCode {
    request.send().await.unwrap().status()
}

async fn body(session: &Session, app: &TestApp, path: &str) -> Vec<u8> {
    let response = session
        .request(&app.client, "GET", path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.bytes().await.unwrap().to_vec()
}

/// The objects of `container`, oldest name first, as (name, content type).
async fn listing(session: &Session, app: &TestApp, container: &str) -> Vec<(String, String)> {
    let response = session
        .request(&app.client, "GET", &format!("{container}?format=json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "listing of {container}");
    let entries: Vec<Value> = response.json().await.unwrap();
    entries
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["content_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Creates `container`, with `headers`.
async fn create(session: &Session, app: &TestApp, container: &str, headers: &[(&str, &str)]) {
    let mut request = session.request(&app.client, "PUT", container);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    assert!(status(request).await.is_success(), "PUT {container}");
}

/// `swift` (python-swiftclient) as alice, in `dir`.
async fn swift(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> String {
    let auth_url = format!("{}/auth/v1.0", app.address);
    let mut all = vec!["-A", auth_url.as_str(), "-U", "alice:alice", "-K", PASSWORD];
    all.extend_from_slice(args);
    run("swift", &all, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_overwrites_are_archived_and_deletes_bring_them_back() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    swift(&app, dir.path(), &["post", "archive"]).await;
    swift(
        &app,
        dir.path(),
        &["post", "-H", "X-Versions-Location: archive", "docs"],
    )
    .await;
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    assert_eq!(head.unwrap().headers()["x-versions-location"], "archive");

    // Three versions, too large to live in the index row: each a blob.
    let versions: Vec<Vec<u8>> = (0..3).map(|seed| noise(100_000, seed)).collect();
    for version in &versions {
        std::fs::write(dir.path().join("note.bin"), version).unwrap();
        swift(&app, dir.path(), &["upload", "docs", "note.bin"]).await;
    }
    assert_eq!(body(&alice, &app, "docs/note.bin").await, versions[2]);
    let archived = swift(&app, dir.path(), &["list", "archive"]).await;
    let archived: Vec<&str> = archived.lines().collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(archived.iter().all(|name| name.starts_with("008note.bin/")));
    assert_eq!(
        body(&alice, &app, &format!("archive/{}", archived[0])).await,
        versions[0]
    );
    assert_eq!(
        body(&alice, &app, &format!("archive/{}", archived[1])).await,
        versions[1]
    );
    // Archiving moved the bytes: three versions, three stored bodies.
    assert_eq!(app.stored_bodies().await, 3);

    // Each delete brings the version before back, newest first.
    for expected in [&versions[1], &versions[0]] {
        swift(&app, dir.path(), &["delete", "docs", "note.bin"]).await;
        assert_eq!(&body(&alice, &app, "docs/note.bin").await, expected);
    }
    assert_eq!(swift(&app, dir.path(), &["list", "archive"]).await, "");
    assert_eq!(app.stored_bodies().await, 1);
    swift(&app, dir.path(), &["delete", "docs", "note.bin"]).await;
    let get = alice.request(&app.client, "GET", "docs/note.bin");
    assert_eq!(status(get).await, 404);
    let delete = alice.request(&app.client, "DELETE", "docs/note.bin");
    assert_eq!(status(delete).await, 404);
    assert_eq!(app.stored_bodies().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_mode_archives_deleted_objects_behind_delete_markers() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    create(&alice, &app, "history", &[]).await;
    create(&alice, &app, "docs", &[("X-History-Location", "history")]).await;
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    let head = head.unwrap();
    assert_eq!(head.headers()["x-history-location"], "history");
    assert!(!head.headers().contains_key("x-versions-location"));

    let put = |text: &'static str| {
        alice
            .request(&app.client, "PUT", "docs/a.txt")
            .header("Content-Type", "text/plain")
            .body(text)
    };
    assert_eq!(status(put("one")).await, 201);
    assert_eq!(status(put("two")).await, 201);
    let delete = || alice.request(&app.client, "DELETE", "docs/a.txt");
    assert_eq!(status(delete()).await, 204);
    assert_eq!(
        status(alice.request(&app.client, "GET", "docs/a.txt")).await,
        404
    );
    // A delete of what is gone still leaves a marker, and answers 404.
    assert_eq!(status(delete()).await, 404);
    let archived = listing(&alice, &app, "history").await;
    let types: Vec<&str> = archived.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        ["text/plain", "text/plain", DELETE_MARKER, DELETE_MARKER]
    );
    assert!(
        archived
            .iter()
            .all(|(name, _)| name.starts_with("005a.txt/"))
    );
    assert_eq!(
        body(&alice, &app, &format!("history/{}", archived[1].0)).await,
        b"two"
    );
    assert_eq!(
        body(&alice, &app, &format!("history/{}", archived[2].0)).await,
        b""
    );

    // Stack mode over the same archive: a DELETE first removes the markers,
    // then brings the newest version back.
    let post = alice
        .request(&app.client, "POST", "docs")
        .header("X-Versions-Location", "history");
    assert_eq!(status(post).await, 204);
    assert_eq!(status(delete()).await, 204);
    assert_eq!(status(delete()).await, 204);
    assert_eq!(body(&alice, &app, "docs/a.txt").await, b"two");
    let left = listing(&alice, &app, "history").await;
    assert_eq!(left, archived[..1]);

    // Turning versioning off: a DELETE is a plain one again.
    let off = alice
        .request(&app.client, "POST", "docs")
        .header("X-Remove-Versions-Location", "x");
    assert_eq!(status(off).await, 204);
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    assert!(!head.unwrap().headers().contains_key("x-versions-location"));
    assert_eq!(status(delete()).await, 204);
    assert_eq!(status(delete()).await, 404);
    assert_eq!(listing(&alice, &app, "history").await, archived[..1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_who_may_not_write_the_container_change_nothing() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let bob = app.login_new_user("bob").await;
    let bob = Session {
        token: bob.token,
        storage_url: alice.storage_url.clone(),
    };
    create(&alice, &app, "archive", &[]).await;
    create(
        &alice,
        &app,
        "docs",
        &[
            ("X-Versions-Location", "archive"),
            ("X-Container-Read", "bob:bob"),
        ],
    )
    .await;
    let put = |session: &Session, text: &'static str| {
        session.request(&app.client, "PUT", "docs/a.txt").body(text)
    };
    assert_eq!(status(put(&alice, "one")).await, 201);

    // Bob may read docs, not write it: his writes change nothing.
    assert_eq!(status(put(&bob, "bob's")).await, 403);
    assert_eq!(
        status(bob.request(&app.client, "DELETE", "docs/a.txt")).await,
        403
    );
    let copy = bob
        .request(&app.client, "PUT", "docs/a.txt")
        .header("X-Copy-From", "docs/a.txt");
    assert_eq!(status(copy).await, 403);
    assert_eq!(body(&alice, &app, "docs/a.txt").await, b"one");
    assert!(listing(&alice, &app, "archive").await.is_empty());
    // Nor may he set where versions go, or stop versioning.
    for header in ["X-Versions-Location", "X-Remove-Versions-Location"] {
        let post = bob
            .request(&app.client, "POST", "docs")
            .header(header, "docs");
        assert_eq!(status(post).await, 403, "{header}");
    }
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    assert_eq!(head.unwrap().headers()["x-versions-location"], "archive");

    // Allowed to write docs (not the archive), his overwrite is archived
    // as in Swift, where he cannot read it.
    let grant = alice
        .request(&app.client, "POST", "docs")
        .header("X-Container-Write", "bob:bob");
    assert_eq!(status(grant).await, 204);
    assert_eq!(status(put(&bob, "bob's")).await, 201);
    let archived = listing(&alice, &app, "archive").await;
    assert_eq!(archived.len(), 1);
    let archived = format!("archive/{}", archived[0].0);
    assert_eq!(body(&alice, &app, &archived).await, b"one");
    assert_eq!(
        status(bob.request(&app.client, "GET", &archived)).await,
        403
    );
    assert_eq!(
        status(bob.request(&app.client, "DELETE", &archived)).await,
        403
    );
    // His DELETE brings alice's version back.
    assert_eq!(
        status(bob.request(&app.client, "DELETE", "docs/a.txt")).await,
        204
    );
    assert_eq!(body(&alice, &app, "docs/a.txt").await, b"one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_versions_container_refuses_overwrites_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    create(&alice, &app, "docs", &[("X-History-Location", "nowhere")]).await;
    let big = noise(100_000, 1);
    let put = |data: Vec<u8>| alice.request(&app.client, "PUT", "docs/a.bin").body(data);
    // Nothing to archive yet: the first write passes, as in Swift.
    assert_eq!(status(put(big.clone())).await, 201);
    let stored = app.stored_bodies().await;
    assert_eq!(status(put(noise(100_000, 2))).await, 412);
    let copy = alice
        .request(&app.client, "COPY", "docs/a.bin")
        .header("Destination", "docs/a.bin");
    assert_eq!(status(copy).await, 412);
    assert_eq!(
        status(alice.request(&app.client, "DELETE", "docs/a.bin")).await,
        412
    );
    assert_eq!(body(&alice, &app, "docs/a.bin").await, big);
    assert_eq!(app.stored_bodies().await, stored);

    // Once the versions container exists, the same overwrite is archived.
    create(&alice, &app, "nowhere", &[]).await;
    assert_eq!(status(put(noise(100_000, 2))).await, 201);
    let archived = listing(&alice, &app, "nowhere").await;
    assert_eq!(archived.len(), 1);
    assert_eq!(
        body(&alice, &app, &format!("nowhere/{}", archived[0].0)).await,
        big
    );

    // Bad locations change nothing.
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut request = alice.request(&app.client, "POST", "docs");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    let both = [("X-Versions-Location", "a"), ("X-History-Location", "b")];
    assert_eq!(status(post(&both)).await, 400);
    assert_eq!(status(post(&[("X-Versions-Location", "a/b")])).await, 412);
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    assert_eq!(head.unwrap().headers()["x-history-location"], "nowhere");
    // One of the two empty: the other one counts.
    let switch = [
        ("X-Versions-Location", "nowhere"),
        ("X-History-Location", ""),
    ];
    assert_eq!(status(post(&switch)).await, 204);
    let head = alice.request(&app.client, "HEAD", "docs").send().await;
    assert_eq!(head.unwrap().headers()["x-versions-location"], "nowhere");
}
