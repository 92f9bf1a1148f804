//! Deleting a user: the administrator decides for every shared workspace,
//! everything of the user ends at once, and the deleted workspaces' chunks
//! become collectable.

use nimbus_protocol::ClientError;
use nimbus_protocol::admin::{
    AdminAddUserArgs, AdminUpdateUserArgs, AdminUserWorkspaces, DeleteUserArgs, DeletedUserReply,
    WorkspaceTransfer,
};
use nimbus_protocol::rpc::{
    DeviceToken, ErrorCode, Operation, Password, ProposalList, ProposeShareArgs, Role,
};
use nimbus_server::storage::AuditFilter;

use crate::cli::{nimbus_server_of, stdout};
use crate::helpers::{PASSWORD, TestApp, login_args, new_file, spawn_app};
use crate::sharing::{create_workspace, propose, share};

async fn add_admin(app: &TestApp, username: &str) -> DeviceToken {
    app.add_admin(username).await;
    app.login(username, "admin laptop").await
}

fn delete_op(username: &str) -> Operation {
    Operation::AdminDeleteUser(DeleteUserArgs {
        username: username.into(),
        transfers: Vec::new(),
        delete_shared: Vec::new(),
    })
}

fn chunk(seed: u8) -> String {
    format!("{seed:02x}").repeat(32)
}

async fn collect(app: &TestApp, container: &str, chunk_ids: Vec<String>) -> Vec<String> {
    app.client
        .call(
            None,
            Operation::CollectChunks {
                storage_account: "AUTH_alice".into(),
                container: container.into(),
                claim: 1,
                chunk_ids,
            },
        )
        .await
        .unwrap()
}

