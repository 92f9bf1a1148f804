//! The administration pages without a browser: an administrator adds a
//! user, sets a quota and a password, disables and enables, and reads the
//! overview, the audit log and the service health; a user who is not an
//! administrator is refused every page and form (by the metadata servers:
//! the matrix in authorization_matrix/web.rs has the other callers), and a
//! form without its CSRF token does nothing. The same for deleting a user
//! (after a decision for each workspace they share), registering and
//! removing OAuth applications, and revoking any user's public link, each
//! written to the audit log as the administrator's.

use nimbus_protocol::rpc::{CreateLinkArgs, CreatedLink, Operation, Role};
use nimbus_server::admin;
use nimbus_server::storage::Actor;

use crate::browser::{Browser, value_of};
use crate::helpers::{Device, TestApp, device, spawn_app};
use crate::sharing::{create_workspace, share};
use crate::web::location;

async fn quota_of(app: &TestApp, username: &str) -> Option<u64> {
    app.metadata
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.user.username == username)
        .map(|u| u.user.quota_limit)
}

#[tokio::test]
async fn an_administrator_manages_users_and_reads_the_service_from_the_pages() {
    let app = spawn_app().await;
    app.add_admin("root").await;
    app.add_user("alice", None, true).await;
    admin::add_oauth_consumer(
        app.metadata.as_ref(),
        &Actor::command_line(),
        "Photo app",
        None,
    )
    .await
    .unwrap();
    let mut root = Browser::new(&app);
    let csrf = root.sign_in("root").await;
    let mut alice = Browser::new(&app);
    let alice_csrf = alice.sign_in("alice").await;

    // Only the administrator sees the pages, and the link to them.
    let (status, home) = root.html("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/admin\""), "{home}");
    let (_, alices_home) = alice.html("/").await;
    assert!(!alices_home.contains("href=\"/admin\""));
    for page in ["/admin", "/admin/overview", "/admin/audit", "/admin/health"] {
        assert_eq!(alice.html(page).await.0, 403, "{page}");
    }
    let by_alice = alice
        .post(
            "/admin/users/root",
            &[("csrf", &alice_csrf), ("change", "disable")],
        )
        .await;
    assert_eq!(by_alice.status(), 403);

    let (status, users) = root.html("/admin").await;
    assert_eq!(status, 200);
    assert!(
        users.contains("alice") && users.contains("stored"),
        "{users}"
    );

    // Adding: refused without the CSRF token and with a bad quota.
    let form = [
        ("username", "dora"),
        ("password", "dora's first password"),
        ("email", "dora@example.org"),
        ("quota_gib", "2"),
    ];
    assert_eq!(root.post("/admin/users", &form).await.status(), 403);
    let bad = [
        ("csrf", csrf.as_str()),
        ("username", "dora"),
        ("password", "dora's first password"),
        ("quota_gib", "lots"),
    ];
    assert_eq!(root.post("/admin/users", &bad).await.status(), 400);
    assert_eq!(quota_of(&app, "dora").await, None);
    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let added = root.post("/admin/users", &good).await;
    assert_eq!(added.status(), 303);
    assert_eq!(location(&added), "/admin?done=user-added");
    assert_eq!(quota_of(&app, "dora").await, Some(2 << 30));
    let (_, users) = root.html("/admin?done=user-added").await;
    assert!(users.contains("dora@example.org") && users.contains("was added"));

    let quota = root
        .post(
            "/admin/users/dora",
            &[("csrf", &csrf), ("change", "quota"), ("quota_gib", "5")],
        )
        .await;
    assert_eq!(quota.status(), 303);
    assert_eq!(quota_of(&app, "dora").await, Some(5 << 30));

    let reset = root
        .post(
            "/admin/users/dora",
            &[
                ("csrf", &csrf),
                ("change", "password"),
                ("password", "dora's second password"),
            ],
        )
        .await;
    assert_eq!(reset.status(), 303);
    let mut dora = Browser::new(&app);
    assert_eq!(
        dora.sign_in_with("dora", "dora's second password")
            .await
            .status(),
        303
    );
    assert_eq!(dora.html("/").await.0, 200);

    // Disabling ends her session at once; enabling lets her sign in again.
    let disable = root
        .post(
            "/admin/users/dora",
            &[("csrf", &csrf), ("change", "disable")],
        )
        .await;
    assert_eq!(disable.status(), 303);
    // The servers' event reaches the proxy's listener a moment after the
    // answer, on another connection.
    let mut ended = false;
    for _ in 0..50 {
        if dora.get("/").await.status() == 303 {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "a disabled user's session ends");
    let enable = root
        .post(
            "/admin/users/dora",
            &[("csrf", &csrf), ("change", "enable")],
        )
        .await;
    assert_eq!(enable.status(), 303);
    assert_eq!(
        dora.sign_in_with("dora", "dora's second password")
            .await
            .status(),
        303
    );

    let (status, overview) = root.html("/admin/overview").await;
    assert_eq!(status, 200);
    assert!(overview.contains("Photo app"), "{overview}");
    let (status, audit) = root.html("/admin/audit?user=dora").await;
    assert_eq!(status, 200);
    for action in [
        "user-add",
        "user-quota",
        "password-reset",
        "sign-in",
        "user-disable",
        "user-enable",
    ] {
        assert!(audit.contains(&format!(">{action}<")), "{action}: {audit}");
    }
    assert!(!audit.contains("dora&#39;s second password") && !audit.contains("second password"));
    let (status, health) = root.html("/admin/health").await;
    assert_eq!(status, 200);
    assert!(health.contains("Metadata servers answering"), "{health}");
    assert!(!health.contains("<strong>0</strong> consuming"), "{health}");
}

