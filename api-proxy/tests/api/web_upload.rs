//! The web UI's resumable uploads (`/uploads`), without a browser: a big
//! file sent in pieces, one of them cut mid-way, continued through a second
//! proxy on the same database and store (a restart), finished, and
//! downloaded byte for byte; name clashes settled each way; sessions
//! refused to other users and without the CSRF token; expiry, after which
//! collection takes the session's chunk objects.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{ItemState, LocatedItem, Operation};
use nimbus_proxy::startup::Application;
use reqwest::Response;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::browser::Browser;
use crate::collection::Collector;
use crate::helpers::{
    Device, TestApp, device, live_items, noise, raw_connect, raw_head, spawn_app, spawn_app_with,
};

const MIB: usize = 1024 * 1024;

/// A signed-in browser of `user` and the CSRF token of its session.
async fn signed_in(app: &TestApp, user: &str) -> (Browser, String) {
    let mut browser = Browser::new(app);
    let csrf = browser.sign_in(user).await;
    (browser, csrf)
}

async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn create(browser: &mut Browser, csrf: &str, body: Value) -> (u16, Value) {
    let request = browser
        .client
        .post(format!("{}/uploads", browser.address))
        .header("x-csrf-token", csrf)
        .json(&body);
    json_of(browser.send(request).await).await
}

fn new_file(laptop: &Device, path: &str, size: usize) -> Value {
    json!({
        "workspace": laptop.workspace.workspace_id,
        "parent": "",
        "path": path,
        "size": size,
        "modified": 1_700_000_000_000i64,
    })
}

async fn put(
    browser: &mut Browser,
    csrf: &str,
    id: &str,
    offset: usize,
    bytes: &[u8],
) -> (u16, Value) {
    let request = browser
        .client
        .put(format!("{}/uploads/{id}?offset={offset}", browser.address))
        .header("x-csrf-token", csrf)
        .body(bytes.to_vec());
    json_of(browser.send(request).await).await
}

async fn status(browser: &mut Browser, id: &str) -> (u16, Value) {
    json_of(browser.get(&format!("/uploads/{id}")).await).await
}

async fn finish(browser: &mut Browser, csrf: &str, id: &str, on_clash: &str) -> (u16, Value) {
    let request = browser
        .client
        .post(format!("{}/uploads/{id}/finish", browser.address))
        .header("x-csrf-token", csrf)
        .json(&json!({ "on_clash": on_clash }));
    json_of(browser.send(request).await).await
}

/// Sends all of `data` from the session's offset in `piece`-byte requests.
async fn send_rest(browser: &mut Browser, csrf: &str, id: &str, data: &[u8], piece: usize) {
    let (code, body) = status(browser, id).await;
    assert_eq!(code, 200, "{body}");
    let mut offset = body["offset"].as_u64().unwrap() as usize;
    while offset < data.len() {
        let end = (offset + piece).min(data.len());
        let (code, body) = put(browser, csrf, id, offset, &data[offset..end]).await;
        assert_eq!(code, 200, "{body}");
        offset = body["offset"].as_u64().unwrap() as usize;
        assert_eq!(offset, end, "every byte of a clean request is kept");
    }
}

/// A whole upload: create, send, finish with `on_clash`.
async fn upload(
    browser: &mut Browser,
    csrf: &str,
    laptop: &Device,
    path: &str,
    data: &[u8],
    on_clash: &str,
) -> (u16, Value) {
    let (code, session) = create(browser, csrf, new_file(laptop, path, data.len())).await;
    assert_eq!(code, 201, "{session}");
    let id = session["id"].as_str().unwrap().to_owned();
    send_rest(browser, csrf, &id, data, 4 * MIB).await;
    finish(browser, csrf, &id, on_clash).await
}