/// What the collection asks before it claims (claims nothing).
async fn unreferenced(app: &TestApp, container: &str, chunk_ids: Vec<String>) -> Vec<String> {
    app.client
        .call(
            None,
            Operation::UnreferencedChunks {
                storage_account: "AUTH_alice".into(),
                container: container.into(),
                chunk_ids,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn deleting_a_user_makes_the_administrator_choose_for_each_shared_workspace() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (carol, _) = app.user_with_device("carol").await;
    let (dave, _) = app.user_with_device("dave").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let photos = create_workspace(&app, &alice, "Photos").await;
    let private = create_workspace(&app, &alice, "Private").await;
    app.commit(&alice, &home, vec![new_file(None, "notes.txt", 1, 1000)])
        .await;
    app.commit(&alice, &project, vec![new_file(None, "plan.txt", 2, 1000)])
        .await;
    app.commit(&alice, &photos, vec![new_file(None, "hill.jpg", 3, 1000)])
        .await;
    share(&app, &alice, &project, ("bob", &bob), Role::Editor).await;
    share(&app, &alice, &photos, ("carol", &carol), Role::Viewer).await;
    let pending = propose(&app, &alice, &private, "dave", Role::Viewer).await;
    let bobs = create_workspace(&app, &bob, "Bob's").await;
    share(&app, &bob, &bobs, ("alice", &alice), Role::Editor).await;

    // Not an administrator: refused, whoever it is.
    match app
        .client
        .call::<DeletedUserReply>(Some(&bob), delete_op("alice"))
        .await
    {
        Err(ClientError::Rpc(e)) => assert_eq!(e.code, ErrorCode::Forbidden),
        other => panic!("a member may not delete a user: {other:?}"),
    }
    // No choice for the shared workspaces: refused, naming them, nothing changed.
    let undecided = nimbus_server_of(&app.settings, &["user", "delete", "alice"]).await;
    assert!(!undecided.status.success());
    let why = String::from_utf8_lossy(&undecided.stderr);
    assert!(
        why.contains("\"Project\"") && why.contains("\"Photos\"") && !why.contains("Private"),
        "{why}"
    );
    let half = nimbus_server_of(
        &app.settings,
        &["user", "delete", "alice", "--transfer", "Project=bob"],
    )
    .await;
    assert!(String::from_utf8_lossy(&half.stderr).contains("\"Photos\""));
    assert_eq!(app.client.get_workspaces(&alice).await.unwrap().len(), 5);
    let unknown = nimbus_server_of(
        &app.settings,
        &["user", "delete", "alice", "--delete-shared", "Holidays"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("owns no workspace named \"Holidays\"")
    );

    let deleted = stdout(
        &nimbus_server_of(
            &app.settings,
            &[
                "user",
                "delete",
                "alice",
                "--transfer",
                "Project=bob",
                "--delete-shared",
                "Photos",
            ],
        )
        .await,
    );
    assert!(
        deleted.contains("3 workspace(s) deleted, 1 handed over, 1 device(s) revoked"),
        "{deleted}"
    );

    // Alice is gone everywhere at once.
    match app.client.get_account(&alice).await {
        Err(ClientError::Rpc(e)) => assert_eq!(e.code, ErrorCode::Unauthenticated),
        other => panic!("alice's device must be revoked: {other:?}"),
    }
    let login = app
        .client
        .login(login_args("alice", PASSWORD, "again"))
        .await;
    // A deleted user is nobody: refused as an unknown name is.
    assert!(matches!(login, Err(ClientError::Rpc(e)) if e.code == ErrorCode::InvalidCredentials));
    // Bob owns the project, with its file; carol lost the photos; dave's
    // offer is withdrawn; bob's own workspace has no alice any more.
    let bobs_view = app.client.get_workspaces(&bob).await.unwrap();
    let mounted = bobs_view
        .iter()
        .find(|w| w.workspace_id == project.workspace_id)
        .expect("the project lives on");
    assert_eq!(mounted.role, Role::Owner);
    let plan = app
        .changes_since(&bob, project.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(plan.items.len(), 1);
    assert!(
        app.client
            .get_workspaces(&carol)
            .await
            .unwrap()
            .iter()
            .all(|w| w.workspace_id != photos.workspace_id)
    );
    let offers: ProposalList = app
        .client
        .call(Some(&dave), Operation::ListProposals)
        .await
        .unwrap();
    // The offer went with its workspace.
    assert!(
        offers
            .incoming
            .iter()
            .all(|p| p.proposal_id != pending.proposal_id),
        "{offers:?}"
    );
    let members = app.store.members(bobs.workspace_id).await.unwrap();
    assert_eq!(members.len(), 1);
    let users = app.store.list_users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["bob", "carol", "dave"]);

    // The deleted workspaces' chunks are all collectable; the project's
    // chunk is still referenced.
    for workspace in [&home, &photos, &private] {
        let container = workspace.workspace_id.to_string();
        let offered = vec![chunk(1), chunk(3), chunk(9)];
        assert_eq!(
            unreferenced(&app, &container, offered.clone()).await,
            offered
        );
        assert_eq!(collect(&app, &container, offered.clone()).await, offered);
    }
    let project_container = project.workspace_id.to_string();
    assert_eq!(
        unreferenced(&app, &project_container, vec![chunk(9), chunk(2)]).await,
        [chunk(9)]
    );
    assert!(
        collect(&app, &project_container, vec![chunk(2)])
            .await
            .is_empty()
    );

    let records = app
        .store
        .audit_log(&AuditFilter {
            user: Some("alice".into()),
            since: None,
            limit: 5,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            // Her sign-in after the deletion.
            "sign-in-failed",
            "user-delete",
            "workspace-delete",
            "workspace-delete",
            "workspace-delete"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_deletes_from_a_device_and_not_themselves() {
    let app = spawn_app().await;
    let root = add_admin(&app, "root").await;
    let (erin, _) = app.user_with_device("erin").await;
    match app
        .client
        .call::<DeletedUserReply>(Some(&root), delete_op("root"))
        .await
    {
        Err(ClientError::Rpc(e)) => assert_eq!(e.code, ErrorCode::BadRequest),
        other => panic!("an administrator may not delete themselves: {other:?}"),
    }
    let reply: DeletedUserReply = app
        .client
        .call(Some(&root), delete_op("erin"))
        .await
        .unwrap();
    assert_eq!(reply.deleted_workspaces.len(), 1);
    assert_eq!(reply.revoked_devices, 1);
    assert!(app.client.get_account(&erin).await.is_err());
    let again = app
        .client
        .call::<DeletedUserReply>(Some(&root), delete_op("erin"))
        .await;
    assert!(matches!(again, Err(ClientError::Rpc(e)) if e.code == ErrorCode::BadRequest));
    app.stop().await;
}

/// The refusal's code and message, or a panic naming what was let through.
async fn refusal(app: &TestApp, token: &DeviceToken, op: Operation) -> (ErrorCode, String) {
    let name = op.name();
    match app.client.call::<serde_json::Value>(Some(token), op).await {
        Err(ClientError::Rpc(e)) => (e.code, e.message),
        other => panic!("{name} for a deleted user was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_user_is_nobody_to_sign_in_sharing_and_administration() {
    let app = spawn_app().await;
    let root = add_admin(&app, "root").await;
    let (erin, _) = app.user_with_device("erin").await;
    let (frank, _) = app.user_with_device("frank").await;
    let project = create_workspace(&app, &frank, "Project").await;
    let _: DeletedUserReply = app
        .client
        .call(Some(&root), delete_op("erin"))
        .await
        .unwrap();
    assert!(app.client.get_account(&erin).await.is_err());

    // Signing in with the right password is refused as for an unknown name:
    // neither "disabled" nor a failed attempt counted on the dead row.
    let signed_in = app
        .client
        .login(login_args("erin", PASSWORD, "old laptop"))
        .await;
    assert!(
        matches!(&signed_in, Err(ClientError::Rpc(e)) if e.code == ErrorCode::InvalidCredentials),
        "{signed_in:?}"
    );

    let propose = Operation::ProposeShare(ProposeShareArgs {
        workspace_id: project.workspace_id,
        addressees: vec!["erin".into()],
        role: Role::Editor,
        message: None,
    });
    let (code, message) = refusal(&app, &frank, propose).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(message.contains("erin"), "{message}");

    let workspaces = Operation::AdminUserWorkspaces {
        username: "erin".into(),
    };
    let (code, message) = refusal(&app, &root, workspaces).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(message.contains("no user named \"erin\""), "{message}");

    let enable = Operation::AdminUpdateUser(AdminUpdateUserArgs {
        username: "erin".into(),
        disabled: Some(false),
        quota_bytes: None,
        password: None,
    });
    let (code, message) = refusal(&app, &root, enable).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(message.contains("no user named \"erin\""), "{message}");

    let (code, message) = refusal(&app, &root, delete_op("erin")).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(message.contains("no user named \"erin\""), "{message}");

    // Nor can a workspace be handed to them.
    let (grace, _) = app.user_with_device("grace").await;
    let shared = create_workspace(&app, &frank, "Shared").await;
    share(&app, &frank, &shared, ("grace", &grace), Role::Editor).await;
    let hand_to_erin = Operation::AdminDeleteUser(DeleteUserArgs {
        username: "frank".into(),
        transfers: vec![WorkspaceTransfer {
            workspace_id: shared.workspace_id,
            to: "erin".into(),
        }],
        delete_shared: Vec::new(),
    });
    let (code, message) = refusal(&app, &root, hand_to_erin).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(
        message.contains("no user named \"erin\" to hand"),
        "{message}"
    );
    let frank_still: AdminUserWorkspaces = app
        .client
        .call(
            Some(&root),
            Operation::AdminUserWorkspaces {
                username: "frank".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(frank_still.owned.len(), 3, "nothing of frank was deleted");

    // The name is not given out again (the audit log names stay unambiguous).
    let recreate = Operation::AdminAddUser(AdminAddUserArgs {
        username: "erin".into(),
        password: Password(PASSWORD.into()),
        email: None,
        quota_bytes: 1 << 30,
        is_admin: false,
    });
    let (code, message) = refusal(&app, &root, recreate).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(message.contains("deleted user"), "{message}");
    app.stop().await;
}