/// Whether `username` is a user (deleted users are not listed).
async fn exists(app: &TestApp, username: &str) -> bool {
    quota_of(app, username).await.is_some()
}

async fn post_pairs(
    browser: &mut Browser,
    path: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.post(path, &fields).await
}

#[tokio::test]
async fn an_administrator_deletes_a_user_only_after_deciding_for_each_shared_workspace() {
    let app = spawn_app().await;
    app.add_admin("root").await;
    for user in ["alice", "bob", "dora"] {
        app.add_user(user, None, true).await;
    }
    let dora = device(&app, "dora").await;
    let bobs = device(&app, "bob").await;
    let team = create_workspace(&dora, "Team").await;
    share(&dora, &team, &bobs, "bob", Role::Editor).await;
    let lab = create_workspace(&dora, "Lab").await;
    share(&dora, &lab, &bobs, "bob", Role::Viewer).await;
    let mut root = Browser::new(&app);
    let csrf = root.sign_in("root").await;
    let mut alice = Browser::new(&app);
    let alice_csrf = alice.sign_in("alice").await;

    // The confirmation shows what she owns and shares, with no choice made.
    let (status, page) = root.html("/admin/users/dora/delete").await;
    assert_eq!(status, 200);
    for shown in ["Team", "Lab", "Hand it to bob", "Deleted with them"] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(page.contains(&format!("name=\"workspace-{}\"", team.workspace_id)));
    assert!(
        !page.contains(" checked"),
        "no decision is made for the administrator"
    );
    let (status, _) = root.html("/admin/users/nobody/delete").await;
    assert_eq!(status, 400);

    let team_field = format!("workspace-{}", team.workspace_id);
    let lab_field = format!("workspace-{}", lab.workspace_id);
    let decided = [
        ("confirm", "dora"),
        (team_field.as_str(), "to:bob"),
        (lab_field.as_str(), "delete"),
    ];
    let delete = "/admin/users/dora/delete";
    let with = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
        decided
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    // Refusals delete nothing: a user who is not an administrator, no CSRF
    // token, the name not typed again, a shared workspace without a decision.
    let by_alice = with(&[("csrf", &alice_csrf)]);
    assert_eq!(
        post_pairs(&mut alice, delete, &by_alice).await.status(),
        403
    );
    assert_eq!(alice.html(delete).await.0, 403);
    assert_eq!(
        post_pairs(&mut root, delete, &with(&[])).await.status(),
        403
    );
    let mut unconfirmed = with(&[("csrf", &csrf)]);
    unconfirmed.retain(|(k, _)| k != "confirm");
    assert_eq!(
        post_pairs(&mut root, delete, &unconfirmed).await.status(),
        400
    );
    let mut undecided = with(&[("csrf", &csrf)]);
    undecided.retain(|(k, _)| *k != lab_field);
    let refused = post_pairs(&mut root, delete, &undecided).await;
    assert_eq!(refused.status(), 400);
    assert!(exists(&app, "dora").await);

    let deleted = post_pairs(&mut root, delete, &with(&[("csrf", &csrf)])).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(location(&deleted), "/admin?done=user-deleted");
    assert!(!exists(&app, "dora").await);
    let bobs_workspaces = bobs.rpc.get_workspaces(&bobs.token).await.unwrap();
    let kept = bobs_workspaces
        .iter()
        .find(|w| w.workspace_id == team.workspace_id)
        .expect("Team went to bob");
    assert_eq!(kept.role, Role::Owner);
    assert!(
        bobs_workspaces
            .iter()
            .all(|w| w.workspace_id != lab.workspace_id)
    );
    let (_, audit) = root.html("/admin/audit?user=dora").await;
    assert!(
        audit.contains(">user-delete<") && audit.contains(">root<"),
        "{audit}"
    );
}

