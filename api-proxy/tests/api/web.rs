//! The browser UI's handlers, without a browser: sign-in and sign-out,
//! browsing, downloads with ranges, the account page, and every refusal
//! (no session, an expired or revoked one, a missing or wrong CSRF token,
//! another user's ids).

use std::net::IpAddr;
use std::num::NonZeroU32;

use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{
    CommitArgs, CommitItem, Content, CreateWorkspaceArgs, DeviceArgs, DeviceInfo, EncryptionMode,
    LoginArgs, Operation, Password,
};
use reqwest::{Response, StatusCode};
use uuid::Uuid;

use crate::browser::{Browser, value_of, with_form};
use crate::helpers::{
    Device, PASSWORD, TestApp, device, noise, spawn_app, spawn_app_with, upload_chunks,
};
use crate::oauth;

pub(crate) fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

pub(crate) fn folder(name: &str, parent: Option<Uuid>) -> CommitItem {
    CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: parent,
        name: name.into(),
        is_folder: true,
        deleted: false,
        modified_at: 1_700_000_000_000,
        content: Content::default(),
    }
}

/// Stores `data` as a desktop client does and returns the file to commit.
pub(crate) async fn file(
    app: &TestApp,
    laptop: &Device,
    name: &str,
    parent: Option<Uuid>,
    data: &[u8],
) -> CommitItem {
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let (chunks, content_hash, size) = upload_chunks(
        &app.client,
        &laptop.container_url,
        &laptop.swift_token,
        &keys,
        data,
    )
    .await;
    CommitItem {
        content: Content {
            size,
            content_hash: Some(content_hash),
            chunks,
            chunker: Some(nimbus_chunks::ChunkerParams::DEFAULT.describe()),
        },
        is_folder: false,
        ..folder(name, parent)
    }
}

pub(crate) async fn commit(laptop: &Device, items: Vec<CommitItem>) {
    let reply = laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: laptop.workspace.workspace_id,
                items,
            },
        )
        .await
        .unwrap();
    for result in reply.results {
        assert!(
            matches!(
                result.outcome,
                nimbus_protocol::rpc::ItemOutcome::Committed { .. }
            ),
            "{result:?}"
        );
    }
}

