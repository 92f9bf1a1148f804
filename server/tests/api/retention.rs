//! Retention and "delete forever" against the real PostgreSQL and RabbitMQ:
//! the job removes exactly what the policy says and never a current version,
//! `purgeItem` is for editors and owners of items in the trash only, the
//! quota counts what is kept, and the job racing commits loses none of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    CommitItem, ErrorCode, ItemHistory, ItemOutcome, LocatedItem, Operation, PurgedItem,
    RetentionPolicy, Role, RpcError,
};
use nimbus_server::retention;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::helpers::{TestApp, based_on, content, new_file, new_folder, spawn_app};
use crate::sharing::{create_workspace, share};

/// `item` deleted on top of `version`.
fn deleted(item: &CommitItem, version: u64) -> CommitItem {
    CommitItem {
        deleted: true,
        ..based_on(item, version)
    }
}

/// `item` with the content of `seed`, on top of `version`.
fn changed(item: &CommitItem, version: u64, seed: u8, size: u32) -> CommitItem {
    CommitItem {
        content: content(seed, size),
        ..based_on(item, version)
    }
}

fn committed_version(outcome: &ItemOutcome) -> u64 {
    match outcome {
        ItemOutcome::Committed { version, .. } => *version,
        other => panic!("not committed: {other:?}"),
    }
}

/// Makes the versions of `item` up to `version` look committed `days` ago.
async fn age(app: &TestApp, item: Uuid, version: u64, days: i32) {
    let mut db = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE item_versions SET committed_at = now() - make_interval(days => $3) \
         WHERE item_id = $1 AND version <= $2",
    )
    .bind(item)
    .bind(i64::try_from(version).unwrap())
    .bind(days)
    .execute(&mut db)
    .await
    .unwrap();
}

/// The version numbers of an item that are kept, newest first; `None` when
/// the item is gone.
async fn kept_versions(
    app: &TestApp,
    token: &nimbus_protocol::rpc::DeviceToken,
    item: Uuid,
) -> Option<Vec<u64>> {
    match app
        .client
        .call::<ItemHistory>(Some(token), Operation::GetVersions { item_id: item })
        .await
    {
        Ok(history) => Some(history.versions.iter().map(|v| v.version).collect()),
        Err(ClientError::Rpc(error)) if error.code == ErrorCode::Forbidden => None,
        Err(other) => panic!("getVersions: {other}"),
    }
}

async fn refusal(
    app: &TestApp,
    token: &nimbus_protocol::rpc::DeviceToken,
    operation: Operation,
) -> RpcError {
    match app
        .client
        .call::<serde_json::Value>(Some(token), operation)
        .await
    {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("must be refused, got {other:?}"),
    }
}

async fn quota_used(app: &TestApp, token: &nimbus_protocol::rpc::DeviceToken) -> u64 {
    app.client.get_account(token).await.unwrap().quota_used
}

fn chunk_of(seed: u8) -> String {
    content(seed, 1).chunks[0].id.clone()
}