async fn download(browser: &mut Browser, laptop: &Device, item: &str) -> Vec<u8> {
    let workspace = laptop.workspace.workspace_id;
    let response = browser
        .get(&format!("/files/{workspace}/{item}/download"))
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

async fn item(laptop: &Device, id: &str) -> ItemState {
    let located: LocatedItem = laptop
        .rpc
        .call(
            Some(&laptop.token),
            Operation::GetItem {
                item_id: id.parse().unwrap(),
            },
        )
        .await
        .unwrap();
    located.item
}

#[tokio::test]
async fn a_big_upload_survives_a_cut_connection_and_a_proxy_restart_byte_for_byte() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;
    let data = noise(40 * MIB + 12_345, 11);

    let (code, session) = create(
        &mut browser,
        &csrf,
        new_file(&laptop, "big/inner/data.bin", data.len()),
    )
    .await;
    assert_eq!(code, 201, "{session}");
    assert_eq!(session["offset"], 0);
    assert_eq!(session["exists"], false);
    let id = session["id"].as_str().unwrap().to_owned();
    let (code, body) = put(&mut browser, &csrf, &id, 0, &data[..8 * MIB]).await;
    assert_eq!((code, body["offset"].as_u64()), (200, Some(8 * MIB as u64)));

    // Bytes at another offset than the session's are refused, with the offset.
    let (code, body) = put(&mut browser, &csrf, &id, 4 * MIB, &data[4 * MIB..5 * MIB]).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("offset_mismatch")),
        "{body}"
    );
    assert_eq!(body["offset"].as_u64(), Some(8 * MIB as u64));

    // A request announcing 12 MiB whose connection dies after 9 MiB.
    let request = browser
        .client
        .put(format!("{}/uploads/{id}?offset={}", app.address, 8 * MIB))
        .header("x-csrf-token", &csrf)
        .header("cookie", browser.cookie_header())
        .build()
        .unwrap();
    let mut stream = raw_connect(&app).await;
    stream
        .write_all(&raw_head(&request, 12 * MIB))
        .await
        .unwrap();
    stream.write_all(&data[8 * MIB..17 * MIB]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    // The proxy keeps what it chunked and stored before the cut, and at most
    // the bytes it received.
    let mut offset = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        offset = status(&mut browser, &id).await.1["offset"]
            .as_u64()
            .unwrap() as usize;
        if offset > 8 * MIB {
            break;
        }
    }
    assert!(
        (8 * MIB..=17 * MIB).contains(&offset),
        "after the cut the session continues at {offset}"
    );

    // The same session through a second proxy on the same database and
    // store: it has none of the first one's memory.
    let mut settings = app.settings.clone();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let second = Application::build(settings).await.unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    browser.address = second_address;
    assert_eq!(
        status(&mut browser, &id).await.1["offset"].as_u64(),
        Some(offset as u64)
    );
    // Finishing early is refused: the bytes are not all there.
    let (code, body) = finish(&mut browser, &csrf, &id, "ask").await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("offset_mismatch")),
        "{body}"
    );
    send_rest(&mut browser, &csrf, &id, &data, 8 * MIB).await;
    let (code, done) = finish(&mut browser, &csrf, &id, "ask").await;
    assert_eq!(code, 201, "{done}");
    assert_eq!(done["name"], "data.bin");
    let item_id = done["item"].as_str().unwrap().to_owned();
    // Finishing again (its answer lost) answers the same and commits nothing.
    assert_eq!(
        finish(&mut browser, &csrf, &id, "ask").await,
        (201, done.clone())
    );

    assert_eq!(download(&mut browser, &laptop, &item_id).await, data);
    let committed = item(&laptop, &item_id).await;
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    assert_eq!(committed.version, 1);
    assert_eq!(committed.modified_at, 1_700_000_000_000);
    assert_eq!(
        committed.content.content_hash.as_deref(),
        Some(nimbus_chunks::content_hash(&keys, &data).as_str())
    );
    // Cut as the desktop client cuts the whole file: the same chunks.
    let mut expected = Vec::new();
    for chunk in
        nimbus_chunks::Chunker::new(&data[..], &keys, nimbus_chunks::ChunkerParams::DEFAULT)
    {
        expected.push(chunk.unwrap().id);
    }
    let chunk_ids: Vec<String> = committed
        .content
        .chunks
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(chunk_ids, expected);
    // The folders of its path were made, in the same commit.
    let inner = item(&laptop, &committed.parent_id.unwrap().to_string()).await;
    let big = item(&laptop, &inner.parent_id.unwrap().to_string()).await;
    assert_eq!(
        (inner.name.as_str(), big.name.as_str(), big.parent_id),
        ("inner", "big", None)
    );
    assert_eq!(inner.revision, committed.revision);
}

