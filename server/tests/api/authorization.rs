use nimbus_protocol::rpc::{CommitArgs, ErrorCode, GetChangesArgs, Operation};
use uuid::Uuid;

use crate::helpers::{new_file, spawn_app};

#[tokio::test]
async fn another_users_workspace_is_refused_for_every_operation() {
    let app = spawn_app().await;
    let (alice, alice_ws) = app.user_with_device("alice").await;
    let (mallory, mallory_ws) = app.user_with_device("mallory").await;
    app.commit(&alice, &alice_ws, vec![new_file(None, "secret.txt", 1, 10)])
        .await;

    let listed = app.client.get_workspaces(&mallory).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].workspace_id, mallory_ws.workspace_id);

    let attempts = [
        Operation::GetChanges(GetChangesArgs {
            workspace_id: alice_ws.workspace_id,
            since: 0,
            page: None,
            limit: None,
        }),
        Operation::Commit(CommitArgs {
            workspace_id: alice_ws.workspace_id,
            items: vec![new_file(None, "planted.txt", 2, 10)],
        }),
        // A workspace that does not exist looks the same as a foreign one.
        Operation::GetChanges(GetChangesArgs {
            workspace_id: Uuid::new_v4(),
            since: 0,
            page: None,
            limit: None,
        }),
    ];
    for operation in attempts {
        let name = operation.name();
        let error = app
            .client
            .call::<serde_json::Value>(Some(&mallory), operation)
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(ErrorCode::Forbidden), "{name}");
    }

    // Nor can mallory revoke alice's device.
    let alice_device = app.client.get_account(&alice).await.unwrap().device_id;
    let error = app
        .client
        .call::<()>(
            Some(&mallory),
            Operation::RevokeDevice {
                device_id: alice_device,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::Forbidden));
    app.client.get_account(&alice).await.unwrap();

    // An item id of alice's cannot be hijacked from mallory's workspace.
    let alice_items = app
        .changes_since(&alice, alice_ws.workspace_id, 0)
        .await
        .unwrap();
    let mut hijack = new_file(None, "hijack.txt", 3, 10);
    hijack.id = alice_items.items[0].id;
    let reply = app.commit(&mallory, &mallory_ws, vec![hijack]).await;
    assert!(matches!(
        reply.results[0].outcome,
        nimbus_protocol::rpc::ItemOutcome::Refused {
            code: nimbus_protocol::rpc::RefusalCode::IdInUse,
            ..
        }
    ));
    let again = app
        .changes_since(&alice, alice_ws.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(
        again.items, alice_items.items,
        "alice's workspace is untouched"
    );
    app.stop().await;
}
