//! Small objects keep their bytes in the index row, larger ones in the blob
//! store; clients cannot tell the difference, whatever they do with them.

use md5::{Digest, Md5};

use crate::helpers::{Session, TestApp, files_under, spawn_app};

/// Files in the blob store.
fn blob_files(app: &TestApp) -> usize {
    files_under(app.objects_dir.path()).len()
}

async fn put(app: &TestApp, alice: &Session, path: &str, body: Vec<u8>) {
    let response = alice
        .request(&app.client, "PUT", path)
        // Sent even for an empty body, which Swift requires.
        .header("Content-Length", body.len())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "PUT {path}");
}

async fn get(app: &TestApp, alice: &Session, path: &str, range: Option<&str>) -> Vec<u8> {
    let mut request = alice.request(&app.client, "GET", path);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.bytes().await.unwrap().to_vec()
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[tokio::test]
async fn objects_up_to_the_limit_stay_out_of_the_blob_store_and_read_the_same() {
    let app = spawn_app().await;
    let limit = app.settings.inline_object_max_bytes as usize;
    assert!(limit > 0, "the default keeps small objects inline");
    let alice = app.login_new_user("alice").await;
    put(&app, &alice, "c", Vec::new()).await;

    let small = bytes(limit, 1);
    let large = bytes(limit + 1, 2);
    put(&app, &alice, "c/small", small.clone()).await;
    assert_eq!(blob_files(&app), 0);
    put(&app, &alice, "c/large", large.clone()).await;
    assert_eq!(blob_files(&app), 1);
    put(&app, &alice, "c/empty", Vec::new()).await;
    assert_eq!(blob_files(&app), 1);

    assert_eq!(get(&app, &alice, "c/small", None).await, small);
    assert_eq!(get(&app, &alice, "c/large", None).await, large);
    assert_eq!(get(&app, &alice, "c/empty", None).await, b"");
    assert_eq!(
        get(&app, &alice, "c/small", Some("bytes=10-19")).await,
        small[10..20]
    );
    let head = alice
        .request(&app.client, "HEAD", "c/small")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-length"], limit.to_string());
    assert_eq!(head.headers()["etag"], hex::encode(Md5::digest(&small)));

    // Overwrites move a name between the two places, leaving no blob behind.
    put(&app, &alice, "c/small", large.clone()).await;
    assert_eq!(blob_files(&app), 2);
    put(&app, &alice, "c/large", small.clone()).await;
    assert_eq!(blob_files(&app), 1);
    assert_eq!(get(&app, &alice, "c/small", None).await, large);
    assert_eq!(get(&app, &alice, "c/large", None).await, small);

    // A server-side copy of an inline object.
    let copied = alice
        .request(&app.client, "PUT", "c/copy")
        .header("X-Copy-From", "c/large")
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), 201);
    assert_eq!(get(&app, &alice, "c/copy", None).await, small);

    for name in ["c/small", "c/large", "c/copy", "c/empty"] {
        let deleted = alice
            .request(&app.client, "DELETE", name)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
    assert_eq!(blob_files(&app), 0);
    assert_eq!(app.stored_bodies().await, 0);
}

#[tokio::test]
async fn large_objects_join_inline_and_blob_segments() {
    let app = spawn_app().await;
    let limit = app.settings.inline_object_max_bytes as usize;
    let alice = app.login_new_user("alice").await;
    put(&app, &alice, "segments", Vec::new()).await;
    put(&app, &alice, "c", Vec::new()).await;
    let parts = [bytes(100, 3), bytes(limit + 7, 4), bytes(5, 5)];
    for (i, part) in parts.iter().enumerate() {
        put(&app, &alice, &format!("segments/part/{i}"), part.clone()).await;
    }
    let whole = parts.concat();

    // Dynamic: the listing leaves inline bytes out; they are loaded to serve.
    let manifest = alice
        .request(&app.client, "PUT", "c/dynamic")
        .header("X-Object-Manifest", "segments/part/")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 201);
    assert_eq!(get(&app, &alice, "c/dynamic", None).await, whole);
    let tail = format!("bytes={}-", whole.len() - 10);
    assert_eq!(
        get(&app, &alice, "c/dynamic", Some(&tail)).await,
        whole[whole.len() - 10..]
    );

    // Static: the manifest itself is small, so it is inline too.
    let segments: Vec<serde_json::Value> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            serde_json::json!({
                "path": format!("/segments/part/{i}"),
                "etag": hex::encode(Md5::digest(part)),
                "size_bytes": part.len(),
            })
        })
        .collect();
    let files = blob_files(&app);
    let stored = alice
        .request(&app.client, "PUT", "c/static?multipart-manifest=put")
        .json(&segments)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 201);
    assert_eq!(blob_files(&app), files);
    assert_eq!(get(&app, &alice, "c/static", None).await, whole);
    let as_manifest = get(&app, &alice, "c/static?multipart-manifest=get", None).await;
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&as_manifest).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1]["bytes"], limit + 7);

    let deleted = alice
        .request(&app.client, "DELETE", "c/static?multipart-manifest=delete")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(blob_files(&app), 0);
}
