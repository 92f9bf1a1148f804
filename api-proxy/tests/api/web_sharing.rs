//! The web UI's sharing and link pages without a browser: making a
//! workspace and sharing it, invitations accepted, declined and cancelled,
//! roles, removing, leaving, handing over and unsharing; public links made,
//! opened by an anonymous visitor and revoked. And their refusals: what the
//! servers refuse (a viewer's writes, an editor sharing, a role of owner, an
//! unknown user) is shown as they word it and changes nothing, another
//! user's ids are not found, a form without its CSRF token does nothing.
//! An invitation to an end-to-end encrypted workspace is accepted from a
//! desktop client only, which checks its passphrase.

use nimbus_protocol::rpc::{
    CreateWorkspaceArgs, EncryptionMode, LinkInfo, Operation, Proposal, ProposalList,
    ProposalStatus, ProposeShareArgs, Role,
};
use uuid::Uuid;

use crate::browser::Browser;
use crate::helpers::{Device, TestApp, device, spawn_app};
use crate::oauth::grant;
use crate::rest::call as rest;
use crate::web::{commit, file, folder, location};

/// A signed-in browser of `user` with its CSRF token.
async fn browser_of(app: &TestApp, user: &str) -> (Browser, String) {
    let mut browser = Browser::new(app);
    let csrf = browser.sign_in(user).await;
    (browser, csrf)
}

/// The text after `marker` in `html`, up to the next `"`.
fn after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The proposal id of the first "…/sharing/{id}/{action}" form of `html`.
fn proposal_in(html: &str, action: &str) -> String {
    let end = html
        .find(&format!("/{action}\""))
        .unwrap_or_else(|| panic!("no {action} form in {html}"));
    let start = html[..end].rfind("/sharing/").unwrap() + "/sharing/".len();
    html[start..end].to_owned()
}