#[tokio::test]
async fn picking_the_same_file_again_resumes_its_session() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;
    let data = noise(3 * MIB, 5);
    let (_, first) = create(
        &mut browser,
        &csrf,
        new_file(&laptop, "resume.bin", data.len()),
    )
    .await;
    let id = first["id"].as_str().unwrap();
    put(&mut browser, &csrf, id, 0, &data[..2 * MIB]).await;
    // A reload: the page knows nothing, the user picks the file again.
    let (code, again) = create(
        &mut browser,
        &csrf,
        new_file(&laptop, "resume.bin", data.len()),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["offset"].as_u64(), Some(2 * MIB as u64));
    // A file of another size or date is another upload.
    let mut changed = new_file(&laptop, "resume.bin", data.len());
    changed["modified"] = json!(1_700_000_000_001i64);
    assert_ne!(
        create(&mut browser, &csrf, changed).await.1["id"],
        first["id"]
    );
}

#[tokio::test]
async fn name_clashes_are_settled_as_the_user_chooses() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;
    let (code, first) = upload(&mut browser, &csrf, &laptop, "notes.txt", b"first", "ask").await;
    assert_eq!(code, 201, "{first}");
    let first_id = first["item"].as_str().unwrap().to_owned();

    // Asking: the session says so at once, and finishing is refused.
    let (_, session) = create(&mut browser, &csrf, new_file(&laptop, "notes.txt", 6)).await;
    assert_eq!(
        (
            session["exists"].as_bool(),
            session["exists_as_folder"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let id = session["id"].as_str().unwrap().to_owned();
    send_rest(&mut browser, &csrf, &id, b"second", MIB).await;
    let (code, body) = finish(&mut browser, &csrf, &id, "ask").await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("name_taken")),
        "{body}"
    );
    assert_eq!(download(&mut browser, &laptop, &first_id).await, b"first");

    // Replace: a new version of the same file.
    let (code, replaced) = finish(&mut browser, &csrf, &id, "replace").await;
    assert_eq!(code, 201, "{replaced}");
    assert_eq!(replaced["item"].as_str(), Some(first_id.as_str()));
    assert_eq!(item(&laptop, &first_id).await.version, 2);
    assert_eq!(download(&mut browser, &laptop, &first_id).await, b"second");

    // Keep both: a numbered copy beside it.
    let (code, kept) = upload(
        &mut browser,
        &csrf,
        &laptop,
        "notes.txt",
        b"third",
        "keep-both",
    )
    .await;
    assert_eq!(code, 201, "{kept}");
    assert_eq!(kept["name"], "notes (2).txt");
    let kept_id = kept["item"].as_str().unwrap().to_owned();
    assert_eq!(download(&mut browser, &laptop, &kept_id).await, b"third");

    // Skip: nothing changes, the session ends.
    let (_, session) = create(&mut browser, &csrf, new_file(&laptop, "notes.txt", 6)).await;
    let id = session["id"].as_str().unwrap().to_owned();
    send_rest(&mut browser, &csrf, &id, b"fourth", MIB).await;
    assert_eq!(
        finish(&mut browser, &csrf, &id, "skip").await,
        (200, json!({ "skipped": true }))
    );
    assert_eq!(status(&mut browser, &id).await.0, 404);
    assert_eq!(download(&mut browser, &laptop, &first_id).await, b"second");
    assert_eq!(item(&laptop, &first_id).await.version, 2);

    // A folder cannot be replaced by a file.
    upload(&mut browser, &csrf, &laptop, "docs/a.txt", b"a", "ask").await;
    let (code, body) = upload(&mut browser, &csrf, &laptop, "docs", b"file", "replace").await;
    assert_eq!(code, 409, "{body}");
}

