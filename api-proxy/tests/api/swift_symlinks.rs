//! Symlinks (Swift's symlink middleware): links read as their target, static
//! links check theirs, loops end, and a link never opens what its reader
//! could not read directly.

use reqwest::{RequestBuilder, Response};
use serde_json::Value;

use crate::chunk_guard::synced_file;
use crate::clients::run;
use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};
use crate::swift_tempurl::{in_a_day, sign};

const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

async fn status(request: RequestBuilder) -> u16 {
    send(request).await.status().as_u16()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// The account name at the end of a storage URL.
fn account_of(session: &Session) -> &str {
    session.storage_url.rsplit('/').next().unwrap()
}

/// A `PUT` of a link at `path` to `target` (`container/object`).
fn put_link(app: &TestApp, session: &Session, path: &str, target: &str) -> RequestBuilder {
    session
        .request(&app.client, "PUT", path)
        .header("X-Symlink-Target", target)
        .header("Content-Length", "0")
        .body("")
}

/// Alice with containers `links` and `targets`, `targets/t.txt` holding
/// "target body" with a metadata key.
async fn alice_with_target(app: &TestApp) -> Session {
    let alice = app.login_new_user("alice").await;
    for container in ["links", "targets"] {
        assert_eq!(
            status(alice.request(&app.client, "PUT", container)).await,
            201
        );
    }
    let target = alice
        .request(&app.client, "PUT", "targets/t.txt")
        .header("Content-Type", "application/target")
        .header("X-Object-Meta-Color", "blue")
        .body("target body");
    assert_eq!(status(target).await, 201);
    alice
}

async fn listing(app: &TestApp, session: &Session, container: &str) -> Vec<Value> {
    send(session.request(&app.client, "GET", &format!("{container}?format=json")))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_link_reads_as_its_target_and_as_itself_with_symlink_get() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let account = account_of(&alice).to_owned();
    let location = format!("/v1/{account}/targets/t.txt");
    let made = send(put_link(&app, &alice, "links/l", "targets/t.txt")).await;
    assert_eq!(made.status(), 201);
    assert_eq!(header(&made, "etag"), Some(EMPTY_MD5));

    let get = send(alice.request(&app.client, "GET", "links/l")).await;
    assert_eq!(get.status(), 200);
    assert_eq!(header(&get, "content-location"), Some(location.as_str()));
    assert_eq!(header(&get, "x-object-meta-color"), Some("blue"));
    assert_eq!(header(&get, "content-type"), Some("application/target"));
    assert_eq!(get.text().await.unwrap(), "target body");
    let ranged = alice
        .request(&app.client, "GET", "links/l")
        .header("Range", "bytes=7-10");
    let ranged = send(ranged).await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.text().await.unwrap(), "body");
    let precondition = alice
        .request(&app.client, "GET", "links/l")
        .header("If-Match", "not-the-etag");
    let precondition = send(precondition).await;
    assert_eq!(precondition.status(), 412);
    assert_eq!(
        header(&precondition, "content-location"),
        Some(location.as_str())
    );

    let itself = send(alice.request(&app.client, "GET", "links/l?symlink=get")).await;
    assert_eq!(itself.status(), 200);
    assert_eq!(header(&itself, "x-symlink-target"), Some("targets/t.txt"));
    assert_eq!(header(&itself, "content-type"), Some("application/symlink"));
    assert_eq!(header(&itself, "etag"), Some(EMPTY_MD5));
    assert_eq!(itself.text().await.unwrap(), "");

    // A POST changes the link's metadata and points at the target (which
    // this client does not follow).
    let unredirected = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = alice
        .request(&unredirected, "POST", "links/l")
        .header("X-Object-Meta-Alpha", "apple");
    let post = send(post).await;
    assert_eq!(post.status(), 307);
    assert_eq!(header(&post, "location"), Some(location.as_str()));
    let itself = send(alice.request(&app.client, "HEAD", "links/l?symlink=get")).await;
    assert_eq!(header(&itself, "x-object-meta-alpha"), Some("apple"));
    let target = send(alice.request(&app.client, "HEAD", "targets/t.txt")).await;
    assert_eq!(header(&target, "x-object-meta-alpha"), None);
    let retarget = alice
        .request(&app.client, "POST", "links/l")
        .header("X-Symlink-Target", "targets/other");
    assert_eq!(status(retarget).await, 400);

    let listed = listing(&app, &alice, "links").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["symlink_path"], location.as_str());
    assert_eq!(listed[0]["bytes"], 0);
    assert_eq!(listed[0]["hash"], EMPTY_MD5);
    assert!(listed[0].get("symlink_etag").is_none(), "{listed:?}");

    // Copies take the target, or with `?symlink=get` the link.
    let copy = alice
        .request(&app.client, "COPY", "links/l")
        .header("Destination", "links/copied-target");
    assert_eq!(status(copy).await, 201);
    let copied = send(alice.request(&app.client, "GET", "links/copied-target")).await;
    assert_eq!(header(&copied, "content-location"), None);
    assert_eq!(copied.text().await.unwrap(), "target body");
    let copy = alice
        .request(&app.client, "PUT", "links/copied-link?symlink=get")
        .header("X-Copy-From", "links/l")
        .header("Content-Length", "0")
        .body("");
    assert_eq!(status(copy).await, 201);
    let copied = send(alice.request(&app.client, "GET", "links/copied-link")).await;
    assert_eq!(header(&copied, "content-location"), Some(location.as_str()));

    // Deleting the link leaves the target; a dangling link reads as 404.
    assert_eq!(
        status(alice.request(&app.client, "DELETE", "links/l")).await,
        204
    );
    assert_eq!(
        status(alice.request(&app.client, "GET", "targets/t.txt")).await,
        200
    );
    let dangling = send(put_link(&app, &alice, "links/d", "targets/missing")).await;
    assert_eq!(dangling.status(), 201);
    let missing = send(alice.request(&app.client, "GET", "links/d")).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        header(&missing, "content-location"),
        Some(format!("/v1/{account}/targets/missing").as_str())
    );
}

