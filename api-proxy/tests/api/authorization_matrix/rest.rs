//! The REST API v2's and the OAuth endpoints' rows: every route of
//! `rest::ROUTES` and `oauth::ROUTES`, each checked against the OpenAPI
//! document too, so that a documented operation is served and a served one
//! is documented (or listed as an undocumented alias).
//!
//! REST callers sign with OAuth grants of their own; the revoked caller's
//! grant is bound to a revoked device, and the expired caller signs the
//! owner's grant with a timestamp outside the accepted window. The OAuth
//! token endpoints take the caller's device token.

use std::collections::BTreeSet;

use nimbus_protocol::rpc::{OAuthTokenInfo, Operation};
use nimbus_proxy::routes::Route;
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Caller, Cast, Expect, Items, LIVE, READERS, Scene, WRITERS, check, only, public_link};
use crate::oauth::{Grant, Signing, WithForm, api_request, encode_pairs, grant};

/// Routes served on purpose without an operation in the OpenAPI document:
/// the document itself.
const UNDOCUMENTED: [(&str, &str); 1] = [("GET", "/openapi.json")];

/// Each live caller's grant, and the grants that only some rows use.
struct Grants {
    live: Vec<(Caller, Grant)>,
    /// The owner's, bound to a device revoked since.
    revoked: Grant,
    /// The owner's, only revoked by `DELETE /oauth/tokens/{token}`.
    spare: Grant,
}

impl Grants {
    async fn new(cast: &Cast) -> Self {
        let mut live = Vec::new();
        for caller in LIVE {
            live.push((*caller, grant(&cast.app, caller.username().unwrap()).await));
        }
        let revoked = grant(&cast.app, "alice").await;
        let spare = grant(&cast.app, "alice").await;
        let owner = cast.device(Caller::Owner);
        let tokens: Vec<OAuthTokenInfo> = owner
            .rpc
            .call(Some(&owner.token), Operation::ListOauthTokens)
            .await
            .unwrap();
        let device_id = tokens
            .iter()
            .find(|t| t.token == revoked.token.0)
            .unwrap()
            .device_id;
        let () = owner
            .rpc
            .call(Some(&owner.token), Operation::RevokeDevice { device_id })
            .await
            .unwrap();
        Self {
            live,
            revoked,
            spare,
        }
    }

    fn of(&self, caller: Caller) -> &Grant {
        self.live
            .iter()
            .find(|(c, _)| *c == caller)
            .map(|(_, grant)| grant)
            .unwrap()
    }
}

/// What a row's request acts on: made afresh for every request.
struct Target {
    workspace: Uuid,
    file: String,
    folder: String,
    proposal: Uuid,
    /// A public link of the owner's to `file`.
    link: Uuid,
    /// The owner's spare OAuth access token.
    spare_token: String,
}

