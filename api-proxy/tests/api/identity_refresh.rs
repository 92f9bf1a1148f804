//! The proxy caches a token's identity, workspaces included, for a while. A
//! workspace the caller creates in that time must not be refused until the
//! cache expires: a request for its container fetches the identity again, at
//! most once per token every few seconds.

use std::time::Duration;

use nimbus_protocol::rpc::{CreateWorkspaceArgs, DeviceToken, EncryptionMode};
use uuid::Uuid;

use crate::helpers::{PASSWORD, rpc_of, spawn_app};

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

    // A second fetch right after the first is refused, so that requests
    // for containers the caller may not use cannot each cost RPCs.
    let music = create_workspace("Music").await.unwrap();
    assert_eq!(put_object(&music.container).await.unwrap().status(), 403);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(put_object(&music.container).await.unwrap().status(), 201);
}