#[tokio::test]
async fn bad_links_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let stored = app.stored_bodies().await;
    let refused = async |request: RequestBuilder, expected: u16, message: &str| {
        let response = send(request).await;
        assert_eq!(response.status(), expected, "{message}");
        assert_eq!(response.text().await.unwrap(), message);
    };
    refused(
        alice
            .request(&app.client, "PUT", "links/l")
            .header("X-Symlink-Target", "targets/t.txt")
            .body("not empty"),
        400,
        "Symlink requests require a zero byte body",
    )
    .await;
    refused(
        put_link(&app, &alice, "links/l", "t.txt"),
        412,
        "X-Symlink-Target header must be of the form <container name>/<object name>",
    )
    .await;
    refused(
        put_link(&app, &alice, "links/l", "links/l"),
        400,
        "Symlink cannot target itself",
    )
    .await;
    refused(
        put_link(&app, &alice, "links/l", "targets/t.txt")
            .header("X-Symlink-Target-Etag", "not-the-real-etag"),
        409,
        "Object Etag 'ab706c400731332bffa67ed4bc15dcac' does not match \
         X-Symlink-Target-Etag header 'not-the-real-etag'",
    )
    .await;
    refused(
        put_link(&app, &alice, "links/l", "targets/missing")
            .header("X-Symlink-Target-Etag", EMPTY_MD5),
        409,
        "X-Symlink-Target does not exist",
    )
    .await;
    assert_eq!(
        status(alice.request(&app.client, "HEAD", "links/l?symlink=get")).await,
        404
    );
    assert_eq!(app.stored_bodies().await, stored);
}

