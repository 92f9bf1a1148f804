//! The proxy caches a token's identity, workspaces included, for a while. A
//! workspace the caller creates in that time must not be refused until the
//! cache expires: a request for its container fetches the identity again, at
//! most once per token every few seconds.

use std::time::{Duration, Instant};

use nimbus_protocol::rpc::{CreateWorkspaceArgs, DeviceToken, EncryptionMode};
use uuid::Uuid;

use crate::helpers::{PASSWORD, rpc_of, spawn_app};

/// The proxy's shortest time between two forced identity fetches of one token.
const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_workspace_created_with_a_cached_token_is_usable_at_once() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    // Not an admin of the account, so only workspace grants open containers.
    app.add_user("helper", Some("alice"), false).await;
    // Logging in caches the token's identity in the proxy.
    let login = app.get_token("alice:helper", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let header = |name: &str| login.headers()[name].to_str().unwrap().to_owned();
    let rpc = rpc_of(&login).await;
    let token = DeviceToken(header("x-auth-token"));
    let storage_url = header("x-storage-url");
    let create_workspace = |name: &str| {
        rpc.create_workspace(
            &token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: name.into(),
                encryption: EncryptionMode::None,
                key_check: None,
            },
        )
    };
    let put_object = |container: &str| {
        app.client
            .put(format!("{storage_url}/{container}/chunk"))
            .header("X-Auth-Token", &token.0)
            .body("bytes")
            .send()
    };

    let photos = create_workspace("Photos").await.unwrap();
    // The forced fetch happens during this request, so not before now.
    let first_fetch_not_before = Instant::now();
    assert_eq!(put_object(&photos.container).await.unwrap().status(), 201);
    let read = app
        .client
        .get(format!("{storage_url}/{}/chunk", photos.container))
        .header("X-Auth-Token", &token.0)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.text().await.unwrap(), "bytes");

    // A second fetch within 5 s of the first is refused, so that requests
    // for containers the caller may not use cannot each cost RPCs. Checked
    // only when the answer came within those 5 s (a stalled machine may
    // take longer), so that the test states a rule, not a speed.
    let music = create_workspace("Music").await.unwrap();
    let refused = put_object(&music.container).await.unwrap().status();
    if first_fetch_not_before.elapsed() < REFRESH_INTERVAL {
        assert_eq!(refused, 403);
    }
    tokio::time::sleep(REFRESH_INTERVAL).await;
    assert_eq!(put_object(&music.container).await.unwrap().status(), 201);
}