#[tokio::test]
async fn sessions_are_their_makers_and_changes_need_the_csrf_token() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let laptop = device(&app, "alice").await;
    let bobs = device(&app, "bob").await;
    let (mut alice, alices_csrf) = signed_in(&app, "alice").await;
    let (mut bob, bobs_csrf) = signed_in(&app, "bob").await;
    let (_, session) = create(&mut alice, &alices_csrf, new_file(&laptop, "mine.txt", 4)).await;
    let id = session["id"].as_str().unwrap().to_owned();

    // Bob, signed in with his own token, finds nothing under Alice's id.
    assert_eq!(status(&mut bob, &id).await.0, 404);
    assert_eq!(put(&mut bob, &bobs_csrf, &id, 0, b"evil").await.0, 404);
    assert_eq!(finish(&mut bob, &bobs_csrf, &id, "replace").await.0, 404);
    let cancel = bob
        .client
        .delete(format!("{}/uploads/{id}", bob.address))
        .header("x-csrf-token", &bobs_csrf);
    assert_eq!(bob.send(cancel).await.status(), 404);
    // Nor may he upload into her workspace.
    let (code, _) = create(&mut bob, &bobs_csrf, new_file(&laptop, "x.txt", 1)).await;
    assert_eq!(code, 404);
    assert_eq!(status(&mut alice, &id).await.1["offset"], 0);

    // Alice without the token, or with Bob's: refused, nothing kept.
    assert_eq!(put(&mut alice, "", &id, 0, b"data").await.0, 403);
    assert_eq!(put(&mut alice, &bobs_csrf, &id, 0, b"data").await.0, 403);
    assert_eq!(finish(&mut alice, "wrong", &id, "ask").await.0, 403);
    assert_eq!(
        create(&mut alice, "", new_file(&laptop, "y.txt", 1))
            .await
            .0,
        403
    );
    assert_eq!(status(&mut alice, &id).await.1["offset"], 0);
    // Without a session: 401, for the script to send the user to sign in.
    let anonymous = app
        .client
        .get(format!("{}/uploads/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Bob's own upload into his own workspace works meanwhile.
    assert_eq!(
        upload(&mut bob, &bobs_csrf, &bobs, "his.txt", b"his", "ask")
            .await
            .0,
        201
    );

    // Cancelling ends the session.
    let cancel = alice
        .client
        .delete(format!("{}/uploads/{id}", alice.address))
        .header("x-csrf-token", &alices_csrf);
    assert_eq!(alice.send(cancel).await.status(), 204);
    assert_eq!(status(&mut alice, &id).await.0, 404);
}

#[tokio::test]
async fn unfinished_sessions_expire_and_are_deleted_with_their_bytes() {
    let app = spawn_app_with(|settings| settings.upload_session_ttl_secs = 2).await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;
    let data = noise(2 * MIB, 3);
    let (_, session) = create(
        &mut browser,
        &csrf,
        new_file(&laptop, "left.bin", data.len() + 1),
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(put(&mut browser, &csrf, &id, 0, &data).await.0, 200);
    let database = sqlx::PgPool::connect(&app.settings.database_url)
        .await
        .unwrap();
    let stored = |database: sqlx::PgPool| async move {
        let rows: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM upload_sessions), (SELECT count(*) FROM upload_session_chunks)",
        )
        .fetch_one(&database)
        .await
        .unwrap();
        rows
    };
    let (sessions, chunks) = stored(database.clone()).await;
    assert_eq!(sessions, 1);
    assert!(chunks > 0, "a 2 MiB piece is chunked as it arrives");
    // Its chunk objects are no version's, but a live session's: kept.
    let collector = Collector::of(&app).await;
    assert_eq!(collector.pass(Duration::ZERO).await.chunks, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Refused as soon as it expires, deleted by the next sweep.
    assert_eq!(status(&mut browser, &id).await.0, 404);
    assert_eq!(put(&mut browser, &csrf, &id, data.len(), b"x").await.0, 404);
    let mut left = (sessions, chunks);
    for _ in 0..50 {
        left = stored(database.clone()).await;
        if left == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, (0, 0));
    // Expired, its chunk objects are collected.
    let collected = collector.pass(Duration::ZERO).await;
    assert_eq!(collected.chunks, chunks as u64);
}

#[tokio::test]
async fn files_of_one_new_folder_finishing_side_by_side_all_land_in_it() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut first, first_csrf) = signed_in(&app, "alice").await;
    let (mut second, second_csrf) = signed_in(&app, "alice").await;
    let mut sessions = Vec::new();
    for (name, data) in [("picked/a.txt", b"file a"), ("picked/b.txt", b"file b")] {
        let (code, session) = create(&mut first, &first_csrf, new_file(&laptop, name, 6)).await;
        assert_eq!(code, 201, "{session}");
        let id = session["id"].as_str().unwrap().to_owned();
        send_rest(&mut first, &first_csrf, &id, data, MIB).await;
        sessions.push(id);
    }

    // Both commits create "picked": the one that loses finds it made.
    let ((code_a, a), (code_b, b)) = tokio::join!(
        finish(&mut first, &first_csrf, &sessions[0], "ask"),
        finish(&mut second, &second_csrf, &sessions[1], "ask"),
    );
    assert_eq!((code_a, code_b), (201, 201), "{a} {b}");
    let a = item(&laptop, a["item"].as_str().unwrap()).await;
    let b = item(&laptop, b["item"].as_str().unwrap()).await;
    assert_eq!(a.parent_id, b.parent_id, "one folder holds both");
    assert_eq!(
        download(&mut first, &laptop, &a.id.to_string()).await,
        b"file a"
    );
    assert_eq!(
        download(&mut first, &laptop, &b.id.to_string()).await,
        b"file b"
    );
}