#[tokio::test]
async fn static_links_pin_their_target_and_list_it() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let etag = header(
        &send(alice.request(&app.client, "HEAD", "targets/t.txt")).await,
        "etag",
    )
    .unwrap()
    .to_owned();
    let pinned = put_link(&app, &alice, "links/s", "targets/t.txt")
        .header("X-Symlink-Target-Etag", format!("\"{etag}\""));
    assert_eq!(status(pinned).await, 201);
    let itself = send(alice.request(&app.client, "HEAD", "links/s?symlink=get")).await;
    assert_eq!(
        header(&itself, "x-symlink-target-etag"),
        Some(etag.as_str())
    );
    assert_eq!(header(&itself, "x-symlink-target-bytes"), Some("11"));
    // A static link takes its target's content type.
    assert_eq!(header(&itself, "content-type"), Some("application/target"));
    let listed = listing(&app, &alice, "links").await;
    assert_eq!(listed[0]["symlink_etag"], etag.as_str());
    assert_eq!(listed[0]["symlink_bytes"], 11);
    assert_eq!(
        status(alice.request(&app.client, "GET", "links/s")).await,
        200
    );

    // The target changes: the link no longer reads, but says where it points.
    let changed = alice
        .request(&app.client, "PUT", "targets/t.txt")
        .body("another body");
    assert_eq!(status(changed).await, 201);
    let conflict = send(alice.request(&app.client, "GET", "links/s")).await;
    assert_eq!(conflict.status(), 409);
    let location = format!("/v1/{}/targets/t.txt", account_of(&alice));
    assert_eq!(
        header(&conflict, "content-location"),
        Some(location.as_str())
    );
    assert_eq!(
        status(alice.request(&app.client, "DELETE", "targets/t.txt")).await,
        204
    );
    assert_eq!(
        status(alice.request(&app.client, "GET", "links/s")).await,
        404
    );
}

#[tokio::test]
async fn loops_and_chains_past_the_limit_are_conflicts() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let info: Value = send(app.client.get(format!("{}/info", app.address)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["symlink"]["symloop_max"], 2);
    assert_eq!(info["symlink"]["static_links"], true);

    for (link, target) in [("links/a", "links/b"), ("links/b", "links/a")] {
        assert_eq!(status(put_link(&app, &alice, link, target)).await, 201);
    }
    let looped = send(alice.request(&app.client, "GET", "links/a")).await;
    assert_eq!(looped.status(), 409);
    assert_eq!(
        looped.text().await.unwrap(),
        "Too many levels of symbolic links, maximum allowed is 2"
    );
    assert_eq!(
        status(alice.request(&app.client, "GET", "links/a?symlink=get")).await,
        200
    );

    // Two links in a row are followed, a third is one too many.
    for (link, target) in [
        ("links/1", "targets/t.txt"),
        ("links/2", "links/1"),
        ("links/3", "links/2"),
    ] {
        assert_eq!(status(put_link(&app, &alice, link, target)).await, 201);
    }
    let two = send(alice.request(&app.client, "GET", "links/2")).await;
    assert_eq!(two.status(), 200);
    assert_eq!(two.text().await.unwrap(), "target body");
    assert_eq!(
        status(alice.request(&app.client, "GET", "links/3")).await,
        409
    );
}

