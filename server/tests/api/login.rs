use nimbus_protocol::rpc::{
    ChangePasswordArgs, CommitArgs, DeviceArgs, DeviceInfo, ErrorCode, GetChangesArgs, LoginReply,
    Operation, Password,
};
use uuid::Uuid;

use crate::helpers::{PASSWORD, login_args, new_file, spawn_app};

#[tokio::test]
async fn good_login_gives_a_working_token_and_bad_ones_do_not() {
    let app = spawn_app().await;
    app.add_user("alice").await;

    let reply = app
        .client
        .login(login_args("alice", PASSWORD, "laptop"))
        .await
        .unwrap();
    let account = app.client.get_account(&reply.token).await.unwrap();
    assert_eq!(account.username, "alice");
    assert_eq!(account.device_id, reply.device_id);
    assert_eq!(account.storage_account, "AUTH_alice");
    assert_eq!(account.storage_url, "http://127.0.0.1:8080/v1/AUTH_alice");
    assert_eq!((account.quota_used, account.quota_limit), (0, 1 << 30));

    for (user, password) in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("alice", ""),
    ] {
        let error = app
            .client
            .login(login_args(user, password, "laptop"))
            .await
            .unwrap_err();
        assert_eq!(
            error.rpc_code(),
            Some(ErrorCode::InvalidCredentials),
            "{user}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_slow_down_further_attempts() {
    let app = spawn_app().await;
    app.add_user("alice").await;
    for _ in 0..5 {
        let error = app
            .client
            .login(login_args("alice", "guess", "x"))
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(ErrorCode::InvalidCredentials));
    }
    // Even the right password has to wait now.
    let error = app
        .client
        .login(login_args("alice", PASSWORD, "x"))
        .await
        .unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::TooManyAttempts));
    match error {
        nimbus_protocol::ClientError::Rpc(e) => assert!(e.retry_after_secs.unwrap() >= 1),
        other => panic!("{other}"),
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.client
        .login(login_args("alice", PASSWORD, "x"))
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_device("alice").await;
    // The real token with its last character changed (to one it cannot be).
    let (kept, last) = token.0.split_at(token.0.len() - 1);
    let forged =
        nimbus_protocol::rpc::DeviceToken(format!("{kept}{}", if last == "0" { "1" } else { "0" }));
    for token in [None, Some(&forged)] {
        let error = app
            .client
            .call::<serde_json::Value>(token, Operation::GetWorkspaces)
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(ErrorCode::Unauthenticated));
    }
    app.stop().await;
}

#[tokio::test]
async fn logout_and_revocation_end_a_token_and_disabling_ends_them_all() {
    let app = spawn_app().await;
    let (laptop, _) = app.user_with_device("alice").await;
    let phone = app.login("alice", "phone").await;

    // A second device registered from the first.
    let tablet: LoginReply = app
        .client
        .call(
            Some(&laptop),
            Operation::RegisterDevice(DeviceArgs {
                device_name: "tablet".into(),
                os: None,
                app_version: None,
            }),
        )
        .await
        .unwrap();

    app.client.logout(&phone).await.unwrap();
    let error = app.client.get_account(&phone).await.unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::Unauthenticated));

    let _: () = app
        .client
        .call(
            Some(&laptop),
            Operation::RevokeDevice {
                device_id: tablet.device_id,
            },
        )
        .await
        .unwrap();
    assert!(app.client.get_account(&tablet.token).await.is_err());

    let devices: Vec<DeviceInfo> = app
        .client
        .call(Some(&laptop), Operation::ListDevices)
        .await
        .unwrap();
    assert_eq!(devices.len(), 3);
    assert_eq!(devices.iter().filter(|d| d.revoked).count(), 2);

    nimbus_server::admin::set_disabled(
        app.store.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "alice",
        true,
    )
    .await
    .unwrap();
    let error = app.client.get_account(&laptop).await.unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::Unauthenticated));
    let error = app
        .client
        .login(login_args("alice", PASSWORD, "x"))
        .await
        .unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::AccountDisabled));
    app.stop().await;
}