/// A batch's body: the manifest line, then the files' bytes back to back.
fn batch_body(laptop: &Device, files: &[(&str, &[u8], &str)]) -> Vec<u8> {
    batch_with_folders(laptop, files, &[])
}

/// A batch's body that also makes the empty `folders`.
fn batch_with_folders(laptop: &Device, files: &[(&str, &[u8], &str)], folders: &[&str]) -> Vec<u8> {
    let manifest = json!({
        "workspace": laptop.workspace.workspace_id,
        "parent": "",
        "files": files.iter().map(|(path, data, on_clash)| json!({
            "path": path,
            "size": data.len(),
            "modified": 1_700_000_000_000i64,
            "on_clash": on_clash,
        })).collect::<Vec<_>>(),
        "folders": folders,
    });
    let mut body = serde_json::to_vec(&manifest).unwrap();
    body.push(b'\n');
    for (_, data, _) in files {
        body.extend_from_slice(data);
    }
    body
}

async fn send_batch(browser: &mut Browser, csrf: &str, body: Vec<u8>) -> (u16, Value) {
    let request = browser
        .client
        .post(format!("{}/uploads/batch", browser.address))
        .header("x-csrf-token", csrf)
        .body(body);
    json_of(browser.send(request).await).await
}

async fn clashes(browser: &mut Browser, csrf: &str, laptop: &Device, paths: &[&str]) -> Value {
    let request = browser
        .client
        .post(format!("{}/uploads/clashes", browser.address))
        .header("x-csrf-token", csrf)
        .json(&json!({ "workspace": laptop.workspace.workspace_id, "paths": paths }));
    let (code, body) = json_of(browser.send(request).await).await;
    assert_eq!(code, 200, "{body}");
    body["clashes"].clone()
}

/// The committed item of a batch's answer for `path`.
fn outcome<'a>(answer: &'a Value, path: &str) -> &'a Value {
    answer["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["path"] == path)
        .unwrap_or_else(|| panic!("{path} is in the answer {answer}"))
}

