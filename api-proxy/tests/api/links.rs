//! Public links at `/s/{token}`: a file downloads (with ranges), a folder
//! lists its files, a password is asked for and wrong ones are slowed down,
//! and a link answers 404 once revoked, expired, used up, when its file is
//! deleted or its creator loses access. Guessing tokens is limited per
//! address.

use std::num::NonZeroU32;
use std::time::Duration;

use nimbus_protocol::rpc::{
    CreateLinkArgs, CreatedLink, LinkInfo, Operation, Password, Role, TimestampMillis,
};
use nimbus_server::test_log::record_secret;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Device, TestApp, device, noise, spawn_app, spawn_app_with};
use crate::oauth::{Grant, WithForm, grant};
use crate::rest::{call as rest_call, try_upload};
use crate::sharing::{create_workspace, share};

const LINK_PASSWORD: &str = "open sesame please";

/// Alice, her device (for RPC) and an OAuth grant (for REST uploads).
async fn alice(app: &TestApp) -> (Device, Grant) {
    app.add_user("alice", None, true).await;
    let owner = device(app, "alice").await;
    let grant = grant(app, "alice").await;
    (owner, grant)
}

/// Uploads `bytes` as `name` into the folder `parent` (`0`: the top of the
/// default workspace); the new file's id.
async fn upload(app: &TestApp, grant: &Grant, parent: &str, name: &str, bytes: &[u8]) -> Uuid {
    let (status, file) = try_upload(app, grant, name, parent, bytes.to_vec()).await;
    assert_eq!(status, 201, "{file}");
    file["id"].as_str().unwrap().parse().unwrap()
}

fn link_to(workspace_id: Uuid, item_id: Uuid) -> CreateLinkArgs {
    CreateLinkArgs {
        workspace_id,
        item_id: Some(item_id),
        expires_at: None,
        password: None,
        max_downloads: None,
    }
}

async fn create_link(creator: &Device, args: CreateLinkArgs) -> CreatedLink {
    let created: CreatedLink = creator
        .rpc
        .call(Some(&creator.token), Operation::CreateLink(args))
        .await
        .expect("createLink");
    record_secret("link token", &created.token.0);
    created
}

fn url(app: &TestApp, created: &CreatedLink) -> String {
    format!("{}/s/{}", app.address, created.token.0)
}

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