#[tokio::test]
async fn expired_sessions_leave_the_device_list_and_are_purged_unless_they_wrote() {
    let app = spawn_app().await;
    let (laptop, workspace) = app.user_with_device("alice").await;
    let session = |name: &str| {
        let mut args = login_args("alice", PASSWORD, name);
        args.token_ttl_secs = Some(1);
        args
    };
    let reader = app.client.login(session("swift")).await.unwrap();
    let writer = app.client.login(session("script")).await.unwrap();
    app.client
        .commit(
            &writer.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: workspace.workspace_id,
                items: vec![new_file(None, "a.txt", 1, 10)],
            },
        )
        .await
        .unwrap();
    let names = || async {
        let devices: Vec<DeviceInfo> = app
            .client
            .call(Some(&laptop), Operation::ListDevices)
            .await
            .unwrap();
        devices.into_iter().map(|d| d.name).collect::<Vec<_>>()
    };
    assert_eq!(names().await, ["laptop", "swift", "script"]);

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(names().await, ["laptop"]);
    // The session that committed is kept: its version names it.
    assert_eq!(app.store.purge_expired_devices(0).await.unwrap(), 1);
    assert_eq!(app.store.purge_expired_devices(0).await.unwrap(), 0);
    let versions = app
        .client
        .get_changes(
            &laptop,
            GetChangesArgs {
                workspace_id: workspace.workspace_id,
                since: 0,
                page: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(versions.items.len(), 1);
    assert!(app.client.get_account(&reader.token).await.is_err());
    app.client.get_account(&laptop).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn expiring_tokens_expire() {
    let app = spawn_app().await;
    app.add_user("alice").await;
    let mut args = login_args("alice", PASSWORD, "swift");
    args.token_ttl_secs = Some(1);
    let reply = app.client.login(args).await.unwrap();
    assert!(reply.expires_at.is_some());
    app.client.get_account(&reply.token).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let error = app.client.get_account(&reply.token).await.unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::Unauthenticated));
    app.stop().await;
}

#[tokio::test]
async fn a_password_changes_only_with_the_current_one_and_signs_out_the_other_devices() {
    let app = spawn_app().await;
    app.add_user("alice").await;
    let token = app.login("alice", "laptop").await;
    let other = app.login("alice", "phone").await;
    let change = |old: &str, new: &str| {
        Operation::ChangePassword(ChangePasswordArgs {
            old_password: Password(old.into()),
            new_password: Password(new.into()),
        })
    };
    let refused = |error: nimbus_protocol::ClientError| error.rpc_code();
    let wrong_old = app
        .client
        .call::<()>(Some(&token), change("not it", "a new passphrase"))
        .await
        .unwrap_err();
    assert_eq!(refused(wrong_old), Some(ErrorCode::InvalidCredentials));
    let too_short = app
        .client
        .call::<()>(Some(&token), change(PASSWORD, "short"))
        .await
        .unwrap_err();
    assert_eq!(refused(too_short), Some(ErrorCode::BadRequest));
    // Neither refusal changed anything.
    app.client
        .login(login_args("alice", PASSWORD, "check"))
        .await
        .unwrap();

    app.client
        .call::<()>(Some(&token), change(PASSWORD, "a new passphrase"))
        .await
        .unwrap();
    let old = app
        .client
        .login(login_args("alice", PASSWORD, "x"))
        .await
        .unwrap_err();
    assert_eq!(old.rpc_code(), Some(ErrorCode::InvalidCredentials));
    app.client
        .login(login_args("alice", "a new passphrase", "x"))
        .await
        .unwrap();
    // The session that changed it stays; every other device is signed out.
    assert_eq!(
        app.client.get_account(&token).await.unwrap().username,
        "alice"
    );
    let ended = app.client.get_account(&other).await.unwrap_err();
    assert_eq!(ended.rpc_code(), Some(ErrorCode::Unauthenticated));
    app.stop().await;
}