#[tokio::test]
async fn a_link_grants_no_access_to_its_target() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let bob = app.login_new_user("bob").await;
    assert_eq!(status(bob.request(&app.client, "PUT", "mine")).await, 201);
    let secret = bob
        .request(&app.client, "PUT", "mine/secret.txt")
        .body("bob's secret");
    assert_eq!(status(secret).await, 201);
    let bob_account = account_of(&bob).to_owned();
    let location = format!("/v1/{bob_account}/mine/secret.txt");

    // Alice links into bob's account: the link is hers, the target is not.
    let into_bob = put_link(&app, &alice, "links/bobs", "mine/secret.txt")
        .header("X-Symlink-Target-Account", &bob_account);
    assert_eq!(status(into_bob).await, 201);
    let refused = send(alice.request(&app.client, "GET", "links/bobs")).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        header(&refused, "content-location"),
        Some(location.as_str())
    );
    assert_ne!(refused.text().await.unwrap(), "bob's secret");
    let itself = send(alice.request(&app.client, "HEAD", "links/bobs?symlink=get")).await;
    assert_eq!(
        header(&itself, "x-symlink-target-account"),
        Some(bob_account.as_str())
    );
    // Copying through the link is refused as well, and stores nothing.
    let copy = alice
        .request(&app.client, "COPY", "links/bobs")
        .header("Destination", "links/stolen");
    assert_eq!(status(copy).await, 403);
    assert_eq!(
        status(alice.request(&app.client, "HEAD", "links/stolen")).await,
        404
    );
    // A static link needs to read its target when it is made.
    let pinned = put_link(&app, &alice, "links/pinned", "mine/secret.txt")
        .header("X-Symlink-Target-Account", &bob_account)
        .header("X-Symlink-Target-Etag", EMPTY_MD5);
    assert_eq!(status(pinned).await, 403);

    // Once bob lets alice read the container, the link reads; not after.
    let grant = bob
        .request(&app.client, "POST", "mine")
        .header("X-Container-Read", "alice:alice");
    assert_eq!(status(grant).await, 204);
    let allowed = send(alice.request(&app.client, "GET", "links/bobs")).await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.text().await.unwrap(), "bob's secret");
    let revoke = bob
        .request(&app.client, "POST", "mine")
        .header("X-Remove-Container-Read", "x");
    assert_eq!(status(revoke).await, 204);
    assert_eq!(
        status(alice.request(&app.client, "GET", "links/bobs")).await,
        403
    );

    // Bob may read alice's `links` but not `targets`: her links into
    // `targets` stay closed to him.
    let link = put_link(&app, &alice, "links/l", "targets/t.txt");
    assert_eq!(status(link).await, 201);
    let share = alice
        .request(&app.client, "POST", "links")
        .header("X-Container-Read", "bob:bob");
    assert_eq!(status(share).await, 204);
    let bobs_view = Session {
        token: bob.token.clone(),
        storage_url: alice.storage_url.clone(),
    };
    let followed = send(bobs_view.request(&app.client, "GET", "links/l")).await;
    assert_eq!(followed.status(), 403);
    let itself = send(bobs_view.request(&app.client, "GET", "links/l?symlink=get")).await;
    assert_eq!(itself.status(), 200);
    assert_eq!(itself.text().await.unwrap(), "");
}

#[tokio::test]
async fn tempurls_follow_links_within_their_key_scope() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    for link in ["links/l", "targets/l"] {
        assert_eq!(
            status(put_link(&app, &alice, link, "targets/t.txt")).await,
            201
        );
    }
    for (path, header, key) in [
        ("links", "X-Container-Meta-Temp-URL-Key", "links key"),
        ("targets", "X-Container-Meta-Temp-URL-Key", "targets key"),
        ("", "X-Account-Meta-Temp-URL-Key", "account key"),
    ] {
        let set = alice.request(&app.client, "POST", path).header(header, key);
        assert_eq!(status(set).await, 204, "{header}");
    }
    let temp_get = async |object: &str, key: &str| {
        let path = format!("/v1/{}/{object}", account_of(&alice));
        let expires = in_a_day();
        let signature = sign("GET", expires, &path, key);
        let url = format!(
            "{}{path}?temp_url_sig={signature}&temp_url_expires={expires}",
            app.address
        );
        send(app.client.get(url)).await
    };
    // A container key opens only its container: not a target elsewhere.
    assert_eq!(temp_get("links/l", "links key").await.status(), 401);
    for (link, key) in [("targets/l", "targets key"), ("links/l", "account key")] {
        let followed = temp_get(link, key).await;
        assert_eq!(followed.status(), 200, "{link} with the {key}");
        assert_eq!(followed.text().await.unwrap(), "target body");
    }
}

