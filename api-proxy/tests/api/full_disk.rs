//! A full object store, for real: the proxy's `fs` store on a small tmpfs
//! that a filler file fills up. An upload that does not fit answers `507
//! Insufficient Storage` (Swift) or the JSON error with 507 (REST), stores
//! and records nothing, keeps the object an overwrite would have replaced,
//! and the same request succeeds once the filler is deleted, with no
//! restart.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::{TestApp, files_under, noise, spawn_app_with};
use crate::oauth::{grant, root_listing};
use crate::rest::{names, try_upload};
use crate::small_disk::SmallDisk;

/// Size of the store's file system.
const DISK_BYTES: u64 = 16 << 20;
/// Size of the bodies uploaded: more than is left once the disk is filled.
const BODY_BYTES: usize = 3 << 20;
/// What the filler leaves free.
const LEFT_FREE: u64 = 1 << 20;

/// A proxy whose blob store is `objects` on `disk`.
async fn app_on(disk: &SmallDisk) -> (TestApp, PathBuf) {
    let objects = disk.path().join("objects");
    std::fs::create_dir(&objects).unwrap();
    let root = objects.display().to_string();
    let app = spawn_app_with(|settings| {
        settings.storage.options.insert("root".into(), root);
    })
    .await;
    (app, objects)
}

/// The blob files of the store, and whether any upload left a partial one.
fn blobs_and_partials(objects: &std::path::Path) -> (usize, Vec<String>) {
    let files = files_under(objects);
    let (partial, blobs): (Vec<String>, Vec<String>) =
        files.into_iter().partition(|f| f.starts_with("tmp/"));
    (blobs.len(), partial)
}

#[tokio::test]
async fn swift_uploads_to_a_full_store_answer_507_and_keep_every_stored_object() {
    let Some(disk) = SmallDisk::mount(DISK_BYTES) else {
        return;
    };
    let (app, objects) = app_on(&disk).await;
    let session = app.login_new_user("alice").await;
    let client = &app.client;
    let put = |path: &'static str, body: Vec<u8>| session.request(client, "PUT", path).body(body);
    assert_eq!(
        put("photos", Vec::new()).send().await.unwrap().status(),
        201
    );
    let original = noise(BODY_BYTES, 1);
    let stored = put("photos/cat.jpg", original.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 201);

    disk.fill_leaving(LEFT_FREE);
    let replacement = noise(BODY_BYTES, 2);
    let fresh = noise(BODY_BYTES, 3);
    for (path, body) in [
        ("photos/cat.jpg", replacement.clone()),
        ("photos/dog.jpg", fresh.clone()),
    ] {
        let refused = put(path, body).send().await.unwrap();
        assert_eq!(refused.status(), 507, "{path}");
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("Insufficient Storage") && page.contains("try again once space is freed"),
            "{page}"
        );
    }

    // The overwritten object is intact, the new one was never recorded, and
    // no partial upload stayed behind.
    let kept = session.request(client, "GET", "photos/cat.jpg");
    let kept = kept.send().await.unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.bytes().await.unwrap(), original);
    let missing = session.request(client, "HEAD", "photos/dog.jpg");
    assert_eq!(missing.send().await.unwrap().status(), 404);
    let listing = session.request(client, "GET", "photos?format=json");
    let listing: Value = listing.send().await.unwrap().json().await.unwrap();
    let listed: Vec<(&str, u64)> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, [("cat.jpg", BODY_BYTES as u64)]);
    assert_eq!(blobs_and_partials(&objects), (1, vec![]));

    // Space freed: the same requests succeed, no restart needed.
    disk.free();
    for (path, body) in [
        ("photos/cat.jpg", replacement.clone()),
        ("photos/dog.jpg", fresh.clone()),
    ] {
        assert_eq!(
            put(path, body).send().await.unwrap().status(),
            201,
            "{path}"
        );
    }
    for (path, body) in [("photos/cat.jpg", replacement), ("photos/dog.jpg", fresh)] {
        let got = session.request(client, "GET", path).send().await.unwrap();
        assert_eq!(got.bytes().await.unwrap(), body, "{path}");
    }
    // The replaced blob went with its object.
    assert_eq!(blobs_and_partials(&objects), (2, vec![]));
}

#[tokio::test]
async fn rest_uploads_to_a_full_store_answer_507_and_commit_nothing() {
    let Some(disk) = SmallDisk::mount(DISK_BYTES) else {
        return;
    };
    let (app, objects) = app_on(&disk).await;
    app.add_user("alice", None, true).await;
    let alice = grant(&app, "alice").await;

    disk.fill();
    let content = noise(BODY_BYTES, 4);
    let (status, error) = try_upload(&app, &alice, "report.pdf", "0", content.clone()).await;
    assert_eq!(status, 507, "{error}");
    assert_eq!(error["error"], 507);
    assert_eq!(error["code"], "insufficient_storage");
    let description = error["description"].as_str().unwrap();
    assert!(
        description.contains("out of space") && description.contains("nothing was changed"),
        "{description}"
    );
    assert!(names(&root_listing(&app, &alice).await).is_empty());
    assert!(blobs_and_partials(&objects).1.is_empty());

    disk.free();
    let (status, file) = try_upload(&app, &alice, "report.pdf", "0", content).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(names(&root_listing(&app, &alice).await), ["report.pdf"]);
}