#[tokio::test]
async fn batch_of_small_files_is_one_request_and_one_commit() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;
    // 200 files in nested new folders, one of several chunks, one empty.
    let big = noise(MIB, 5);
    let small: Vec<(String, Vec<u8>)> = (0..198)
        .map(|n| {
            (
                format!("photos/day {}/{n}.txt", n % 3),
                format!("file {n}").into_bytes(),
            )
        })
        .collect();
    let mut files: Vec<(&str, &[u8], &str)> = small
        .iter()
        .map(|(path, data)| (path.as_str(), data.as_slice(), "ask"))
        .collect();
    files.push(("photos/big.bin", &big, "ask"));
    files.push(("empty", b"", "ask"));
    let (code, answer) = send_batch(&mut browser, &csrf, batch_body(&laptop, &files)).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["files"].as_array().unwrap().len(), 200);

    let big_item = outcome(&answer, "photos/big.bin")["item"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(download(&mut browser, &laptop, &big_item).await, big);
    let committed = item(&laptop, &big_item).await;
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let expected: Vec<String> =
        nimbus_chunks::Chunker::new(&big[..], &keys, nimbus_chunks::ChunkerParams::DEFAULT)
            .map(|chunk| chunk.unwrap().id)
            .collect();
    assert!(expected.len() > 1);
    let chunk_ids: Vec<String> = committed
        .content
        .chunks
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(chunk_ids, expected, "cut as a desktop client cuts it");
    assert_eq!(
        committed.content.content_hash.as_deref(),
        Some(nimbus_chunks::content_hash(&keys, &big).as_str())
    );
    assert_eq!(committed.modified_at, 1_700_000_000_000);
    // Every file and folder in one commit: one revision, folders made once.
    for (path, data) in small.iter().step_by(37) {
        let id = outcome(&answer, path)["item"].as_str().unwrap().to_owned();
        assert_eq!(download(&mut browser, &laptop, &id).await, *data);
        let file = item(&laptop, &id).await;
        assert_eq!(file.revision, committed.revision, "{path}");
        let day = item(&laptop, &file.parent_id.unwrap().to_string()).await;
        assert_eq!(day.parent_id, committed.parent_id, "one photos folder");
    }
    let empty = outcome(&answer, "empty")["item"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(download(&mut browser, &laptop, &empty).await.is_empty());

    // Asked before any byte is sent: which names are taken, and by what.
    assert_eq!(
        clashes(
            &mut browser,
            &csrf,
            &laptop,
            &["photos/big.bin", "photos", "new.txt", "photos/day 9/x"]
        )
        .await,
        json!([
            { "path": "photos/big.bin", "is_folder": false },
            { "path": "photos", "is_folder": true },
        ])
    );

    // A taken name, asked: refused with the paths, nothing committed.
    let first = outcome(&answer, "photos/day 0/0.txt")["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, refused) = send_batch(
        &mut browser,
        &csrf,
        batch_body(
            &laptop,
            &[
                ("photos/day 0/0.txt", b"changed", "ask"),
                ("fresh.txt", b"new", "ask"),
            ],
        ),
    )
    .await;
    assert_eq!(
        (code, refused["error"].as_str()),
        (409, Some("name_taken")),
        "{refused}"
    );
    assert_eq!(
        refused["clashes"],
        json!([{ "path": "photos/day 0/0.txt", "is_folder": false }])
    );
    assert_eq!(
        clashes(&mut browser, &csrf, &laptop, &["fresh.txt"]).await,
        json!([])
    );

    // Each choice in one batch: replace, keep both, skip; the same bytes
    // again are left as they are (a batch sent twice commits nothing new).
    let (code, settled) = send_batch(
        &mut browser,
        &csrf,
        batch_body(
            &laptop,
            &[
                ("photos/day 0/0.txt", b"changed", "replace"),
                ("photos/day 1/1.txt", b"kept too", "keep-both"),
                ("photos/day 2/2.txt", b"skipped", "skip"),
                ("photos/big.bin", &big, "ask"),
            ],
        ),
    )
    .await;
    assert_eq!(code, 201, "{settled}");
    let replaced = outcome(&settled, "photos/day 0/0.txt");
    assert_eq!(replaced["item"].as_str(), Some(first.as_str()));
    assert_eq!(download(&mut browser, &laptop, &first).await, b"changed");
    assert_eq!(item(&laptop, &first).await.version, 2);
    let kept = outcome(&settled, "photos/day 1/1.txt");
    assert_eq!(kept["name"], "1 (2).txt");
    let kept = kept["item"].as_str().unwrap().to_owned();
    assert_eq!(download(&mut browser, &laptop, &kept).await, b"kept too");
    assert_eq!(
        outcome(&settled, "photos/day 2/2.txt")["outcome"],
        "skipped"
    );
    let skipped = outcome(&answer, "photos/day 2/2.txt")["item"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(download(&mut browser, &laptop, &skipped).await, b"file 2");
    let again = outcome(&settled, "photos/big.bin");
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(item(&laptop, &big_item).await.version, 1);
}

#[tokio::test]
async fn batches_are_bounded_checked_and_their_makers_alone() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut alice, csrf) = signed_in(&app, "alice").await;
    let (mut bob, bobs_csrf) = signed_in(&app, "bob").await;
    let one = batch_body(&laptop, &[("a.txt", b"a", "ask")]);

    // No CSRF token, or another session's: refused, nothing committed.
    assert_eq!(send_batch(&mut alice, "", one.clone()).await.0, 403);
    assert_eq!(send_batch(&mut alice, &bobs_csrf, one.clone()).await.0, 403);
    // Bob cannot upload into Alice's workspace, nor ask what is in it.
    assert_eq!(send_batch(&mut bob, &bobs_csrf, one.clone()).await.0, 404);
    let request = bob
        .client
        .post(format!("{}/uploads/clashes", bob.address))
        .header("x-csrf-token", &bobs_csrf)
        .json(&json!({ "workspace": laptop.workspace.workspace_id, "paths": ["a.txt"] }));
    assert_eq!(bob.send(request).await.status(), 404);
    assert_eq!(
        clashes(&mut alice, &csrf, &laptop, &["a.txt"]).await,
        json!([])
    );

    // Bodies that do not match their manifest, and batches over the limits.
    let mut short = one.clone();
    short.pop();
    let mut long = one.clone();
    long.push(b'!');
    let twice = batch_body(&laptop, &[("a.txt", b"a", "ask"), ("a.txt", b"a", "ask")]);
    let too_big = noise(MIB + 1, 3);
    let over = batch_body(&laptop, &[("big.bin", &too_big, "ask")]);
    let many: Vec<String> = (0..251).map(|n| format!("{n}")).collect();
    let many: Vec<(&str, &[u8], &str)> =
        many.iter().map(|p| (p.as_str(), &b""[..], "ask")).collect();
    let many = batch_body(&laptop, &many);
    for (what, body) in [
        ("short", short),
        ("long", long),
        ("twice", twice),
        ("over the file size", over),
        ("too many", many),
        ("no manifest", b"just bytes".to_vec()),
        (
            "a bad path",
            batch_body(&laptop, &[("../a.txt", b"a", "ask")]),
        ),
    ] {
        let (code, body) = send_batch(&mut alice, &csrf, body).await;
        assert_eq!(code, 400, "{what}: {body}");
    }
    assert_eq!(
        clashes(&mut alice, &csrf, &laptop, &["a.txt", "big.bin", "0"]).await,
        json!([])
    );
    assert_eq!(send_batch(&mut alice, &csrf, one).await.0, 201);
}

