//! The REST API v2 (`/v1/file`, `/v1/folder`, `StackSync-API: v2`) signed by
//! a real OAuth client library, against a real metadata server, and its
//! interplay with devices: API changes reach them by push, in their chunk
//! format, and their files download through the API byte for byte.

use std::time::Duration;

use nimbus_chunks::{ChunkerParams, WorkspaceKeys, open_chunk};
use nimbus_protocol::rpc::{CommitArgs, CommitItem, Content, GetChangesArgs, ItemOutcome};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, device, noise, spawn_app, upload_chunks};
use crate::oauth::{Grant, Signing, WithForm, api_request, grant, root_listing};

pub(crate) async fn call(
    app: &TestApp,
    grant: &Grant,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = api_request(app, grant, method, path, query, &Signing::default());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"));
    (status, value)
}

async fn upload(app: &TestApp, grant: &Grant, name: &str, parent: &str, bytes: Vec<u8>) -> Value {
    let (status, file) = try_upload(app, grant, name, parent, bytes).await;
    assert_eq!(status, 201);
    file
}

/// `POST /v1/file`: its status and JSON answer.
pub(crate) async fn try_upload(
    app: &TestApp,
    grant: &Grant,
    name: &str,
    parent: &str,
    bytes: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = api_request(
        app,
        grant,
        "POST",
        "/v1/file",
        &[("name", name), ("parent", parent)],
        &Signing::default(),
    )
    .body(bytes)
    .send()
    .await
    .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

pub(crate) async fn download(
    app: &TestApp,
    grant: &Grant,
    id: &str,
) -> (StatusCode, Vec<u8>, String) {
    fetch_bytes(app, grant, &format!("/v1/file/{id}/data")).await
}

/// The status, body and content type of a GET of `path`.
async fn fetch_bytes(app: &TestApp, grant: &Grant, path: &str) -> (StatusCode, Vec<u8>, String) {
    let response = api_request(app, grant, "GET", path, &[], &Signing::default())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, response.bytes().await.unwrap().to_vec(), kind)
}

