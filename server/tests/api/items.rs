//! Reading single items, folders and version history (for the REST API).

use nimbus_protocol::rpc::{
    ErrorCode, ItemHistory, ItemState, LocatedItem, Operation, VersionStatus,
};

use crate::helpers::{based_on, content, new_file, new_folder, spawn_app};

#[tokio::test]
async fn items_folders_and_history_are_readable_by_members_only() {
    let app = spawn_app().await;
    let (alice, workspace) = app.user_with_device("alice").await;
    let (mallory, _) = app.user_with_device("mallory").await;
    let docs = new_folder(None, "docs");
    let draft = new_file(Some(docs.id), "draft.txt", 1, 100);
    let sub = new_folder(Some(docs.id), "old");
    app.commit(
        &alice,
        &workspace,
        vec![docs.clone(), draft.clone(), sub.clone()],
    )
    .await;
    let mut edited = based_on(&draft, 1);
    edited.content = content(2, 200);
    edited.name = "final.txt".into();
    app.commit(&alice, &workspace, vec![edited]).await;

    let located: LocatedItem = app
        .client
        .call(Some(&alice), Operation::GetItem { item_id: draft.id })
        .await
        .unwrap();
    assert_eq!(located.workspace_id, workspace.workspace_id);
    assert_eq!(located.item.name, "final.txt");
    assert_eq!(located.item.content, content(2, 200));

    let listing: Vec<ItemState> = app
        .client
        .call(
            Some(&alice),
            Operation::ListFolder {
                workspace_id: workspace.workspace_id,
                folder_id: Some(docs.id),
            },
        )
        .await
        .unwrap();
    let names: Vec<&str> = listing.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["old", "final.txt"], "folders first, then by name");
    let top: Vec<ItemState> = app
        .client
        .call(
            Some(&alice),
            Operation::ListFolder {
                workspace_id: workspace.workspace_id,
                folder_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(top.len(), 1);

    let history: ItemHistory = app
        .client
        .call(Some(&alice), Operation::GetVersions { item_id: draft.id })
        .await
        .unwrap();
    let summary: Vec<(u64, &str, VersionStatus)> = history
        .versions
        .iter()
        .map(|v| (v.version, v.name.as_str(), v.status))
        .collect();
    assert_eq!(
        summary,
        [
            (2, "final.txt", VersionStatus::Changed),
            (1, "draft.txt", VersionStatus::New)
        ]
    );
    assert_eq!(
        history.versions[1].content,
        content(1, 100),
        "old chunks are kept"
    );

    for operation in [
        Operation::GetItem { item_id: draft.id },
        Operation::GetVersions { item_id: draft.id },
        Operation::GetItem {
            item_id: uuid::Uuid::new_v4(),
        },
        Operation::ListFolder {
            workspace_id: workspace.workspace_id,
            folder_id: None,
        },
    ] {
        let name = operation.name();
        let error = app
            .client
            .call::<serde_json::Value>(Some(&mallory), operation)
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(ErrorCode::Forbidden), "{name}");
    }
    app.stop().await;
}
