//! `createWorkspace`: plain and end-to-end encrypted workspaces, listed by
//! `getWorkspaces` with their key check; names, modes and key checks are
//! validated, and only an authenticated caller can create one, for itself.

use nimbus_protocol::rpc::{
    CreateWorkspaceArgs, DeviceToken, EncryptionMode, ErrorCode, Operation, Role, WorkspaceInfo,
};
use uuid::Uuid;

use crate::helpers::{TestApp, new_file, spawn_app};

fn new_workspace(
    name: &str,
    encryption: EncryptionMode,
    key_check: Option<&str>,
) -> CreateWorkspaceArgs {
    CreateWorkspaceArgs {
        workspace_id: Uuid::new_v4(),
        name: name.into(),
        encryption,
        key_check: key_check.map(str::to_owned),
    }
}

/// The server's error code and message for a refused creation.
async fn refused(
    app: &TestApp,
    token: &DeviceToken,
    args: CreateWorkspaceArgs,
) -> (ErrorCode, String) {
    let error = app
        .client
        .create_workspace(token, args)
        .await
        .expect_err("the creation is refused");
    match error {
        nimbus_protocol::ClientError::Rpc(rpc) => (rpc.code, rpc.message),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn created_workspaces_are_listed_with_their_key_check() {
    let app = spawn_app().await;
    let (alice, default) = app.user_with_device("alice").await;
    let check = "5e".repeat(16);

    let secrets = new_workspace("Secrets", EncryptionMode::Client, Some(&check));
    let created = app
        .client
        .create_workspace(&alice, secrets.clone())
        .await
        .unwrap();
    assert_eq!(created.workspace_id, secrets.workspace_id);
    assert_eq!(created.name, "Secrets");
    assert_eq!(created.encryption, EncryptionMode::Client);
    assert_eq!(created.key_check.as_deref(), Some(check.as_str()));
    assert_eq!(created.role, Role::Owner);
    assert_eq!(created.owner_id, default.owner_id);
    assert_eq!(created.storage_account, default.storage_account);
    assert_eq!(created.container, secrets.workspace_id.to_string());
    assert_eq!(created.revision, 0);
    assert!(!created.is_default);

    let photos = app
        .client
        .create_workspace(&alice, new_workspace("Photos", EncryptionMode::None, None))
        .await
        .unwrap();
    assert_eq!(photos.key_check, None);

    let listed: Vec<WorkspaceInfo> = app.client.get_workspaces(&alice).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed[0].is_default && listed[0].key_check.is_none());
    assert_eq!(listed[1], created);
    assert_eq!(listed[2], photos);

    // A re-sent request (a lost reply) returns the same workspace.
    let again = app.client.create_workspace(&alice, secrets).await.unwrap();
    assert_eq!(again, created);

    // The new workspace works like any other.
    let reply = app
        .commit(&alice, &created, vec![new_file(None, "sealed.bin", 1, 10)])
        .await;
    assert_eq!(reply.revision, 1);
    app.stop().await;
}

#[tokio::test]
async fn names_must_be_valid_and_unique_per_user() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    app.client
        .create_workspace(&alice, new_workspace("Work", EncryptionMode::None, None))
        .await
        .unwrap();

    for name in ["Work", "Nimbus"] {
        let (code, message) = refused(
            &app,
            &alice,
            new_workspace(name, EncryptionMode::None, None),
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(
            message.contains("already have a workspace named"),
            "{message}"
        );
    }
    for name in ["", "..", "a/b", "tab\there"] {
        let (code, message) = refused(
            &app,
            &alice,
            new_workspace(name, EncryptionMode::None, None),
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "{name:?}");
        assert!(message.contains("cannot name a workspace"), "{message}");
    }
    // Another request under a taken id is refused, whoever sends it.
    let mut reused = new_workspace("Elsewhere", EncryptionMode::None, None);
    reused.workspace_id = app.client.get_workspaces(&alice).await.unwrap()[1].workspace_id;
    for token in [&alice, &bob] {
        let (code, message) = refused(&app, token, reused.clone()).await;
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(message.contains("already in use"), "{message}");
    }
    // Names are per user: bob may use alice's.
    let bobs = app
        .client
        .create_workspace(&bob, new_workspace("Work", EncryptionMode::None, None))
        .await
        .unwrap();
    assert_eq!(
        bobs.owner_id,
        app.client.get_account(&bob).await.unwrap().user_id
    );
    assert_eq!(app.client.get_workspaces(&alice).await.unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn modes_and_key_checks_are_validated() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let check = "0a".repeat(16);
    let cases = [
        (
            new_workspace("A", EncryptionMode::Client, None),
            "needs the key check",
        ),
        (
            new_workspace("B", EncryptionMode::Client, Some("0a0a")),
            "32 lowercase hexadecimal digits",
        ),
        (
            new_workspace("C", EncryptionMode::Client, Some(&"0A".repeat(16))),
            "32 lowercase hexadecimal digits",
        ),
        (
            new_workspace("D", EncryptionMode::None, Some(&check)),
            "only to end-to-end encrypted",
        ),
        (
            new_workspace("E", EncryptionMode::Server, None),
            "no server-side key",
        ),
    ];
    for (args, expected) in cases {
        let (code, message) = refused(&app, &alice, args).await;
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(message.contains(expected), "{message}");
    }
    assert_eq!(app.client.get_workspaces(&alice).await.unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn only_an_authenticated_device_can_create_a_workspace() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let forged = DeviceToken("not-a-token".into());
    for token in [None, Some(&forged)] {
        let error = app
            .client
            .call::<WorkspaceInfo>(
                token,
                Operation::CreateWorkspace(new_workspace("Sneaky", EncryptionMode::None, None)),
            )
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(ErrorCode::Unauthenticated));
    }
    assert_eq!(app.client.get_workspaces(&alice).await.unwrap().len(), 1);
    app.stop().await;
}