enum Body {
    Empty,
    Json(Value),
    Bytes(&'static [u8]),
    Form(Vec<(&'static str, &'static str)>),
}

/// A request of the matrix: where to, signed how, and the answer.
struct Call {
    path: String,
    query: Vec<(&'static str, String)>,
    body: Body,
    /// What the caller's credentials go as.
    auth: Auth,
    expect: Expect,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// An OAuth signature of the caller's grant.
    Signature,
    /// The caller's device token, as `X-Auth-Token`.
    DeviceToken,
    /// None: the route takes other credentials, or none.
    None,
}

/// The entry of `route` for `caller`, acting on `target`.
fn entry(route: &Route, target: &Target, caller: Caller) -> Option<Call> {
    use Caller::{Invitee, Owner};
    let (file, folder, workspace) = (&target.file, &target.folder, target.workspace);
    let tag = format!("{caller:?}");
    // Not a member: the workspace's items are not found.
    let item = |allowed: &[Caller], status: u16| only(allowed, caller, status, 404);
    // Refused to a member for the role; not found for anybody else.
    let change = |status: u16| match caller {
        Caller::Viewer => Expect::Refused(403),
        _ => only(WRITERS, caller, status, 404),
    };
    // Sharing names the workspace itself, which a non-member cannot find.
    let sharing = |status: u16| match caller {
        Owner => Expect::Allowed(status),
        Caller::Editor | Caller::Viewer => Expect::Refused(403),
        _ => Expect::Refused(404),
    };
    let oauth = |path: String, expect: Expect, body: Body| Call {
        path,
        query: Vec::new(),
        body,
        auth: Auth::Signature,
        expect,
    };
    let file_path = |suffix: &str| format!("/v1/file/{file}{suffix}");
    let folder_path = |suffix: &str| format!("/v1/folder/{folder}{suffix}");
    let workspace_path = |suffix: &str| format!("/v1/folder/{workspace}{suffix}");
    let call = match (route.method, route.path) {
        ("GET", "/openapi.json") => Call {
            auth: Auth::None,
            ..oauth("/openapi.json".into(), Expect::Allowed(200), Body::Empty)
        },
        ("POST", "/v1/file") => Call {
            query: vec![
                ("name", format!("upload by {tag}.txt")),
                ("parent", workspace.to_string()),
            ],
            ..oauth("/v1/file".into(), change(201), Body::Bytes(&[7; 40_000]))
        },
        ("GET", "/v1/file/{id}") => oauth(file_path(""), item(READERS, 200), Body::Empty),
        ("PUT", "/v1/file/{id}") => oauth(
            file_path(""),
            change(200),
            Body::Json(json!({"name": format!("renamed by {tag}.txt")})),
        ),
        ("DELETE", "/v1/file/{id}") => oauth(file_path(""), change(200), Body::Empty),
        ("GET", "/v1/file/{id}/data") => oauth(file_path("/data"), item(READERS, 200), Body::Empty),
        ("PUT", "/v1/file/{id}/data") => {
            oauth(file_path("/data"), change(200), Body::Bytes(b"new bytes"))
        }
        ("GET", "/v1/file/{id}/versions") => {
            oauth(file_path("/versions"), item(READERS, 200), Body::Empty)
        }
        ("GET", "/v1/file/{id}/versions/{n}") => {
            oauth(file_path("/versions/1"), item(READERS, 200), Body::Empty)
        }
        ("GET", "/v1/file/{id}/version/{n}") => {
            oauth(file_path("/version/1"), item(READERS, 200), Body::Empty)
        }
        ("GET", "/v1/file/{id}/version/{n}/data") => oauth(
            file_path("/version/1/data"),
            item(READERS, 200),
            Body::Empty,
        ),
        ("POST", "/v1/file/{id}/version/{n}/restore") => {
            oauth(file_path("/version/1/restore"), change(200), Body::Empty)
        }
        ("POST", "/v1/folder") => oauth(
            "/v1/folder".into(),
            change(201),
            Body::Json(json!({"name": format!("made by {tag}"), "parent": workspace})),
        ),
        ("GET", "/v1/folder/{id}") => oauth(folder_path(""), item(READERS, 200), Body::Empty),
        ("GET", "/v1/folder/{id}/contents") => {
            oauth(folder_path("/contents"), item(READERS, 200), Body::Empty)
        }
        ("PUT", "/v1/folder/{id}") => oauth(
            folder_path(""),
            change(200),
            Body::Json(json!({"name": format!("renamed by {tag}")})),
        ),
        ("DELETE", "/v1/folder/{id}") => oauth(folder_path(""), change(200), Body::Empty),
        ("POST", "/v1/folder/{id}/share") => oauth(
            workspace_path("/share"),
            sharing(201),
            Body::Json(json!(["mallory"])),
        ),
        ("POST", "/v1/folder/{id}/unshare") => oauth(
            workspace_path("/unshare"),
            sharing(200),
            Body::Json(json!(["bob"])),
        ),
        ("GET", "/v1/folder/{id}/members") => oauth(
            workspace_path("/members"),
            match caller {
                Caller::Owner | Caller::Editor | Caller::Viewer => Expect::Allowed(200),
                _ => Expect::Refused(404),
            },
            Body::Empty,
        ),
        ("GET", "/v1/proposals") => oauth(
            "/v1/proposals".into(),
            only(LIVE, caller, 200, 401),
            Body::Empty,
        ),
        ("POST", "/v1/proposals/{id}/accept" | "/v1/proposals/{id}/decline") => {
            let action = route.path.rsplit('/').next().unwrap();
            oauth(
                format!("/v1/proposals/{}/{action}", target.proposal),
                only(&[Invitee], caller, 200, 403),
                Body::Json(json!({})),
            )
        }
        // A reader publishes what they can read; the others cannot find it.
        ("POST", "/v1/link") => oauth(
            "/v1/link".into(),
            item(READERS, 201),
            Body::Json(json!({"id": file})),
        ),
        ("GET", "/v1/links") => oauth(
            "/v1/links".into(),
            only(LIVE, caller, 200, 401),
            Body::Empty,
        ),
        ("DELETE", "/v1/link/{id}") => oauth(
            format!("/v1/link/{}", target.link),
            item(&[Owner], 200),
            Body::Empty,
        ),
        // Signed by the application, never by a user: unsigned, refused.
        ("GET" | "POST", "/oauth/request_token" | "/oauth/access_token") => Call {
            auth: Auth::None,
            ..oauth(route.path.into(), Expect::Refused(401), Body::Empty)
        },
        ("GET", "/oauth/authorize") => Call {
            query: vec![("oauth_token", "unknown".into())],
            auth: Auth::None,
            ..oauth(route.path.into(), Expect::Refused(400), Body::Empty)
        },
        ("POST", "/oauth/authorize") => Call {
            auth: Auth::None,
            ..oauth(
                route.path.into(),
                Expect::Refused(400),
                Body::Form(vec![
                    ("oauth_token", "unknown"),
                    ("username", "alice"),
                    ("password", "not the password"),
                    ("action", "allow"),
                ]),
            )
        },
        ("GET", "/oauth/tokens") => Call {
            auth: Auth::DeviceToken,
            ..oauth(route.path.into(), only(LIVE, caller, 200, 401), Body::Empty)
        },
        // Nobody else finds the owner's token.
        ("DELETE", "/oauth/tokens/{token}") => Call {
            auth: Auth::DeviceToken,
            ..oauth(
                format!("/oauth/tokens/{}", target.spare_token),
                match caller {
                    Owner => Expect::Allowed(204),
                    live if LIVE.contains(&live) => Expect::Refused(404),
                    _ => Expect::Refused(401),
                },
                Body::Empty,
            )
        },
        _ => return None,
    };
    Some(call)
}

impl Target {
    async fn new(cast: &Cast, grants: &Grants, scene: &Scene, number: usize) -> Self {
        let items = Items::new(cast, grants.of(Caller::Owner), scene, number).await;
        let link = public_link(cast, scene, Some(items.file.parse().unwrap())).await;
        Self {
            link: link.link.link_id,
            workspace: scene.workspace.workspace_id,
            file: items.file,
            folder: items.folder,
            proposal: scene.proposal,
            spare_token: grants.spare.token.0.clone(),
        }
    }
}

/// Seconds since the epoch, an hour ago: outside the OAuth window.
fn an_hour_ago() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now - 3600
}

fn build(
    cast: &Cast,
    grants: &Grants,
    method: &str,
    call: &Call,
    caller: Caller,
) -> RequestBuilder {
    let app = &cast.app;
    let query: Vec<(&str, &str)> = call.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let form: Vec<(&str, &str)> = match &call.body {
        Body::Form(pairs) => pairs.clone(),
        _ => Vec::new(),
    };
    let plain = || {
        let url = if query.is_empty() {
            format!("{}{}", app.address, call.path)
        } else {
            format!("{}{}?{}", app.address, call.path, encode_pairs(&query))
        };
        app.client
            .request(method.parse().unwrap(), url)
            .header("StackSync-API", "v2")
    };
    let request = match (call.auth, caller) {
        (Auth::None, _) | (Auth::Signature | Auth::DeviceToken, Caller::Anonymous) => plain(),
        (Auth::DeviceToken, _) => plain().header("X-Auth-Token", cast.token(caller).unwrap()),
        (Auth::Signature, Caller::RevokedDevice) => api_request(
            app,
            &grants.revoked,
            method,
            &call.path,
            &query,
            &Signing::default(),
        ),
        (Auth::Signature, Caller::ExpiredToken) => api_request(
            app,
            grants.of(Caller::Owner),
            method,
            &call.path,
            &query,
            &Signing {
                timestamp: Some(an_hour_ago()),
                ..Signing::default()
            },
        ),
        (Auth::Signature, live) => api_request(
            app,
            grants.of(live),
            method,
            &call.path,
            &query,
            &Signing::default(),
        ),
    };
    match &call.body {
        Body::Empty => request,
        Body::Json(value) => request.json(value),
        Body::Bytes(bytes) => request
            .header("Content-Type", "application/octet-stream")
            .body(*bytes),
        Body::Form(_) => request.with_form(&form),
    }
}

/// The entry of `route`, where OAuth-signed routes refuse a revoked, stale
/// or absent signature before anything else.
fn entry_for(route: &Route, target: &Target, caller: Caller) -> Option<Call> {
    let call = entry(route, target, caller)?;
    if call.auth == Auth::Signature && caller.is_dead() {
        return Some(Call {
            expect: Expect::Refused(401),
            ..call
        });
    }
    Some(call)
}

#[tokio::test]
async fn every_rest_and_oauth_route_answers_every_caller_as_the_matrix_says() {
    let cast = Cast::new().await;
    let grants = Grants::new(&cast).await;
    let routes: Vec<Route> = [nimbus_proxy::rest::ROUTES, nimbus_proxy::oauth::ROUTES].concat();

    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let document = nimbus_proxy::rest::openapi::document("http://127.0.0.1");
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let undocumented: BTreeSet<(String, String)> = UNDOCUMENTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        served
            .difference(&documented)
            .cloned()
            .collect::<BTreeSet<_>>(),
        undocumented,
        "routes served but not in the OpenAPI document"
    );
    assert!(
        documented.is_subset(&served),
        "documented but not served: {:?}",
        documented.difference(&served).collect::<Vec<_>>()
    );