#[tokio::test]
async fn an_administrator_registers_and_removes_applications_and_revokes_any_link() {
    let app = spawn_app().await;
    app.add_admin("root").await;
    app.add_user("alice", None, true).await;
    let alices = device(&app, "alice").await;
    let mut root = Browser::new(&app);
    let csrf = root.sign_in("root").await;
    let mut alice = Browser::new(&app);
    let alice_csrf = alice.sign_in("alice").await;

    // Registering: refused without the CSRF token and to a non-administrator.
    let form = [
        ("name", "Photo frame"),
        ("callback", "https://frame.example/back"),
    ];
    assert_eq!(root.post("/admin/applications", &form).await.status(), 403);
    let mut alices_form = form.to_vec();
    alices_form.push(("csrf", &alice_csrf));
    assert_eq!(
        alice
            .post("/admin/applications", &alices_form)
            .await
            .status(),
        403
    );
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Frame"),
        ("callback", "ftp://frame.example"),
    ];
    assert_eq!(root.post("/admin/applications", &bad).await.status(), 400);
    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let registered = root.post("/admin/applications", &good).await;
    assert_eq!(registered.status(), 201);
    let page = registered.text().await.unwrap();
    let key = value_of(&page, "id=\"new-key\" value=\"");
    let secret = value_of(&page, "id=\"new-secret\" value=\"");
    nimbus_server::test_log::record_secret("consumer secret", &secret);
    let stored = app
        .metadata
        .oauth_consumer(&key)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(
        (stored.name.as_str(), stored.secret.as_str()),
        ("Photo frame", secret.as_str())
    );
    // The secret is told once: the overview lists the key, never the secret.
    let (_, overview) = root.html("/admin/overview").await;
    assert!(
        overview.contains(&key) && !overview.contains(&secret),
        "{overview}"
    );

    let remove = format!("/admin/applications/{key}/remove");
    assert_eq!(root.post(&remove, &[]).await.status(), 403);
    assert_eq!(
        alice.post(&remove, &[("csrf", &alice_csrf)]).await.status(),
        403
    );
    let removed = root.post(&remove, &[("csrf", &csrf)]).await;
    assert_eq!(location(&removed), "/admin/overview?done=app-removed");
    assert!(app.metadata.oauth_consumer(&key).await.unwrap().is_none());
    assert_eq!(root.post(&remove, &[("csrf", &csrf)]).await.status(), 400);

    // Alice's link, listed by creator and revoked by the administrator.
    let link = make_link(&alices).await;
    let url = format!("{}/s/{}", app.address, link.token.0);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    let revoke = format!("/admin/links/{}/revoke", link.link.link_id);
    let (_, hers) = root.html("/admin/overview?user=alice").await;
    assert!(hers.contains(&revoke), "{hers}");
    let (_, roots) = root.html("/admin/overview?user=root").await;
    assert!(!roots.contains(&revoke) && roots.contains("root has made no public link"));
    assert_eq!(root.post(&revoke, &[]).await.status(), 403);
    assert_eq!(
        alice.post(&revoke, &[("csrf", &alice_csrf)]).await.status(),
        403
    );
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    let revoked = root.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(location(&revoked), "/admin/overview?done=revoked");
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 404);

    // Each change is in the audit log as the administrator's.
    let (_, audit) = root.html("/admin/audit?user=root").await;
    for action in ["oauth-app-add", "oauth-app-remove", "link-revoke"] {
        assert!(audit.contains(&format!(">{action}<")), "{action}: {audit}");
    }
    assert!(!audit.contains(&secret));
}

