//! The web UI's rows: every route of `web::ROUTES` and of the public links'
//! `web::link::ROUTES`, which answer every caller alike (the link's token is
//! the credential). A caller's session
//! cookie is its device token (the revoked and expired ones are the owner's),
//! and every form carries the CSRF token of that session, so that what is
//! refused is refused for who the caller is, not for a missing token.

use nimbus_protocol::rpc::{DeviceArgs, DeviceToken, LoginArgs, Password};
use nimbus_proxy::routes::Route;
use nimbus_proxy::web::session::csrf_token;
use reqwest::redirect::Policy;
use uuid::Uuid;

use super::{Caller, Cast, Expect, Items, READERS, WRITERS, check, only, public_link};
use crate::helpers::PASSWORD;
use crate::oauth::{Grant, WithForm, grant};
use crate::rest::call as rest_call;
use serde_json::json;

/// What a row's request acts on: made afresh for every request.
#[derive(Clone)]
struct Target {
    workspace: Uuid,
    file: String,
    folder: String,
    /// A device of the owner's that only the device revocation row revokes.
    spare_device: Uuid,
    /// An OAuth access token of the owner's that only the application
    /// revocation row revokes.
    spare_token: String,
    /// A path under `/assets/`.
    asset: String,
    /// An upload session of the owner's, of an empty file (so complete).
    upload: String,
    /// Tokens of the owner's public links to `file` and to the workspace's top.
    file_link: String,
    top_link: String,
    /// The id of the link to `file`.
    file_link_id: Uuid,
    /// The invitee's pending proposal of the workspace.
    proposal: Uuid,
    /// The editor's user id.
    editor: Uuid,
}

/// A request of the matrix and its answer.
struct Call {
    method: &'static str,
    path: String,
    body: Body,
    expect: Expect,
}

