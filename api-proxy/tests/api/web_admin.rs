//! The administration pages without a browser: an administrator adds a
//! user, sets a quota and a password, disables and enables, and reads the
//! overview, the audit log and the service health; a user who is not an
//! administrator is refused every page and form (by the metadata servers:
//! the matrix in authorization_matrix/web.rs has the other callers), and a
//! form without its CSRF token does nothing.

use nimbus_server::admin;
use nimbus_server::storage::Actor;

use crate::helpers::{TestApp, spawn_app};
use crate::web::{Browser, location};

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
