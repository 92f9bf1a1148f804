//! Archive extraction (`PUT ?extract-archive=tar|tar.gz|tar.bz2`), with
//! archives made by GNU tar: each file stored as a PUT of it would be,
//! authorized, within quotas and refused where it would replace a chunk a
//! file needs; the outcome in a summary the `Accept` header formats.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::chunk_guard::synced_file;
use crate::helpers::{Session, TestApp, spawn_app};

/// Writes `files` (path, content) under a fresh folder and archives them
/// with GNU tar, passing `options` (`-z`, `-j`, `--format=pax`, ...).
pub(crate) fn archive(files: &[(&str, &[u8])], options: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for (name, content) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let output = dir.path().join("archive");
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    let status = Command::new("tar")
        .arg("-c")
        .args(options)
        .arg("-f")
        .arg(&output)
        .arg("-C")
        .arg(&root)
        .args(&names)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(Path::new(&output)).unwrap()
}

async fn extract(
    app: &TestApp,
    session: &Session,
    path: &str,
    kind: &str,
    accept: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let response = session
        .request(
            &app.client,
            "PUT",
            &format!("{path}?extract-archive={kind}"),
        )
        .header("Accept", accept)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn extract_json(
    app: &TestApp,
    session: &Session,
    path: &str,
    kind: &str,
    body: Vec<u8>,
) -> Value {
    let (status, text) = extract(app, session, path, kind, "application/json", body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(text.trim_start()).unwrap()
}

async fn object(app: &TestApp, session: &Session, path: &str) -> reqwest::Response {
    let response = session
        .request(&app.client, "GET", path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

#[tokio::test]
async fn archives_extract_into_the_account_or_under_a_path_in_each_format() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let files: [(&str, &[u8]); 4] = [
        ("photos/a.txt", b"first file"),
        ("photos/2026/b.json", b"{\"b\": 2}"),
        ("docs/c.bin", b"third"),
        ("top.txt", b"no container"),
    ];

    // At the account: the first part of each path is the container,
    // created as needed; a file at the top has none and is skipped.
    let summary = extract_json(&app, &alice, "", "tar.gz", archive(&files, &["-z"])).await;
    assert_eq!(
        summary,
        json!({
            "Number Files Created": 3,
            "Response Status": "201 Created",
            "Response Body": "",
            "Errors": [],
        })
    );
    let a = object(&app, &alice, "photos/a.txt").await;
    assert_eq!(a.headers()["content-type"], "text/plain");
    assert_eq!(a.text().await.unwrap(), "first file");
    let b = object(&app, &alice, "photos/2026/b.json").await;
    assert_eq!(b.headers()["content-type"], "application/json");
    assert_eq!(
        object(&app, &alice, "docs/c.bin")
            .await
            .text()
            .await
            .unwrap(),
        "third"
    );

    // Under a path of an existing container, from a bzip2 archive, with the
    // request's metadata on every file; plain text by default.
    let response = alice
        .request(&app.client, "PUT", "docs/imported?extract-archive=tar.bz2")
        .header("X-Object-Meta-Source", "backup")
        .body(archive(&files[..2], &["-j"]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert_eq!(
        text.trim_start(),
        "Number Files Created: 2\nResponse Body: \nResponse Status: 201 Created\nErrors:\n"
    );
    let imported = object(&app, &alice, "docs/imported/photos/2026/b.json").await;
    assert_eq!(imported.headers()["x-object-meta-source"], "backup");

    // A plain pax archive whose files carry extended attributes (as
    // `setfattr` gives them), into a container that does not exist yet,
    // answered in XML.
    let pax = archive(
        &files[..1],
        &[
            "--format=pax",
            "--pax-option=SCHILY.xattr.user.mime_type:=image/x-test",
            "--pax-option=SCHILY.xattr.user.meta.lunch:=soup",
            "--pax-option=SCHILY.xattr.user.other:=ignored",
        ],
    );
    let (status, xml) = extract(&app, &alice, "fresh", "tar", "application/xml", pax).await;
    assert_eq!(status, 200);
    assert!(
        xml.contains("<response_status>201 Created</response_status>"),
        "{xml}"
    );
    assert!(xml.contains("<number_files_created>1</number_files_created>"));
    let tagged = object(&app, &alice, "fresh/photos/a.txt").await;
    assert_eq!(tagged.headers()["content-type"], "image/x-test");
    assert_eq!(tagged.headers()["x-object-meta-lunch"], "soup");
    assert!(!tagged.headers().contains_key("x-object-meta-other"));
}

#[tokio::test]
async fn each_file_is_authorized_and_quota_checked_and_broken_archives_store_nothing() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let bob = app.login_new_user("bob").await;
    let put = alice
        .request(&app.client, "PUT", "c")
        .header("X-Container-Meta-Quota-Bytes", "10");
    assert_eq!(put.send().await.unwrap().status(), 201);

    // Within the quota one file fits, the other is refused and listed.
    let files: [(&str, &[u8]); 2] = [("c/small", b"12345"), ("c/large", b"0123456789abcdef")];
    let summary = extract_json(&app, &alice, "", "tar", archive(&files, &[])).await;
    assert_eq!(summary["Number Files Created"], 1);
    assert_eq!(summary["Response Status"], "400 Bad Request");
    assert_eq!(
        summary["Errors"],
        json!([["c/large", "413 Request Entity Too Large"]])
    );
    let missing = alice
        .request(&app.client, "GET", "c/large")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Bob may not write alice's account: the extraction ends with 403s
    // listed, and without a token with 401.
    let bobs_try = Session {
        token: bob.token.clone(),
        storage_url: alice.storage_url.clone(),
    };
    let summary = extract_json(&app, &bobs_try, "", "tar", archive(&files[..1], &[])).await;
    assert_eq!(summary["Number Files Created"], 0);
    // The container is listed too, as its creation was refused first.
    assert_eq!(
        summary["Errors"],
        json!([
            ["/v1/AUTH_alice/c", "403 Forbidden"],
            ["c/small", "403 Forbidden"]
        ])
    );
    let anonymous = app
        .client
        .put(format!("{}?extract-archive=tar", alice.storage_url))
        .header("Accept", "application/json")
        .body(archive(&files[..1], &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    let summary: Value = serde_json::from_str(anonymous.text().await.unwrap().trim()).unwrap();
    assert_eq!(summary["Response Status"], "401 Unauthorized");

    // Not an archive; an unknown format; nothing to extract.
    let summary = extract_json(&app, &alice, "c", "tar.gz", b"not gzip at all".to_vec()).await;
    assert_eq!(summary["Response Status"], "400 Bad Request");
    assert!(
        summary["Response Body"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Tar File: "),
        "{summary}"
    );
    let (status, _) = extract(&app, &alice, "c", "zip", "*/*", Vec::new()).await;
    assert_eq!(status, 400);
    let summary = extract_json(&app, &alice, "", "tar", archive(&[("top", b"x")], &[])).await;
    assert_eq!(summary["Response Body"], "Invalid Tar File: No Valid Files");
    assert_eq!(summary["Response Status"], "400 Bad Request");
}

#[tokio::test]
async fn an_archive_cannot_replace_a_chunk_a_file_needs() {
    let app = spawn_app().await;
    let synced = synced_file(&app).await;
    let chunk = synced.chunk_path(0);
    let files: [(&str, &[u8]); 2] = [(&chunk, b"not the chunk"), ("other/x", b"fine")];
    let summary = extract_json(&app, &synced.swift, "", "tar", archive(&files, &[])).await;
    assert_eq!(summary["Number Files Created"], 1);
    assert_eq!(summary["Errors"], json!([[chunk, "409 Conflict"]]));
    assert_eq!(synced.download(&app).await, synced.data);
}

#[tokio::test]
async fn info_lists_bulk_upload_and_the_slo_heartbeat() {
    let app = spawn_app().await;
    let info: Value = app
        .client
        .get(format!("{}/info", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["bulk_upload"],
        json!({"max_containers_per_extraction": 10000, "max_failed_extractions": 1000})
    );
    assert_eq!(info["slo"]["yield_frequency"], 10);
}