/// The paths of the workspace's live items, each with its revision, `/`
/// after a folder's name.
async fn live_paths(laptop: &Device) -> BTreeMap<String, u64> {
    let items = live_items(laptop).await;
    let by_id: HashMap<_, _> = items.iter().map(|item| (item.id, item)).collect();
    let path = |item: &ItemState| {
        let mut names = vec![item.name.clone()];
        let mut parent = item.parent_id;
        while let Some(above) = parent.and_then(|id| by_id.get(&id)) {
            names.push(above.name.clone());
            parent = above.parent_id;
        }
        names.reverse();
        names.join("/")
    };
    items
        .iter()
        .map(|item| {
            let slash = if item.is_folder { "/" } else { "" };
            (format!("{}{slash}", path(item)), item.revision)
        })
        .collect()
}

#[tokio::test]
async fn a_batch_makes_the_empty_folders_of_a_dropped_folder() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut browser, csrf) = signed_in(&app, "alice").await;

    // A file, an empty folder beside it and one in a folder of its own:
    // every folder made once, all in one commit.
    let body = batch_with_folders(
        &laptop,
        &[("dropped/a.txt", b"a", "ask")],
        &["dropped/empty", "dropped/outer/inner"],
    );
    let (code, answer) = send_batch(&mut browser, &csrf, body).await;
    assert_eq!(code, 201, "{answer}");
    let paths = live_paths(&laptop).await;
    let made = [
        "dropped/",
        "dropped/a.txt",
        "dropped/empty/",
        "dropped/outer/",
        "dropped/outer/inner/",
    ];
    assert_eq!(paths.keys().map(String::as_str).collect::<Vec<_>>(), made);
    let revision = paths["dropped/a.txt"];
    assert!(
        paths.values().all(|r| *r == revision),
        "one commit: {paths:?}"
    );

    // Folders alone, some there already: those stay as they are.
    let body = batch_with_folders(&laptop, &[], &["dropped/empty", "dropped/new"]);
    let (code, answer) = send_batch(&mut browser, &csrf, body).await;
    assert_eq!(code, 201, "{answer}");
    let again = live_paths(&laptop).await;
    assert_eq!(again.len(), made.len() + 1, "{again:?}");
    assert_eq!(again["dropped/empty/"], revision);
    assert!(again.contains_key("dropped/new/"));

    // A folder where a file is, a path that is not one, or too many.
    let many: Vec<String> = (0..251).map(|n| format!("f{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for (what, folders, status) in [
        ("through a file", vec!["dropped/a.txt/x"], 409),
        ("a bad path", vec!["../x"], 400),
        ("too many", many, 400),
    ] {
        let body = batch_with_folders(&laptop, &[], &folders);
        let (code, answer) = send_batch(&mut browser, &csrf, body).await;
        assert_eq!(code, status, "{what}: {answer}");
    }
    assert_eq!(live_paths(&laptop).await, again, "nothing refused was made");
}

