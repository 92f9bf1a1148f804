//! TempAuth, tokens, and who may do what.

use std::time::Duration;

use nimbus_protocol::rpc::{DeviceInfo, Operation};
use uuid::Uuid;

use crate::helpers::{PASSWORD, device, spawn_app};

fn is_trans_id(value: &str) -> bool {
    value.len() >= 34
        && value.starts_with("tx")
        && value[2..23].chars().all(|c| c.is_ascii_hexdigit())
        && &value[23..24] == "-"
        && value[24..34].chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn tempauth_answers_token_storage_url_and_rpc() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;

    let response = app.get_token("alice:alice", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    let token = headers["x-auth-token"].to_str().unwrap();
    assert!(!token.is_empty());
    assert_eq!(headers["x-storage-token"], token);
    assert_eq!(
        headers["x-storage-url"].to_str().unwrap(),
        format!("{}/v1/AUTH_alice", app.address)
    );
    let expires: u64 = headers["x-auth-token-expires"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&expires), "{expires}");
    assert!(
        headers["x-nimbus-rpc-url"]
            .to_str()
            .unwrap()
            .starts_with("amqp://")
    );
    assert!(
        headers["x-nimbus-rpc-prefix"]
            .to_str()
            .unwrap()
            .starts_with("test-")
    );
    assert!(is_trans_id(headers["x-trans-id"].to_str().unwrap()));
    assert_eq!(headers["x-openstack-request-id"], headers["x-trans-id"]);
    assert!(headers.contains_key("x-timestamp"));
}

#[tokio::test]
async fn wrong_credentials_and_tokens_get_401() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;

    assert_eq!(
        app.get_token("alice:alice", "wrong password")
            .await
            .status(),
        401
    );
    assert_eq!(app.get_token("nobody:nobody", PASSWORD).await.status(), 401);
    // Right password, but alice is not a user of account bob.
    assert_eq!(app.get_token("bob:alice", PASSWORD).await.status(), 401);
    assert_eq!(app.get_token("alice", PASSWORD).await.status(), 401);
    let missing_key = app
        .client
        .get(format!("{}/auth/v1.0", app.address))
        .header("X-Auth-User", "alice:alice")
        .send()
        .await
        .unwrap();
    assert_eq!(missing_key.status(), 401);

    let account_url = format!("{}/v1/AUTH_alice", app.address);
    let bogus = app
        .client
        .get(&account_url)
        .header("X-Auth-Token", "AUTH_tk0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 401);
    assert_eq!(
        bogus.headers()["www-authenticate"],
        "Swift realm=\"AUTH_alice\""
    );
    assert!(is_trans_id(bogus.headers()["x-trans-id"].to_str().unwrap()));
    let anonymous = app.client.get(&account_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let bob = app.login("bob:bob").await;
    let foreign = app
        .client
        .get(&account_url)
        .header("X-Auth-Token", &bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}

#[tokio::test]
async fn a_revoked_device_is_refused_at_once_not_when_its_cached_token_expires() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let swift = app.login("alice:alice").await;
    let account = || swift.request(&app.client, "GET", "");
    // Checked once, then cached for `token_cache_secs`.
    assert_eq!(account().send().await.unwrap().status(), 200);
    assert!(app.settings.token_cache_secs >= 30);

    let devices: Vec<DeviceInfo> = laptop
        .rpc
        .call(Some(&laptop.token), Operation::ListDevices)
        .await
        .unwrap();
    for other in devices.iter().filter(|d| d.name != "laptop") {
        laptop
            .rpc
            .call::<()>(
                Some(&laptop.token),
                Operation::RevokeDevice {
                    device_id: other.device_id,
                },
            )
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while account().send().await.unwrap().status() != 401 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked token still works 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The device that revoked it is untouched.
    let own = app
        .client
        .get(&laptop.container_url)
        .header("X-Auth-Token", &laptop.token.0)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
}

#[tokio::test]
async fn the_default_workspace_is_a_container_of_the_account() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let listing: Vec<serde_json::Value> = alice
        .request(&app.client, "GET", "?format=json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing.len(), 1, "{listing:?}");
    let name = listing[0]["name"].as_str().unwrap();
    assert!(Uuid::parse_str(name).is_ok(), "{name}");
    let put = alice
        .request(&app.client, "PUT", &format!("{name}/chunk-1"))
        .body("chunk")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
}

#[tokio::test]
async fn account_users_and_container_acls() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    app.add_user("helper", Some("alice"), false).await;
    let helper = app.login("alice:helper").await;
    assert_eq!(helper.storage_url, alice.storage_url);
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };

    // A user who is not an admin of the account needs ACLs.
    assert_eq!(status(helper.request(&app.client, "GET", "")).await, 403);
    assert_eq!(
        status(helper.request(&app.client, "PUT", "drop")).await,
        403
    );
    let create = alice
        .request(&app.client, "PUT", "drop")
        .header("X-Container-Write", "alice:helper");
    assert_eq!(status(create).await, 201);
    assert_eq!(
        status(helper.request(&app.client, "PUT", "drop/f").body("x")).await,
        201
    );
    assert_eq!(
        status(helper.request(&app.client, "GET", "drop/f")).await,
        403
    );
    assert_eq!(
        status(helper.request(&app.client, "DELETE", "drop")).await,
        403
    );

    // Public read, then public listings.
    let public = format!("{}/drop/f", alice.storage_url);
    assert_eq!(app.client.get(&public).send().await.unwrap().status(), 401);
    let post = alice
        .request(&app.client, "POST", "drop")
        .header("X-Container-Read", ".r:*");
    assert_eq!(status(post).await, 204);
    let anonymous = app.client.get(&public).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.text().await.unwrap(), "x");
    let listing_url = format!("{}/drop", alice.storage_url);
    assert_eq!(
        app.client.get(&listing_url).send().await.unwrap().status(),
        401
    );
    let post = alice
        .request(&app.client, "POST", "drop")
        .header("X-Container-Read", ".r:*,.rlistings");
    assert_eq!(status(post).await, 204);
    assert_eq!(
        app.client
            .get(&listing_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "f\n"
    );
    // Anonymous users never write, and only owners see the ACLs.
    assert_eq!(
        app.client
            .put(&public)
            .body("y")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let head = alice
        .request(&app.client, "HEAD", "drop")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["x-container-read"], ".r:*,.rlistings");
    assert_eq!(head.headers()["x-container-write"], "alice:helper");
    let anonymous_head = app.client.head(&listing_url).send().await.unwrap();
    assert!(!anonymous_head.headers().contains_key("x-container-write"));

    let referrer_in_write_acl = alice
        .request(&app.client, "POST", "drop")
        .header("X-Container-Write", ".r:*");
    assert_eq!(status(referrer_in_write_acl).await, 400);
}
