//! A folder becomes a workspace of its own (`convertFolder`,
//! docs/sharing.md): same item ids and history, the folder deleted in the
//! source with `moved_to`, idempotent, refused (changing nothing) for
//! whoever may not or wherever shares would nest; and the chunks of its
//! versions stay needed in the source until `rekeyVersion` swaps them.

use nimbus_protocol::rpc::{
    AcceptProposalArgs, ChunkPlace, Content, ConvertFolderArgs, ConvertedFolder, ConvertedFrom,
    ErrorCode, ItemHistory, ItemState, Operation, RekeyCursor, RekeyOutcome, RekeyVersionArgs,
    Role, VersionToRekey, WorkspaceInfo,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::helpers::{TestApp, based_on, content, new_file, new_folder, spawn_app};
use crate::sharing::{call, create_workspace, propose, refused, share};
use crate::snapshot::{assert_unchanged, database_snapshot};

fn convert_op(folder: Uuid, workspace_id: Uuid) -> Operation {
    Operation::ConvertFolder(ConvertFolderArgs {
        item_id: folder,
        workspace_id,
    })
}

fn source_place(workspace: &WorkspaceInfo) -> ChunkPlace {
    ChunkPlace {
        workspace_id: workspace.workspace_id,
        storage_account: workspace.storage_account.clone(),
        container: workspace.container.clone(),
    }
}

async fn versions_to_rekey(app: &TestApp) -> Vec<VersionToRekey> {
    app.client
        .call(
            None,
            Operation::ListVersionsToRekey {
                after: None,
                limit: 1000,
            },
        )
        .await
        .expect("listVersionsToRekey as the services")
}

#[tokio::test]
async fn a_converted_folder_keeps_its_ids_and_history_and_a_resent_request_answers_the_same() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let photos = new_folder(None, "Photos");
    let year = new_folder(Some(photos.id), "2024");
    let beach = new_file(Some(year.id), "beach.jpg", 1, 1000);
    let trashed = new_file(Some(photos.id), "blurry.jpg", 2, 500);
    let elsewhere = new_file(None, "notes.txt", 3, 10);
    app.commit(
        &alice,
        &home,
        vec![
            photos.clone(),
            year.clone(),
            beach.clone(),
            trashed.clone(),
            elsewhere.clone(),
        ],
    )
    .await;
    let mut edited = based_on(&beach, 1);
    edited.content = content(4, 2000);
    let mut deleted = based_on(&trashed, 1);
    deleted.deleted = true;
    deleted.content = Content::default();
    let before = app
        .commit(&alice, &home, vec![edited, deleted])
        .await
        .revision;

    let new_id = Uuid::new_v4();
    let converted: ConvertedFolder = call(&app, &alice, convert_op(photos.id, new_id)).await;
    let workspace = &converted.workspace;
    assert_eq!(workspace.workspace_id, new_id);
    assert_eq!(
        (workspace.name.as_str(), workspace.mount_parent),
        ("Photos", None)
    );
    assert_eq!((workspace.role, workspace.is_default), (Role::Owner, false));
    assert_eq!(
        workspace.converted_from,
        Some(ConvertedFrom {
            workspace_id: home.workspace_id,
            folder_id: photos.id,
        })
    );
    assert_eq!(converted.source_revision, before + 1);
    assert_eq!(workspace.revision, 1);

    // The source shows one change: the folder deleted, moved to the new one.
    let delta = app
        .changes_since(&alice, home.workspace_id, before)
        .await
        .unwrap();
    assert_eq!(delta.revision, before + 1);
    let ids: Vec<Uuid> = delta.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, [photos.id]);
    assert!(delta.items[0].deleted);
    assert_eq!(delta.items[0].moved_to, Some(new_id));
    let whole = app
        .changes_since(&alice, home.workspace_id, 0)
        .await
        .unwrap();
    let live: Vec<&str> = whole
        .items
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(live, ["notes.txt"]);

    // The new workspace holds the same ids, the folder's children at its top,
    // read under the source's keys until re-keyed.
    let moved = app.changes_since(&alice, new_id, 0).await.unwrap();
    assert_eq!(moved.revision, 1);
    let by_id = |id: Uuid| -> &ItemState { moved.items.iter().find(|i| i.id == id).unwrap() };
    assert_eq!(moved.items.len(), 3);
    assert_eq!(by_id(year.id).parent_id, None);
    assert_eq!(by_id(beach.id).parent_id, Some(year.id));
    assert_eq!(by_id(beach.id).version, 2);
    assert_eq!(by_id(beach.id).content.chunks, content(4, 2000).chunks);
    assert_eq!(by_id(beach.id).chunk_workspace, Some(source_place(&home)));
    assert!(by_id(trashed.id).deleted);
    assert_eq!(by_id(year.id).chunk_workspace, None);
    let history: ItemHistory =
        call(&app, &alice, Operation::GetVersions { item_id: beach.id }).await;
    assert_eq!(history.workspace_id, new_id);
    let versions: Vec<(u64, u64, bool)> = history
        .versions
        .iter()
        .map(|v| (v.version, v.content.size, v.chunk_workspace.is_some()))
        .collect();
    assert_eq!(versions, [(2, 2000, true), (1, 1000, true)]);

    // The same request again: the same answer, nothing more changed.
    let snapshot = database_snapshot(&app.settings.database_url).await;
    let again: ConvertedFolder = call(&app, &alice, convert_op(photos.id, new_id)).await;
    assert_eq!(again, converted);
    assert_unchanged(
        &snapshot,
        &database_snapshot(&app.settings.database_url).await,
        "a re-sent convertFolder",
    );
    // The id for another folder is refused.
    let other = new_folder(None, "Other");
    app.commit(&alice, &home, vec![other.clone()]).await;
    let reused = refused(&app, &alice, convert_op(other.id, new_id)).await;
    assert_eq!(reused.code, ErrorCode::BadRequest, "{reused:?}");

    // It is listed with its place, and can be shared as any workspace.
    let listed = app.client.get_workspaces(&alice).await.unwrap();
    assert!(listed.contains(workspace), "{listed:?}");
    let mount = share(&app, &alice, workspace, ("bob", &bob), Role::Editor).await;
    assert_eq!(mount.workspace_id, new_id);
    let seen = app.changes_since(&bob, new_id, 0).await.unwrap();
    assert_eq!(seen.items.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn conversions_that_would_nest_or_are_not_the_owners_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let (bob, bobs_home) = app.user_with_device("bob").await;
    let (mallory, _) = app.user_with_device("mallory").await;
    let docs = new_folder(None, "Docs");
    let file = new_file(Some(docs.id), "a.txt", 1, 10);
    let gone = new_folder(None, "Gone");
    let holder = new_folder(None, "Holder");
    let named = new_folder(None, "Projects");
    app.commit(
        &alice,
        &home,
        vec![
            docs.clone(),
            file.clone(),
            gone.clone(),
            holder.clone(),
            named.clone(),
        ],
    )
    .await;
    let mut delete_gone = based_on(&gone, 1);
    delete_gone.deleted = true;
    app.commit(&alice, &home, vec![delete_gone]).await;
    // A workspace of alice's named like her folder "Projects".
    create_workspace(&app, &alice, "Projects").await;
    // Bob's share, mounted inside alice's folder "Holder".
    let bobs = create_workspace(&app, &bob, "Shared by Bob").await;
    let proposal = propose(&app, &bob, &bobs, "alice", Role::Editor).await;
    let _: WorkspaceInfo = call(
        &app,
        &alice,
        Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id: proposal.proposal_id,
            mount_name: None,
            mount_parent: Some(holder.id),
            key_check: None,
        }),
    )
    .await;
    let inner = new_folder(None, "Inner");
    app.commit(&bob, &bobs, vec![inner.clone()]).await;
    // Bob as editor of a workspace of alice's (not her default one).
    let team = create_workspace(&app, &alice, "Team").await;
    let team_folder = new_folder(None, "Plans");
    app.commit(&alice, &team, vec![team_folder.clone()]).await;
    share(&app, &alice, &team, ("bob", &bob), Role::Editor).await;

    let cases: Vec<(
        &str,
        &nimbus_protocol::rpc::DeviceToken,
        Uuid,
        ErrorCode,
        &str,
    )> = vec![
        (
            "a stranger",
            &mallory,
            docs.id,
            ErrorCode::Forbidden,
            "no such folder",
        ),
        (
            "an editor",
            &bob,
            team_folder.id,
            ErrorCode::Forbidden,
            "only the owner",
        ),
        (
            "a folder of a shared workspace",
            &alice,
            team_folder.id,
            ErrorCode::BadRequest,
            "do not nest",
        ),
        (
            "a folder of someone else's share",
            &alice,
            inner.id,
            ErrorCode::Forbidden,
            "only the owner",
        ),
        (
            "a file",
            &alice,
            file.id,
            ErrorCode::BadRequest,
            "only a folder",
        ),
        (
            "a deleted folder",
            &alice,
            gone.id,
            ErrorCode::BadRequest,
            "only a folder",
        ),
        (
            "the top (no item)",
            &alice,
            Uuid::nil(),
            ErrorCode::BadRequest,
            "nil",
        ),
        (
            "a folder holding a mount",
            &alice,
            holder.id,
            ErrorCode::BadRequest,
            "move that mount out",
        ),
        (
            "a name in use",
            &alice,
            named.id,
            ErrorCode::BadRequest,
            "already have a workspace",
        ),
    ];
    for (what, token, folder, code, says) in cases {
        let before = database_snapshot(&app.settings.database_url).await;
        let error = refused(&app, token, convert_op(folder, Uuid::new_v4())).await;
        assert_eq!(error.code, code, "{what}: {error:?}");
        assert!(error.message.contains(says), "{what}: {}", error.message);
        assert_unchanged(
            &before,
            &database_snapshot(&app.settings.database_url).await,
            what,
        );
    }

    // An end-to-end encrypted default workspace: only its owner's client
    // could re-encrypt the chunks.
    let mut db = PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE workspaces SET encryption = 'client', key_check = $2 WHERE id = $1")
        .bind(bobs_home.workspace_id)
        .bind("ab".repeat(16))
        .execute(&mut db)
        .await
        .unwrap();
    let secret = new_folder(None, "Secret");
    app.commit(&bob, &bobs_home, vec![secret.clone()]).await;
    let before = database_snapshot(&app.settings.database_url).await;
    let error = refused(&app, &bob, convert_op(secret.id, Uuid::new_v4())).await;
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(
        error.message.contains("end-to-end encrypted"),
        "{}",
        error.message
    );
    assert_unchanged(
        &before,
        &database_snapshot(&app.settings.database_url).await,
        "an encrypted folder",
    );
    app.stop().await;
}