#[tokio::test]
async fn two_finishes_of_one_session_racing_commit_it_once() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let (mut first, first_csrf) = signed_in(&app, "alice").await;
    let (mut second, second_csrf) = signed_in(&app, "alice").await;
    let (code, original) =
        upload(&mut first, &first_csrf, &laptop, "report.txt", b"v1", "ask").await;
    assert_eq!(code, 201, "{original}");
    let original = original["item"].as_str().unwrap().to_owned();

    // A finish whose answer was lost sent again, or the same session
    // finished from two tabs: both at once, each way a name clash can go
    // that commits something.
    for on_clash in ["replace", "keep-both"] {
        let data = format!("{on_clash} of report.txt").into_bytes();
        let (code, session) = create(
            &mut first,
            &first_csrf,
            new_file(&laptop, "report.txt", data.len()),
        )
        .await;
        assert_eq!(code, 201, "{session}");
        let id = session["id"].as_str().unwrap().to_owned();
        send_rest(&mut first, &first_csrf, &id, &data, MIB).await;
        let ((code_a, a), (code_b, b)) = tokio::join!(
            finish(&mut first, &first_csrf, &id, on_clash),
            finish(&mut second, &second_csrf, &id, on_clash),
        );
        assert_eq!((code_a, code_b), (201, 201), "{on_clash}: {a} {b}");
        assert_eq!(
            a, b,
            "{on_clash}: the later finish answers the first's result"
        );
        let committed = a["item"].as_str().unwrap().to_owned();
        assert_eq!(download(&mut first, &laptop, &committed).await, data);
    }
    // One new version of the file, one copy beside it: nothing twice.
    assert_eq!(item(&laptop, &original).await.version, 2);
    let paths = live_paths(&laptop).await;
    assert_eq!(
        paths.keys().map(String::as_str).collect::<Vec<_>>(),
        ["report (2).txt", "report.txt"]
    );
}