pub(crate) async fn devices(laptop: &Device) -> Vec<DeviceInfo> {
    laptop
        .rpc
        .call(Some(&laptop.token), Operation::ListDevices)
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_browse_download_and_sign_out() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let docs = folder("docs", None);
    let big = noise(900_000, 7);
    let hello = file(&app, &laptop, "hello.txt", Some(docs.id), b"hello, world\n").await;
    let photo = file(&app, &laptop, "big.bin", Some(docs.id), &big).await;
    let page = file(
        &app,
        &laptop,
        "page.html",
        Some(docs.id),
        b"<script>alert(1)</script>",
    )
    .await;
    assert!(photo.content.chunks.len() > 1, "the big file spans chunks");
    commit(
        &laptop,
        vec![docs.clone(), hello.clone(), photo.clone(), page.clone()],
    )
    .await;
    let workspace = laptop.workspace.workspace_id;

    let mut browser = Browser::new(&app);
    // A wrong password shows the server's message and sets no session.
    let wrong = browser.sign_in_with("alice", "wrong").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("role=\"alert\""));
    assert!(!browser.cookies.contains_key("nimbus_session"));

    let signed_in = browser.sign_in_with("alice", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
    let set_cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("nimbus_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "http deployments get no Secure cookie"
    );
    // The browser session is a device of alice's.
    assert!(
        devices(&laptop)
            .await
            .iter()
            .any(|d| d.name.starts_with("Web browser") && !d.revoked)
    );

    let home = browser.get("/").await;
    assert_eq!(home.status(), 200);
    let csp = home.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(home.headers()["x-content-type-options"], "nosniff");
    assert_eq!(home.headers()["cache-control"], "no-store");
    let html = home.text().await.unwrap();
    assert!(html.contains(&format!("/files/{workspace}")), "{html}");
    let csrf = value_of(&html, "name=\"csrf-token\" content=\"");

    let (status, top) = browser.html(&format!("/files/{workspace}")).await;
    assert_eq!(status, 200);
    assert!(
        top.contains(&format!("/files/{workspace}/{}", docs.id)),
        "{top}"
    );
    let (status, inside) = browser
        .html(&format!("/files/{workspace}/{}", docs.id))
        .await;
    assert_eq!(status, 200);
    for name in ["hello.txt", "big.bin", "page.html"] {
        assert!(inside.contains(name), "{name} in {inside}");
    }
    assert!(
        inside.contains("aria-current=\"page\">docs<"),
        "breadcrumbs: {inside}"
    );

    // Text opens inline, sandboxed; HTML is plain text; the rest downloads.
    let text = browser
        .get(&format!("/files/{workspace}/{}/content", hello.id))
        .await;
    assert_eq!(text.status(), 200);
    assert_eq!(text.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(
        text.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(text.headers()["x-content-type-options"], "nosniff");
    assert!(
        text.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"hello.txt\"")
    );
    assert_eq!(text.bytes().await.unwrap().as_ref(), b"hello, world\n");
    let html_file = browser
        .get(&format!("/files/{workspace}/{}/content", page.id))
        .await;
    assert_eq!(
        html_file.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let binary = browser
        .get(&format!("/files/{workspace}/{}/content", photo.id))
        .await;
    assert_eq!(binary.headers()["content-type"], "application/octet-stream");
    assert!(
        binary.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(binary.bytes().await.unwrap().as_ref(), big.as_slice());
    let forced = browser
        .get(&format!("/files/{workspace}/{}/download", hello.id))
        .await;
    assert!(
        forced.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // A range across a chunk boundary, a suffix range, and one past the end.
    let first_chunk = u64::from(photo.content.chunks[0].size);
    let (start, end) = (first_chunk - 100, first_chunk + 99);
    let request = browser
        .client
        .get(format!(
            "{}/files/{workspace}/{}/content",
            app.address, photo.id
        ))
        .header("range", format!("bytes={start}-{end}"));
    let ranged = browser.send(request).await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes {start}-{end}/{}", big.len()).as_str()
    );
    assert_eq!(
        ranged.bytes().await.unwrap().as_ref(),
        &big[start as usize..=end as usize]
    );
    let request = browser
        .client
        .get(format!(
            "{}/files/{workspace}/{}/content",
            app.address, photo.id
        ))
        .header("range", "bytes=-10");
    let suffix = browser.send(request).await;
    assert_eq!(suffix.status(), 206);
    assert_eq!(
        suffix.bytes().await.unwrap().as_ref(),
        &big[big.len() - 10..]
    );
    let request = browser
        .client
        .get(format!(
            "{}/files/{workspace}/{}/content",
            app.address, photo.id
        ))
        .header("range", format!("bytes={}-", big.len()));
    let beyond = browser.send(request).await;
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", big.len()).as_str()
    );

    // Signing out without the CSRF token changes nothing.
    let refused = browser.post("/signout", &[]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(browser.get("/").await.status(), 200);
    let signed_out = browser.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(signed_out.status(), 303);
    assert_eq!(location(&signed_out), "/signin");
    assert!(!browser.cookies.contains_key("nimbus_session"));
    // The device is revoked: the old cookie no longer opens anything.
    assert!(
        devices(&laptop)
            .await
            .iter()
            .filter(|d| d.name.starts_with("Web browser"))
            .all(|d| d.revoked)
    );
}

#[tokio::test]
async fn pages_need_a_live_session() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = Browser::new(&app);

    // No session: to the sign-in page, returning afterwards.
    for path in ["/", "/account", &format!("/files/{workspace}")] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        let expected = if path == "/" {
            "/signin".to_owned()
        } else {
            format!("/signin?next={}", path.replace('/', "%2F"))
        };
        assert_eq!(location(&response), expected);
    }
    // htmx requests are told to load the sign-in page as a whole page.
    let request = browser
        .client
        .get(format!("{}/account", app.address))
        .header("hx-request", "true");
    let htmx = browser.send(request).await;
    assert_eq!(htmx.status(), 401);
    assert_eq!(htmx.headers()["hx-redirect"], "/signin?next=%2Faccount");
    // After sign-in the browser returns where it was, but only on this site.
    let form = browser
        .get("/signin?next=//evil.example")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"next\" value=\"/\""), "{form}");

    // A made-up session is cleared.
    browser
        .cookies
        .insert("nimbus_session".into(), "nmb_forged".into());
    let forged = browser.get("/").await;
    assert_eq!(forged.status(), 303);
    assert!(!browser.cookies.contains_key("nimbus_session"));

    // An expired session.
    let short = laptop
        .rpc
        .login(LoginArgs {
            username: "alice".into(),
            password: Password(PASSWORD.into()),
            device: DeviceArgs {
                device_name: "Web browser".into(),
                os: None,
                app_version: None,
            },
            token_ttl_secs: Some(1),
        })
        .await
        .unwrap();
    browser
        .cookies
        .insert("nimbus_session".into(), short.token.0.clone());
    assert_eq!(browser.get("/").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    browser
        .cookies
        .insert("nimbus_session".into(), short.token.0.clone());
    let expired = browser.get(&format!("/files/{workspace}")).await;
    assert_eq!(expired.status(), 303);
    assert!(location(&expired).starts_with("/signin?next="));

    // A session revoked from another device ends at once.
    browser.sign_in("alice").await;
    let session = devices(&laptop)
        .await
        .into_iter()
        .find(|d| d.name.starts_with("Web browser") && !d.revoked && d.device_id != short.device_id)
        .unwrap();
    laptop
        .rpc
        .call::<()>(
            Some(&laptop.token),
            Operation::RevokeDevice {
                device_id: session.device_id,
            },
        )
        .await
        .unwrap();
    let revoked = browser.get("/account").await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&revoked), "/signin?next=%2Faccount");
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_nonce() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let mut browser = Browser::new(&app);
    // Posted from elsewhere: no nonce cookie.
    let forged = browser
        .post(
            "/signin",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("nonce", "x"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(!browser.cookies.contains_key("nimbus_session"));
    // A nonce that is not the cookie's.
    browser.get("/signin").await;
    let wrong = browser
        .post(
            "/signin",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("nonce", "0000"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 403);
    assert!(!browser.cookies.contains_key("nimbus_session"));
}

#[tokio::test]
async fn another_users_workspaces_and_items_are_not_found() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let bobs = device(&app, "bob").await;
    let secret_folder = folder("secret", None);
    let secret = file(&app, &bobs, "secret.txt", Some(secret_folder.id), b"bob's").await;
    commit(&bobs, vec![secret_folder.clone(), secret.clone()]).await;
    let alices = device(&app, "alice").await;
    let mut alice = Browser::new(&app);
    let csrf = alice.sign_in("alice").await;

    let bob_ws = bobs.workspace.workspace_id;
    let alice_ws = alices.workspace.workspace_id;
    let unknown = Uuid::new_v4();
    let (status, page) = alice.html(&format!("/files/{bob_ws}")).await;
    assert_eq!(status, 404);
    let (_, unknown_page) = alice.html(&format!("/files/{unknown}")).await;
    assert_eq!(
        page, unknown_page,
        "a foreign workspace reads as an unknown one"
    );
    for path in [
        format!("/files/{bob_ws}/{}", secret_folder.id),
        format!("/files/{bob_ws}/{}/content", secret.id),
        format!("/files/{bob_ws}/{}/download", secret.id),
        // Bob's ids under alice's own workspace.
        format!("/files/{alice_ws}/{}", secret_folder.id),
        format!("/files/{alice_ws}/{}/content", secret.id),
        format!("/files/{alice_ws}/not-an-id"),
    ] {
        let (status, body) = alice.html(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            !body.contains("bob's") && !body.contains("secret.txt"),
            "{path}: {body}"
        );
    }
    let (_, search) = alice.html(&format!("/files/{alice_ws}?q=secret")).await;
    assert!(!search.contains("secret.txt"));

    // Alice cannot end bob's devices.
    let revoke = alice
        .post(
            &format!("/account/devices/{}/revoke", bobs_device_id(&bobs).await),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        revoke.status() == 403 || revoke.status() == 404,
        "{}",
        revoke.status()
    );
    assert!(bobs.rpc.get_account(&bobs.token).await.is_ok());
}

async fn bobs_device_id(bobs: &Device) -> Uuid {
    bobs.rpc.get_account(&bobs.token).await.unwrap().device_id
}

#[tokio::test]
async fn changes_need_the_sessions_csrf_token() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let laptop_id = laptop
        .rpc
        .get_account(&laptop.token)
        .await
        .unwrap()
        .device_id;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in("alice").await;
    // Another session's token is no good here either.
    let mut other = Browser::new(&app);
    let other_csrf = other.sign_in("alice").await;
    assert_ne!(csrf, other_csrf);

    let revoke = format!("/account/devices/{laptop_id}/revoke");
    for form in [
        vec![],
        vec![("csrf", "")],
        vec![("csrf", "nonsense")],
        vec![("csrf", other_csrf.as_str())],
    ] {
        for path in [revoke.as_str(), "/signout", "/account/applications/revoke"] {
            let response = browser.post(path, &form).await;
            assert_eq!(response.status(), 403, "{path} with {form:?}");
            assert!(
                response
                    .text()
                    .await
                    .unwrap()
                    .contains("nothing was changed")
            );
        }
    }
    assert!(laptop.rpc.get_account(&laptop.token).await.is_ok());
    assert_eq!(browser.get("/").await.status(), 200, "still signed in");

    // The header htmx sends counts as well as the form field.
    let request = with_form(
        browser.client.post(format!("{}{revoke}", app.address)),
        &[("unused", "")],
    )
    .header("x-csrf-token", &csrf);
    let revoked = browser.send(request).await;
    assert_eq!(revoked.status(), 303);
    assert!(laptop.rpc.get_account(&laptop.token).await.is_err());
}