#[tokio::test]
async fn source_chunks_stay_needed_until_each_version_is_rekeyed_once() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let folder = new_folder(None, "Music");
    let song = new_file(Some(folder.id), "song.ogg", 7, 300);
    let kept = new_file(None, "kept.txt", 8, 30);
    app.commit(
        &alice,
        &home,
        vec![folder.clone(), song.clone(), kept.clone()],
    )
    .await;
    let new_id = Uuid::new_v4();
    let converted: ConvertedFolder = call(&app, &alice, convert_op(folder.id, new_id)).await;
    let source_chunk = content(7, 300).chunks[0].id.clone();
    let collect = |claim: i64| Operation::CollectChunks {
        storage_account: home.storage_account.clone(),
        container: home.container.clone(),
        claim,
        chunk_ids: vec![source_chunk.clone()],
    };

    // Needed in the source container: by the moved version.
    let referenced: Vec<String> = call(
        &app,
        &alice,
        Operation::ReferencedChunks {
            storage_account: home.storage_account.clone(),
            container: home.container.clone(),
            chunk_ids: vec![source_chunk.clone()],
        },
    )
    .await;
    assert_eq!(referenced, std::slice::from_ref(&source_chunk));
    let claimed: Vec<String> = app.client.call(None, collect(1)).await.unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");

    let listed = versions_to_rekey(&app).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let version = &listed[0];
    assert_eq!((version.item_id, version.version), (song.id, 1));
    assert_eq!(version.source, source_place(&home));
    assert_eq!(version.target.workspace_id, new_id);
    assert_eq!(version.content.chunks, content(7, 300).chunks);
    let after_last: Vec<VersionToRekey> = app
        .client
        .call(
            None,
            Operation::ListVersionsToRekey {
                after: Some(RekeyCursor {
                    item_id: song.id,
                    version: 1,
                }),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(after_last.is_empty());

    let rekeyed = content(9, 300);
    let swap = Operation::RekeyVersion(RekeyVersionArgs {
        item_id: song.id,
        version: 1,
        chunk_workspace: home.workspace_id,
        content: rekeyed.clone(),
    });
    let wrong_size = Operation::RekeyVersion(RekeyVersionArgs {
        item_id: song.id,
        version: 1,
        chunk_workspace: home.workspace_id,
        content: content(9, 299),
    });
    assert!(
        app.client
            .call::<RekeyOutcome>(None, wrong_size)
            .await
            .is_err()
    );
    let outcome: RekeyOutcome = app.client.call(None, swap.clone()).await.unwrap();
    assert_eq!(
        outcome,
        RekeyOutcome::Rekeyed {
            revision: converted.workspace.revision + 1
        }
    );
    // A second run of the job loses harmlessly.
    let again: RekeyOutcome = app.client.call(None, swap).await.unwrap();
    assert_eq!(again, RekeyOutcome::Stale);
    assert!(versions_to_rekey(&app).await.is_empty());

    // Same version, new chunks and hash, a new revision of the item.
    let delta = app.changes_since(&alice, new_id, 1).await.unwrap();
    assert_eq!(delta.items.len(), 1);
    let state = &delta.items[0];
    assert_eq!((state.id, state.version), (song.id, 1));
    assert_eq!(state.content.chunks, rekeyed.chunks);
    assert_eq!(state.content.content_hash, rekeyed.content_hash);
    assert_eq!(state.chunk_workspace, None);

    // Only now may the source's copy go.
    let claimed: Vec<String> = app.client.call(None, collect(2)).await.unwrap();
    assert_eq!(claimed, [source_chunk]);
    app.stop().await;
}

#[tokio::test]
async fn restoring_a_version_not_rekeyed_yet_keeps_reading_it_from_the_source() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let folder = new_folder(None, "Drafts");
    let draft = new_file(Some(folder.id), "draft.txt", 1, 100);
    app.commit(&alice, &home, vec![folder.clone(), draft.clone()])
        .await;
    let new_id = Uuid::new_v4();
    let converted: ConvertedFolder = call(&app, &alice, convert_op(folder.id, new_id)).await;
    let moved = converted.workspace;
    // An edit under the new workspace's keys, then the old version back.
    let mut edited = based_on(&draft, 1);
    edited.parent_id = None;
    edited.content = content(2, 100);
    app.commit(&alice, &moved, vec![edited]).await;
    let mut restored = based_on(&draft, 2);
    restored.parent_id = None;
    app.commit(&alice, &moved, vec![restored]).await;
    let history: ItemHistory =
        call(&app, &alice, Operation::GetVersions { item_id: draft.id }).await;
    let places: Vec<(u64, Option<Uuid>)> = history
        .versions
        .iter()
        .map(|v| {
            (
                v.version,
                v.chunk_workspace.as_ref().map(|p| p.workspace_id),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (3, Some(home.workspace_id)),
            (2, None),
            (1, Some(home.workspace_id))
        ]
    );
    app.stop().await;
}
