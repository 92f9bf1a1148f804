//! The web UI's organizing pages without a browser: the trash and restoring
//! from it, a file's versions, move with the folder chooser, copy,
//! conflicted copies, and changing the password; and their refusals
//! (another user's ids, a missing CSRF token, a viewer's writes).

use nimbus_protocol::rpc::{CommitItem, ItemHistory, ItemState, Operation, Role};
use uuid::Uuid;

use crate::browser::Browser;
use crate::helpers::{Device, PASSWORD, TestApp, device, spawn_app};
use crate::sharing::{create_workspace, share};
use crate::web::{commit, file, folder, location};

/// Every version of `id`, newest first, as the metadata servers keep them.
async fn history(laptop: &Device, id: Uuid) -> Vec<ItemState> {
    let history: ItemHistory = laptop
        .rpc
        .call(Some(&laptop.token), Operation::GetVersions { item_id: id })
        .await
        .unwrap();
    history.versions
}

/// The live items of the workspace named `name` in `parent`.
async fn live_named(laptop: &Device, parent: Option<Uuid>, name: &str) -> Vec<ItemState> {
    let changes = laptop
        .rpc
        .get_changes(
            &laptop.token,
            nimbus_protocol::rpc::GetChangesArgs {
                workspace_id: laptop.workspace.workspace_id,
                since: 0,
                page: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    changes
        .items
        .into_iter()
        .filter(|i| !i.deleted && i.parent_id == parent && i.name == name)
        .collect()
}

async fn body_of(browser: &mut Browser, path: &str) -> Vec<u8> {
    let response = browser.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.bytes().await.unwrap().to_vec()
}

/// Alice and bob, alice's laptop, and a browser signed in as alice with its
/// CSRF token.
async fn alice_with_browser(app: &TestApp) -> (Device, Browser, String) {
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let laptop = device(app, "alice").await;
    let mut browser = Browser::new(app);
    let csrf = browser.sign_in("alice").await;
    (laptop, browser, csrf)
}

/// A browser signed in as bob, with its CSRF token.
async fn bob(app: &TestApp) -> (Browser, String) {
    let mut bob = Browser::new(app);
    let csrf = bob.sign_in("bob").await;
    (bob, csrf)
}

#[tokio::test]
async fn the_trash_restores_items_where_they_were_and_never_over_another() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let docs = folder("docs", None);
    let inner = folder("inner", Some(docs.id));
    let note = file(&app, &laptop, "note.txt", Some(inner.id), b"keep me").await;
    let top = file(&app, &laptop, "top.txt", None, b"on top").await;
    commit(
        &laptop,
        vec![docs.clone(), inner.clone(), note.clone(), top.clone()],
    )
    .await;
    for id in [docs.id, top.id] {
        let deleted = browser
            .post(
                &format!("/files/{workspace}/{id}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(deleted.status(), 303);
    }
    // A new "docs" takes the deleted folder's name meanwhile.
    let created = browser
        .post(
            &format!("/files/{workspace}/new-folder"),
            &[("csrf", &csrf), ("name", "docs"), ("parent", "")],
        )
        .await;
    assert_eq!(created.status(), 303);

    let (status, trash) = browser.html(&format!("/files/{workspace}/trash")).await;
    assert_eq!(status, 200);
    // The page follows the workspace's changes (web/static/live.js).
    assert!(
        trash.contains(&format!("data-live=\"/files/{workspace}/events?since=")),
        "{trash}"
    );
    assert!(
        trash.contains("docs") && trash.contains("with 2 items"),
        "{trash}"
    );
    assert!(trash.contains("top.txt"));
    // What went with the folder is not listed on its own.
    assert!(!trash.contains("note.txt"), "{trash}");
    assert!(
        trash.contains("stay here with all their versions for 30 days"),
        "{trash}"
    );

    // Bob cannot restore alice's items, and without the token nothing happens.
    let (mut bob, bobs_csrf) = bob(&app).await;
    let bobs = bob
        .post(
            &format!("/files/{workspace}/trash/{}/restore", top.id),
            &[("csrf", &bobs_csrf)],
        )
        .await;
    assert_eq!(bobs.status(), 404);
    let forged = browser
        .post(&format!("/files/{workspace}/trash/{}/restore", top.id), &[])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(live_named(&laptop, None, "top.txt").await.is_empty());
    // A live item is not in the trash.
    let new_docs = live_named(&laptop, None, "docs").await.remove(0).id;
    let live = browser
        .post(
            &format!("/files/{workspace}/trash/{new_docs}/restore"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(live.status(), 404);

    let restored = browser
        .post(
            &format!("/files/{workspace}/trash/{}/restore", top.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(restored.status(), 303);
    assert_eq!(location(&restored), format!("/files/{workspace}"));
    assert_eq!(
        body_of(
            &mut browser,
            &format!("/files/{workspace}/{}/content", top.id)
        )
        .await,
        b"on top"
    );

    let restored = browser
        .post(
            &format!("/files/{workspace}/trash/{}/restore", docs.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(restored.status(), 303);
    let back = live_named(&laptop, None, "docs (restored)").await;
    assert_eq!(back.len(), 1, "the folder came back under another name");
    assert_eq!(back[0].id, docs.id);
    assert_eq!(live_named(&laptop, None, "docs").await.len(), 1);
    assert_eq!(
        live_named(&laptop, Some(inner.id), "note.txt").await.len(),
        1
    );
    assert_eq!(
        body_of(
            &mut browser,
            &format!("/files/{workspace}/{}/content", note.id)
        )
        .await,
        b"keep me"
    );
    let (_, trash) = browser.html(&format!("/files/{workspace}/trash")).await;
    assert!(trash.contains("The trash is empty"), "{trash}");
}

#[tokio::test]
async fn a_file_in_a_deleted_folder_comes_back_with_its_folders() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let docs = folder("docs", None);
    let note = file(&app, &laptop, "note.txt", Some(docs.id), b"first gone").await;
    let other = file(&app, &laptop, "other.txt", Some(docs.id), b"stays gone").await;
    commit(&laptop, vec![docs.clone(), note.clone(), other.clone()]).await;
    // The file first, then its folder: two entries.
    for id in [note.id, docs.id] {
        let deleted = browser
            .post(
                &format!("/files/{workspace}/{id}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(deleted.status(), 303);
    }
    let (_, trash) = browser.html(&format!("/files/{workspace}/trash")).await;
    assert!(
        trash.contains("note.txt") && trash.contains("docs"),
        "{trash}"
    );
    let restored = browser
        .post(
            &format!("/files/{workspace}/trash/{}/restore", note.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(restored.status(), 303);
    assert_eq!(location(&restored), format!("/files/{workspace}"));
    assert_eq!(live_named(&laptop, None, "docs").await.len(), 1);
    assert_eq!(
        live_named(&laptop, Some(docs.id), "note.txt").await.len(),
        1
    );
    // Only the file asked for and its folder: what went with the folder stays.
    assert!(
        live_named(&laptop, Some(docs.id), "other.txt")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn versions_are_listed_downloaded_and_restored_as_a_new_version() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let first = file(&app, &laptop, "essay.txt", None, b"first draft").await;
    commit(&laptop, vec![first.clone()]).await;
    let second = CommitItem {
        base_version: 1,
        ..file(&app, &laptop, "essay.txt", None, b"second draft, longer").await
    };
    commit(
        &laptop,
        vec![CommitItem {
            id: first.id,
            ..second
        }],
    )
    .await;
    let versions = format!("/files/{workspace}/{}/versions", first.id);

    let (status, page) = browser.html(&versions).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-live=\"/files/{workspace}/events?since=")));
    assert!(
        page.contains("2 · changed") && page.contains("1 · created"),
        "{page}"
    );
    assert!(page.contains("20 B") && page.contains("11 B"), "{page}");
    assert!(page.contains("laptop"), "the device that made it: {page}");
    assert_eq!(
        body_of(&mut browser, &format!("{versions}/1/download")).await,
        b"first draft"
    );
    for missing in ["3", "0", "x"] {
        let response = browser.get(&format!("{versions}/{missing}/download")).await;
        assert_eq!(response.status(), 404, "{missing}");
    }

    // Bob sees none of it, and the form needs its token.
    let (mut bob, bobs_csrf) = bob(&app).await;
    for path in [versions.clone(), format!("{versions}/1/download")] {
        assert_eq!(bob.get(&path).await.status(), 404, "{path}");
    }
    let bobs = bob
        .post(&format!("{versions}/1/restore"), &[("csrf", &bobs_csrf)])
        .await;
    assert_eq!(bobs.status(), 404);
    let forged = browser.post(&format!("{versions}/1/restore"), &[]).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(history(&laptop, first.id).await.len(), 2);

    let restored = browser
        .post(&format!("{versions}/1/restore"), &[("csrf", &csrf)])
        .await;
    assert_eq!(restored.status(), 303);
    assert_eq!(location(&restored), versions);
    let kept = history(&laptop, first.id).await;
    assert_eq!(kept.len(), 3, "restoring adds a version");
    assert_eq!(kept[0].content, first.content);
    assert_eq!(
        body_of(
            &mut browser,
            &format!("/files/{workspace}/{}/content", first.id)
        )
        .await,
        b"first draft"
    );

    // A deleted file's version brings it back where it was.
    let deleted = browser
        .post(
            &format!("/files/{workspace}/{}/delete", first.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let (_, page) = browser.html(&versions).await;
    assert!(page.contains("This file is deleted"), "{page}");
    let restored = browser
        .post(&format!("{versions}/2/restore"), &[("csrf", &csrf)])
        .await;
    assert_eq!(restored.status(), 303);
    assert_eq!(
        body_of(
            &mut browser,
            &format!("/files/{workspace}/{}/content", first.id)
        )
        .await,
        b"second draft, longer"
    );
}

#[tokio::test]
async fn a_viewer_lists_and_downloads_versions_but_changes_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let mut alices = device(&app, "alice").await;
    let bobs = device(&app, "bob").await;
    let shared = create_workspace(&alices, "Shared").await;
    share(&alices, &shared, &bobs, "bob", Role::Viewer).await;
    // Alice's device writes into the shared workspace's container.
    alices.container_url = format!("{}/{}", alices.storage_url, shared.container);
    alices.workspace = shared.clone();
    let created = app
        .client
        .put(&alices.container_url)
        .header("X-Auth-Token", &alices.swift_token)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let plans = folder("plans", None);
    let report = file(&app, &alices, "report.txt", None, b"shared words").await;
    let copy_name = "report (conflicted copy laptop 2026-05-01T103500Z).txt";
    let conflicted = file(&app, &alices, copy_name, None, b"other words").await;
    let gone = file(&app, &alices, "gone.txt", None, b"deleted").await;
    commit(
        &alices,
        vec![
            plans.clone(),
            report.clone(),
            conflicted.clone(),
            gone.clone(),
        ],
    )
    .await;
    commit(
        &alices,
        vec![CommitItem {
            base_version: 1,
            deleted: true,
            ..gone.clone()
        }],
    )
    .await;
    let workspace = shared.workspace_id;
    let (mut bob, csrf) = bob(&app).await;

    let versions = format!("/files/{workspace}/{}/versions", report.id);
    let (status, page) = bob.html(&versions).await;
    assert_eq!(status, 200);
    assert!(
        !page.contains(">Restore"),
        "no restore for a viewer: {page}"
    );
    assert_eq!(
        body_of(&mut bob, &format!("{versions}/1/download")).await,
        b"shared words"
    );
    for page in ["trash", "conflicts"] {
        let (status, html) = bob.html(&format!("/files/{workspace}/{page}")).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            !html.contains(">Restore") && !html.contains("Keep both"),
            "{page} offers no change: {html}"
        );
    }
    let before = alices
        .rpc
        .get_changes(
            &alices.token,
            nimbus_protocol::rpc::GetChangesArgs {
                workspace_id: workspace,
                since: 0,
                page: None,
                limit: None,
            },
        )
        .await
        .unwrap()
        .revision;
    let plans_id = plans.id.to_string();
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("{versions}/1/restore"), vec![]),
        (
            format!("/files/{workspace}/trash/{}/restore", gone.id),
            vec![],
        ),
        (
            format!("/files/{workspace}/{}/move", report.id),
            vec![("parent", plans_id.as_str())],
        ),
        (
            format!("/files/{workspace}/{}/copy", report.id),
            vec![("parent", "")],
        ),
        (
            format!("/files/{workspace}/{}/resolve", conflicted.id),
            vec![("keep", "both")],
        ),
    ];
    for (path, mut form) in writes {
        form.push(("csrf", &csrf));
        let response = bob.post(&path, &form).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    let chooser = bob
        .get(&format!("/files/{workspace}/{}/move", report.id))
        .await;
    assert_eq!(chooser.status(), 403);
    let after = alices
        .rpc
        .get_changes(
            &alices.token,
            nimbus_protocol::rpc::GetChangesArgs {
                workspace_id: workspace,
                since: before,
                page: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    assert!(after.items.is_empty(), "a viewer changed {:?}", after.items);
}

#[tokio::test]
async fn items_move_with_the_chooser_and_are_copied_sharing_their_chunks() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let outer = folder("outer", None);
    let inner = folder("inner", Some(outer.id));
    let photo = file(&app, &laptop, "photo.jpg", None, &[7u8; 3000]).await;
    let clash = file(&app, &laptop, "photo.jpg", Some(outer.id), b"another").await;
    commit(
        &laptop,
        vec![outer.clone(), inner.clone(), photo.clone(), clash.clone()],
    )
    .await;
    let base = format!("/files/{workspace}/{}", outer.id);

    // The chooser lists the top's folders, the moved folder marked, and
    // refuses its own subfolders with a reason.
    let (status, chooser) = browser.html(&format!("{base}/move")).await;
    assert_eq!(status, 200);
    assert!(chooser.contains("(the folder being moved)"), "{chooser}");
    assert!(chooser.contains("Move here"));
    let (_, inside) = browser.html(&format!("{base}/move?to={}", inner.id)).await;
    assert!(inside.contains("cannot go into itself"), "{inside}");
    assert!(!inside.contains("Move here"));
    for target in [outer.id, inner.id] {
        let refused = browser
            .post(
                &format!("{base}/move"),
                &[("csrf", &csrf), ("parent", &target.to_string())],
            )
            .await;
        assert_eq!(refused.status(), 400, "{target}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("cannot go into itself")
        );
    }
    // A file is no folder to move into; the taken name is refused.
    let photo_base = format!("/files/{workspace}/{}", photo.id);
    let into_file = browser
        .post(
            &format!("{base}/move"),
            &[("csrf", &csrf), ("parent", &photo.id.to_string())],
        )
        .await;
    assert_eq!(into_file.status(), 400);
    let taken = browser
        .post(
            &format!("{photo_base}/move"),
            &[("csrf", &csrf), ("parent", &outer.id.to_string())],
        )
        .await;
    assert_eq!(taken.status(), 409);
    let forged = browser
        .post(
            &format!("{photo_base}/move"),
            &[("parent", &inner.id.to_string())],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let (mut bob, bobs_csrf) = bob(&app).await;
    for action in ["move", "copy"] {
        let bobs = bob
            .post(
                &format!("{photo_base}/{action}"),
                &[("csrf", &bobs_csrf), ("parent", "")],
            )
            .await;
        assert_eq!(bobs.status(), 404, "{action}");
    }
    assert_eq!(bob.get(&format!("{photo_base}/move")).await.status(), 404);
    assert_eq!(live_named(&laptop, None, "photo.jpg").await.len(), 1);

    let moved = browser
        .post(
            &format!("{photo_base}/move"),
            &[("csrf", &csrf), ("parent", &inner.id.to_string())],
        )
        .await;
    assert_eq!(moved.status(), 303);
    assert_eq!(location(&moved), format!("/files/{workspace}/{}", inner.id));
    assert_eq!(
        live_named(&laptop, Some(inner.id), "photo.jpg").await.len(),
        1
    );

    // Copies: beside the file ("(copy)", then "(copy 2)"), and elsewhere.
    for expected in ["photo (copy).jpg", "photo (copy 2).jpg"] {
        let copied = browser
            .post(
                &format!("{photo_base}/copy"),
                &[("csrf", &csrf), ("parent", &inner.id.to_string())],
            )
            .await;
        assert_eq!(copied.status(), 303);
        let copies = live_named(&laptop, Some(inner.id), expected).await;
        assert_eq!(copies.len(), 1, "{expected}");
        assert_eq!(copies[0].content.chunks, photo.content.chunks);
        assert_ne!(copies[0].id, photo.id);
        assert_eq!(
            body_of(
                &mut browser,
                &format!("/files/{workspace}/{}/content", copies[0].id)
            )
            .await,
            vec![7u8; 3000]
        );
    }
    let copied = browser
        .post(
            &format!("{photo_base}/copy"),
            &[("csrf", &csrf), ("parent", "")],
        )
        .await;
    assert_eq!(copied.status(), 303);
    assert_eq!(live_named(&laptop, None, "photo.jpg").await.len(), 1);
    // A folder is copied with what is in it, in one commit; not into itself.
    let into_itself = browser
        .post(
            &format!("{base}/copy"),
            &[("csrf", &csrf), ("parent", &inner.id.to_string())],
        )
        .await;
    assert_eq!(into_itself.status(), 400);
    let folder_copy = browser
        .post(&format!("{base}/copy"), &[("csrf", &csrf), ("parent", "")])
        .await;
    assert_eq!(folder_copy.status(), 303);
    let outer_copy = live_named(&laptop, None, "outer (copy)").await;
    assert_eq!(outer_copy.len(), 1);
    assert_ne!(outer_copy[0].id, outer.id);
    let inner_copy = live_named(&laptop, Some(outer_copy[0].id), "inner").await;
    assert_eq!(inner_copy.len(), 1);
    assert_ne!(inner_copy[0].id, inner.id);
    assert_eq!(inner_copy[0].revision, outer_copy[0].revision, "one commit");
    for name in ["photo.jpg", "photo (copy).jpg", "photo (copy 2).jpg"] {
        let copies = live_named(&laptop, Some(inner_copy[0].id), name).await;
        assert_eq!(copies.len(), 1, "{name}");
        assert_eq!(copies[0].content.chunks, photo.content.chunks);
        assert_eq!(copies[0].revision, outer_copy[0].revision);
    }
    let clash_copy = live_named(&laptop, Some(outer_copy[0].id), "photo.jpg").await;
    assert_eq!(clash_copy[0].content.chunks, clash.content.chunks);
    let bobs = bob
        .post(
            &format!("{base}/copy"),
            &[("csrf", &bobs_csrf), ("parent", "")],
        )
        .await;
    assert_eq!(bobs.status(), 404);
    // The original is where it was moved, unchanged.
    assert_eq!(
        history(&laptop, photo.id).await[0].parent_id,
        Some(inner.id)
    );
}

#[tokio::test]
async fn conflicted_copies_are_resolved_keeping_one_the_other_or_both() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let tag = " (conflicted copy laptop 2026-05-01T103500Z)";
    let mut items = Vec::new();
    for stem in ["mine", "theirs", "both", "orphan"] {
        if stem != "orphan" {
            items.push(file(&app, &laptop, &format!("{stem}.txt"), None, b"original").await);
        }
        items.push(file(&app, &laptop, &format!("{stem}{tag}.txt"), None, b"copy").await);
    }
    commit(&laptop, items.clone()).await;
    let copy_of = |stem: &str| {
        items
            .iter()
            .find(|i| i.name == format!("{stem}{tag}.txt"))
            .unwrap()
            .id
    };
    let conflicts = format!("/files/{workspace}/conflicts");
    let (status, page) = browser.html(&conflicts).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-live=\"/files/{workspace}/events?since=")));
    for stem in ["mine", "theirs", "both", "orphan"] {
        assert!(page.contains(&format!("{stem}{tag}.txt")), "{stem}: {page}");
    }
    assert!(page.contains("The file it was copied from is no longer there"));
    let resolve = |stem: &str| format!("/files/{workspace}/{}/resolve", copy_of(stem));

    let (mut bob, bobs_csrf) = bob(&app).await;
    let bobs = bob
        .post(&resolve("mine"), &[("csrf", &bobs_csrf), ("keep", "copy")])
        .await;
    assert_eq!(bobs.status(), 404);
    let forged = browser.post(&resolve("mine"), &[("keep", "copy")]).await;
    assert_eq!(forged.status(), 403);
    let nothing = browser
        .post(&resolve("orphan"), &[("csrf", &csrf), ("keep", "original")])
        .await;
    assert_eq!(nothing.status(), 409, "no other file to keep");
    let not_a_copy = items.iter().find(|i| i.name == "mine.txt").unwrap().id;
    let refused = browser
        .post(
            &format!("/files/{workspace}/{not_a_copy}/resolve"),
            &[("csrf", &csrf), ("keep", "both")],
        )
        .await;
    assert_eq!(refused.status(), 400);

    for (stem, keep) in [
        ("mine", "copy"),
        ("theirs", "original"),
        ("both", "both"),
        ("orphan", "copy"),
    ] {
        let resolved = browser
            .post(&resolve(stem), &[("csrf", &csrf), ("keep", keep)])
            .await;
        assert_eq!(resolved.status(), 303, "{stem}");
        assert_eq!(location(&resolved), conflicts);
    }
    let content_of = |name: &'static str| {
        let laptop = &laptop;
        async move {
            let found = live_named(laptop, None, name).await;
            assert_eq!(found.len(), 1, "{name}");
            found[0].content.size
        }
    };
    // "copy" is 4 bytes, "original" 8.
    assert_eq!(content_of("mine.txt").await, 4, "the copy's content won");
    assert!(history(&laptop, copy_of("mine")).await[0].deleted);
    assert_eq!(content_of("theirs.txt").await, 8);
    assert!(history(&laptop, copy_of("theirs")).await[0].deleted);
    assert_eq!(content_of("both.txt").await, 8);
    assert_eq!(
        content_of("both (from laptop 2026-05-01T103500Z).txt").await,
        4
    );
    assert_eq!(content_of("orphan.txt").await, 4);
    let (_, page) = browser.html(&conflicts).await;
    assert!(page.contains("There are no conflicted copies"), "{page}");
}

#[tokio::test]
async fn the_password_changes_with_the_current_one_and_only_this_session_stays() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let (_, page) = browser.html("/account").await;
    assert!(page.contains("Change password"), "{page}");
    let change = |old: &'static str, new: &'static str, repeat: &'static str| {
        vec![("old", old), ("new", new), ("repeat", repeat)]
    };
    let attempts = [
        (change("wrong", "a new passphrase", "a new passphrase"), 403),
        (change(PASSWORD, "a new passphrase", "another one"), 400),
        (change(PASSWORD, "short", "short"), 400),
    ];
    for (form, status) in attempts {
        let mut fields = form.clone();
        fields.push(("csrf", &csrf));
        let response = browser.post("/account/password", &fields).await;
        assert_eq!(response.status(), status, "{form:?}");
        assert!(response.text().await.unwrap().contains("not changed"));
        // A wrong password does not sign the browser out.
        assert_eq!(browser.get("/").await.status(), 200);
    }
    let forged = browser
        .post(
            "/account/password",
            &change(PASSWORD, "a new passphrase", "a new passphrase"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        Browser::new(&app)
            .sign_in_with("alice", PASSWORD)
            .await
            .status(),
        303,
        "nothing changed so far"
    );

    let mut fields = change(PASSWORD, "a new passphrase", "a new passphrase");
    fields.push(("csrf", &csrf));
    let changed = browser.post("/account/password", &fields).await;
    assert_eq!(changed.status(), 303);
    assert_eq!(location(&changed), "/account?password=changed");
    let (status, page) = browser.html("/account?password=changed").await;
    assert_eq!(status, 200, "this session stays signed in");
    assert!(page.contains("Your password was changed"), "{page}");
    assert!(
        laptop.rpc.get_account(&laptop.token).await.is_err(),
        "the other devices are signed out"
    );
    let old = Browser::new(&app).sign_in_with("alice", PASSWORD).await;
    assert_eq!(old.status(), 401, "the old password no longer signs in");
    let new = Browser::new(&app)
        .sign_in_with("alice", "a new passphrase")
        .await;
    assert_eq!(new.status(), 303);
}

#[tokio::test]
async fn delete_forever_removes_a_trash_entry_with_everything_in_it_and_their_versions() {
    let app = spawn_app().await;
    let (laptop, mut browser, csrf) = alice_with_browser(&app).await;
    let workspace = laptop.workspace.workspace_id;
    let docs = folder("docs", None);
    let note = file(&app, &laptop, "note.txt", Some(docs.id), b"old words").await;
    let kept = file(&app, &laptop, "kept.txt", None, b"stays").await;
    commit(&laptop, vec![docs.clone(), note.clone(), kept.clone()]).await;
    let deleted = browser
        .post(
            &format!("/files/{workspace}/{}/delete", docs.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let trash = format!("/files/{workspace}/trash");
    let (status, page) = browser.html(&trash).await;
    assert_eq!(status, 200);
    assert!(page.contains("Delete “docs” forever"), "{page}");
    assert!(page.contains("cannot be undone"), "{page}");

    // Without the token, by another user, or for a live item: nothing happens.
    let purge = |id: Uuid| format!("/files/{workspace}/trash/{id}/purge");
    let forged = browser.post(&purge(docs.id), &[]).await;
    assert_eq!(forged.status(), 403);
    let (mut bob, bobs_csrf) = bob(&app).await;
    let bobs = bob.post(&purge(docs.id), &[("csrf", &bobs_csrf)]).await;
    assert_eq!(bobs.status(), 404);
    let live = browser.post(&purge(kept.id), &[("csrf", &csrf)]).await;
    assert_eq!(live.status(), 404);
    assert_eq!(history(&laptop, note.id).await.len(), 2);

    let purged = browser.post(&purge(docs.id), &[("csrf", &csrf)]).await;
    assert_eq!(purged.status(), 303);
    assert_eq!(location(&purged), trash);
    // The proxy's cached tree drops what went, though no delta shows it.
    let (_, page) = browser.html(&trash).await;
    assert!(page.contains("The trash is empty"), "{page}");
    let versions = laptop
        .rpc
        .call::<ItemHistory>(
            Some(&laptop.token),
            Operation::GetVersions { item_id: note.id },
        )
        .await;
    assert!(versions.is_err(), "the versions went too: {versions:?}");
    assert_eq!(live_named(&laptop, None, "kept.txt").await.len(), 1);
}