#[tokio::test]
async fn retention_removes_exactly_what_the_policy_says_and_keeps_current_versions() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    let policy = RetentionPolicy {
        trash_days: 30,
        version_days: 30,
        min_versions: 2,
        max_versions: 3,
    };
    assert_eq!(
        app.client.get_account(&token).await.unwrap().retention,
        RetentionPolicy::default(),
        "getAccount tells the deployment's policy"
    );

    // `old`: six versions (seeds 10..=15), the first five 40 days old. The
    // newest old one stays (min_versions 2 counts the current one).
    let old = new_file(None, "old.txt", 10, 100);
    app.commit(&token, &workspace, vec![old.clone()]).await;
    for version in 1..6u8 {
        app.commit(
            &token,
            &workspace,
            vec![changed(&old, u64::from(version), 10 + version, 100)],
        )
        .await;
    }
    age(&app, old.id, 5, 40).await;
    // `busy`: five recent versions (seeds 20..=24); max_versions 3 keeps three.
    let busy = new_file(None, "busy.txt", 20, 10);
    app.commit(&token, &workspace, vec![busy.clone()]).await;
    for version in 1..5u8 {
        app.commit(
            &token,
            &workspace,
            vec![changed(&busy, u64::from(version), 20 + version, 10)],
        )
        .await;
    }
    // `lone`: one version, 40 days old: the current one, kept.
    let lone = new_file(None, "lone.txt", 30, 7);
    app.commit(&token, &workspace, vec![lone.clone()]).await;
    age(&app, lone.id, 1, 40).await;
    // In the trash for 40 days: a file, and a folder with a file in it.
    let expired = new_file(None, "expired.txt", 40, 1000);
    let folder = new_folder(None, "expired folder");
    let inside = new_file(Some(folder.id), "inside.txt", 41, 500);
    app.commit(
        &token,
        &workspace,
        vec![expired.clone(), folder.clone(), inside.clone()],
    )
    .await;
    app.commit(
        &token,
        &workspace,
        vec![
            deleted(&expired, 1),
            deleted(&inside, 1),
            deleted(&folder, 1),
        ],
    )
    .await;
    for item in [expired.id, folder.id, inside.id] {
        age(&app, item, 2, 40).await;
    }
    // In the trash since today: stays, with both versions.
    let recent = new_file(None, "recent.txt", 50, 3000);
    app.commit(&token, &workspace, vec![recent.clone()]).await;
    app.commit(&token, &workspace, vec![deleted(&recent, 1)])
        .await;

    let every_chunk = 100 * 6 + 10 * 5 + 7 + 1000 + 500 + 3000;
    assert_eq!(quota_used(&app, &token).await, every_chunk);

    let removed = retention::apply(app.store.as_ref(), &policy).await.unwrap();
    assert_eq!(
        removed.items, 3,
        "the expired file, folder and the file in it"
    );
    assert_eq!(removed.versions, 4 + 2 + 2 + 2 + 2, "{removed:?}");

    assert_eq!(kept_versions(&app, &token, old.id).await, Some(vec![6, 5]));
    assert_eq!(
        kept_versions(&app, &token, busy.id).await,
        Some(vec![5, 4, 3])
    );
    assert_eq!(kept_versions(&app, &token, lone.id).await, Some(vec![1]));
    assert_eq!(
        kept_versions(&app, &token, recent.id).await,
        Some(vec![2, 1])
    );
    for gone in [expired.id, folder.id, inside.id] {
        assert_eq!(kept_versions(&app, &token, gone).await, None);
    }

    // The quota and `referencedChunks` count exactly what is kept.
    let kept = 100 * 2 + 10 * 3 + 7 + 3000;
    assert_eq!(removed.freed_bytes, every_chunk - kept);
    assert_eq!(quota_used(&app, &token).await, kept);
    let asked: Vec<String> = [10, 14, 15, 20, 22, 40, 41, 50].map(chunk_of).to_vec();
    let referenced: Vec<String> = app
        .client
        .call(
            Some(&token),
            Operation::ReferencedChunks {
                storage_account: workspace.storage_account.clone(),
                container: workspace.container.clone(),
                chunk_ids: asked,
            },
        )
        .await
        .unwrap();
    let mut expected: Vec<String> = [14, 15, 22, 50].map(chunk_of).to_vec();
    expected.sort();
    assert_eq!(referenced, expected);

    // Removed items cannot show in a delta: the workspace says when they went.
    let changes = app
        .changes_since(&token, workspace.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(changes.purged_revision, changes.revision);
    let listed: Vec<Uuid> = changes.items.iter().map(|item| item.id).collect();
    assert!(!listed.contains(&expired.id) && !listed.contains(&inside.id));

    // Applying it again changes nothing.
    let again = retention::apply(app.store.as_ref(), &policy).await.unwrap();
    assert_eq!((again.items, again.versions, again.freed_bytes), (0, 0, 0));
    app.stop().await;
}

