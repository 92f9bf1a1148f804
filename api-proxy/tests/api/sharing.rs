//! Sharing through the proxy: roles decide what the Swift API and the REST
//! API let a member do, and an access that ends is refused at once by every
//! proxy on the broker, not when their cached identities expire.

use std::time::Duration;

use nimbus_protocol::rpc::{
    AcceptProposalArgs, CreateWorkspaceArgs, EncryptionMode, Operation, Proposal, ProposeShareArgs,
    Role, WorkspaceInfo,
};
use nimbus_proxy::startup::Application;
use nimbus_server::admin::{AddUser, add_user};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::noise;
use crate::helpers::{Device, PASSWORD, TestApp, device, spawn_app};
use crate::oauth::Grant;
use crate::oauth::{Signing, api_request, grant};
use crate::rest::{call as rest, download, names, try_upload as upload};
use crate::swift_tempurl::{in_a_day, sign, temp_request};

/// How long an access event may take from the metadata server's reply to
/// the proxies on a local broker. The proxies cache identities for 30 s
/// and more, so an answer within this time did not wait out a cache.
const BROADCAST: Duration = Duration::from_millis(500);

pub(crate) async fn create_workspace(owner: &Device, name: &str) -> WorkspaceInfo {
    owner
        .rpc
        .create_workspace(
            &owner.token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: name.into(),
                encryption: EncryptionMode::None,
                key_check: None,
            },
        )
        .await
        .unwrap()
}

/// `owner` shares `workspace` with `member` (user name `name`), who accepts.
pub(crate) async fn share(
    owner: &Device,
    workspace: &WorkspaceInfo,
    member: &Device,
    name: &str,
    role: Role,
) {
    let proposals: Vec<Proposal> = owner
        .rpc
        .call(
            Some(&owner.token),
            Operation::ProposeShare(ProposeShareArgs {
                workspace_id: workspace.workspace_id,
                addressees: vec![name.into()],
                role,
                message: None,
            }),
        )
        .await
        .unwrap();
    let _: WorkspaceInfo = member
        .rpc
        .call(
            Some(&member.token),
            Operation::AcceptProposal(AcceptProposalArgs {
                proposal_id: proposals[0].proposal_id,
                mount_name: None,
                mount_parent: None,
                key_check: None,
            }),
        )
        .await
        .unwrap();
}

async fn owner_call(owner: &Device, operation: Operation) {
    owner
        .rpc
        .call::<serde_json::Value>(Some(&owner.token), operation)
        .await
        .unwrap();
}

/// The shared workspace's container as a URL under the owner's account.
fn container_url(app_address: &str, workspace: &WorkspaceInfo) -> String {
    format!(
        "{app_address}/v1/{}/{}",
        workspace.storage_account, workspace.container
    )
}

async fn status(client: &reqwest::Client, method: &str, url: &str, token: &str) -> StatusCode {
    client
        .request(method.parse().unwrap(), url)
        .header("X-Auth-Token", token)
        .body(if method == "PUT" { "member bytes" } else { "" })
        .send()
        .await
        .unwrap()
        .status()
}