    let mut wrong = Vec::new();
    let mut number = 0;
    for route in &routes {
        let scene = cast.scene(&format!("REST {number}")).await;
        let probe = Target {
            workspace: scene.workspace.workspace_id,
            file: String::new(),
            folder: String::new(),
            proposal: scene.proposal,
            link: Uuid::nil(),
            spare_token: String::new(),
        };
        if entry_for(route, &probe, Caller::Owner).is_none() {
            wrong.push(format!("{route:?} has no entry in the REST matrix"));
            continue;
        }
        let mut callers = super::CALLERS.to_vec();
        callers.sort_by_key(|caller| {
            matches!(
                entry_for(route, &probe, *caller).unwrap().expect,
                Expect::Allowed(_)
            )
        });
        // Refused requests change nothing, so their items serve the next caller.
        let mut kept = None;
        for caller in callers {
            number += 1;
            let target = match kept.take() {
                Some(target) => target,
                None => Target::new(&cast, &grants, &scene, number).await,
            };
            let call = entry_for(route, &target, caller).unwrap();
            let what = format!("{} {} by {caller:?}", route.method, call.path);
            let before = cast.snapshot().await;
            let response = build(&cast, &grants, route.method, &call, caller)
                .send()
                .await
                .unwrap();
            check(&mut wrong, &what, response.status().as_u16(), call.expect);
            if let Expect::Refused(_) = call.expect {
                let body = response.text().await.unwrap();
                before.assert_same(&cast.snapshot().await, &format!("{what} ({body})"));
                kept = Some(target);
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