#[tokio::test]
async fn the_account_page_shows_quota_devices_and_applications_and_revokes_them() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let grant = crate::oauth::grant(&app, "alice").await;
    let laptop = device(&app, "alice").await;
    commit(
        &laptop,
        vec![file(&app, &laptop, "a.bin", None, &noise(3000, 1)).await],
    )
    .await;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in("alice").await;
    let (status, page) = browser.html("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("2.9 KiB</strong> used of 1.0 GiB"), "{page}");
    assert!(
        page.contains("laptop") && page.contains("this browser"),
        "{page}"
    );
    assert!(page.contains("Photo app"), "{page}");

    let revoke_app = browser
        .post(
            "/account/applications/revoke",
            &[("csrf", &csrf), ("token", &grant.token.0)],
        )
        .await;
    assert_eq!(revoke_app.status(), 303);
    let (_, page) = browser.html("/account").await;
    assert!(!page.contains("Photo app"), "{page}");

    let laptop_id = laptop
        .rpc
        .get_account(&laptop.token)
        .await
        .unwrap()
        .device_id;
    let revoked = browser
        .post(
            &format!("/account/devices/{laptop_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&revoked), "/account");
    assert!(laptop.rpc.get_account(&laptop.token).await.is_err());

    // Ending this browser's own session signs it out.
    let own = value_of(
        &browser.html("/account").await.1,
        "form method=\"post\" action=\"/account/devices/",
    );
    let own = own.trim_end_matches("/revoke");
    let signed_out = browser
        .post(
            &format!("/account/devices/{own}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&signed_out), "/signin");
    assert_eq!(browser.get("/").await.status(), 303);
}

#[tokio::test]
async fn big_folders_are_paged_sorted_and_searched_on_the_server() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let big = folder("big", None);
    let mut items = vec![big.clone()];
    for n in 0..450u64 {
        let mut item = folder(&format!("file {n:04}.txt"), Some(big.id));
        item.is_folder = false;
        // The listing never reads content, so the chunks need not exist.
        item.content = Content {
            size: n,
            content_hash: Some(format!("blake3:{n:064x}")),
            chunks: vec![nimbus_protocol::rpc::ChunkRef {
                id: format!("{n:064x}"),
                size: n as u32,
            }],
            chunker: None,
        };
        item.modified_at = 1_700_000_000_000 + n as i64 * 60_000;
        items.push(item);
    }
    commit(&laptop, items).await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let base = format!("/files/{workspace}/{}", big.id);
    let rows = |html: &str| html.matches("class=\"item\"").count();

    let (status, first) = browser.html(&base).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&first), 200);
    assert!(first.contains("1–200 of 450"));
    assert!(first.contains("file 0000.txt") && !first.contains("file 0200.txt"));
    assert!(first.contains("page=2"));
    let (_, last) = browser.html(&format!("{base}?page=3")).await;
    assert_eq!(rows(&last), 50);
    assert!(last.contains("file 0449.txt"));
    let (_, beyond) = browser.html(&format!("{base}?page=99")).await;
    assert_eq!(rows(&beyond), 50, "a page past the end shows the last");

    let (_, by_size) = browser.html(&format!("{base}?sort=size&order=desc")).await;
    let first_row = by_size.find("file 0449.txt").unwrap();
    assert!(first_row < by_size.find("file 0448.txt").unwrap());
    assert!(by_size.contains("aria-sort=\"descending\""));
    let (_, by_date) = browser.html(&format!("{base}?sort=modified")).await;
    assert!(by_date.find("file 0000.txt").unwrap() < by_date.find("file 0001.txt").unwrap());

    let (_, found) = browser.html(&format!("/files/{workspace}?q=0123")).await;
    assert_eq!(rows(&found), 1);
    assert!(found.contains("file 0123.txt") && found.contains("big"));
    let (status, bad_sort) = browser.html(&format!("{base}?sort=colour")).await;
    assert_eq!(status, 400, "{bad_sort}");
}

#[tokio::test]
async fn end_to_end_encrypted_workspaces_are_shown_locked() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let vault = laptop
        .rpc
        .create_workspace(
            &laptop.token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: "Vault".into(),
                encryption: EncryptionMode::Client,
                key_check: Some("ab".repeat(16)),
            },
        )
        .await
        .unwrap();
    let mut browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let (_, home) = browser.html("/").await;
    assert!(home.contains("Vault") && home.contains("locked"), "{home}");
    assert!(home.contains("desktop app"));
    assert!(!home.contains(&format!("href=\"/files/{}\"", vault.workspace_id)));
    let (status, page) = browser
        .html(&format!("/files/{}", vault.workspace_id))
        .await;
    assert_eq!(status, 403);
    assert!(page.contains("End-to-end encrypted"), "{page}");
}