/// Alice's workspace "Shared" with one object in it, and the devices of
/// alice and bob.
async fn shared_workspace(app: &TestApp) -> (Device, Device, WorkspaceInfo, String) {
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice = device(app, "alice").await;
    let bob = device(app, "bob").await;
    let workspace = create_workspace(&alice, "Shared").await;
    let container = container_url(&app.address, &workspace);
    assert_eq!(
        status(&app.client, "PUT", &container, &alice.swift_token).await,
        201
    );
    let put = app
        .client
        .put(format!("{container}/chunk"))
        .header("X-Auth-Token", &alice.swift_token)
        .body("owner bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    (alice, bob, workspace, container)
}

async fn object_body(app: &TestApp, url: &str, token: &str) -> String {
    let response = app
        .client
        .get(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_write_through_swift_and_role_changes_apply_at_once() {
    let app = spawn_app().await;
    let (alice, bob, workspace, container) = shared_workspace(&app).await;
    let object = format!("{container}/chunk");
    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    // Before any share, bob may not even read.
    assert_eq!(
        status(&app.client, "GET", &object, &bob.swift_token).await,
        403
    );

    share(&alice, &workspace, &bob, "bob", Role::Viewer).await;
    // The access event drops bob's cached identity, which predates the share.
    tokio::time::sleep(BROADCAST).await;
    assert_eq!(
        object_body(&app, &object, &bob.swift_token).await,
        "owner bytes"
    );
    assert_eq!(
        status(&app.client, "PUT", &object, &bob.swift_token).await,
        403
    );
    let new_object = format!("{container}/from-bob");
    assert_eq!(
        status(&app.client, "PUT", &new_object, &bob.swift_token).await,
        403
    );
    assert_eq!(
        status(&app.client, "DELETE", &object, &bob.swift_token).await,
        403
    );
    // The refusals changed nothing.
    assert_eq!(
        object_body(&app, &object, &alice.swift_token).await,
        "owner bytes"
    );
    assert_eq!(
        status(&app.client, "GET", &new_object, &alice.swift_token).await,
        404
    );

    let set_role = |role| Operation::SetMemberRole {
        workspace_id: workspace.workspace_id,
        user_id: bob_id,
        role,
    };
    owner_call(&alice, set_role(Role::Editor)).await;
    tokio::time::sleep(BROADCAST).await;
    assert_eq!(
        status(&app.client, "PUT", &new_object, &bob.swift_token).await,
        201
    );
    owner_call(&alice, set_role(Role::Viewer)).await;
    tokio::time::sleep(BROADCAST).await;
    assert_eq!(
        status(&app.client, "PUT", &object, &bob.swift_token).await,
        403
    );
    assert_eq!(
        object_body(&app, &object, &alice.swift_token).await,
        "owner bytes"
    );
}

#[tokio::test]
async fn a_removed_member_is_refused_at_once_by_every_proxy() {
    let app = spawn_app().await;
    let (alice, bob, workspace, container) = shared_workspace(&app).await;
    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    share(&alice, &workspace, &bob, "bob", Role::Editor).await;

    // A second proxy on the same broker, index and objects, caching
    // identities for ten minutes.
    let mut settings = app.settings.clone();
    settings.token_cache_secs = 600;
    let second = Application::build(settings).await.unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    let objects = [
        format!("{container}/chunk"),
        format!("{}/chunk", container_url(&second_address, &workspace)),
    ];
    // Both proxies now hold bob's identity, with the grant.
    for object in &objects {
        assert_eq!(
            object_body(&app, object, &bob.swift_token).await,
            "owner bytes"
        );
    }

    owner_call(
        &alice,
        Operation::RemoveMember {
            workspace_id: workspace.workspace_id,
            user_id: bob_id,
        },
    )
    .await;
    tokio::time::sleep(BROADCAST).await;
    for object in &objects {
        assert_eq!(
            status(&app.client, "GET", object, &bob.swift_token).await,
            403,
            "{object}"
        );
        assert_eq!(
            status(&app.client, "PUT", object, &bob.swift_token).await,
            403,
            "{object}"
        );
    }
    // Access ending deletes nothing.
    for object in &objects {
        assert_eq!(
            object_body(&app, object, &alice.swift_token).await,
            "owner bytes"
        );
    }
}

#[tokio::test]
async fn a_former_owner_removed_after_a_transfer_loses_the_container_in_their_account() {
    let app = spawn_app().await;
    let (alice, bob, workspace, container) = shared_workspace(&app).await;
    let object = format!("{container}/chunk");
    let alice_id = alice.rpc.get_account(&alice.token).await.unwrap().user_id;
    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    share(&alice, &workspace, &bob, "bob", Role::Editor).await;
    owner_call(
        &alice,
        Operation::TransferOwnership {
            workspace_id: workspace.workspace_id,
            user_id: bob_id,
        },
    )
    .await;
    owner_call(
        &bob,
        Operation::RemoveMember {
            workspace_id: workspace.workspace_id,
            user_id: alice_id,
        },
    )
    .await;
    tokio::time::sleep(BROADCAST).await;
    // The bytes stay in alice's account, but only members reach them.
    assert_eq!(
        status(&app.client, "GET", &object, &alice.swift_token).await,
        403
    );
    assert_eq!(
        status(&app.client, "PUT", &object, &alice.swift_token).await,
        403
    );
    assert_eq!(
        object_body(&app, &object, &bob.swift_token).await,
        "owner bytes"
    );
    // Nor may she change the container itself, its ACLs included, which
    // would let her back in.
    for method in ["POST", "PUT", "DELETE"] {
        assert_eq!(
            status(&app.client, method, &container, &alice.swift_token).await,
            403,
            "{method} of the transferred container"
        );
    }
    assert_eq!(
        object_body(&app, &object, &bob.swift_token).await,
        "owner bytes"
    );
    // Her other containers are hers as before.
    let own = format!("{}/x", alice.container_url);
    assert_eq!(
        status(&app.client, "PUT", &own, &alice.swift_token).await,
        201
    );
}

/// The names a GET of the account at `storage_url` lists.
async fn listed_containers(app: &TestApp, storage_url: &str, token: &str) -> Vec<String> {
    let response = app
        .client
        .get(storage_url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(Into::into)
        .collect()
}

#[tokio::test]
async fn a_transferred_container_is_out_of_reach_of_its_former_accounts_administrators_acls_and_keys()
 {
    let app = spawn_app().await;
    let (alice, bob, workspace, container) = shared_workspace(&app).await;
    // A second administrator of alice's account.
    app.add_user("dave", Some("alice"), true).await;
    let dave = app.login("alice:dave").await;
    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    let object_path = format!(
        "/v1/{}/{}/chunk",
        workspace.storage_account, workspace.container
    );
    let set_key = async |url: &str, header: &str, key: &str| {
        let response = app
            .client
            .post(url)
            .header("X-Auth-Token", &alice.swift_token)
            .header(header, key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{header}");
    };
    set_key(
        &alice.storage_url,
        "X-Account-Meta-Temp-URL-Key",
        "account-key",
    )
    .await;
    set_key(&container, "X-Container-Meta-Temp-URL-Key", "container-key").await;
    let expires_at = in_a_day();
    let expires = expires_at.to_string();
    let temp_get = async |key: &str| {
        let signature = sign("GET", expires_at, &object_path, key);
        let signature = signature.as_str();
        temp_request(
            &app,
            "GET",
            &object_path,
            &[("temp_url_sig", signature), ("temp_url_expires", &expires)],
        )
        .send()
        .await
        .unwrap()
        .status()
    };
    // Before the transfer, both keys open the object, and alice's account
    // lists the container.
    for key in ["account-key", "container-key"] {
        assert_eq!(temp_get(key).await, 200, "{key}");
    }
    assert!(
        listed_containers(&app, &alice.storage_url, &alice.swift_token)
            .await
            .contains(&workspace.container)
    );

    share(&alice, &workspace, &bob, "bob", Role::Editor).await;
    owner_call(
        &alice,
        Operation::TransferOwnership {
            workspace_id: workspace.workspace_id,
            user_id: bob_id,
        },
    )
    .await;
    tokio::time::sleep(BROADCAST).await;

    // Neither key opens it any more: the URLs made before are 401.
    for key in ["account-key", "container-key"] {
        assert_eq!(temp_get(key).await, 401, "{key}");
    }
    // Alice (an editor now) and dave administer the account it stays in, but
    // may not change the container: not its metadata, not its ACLs (which
    // would let anyone back in), not its existence.
    for token in [&alice.swift_token, &dave.token] {
        for (method, header, value) in [
            ("POST", "X-Container-Meta-Color", "red"),
            ("POST", "X-Container-Read", ".r:*"),
            ("POST", "X-Container-Write", "alice:dave"),
            ("PUT", "X-Container-Read", ".r:*"),
            ("POST", "X-Container-Meta-Temp-URL-Key", "new-key"),
            ("DELETE", "X-Container-Meta-Color", "red"),
        ] {
            let response = app
                .client
                .request(method.parse().unwrap(), &container)
                .header("X-Auth-Token", token)
                .header(header, value)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{method} {header}");
        }
        // Nor does their account list it.
        assert!(
            !listed_containers(&app, &alice.storage_url, token)
                .await
                .contains(&workspace.container)
        );
    }
    // Nothing of it changed: no ACL opens it anonymously.
    assert_eq!(
        app.client
            .get(format!("{container}/chunk"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The new owner reads and writes as before; alice, an editor, writes
    // objects by her membership.
    assert_eq!(
        object_body(&app, &format!("{container}/chunk"), &bob.swift_token).await,
        "owner bytes"
    );
    assert_eq!(
        status(
            &app.client,
            "PUT",
            &format!("{container}/by-bob"),
            &bob.swift_token
        )
        .await,
        201
    );
    assert_eq!(
        object_body(&app, &format!("{container}/by-bob"), &alice.swift_token).await,
        "member bytes"
    );
    // Alice's other containers and keys are hers as before.
    let own = format!("{}/own", alice.container_url);
    assert_eq!(
        status(&app.client, "PUT", &own, &alice.swift_token).await,
        201
    );
    let own_path = own.trim_start_matches(&app.address).to_owned();
    let signature = sign("GET", expires_at, &own_path, "account-key");
    let own_get = temp_request(
        &app,
        "GET",
        &own_path,
        &[("temp_url_sig", &signature), ("temp_url_expires", &expires)],
    );
    assert_eq!(own_get.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn workspaces_are_shared_listed_and_unshared_through_the_rest_api() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice_device = device(&app, "alice").await;
    let workspace = create_workspace(&alice_device, "Team").await;
    let id = workspace.workspace_id.to_string();
    let alice = grant(&app, "alice").await;
    let bob = grant(&app, "bob").await;

    // The workspace's id is its top as a folder.
    let (created, file) = upload(&app, &alice, "plan.txt", &id, "version one").await;
    assert_eq!(created, 201, "{file}");
    let file_id = file["id"].as_str().unwrap().to_owned();
    let (listed, top) = rest(&app, &alice, "GET", &format!("/v1/folder/{id}"), &[], None).await;
    assert_eq!(listed, 200);
    assert_eq!(
        (top["filename"].as_str(), top["is_root"].as_bool()),
        (Some("Team"), Some(true))
    );
    assert_eq!(names(&top), ["plan.txt"]);

    // Neither the default workspace nor a folder inside one is shared.
    let (status, _) = rest(
        &app,
        &alice,
        "POST",
        "/v1/folder/0/share",
        &[],
        Some(json!(["bob"])),
    )
    .await;
    assert_eq!(status, 400);
    let (status, nested) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{file_id}/share"),
        &[],
        Some(json!(["bob"])),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        nested.to_string().contains("shares do not nest"),
        "{nested}"
    );
    let (status, unknown) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{id}/share"),
        &[],
        Some(json!({"users": ["bob", "nobody"], "role": "viewer"})),
    )
    .await;
    assert_eq!(status, 400, "{unknown}");

    let (status, shared) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{id}/share"),
        &[],
        Some(json!({"users": ["bob"], "role": "viewer"})),
    )
    .await;
    assert_eq!(status, 201, "{shared}");
    assert_eq!(shared["shared_to"], json!([{"name": "bob", "email": null}]));
    let (_, proposals) = rest(&app, &bob, "GET", "/v1/proposals", &[], None).await;
    let proposal_id = proposals["incoming"][0]["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(proposals["incoming"][0]["status"], "pending");
    let (status, mount) = rest(
        &app,
        &bob,
        "POST",
        &format!("/v1/proposals/{proposal_id}/accept"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{mount}");
    assert_eq!(
        (mount["id"].as_str(), mount["role"].as_str()),
        (Some(id.as_str()), Some("viewer"))
    );

    let (status, members) = rest(
        &app,
        &bob,
        "GET",
        &format!("/v1/folder/{id}/members"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let shape: Vec<(&str, bool, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["is_owner"].as_bool().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(shape, [("alice", true, "owner"), ("bob", false, "viewer")]);
    assert!(members[0]["joined_at"].as_str().unwrap().ends_with('Z'));

    // The viewer reads, and every write is refused and changes nothing.
    let (_, seen) = rest(&app, &bob, "GET", &format!("/v1/folder/{id}"), &[], None).await;
    assert_eq!(names(&seen), ["plan.txt"]);
    let (status, refused) = upload(&app, &bob, "bob.txt", &id, "viewer bytes").await;
    assert_eq!(status, 403, "{refused}");
    let replaced = api_request(
        &app,
        &bob,
        "PUT",
        &format!("/v1/file/{file_id}/data"),
        &[],
        &Signing::default(),
    )
    .body("viewer bytes")
    .send()
    .await
    .unwrap();
    assert_eq!(replaced.status(), 403);
    let (status, _) = rest(
        &app,
        &bob,
        "POST",
        &format!("/v1/file/{file_id}/version/1/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = rest(
        &app,
        &bob,
        "DELETE",
        &format!("/v1/file/{file_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = rest(
        &app,
        &bob,
        "POST",
        &format!("/v1/folder/{id}/share"),
        &[],
        Some(json!(["alice"])),
    )
    .await;
    assert_eq!(status, 403);
    let (_, after) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{file_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(after["version"], 1);
    let (_, top) = rest(&app, &alice, "GET", &format!("/v1/folder/{id}"), &[], None).await;
    assert_eq!(names(&top), ["plan.txt"]);

    // Unsharing: the owner cannot be named, unknown names are ignored.
    let (status, _) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{id}/unshare"),
        &[],
        Some(json!(["alice"])),
    )
    .await;
    assert_eq!(status, 400);
    let (status, unshared) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{id}/unshare"),
        &[],
        Some(json!(["bob", "nobody"])),
    )
    .await;
    assert_eq!(status, 200, "{unshared}");
    assert_eq!(
        unshared["unshared_to"],
        json!([{"name": "bob", "email": null}])
    );
    let (status, _) = rest(&app, &bob, "GET", &format!("/v1/folder/{id}"), &[], None).await;
    assert_eq!(status, 404);
    let (_, members) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{id}/members"),
        &[],
        None,
    )
    .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    let (_, kept) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{file_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(kept["filename"], "plan.txt");

    // A declined proposal is declined, and the owner may propose again.
    let (status, _) = rest(
        &app,
        &alice,
        "POST",
        &format!("/v1/folder/{id}/share"),
        &[],
        Some(json!(["bob"])),
    )
    .await;
    assert_eq!(status, 201);
    let (_, proposals) = rest(&app, &bob, "GET", "/v1/proposals", &[], None).await;
    let again = proposals["incoming"][0]["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, declined) = rest(
        &app,
        &bob,
        "POST",
        &format!("/v1/proposals/{again}/decline"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), declined["status"].as_str()),
        (200, Some("declined"))
    );
    let (status, _) = rest(
        &app,
        &bob,
        "POST",
        &format!("/v1/proposals/{again}/accept"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_editors_rest_upload_over_the_owners_quota_is_refused_as_the_owners() {
    let app = spawn_app().await;
    add_user(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        AddUser {
            username: "alice".into(),
            password: PASSWORD.into(),
            email: None,
            quota_bytes: 1000,
            is_admin: false,
            account: None,
            account_admin: true,
        },
    )
    .await
    .unwrap();
    app.add_user("bob", None, true).await;
    let alice_device = device(&app, "alice").await;
    let bob_device = device(&app, "bob").await;
    let workspace = create_workspace(&alice_device, "Team").await;
    share(&alice_device, &workspace, &bob_device, "bob", Role::Editor).await;
    let id = workspace.workspace_id.to_string();
    let bob = grant(&app, "bob").await;

    let (status, body) = upload(&app, &bob, "big.bin", &id, "x".repeat(2000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "owner_quota_exceeded");
    assert!(
        body["description"].as_str().unwrap().contains("owner"),
        "{body}"
    );
    let (_, top) = rest(&app, &bob, "GET", &format!("/v1/folder/{id}"), &[], None).await;
    assert!(names(&top).is_empty(), "nothing was written");
    let (status, _) = upload(&app, &bob, "small.txt", &id, "fits").await;
    assert_eq!(status, 201);
}

/// `POST /v1/folder` of `name` in `parent`: the new folder's id.
async fn new_folder(app: &TestApp, grant: &Grant, name: &str, parent: &str) -> String {
    let (status, folder) = rest(
        app,
        grant,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": name, "parent": parent})),
    )
    .await;
    assert_eq!(status, 201, "{folder}");
    folder["id"].as_str().unwrap().to_owned()
}

/// A listing's children as (name, id), by name.
fn names_and_ids(listing: &serde_json::Value) -> Vec<(String, String)> {
    let mut children: Vec<(String, String)> = listing["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["filename"].as_str().unwrap().to_owned(),
                i["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    children.sort();
    children
}

/// `POST /v1/folder/{id}/share` with `body`.
async fn share_rest(
    app: &TestApp,
    grant: &Grant,
    id: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    rest(
        app,
        grant,
        "POST",
        &format!("/v1/folder/{id}/share"),
        &[],
        Some(body),
    )
    .await
}

/// `user` accepts the proposal of `workspace` to them, mounted in `parent`.
async fn accept_rest(app: &TestApp, grant: &Grant, workspace: &str, parent: Option<&str>) {
    let (_, proposals) = rest(app, grant, "GET", "/v1/proposals", &[], None).await;
    let proposal = proposals["incoming"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["workspace_id"] == workspace && p["status"] == "pending")
        .unwrap_or_else(|| panic!("no proposal of {workspace}: {proposals}"));
    let (status, mount) = rest(
        app,
        grant,
        "POST",
        &format!(
            "/v1/proposals/{}/accept",
            proposal["proposal_id"].as_str().unwrap()
        ),
        &[],
        parent.map(|parent| json!({"parent": parent})),
    )
    .await;
    assert_eq!(status, 200, "{mount}");
    assert_eq!(mount["id"], workspace);
}

#[tokio::test]
async fn a_folder_of_the_default_workspace_is_shared_through_the_rest_api_keeping_its_ids() {
    let app = spawn_app().await;
    for user in ["alice", "bob", "carol"] {
        app.add_user(user, None, true).await;
    }
    let alice = grant(&app, "alice").await;
    let bob = grant(&app, "bob").await;
    let carol = grant(&app, "carol").await;
    let trip = new_folder(&app, &alice, "Trip", "0").await;
    let day = new_folder(&app, &alice, "Day 1", &trip).await;
    let photo_bytes = noise(700_000, 7);
    let (status, photo) = upload(&app, &alice, "photo.raw", &day, photo_bytes.clone()).await;
    assert_eq!(status, 201, "{photo}");
    let photo = photo["id"].as_str().unwrap().to_owned();
    let (status, notes) = upload(&app, &alice, "notes.txt", &trip, "pack the tent").await;
    assert_eq!(status, 201, "{notes}");
    let notes = notes["id"].as_str().unwrap().to_owned();
    let (_, before) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{trip}"),
        &[],
        None,
    )
    .await;
    let trip_children = names_and_ids(&before);
    assert_eq!(
        trip_children,
        [
            ("Day 1".to_owned(), day.clone()),
            ("notes.txt".into(), notes.clone())
        ]
    );

    // Refused, and nothing changes: another user's folder id reads as
    // missing; the owner role and nobody named are refused before the
    // folder is converted.
    let (status, refused) = share_rest(&app, &carol, &trip, json!(["carol"])).await;
    assert_eq!(status, 404, "{refused}");
    let (status, refused) = share_rest(
        &app,
        &alice,
        &trip,
        json!({"users": ["bob"], "role": "owner"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = share_rest(&app, &alice, &trip, json!([])).await;
    assert_eq!(status, 400, "{refused}");
    let (status, unchanged) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{trip}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(names_and_ids(&unchanged), trip_children);

    // One call: the folder becomes a workspace of its own and bob is invited.
    let (status, shared) = share_rest(
        &app,
        &alice,
        &trip,
        json!({"users": ["bob"], "role": "editor", "message": "our trip"}),
    )
    .await;
    assert_eq!(status, 201, "{shared}");
    assert_eq!(shared["shared_to"], json!([{"name": "bob", "email": null}]));
    let workspace = shared["folder"]["id"].as_str().unwrap().to_owned();
    assert_ne!(workspace, trip);
    assert_eq!(
        (
            &shared["folder"]["filename"],
            &shared["folder"]["role"],
            &shared["folder"]["parent_id"]
        ),
        (&json!("Trip"), &json!("owner"), &json!(null))
    );
    // The owner's items keep their ids and contents: the folder's children
    // are the workspace's top, everything below where it was.
    let (_, top) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{workspace}"),
        &[],
        None,
    )
    .await;
    assert_eq!(names_and_ids(&top), trip_children);
    let (_, below) = rest(&app, &alice, "GET", &format!("/v1/folder/{day}"), &[], None).await;
    assert_eq!(
        names_and_ids(&below),
        [("photo.raw".to_owned(), photo.clone())]
    );
    let (status, bytes, _) = download(&app, &alice, &photo).await;
    assert_eq!((status, bytes == photo_bytes), (StatusCode::OK, true));

    // Bob accepts and reads the same files with the same bytes.
    accept_rest(&app, &bob, &workspace, None).await;
    let (_, seen) = rest(
        &app,
        &bob,
        "GET",
        &format!("/v1/folder/{workspace}"),
        &[],
        None,
    )
    .await;
    assert_eq!(names_and_ids(&seen), trip_children);
    let (status, bytes, _) = download(&app, &bob, &photo).await;
    assert_eq!((status, bytes == photo_bytes), (StatusCode::OK, true));
    let (_, bytes, _) = download(&app, &bob, &notes).await;
    assert_eq!(bytes, b"pack the tent");

    // The folder's old id names the share: its members, and a second
    // share, to carol as a viewer, converts nothing again.
    let (status, members) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{trip}/members"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (status, again) = share_rest(
        &app,
        &alice,
        &trip,
        json!({"users": ["carol"], "role": "viewer"}),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["folder"]["id"], workspace);
    let inbox = new_folder(&app, &carol, "Inbox", "0").await;
    accept_rest(&app, &carol, &workspace, Some(&inbox)).await;

    // Nobody grants more than they have: the viewer shares nothing, the
    // editor neither (only the owner proposes).
    let (status, refused) = share_rest(&app, &carol, &workspace, json!(["bob"])).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = share_rest(&app, &bob, &workspace, json!(["carol"])).await;
    assert_eq!(status, 403, "{refused}");
    // Shares do not nest: a folder inside the shared workspace (for its
    // owner and for a member), and a folder holding a mount of it.
    for who in [&alice, &bob, &carol] {
        let (status, nested) = share_rest(&app, who, &day, json!(["dave"])).await;
        assert_eq!(status, 400, "{nested}");
        assert!(
            nested.to_string().contains("shares do not nest"),
            "{nested}"
        );
    }
    let (status, holding) = share_rest(&app, &carol, &inbox, json!(["bob"])).await;
    assert_eq!(status, 400, "{holding}");
    assert!(
        holding.to_string().contains("move that mount out first"),
        "{holding}"
    );
    let (_, inbox_listing) = rest(
        &app,
        &carol,
        "GET",
        &format!("/v1/folder/{inbox}"),
        &[],
        None,
    )
    .await;
    assert_eq!(inbox_listing["is_folder"], true);
    // An unknown addressee is refused by the servers only after the
    // conversion: the folder stays a workspace of its own, where it was,
    // and the answer says that nobody was invited.
    let album = new_folder(&app, &alice, "Album", "0").await;
    let (status, unknown) = share_rest(&app, &alice, &album, json!(["nobody-such"])).await;
    assert_eq!(status, 400, "{unknown}");
    assert!(
        unknown.to_string().contains("nobody was invited"),
        "{unknown}"
    );
    let (status, members) = rest(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{album}/members"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members.as_array().unwrap().len(), 1);
    let (_, seen) = rest(
        &app,
        &carol,
        "GET",
        &format!("/v1/folder/{workspace}"),
        &[],
        None,
    )
    .await;
    assert_eq!(names_and_ids(&seen), trip_children);
}