fn now_millis() -> TimestampMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn a_file_link_downloads_with_ranges_and_a_folder_link_lists_its_files() {
    let app = spawn_app().await;
    let (alice, grant) = alice(&app).await;
    let home = alice.workspace.workspace_id;
    let bytes = noise(300_000, 1);
    let file = upload(&app, &grant, "0", "report.bin", &bytes).await;
    let link = create_link(&alice, link_to(home, file)).await;

    let whole = get(&app, &url(&app, &link)).await;
    assert_eq!(whole.status(), 200);
    let disposition = whole.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("report.bin"));
    assert!(
        whole.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(whole.bytes().await.unwrap(), bytes);
    let part = app
        .client
        .get(url(&app, &link))
        .header("Range", "bytes=100000-100099")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), bytes[100_000..100_100]);

    let (status, album) = rest_call(
        &app,
        &grant,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": "Album", "parent": "0"})),
    )
    .await;
    assert_eq!(status, 201, "{album}");
    let album_id = album["id"].as_str().unwrap().to_owned();
    let photo_bytes = noise(5000, 2);
    let photo = upload(&app, &grant, &album_id, "beach <1>.jpg", &photo_bytes).await;
    upload(&app, &grant, "0", "private.txt", b"not in the album").await;
    let folder_link = create_link(&alice, link_to(home, album_id.parse().unwrap())).await;
    let page = get(&app, &url(&app, &folder_link)).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("beach &#60;1&#62;.jpg"), "escaped: {html}");
    assert!(!html.contains("private.txt"));
    let photo_url = format!("{}/{photo}", url(&app, &folder_link));
    assert!(html.contains(&photo_url[app.address.len()..]));
    assert!(!html.contains("/v1/AUTH_"), "no object URL: {html}");
    let downloaded = get(&app, &photo_url).await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap(), photo_bytes);
    // The file link's file is not inside the folder link.
    let outside = get(&app, &format!("{}/{file}", url(&app, &folder_link))).await;
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn a_wrong_password_repeated_gets_429_and_the_right_one_unlocks_the_link() {
    let app = spawn_app_with(|settings| {
        // The per-link limit is what this test meets first.
        settings.failed_sign_ins_per_minute_per_address = NonZeroU32::new(100).unwrap();
    })
    .await;
    let (alice, grant) = alice(&app).await;
    let bytes = noise(1000, 3);
    let file = upload(&app, &grant, "0", "secret.bin", &bytes).await;
    record_secret("password", LINK_PASSWORD);
    let with_password = CreateLinkArgs {
        password: Some(Password(LINK_PASSWORD.into())),
        ..link_to(alice.workspace.workspace_id, file)
    };
    let guarded = create_link(&alice, with_password.clone()).await;
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();

    let asked = get(&app, &url(&app, &guarded)).await;
    assert_eq!(asked.status(), 401);
    assert!(asked.text().await.unwrap().contains("name=\"password\""));
    let post = |link: &CreatedLink, password: &str| {
        browser
            .post(url(&app, link))
            .with_form(&[("password", password)])
            .send()
    };
    for attempt in 0..5 {
        let wrong = post(&guarded, "wrong guess").await.unwrap();
        assert_eq!(wrong.status(), 401, "attempt {attempt}");
        assert!(wrong.text().await.unwrap().contains("not right"));
    }
    let slowed = post(&guarded, "wrong guess").await.unwrap();
    assert_eq!(slowed.status(), 429);
    assert!(slowed.headers().contains_key("retry-after"));
    let waiting = post(&guarded, LINK_PASSWORD).await.unwrap();
    assert_eq!(waiting.status(), 429, "the right password waits too");

    let other = create_link(&alice, with_password).await;
    let unlocked = post(&other, LINK_PASSWORD).await.unwrap();
    assert_eq!(unlocked.status(), 303);
    let cookie = unlocked.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains(&format!("Path=/s/{}", other.token.0)));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let download = browser
        .get(url(&app, &other))
        .header("Cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap(), bytes);
    // The unlock belongs to its link only.
    let elsewhere = browser
        .get(url(&app, &guarded))
        .header("Cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 401);
}

#[tokio::test]
async fn expiry_the_download_limit_revocation_and_deletion_each_end_a_link() {
    let app = spawn_app().await;
    let (alice, grant) = alice(&app).await;
    let home = alice.workspace.workspace_id;
    let file = upload(&app, &grant, "0", "song.bin", &noise(2000, 4)).await;

    let once = create_link(
        &alice,
        CreateLinkArgs {
            max_downloads: Some(1),
            ..link_to(home, file)
        },
    )
    .await;
    // A resumed download is not a new one.
    let resumed = app
        .client
        .get(url(&app, &once))
        .header("Range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 206);
    assert_eq!(get(&app, &url(&app, &once)).await.status(), 200);
    assert_eq!(get(&app, &url(&app, &once)).await.status(), 404);

    let expiring = create_link(
        &alice,
        CreateLinkArgs {
            expires_at: Some(now_millis() + 1500),
            ..link_to(home, file)
        },
    )
    .await;
    assert_eq!(get(&app, &url(&app, &expiring)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(get(&app, &url(&app, &expiring)).await.status(), 404);

    let revoked = create_link(&alice, link_to(home, file)).await;
    assert_eq!(get(&app, &url(&app, &revoked)).await.status(), 200);
    let _: LinkInfo = alice
        .rpc
        .call(
            Some(&alice.token),
            Operation::RevokeLink {
                link_id: revoked.link.link_id,
            },
        )
        .await
        .unwrap();
    assert_eq!(get(&app, &url(&app, &revoked)).await.status(), 404);

    let deleted = create_link(&alice, link_to(home, file)).await;
    assert_eq!(get(&app, &url(&app, &deleted)).await.status(), 200);
    let (status, body) = rest_call(
        &app,
        &grant,
        "DELETE",
        &format!("/v1/file/{file}"),
        &[],
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let dead = get(&app, &url(&app, &deleted)).await;
    assert_eq!(dead.status(), 404);
    assert!(dead.text().await.unwrap().contains("no longer works"));
}

#[tokio::test]
async fn a_removed_members_links_answer_404() {
    let app = spawn_app().await;
    let (alice, grant) = alice(&app).await;
    app.add_user("bob", None, true).await;
    let bob = device(&app, "bob").await;
    let project = create_workspace(&alice, "Project").await;
    let container = format!("{}/{}", alice.storage_url, project.container);
    let created = app
        .client
        .put(&container)
        .header("X-Auth-Token", &alice.swift_token)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let bytes = noise(3000, 5);
    let file = upload(
        &app,
        &grant,
        &project.workspace_id.to_string(),
        "plan.bin",
        &bytes,
    )
    .await;
    share(&alice, &project, &bob, "bob", Role::Viewer).await;
    let bobs = create_link(&bob, link_to(project.workspace_id, file)).await;
    let alices = create_link(&alice, link_to(project.workspace_id, file)).await;
    let served = get(&app, &url(&app, &bobs)).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), bytes);

    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    let () = alice
        .rpc
        .call(
            Some(&alice.token),
            Operation::RemoveMember {
                workspace_id: project.workspace_id,
                user_id: bob_id,
            },
        )
        .await
        .unwrap();
    assert_eq!(get(&app, &url(&app, &bobs)).await.status(), 404);
    assert_eq!(get(&app, &url(&app, &alices)).await.status(), 200);
}

#[tokio::test]
async fn guessing_tokens_is_limited_per_address() {
    let app = spawn_app_with(|settings| {
        settings.failed_sign_ins_per_minute_per_address = NonZeroU32::new(3).unwrap();
    })
    .await;
    app.add_user("alice", None, true).await;
    let alice = device(&app, "alice").await;
    // A link to the top of the default workspace, made before the guessing.
    let real = create_link(
        &alice,
        CreateLinkArgs {
            item_id: None,
            ..link_to(alice.workspace.workspace_id, Uuid::nil())
        },
    )
    .await;
    assert_eq!(get(&app, &url(&app, &real)).await.status(), 200);

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let guess = format!("{}/s/{}", app.address, Uuid::new_v4().simple());
        statuses.push(get(&app, &guess).await.status());
    }
    assert_eq!(statuses[..3], [StatusCode::NOT_FOUND; 3], "{statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The address is stopped, whatever token it tries next.
    let blocked = get(&app, &url(&app, &real)).await;
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_rest_api_creates_lists_and_revokes_links() {
    let app = spawn_app().await;
    let (_alice, grant) = alice(&app).await;
    let bytes = noise(4000, 6);
    let file = upload(&app, &grant, "0", "slides.bin", &bytes).await;
    let (status, created) = rest_call(
        &app,
        &grant,
        "POST",
        "/v1/link",
        &[],
        Some(json!({"id": file.to_string(), "max_downloads": 5, "expires_at": "2999-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let link_url = created["url"].as_str().unwrap().to_owned();
    let token = link_url.rsplit('/').next().unwrap();
    record_secret("link token", token);
    assert_eq!(created["link"]["name"], "slides.bin");
    assert_eq!(created["link"]["max_downloads"], 5);
    let served = get(&app, &format!("{}/s/{token}", app.address)).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), bytes);

    let (status, listed) = rest_call(&app, &grant, "GET", "/v1/links", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["downloads"], 1);
    assert!(!listed.to_string().contains(token), "never the token");
    let (status, bad) = rest_call(
        &app,
        &grant,
        "POST",
        "/v1/link",
        &[],
        Some(json!({"id": "0", "password": "short"})),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    let link_id = created["link"]["link_id"].as_str().unwrap();
    let (status, revoked) = rest_call(
        &app,
        &grant,
        "DELETE",
        &format!("/v1/link/{link_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        get(&app, &format!("{}/s/{token}", app.address))
            .await
            .status(),
        404
    );
    let (status, _) = rest_call(
        &app,
        &grant,
        "DELETE",
        &format!("/v1/link/{}", Uuid::new_v4()),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404);
}