async fn proposals_of(device: &Device) -> ProposalList {
    device
        .rpc
        .call(Some(&device.token), Operation::ListProposals)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_workspace_is_shared_answered_managed_and_unshared_through_the_pages() {
    let app = spawn_app().await;
    for user in ["alice", "bob", "carol"] {
        app.add_user(user, None, true).await;
    }
    let bobs_device = device(&app, "bob").await;
    let (mut alice, alice_csrf) = browser_of(&app, "alice").await;
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;
    let (mut carol, carol_csrf) = browser_of(&app, "carol").await;

    // The default workspace is never shared: its page says so, without a form.
    let (status, default_page) = alice.html("/sharing").await;
    assert_eq!(status, 200);
    let default_sharing = after(&default_page, "class=\"workspace\" href=\"");
    let (_, page) = alice.html(&default_sharing).await;
    assert!(page.contains("never shared"), "{page}");
    assert!(!page.contains("Send invitation"), "{page}");

    let created = alice
        .post("/workspaces", &[("csrf", &alice_csrf), ("name", "Team")])
        .await;
    assert_eq!(created.status(), 303);
    let sharing = location(&created);
    let workspace = sharing
        .trim_start_matches("/files/")
        .trim_end_matches("/sharing")
        .to_owned();
    let propose = format!("{sharing}/propose");

    // Refusals first: an unknown addressee (named by the servers), nobody
    // named, no CSRF token, a stranger's form. Nothing is proposed.
    let unknown = alice
        .post(
            &propose,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob, nobody-such"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("nobody-such"));
    let nobody = alice
        .post(
            &propose,
            &[
                ("csrf", &alice_csrf),
                ("addressees", " , "),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(nobody.status(), 400);
    let forged = alice
        .post(&propose, &[("addressees", "bob"), ("role", "editor")])
        .await;
    assert_eq!(forged.status(), 403);
    let strangers = carol
        .post(
            &propose,
            &[
                ("csrf", &carol_csrf),
                ("addressees", "bob"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(strangers.status(), 404);
    assert!(proposals_of(&bobs_device).await.incoming.is_empty());

    let proposed = alice
        .post(
            &propose,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob"),
                ("role", "editor"),
                ("message", "Plans for 2027"),
            ],
        )
        .await;
    assert_eq!(proposed.status(), 303);
    assert_eq!(location(&proposed), format!("{sharing}?done=proposed"));
    let (_, page) = alice.html(&location(&proposed)).await;
    assert!(page.contains("Invitations waiting for an answer"), "{page}");
    assert!(page.contains("role=\"status\""), "{page}");

    // Bob sees who asks, for what, with which role and message, and a badge.
    let (status, invitations) = bob.html("/sharing").await;
    assert_eq!(status, 200);
    for text in [
        "alice",
        "Team",
        "editor",
        "Plans for 2027",
        "0 B",
        "1<span class=\"visually-hidden\"> invitation waiting",
    ] {
        assert!(invitations.contains(text), "{text:?} in {invitations}");
    }
    let proposal = proposal_in(&invitations, "accept");
    // Carol cannot answer it, nor can alice cancel what is not there.
    let carols = carol
        .post(
            &format!("/sharing/{proposal}/accept"),
            &[("csrf", &carol_csrf)],
        )
        .await;
    assert_eq!(carols.status(), 404);
    let accepted = bob
        .post(
            &format!("/sharing/{proposal}/accept"),
            &[("csrf", &bob_csrf), ("name", "Team of alice")],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(location(&accepted), format!("/files/{workspace}"));
    let (status, files) = bob.html(&format!("/files/{workspace}")).await;
    assert_eq!(status, 200);
    assert!(files.contains("Team of alice"), "{files}");

    // An editor neither shares nor changes roles: the servers refuse, in
    // their words, and nothing changes.
    let bobs_share = bob
        .post(
            &propose,
            &[
                ("csrf", &bob_csrf),
                ("addressees", "carol"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(bobs_share.status(), 403);
    assert!(bobs_share.text().await.unwrap().contains("only the owner"));
    let (_, members) = alice.html(&sharing).await;
    let bob_id = after(&members, &format!("/files/{workspace}/members/"))
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let members_url = format!("/files/{workspace}/members/{bob_id}");
    let bobs_role = bob
        .post(
            &format!("{members_url}/role"),
            &[("csrf", &bob_csrf), ("role", "viewer")],
        )
        .await;
    assert_eq!(bobs_role.status(), 403);
    // Nobody is made owner by a role change.
    let owner = alice
        .post(
            &format!("{members_url}/role"),
            &[("csrf", &alice_csrf), ("role", "owner")],
        )
        .await;
    assert_eq!(owner.status(), 400);

    // A viewer's writes are refused.
    let viewer = alice
        .post(
            &format!("{members_url}/role"),
            &[("csrf", &alice_csrf), ("role", "viewer")],
        )
        .await;
    assert_eq!(viewer.status(), 303);
    let (_, page) = bob.html(&sharing).await;
    assert!(
        page.contains("<span class=\"badge\">viewer</span>"),
        "{page}"
    );
    assert!(page.contains("Leave Team"), "{page}");
    let folder = bob
        .post(
            &format!("/files/{workspace}/new-folder"),
            &[("csrf", &bob_csrf), ("name", "mine"), ("parent", "")],
        )
        .await;
    assert_eq!(folder.status(), 403);

    // An invitation to carol, cancelled; bob cannot cancel it.
    let to_carol = alice
        .post(
            &propose,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "carol"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(to_carol.status(), 303);
    let (_, page) = alice.html(&sharing).await;
    let carols_proposal = proposal_in(&page, "cancel");
    let bobs_cancel = bob
        .post(
            &format!("/sharing/{carols_proposal}/cancel"),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(bobs_cancel.status(), 404);
    let cancelled = alice
        .post(
            &format!("/sharing/{carols_proposal}/cancel"),
            &[("csrf", &alice_csrf)],
        )
        .await;
    assert_eq!(location(&cancelled), format!("{sharing}?done=cancelled"));
    let (_, page) = carol.html("/sharing").await;
    assert!(page.contains("Nobody is waiting for your answer"), "{page}");

    // Bob leaves; invited again, he declines; invited again, he accepts and
    // alice removes him. Each time he loses the workspace at once.
    let left = bob
        .post(&format!("{sharing}/leave"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(location(&left), "/sharing?done=left");
    assert_eq!(bob.html(&format!("/files/{workspace}")).await.0, 404);
    let invite_bob = async |alice: &mut Browser| {
        let again = alice
            .post(
                &propose,
                &[
                    ("csrf", &alice_csrf),
                    ("addressees", "bob"),
                    ("role", "editor"),
                ],
            )
            .await;
        assert_eq!(again.status(), 303);
    };
    invite_bob(&mut alice).await;
    let (_, page) = bob.html("/sharing").await;
    let declined = bob
        .post(
            &format!("/sharing/{}/decline", proposal_in(&page, "decline")),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(location(&declined), "/sharing?done=declined");
    assert_eq!(bob.html(&format!("/files/{workspace}")).await.0, 404);
    invite_bob(&mut alice).await;
    let (_, page) = bob.html("/sharing").await;
    let accepted = bob
        .post(
            &format!("/sharing/{}/accept", proposal_in(&page, "accept")),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let removed = alice
        .post(&format!("{members_url}/remove"), &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(location(&removed), format!("{sharing}?done=removed"));
    assert_eq!(bob.html(&format!("/files/{workspace}")).await.0, 404);

    // Handed over: bob owns it, alice is an editor who can no longer remove
    // anyone; bob stops sharing it, and alice loses it.
    invite_bob(&mut alice).await;
    let (_, page) = bob.html("/sharing").await;
    let accepted = bob
        .post(
            &format!("/sharing/{}/accept", proposal_in(&page, "accept")),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let handed = alice
        .post(&format!("{members_url}/transfer"), &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(location(&handed), format!("{sharing}?done=transferred"));
    let (_, page) = bob.html(&sharing).await;
    assert!(page.contains("Stop sharing with everyone"), "{page}");
    let alices_removal = alice
        .post(&format!("{members_url}/remove"), &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(alices_removal.status(), 403);
    let unshared = bob
        .post(&format!("{sharing}/unshare"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(location(&unshared), format!("{sharing}?done=unshared"));
    assert_eq!(alice.html(&format!("/files/{workspace}")).await.0, 404);
}

#[tokio::test]
async fn public_links_are_made_opened_by_anyone_and_revoked_by_their_creator_only() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let laptop = device(&app, "alice").await;
    let note = file(&app, &laptop, "note.txt", None, b"for everyone").await;
    commit(&laptop, vec![note.clone()]).await;
    let workspace = laptop.workspace.workspace_id.to_string();
    let item = note.id.to_string();
    let (mut alice, csrf) = browser_of(&app, "alice").await;
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;

    let (status, form) = alice
        .html(&format!("/links/new?workspace={workspace}&item={item}"))
        .await;
    assert_eq!(status, 200);
    assert!(form.contains("Public link to note.txt"), "{form}");
    // Bob may not link alice's file.
    let (status, _) = bob
        .html(&format!("/links/new?workspace={workspace}&item={item}"))
        .await;
    assert_eq!(status, 404);

    // Bad input changes nothing.
    let base = [("workspace", workspace.as_str()), ("item", item.as_str())];
    for (field, value, expected) in [
        ("expires_days", "soon", "whole number"),
        ("max_downloads", "0", "whole number"),
        ("password", "short", "8"),
    ] {
        let mut fields = base.to_vec();
        fields.extend([("csrf", csrf.as_str()), (field, value)]);
        let refused = alice.post("/links", &fields).await;
        assert_eq!(refused.status(), 400, "{field}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(expected), "{field}: {text}");
    }
    let forged = alice.post("/links", &base).await;
    assert_eq!(forged.status(), 403);
    let links: Vec<LinkInfo> = laptop
        .rpc
        .call(Some(&laptop.token), Operation::ListLinks)
        .await
        .unwrap();
    assert!(links.is_empty());

    let mut fields = base.to_vec();
    fields.extend([
        ("csrf", csrf.as_str()),
        ("max_downloads", "3"),
        ("expires_days", "7"),
    ]);
    let created = alice.post("/links", &fields).await;
    assert_eq!(created.status(), 201);
    let page = created.text().await.unwrap();
    let url = after(&page, "id=\"new-link\" value=\"");
    nimbus_server::test_log::record_secret("link token", url.rsplit('/').next().unwrap());
    assert!(url.starts_with(&format!("{}/s/", app.address)), "{url}");
    assert!(page.contains("data-copy=\"new-link\""), "{page}");

    // Anyone opens it; the list shows it without its address.
    let visit = app.client.get(&url).send().await.unwrap();
    assert_eq!(visit.status(), 200);
    assert_eq!(visit.bytes().await.unwrap().as_ref(), b"for everyone");
    let (status, list) = alice.html("/links").await;
    assert_eq!(status, 200);
    assert!(
        list.contains("note.txt") && list.contains("1 of 3"),
        "{list}"
    );
    assert!(!list.contains(&url), "{list}");
    let link_id = after(&list, "action=\"/links/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();

    // A link to the workspace's top, with a password.
    let top = alice
        .post(
            "/links",
            &[
                ("csrf", &csrf),
                ("workspace", &workspace),
                ("item", ""),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(top.status(), 201);

    let bobs = bob
        .post(&format!("/links/{link_id}/revoke"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(bobs.status(), 404);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    let revoked = alice
        .post(&format!("/links/{link_id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(location(&revoked), "/links?done=revoked");
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 404);
    let (_, list) = alice.html("/links").await;
    assert!(list.contains("revoked"), "{list}");
}

/// Bob's own folder of `workspace`: its name and where it is mounted.
async fn mount_of(device: &Device, workspace: &str) -> (String, Option<uuid::Uuid>) {
    let info = device
        .rpc
        .get_workspaces(&device.token)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.workspace_id.to_string() == workspace)
        .expect("a member's workspace");
    (info.name, info.mount_parent)
}

#[tokio::test]
async fn a_shared_workspace_is_mounted_where_its_member_chooses_and_moved_later() {
    let app = spawn_app().await;
    for user in ["alice", "bob", "carol"] {
        app.add_user(user, None, true).await;
    }
    let bobs_device = device(&app, "bob").await;
    let alices_device = device(&app, "alice").await;
    let (mut alice, alice_csrf) = browser_of(&app, "alice").await;
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;
    let (mut carol, carol_csrf) = browser_of(&app, "carol").await;
    let projects = crate::web::folder("Projects", None);
    let inner = crate::web::folder("2027 plans", Some(projects.id));
    commit(&bobs_device, vec![projects.clone(), inner.clone()]).await;
    let alices_folder = crate::web::folder("Alice's", None);
    commit(&alices_device, vec![alices_folder.clone()]).await;

    let created = alice
        .post("/workspaces", &[("csrf", &alice_csrf), ("name", "Team")])
        .await;
    let sharing = location(&created);
    let workspace = sharing
        .trim_start_matches("/files/")
        .trim_end_matches("/sharing")
        .to_owned();
    let proposed = alice
        .post(
            &format!("{sharing}/propose"),
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(proposed.status(), 303);

    // Every page's navigation loads the badge; it counts Bob's invitation.
    let (_, account) = bob.html("/account").await;
    assert!(
        account.contains("hx-get=\"/sharing/badge\" hx-trigger=\"load, invitations\""),
        "{account}"
    );
    let (status, badge) = bob.html("/sharing/badge").await;
    assert_eq!(status, 200);
    assert!(
        badge.contains("1<span class=\"visually-hidden\"> invitation waiting"),
        "{badge}"
    );
    let (_, none) = carol.html("/sharing/badge").await;
    assert!(!none.contains("badge count"), "{none}");

    // Bob is offered his own folders, by path, and mounts it in one.
    let (_, invitations) = bob.html("/sharing").await;
    for option in [
        format!("<option value=\"{}\">Projects</option>", projects.id),
        format!(
            "<option value=\"{}\">Projects/2027 plans</option>",
            inner.id
        ),
    ] {
        assert!(invitations.contains(&option), "{option} in {invitations}");
    }
    assert!(!invitations.contains(&alices_folder.id.to_string()));
    let proposal = proposal_in(&invitations, "accept");
    let inner_id = inner.id.to_string();
    let accepted = bob
        .post(
            &format!("/sharing/{proposal}/accept"),
            &[
                ("csrf", &bob_csrf),
                ("name", "Team of alice"),
                ("parent", &inner_id),
            ],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(
        mount_of(&bobs_device, &workspace).await,
        ("Team of alice".into(), Some(inner.id))
    );
    let (_, badge) = bob.html("/sharing/badge").await;
    assert!(!badge.contains("badge count"), "{badge}");

    // Renamed and moved to the top, from the form of the sharing page.
    let (_, page) = bob.html("/sharing").await;
    let action = format!("/workspaces/{workspace}/mount");
    assert!(page.contains(&action), "{page}");
    assert!(
        page.contains(&format!("<option value=\"{}\" selected>", inner.id)),
        "{page}"
    );
    let moved = bob
        .post(
            &action,
            &[("csrf", &bob_csrf), ("name", "Plans"), ("parent", "")],
        )
        .await;
    assert_eq!(moved.status(), 303);
    assert_eq!(location(&moved), "/sharing?done=mounted");
    assert_eq!(
        mount_of(&bobs_device, &workspace).await,
        ("Plans".into(), None)
    );
    // Alice's own folder of it is hers alone: unchanged.
    assert_eq!(mount_of(&alices_device, &workspace).await.0, "Team");

    // Refusals change nothing: no CSRF token, someone else's folder as the
    // place, an empty name, a stranger, a workspace id that is not one.
    let alices_id = alices_folder.id.to_string();
    for (who, form, expected) in [
        ("no token", vec![("name", "X"), ("parent", "")], 403),
        (
            "alice's folder",
            vec![
                ("csrf", bob_csrf.as_str()),
                ("name", "X"),
                ("parent", &alices_id),
            ],
            400,
        ),
        (
            "no name",
            vec![("csrf", bob_csrf.as_str()), ("name", " "), ("parent", "")],
            400,
        ),
    ] {
        let refused = bob.post(&action, &form).await;
        assert_eq!(refused.status(), expected, "{who}");
    }
    let strangers = carol
        .post(&action, &[("csrf", &carol_csrf), ("name", "Mine")])
        .await;
    assert_eq!(strangers.status(), 404);
    let unknown = bob
        .post(
            &format!("/workspaces/{}/mount", uuid::Uuid::new_v4()),
            &[("csrf", &bob_csrf), ("name", "X")],
        )
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        mount_of(&bobs_device, &workspace).await,
        ("Plans".into(), None)
    );
}

#[tokio::test]
async fn any_of_thousands_of_folders_is_found_for_a_mount_by_searching_on_the_server() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let bobs_device = device(&app, "bob").await;
    let (mut alice, alice_csrf) = browser_of(&app, "alice").await;
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;
    // More folders than the old list held (1,000), under one parent.
    let archive = crate::web::folder("Archive", None);
    let mut folders = vec![archive.clone()];
    folders.extend((0..1200).map(|n| crate::web::folder(&format!("Box {n:04}"), Some(archive.id))));
    let last = folders.last().unwrap().clone();
    let early = folders[4].clone(); // Archive, then Box 0000 …
    commit(&bobs_device, folders).await;

    let created = alice
        .post("/workspaces", &[("csrf", &alice_csrf), ("name", "Team")])
        .await;
    let workspace = location(&created)
        .trim_start_matches("/files/")
        .trim_end_matches("/sharing")
        .to_owned();
    alice
        .post(
            &format!("/files/{workspace}/sharing/propose"),
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob"),
                ("role", "viewer"),
            ],
        )
        .await;

    // The page offers the first folders and says how many more there are.
    let (_, page) = bob.html("/sharing").await;
    assert!(page.contains("Archive/Box 0003"), "{page}");
    assert!(!page.contains("Archive/Box 1199"), "{page}");
    assert!(
        page.contains("1151 more folders: type part of the name"),
        "{page}"
    );

    // A search finds the last one, any case; the chosen folder stays chosen.
    let (status, options) = bob.html("/sharing/folders?q=box%201199").await;
    assert_eq!(status, 200);
    assert!(
        options.contains(&format!(
            "<option value=\"{}\">Archive/Box 1199</option>",
            last.id
        )),
        "{options}"
    );
    assert!(!options.contains("Box 0003") && !options.contains(" more folder"));
    let (_, kept) = bob
        .html(&format!(
            "/sharing/folders?q=box%201199&parent={}",
            early.id
        ))
        .await;
    assert!(
        kept.contains(&format!(
            "<option value=\"{}\" selected>Archive/Box 0003</option>",
            early.id
        )),
        "{kept}"
    );
    let (status, _) = bob.html("/sharing/folders?q=x&parent=nonsense").await;
    assert_eq!(status, 400);
    let mut nobody = Browser::new(&app);
    assert_eq!(nobody.get("/sharing/folders?q=box").await.status(), 303);

    // Accepted into the folder the search found.
    let proposal = proposal_in(&page, "accept");
    let last_id = last.id.to_string();
    let accepted = bob
        .post(
            &format!("/sharing/{proposal}/accept"),
            &[("csrf", &bob_csrf), ("q", "box 1199"), ("parent", &last_id)],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(mount_of(&bobs_device, &workspace).await.1, Some(last.id));
    // Its form keeps it chosen, though it is not among the first folders.
    let (_, page) = bob.html("/sharing").await;
    assert!(
        page.contains(&format!(
            "<option value=\"{}\" selected>Archive/Box 1199</option>",
            last.id
        )),
        "{page}"
    );
}

#[tokio::test]
async fn a_folder_of_the_default_workspace_is_shared_from_its_page_and_stays_in_place() {
    let app = spawn_app().await;
    for user in ["alice", "bob", "carol"] {
        app.add_user(user, None, true).await;
    }
    let laptop = device(&app, "alice").await;
    let bobs_device = device(&app, "bob").await;
    let trip = folder("Trip", None);
    let day = folder("Day 1", Some(trip.id));
    let notes = file(&app, &laptop, "notes.txt", Some(trip.id), b"pack the tent").await;
    commit(&laptop, vec![trip.clone(), day.clone(), notes.clone()]).await;
    let default = laptop.workspace.workspace_id;
    let (mut alice, alice_csrf) = browser_of(&app, "alice").await;
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;
    let (mut carol, carol_csrf) = browser_of(&app, "carol").await;

    // The folder's row and its page lead to its share form.
    let share = format!("/files/{default}/{}/share", trip.id);
    let (_, top) = alice.html(&format!("/files/{default}")).await;
    assert!(top.contains(&format!("href=\"{share}\"")), "{top}");
    let (_, page) = alice.html(&format!("/files/{default}/{}", trip.id)).await;
    assert!(page.contains(&format!("href=\"{share}\"")), "{page}");
    let (status, form) = alice.html(&share).await;
    assert_eq!(status, 200);
    assert!(form.contains(&format!("action=\"{share}\"")), "{form}");
    assert!(form.contains("stays where it is"), "{form}");

    // Refused, and nothing is converted or proposed: no CSRF token, another
    // user's folder, nobody named, a role of owner.
    let forged = alice
        .post(&share, &[("addressees", "bob"), ("role", "viewer")])
        .await;
    assert_eq!(forged.status(), 403);
    let stolen = carol
        .post(
            &share,
            &[
                ("csrf", &carol_csrf),
                ("addressees", "carol"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(stolen.status(), 404);
    let nobody = alice
        .post(
            &share,
            &[
                ("csrf", &alice_csrf),
                ("addressees", " ; "),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(nobody.status(), 400);
    let owner = alice
        .post(
            &share,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(owner.status(), 400);
    let workspaces = laptop.rpc.get_workspaces(&laptop.token).await.unwrap();
    assert_eq!(workspaces.len(), 1, "{workspaces:?}");
    assert!(proposals_of(&bobs_device).await.incoming.is_empty());

    // One form: the folder becomes a workspace and bob is invited.
    let shared = alice
        .post(
            &share,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "bob"),
                ("role", "viewer"),
                ("message", "the photos"),
            ],
        )
        .await;
    assert_eq!(shared.status(), 303);
    let done = location(&shared);
    let workspace = done
        .strip_prefix("/files/")
        .and_then(|rest| rest.strip_suffix("/sharing?done=folder-shared"))
        .unwrap_or_else(|| panic!("{done}"))
        .to_owned();
    let (_, sharing) = alice.html(&done).await;
    assert!(sharing.contains("now a shared workspace"), "{sharing}");
    assert!(
        sharing.contains("Invitations waiting for an answer"),
        "{sharing}"
    );
    // It stays where it was in alice's list, shown as shared, and opens the
    // workspace, whose items keep their ids.
    let (_, top) = alice.html(&format!("/files/{default}")).await;
    assert!(
        top.contains(&format!("href=\"/files/{workspace}\"")),
        "{top}"
    );
    assert!(top.contains(">Trip</a>"), "{top}");
    assert!(top.contains("<span class=\"badge\">shared</span>"), "{top}");
    assert!(!top.contains(&format!("href=\"{share}\"")), "{top}");
    let (_, inside) = alice.html(&format!("/files/{workspace}")).await;
    for id in [notes.id, day.id] {
        assert!(
            inside.contains(&format!("/files/{workspace}/{id}")),
            "{inside}"
        );
    }
    // The old form again (a second click) offers the workspace, converted once.
    let again = alice.get(&share).await;
    assert_eq!(location(&again), format!("/files/{workspace}/sharing"));
    let twice = alice
        .post(
            &share,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "carol"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(twice.status(), 303);
    assert_eq!(
        location(&twice),
        format!("/files/{workspace}/sharing?done=proposed")
    );
    let workspaces = laptop.rpc.get_workspaces(&laptop.token).await.unwrap();
    assert_eq!(workspaces.len(), 2, "{workspaces:?}");

    // Shares do not nest: a folder inside the new workspace is not shared alone.
    let nested = format!("/files/{workspace}/{}/share", day.id);
    let (status, page) = alice.html(&nested).await;
    assert_eq!(status, 200);
    assert!(page.contains("shares do not nest"), "{page}");
    assert!(!page.contains("Send invitation"), "{page}");
    let refused = alice
        .post(
            &nested,
            &[
                ("csrf", &alice_csrf),
                ("addressees", "carol"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused.text().await.unwrap().contains("shares do not nest"),
        "nested share"
    );

    // Bob accepts and opens the file, the same bytes.
    let (_, invitations) = bob.html("/sharing").await;
    let proposal = proposal_in(&invitations, "accept");
    let accepted = bob
        .post(
            &format!("/sharing/{proposal}/accept"),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let opened = bob
        .get(&format!("/files/{workspace}/{}/content", notes.id))
        .await;
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.bytes().await.unwrap(), &b"pack the tent"[..]);
    let (_, bobs_top) = bob
        .html(&format!("/files/{}", bobs_device.workspace.workspace_id))
        .await;
    assert!(bobs_top.contains("shared with you"), "{bobs_top}");
}

#[tokio::test]
async fn an_encrypted_invitation_is_accepted_only_from_a_desktop_client() {
    let app = spawn_app().await;
    for user in ["alice", "bob"] {
        app.add_user(user, None, true).await;
    }
    let alices_device = device(&app, "alice").await;
    let bobs_device = device(&app, "bob").await;
    let secrets = alices_device
        .rpc
        .create_workspace(
            &alices_device.token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: "Secrets".into(),
                encryption: EncryptionMode::Client,
                key_check: Some("ab".repeat(16)),
            },
        )
        .await
        .unwrap();
    let proposals: Vec<Proposal> = alices_device
        .rpc
        .call(
            Some(&alices_device.token),
            Operation::ProposeShare(ProposeShareArgs {
                workspace_id: secrets.workspace_id,
                addressees: vec!["bob".into()],
                role: Role::Editor,
                message: None,
            }),
        )
        .await
        .unwrap();
    let id = proposals[0].proposal_id;

    // The invitation shows its lock and where to accept it; no accept form.
    let (mut bob, bob_csrf) = browser_of(&app, "bob").await;
    let (status, invitations) = bob.html("/sharing").await;
    assert_eq!(status, 200);
    for text in [
        "Secrets",
        "lock.svg",
        "end-to-end encrypted",
        &format!("<code>nimbus share accept {id}</code>"),
        &format!("/sharing/{id}/decline\""),
    ] {
        assert!(invitations.contains(text), "{text:?} in {invitations}");
    }
    assert!(
        !invitations.contains(&format!("/sharing/{id}/accept\"")),
        "{invitations}"
    );

    // A forged accept, through the page or REST: the servers refuse it
    // without the key check, and nothing changes.
    let forged = bob
        .post(&format!("/sharing/{id}/accept"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(forged.status(), 400);
    let page = forged.text().await.unwrap();
    assert!(
        page.contains("accept it from the desktop client") && page.contains("nothing was accepted"),
        "{page}"
    );
    let bobs_grant = grant(&app, "bob").await;
    let (status, refusal) = rest(
        &app,
        &bobs_grant,
        "POST",
        &format!("/v1/proposals/{id}/accept"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal
            .to_string()
            .contains(&format!("nimbus share accept {id}")),
        "{refusal}"
    );
    let listed = proposals_of(&bobs_device).await;
    assert_eq!(listed.incoming[0].status, ProposalStatus::Pending);
    let workspaces = bobs_device
        .rpc
        .get_workspaces(&bobs_device.token)
        .await
        .unwrap();
    assert!(
        workspaces
            .iter()
            .all(|w| w.workspace_id != secrets.workspace_id),
        "{workspaces:?}"
    );
}