/// A link to the whole of `device`'s default workspace.
async fn make_link(device: &Device) -> CreatedLink {
    let created: CreatedLink = device
        .rpc
        .call(
            Some(&device.token),
            Operation::CreateLink(CreateLinkArgs {
                workspace_id: device.workspace.workspace_id,
                item_id: None,
                expires_at: None,
                password: None,
                max_downloads: None,
            }),
        )
        .await
        .unwrap();
    nimbus_server::test_log::record_secret("link token", &created.token.0);
    created
}

#[tokio::test]
async fn an_administrator_pages_through_the_public_links() {
    let app = spawn_app().await;
    app.add_admin("root").await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alices = device(&app, "alice").await;
    let bobs = device(&app, "bob").await;
    let mut alices_links = Vec::new();
    for _ in 0..204 {
        alices_links.push(make_link(&alices).await.link.link_id.to_string());
    }
    let bobs_link = make_link(&bobs).await.link.link_id.to_string();
    let mut root = Browser::new(&app);
    root.sign_in("root").await;
    let links_on = |page: &str| page.matches("/admin/links/").count();

    // Everyone's, newest first, 100 a page: bob's (the newest) leads.
    let (status, first) = root.html("/admin/overview").await;
    assert_eq!(status, 200);
    assert_eq!(links_on(&first), 100);
    assert!(first.contains(&bobs_link) && first.contains("1–100 of 205"));
    assert!(first.contains("href=\"/admin/overview?page=2\" rel=\"next\""));
    assert!(!first.contains("rel=\"prev\""));
    let (_, last) = root.html("/admin/overview?page=3").await;
    assert_eq!(links_on(&last), 5);
    assert!(last.contains(&alices_links[0]) && !last.contains(&bobs_link));
    assert!(last.contains("201–205 of 205"));
    assert!(last.contains("href=\"/admin/overview?page=2\" rel=\"prev\""));
    assert!(!last.contains("rel=\"next\""));
    // Past the last page: the last page.
    let (_, past) = root.html("/admin/overview?page=9").await;
    assert_eq!(links_on(&past), 5);
    assert!(past.contains("201–205 of 205"));

    // One creator's, paged as well; the pages keep the creator.
    let (_, hers) = root.html("/admin/overview?user=alice&page=2").await;
    assert_eq!(links_on(&hers), 100);
    assert!(hers.contains("101–200 of 204") && !hers.contains(&bobs_link));
    // The template escapes the `&` between the parameters.
    assert!(
        hers.contains("href=\"/admin/overview?user=alice&#38;page=3\" rel=\"next\""),
        "{hers}"
    );
    assert!(hers.contains("href=\"/admin/overview?user=alice\" rel=\"prev\""));
    let (_, his) = root.html("/admin/overview?user=bob").await;
    assert_eq!(links_on(&his), 1);
    assert!(his.contains(&bobs_link) && !his.contains(" of 1<"));
    assert!(!his.contains("rel=\"next\"") && !his.contains("rel=\"prev\""));
}
