//! `referencedChunks` and `reportMissingContent`: what the proxy asks before
//! a Swift request destroys a chunk, and how a device reports content the
//! object store lost. Both answer members only.

use std::time::Duration;

use nimbus_protocol::notify::{Push, WorkspaceEvent};
use nimbus_protocol::rpc::{ErrorCode, Operation};

use crate::helpers::{based_on, content, new_file, new_folder, spawn_app};

fn referenced_chunks(storage_account: &str, container: &str, ids: &[String]) -> Operation {
    Operation::ReferencedChunks {
        storage_account: storage_account.into(),
        container: container.into(),
        chunk_ids: ids.to_vec(),
    }
}

#[tokio::test]
async fn referenced_chunks_answers_members_with_every_retained_version() {
    let app = spawn_app().await;
    let (alice, workspace) = app.user_with_device("alice").await;
    let (mallory, mallorys) = app.user_with_device("mallory").await;
    let file = new_file(None, "a.txt", 1, 100);
    app.commit(&alice, &workspace, vec![file.clone()]).await;
    let mut edited = based_on(&file, 1);
    edited.content = content(2, 100);
    app.commit(&alice, &workspace, vec![edited]).await;
    let first = content(1, 100).chunks[0].id.clone();
    let second = content(2, 100).chunks[0].id.clone();
    let unknown = "0f".repeat(32);
    let asked = [first.clone(), second.clone(), unknown];
    let (account, container) = (&workspace.storage_account, &workspace.container);

    // The old version keeps its chunk: history can restore it.
    let referenced: Vec<String> = app
        .client
        .call(Some(&alice), referenced_chunks(account, container, &asked))
        .await
        .unwrap();
    assert_eq!(referenced, {
        let mut both = vec![first.clone(), second.clone()];
        both.sort();
        both
    });

    // Another user learns nothing about alice's workspace.
    let refused = app
        .client
        .call::<Vec<String>>(
            Some(&mallory),
            referenced_chunks(account, container, &asked),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.rpc_code(), Some(ErrorCode::Forbidden));
    // A container that holds no workspace references nothing, nor does
    // the same container name in another account.
    for (account, container) in [
        (account.as_str(), "photos"),
        (mallorys.storage_account.as_str(), container.as_str()),
    ] {
        let none: Vec<String> = app
            .client
            .call(
                Some(&mallory),
                referenced_chunks(account, container, &asked),
            )
            .await
            .unwrap();
        assert!(none.is_empty(), "{account}/{container}: {none:?}");
    }
    // No token, bad ids, too many ids.
    let anonymous = app
        .client
        .call::<Vec<String>>(None, referenced_chunks(account, container, &asked))
        .await
        .unwrap_err();
    assert_eq!(anonymous.rpc_code(), Some(ErrorCode::Unauthenticated));
    for ids in [
        vec!["../etc".to_owned()],
        vec!["AB".repeat(32)],
        vec![first.clone(); 10_001],
    ] {
        let bad = app
            .client
            .call::<Vec<String>>(Some(&alice), referenced_chunks(account, container, &ids))
            .await
            .unwrap_err();
        assert_eq!(bad.rpc_code(), Some(ErrorCode::BadRequest), "{}", bad);
    }
    app.stop().await;
}

#[tokio::test]
async fn missing_content_is_announced_to_the_workspace_by_members_only() {
    let app = spawn_app().await;
    let (alice, workspace) = app.user_with_device("alice").await;
    let (mallory, _) = app.user_with_device("mallory").await;
    let other_device = app.login("alice", "desktop").await;
    let folder = new_folder(None, "docs");
    let file = new_file(Some(folder.id), "a.txt", 1, 100);
    app.commit(&alice, &workspace, vec![folder.clone(), file.clone()])
        .await;
    let mut alice_hears = app.client.listen(&other_device).await.unwrap();
    let mut mallory_hears = app.client.listen(&mallory).await.unwrap();

    let refused = app
        .client
        .call::<()>(
            Some(&mallory),
            Operation::ReportMissingContent { item_id: file.id },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.rpc_code(), Some(ErrorCode::Forbidden));
    let folder_report = app
        .client
        .call::<()>(
            Some(&alice),
            Operation::ReportMissingContent { item_id: folder.id },
        )
        .await
        .unwrap_err();
    assert_eq!(folder_report.rpc_code(), Some(ErrorCode::BadRequest));

    app.client
        .call::<()>(
            Some(&alice),
            Operation::ReportMissingContent { item_id: file.id },
        )
        .await
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), alice_hears.next_push())
        .await
        .expect("the event arrives in time")
        .expect("the listener is open");
    assert_eq!(
        heard,
        Push::Workspace(WorkspaceEvent::ContentMissing {
            workspace_id: workspace.workspace_id,
            item_id: file.id,
        })
    );
    // Only the workspace's devices hear it, and only the valid report.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), mallory_hears.next_push())
            .await
            .is_err(),
        "another user heard of alice's workspace"
    );
    app.stop().await;
}