/// What a request sends; the session's CSRF token is added to each but a
/// `GET` (as a form field, or as the header the upload script sends).
enum Body {
    None,
    Form(Vec<(&'static str, String)>),
    Json(serde_json::Value),
    /// Raw bytes, as the upload script sends a batch of small files.
    Bytes(Vec<u8>),
}

const SIGN_IN: Expect = Expect::Refused(303);

/// The entry of `route` for `caller`, acting on `target`.
fn entry(route: &Route, target: &Target, caller: Caller) -> Option<Call> {
    let Target {
        workspace,
        file,
        folder,
        ..
    } = target;
    let tag = format!("{caller:?}");
    let get = |path: String, expect: Expect| Call {
        method: "GET",
        path,
        body: Body::None,
        expect,
    };
    let post = |path: String, form: Vec<(&'static str, String)>, expect: Expect| Call {
        method: "POST",
        path,
        body: Body::Form(form),
        expect,
    };
    let upload = |method: &'static str, path: String, body: Body, expect: Expect| Call {
        method,
        path,
        body,
        expect,
    };
    // Pages of the caller's own: signed in or sent to sign in.
    let own = |status: u16| {
        if caller.is_dead() {
            SIGN_IN
        } else {
            Expect::Allowed(status)
        }
    };
    // The workspace's pages: not found for those who are not members.
    let read = || {
        if caller.is_dead() {
            SIGN_IN
        } else {
            only(READERS, caller, 200, 404)
        }
    };
    let change = || match caller {
        _ if caller.is_dead() => SIGN_IN,
        Caller::Viewer => Expect::Refused(403),
        _ => only(WRITERS, caller, 303, 404),
    };
    // The move and copy chooser: a page for those who may write.
    let chooser = || match caller {
        _ if caller.is_dead() => SIGN_IN,
        Caller::Viewer => Expect::Refused(403),
        _ => only(WRITERS, caller, 200, 404),
    };
    // The owner's device and application: refused to other users.
    let owners = || {
        if caller.is_dead() {
            SIGN_IN
        } else {
            only(&[Caller::Owner], caller, 303, 403)
        }
    };
    // The owner's forms of the sharing page: the servers refuse members who
    // are not the owner (403); the page finds no workspace for the others.
    let owners_form = || match caller {
        _ if caller.is_dead() => SIGN_IN,
        Caller::Editor | Caller::Viewer => Expect::Refused(403),
        _ => only(&[Caller::Owner], caller, 303, 404),
    };
    // A proposal or link id that is not the caller's reads as not found.
    let ones_own = |allowed: Caller| {
        if caller.is_dead() {
            SIGN_IN
        } else {
            only(&[allowed], caller, 303, 404)
        }
    };
    let not_admin = || {
        if caller.is_dead() {
            SIGN_IN
        } else {
            Expect::Refused(403)
        }
    };
    let member = format!("/files/{workspace}/members/{}", target.editor);
    let proposal = format!("/sharing/{}", target.proposal);
    // Upload requests answer a script: 401 instead of a redirect, and the
    // owner's session is nobody else's.
    let owners_upload = |status: u16| {
        if caller.is_dead() {
            Expect::Refused(401)
        } else {
            only(&[Caller::Owner], caller, status, 404)
        }
    };
    // Uploads into the workspace: for those who may write to it.
    let writers_upload = |status: u16| match caller {
        _ if caller.is_dead() => Expect::Refused(401),
        Caller::Viewer => Expect::Refused(403),
        _ => only(WRITERS, caller, status, 404),
    };
    let uploads = format!("/uploads/{}", target.upload);
    let call = match (route.method, route.path) {
        ("GET", "/") => get("/".into(), own(200)),
        ("GET", "/signin") => get("/signin".into(), Expect::Allowed(200)),
        // Without the form's nonce cookie nobody signs in, session or not.
        ("POST", "/signin") => post(
            "/signin".into(),
            vec![
                ("username", "alice".into()),
                ("password", PASSWORD.into()),
                ("nonce", "made up".into()),
                ("next", "/".into()),
            ],
            Expect::Refused(403),
        ),
        ("POST", "/signout") => post("/signout".into(), Vec::new(), own(303)),
        ("GET", "/files/{workspace}") => get(format!("/files/{workspace}"), read()),
        ("POST", "/files/{workspace}/new-folder") => post(
            format!("/files/{workspace}/new-folder"),
            vec![("name", format!("made by {tag}"))],
            change(),
        ),
        // Live updates: a stream of the workspace's changes for its readers.
        ("GET", "/files/{workspace}/events") => get(format!("/files/{workspace}/events"), read()),
        ("GET", "/files/{workspace}/{folder}") => {
            get(format!("/files/{workspace}/{folder}"), read())
        }
        ("GET", "/files/{workspace}/{item}/content") => {
            get(format!("/files/{workspace}/{file}/content"), read())
        }
        ("GET", "/files/{workspace}/{item}/download") => {
            get(format!("/files/{workspace}/{file}/download"), read())
        }
        // Zips: for every member, viewers too.
        ("GET", "/files/{workspace}/zip") => get(format!("/files/{workspace}/zip"), read()),
        ("GET", "/files/{workspace}/{folder}/zip") => {
            get(format!("/files/{workspace}/{folder}/zip"), read())
        }
        ("POST", "/files/{workspace}/{item}/rename") => post(
            format!("/files/{workspace}/{file}/rename"),
            vec![("name", format!("renamed by {tag}.txt"))],
            change(),
        ),
        ("POST", "/files/{workspace}/{item}/delete") => post(
            format!("/files/{workspace}/{file}/delete"),
            Vec::new(),
            change(),
        ),
        ("GET", "/files/{workspace}/trash") => get(format!("/files/{workspace}/trash"), read()),
        ("GET", "/files/{workspace}/conflicts") => {
            get(format!("/files/{workspace}/conflicts"), read())
        }
        // The file is deleted first for these rows (see `prepare`).
        ("POST", "/files/{workspace}/trash/{item}/restore") => post(
            format!("/files/{workspace}/trash/{file}/restore"),
            Vec::new(),
            change(),
        ),
        ("POST", "/files/{workspace}/trash/{item}/purge") => post(
            format!("/files/{workspace}/trash/{file}/purge"),
            Vec::new(),
            change(),
        ),
        ("GET", "/files/{workspace}/{item}/versions") => {
            get(format!("/files/{workspace}/{file}/versions"), read())
        }
        ("GET", "/files/{workspace}/{item}/versions/{version}/download") => get(
            format!("/files/{workspace}/{file}/versions/1/download"),
            read(),
        ),
        ("POST", "/files/{workspace}/{item}/versions/{version}/restore") => post(
            format!("/files/{workspace}/{file}/versions/1/restore"),
            Vec::new(),
            change(),
        ),
        ("GET", "/files/{workspace}/{item}/move") => get(
            format!("/files/{workspace}/{file}/move?to={folder}"),
            chooser(),
        ),
        ("POST", "/files/{workspace}/{item}/move") => post(
            format!("/files/{workspace}/{file}/move"),
            vec![("parent", folder.clone())],
            change(),
        ),
        ("POST", "/files/{workspace}/{item}/copy") => post(
            format!("/files/{workspace}/{file}/copy"),
            vec![("parent", folder.clone())],
            change(),
        ),
        // The file is named as a conflicted copy first for this row.
        ("POST", "/files/{workspace}/{item}/resolve") => post(
            format!("/files/{workspace}/{file}/resolve"),
            vec![("keep", "both".into())],
            change(),
        ),
        // A new password too short: a change would sign out the users'
        // other sessions, which later rows use (web_organize.rs changes one).
        ("POST", "/account/password") => post(
            "/account/password".into(),
            vec![
                ("old", PASSWORD.into()),
                ("new", "short".into()),
                ("repeat", "short".into()),
            ],
            if caller.is_dead() {
                SIGN_IN
            } else {
                Expect::Refused(400)
            },
        ),
        ("GET", "/account") => get("/account".into(), own(200)),
        ("POST", "/account/devices/{id}/revoke") => post(
            format!("/account/devices/{}/revoke", target.spare_device),
            Vec::new(),
            owners(),
        ),
        ("POST", "/account/applications/revoke") => post(
            "/account/applications/revoke".into(),
            vec![("token", target.spare_token.clone())],
            owners(),
        ),
        ("GET", "/files/{workspace}/sharing") => get(format!("/files/{workspace}/sharing"), read()),
        // The scene's workspace is a shared one: its folders are never
        // shared alone (shares do not nest), for every member alike.
        ("GET", "/files/{workspace}/{folder}/share") => {
            get(format!("/files/{workspace}/{folder}/share"), read())
        }
        ("POST", "/files/{workspace}/{folder}/share") => post(
            format!("/files/{workspace}/{folder}/share"),
            vec![("addressees", "mallory".into()), ("role", "viewer".into())],
            match caller {
                _ if caller.is_dead() => SIGN_IN,
                _ if READERS.contains(&caller) => Expect::Refused(400),
                _ => Expect::Refused(404),
            },
        ),
        ("POST", "/files/{workspace}/sharing/propose") => post(
            format!("/files/{workspace}/sharing/propose"),
            vec![("addressees", "mallory".into()), ("role", "viewer".into())],
            owners_form(),
        ),
        ("POST", "/files/{workspace}/sharing/unshare") => post(
            format!("/files/{workspace}/sharing/unshare"),
            Vec::new(),
            owners_form(),
        ),
        // The owner hands the workspace over instead (the servers refuse).
        ("POST", "/files/{workspace}/sharing/leave") => post(
            format!("/files/{workspace}/sharing/leave"),
            Vec::new(),
            match caller {
                _ if caller.is_dead() => SIGN_IN,
                Caller::Owner => Expect::Refused(400),
                _ => only(&[Caller::Editor, Caller::Viewer], caller, 303, 404),
            },
        ),
        ("POST", "/files/{workspace}/members/{user}/role") => post(
            format!("{member}/role"),
            vec![("role", "viewer".into())],
            owners_form(),
        ),
        ("POST", "/files/{workspace}/members/{user}/remove") => {
            post(format!("{member}/remove"), Vec::new(), owners_form())
        }
        ("POST", "/files/{workspace}/members/{user}/transfer") => {
            post(format!("{member}/transfer"), Vec::new(), owners_form())
        }
        ("POST", "/workspaces") => post(
            "/workspaces".into(),
            vec![("name", format!("made by {tag}"))],
            own(303),
        ),
        // Every member names and places their own folder of the workspace.
        ("POST", "/workspaces/{workspace}/mount") => post(
            format!("/workspaces/{workspace}/mount"),
            vec![
                ("name", format!("mounted by {tag}")),
                ("parent", String::new()),
            ],
            if caller.is_dead() {
                SIGN_IN
            } else {
                only(READERS, caller, 303, 404)
            },
        ),
        ("GET", "/sharing") => get("/sharing".into(), own(200)),
        ("GET", "/sharing/badge") => get("/sharing/badge".into(), own(200)),
        ("POST", "/sharing/{proposal}/accept") => post(
            format!("{proposal}/accept"),
            Vec::new(),
            ones_own(Caller::Invitee),
        ),
        ("POST", "/sharing/{proposal}/decline") => post(
            format!("{proposal}/decline"),
            Vec::new(),
            ones_own(Caller::Invitee),
        ),
        ("POST", "/sharing/{proposal}/cancel") => post(
            format!("{proposal}/cancel"),
            Vec::new(),
            ones_own(Caller::Owner),
        ),
        ("GET", "/links") => get("/links".into(), own(200)),
        ("GET", "/links/new") => get(
            format!("/links/new?workspace={workspace}&item={file}"),
            read(),
        ),
        ("POST", "/links") => post(
            "/links".into(),
            vec![("workspace", workspace.to_string()), ("item", file.clone())],
            if caller.is_dead() {
                SIGN_IN
            } else {
                only(READERS, caller, 201, 404)
            },
        ),
        ("POST", "/links/{id}/revoke") => post(
            format!("/links/{}/revoke", target.file_link_id),
            Vec::new(),
            ones_own(Caller::Owner),
        ),
        // Administration: nobody here is an administrator, so the servers
        // refuse every call (tests/api/web_admin.rs has an administrator).
        ("GET", "/admin") => get("/admin".into(), not_admin()),
        ("GET", "/admin/overview") => get("/admin/overview".into(), not_admin()),
        ("GET", "/admin/audit") => get("/admin/audit?user=alice".into(), not_admin()),
        ("GET", "/admin/health") => get("/admin/health".into(), not_admin()),
        ("POST", "/admin/users") => post(
            "/admin/users".into(),
            vec![
                ("username", format!("added-by-{}", tag.to_lowercase())),
                ("password", PASSWORD.into()),
                ("quota_gib", "1".into()),
            ],
            not_admin(),
        ),
        ("POST", "/admin/users/{name}") => post(
            "/admin/users/mallory".into(),
            vec![("change", "disable".into())],
            not_admin(),
        ),
        ("GET", "/admin/users/{name}/delete") => {
            get("/admin/users/mallory/delete".into(), not_admin())
        }
        ("POST", "/admin/users/{name}/delete") => post(
            "/admin/users/mallory/delete".into(),
            vec![("confirm", "mallory".into())],
            not_admin(),
        ),
        ("POST", "/admin/applications") => post(
            "/admin/applications".into(),
            vec![("name", format!("registered by {tag}"))],
            not_admin(),
        ),
        ("POST", "/admin/applications/{key}/remove") => post(
            "/admin/applications/ock_that_nobody_registered/remove".into(),
            Vec::new(),
            not_admin(),
        ),
        ("POST", "/admin/links/{id}/revoke") => post(
            format!("/admin/links/{}/revoke", target.file_link_id),
            Vec::new(),
            not_admin(),
        ),
        // The user's own stream and folder search: every signed-in user's.
        ("GET", "/events") => get("/events".into(), own(200)),
        ("GET", "/sharing/folders") => get("/sharing/folders?q=a".into(), own(200)),
        ("GET", "/assets/{hash}/{path:.*}") => get(target.asset.clone(), Expect::Allowed(200)),
        ("POST", "/uploads") => upload(
            "POST",
            "/uploads".into(),
            Body::Json(serde_json::json!({
                "workspace": workspace,
                "path": format!("uploaded by {tag}.txt"),
                "size": 0,
                "modified": 0,
            })),
            writers_upload(201),
        ),
        ("POST", "/uploads/clashes") => upload(
            "POST",
            "/uploads/clashes".into(),
            Body::Json(serde_json::json!({ "workspace": workspace, "paths": ["a.txt"] })),
            writers_upload(200),
        ),
        ("POST", "/uploads/batch") => {
            let manifest = serde_json::json!({
                "workspace": workspace,
                "files": [{ "path": format!("batched by {tag}.txt"), "size": 5, "modified": 0 }],
            });
            let mut body = serde_json::to_vec(&manifest).unwrap();
            body.extend_from_slice(b"\nbytes");
            upload(
                "POST",
                "/uploads/batch".into(),
                Body::Bytes(body),
                writers_upload(201),
            )
        }
        ("GET", "/uploads/{id}") => upload("GET", uploads, Body::None, owners_upload(200)),
        ("PUT", "/uploads/{id}") => upload(
            "PUT",
            format!("{uploads}?offset=0"),
            Body::None,
            owners_upload(200),
        ),
        ("DELETE", "/uploads/{id}") => upload("DELETE", uploads, Body::None, owners_upload(204)),
        ("POST", "/uploads/{id}/finish") => upload(
            "POST",
            format!("{uploads}/finish"),
            Body::Json(serde_json::json!({ "on_clash": "keep-both" })),
            owners_upload(201),
        ),
        ("GET", "/s/{token}") => get(format!("/s/{}", target.file_link), Expect::Allowed(200)),
        // A link without a password lets any password through.
        ("POST", "/s/{token}") => post(
            format!("/s/{}", target.file_link),
            vec![("password", format!("typed by {tag}"))],
            Expect::Allowed(303),
        ),
        ("GET", "/s/{token}/{item}") => get(
            format!("/s/{}/{file}", target.top_link),
            Expect::Allowed(200),
        ),
        ("GET", "/s/{token}/zip") => {
            get(format!("/s/{}/zip", target.top_link), Expect::Allowed(200))
        }
        ("GET", "/s/{token}/{item}/zip") => get(
            format!("/s/{}/{folder}/zip", target.top_link),
            Expect::Allowed(200),
        ),
        _ => return None,
    };
    Some(call)
}

/// A new upload session of the owner's, of an empty file, in `workspace`.
async fn owners_upload(cast: &Cast, browser: &reqwest::Client, workspace: Uuid) -> String {
    let token = cast.token(Caller::Owner).unwrap();
    let created: serde_json::Value = browser
        .post(format!("{}/uploads", cast.app.address))
        .header("Cookie", format!("nimbus_session={token}"))
        .header("X-CSRF-Token", csrf_token(&DeviceToken(token.to_owned())))
        .json(&serde_json::json!({
            "workspace": workspace,
            "path": format!("upload {}.txt", Uuid::new_v4()),
            "size": 0,
            "modified": 0,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"]
        .as_str()
        .expect("the owner makes an upload")
        .to_owned()
}

/// What a row needs of its file beyond [`Items`]: in the trash for
/// restoring from it, named as a conflicted copy for resolving.
async fn prepare(cast: &Cast, owner: &Grant, route: &Route, file: &str) {
    let path = format!("/v1/file/{file}");
    let (status, body) = match route.path {
        "/files/{workspace}/trash/{item}/restore" | "/files/{workspace}/trash/{item}/purge" => {
            rest_call(&cast.app, owner, "DELETE", &path, &[], None).await
        }
        "/files/{workspace}/{item}/resolve" => {
            let name = format!("{file} (conflicted copy laptop 2026-05-01T103500Z).txt");
            rest_call(
                &cast.app,
                owner,
                "PUT",
                &path,
                &[],
                Some(json!({ "name": name })),
            )
            .await
        }
        _ => return,
    };
    assert!(status.is_success(), "preparing {}: {body}", route.path);
}

/// The first `/assets/…` path the sign-in page links to.
async fn an_asset(cast: &Cast) -> String {
    let page = cast
        .app
        .client
        .get(format!("{}/signin", cast.app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("/assets/").expect("the page links an asset");
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn every_web_route_answers_every_caller_as_the_matrix_says_and_refusals_change_nothing() {
    let cast = Cast::new().await;
    let owner_grant: Grant = grant(&cast.app, "alice").await;
    let spare_token = grant(&cast.app, "alice").await.token.0;
    let owner = cast.device(Caller::Owner);
    let login = |name: &str, device_name: &str| LoginArgs {
        username: name.into(),
        password: Password(PASSWORD.into()),
        device: DeviceArgs {
            device_name: device_name.into(),
            ..DeviceArgs::default()
        },
        token_ttl_secs: None,
    };
    let spare_device = owner
        .rpc
        .login(login("alice", "spare"))
        .await
        .unwrap()
        .device_id;
    let asset = an_asset(&cast).await;
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let editor = cast.device(Caller::Editor);
    let editor = editor.rpc.get_account(&editor.token).await.unwrap().user_id;

    let mut wrong = Vec::new();
    let mut number = 0;
    for route in nimbus_proxy::web::ROUTES
        .iter()
        .chain(nimbus_proxy::web::link::ROUTES)
    {
        let scene = cast.scene(&format!("Web {number}")).await;
        let probe = Target {
            workspace: scene.workspace.workspace_id,
            file: String::new(),
            folder: String::new(),
            spare_device,
            spare_token: spare_token.clone(),
            asset: asset.clone(),
            upload: String::new(),
            file_link: String::new(),
            top_link: String::new(),
            file_link_id: Uuid::nil(),
            proposal: scene.proposal,
            editor,
        };
        if entry(route, &probe, Caller::Owner).is_none() {
            wrong.push(format!("{route:?} has no entry in the web matrix"));
            continue;
        }
        let mut callers = super::CALLERS.to_vec();
        callers.sort_by_key(|caller| {
            matches!(
                entry(route, &probe, *caller).unwrap().expect,
                Expect::Allowed(_)
            )
        });
        // Refused requests change nothing, so their items serve the next caller.
        let mut kept = None;
        for caller in callers {
            number += 1;
            let target = match kept.take() {
                Some(target) => target,
                None => {
                    let items = Items::new(&cast, &owner_grant, &scene, number).await;
                    // Links first: a row's preparation may delete the file.
                    let file_id = items.file.parse().unwrap();
                    let file_link = public_link(&cast, &scene, Some(file_id)).await;
                    let top_link = public_link(&cast, &scene, None).await.token.0;
                    prepare(&cast, &owner_grant, route, &items.file).await;
                    Target {
                        file_link_id: file_link.link.link_id,
                        file_link: file_link.token.0,
                        top_link,
                        file: items.file,
                        folder: items.folder,
                        upload: owners_upload(&cast, &browser, scene.workspace.workspace_id).await,
                        ..probe.clone()
                    }
                }
            };
            let call = entry(route, &target, caller).unwrap();
            let session = match (route.path, call.expect) {
                // Signing out ends the session: a fresh one of the same user.
                ("/signout", Expect::Allowed(_)) => Some(
                    owner
                        .rpc
                        .login(login(caller.username().unwrap(), "Web browser"))
                        .await
                        .unwrap()
                        .token
                        .0,
                ),
                _ => cast.token(caller).map(str::to_owned),
            };
            let url = format!("{}{}", cast.app.address, call.path);
            let csrf = session
                .as_ref()
                .map(|token| csrf_token(&DeviceToken(token.clone())));
            let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
            let mut request = match &call.body {
                Body::Form(fields) => {
                    let mut fields: Vec<(&str, &str)> =
                        fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    if let Some(csrf) = &csrf {
                        fields.push(("csrf", csrf));
                    }
                    browser.post(url).with_form(&fields)
                }
                Body::Json(json) => browser.request(method, url).json(json),
                Body::Bytes(bytes) => browser.request(method, url).body(bytes.clone()),
                Body::None => browser.request(method, url),
            };
            if let (Some(csrf), false) = (&csrf, matches!(call.body, Body::Form(_))) {
                request = request.header("X-CSRF-Token", csrf);
            }
            if let Some(token) = &session {
                request = request.header("Cookie", format!("nimbus_session={token}"));
            }
            let what = format!("{} {} by {caller:?}", route.method, call.path);
            let before = cast.snapshot().await;
            let response = request.send().await.unwrap();
            check(&mut wrong, &what, response.status().as_u16(), call.expect);
            if let Expect::Refused(_) = call.expect {
                before.assert_same(&cast.snapshot().await, &what);
                kept = Some(target);
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
