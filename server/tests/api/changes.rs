use std::collections::HashSet;

use nimbus_protocol::rpc::{GetChangesArgs, ItemOutcome};
use uuid::Uuid;

use crate::helpers::{based_on, new_file, new_folder, spawn_app};

#[tokio::test]
async fn changes_from_zero_and_from_a_cursor() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let empty = app
        .changes_since(&token, workspace.workspace_id, 0)
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.revision, 0);

    let docs = new_folder(None, "docs");
    let report = new_file(Some(docs.id), "report.pdf", 1, 1000);
    let first = app
        .commit(&token, &workspace, vec![docs.clone(), report.clone()])
        .await;
    assert_eq!(first.revision, 1);

    let photo = new_file(None, "photo.jpg", 2, 500);
    let second = app.commit(&token, &workspace, vec![photo.clone()]).await;
    assert_eq!(second.revision, 2);

    let all = app
        .changes_since(&token, workspace.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(all.revision, 2);
    assert!(all.next_page.is_none());
    let ids: Vec<Uuid> = all.items.iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&docs.id) && ids.contains(&report.id) && ids.contains(&photo.id));
    let stored_report = all.items.iter().find(|i| i.id == report.id).unwrap();
    assert_eq!(
        stored_report.content, report.content,
        "chunk list comes back in order"
    );
    assert_eq!(stored_report.parent_id, Some(docs.id));
    assert_eq!(stored_report.revision, 1);

    let delta = app
        .changes_since(&token, workspace.workspace_id, 1)
        .await
        .unwrap();
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].id, photo.id);

    // A rename shows up after the cursor once, with its new name.
    let mut renamed = based_on(&photo, 1);
    renamed.name = "holiday.jpg".into();
    app.commit(&token, &workspace, vec![renamed]).await;
    let delta = app
        .changes_since(&token, workspace.workspace_id, 2)
        .await
        .unwrap();
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].name, "holiday.jpg");
    assert_eq!(delta.items[0].version, 2);
    assert_eq!(delta.revision, 3);

    let nothing = app
        .changes_since(&token, workspace.workspace_id, 3)
        .await
        .unwrap();
    assert!(nothing.items.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn large_deltas_come_in_pages_that_add_up() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let mut expected = HashSet::new();
    for batch in 0..5 {
        let items: Vec<_> = (0..50)
            .map(|i| new_file(None, &format!("f-{batch}-{i}"), 3, 10))
            .collect();
        expected.extend(items.iter().map(|i| i.id));
        let reply = app.commit(&token, &workspace, items).await;
        assert!(
            reply
                .results
                .iter()
                .all(|r| matches!(r.outcome, ItemOutcome::Committed { .. }))
        );
    }
    let mut seen = HashSet::new();
    let mut page = None;
    let mut pages = 0;
    let final_revision = loop {
        let changes = app
            .client
            .get_changes(
                &token,
                GetChangesArgs {
                    workspace_id: workspace.workspace_id,
                    since: 0,
                    page,
                    limit: Some(64),
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(changes.items.len() <= 64);
        for item in &changes.items {
            assert!(seen.insert(item.id), "an item came twice");
        }
        match changes.next_page {
            Some(next) => page = Some(next),
            None => break changes.revision,
        }
    };
    assert_eq!(pages, 4);
    assert_eq!(seen, expected);
    assert_eq!(final_revision, 5);
    app.stop().await;
}