pub(crate) fn names(folder: &Value) -> Vec<String> {
    folder["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["filename"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn files_and_folders_through_the_api() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;

    // Upload to the root, read metadata and data.
    let file = upload(&app, &alice, "notes.txt", "0", b"hello nimbus".to_vec()).await;
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(file["filename"], "notes.txt");
    assert_eq!(file["status"], "NEW");
    assert_eq!(file["version"], 1);
    assert_eq!(file["size"], 12);
    assert_eq!(file["parent_id"], Value::Null);
    assert_eq!(file["mimetype"], "text/plain");
    assert!(file["checksum"].as_str().unwrap().starts_with("blake3:"));
    assert_eq!(file["chunks"].as_array().unwrap().len(), 1);
    let (status, meta) = call(&app, &alice, "GET", &format!("/v1/file/{id}"), &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(meta["id"], id.as_str());
    assert_eq!(meta["checksum"], file["checksum"]);
    let (status, bytes, kind) = download(&app, &alice, &id).await;
    assert_eq!(
        (status.as_u16(), bytes.as_slice()),
        (200, &b"hello nimbus"[..])
    );
    assert_eq!(kind, "text/plain");

    // The same name again in the same folder is refused.
    let taken = api_request(
        &app,
        &alice,
        "POST",
        "/v1/file",
        &[("name", "notes.txt")],
        &Signing::default(),
    )
    .body("other")
    .send()
    .await
    .unwrap();
    assert_eq!(taken.status(), 400);
    let body: Value = taken.json().await.unwrap();
    assert_eq!(body["code"], "name_taken");

    // Replace the content: a new version.
    let replaced = api_request(
        &app,
        &alice,
        "PUT",
        &format!("/v1/file/{id}/data"),
        &[],
        &Signing::default(),
    )
    .body("hello again")
    .send()
    .await
    .unwrap();
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["status"], "CHANGED");
    assert_eq!(download(&app, &alice, &id).await.1, b"hello again");

    // Folders: create, nest, list.
    let (status, docs) = call(
        &app,
        &alice,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": "docs", "parent": 0})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(docs["is_folder"], true);
    assert_eq!(docs["mimetype"], "inode/directory");
    assert_eq!(docs["is_root"], false);
    let docs_id = docs["id"].as_str().unwrap().to_owned();
    let (status, again) = call(
        &app,
        &alice,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": "docs"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(again["description"], "Folder already exists.");
    let (status, inner) = call(
        &app,
        &alice,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": "inner", "parent": docs_id})),
    )
    .await;
    assert_eq!(status, 201);
    let inner_id = inner["id"].as_str().unwrap().to_owned();
    assert_eq!(inner["parent_id"], docs_id.as_str());
    // A form body works too (and is part of the signature).
    let params = [("name", "from form"), ("parent", docs_id.as_str())];
    let url = format!("{}/v1/folder", app.address);
    let header = crate::oauth::authorization(
        "POST",
        &url,
        &params,
        (&alice.consumer.0, &alice.consumer.1),
        Some((&alice.token.0, &alice.token.1)),
        &Signing::default(),
    );
    let response = app
        .client
        .post(&url)
        .header("StackSync-API", "v2")
        .header("Authorization", header)
        .with_form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let nested = upload(&app, &alice, "deep.bin", &inner_id, vec![0u8; 1000]).await;
    assert_eq!(nested["parent_id"], inner_id.as_str());
    assert_eq!(nested["mimetype"], "application/octet-stream");
    let empty = upload(&app, &alice, "empty", &docs_id, Vec::new()).await;
    assert_eq!(empty["mimetype"], "inode/x-empty");
    assert_eq!(
        download(&app, &alice, empty["id"].as_str().unwrap())
            .await
            .1,
        b""
    );

    let root = root_listing(&app, &alice).await;
    assert_eq!(root["id"], Value::Null);
    assert_eq!(names(&root), ["docs", "notes.txt"]);
    let (status, listed) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{docs_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(names(&listed), ["from form", "inner", "empty"]);

    // Rename and move a file.
    let (status, moved) = call(
        &app,
        &alice,
        "PUT",
        &format!("/v1/file/{id}"),
        &[],
        Some(json!({"name": "moved.txt", "parent": inner_id})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(moved["filename"], "moved.txt");
    assert_eq!(moved["parent_id"], inner_id.as_str());
    assert_eq!(moved["version"], 3);
    assert_eq!(download(&app, &alice, &id).await.1, b"hello again");
    // Rename a folder, then try to move it into itself.
    let (status, renamed) = call(
        &app,
        &alice,
        "PUT",
        &format!("/v1/folder/{docs_id}"),
        &[],
        Some(json!({"name": "papers"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(renamed["filename"], "papers");
    // The same name again changes nothing: same version, same status.
    let (status, same) = call(
        &app,
        &alice,
        "PUT",
        &format!("/v1/folder/{docs_id}"),
        &[],
        Some(json!({"name": "papers"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&same["version"], &same["status"]),
        (&renamed["version"], &renamed["status"])
    );
    let (status, _) = call(
        &app,
        &alice,
        "PUT",
        &format!("/v1/folder/{docs_id}"),
        &[],
        Some(json!({"parent": inner_id})),
    )
    .await;
    assert_eq!(status, 400);
    // Move the inner folder to the root.
    let (status, top) = call(
        &app,
        &alice,
        "PUT",
        &format!("/v1/folder/{inner_id}"),
        &[],
        Some(json!({"parent": "0"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(top["parent_id"], Value::Null);
    assert_eq!(
        names(&root_listing(&app, &alice).await),
        ["inner", "papers"]
    );

    // Delete a file: gone from listings, kept with include_deleted.
    let empty_id = empty["id"].as_str().unwrap();
    let (status, deleted) = call(
        &app,
        &alice,
        "DELETE",
        &format!("/v1/file/{empty_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["status"], "DELETED");
    let (_, listed) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{docs_id}/contents"),
        &[],
        None,
    )
    .await;
    assert_eq!(names(&listed), ["from form"]);
    let (_, with_deleted) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/folder/{docs_id}/contents"),
        &[("include_deleted", "true")],
        None,
    )
    .await;
    assert_eq!(names(&with_deleted), ["from form", "empty"]);
    let (status, _) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{empty_id}/data"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, meta) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{empty_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), meta["status"].as_str()),
        (200, Some("DELETED"))
    );

    // Delete a folder with everything in it.
    let (status, gone) = call(
        &app,
        &alice,
        "DELETE",
        &format!("/v1/folder/{inner_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(gone["status"], "DELETED");
    assert_eq!(names(&root_listing(&app, &alice).await), ["papers"]);
    for child in [&id, nested["id"].as_str().unwrap()] {
        let (_, meta) = call(&app, &alice, "GET", &format!("/v1/file/{child}"), &[], None).await;
        assert_eq!(meta["status"], "DELETED", "{child}");
    }

    // Errors: unknown ids, ids that are not UUIDs, wrong kinds, unknown paths.
    let unknown = Uuid::now_v7().to_string();
    for (method, path, status) in [
        ("GET", format!("/v1/file/{unknown}"), 404),
        ("GET", format!("/v1/folder/{unknown}"), 404),
        ("GET", "/v1/file/42x".to_owned(), 400),
        ("GET", format!("/v1/file/{docs_id}"), 404),
        ("GET", format!("/v1/folder/{empty_id}"), 404),
        ("DELETE", "/v1/folder/0".to_owned(), 400),
        ("GET", "/v1/file/1/share/x".to_owned(), 400),
    ] {
        let (got, body) = call(&app, &alice, method, &path, &[], None).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
        assert_eq!(body["error"], status);
    }
    let form_upload = api_request(
        &app,
        &alice,
        "POST",
        "/v1/file",
        &[("name", "x")],
        &Signing::default(),
    )
    .header("Content-Type", "application/x-www-form-urlencoded")
    .body("a=b")
    .send()
    .await
    .unwrap();
    assert_eq!(form_upload.status(), 415);
}

#[tokio::test]
async fn large_files_stream_in_chunks_and_deduplicate() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    let data = noise(3 * 1024 * 1024 + 17, 7);
    let file = upload(&app, &alice, "big.bin", "0", data.clone()).await;
    let chunks = file["chunks"].as_array().unwrap().len();
    assert!(chunks > 2, "{chunks} chunks");
    assert_eq!(file["size"], data.len());
    let stored = app.stored_bodies().await;
    assert_eq!(stored, chunks);
    let (status, bytes, _) = download(&app, &alice, file["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(bytes == data, "the download differs from the upload");

    // The same content under another name stores nothing new.
    let copy = upload(&app, &alice, "copy.bin", "0", data.clone()).await;
    assert_eq!(copy["chunks"], file["chunks"]);
    assert_eq!(app.stored_bodies().await, stored);
}

async fn replace(app: &TestApp, grant: &Grant, id: &str, bytes: Vec<u8>) -> Value {
    let response = api_request(
        app,
        grant,
        "PUT",
        &format!("/v1/file/{id}/data"),
        &[],
        &Signing::default(),
    )
    .body(bytes)
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn versions_can_be_listed_downloaded_and_restored() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("mallory", None, true).await;
    let alice = grant(&app, "alice").await;
    let mallory = grant(&app, "mallory").await;

    // Three versions of different sizes, the first over several chunks.
    let first = noise(1_200_000, 21);
    let second = b"second".to_vec();
    let third = noise(5_000, 23);
    let file = upload(&app, &alice, "report.bin", "0", first.clone()).await;
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(
        replace(&app, &alice, &id, second.clone()).await["version"],
        2
    );
    assert_eq!(
        replace(&app, &alice, &id, third.clone()).await["version"],
        3
    );

    let (status, listed) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{id}/versions"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["version"], 3);
    let versions = listed["versions"].as_array().unwrap();
    let summary: Vec<(u64, &str, u64)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["status"].as_str().unwrap(),
                v["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, "CHANGED", third.len() as u64),
            (2, "CHANGED", second.len() as u64),
            (1, "NEW", first.len() as u64),
        ]
    );
    assert_eq!(versions[2]["checksum"], file["checksum"]);
    assert_eq!(versions[2]["chunks"], file["chunks"]);

    // One version's metadata, under both spellings of the route.
    for route in ["version", "versions"] {
        let (status, one) = call(
            &app,
            &alice,
            "GET",
            &format!("/v1/file/{id}/{route}/2"),
            &[],
            None,
        )
        .await;
        assert_eq!(status, 200, "{route}: {one}");
        assert_eq!((&one["version"], &one["size"]), (&json!(2), &json!(6)));
    }

    // Old content, byte for byte.
    let (status, bytes, kind) =
        fetch_bytes(&app, &alice, &format!("/v1/file/{id}/version/1/data")).await;
    assert_eq!(
        (status.as_u16(), kind.as_str()),
        (200, "application/octet-stream")
    );
    assert!(bytes == first, "version 1 differs from the first upload");
    let (status, bytes, _) =
        fetch_bytes(&app, &alice, &format!("/v1/file/{id}/version/2/data")).await;
    assert_eq!((status.as_u16(), bytes), (200, second.clone()));

    // Restoring version 1 is a new version 4 with its content.
    let (status, restored) = call(
        &app,
        &alice,
        "POST",
        &format!("/v1/file/{id}/version/1/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (
            &restored["version"],
            &restored["status"],
            &restored["filename"]
        ),
        (&json!(4), &json!("CHANGED"), &json!("report.bin"))
    );
    assert_eq!(restored["checksum"], file["checksum"]);
    let (status, bytes, _) = download(&app, &alice, &id).await;
    assert_eq!(status, 200);
    assert!(
        bytes == first,
        "the restored content differs from version 1"
    );
    let (_, listed) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{id}/versions"),
        &[],
        None,
    )
    .await;
    let numbers: Vec<u64> = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);

    // A deleted file is recreated where it was, under its name, unless
    // another file took that name meanwhile.
    let (status, _) = call(&app, &alice, "DELETE", &format!("/v1/file/{id}"), &[], None).await;
    assert_eq!(status, 200);
    let (status, deletion) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{id}/version/5/data"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), &deletion["code"]),
        (404, &json!("not_found"))
    );
    let squatter = upload(&app, &alice, "report.bin", "0", b"other".to_vec()).await;
    let (status, taken) = call(
        &app,
        &alice,
        "POST",
        &format!("/v1/file/{id}/version/2/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), &taken["code"]),
        (400, &json!("name_taken"))
    );
    let squatter_id = squatter["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &alice,
        "DELETE",
        &format!("/v1/file/{squatter_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, back) = call(
        &app,
        &alice,
        "POST",
        &format!("/v1/file/{id}/version/2/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(
        (&back["version"], &back["parent_id"]),
        (&json!(6), &Value::Null)
    );
    assert_eq!(download(&app, &alice, &id).await.1, second);
    assert!(names(&root_listing(&app, &alice).await).contains(&"report.bin".to_owned()));

    // Versions that do not exist, and folders.
    for path in [
        format!("/v1/file/{id}/version/7"),
        format!("/v1/file/{id}/versions/99"),
        format!("/v1/file/{id}/version/7/data"),
    ] {
        let (status, body) = call(&app, &alice, "GET", &path, &[], None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = call(
        &app,
        &alice,
        "POST",
        &format!("/v1/file/{id}/version/7/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{id}/version/x"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (_, folder) = call(
        &app,
        &alice,
        "POST",
        "/v1/folder",
        &[],
        Some(json!({"name": "docs"})),
    )
    .await;
    let folder_id = folder["id"].as_str().unwrap();
    let (status, body) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{folder_id}/versions"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["description"].as_str().unwrap().contains("folder"),
        "{body}"
    );
    // A file whose folder was deleted cannot come back where it was.
    let inside = upload(&app, &alice, "inside.txt", folder_id, b"in docs".to_vec()).await;
    let inside_id = inside["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &alice,
        "DELETE",
        &format!("/v1/folder/{folder_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &app,
        &alice,
        "POST",
        &format!("/v1/file/{inside_id}/version/1/restore"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    let (_, meta) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/file/{inside_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(meta["status"], "DELETED");

    // Another user's file is not found on every version route, and is unchanged.
    for (method, path) in [
        ("GET", format!("/v1/file/{id}/versions")),
        ("GET", format!("/v1/file/{id}/versions/1")),
        ("GET", format!("/v1/file/{id}/version/1")),
        ("GET", format!("/v1/file/{id}/version/1/data")),
        ("POST", format!("/v1/file/{id}/version/1/restore")),
    ] {
        let (status, body) = call(&app, &mallory, method, &path, &[], None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["code"], "not_found");
    }
    let (_, meta) = call(&app, &alice, "GET", &format!("/v1/file/{id}"), &[], None).await;
    assert_eq!(meta["version"], 6);
}

#[tokio::test]
async fn api_uploads_reach_devices_by_push_and_device_files_download_byte_for_byte() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    let laptop = device(&app, "alice").await;
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let mut listener = laptop.rpc.listen(&laptop.token).await.unwrap();

    // Through the API: the device is told, and reads it like any file.
    let data = noise(700_000, 3);
    let file = upload(&app, &alice, "from-api.bin", "0", data.clone()).await;
    let notification = tokio::time::timeout(Duration::from_secs(30), listener.next())
        .await
        .expect("a push notification after the API commit")
        .expect("the listener is open");
    assert_eq!(notification.workspace_id, laptop.workspace.workspace_id);
    let changes = laptop
        .rpc
        .get_changes(
            &laptop.token,
            GetChangesArgs {
                workspace_id: laptop.workspace.workspace_id,
                since: 0,
                page: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    let item = changes
        .items
        .iter()
        .find(|i| i.id.to_string() == file["id"].as_str().unwrap())
        .expect("the device sees the API's file");
    assert_eq!(item.name, "from-api.bin");
    assert_eq!(
        item.content.chunker.as_deref(),
        Some(ChunkerParams::DEFAULT.describe().as_str())
    );
    let mut rebuilt = Vec::new();
    for chunk in &item.content.chunks {
        let sealed = app
            .client
            .get(format!("{}/{}", laptop.container_url, chunk.id))
            .header("X-Auth-Token", &laptop.swift_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            sealed.status(),
            200,
            "chunk {} through the Swift API",
            chunk.id
        );
        rebuilt.extend(open_chunk(&keys, &chunk.id, &sealed.bytes().await.unwrap()).unwrap());
    }
    assert!(rebuilt == data, "the device's copy differs");

    // From the device, as the desktop client syncs: chunks through Swift,
    // then a commit. The API serves it byte for byte.
    let data = noise(1_500_000, 11);
    let (chunks, content_hash, size) = upload_chunks(
        &app.client,
        &laptop.container_url,
        &laptop.swift_token,
        &keys,
        &data,
    )
    .await;
    let id = Uuid::now_v7();
    let reply = laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: laptop.workspace.workspace_id,
                items: vec![CommitItem {
                    id,
                    base_version: 0,
                    parent_id: None,
                    name: "from-laptop.bin".into(),
                    is_folder: false,
                    deleted: false,
                    modified_at: 1_700_000_000_000,
                    content: Content {
                        size,
                        content_hash: Some(content_hash.clone()),
                        chunks,
                        chunker: Some(ChunkerParams::DEFAULT.describe()),
                    },
                }],
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        reply.results[0].outcome,
        ItemOutcome::Committed { .. }
    ));
    let (status, bytes, _) = download(&app, &alice, &id.to_string()).await;
    assert_eq!(status, 200);
    assert!(bytes == data, "the API's copy differs");
    let (_, meta) = call(&app, &alice, "GET", &format!("/v1/file/{id}"), &[], None).await;
    assert_eq!(meta["checksum"], content_hash.as_str());
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], app.address.as_str());
    let paths = document["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /oauth/tokens/{token}",
            "DELETE /v1/file/{id}",
            "DELETE /v1/folder/{id}",
            "DELETE /v1/link/{id}",
            "GET /oauth/access_token",
            "GET /oauth/authorize",
            "GET /oauth/request_token",
            "GET /oauth/tokens",
            "GET /v1/file/{id}",
            "GET /v1/file/{id}/data",
            "GET /v1/file/{id}/version/{n}",
            "GET /v1/file/{id}/version/{n}/data",
            "GET /v1/file/{id}/versions",
            "GET /v1/file/{id}/versions/{n}",
            "GET /v1/folder/{id}",
            "GET /v1/folder/{id}/contents",
            "GET /v1/folder/{id}/members",
            "GET /v1/links",
            "GET /v1/proposals",
            "POST /oauth/access_token",
            "POST /oauth/authorize",
            "POST /oauth/request_token",
            "POST /v1/file",
            "POST /v1/file/{id}/version/{n}/restore",
            "POST /v1/folder",
            "POST /v1/folder/{id}/share",
            "POST /v1/folder/{id}/unshare",
            "POST /v1/link",
            "POST /v1/proposals/{id}/accept",
            "POST /v1/proposals/{id}/decline",
            "PUT /v1/file/{id}",
            "PUT /v1/file/{id}/data",
            "PUT /v1/folder/{id}",
        ]
    );
    // Every REST operation listed is served: unsigned, it is a 401 (an
    // unknown endpoint would be a 400).
    for operation in operations.iter().filter(|o| o.contains("/v1/")) {
        let (method, path) = operation.split_once(' ').unwrap();
        let url = format!(
            "{}{}",
            app.address,
            path.replace("{id}", &Uuid::now_v7().to_string())
                .replace("{n}", "1")
        );
        let response = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("stacksync-api", "V2")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{operation}");
    }
}

/// A request to `path` with `StackSync-API: v2` and nothing else (no
/// signature): what the proxy answers before it authenticates.
async fn unsigned(app: &TestApp, method: &str, path: &str) -> reqwest::Response {
    app.client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.address),
        )
        .header("stacksync-api", "v2")
        .send()
        .await
        .unwrap()
}

/// Found by the HTTP fuzzers (docs/http-fuzzing.md): a path the API
/// serves, asked with another method, is a JSON 405 naming the methods it
/// has (it fell through to the Swift API); an unreadable query string is a
/// JSON 400 like every other refusal.
#[tokio::test]
async fn other_methods_and_unreadable_queries_get_json_errors() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("DELETE", "/v1/file", "POST"),
        (
            "POST",
            "/v1/file/0b7a4e61-5a3e-4b3c-9b1e-6f0f2d9c1a11",
            "GET, PUT, DELETE",
        ),
        ("PATCH", "/v1/folder/0", "GET, PUT, DELETE"),
        ("PUT", "/openapi.json", "GET"),
        ("PUT", "/oauth/authorize", "GET, POST"),
        ("DELETE", "/oauth/request_token", "POST, GET"),
    ] {
        let response = unsigned(&app, method, path).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (body["error"].as_u64(), body["code"].as_str()),
            (Some(405), Some("method_not_allowed")),
            "{method} {path}"
        );
    }
    for path in [
        "/v1/folder/0/contents?include_deleted=true&include_deleted=false",
        "/v1/file?name=a&name=b",
        "/oauth/authorize?oauth_token=a&oauth_token=b",
    ] {
        let method = if path.starts_with("/v1/file") {
            "POST"
        } else {
            "GET"
        };
        let response = unsigned(&app, method, path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{path}");
    }
}

/// Found by the HTTP fuzzers: a signed request without `StackSync-API: v2`
/// was answered by the Swift API (an HTML 401); it is the API's JSON 400.
#[tokio::test]
async fn a_signed_request_without_the_api_header_gets_the_apis_refusal() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    for version in [None, Some("v3")] {
        let mut request = api_request(
            &app,
            &alice,
            "GET",
            "/v1/folder/0",
            &[],
            &Signing::default(),
        )
        .build()
        .unwrap();
        match version {
            Some(version) => {
                let value = reqwest::header::HeaderValue::from_static(version);
                request.headers_mut().insert("stacksync-api", value);
            }
            None => {
                request.headers_mut().remove("stacksync-api");
            }
        }
        let response = app.client.execute(request).await.unwrap();
        assert_eq!(response.status(), 400, "{version:?}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .contains("StackSync-API")
        );
    }
}

/// Found by the HTTP fuzzers: refusals that were answered as successes.
#[tokio::test]
async fn sharing_an_unknown_workspace_or_the_root_is_refused() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;
    let unknown = Uuid::new_v4();
    for (method, path, body) in [
        ("GET", format!("/v1/folder/{unknown}/members"), None),
        (
            "POST",
            format!("/v1/folder/{unknown}/share"),
            Some(json!(["bob"])),
        ),
        (
            "POST",
            format!("/v1/folder/{unknown}/unshare"),
            Some(json!({"all": true})),
        ),
    ] {
        let (status, error) = call(&app, &alice, method, &path, &[], body).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
    }
    let (status, error) = call(
        &app,
        &alice,
        "POST",
        "/v1/folder/0/unshare",
        &[],
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let (status, error) = call(
        &app,
        &alice,
        "GET",
        "/v1/folder/0/contents",
        &[("include_deleted", "")],
        None,
    )
    .await;
    assert_eq!(status, 400, "{error}");
}
