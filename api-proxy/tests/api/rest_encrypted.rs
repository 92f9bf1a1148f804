//! The REST API and an end-to-end encrypted workspace (mode `client`),
//! created with `createWorkspace` and filled by a device the way the desktop
//! client does: sealed chunks through Swift, then a commit. The proxy has no
//! key, so it lists, renames and deletes the items but refuses to read or
//! write their content, with a message that says why.

use nimbus_chunks::{ChunkerParams, WorkspaceKeys};
use nimbus_protocol::rpc::{
    CommitArgs, CommitItem, Content, CreateWorkspaceArgs, EncryptionMode, ItemOutcome,
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, device, spawn_app, upload_chunks};
use crate::oauth::{Grant, Signing, api_request, grant};

/// The status and JSON body of a signed API call.
async fn api(
    app: &TestApp,
    grant: &Grant,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = api_request(app, grant, method, path, query, &Signing::default());
    if let Some(body) = body {
        request = request
            .header("content-type", "application/octet-stream")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"));
    (status, json)
}

fn assert_refused_as_encrypted(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body["code"], "encrypted_workspace", "{what}: {body}");
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains("\"Vault\"") && description.contains("passphrase"),
        "{what}: {description}"
    );
}

#[tokio::test]
async fn content_of_an_encrypted_workspace_is_refused_but_its_items_are_listed() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;

    // A desktop device of alice's, found through TempAuth like the client.
    let laptop = device(&app, "alice").await;

    let workspace_id = Uuid::new_v4();
    nimbus_server::test_log::record_secret("passphrase", "vault passphrase");
    let keys = tokio::task::spawn_blocking(move || {
        WorkspaceKeys::from_passphrase(workspace_id, "vault passphrase")
    })
    .await
    .unwrap()
    .unwrap();
    let vault = laptop
        .rpc
        .create_workspace(
            &laptop.token,
            CreateWorkspaceArgs {
                workspace_id,
                name: "Vault".into(),
                encryption: EncryptionMode::Client,
                key_check: keys.key_check(),
            },
        )
        .await
        .unwrap();

    // Sealed chunks through Swift, then a folder and a file committed.
    let container_url = format!("{}/{}", laptop.storage_url, vault.container);
    let created = app
        .client
        .put(&container_url)
        .header("X-Auth-Token", &laptop.swift_token)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let plaintext = b"the vault's secret text".repeat(100);
    let (chunks, content_hash, size) = upload_chunks(
        &app.client,
        &container_url,
        &laptop.swift_token,
        &keys,
        &plaintext,
    )
    .await;
    let folder_id = Uuid::now_v7();
    let file_id = Uuid::now_v7();
    let folder = CommitItem {
        id: folder_id,
        base_version: 0,
        parent_id: None,
        name: "Letters".into(),
        is_folder: true,
        deleted: false,
        modified_at: 1_700_000_000_000,
        content: Content::default(),
    };
    let file = CommitItem {
        id: file_id,
        parent_id: Some(folder_id),
        name: "diary.txt".into(),
        is_folder: false,
        content: Content {
            size,
            content_hash: Some(content_hash),
            chunks,
            chunker: Some(ChunkerParams::DEFAULT.describe()),
        },
        ..folder.clone()
    };
    let reply = laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id,
                items: vec![folder, file],
            },
        )
        .await
        .unwrap();
    assert!(
        reply
            .results
            .iter()
            .all(|r| matches!(r.outcome, ItemOutcome::Committed { .. })),
        "{reply:?}"
    );

    // Metadata: the folder lists the file, the file has its metadata.
    let (status, listing) = api(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{folder_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["contents"][0]["filename"], "diary.txt");
    let (status, meta) = api(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{file_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["size"], plaintext.len());

    // Content: refused both ways, for the latest and for an old version.
    let parent = folder_id.to_string();
    let downloads = [
        format!("/v1/file/{file_id}/data"),
        format!("/v1/file/{file_id}/version/1/data"),
    ];
    for path in downloads {
        let (status, body) = api(&app, &alice, "GET", &path, &[], None).await;
        assert_refused_as_encrypted(status, &body, &format!("GET {path}"));
    }
    let replace = format!("/v1/file/{file_id}/data");
    let (status, body) = api(
        &app,
        &alice,
        "PUT",
        &replace,
        &[],
        Some(b"overwrite".to_vec()),
    )
    .await;
    assert_refused_as_encrypted(status, &body, "PUT data");
    let query = [("name", "planted.txt"), ("parent", parent.as_str())];
    let (status, body) = api(
        &app,
        &alice,
        "POST",
        "/v1/file",
        &query,
        Some(b"new".to_vec()),
    )
    .await;
    assert_refused_as_encrypted(status, &body, "POST a new file");
    let (_, listing) = api(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{folder_id}"),
        &[],
        None,
    )
    .await;
    let names: Vec<&str> = listing["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["diary.txt"], "nothing was planted");
    let (_, meta) = api(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{file_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(meta["version"], 1, "nothing was overwritten");

    // Renaming needs no content and works.
    let (status, renamed) = api_json(
        &app,
        &alice,
        "PUT",
        &format!("/v1/file/{file_id}"),
        serde_json::json!({"name": "journal.txt"}),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["filename"], "journal.txt");
}

/// A signed call with a JSON body.
async fn api_json(
    app: &TestApp,
    grant: &Grant,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let response = api_request(app, grant, method, path, &[], &Signing::default())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}
