//! The administrator's view: the append-only audit log, and users with
//! their logical and stored usage.

use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    CommitItem, CreateLinkArgs, CreatedLink, ErrorCode, Operation, ProposeShareArgs, Role,
};
use nimbus_server::storage::{AuditFilter, AuditRecord};
use sqlx::{Connection, PgConnection};

use crate::cli::{nimbus_server, stdout};
use crate::helpers::{PASSWORD, TestApp, based_on, content, login_args, new_file, spawn_app};
use crate::sharing::{accept_op, create_workspace, propose, user_id};

async fn records(app: &TestApp, user: Option<&str>) -> Vec<AuditRecord> {
    app.store
        .audit_log(&AuditFilter {
            user: user.map(Into::into),
            since: None,
            limit: 1000,
        })
        .await
        .unwrap()
}

/// The records as "actor action target", oldest first.
fn lines(records: &[AuditRecord]) -> Vec<String> {
    records
        .iter()
        .rev()
        .map(|r| {
            format!(
                "{} {} {}",
                r.actor.name.as_deref().unwrap_or("-"),
                r.action,
                r.target.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test]
async fn sign_ins_sharing_and_administration_are_recorded() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    app.add_user("alice").await;
    app.add_user("bob").await;
    let wrong = app
        .client
        .login(login_args("alice", "not her password", "phone"))
        .await;
    assert!(matches!(wrong, Err(ClientError::Rpc(e)) if e.code == ErrorCode::InvalidCredentials));
    let unknown = app
        .client
        .login(login_args("mallory", "a guess at it", "phone"))
        .await;
    assert!(unknown.is_err());
    let alice = app.login("alice", "laptop").await;
    let bob = app.login("bob", "desktop").await;
    let bob_id = user_id(&app, &bob).await;

    let project = create_workspace(&app, &alice, "Project").await;
    let proposal = propose(&app, &alice, &project, "bob", Role::Editor).await;
    let _: serde_json::Value = app
        .client
        .call(Some(&bob), accept_op(&proposal))
        .await
        .unwrap();
    let set_role = Operation::SetMemberRole {
        workspace_id: project.workspace_id,
        user_id: bob_id,
        role: Role::Viewer,
    };
    let _: serde_json::Value = app.client.call(Some(&alice), set_role).await.unwrap();
    let link: CreatedLink = app
        .client
        .call(
            Some(&alice),
            Operation::CreateLink(CreateLinkArgs {
                workspace_id: project.workspace_id,
                item_id: None,
                expires_at: None,
                password: None,
                max_downloads: None,
            }),
        )
        .await
        .unwrap();
    let revoke = Operation::RevokeLink {
        link_id: link.link.link_id,
    };
    let _: serde_json::Value = app.client.call(Some(&alice), revoke).await.unwrap();
    let remove = Operation::RemoveMember {
        workspace_id: project.workspace_id,
        user_id: bob_id,
    };
    let _: serde_json::Value = app.client.call(Some(&alice), remove).await.unwrap();

    stdout(&nimbus_server(
        &url,
        &["user", "set-quota", "bob", "--gib", "3"],
        None,
    ));
    stdout(&nimbus_server(
        &url,
        &["user", "reset-password", "bob", "--password-stdin"],
        Some("a new password for bob\n"),
    ));
    stdout(&nimbus_server(&url, &["user", "disable", "bob"], None));

    let all = records(&app, None).await;
    assert_eq!(
        lines(&all),
        [
            "administrator user-add alice",
            "administrator user-add bob",
            "alice sign-in-failed -",
            "mallory sign-in-failed -",
            "alice sign-in -",
            "bob sign-in -",
            "alice share-propose bob",
            "bob share-accept alice",
            "alice member-role bob",
            "alice link-create alice",
            "alice link-revoke alice",
            "alice member-remove bob",
            "administrator user-quota bob",
            "administrator password-reset bob",
            "administrator user-disable bob",
        ]
    );
    let sign_in = all
        .iter()
        .find(|r| r.action == "sign-in" && r.actor.name.as_deref() == Some("alice"))
        .unwrap();
    assert_eq!(sign_in.detail, r#"device "laptop", linux, test"#);
    assert!(
        all.iter()
            .filter(|r| r.action.starts_with("share") || r.action.starts_with("member"))
            .all(|r| r.workspace_id == Some(project.workspace_id))
    );
    // Never a password or a token, whatever the action.
    for record in &all {
        let text = format!("{record:?}");
        for secret in [
            PASSWORD,
            "not her password",
            "a guess at it",
            "a new password for bob",
            &alice.0,
            &link.token.0,
        ] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    // What bob did or underwent, from the command line.
    let printed = stdout(&nimbus_server(&url, &["audit", "--user", "bob"], None));
    let printed: Vec<&str> = printed.lines().skip(1).collect();
    assert_eq!(printed.len(), 9, "{printed:?}");
    assert!(
        printed[0].contains("user-disable"),
        "newest first: {printed:?}"
    );
    assert!(printed[8].contains("user-add"), "{printed:?}");
    let limited = stdout(&nimbus_server(&url, &["audit", "--limit", "2"], None));
    assert_eq!(limited.lines().count(), 3, "{limited}");
    let future = stdout(&nimbus_server(
        &url,
        &["audit", "--since", "2999-01-01T00:00:00Z"],
        None,
    ));
    assert_eq!(future.lines().count(), 1, "{future}");
    let bad = nimbus_server(&url, &["audit", "--since", "yesterday"], None);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an RFC 3339 time"));

    // Append-only, whoever connects.
    let mut db = PgConnection::connect(&url).await.unwrap();
    for statement in [
        "UPDATE audit_log SET detail = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let error = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut db)
            .await
            .expect_err(statement);
        assert!(error.to_string().contains("append-only"), "{error}");
    }
    assert_eq!(records(&app, None).await, all);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_action_leaves_no_record() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let (alice, _) = app.user_with_device("alice").await;
    let before = records(&app, None).await;
    let project = create_workspace(&app, &alice, "Project").await;
    let refused = app
        .client
        .call::<serde_json::Value>(
            Some(&alice),
            Operation::ProposeShare(ProposeShareArgs {
                workspace_id: project.workspace_id,
                addressees: vec!["nobody".into()],
                role: Role::Viewer,
                message: None,
            }),
        )
        .await;
    assert!(refused.is_err());
    let missing = nimbus_server(&url, &["user", "set-quota", "nobody", "--gib", "1"], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user named"));
    assert_eq!(records(&app, None).await, before);
    app.stop().await;
}

#[tokio::test]
async fn users_show_logical_and_stored_usage() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let (alice, home) = app.user_with_device("alice").await;
    app.add_user("bob").await;
    let file = new_file(None, "report.txt", 1, 3 << 20);
    app.commit(&alice, &home, vec![file.clone()]).await;
    let changed = CommitItem {
        content: content(2, 5 << 20),
        ..based_on(&file, 1)
    };
    app.commit(&alice, &home, vec![changed]).await;

    let users = app.store.list_users().await.unwrap();
    let usage: Vec<(&str, u64, u64)> = users
        .iter()
        .map(|u| (u.user.username.as_str(), u.logical_bytes, u.stored_bytes))
        .collect();
    // Logical: the current version; stored: both versions' chunks.
    assert_eq!(usage, [("alice", 5 << 20, 8 << 20), ("bob", 0, 0)]);
    let listing = stdout(&nimbus_server(&url, &["user", "list"], None));
    let alice_line = listing.lines().find(|l| l.starts_with("alice")).unwrap();
    let columns: Vec<&str> = alice_line.split_whitespace().collect();
    assert_eq!(&columns[2..5], ["5", "8", "1024"], "{listing}");
    app.stop().await;
}