#[tokio::test]
async fn delete_forever_is_for_writers_and_items_in_the_trash_only() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (carol, _) = app.user_with_device("carol").await;
    let (mallory, _) = app.user_with_device("mallory").await;
    let workspace = create_workspace(&app, &alice, "Shared").await;
    share(&app, &alice, &workspace, ("bob", &bob), Role::Editor).await;
    share(&app, &alice, &workspace, ("carol", &carol), Role::Viewer).await;

    let folder = new_folder(None, "reports");
    let report = new_file(Some(folder.id), "q1.txt", 1, 400);
    let shared_chunk = new_file(None, "copy of q1.txt", 1, 400);
    let live = new_file(None, "live.txt", 2, 50);
    app.commit(
        &alice,
        &workspace,
        vec![folder.clone(), report.clone(), shared_chunk, live.clone()],
    )
    .await;
    app.commit(&alice, &workspace, vec![changed(&report, 1, 3, 600)])
        .await;
    app.commit(
        &alice,
        &workspace,
        vec![deleted(&report, 2), deleted(&folder, 1)],
    )
    .await;
    let before = quota_used(&app, &alice).await;
    assert_eq!(before, 400 + 600 + 50, "deleted files count until removed");

    let purge = |item_id| Operation::PurgeItem { item_id };
    let viewer = refusal(&app, &carol, purge(folder.id)).await;
    assert_eq!(viewer.code, ErrorCode::Forbidden, "{viewer:?}");
    let stranger = refusal(&app, &mallory, purge(folder.id)).await;
    assert_eq!(stranger.code, ErrorCode::Forbidden, "{stranger:?}");
    let not_trashed = refusal(&app, &bob, purge(live.id)).await;
    assert_eq!(not_trashed.code, ErrorCode::BadRequest);
    assert!(
        not_trashed.message.contains("not in the trash"),
        "{not_trashed:?}"
    );
    assert_eq!(
        kept_versions(&app, &alice, report.id).await,
        Some(vec![3, 2, 1])
    );

    let mut listener = app.client.listen(&alice).await.unwrap();
    let purged: PurgedItem = app.client.call(Some(&bob), purge(folder.id)).await.unwrap();
    assert_eq!((purged.items, purged.versions), (2, 2 + 3));
    // The first chunk of q1.txt is still its copy's.
    assert_eq!(purged.freed_bytes, 600);
    assert_eq!(quota_used(&app, &alice).await, before - 600);
    assert_eq!(kept_versions(&app, &alice, report.id).await, None);
    assert_eq!(kept_versions(&app, &alice, folder.id).await, None);
    let notification = tokio::time::timeout(Duration::from_secs(5), listener.next())
        .await
        .expect("a notification within 5 s")
        .expect("listener open");
    assert_eq!(notification.workspace_id, workspace.workspace_id);
    assert_eq!(notification.revision, purged.revision);

    let again = refusal(&app, &bob, purge(folder.id)).await;
    assert_eq!(
        again.code,
        ErrorCode::Forbidden,
        "gone like any unknown item"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_retention_job_racing_commits_loses_no_committed_version() {
    let app = spawn_app().await;
    let (token, workspace) = app.user_with_device("alice").await;
    // Keep nothing but current versions, at once.
    let policy = RetentionPolicy {
        trash_days: 0,
        version_days: 0,
        min_versions: 1,
        max_versions: 1,
    };
    let files: Vec<CommitItem> = (0..4u8)
        .map(|n| new_file(None, &format!("file {n}.txt"), n, 100))
        .collect();
    app.commit(&token, &workspace, files.clone()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let removed_versions = Arc::new(AtomicU64::new(0));
    let job = {
        let (store, stop, removed_versions) =
            (app.store.clone(), stop.clone(), removed_versions.clone());
        tokio::spawn(async move {
            let mut passes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let removed = retention::apply(store.as_ref(), &policy).await.unwrap();
                removed_versions.fetch_add(removed.versions, Ordering::Relaxed);
                passes += 1;
            }
            passes
        })
    };

    let mut versions = vec![1u64; files.len()];
    let rounds = 40u8;
    for round in 1..=rounds {
        let batch: Vec<CommitItem> = files
            .iter()
            .zip(&versions)
            .enumerate()
            .map(|(n, (file, version))| {
                changed(
                    file,
                    *version,
                    16 + round * 4 + n as u8,
                    100 + u32::from(round),
                )
            })
            .collect();
        let reply = app.commit(&token, &workspace, batch).await;
        for (version, result) in versions.iter_mut().zip(&reply.results) {
            *version = committed_version(&result.outcome);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let passes = job.await.unwrap();
    let final_pass = retention::apply(app.store.as_ref(), &policy).await.unwrap();
    let removed = removed_versions.load(Ordering::Relaxed) + final_pass.versions;
    println!(
        "{passes} retention passes ran beside {rounds} commits and removed {removed} versions"
    );
    assert!(passes > 1);
    assert_eq!(removed, u64::from(rounds) * files.len() as u64);

    for (n, (file, version)) in files.iter().zip(&versions).enumerate() {
        assert_eq!(*version, u64::from(rounds) + 1);
        let located: LocatedItem = app
            .client
            .call(Some(&token), Operation::GetItem { item_id: file.id })
            .await
            .unwrap();
        assert_eq!(located.item.version, *version);
        assert_eq!(
            located.item.content,
            content(16 + rounds * 4 + n as u8, 100 + u32::from(rounds)),
            "the last committed content of {}",
            file.name
        );
        assert_eq!(
            kept_versions(&app, &token, file.id).await,
            Some(vec![*version])
        );
    }
    assert_eq!(
        quota_used(&app, &token).await,
        files.len() as u64 * (100 + u64::from(rounds)),
        "the quota counts the current versions only"
    );
    app.stop().await;
}