#[tokio::test]
async fn a_link_cannot_take_the_place_of_a_chunk_a_file_needs() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let notes = format!("{}/notes.txt", file.container);
    let put_notes = file.swift.request(&app.client, "PUT", &notes).body("notes");
    assert_eq!(status(put_notes).await, 201);
    let chunk = file.chunk_path(0);
    let listed = file.listed_chunks(&app).await;
    let link = file
        .swift
        .request(&app.client, "PUT", &chunk)
        .header("X-Symlink-Target", &notes)
        .header("Content-Length", "0")
        .body("");
    assert_eq!(status(link).await, 409);
    // Nor through a copy of a link.
    let other_link = format!("{}/link", file.container);
    let put_other = file
        .swift
        .request(&app.client, "PUT", &other_link)
        .header("X-Symlink-Target", &notes)
        .header("Content-Length", "0")
        .body("");
    assert_eq!(status(put_other).await, 201);
    let copy = file
        .swift
        .request(&app.client, "COPY", &format!("{other_link}?symlink=get"))
        .header("Destination", &chunk);
    assert_eq!(status(copy).await, 409);
    assert_eq!(file.listed_chunks(&app).await, listed);
    assert!(file.download(&app).await == file.data, "the file changed");
    drop(file.laptop);
}

#[tokio::test]
async fn a_link_counts_as_one_empty_object_for_quotas() {
    let app = spawn_app().await;
    let alice = alice_with_target(&app).await;
    let quota = alice
        .request(&app.client, "POST", "links")
        .header("X-Container-Meta-Quota-Count", "1");
    assert_eq!(status(quota).await, 204);
    assert_eq!(
        status(put_link(&app, &alice, "links/one", "targets/t.txt")).await,
        201
    );
    assert_eq!(
        status(put_link(&app, &alice, "links/two", "targets/t.txt")).await,
        413
    );
    let container = send(alice.request(&app.client, "HEAD", "links")).await;
    assert_eq!(header(&container, "x-container-bytes-used"), Some("0"));
    assert_eq!(header(&container, "x-container-object-count"), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_makes_reads_and_lists_links() {
    let app = spawn_app().await;
    app.login_new_user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("target.txt"), "the target").unwrap();
    std::fs::write(dir.path().join("empty"), "").unwrap();
    let auth_url = format!("{}/auth/v1.0", app.address);
    let swift = async |args: &[&str]| {
        let mut all = vec!["-A", auth_url.as_str(), "-U", "alice:alice", "-K", PASSWORD];
        all.extend_from_slice(args);
        run("swift", &all, dir.path()).await
    };
    swift(&["upload", "c1", "target.txt"]).await;
    swift(&[
        "upload",
        "c1",
        "empty",
        "--object-name",
        "link",
        "-H",
        "X-Symlink-Target: c1/target.txt",
    ])
    .await;
    let read = swift(&["download", "c1", "link", "-o", "-"]).await;
    assert_eq!(read, "the target");
    let stat = swift(&["stat", "c1", "link"]).await;
    assert!(stat.contains("Content Length: 10"), "{stat}");
    let listed: Vec<Value> = serde_json::from_str(&swift(&["list", "--json", "c1"]).await).unwrap();
    let link = listed.iter().find(|o| o["name"] == "link").unwrap();
    assert_eq!(link["symlink_path"], "/v1/AUTH_alice/c1/target.txt");

    // A POST changes the link itself and answers 307 to the target, which
    // python-swiftclient (through requests) follows with the same POST: as
    // against a real Swift, the metadata lands on both.
    swift(&["post", "-m", "color:blue", "c1", "link"]).await;
    let alice = app.login("alice:alice").await;
    for path in ["c1/link?symlink=get", "c1/target.txt"] {
        let head = send(alice.request(&app.client, "HEAD", path)).await;
        assert_eq!(header(&head, "x-object-meta-color"), Some("blue"), "{path}");
    }
}