#[tokio::test]
async fn assets_are_embedded_versioned_and_cached() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let (_, form) = browser.html("/signin").await;
    let css = value_of(&form, "rel=\"stylesheet\" href=\"");
    assert!(
        css.starts_with("/assets/") && css.ends_with("/app.css"),
        "{css}"
    );
    let response = browser.get(&css).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let request = browser
        .client
        .get(format!("{}{css}", app.address))
        .header("if-none-match", etag);
    assert_eq!(browser.send(request).await.status(), 304);
    // Another version of the file is not served under its URL.
    let stale = css.replacen("/assets/", "/assets/0", 1);
    assert_eq!(browser.get(&stale).await.status(), 404);
    let htmx = value_of(&form, "<script src=\"");
    assert!(htmx.ends_with("/vendor/htmx.min.js"));
    // Scripts are never inline.
    assert!(!form.contains("<script>") && !form.contains("style=\""));
    // The Swift API still answers the paths the UI does not take.
    assert_eq!(browser.get("/info").await.status(), 200);
}

#[tokio::test]
async fn folders_are_created_renamed_and_deleted_with_their_contents() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let laptop = device(&app, "alice").await;
    let docs = folder("docs", None);
    let note = file(&app, &laptop, "note.txt", Some(docs.id), b"keep me").await;
    commit(&laptop, vec![docs.clone(), note.clone()]).await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in("alice").await;
    let names = |html: &str| {
        html.match_indices("class=\"item\" href=\"")
            .map(|(at, _)| {
                html[at..]
                    .split('>')
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };

    let created = browser
        .post(
            &format!("/files/{workspace}/new-folder"),
            &[
                ("csrf", &csrf),
                ("name", "  Projects "),
                ("parent", &docs.id.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    assert_eq!(
        location(&created),
        format!("/files/{workspace}/{}", docs.id)
    );
    let (_, inside) = browser.html(&location(&created)).await;
    assert_eq!(names(&inside), ["Projects", "note.txt"]);
    // A taken name and an empty one are refused and change nothing.
    for name in ["Projects", "note.txt", "   "] {
        let refused = browser
            .post(
                &format!("/files/{workspace}/new-folder"),
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("parent", &docs.id.to_string()),
                ],
            )
            .await;
        assert!(refused.status() == 409 || refused.status() == 400, "{name}");
    }
    // Without the CSRF token nothing happens.
    let forged = browser
        .post(&format!("/files/{workspace}/new-folder"), &[("name", "x")])
        .await;
    assert_eq!(forged.status(), 403);

    let renamed = browser
        .post(
            &format!("/files/{workspace}/{}/rename", note.id),
            &[("csrf", &csrf), ("name", "kept.txt")],
        )
        .await;
    assert_eq!(renamed.status(), 303);
    let (_, inside) = browser
        .html(&format!("/files/{workspace}/{}", docs.id))
        .await;
    assert_eq!(names(&inside), ["Projects", "kept.txt"]);
    let content = browser
        .get(&format!("/files/{workspace}/{}/content", note.id))
        .await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), b"keep me");

    // Bob can neither rename nor delete alice's items.
    let mut bob = Browser::new(&app);
    let bobs_csrf = bob.sign_in("bob").await;
    for action in ["rename", "delete"] {
        let refused = bob
            .post(
                &format!("/files/{workspace}/{}/{action}", docs.id),
                &[("csrf", &bobs_csrf), ("name", "mine")],
            )
            .await;
        assert_eq!(refused.status(), 404, "{action}");
    }

    let deleted = browser
        .post(
            &format!("/files/{workspace}/{}/delete", docs.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(location(&deleted), format!("/files/{workspace}"));
    let (_, top) = browser.html(&format!("/files/{workspace}")).await;
    assert!(names(&top).is_empty(), "{top}");
    let (status, _) = browser
        .html(&format!("/files/{workspace}/{}", docs.id))
        .await;
    assert_eq!(status, 404);
    // The desktop sees the file deleted, and its content stays in its versions.
    let history: nimbus_protocol::rpc::ItemHistory = laptop
        .rpc
        .call(
            Some(&laptop.token),
            Operation::GetVersions { item_id: note.id },
        )
        .await
        .unwrap();
    assert!(history.versions[0].deleted);
    assert!(history.versions.iter().any(|v| v.content.size == 7));
}

/// An OAuth request token of a new application, for the authorize form.
async fn oauth_request_token(app: &TestApp) -> reqwest::Response {
    let consumer = nimbus_server::admin::add_oauth_consumer(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "App",
        None,
    )
    .await
    .unwrap();
    nimbus_server::test_log::record_secret("oauth consumer secret", &consumer.secret);
    oauth::request_token(
        app,
        (&consumer.key, &consumer.secret),
        "oob",
        &oauth::Signing::default(),
    )
    .await
}

#[tokio::test]
async fn failed_logins_on_the_oauth_form_and_the_web_sign_in_are_slowed_per_user() {
    // The per-address limit is out of the way: this is the per-user one.
    let app = spawn_app_with(|settings| {
        settings.failed_sign_ins_per_minute_per_address = NonZeroU32::new(1000).unwrap();
    })
    .await;
    app.add_user("alice", None, true).await;
    let request = oauth_request_token(&app).await;
    assert_eq!(request.status(), 200);
    let (request_token, _) = oauth::form_reply(&request.text().await.unwrap());

    // Each failure past the free ones doubles the wait, so the slow-down
    // shows within a few attempts however slow the machine is.
    let mut oauth_answers = Vec::new();
    for _ in 0..15 {
        let answer = oauth::authorize(&app, &request_token, "alice", "a guess").await;
        let status = answer.status();
        oauth_answers.push(status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                answer
                    .text()
                    .await
                    .unwrap()
                    .contains("Too many failed attempts")
            );
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(oauth_answers.last(), Some(&429), "{oauth_answers:?}");

    // The web sign-in goes through the same count.
    let mut browser = Browser::new(&app);
    let mut web_answers = Vec::new();
    for _ in 0..15 {
        let answer = browser.sign_in_with("alice", "another guess").await;
        let status = answer.status();
        web_answers.push(status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS {
            let page = answer.text().await.unwrap();
            assert!(
                page.contains("too many failed logins for this user"),
                "{page}"
            );
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(web_answers.last(), Some(&429), "{web_answers:?}");
    assert!(!browser.cookies.contains_key("nimbus_session"));
}

#[tokio::test]
async fn failed_sign_ins_from_one_address_stop_its_sign_ins_on_every_surface() {
    let app = spawn_app_with(|settings| {
        settings.failed_sign_ins_per_minute_per_address = NonZeroU32::new(2).unwrap();
    })
    .await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    // One guess at each of several users stays below each user's slow-down;
    // the third failure from the address uses up its allowance.
    for user in ["alice:alice", "bob:bob", "alice:alice"] {
        assert_eq!(app.get_token(user, "a guess").await.status(), 401);
    }

    // From then on the address is refused before its password is checked,
    // on every surface, even with the right password.
    let tempauth = app.get_token("alice:alice", PASSWORD).await;
    assert_eq!(tempauth.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = tempauth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31).contains(&retry_after), "{retry_after}");
    let mut browser = Browser::new(&app);
    let web = browser.sign_in_with("alice", PASSWORD).await;
    assert_eq!(web.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!browser.cookies.contains_key("nimbus_session"));
    assert_eq!(
        oauth_request_token(&app).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Another address signs in as usual.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let signed_in = elsewhere
        .get(format!("{}/auth/v1.0", app.address))
        .header("X-Auth-User", "alice:alice")
        .header("X-Auth-Key", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    nimbus_server::test_log::record_secret(
        "device token",
        signed_in.headers()["x-auth-token"].to_str().unwrap(),
    );
}
