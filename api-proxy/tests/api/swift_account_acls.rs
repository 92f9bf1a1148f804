//! Account ACLs (TempAuth's `X-Account-Access-Control`): the account's
//! owners name users and accounts as `read-only`, `read-write` or `admin`;
//! what that opens is checked here level by level, with the limits Nimbus
//! keeps: workspaces stay their members', and a change binds every proxy at
//! once.

use nimbus_protocol::rpc::Role;
use nimbus_proxy::startup::Application;
use reqwest::{RequestBuilder, Response};

use crate::clients::run;
use crate::helpers::{PASSWORD, Session, TestApp, device, spawn_app};
use crate::sharing::{create_workspace, share};

const ACL: &str = "X-Account-Access-Control";

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

async fn status(request: RequestBuilder) -> u16 {
    send(request).await.status().as_u16()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// `session`'s request to `path` of `owner`'s account.
fn to(
    app: &TestApp,
    session: &Session,
    owner: &Session,
    method: &str,
    path: &str,
) -> RequestBuilder {
    let url = if path.is_empty() {
        owner.storage_url.clone()
    } else {
        format!("{}/{path}", owner.storage_url)
    };
    app.client
        .request(method.parse().unwrap(), url)
        .header("X-Auth-Token", &session.token)
}

/// Alice (owner of her account, with container `c` holding `o`) and bob, of
/// an account of his own.
async fn alice_and_bob(app: &TestApp) -> (Session, Session) {
    let alice = app.login_new_user("alice").await;
    let bob = app.login_new_user("bob").await;
    assert_eq!(status(alice.request(&app.client, "PUT", "c")).await, 201);
    assert_eq!(
        status(alice.request(&app.client, "PUT", "c/o").body("alice's")).await,
        201
    );
    (alice, bob)
}

async fn set_acl(app: &TestApp, setter: &Session, owner: &Session, acl: &str) -> u16 {
    status(to(app, setter, owner, "POST", "").header(ACL, acl)).await
}

#[tokio::test]
async fn an_invalid_account_acl_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (alice, _) = alice_and_bob(&app).await;
    let valid = r#"{"admin":["bob:bob"],"read-only":["carol"]}"#;
    assert_eq!(set_acl(&app, &alice, &alice, valid).await, 204);
    let too_long = format!(r#"{{"admin":["{}"]}}"#, "a".repeat(8200));
    for invalid in [
        "yuck",
        "[]",
        r#"{"admin":"bob"}"#,
        r#"{"admin":[1]}"#,
        r#"{"admin":[],"owner":["bob"]}"#,
        too_long.as_str(),
    ] {
        let refused = send(alice.request(&app.client, "POST", "").header(ACL, invalid)).await;
        assert_eq!(refused.status(), 400, "{invalid}");
        assert!(header(&refused, ACL).is_none());
        let body = refused.text().await.unwrap();
        assert!(
            body.starts_with("X-Account-Access-Control invalid: "),
            "{body}"
        );
    }
    // Nor does an invalid ACL let the metadata beside it through.
    let beside = alice
        .request(&app.client, "POST", "")
        .header(ACL, "yuck")
        .header("X-Account-Meta-Color", "blue");
    assert_eq!(status(beside).await, 400);
    let head = send(alice.request(&app.client, "HEAD", "")).await;
    assert_eq!(header(&head, ACL), Some(valid));
    assert!(header(&head, "x-account-meta-color").is_none());

    // Shown as Swift shows it: compact, keys sorted, ASCII only.
    let spaced = r#"{ "read-only": ["zoë"], "admin": [] }"#;
    assert_eq!(set_acl(&app, &alice, &alice, spaced).await, 204);
    let head = send(alice.request(&app.client, "HEAD", "")).await;
    assert_eq!(
        header(&head, ACL),
        Some(r#"{"admin":[],"read-only":["zo\u00eb"]}"#)
    );
    // An empty object (or value) removes it.
    assert_eq!(set_acl(&app, &alice, &alice, "{}").await, 204);
    let head = send(alice.request(&app.client, "HEAD", "")).await;
    assert!(header(&head, ACL).is_none());
    let info: serde_json::Value = send(app.client.get(format!("{}/info", app.address)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["tempauth"]["account_acls"], true);
}

#[tokio::test]
async fn each_level_grants_what_swift_grants_and_no_more() {
    let app = spawn_app().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let key = alice
        .request(&app.client, "POST", "")
        .header("X-Account-Meta-Temp-URL-Key", "account secret");
    assert_eq!(status(key).await, 204);
    let container_acl = alice
        .request(&app.client, "POST", "c")
        .header("X-Container-Read", "dave")
        .header("X-Container-Sync-Key", "sync secret")
        .header("X-Container-Meta-Temp-URL-Key", "container secret");
    assert_eq!(status(container_acl).await, 204);
    let as_bob = |method: &str, path: &str| to(&app, &bob, &alice, method, path);
    assert_eq!(status(as_bob("GET", "")).await, 403);
    assert_eq!(status(as_bob("GET", "c/o")).await, 403);

    // read-only: the account, its listings and objects, no privileged header.
    assert_eq!(
        set_acl(&app, &alice, &alice, r#"{"read-only":["bob:bob"]}"#).await,
        204
    );
    let account = send(as_bob("GET", "")).await;
    assert_eq!(account.status(), 200);
    assert!(header(&account, ACL).is_none());
    assert!(header(&account, "x-account-meta-temp-url-key").is_none());
    // (Beside alice's default workspace, whose container it names.)
    let listing = account.text().await.unwrap();
    assert!(listing.lines().any(|name| name == "c"), "{listing}");
    let container = send(as_bob("HEAD", "c")).await;
    assert_eq!(container.status(), 204);
    assert!(header(&container, "x-container-read").is_none());
    assert!(header(&container, "x-container-sync-key").is_none());
    assert!(header(&container, "x-container-meta-temp-url-key").is_none());
    assert_eq!(
        send(as_bob("GET", "c/o")).await.text().await.unwrap(),
        "alice's"
    );
    assert_eq!(status(as_bob("PUT", "c/new").body("bob's")).await, 403);
    assert_eq!(status(as_bob("DELETE", "c/o")).await, 403);
    assert_eq!(status(as_bob("PUT", "d")).await, 403);
    assert_eq!(
        status(as_bob("POST", "c").header("X-Container-Meta-Color", "red")).await,
        403
    );
    assert_eq!(
        status(as_bob("POST", "").header("X-Account-Meta-Color", "red")).await,
        403
    );

    // read-write: objects and containers, but neither the account nor the
    // owners' headers, which are dropped from its requests as in Swift.
    assert_eq!(
        set_acl(&app, &alice, &alice, r#"{"read-write":["bob"]}"#).await,
        204
    );
    assert_eq!(status(as_bob("PUT", "c/new").body("bob's")).await, 201);
    assert_eq!(status(as_bob("PUT", "d")).await, 201);
    assert_eq!(status(as_bob("DELETE", "d")).await, 204);
    let post = as_bob("POST", "c")
        .header("X-Container-Meta-Color", "red")
        .header("X-Container-Read", ".r:*")
        .header("X-Container-Meta-Temp-URL-Key", "bob's key");
    assert_eq!(status(post).await, 204);
    let seen_by_alice = send(alice.request(&app.client, "HEAD", "c")).await;
    assert_eq!(
        header(&seen_by_alice, "x-container-meta-color"),
        Some("red")
    );
    assert_eq!(header(&seen_by_alice, "x-container-read"), Some("dave"));
    assert_eq!(
        header(&seen_by_alice, "x-container-meta-temp-url-key"),
        Some("container secret")
    );
    let anonymous = app.client.get(format!("{}/c/o", alice.storage_url));
    assert_eq!(status(anonymous).await, 401);
    assert_eq!(
        status(as_bob("POST", "").header("X-Account-Meta-Color", "red")).await,
        403
    );
    assert_eq!(
        set_acl(&app, &bob, &alice, r#"{"admin":["bob"]}"#).await,
        403
    );
    assert!(header(&send(as_bob("HEAD", "")).await, ACL).is_none());

    // admin: what the owners may, the ACL and the keys included; an admin
    // may even revoke their own access.
    let admin = r#"{"admin":["bob:bob"]}"#;
    assert_eq!(set_acl(&app, &alice, &alice, admin).await, 204);
    let account = send(as_bob("HEAD", "")).await;
    assert_eq!(header(&account, ACL), Some(admin));
    assert_eq!(
        header(&account, "x-account-meta-temp-url-key"),
        Some("account secret")
    );
    let container = send(as_bob("HEAD", "c")).await;
    assert_eq!(header(&container, "x-container-read"), Some("dave"));
    assert_eq!(
        header(&container, "x-container-sync-key"),
        Some("sync secret")
    );
    assert_eq!(
        status(as_bob("POST", "").header("X-Account-Meta-Color", "green")).await,
        204
    );
    let head = send(alice.request(&app.client, "HEAD", "")).await;
    assert_eq!(header(&head, "x-account-meta-color"), Some("green"));
    assert_eq!(set_acl(&app, &bob, &alice, "{}").await, 204);
    assert_eq!(status(as_bob("HEAD", "")).await, 403);
    assert_eq!(status(as_bob("GET", "c/o")).await, 403);
}

#[tokio::test]
async fn users_of_the_account_need_a_grant_too_and_cannot_give_themselves_one() {
    let app = spawn_app().await;
    let (alice, _) = alice_and_bob(&app).await;
    app.add_user("carol", Some("alice"), false).await;
    let carol = app.login("alice:carol").await;
    assert_eq!(status(carol.request(&app.client, "GET", "")).await, 403);
    assert_eq!(
        set_acl(&app, &carol, &carol, r#"{"admin":["alice:carol"]}"#).await,
        403
    );
    let anonymous = app
        .client
        .post(&alice.storage_url)
        .header(ACL, r#"{"admin":["bob"]}"#);
    assert_eq!(status(anonymous).await, 401);
    assert!(header(&send(alice.request(&app.client, "HEAD", "")).await, ACL).is_none());

    // The account's name names every user of it.
    assert_eq!(
        set_acl(&app, &alice, &alice, r#"{"read-only":["alice"]}"#).await,
        204
    );
    assert_eq!(status(carol.request(&app.client, "GET", "c/o")).await, 200);
    assert_eq!(status(carol.request(&app.client, "PUT", "c/x")).await, 403);
}

#[tokio::test]
async fn an_account_acl_does_not_open_workspaces_and_does_not_override_a_role() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice_device = device(&app, "alice").await;
    let bob_device = device(&app, "bob").await;
    let alice = app.login("alice:alice").await;
    let bob = app.login("bob:bob").await;
    let default_container = alice_device.workspace.container.clone();
    let chunk = format!("{default_container}/chunk");
    assert_eq!(
        status(alice.request(&app.client, "PUT", &chunk).body("file bytes")).await,
        201
    );
    assert_eq!(
        set_acl(&app, &alice, &alice, r#"{"admin":["bob"]}"#).await,
        204
    );
    let as_bob = |method: &str, path: &str| to(&app, &bob, &alice, method, path);
    // Her workspace is hers and its members', whatever the account ACL says.
    assert_eq!(status(as_bob("GET", &chunk)).await, 403);
    assert_eq!(status(as_bob("PUT", &chunk).body("bob's")).await, 403);
    assert_eq!(status(as_bob("HEAD", &default_container)).await, 403);
    for method in ["POST", "PUT", "DELETE"] {
        assert_eq!(
            status(as_bob(method, &default_container).header("X-Container-Read", ".r:*")).await,
            403,
            "{method}"
        );
    }
    let head = send(alice.request(&app.client, "HEAD", &default_container)).await;
    assert!(header(&head, "x-container-read").is_none());

    // A member goes by the workspace's role: a viewer stays a viewer.
    let shared = create_workspace(&alice_device, "Shared").await;
    assert_eq!(
        status(alice.request(&app.client, "PUT", &shared.container)).await,
        201
    );
    share(&alice_device, &shared, &bob_device, "bob", Role::Viewer).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let object = format!("{}/note", shared.container);
    assert_eq!(
        status(alice.request(&app.client, "PUT", &object).body("shared")).await,
        201
    );
    assert_eq!(status(as_bob("GET", &object)).await, 200);
    assert_eq!(status(as_bob("PUT", &object).body("bob's")).await, 403);
    assert_eq!(status(as_bob("DELETE", &shared.container)).await, 403);
    // Other containers are open to the admin as to alice.
    assert_eq!(status(as_bob("PUT", "plain")).await, 201);
    assert_eq!(status(as_bob("PUT", "plain/o").body("bob's")).await, 201);
}

#[tokio::test]
async fn a_change_binds_every_proxy_at_once() {
    let app = spawn_app().await;
    let (alice, bob) = alice_and_bob(&app).await;
    // A second proxy on the same index, caching identities for ten minutes.
    let mut settings = app.settings.clone();
    settings.token_cache_secs = 600;
    let second = Application::build(settings).await.unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    let on_second = |session: &Session| {
        app.client
            .get(format!(
                "{}/c/o",
                alice.storage_url.replace(&app.address, &second_address)
            ))
            .header("X-Auth-Token", &session.token)
    };
    assert_eq!(status(on_second(&bob)).await, 403);
    assert_eq!(
        set_acl(&app, &alice, &alice, r#"{"read-only":["bob"]}"#).await,
        204
    );
    assert_eq!(status(on_second(&bob)).await, 200);
    assert_eq!(set_acl(&app, &alice, &alice, "{}").await, 204);
    assert_eq!(status(on_second(&bob)).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_uses_an_account_it_was_granted() {
    let app = spawn_app().await;
    let (alice, _) = alice_and_bob(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let auth_url = format!("{}/auth/v1.0", app.address);
    let swift = async |user: &str, args: &[&str]| {
        let mut all = vec!["-A", auth_url.as_str(), "-U", user, "-K", PASSWORD];
        all.extend_from_slice(args);
        run("swift", &all, dir.path()).await
    };
    swift(
        "alice:alice",
        &[
            "post",
            "-H",
            r#"X-Account-Access-Control: {"read-write":["bob:bob"]}"#,
        ],
    )
    .await;
    let stat = swift("alice:alice", &["stat"]).await;
    assert!(stat.contains("bob:bob"), "{stat}");

    std::fs::write(dir.path().join("from-bob.txt"), "bob's").unwrap();
    let os_storage_url = format!("--os-storage-url={}", alice.storage_url);
    swift("bob:bob", &[&os_storage_url, "upload", "c", "from-bob.txt"]).await;
    let listed = swift("bob:bob", &[&os_storage_url, "list", "c"]).await;
    assert_eq!(listed, "from-bob.txt\no\n");
    let read = swift(
        "bob:bob",
        &[&os_storage_url, "download", "c", "o", "-o", "-"],
    )
    .await;
    assert_eq!(read, "alice's");
    let get = alice.request(&app.client, "GET", "c/from-bob.txt");
    assert_eq!(send(get).await.text().await.unwrap(), "bob's");
}
