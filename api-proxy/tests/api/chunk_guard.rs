//! Chunks a file needs cannot be destroyed through the Swift API, even with
//! the user's own token; a chunk whose bytes vanished behind the proxy's
//! back reads as missing and can be stored again.

use nimbus_chunks::{ChunkerParams, WorkspaceKeys, open_chunk};
use nimbus_protocol::rpc::{ChunkRef, CommitArgs, CommitItem, Content, ItemOutcome};
use reqwest::RequestBuilder;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    Device, PASSWORD, Session, TestApp, device, files_under, noise, spawn_app, upload_chunks,
};

/// A file of alice's default workspace, synced as a device syncs it.
pub(crate) struct SyncedFile {
    pub(crate) laptop: Device,
    /// Alice's Swift session, with the device's own TempAuth token.
    pub(crate) swift: Session,
    pub(crate) container: String,
    keys: WorkspaceKeys,
    chunks: Vec<ChunkRef>,
    pub(crate) data: Vec<u8>,
}

pub(crate) async fn synced_file(app: &TestApp) -> SyncedFile {
    app.add_user("alice", None, true).await;
    let laptop = device(app, "alice").await;
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    // Several chunks, each too large to live inline in the index row.
    let data = noise(1_500_000, 7);
    let (chunks, content_hash, size) = upload_chunks(
        &app.client,
        &laptop.container_url,
        &laptop.swift_token,
        &keys,
        &data,
    )
    .await;
    assert!(chunks.len() > 1, "the file spans several chunks");
    let reply = laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: laptop.workspace.workspace_id,
                items: vec![CommitItem {
                    id: Uuid::now_v7(),
                    base_version: 0,
                    parent_id: None,
                    name: "report.bin".into(),
                    is_folder: false,
                    deleted: false,
                    modified_at: 1_700_000_000_000,
                    content: Content {
                        size,
                        content_hash: Some(content_hash),
                        chunks: chunks.clone(),
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
    let swift = Session {
        token: laptop.swift_token.clone(),
        storage_url: laptop.storage_url.clone(),
    };
    let container = laptop.workspace.container.clone();
    SyncedFile {
        laptop,
        swift,
        container,
        keys,
        chunks,
        data,
    }
}

impl SyncedFile {
    pub(crate) fn chunk_path(&self, index: usize) -> String {
        format!("{}/{}", self.container, self.chunks[index].id)
    }

    /// The file rebuilt from its chunks, fetched through the Swift API.
    pub(crate) async fn download(&self, app: &TestApp) -> Vec<u8> {
        let mut rebuilt = Vec::new();
        for chunk in &self.chunks {
            let response = self
                .swift
                .request(
                    &app.client,
                    "GET",
                    &format!("{}/{}", self.container, chunk.id),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "chunk {}", chunk.id);
            let sealed = response.bytes().await.unwrap();
            rebuilt.extend(open_chunk(&self.keys, &chunk.id, &sealed).unwrap());
        }
        rebuilt
    }

    /// The chunk objects of the container as its listing shows them.
    pub(crate) async fn listed_chunks(&self, app: &TestApp) -> Vec<Value> {
        let listing: Vec<Value> = self
            .swift
            .request(
                &app.client,
                "GET",
                &format!("{}?format=json", self.container),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listing
            .into_iter()
            .filter(|o| self.chunks.iter().any(|c| o["name"] == c.id.as_str()))
            .collect()
    }
}

async fn refused(request: RequestBuilder, what: &str) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 409, "{what}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn chunks_that_versions_need_cannot_be_deleted_or_replaced_through_swift() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let (swift, container) = (&file.swift, file.container.as_str());
    let put = |path: &str| swift.request(&app.client, "PUT", path);
    assert_eq!(
        put(&format!("{container}/notes.txt"))
            .body("notes")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let listed = file.listed_chunks(&app).await;
    assert_eq!(listed.len(), file.chunks.len());
    let stored = app.stored_bodies().await;
    let chunk = file.chunk_path(0);

    let body = refused(swift.request(&app.client, "DELETE", &chunk), "DELETE").await;
    assert!(
        body.contains("is a chunk of a file") && body.contains("nothing was changed"),
        "{body}"
    );
    refused(put(&chunk).body("garbage"), "PUT over it").await;
    refused(
        put(&chunk)
            .header("X-Copy-From", format!("{container}/notes.txt"))
            .header("Content-Length", "0"),
        "PUT with X-Copy-From onto it",
    )
    .await;
    refused(
        swift
            .request(&app.client, "COPY", &format!("{container}/notes.txt"))
            .header("Destination", &chunk),
        "COPY onto it",
    )
    .await;
    refused(
        put(&format!("{chunk}?multipart-manifest=put"))
            .body(format!(r#"[{{"path":"/{container}/notes.txt"}}]"#)),
        "a static manifest in its place",
    )
    .await;
    refused(
        put(&chunk)
            .header("X-Object-Manifest", format!("{container}/notes"))
            .body(""),
        "a dynamic manifest in its place",
    )
    .await;
    for (header, value) in [
        ("X-Delete-After", "60".to_owned()),
        ("X-Object-Manifest", format!("{container}/notes")),
    ] {
        refused(
            swift
                .request(&app.client, "POST", &chunk)
                .header(header, value),
            header,
        )
        .await;
    }
    refused(
        put(&file.chunk_path(1))
            .header("X-Delete-After", "60")
            .body("garbage"),
        "PUT with X-Delete-After",
    )
    .await;

    // An `rclone sync` from an empty folder: a bulk delete of everything.
    let everything: String = file
        .chunks
        .iter()
        .map(|c| format!("/{container}/{}\n", c.id))
        .collect();
    let report: Value = swift
        .request(&app.client, "POST", "?bulk-delete")
        .header("Content-Type", "text/plain")
        .header("Accept", "application/json")
        .body(everything)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["Number Deleted"], 0, "{report}");
    let errors = report["Errors"].as_array().unwrap();
    assert_eq!(errors.len(), file.chunks.len(), "{report}");
    assert!(errors.iter().all(|e| e[1] == "409 Conflict"), "{report}");

    // A user writing through a container ACL, not a member: refused too.
    app.add_user("bob", None, true).await;
    let bob = app.login("bob:bob").await;
    let grant = swift
        .request(&app.client, "POST", container)
        .header("X-Container-Write", "bob:bob");
    assert_eq!(grant.send().await.unwrap().status(), 204);
    let bobs = Session {
        token: bob.token.clone(),
        storage_url: swift.storage_url.clone(),
    };
    refused(bobs.request(&app.client, "DELETE", &chunk), "bob's DELETE").await;

    // Nothing changed: the same chunks, and the file downloads byte for byte.
    assert_eq!(file.listed_chunks(&app).await, listed);
    assert_eq!(app.stored_bodies().await, stored);
    assert!(file.download(&app).await == file.data, "the file changed");

    // Objects that are not chunks a version needs behave as in Swift.
    let status = |request: RequestBuilder| async move { request.send().await.unwrap().status() };
    let unreferenced = format!("{container}/{}", "ab".repeat(32));
    assert_eq!(status(put(&unreferenced).body("x")).await, 201);
    assert_eq!(status(put(&unreferenced).body("y")).await, 201);
    assert_eq!(
        status(swift.request(&app.client, "DELETE", &unreferenced)).await,
        204
    );
    assert_eq!(
        status(bobs.request(&app.client, "DELETE", &format!("{container}/notes.txt"))).await,
        204
    );
    let elsewhere = format!("photos/{}", file.chunks[0].id);
    assert_eq!(status(put("photos")).await, 201);
    assert_eq!(status(put(&elsewhere).body("x")).await, 201);
    assert_eq!(status(put(&elsewhere).body("y")).await, 201);
    assert_eq!(
        status(swift.request(&app.client, "DELETE", &elsewhere)).await,
        204
    );
    drop(file.laptop);
}

/// Versioning a workspace's container archives no chunk a file needs: the
/// guard refuses before anything moves, and archive names are never chunk
/// ids.
#[tokio::test]
async fn a_versioned_workspace_container_still_guards_the_chunks_files_need() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let (swift, container) = (&file.swift, file.container.as_str());
    let status = |request: RequestBuilder| async move { request.send().await.unwrap().status() };
    assert_eq!(
        status(swift.request(&app.client, "PUT", "archive")).await,
        201
    );
    let listed = file.listed_chunks(&app).await;
    let chunk = file.chunk_path(0);
    for location in ["X-Versions-Location", "X-History-Location"] {
        let post = swift
            .request(&app.client, "POST", container)
            .header(location, "archive");
        assert_eq!(status(post).await, 204, "{location}");
        refused(swift.request(&app.client, "DELETE", &chunk), location).await;
        let put = swift.request(&app.client, "PUT", &chunk).body("garbage");
        refused(put, location).await;
        let archive = swift.request(&app.client, "GET", "archive");
        assert_eq!(status(archive).await, 204, "{location}: archive not empty");
    }
    assert_eq!(file.listed_chunks(&app).await, listed);
    assert!(file.download(&app).await == file.data, "the file changed");

    // Other objects of the container are versioned as anywhere.
    let notes = format!("{container}/notes.txt");
    for text in ["one", "two"] {
        let put = swift.request(&app.client, "PUT", &notes).body(text);
        assert_eq!(status(put).await, 201);
    }
    let archive = swift.request(&app.client, "GET", "archive").send().await;
    let archived = archive.unwrap().text().await.unwrap();
    assert!(archived.starts_with("009notes.txt/"), "{archived}");
    drop(file.laptop);
}

#[tokio::test]
async fn a_chunk_whose_bytes_vanished_reads_as_missing_and_can_be_stored_again() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let chunk = file.chunk_path(0);
    let sealed = file
        .swift
        .request(&app.client, "GET", &chunk)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Behind the proxy's back: every blob file goes.
    let blobs: Vec<String> = files_under(app.objects_dir.path());
    assert!(blobs.len() >= file.chunks.len(), "{blobs:?}");
    for blob in &blobs {
        std::fs::remove_file(app.objects_dir.path().join(blob)).unwrap();
    }

    let get = file
        .swift
        .request(&app.client, "GET", &chunk)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404, "a lost chunk is missing, not an error");
    let head = file.swift.request(&app.client, "HEAD", &chunk);
    assert_eq!(head.send().await.unwrap().status(), 404);
    assert_eq!(
        file.listed_chunks(&app).await.len(),
        file.chunks.len() - 1,
        "the index forgot the lost chunk"
    );

    // Only a body can take its place: not a copy, not a manifest.
    let notes = format!("{}/notes.txt", file.container);
    let put_notes = file.swift.request(&app.client, "PUT", &notes).body("notes");
    assert_eq!(put_notes.send().await.unwrap().status(), 201);
    let copy = file
        .swift
        .request(&app.client, "COPY", &notes)
        .header("Destination", &chunk);
    assert_eq!(copy.send().await.unwrap().status(), 409);
    let manifest = file
        .swift
        .request(&app.client, "PUT", &chunk)
        .header("X-Object-Manifest", format!("{}/notes", file.container))
        .body("");
    assert_eq!(manifest.send().await.unwrap().status(), 409);

    // A device that has the bytes stores the chunk again.
    let restore = file
        .swift
        .request(&app.client, "PUT", &chunk)
        .header("If-None-Match", "*")
        .body(sealed.clone());
    assert_eq!(restore.send().await.unwrap().status(), 201);
    let again = file
        .swift
        .request(&app.client, "GET", &chunk)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.bytes().await.unwrap() == sealed);
    drop(file.laptop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs rclone: scripts/test.sh installs it and runs this"]
async fn rclone_sync_from_an_empty_folder_deletes_no_chunk_a_file_needs() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let listed = file.listed_chunks(&app).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let config = dir.path().join("rclone.conf");
    std::fs::write(
        &config,
        format!(
            "[nimbus]\ntype = swift\nuser = alice:alice\nkey = {PASSWORD}\nauth = {}/auth/v1.0\n",
            app.address
        ),
    )
    .unwrap();
    let mut rclone = tokio::process::Command::new("rclone");
    rclone
        .arg("--config")
        .arg(&config)
        .args([
            "--retries",
            "1",
            "--low-level-retries",
            "1",
            "sync",
            "empty",
        ])
        .arg(format!("nimbus:{}", file.container))
        .current_dir(dir.path());
    refused_by_client(rclone, "rclone sync").await;
    assert_eq!(file.listed_chunks(&app).await, listed);
    assert!(file.download(&app).await == file.data, "the file changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_cannot_delete_or_overwrite_a_chunk_a_file_needs() {
    let app = spawn_app().await;
    let file = synced_file(&app).await;
    let listed = file.listed_chunks(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let chunk = file.chunks[0].id.as_str();
    std::fs::write(dir.path().join(chunk), b"garbage").unwrap();
    let auth_url = format!("{}/auth/v1.0", app.address);
    let swift = |args: &[&str]| {
        let mut command = tokio::process::Command::new("swift");
        command
            .args(["-A", &auth_url, "-U", "alice:alice", "-K", PASSWORD])
            .args(args)
            .current_dir(dir.path());
        command
    };
    let container = file.container.as_str();
    refused_by_client(swift(&["delete", container, chunk]), "swift delete").await;
    refused_by_client(swift(&["upload", container, chunk]), "swift upload").await;
    assert_eq!(file.listed_chunks(&app).await, listed);
    assert!(file.download(&app).await == file.data, "the file changed");
}

/// Runs a Swift client that must fail with the proxy's 409.
async fn refused_by_client(mut command: tokio::process::Command, what: &str) {
    let output = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {what} (scripts/test.sh installs it): {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{what} succeeded: {stderr}");
    assert!(stderr.contains("409"), "{what}: {stderr}");
}
