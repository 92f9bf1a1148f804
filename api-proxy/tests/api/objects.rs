//! Object requests: uploads, downloads, ranges, conditions, copies, bulk
//! delete, large objects, and bad input.

use std::time::Duration;

use futures::stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::containers::md5_hex;
use crate::helpers::{Session, TestApp, spawn_app};

async fn app_with_container() -> (TestApp, Session) {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let created = alice.request(&app.client, "PUT", "c").send().await.unwrap();
    assert_eq!(created.status(), 201);
    (app, alice)
}

/// Sends a hand-written request (for what reqwest will not send) and
/// returns the status code.
async fn raw_request(app: &TestApp, head: &str, body: &[u8], close_early: bool) -> Option<u16> {
    let address = app.address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    if close_early {
        return None;
    }
    let mut response = Vec::new();
    socket.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split(' ').nth(1).and_then(|code| code.parse().ok())
}

#[tokio::test]
async fn put_get_head_round_trip_with_metadata() {
    let (app, alice) = app_with_container().await;
    let put = alice
        .request(&app.client, "PUT", "c/dir/hello.txt")
        .header("X-Object-Meta-Mtime", "1795313627.063955465")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.headers()["etag"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert!(put.headers().contains_key("last-modified"));

    let get = alice
        .request(&app.client, "GET", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let headers = get.headers().clone();
    assert_eq!(headers["etag"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["content-length"], "11");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["x-object-meta-mtime"], "1795313627.063955465");
    let timestamp = headers["x-timestamp"].to_str().unwrap();
    assert_eq!(timestamp.split('.').nth(1).unwrap().len(), 5, "{timestamp}");
    assert_eq!(get.text().await.unwrap(), "hello world");

    let head = alice
        .request(&app.client, "HEAD", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "11");
    assert_eq!(head.headers()["etag"], "5eb63bbbe01eeed093cb22bb8f5acdc3");

    // Overwriting keeps exactly one blob; deleting removes it.
    let files = app.stored_bodies().await;
    let put = alice
        .request(&app.client, "PUT", "c/dir/hello.txt")
        .body("bye")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(app.stored_bodies().await, files);
    let get = alice
        .request(&app.client, "GET", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(get.text().await.unwrap(), "bye");
    let deleted = alice
        .request(&app.client, "DELETE", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.stored_bodies().await, files - 1);
    let again = alice
        .request(&app.client, "DELETE", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let missing = alice
        .request(&app.client, "GET", "c/dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let no_container = alice
        .request(&app.client, "PUT", "nope/o")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(no_container.status(), 404);
}

#[tokio::test]
async fn chunked_uploads_and_etag_checks() {
    let (app, alice) = app_with_container().await;
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("chun"), Ok("ky")];
    let put = alice
        .request(&app.client, "PUT", "c/d.bin")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.headers()["etag"], "a6e87cbd2bad72958aef7f8cbb823be8");
    let get = alice
        .request(&app.client, "GET", "c/d.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(get.headers()["content-type"], "application/octet-stream");
    assert_eq!(get.text().await.unwrap(), "chunky");

    let files = app.stored_bodies().await;
    let mismatch = alice
        .request(&app.client, "PUT", "c/e.txt")
        .header("ETag", "00000000000000000000000000000000")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 422);
    assert_eq!(app.stored_bodies().await, files);
    let head = alice
        .request(&app.client, "HEAD", "c/e.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    let matching = alice
        .request(&app.client, "PUT", "c/e.txt")
        .header("ETag", "\"5d41402abc4b2a76b9719d911017c592\"")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(matching.status(), 201);
}

#[tokio::test]
async fn missing_length_and_interrupted_uploads_store_nothing() {
    let (app, alice) = app_with_container().await;
    let path = alice
        .storage_url
        .trim_start_matches(&app.address)
        .to_owned();
    let files = app.stored_bodies().await;

    let head = format!(
        "PUT {path}/c/no-length HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nConnection: close\r\n\r\n",
        alice.token
    );
    assert_eq!(raw_request(&app, &head, b"", false).await, Some(411));

    let head = format!(
        "PUT {path}/c/torn HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nContent-Length: 1000\r\n\r\n",
        alice.token
    );
    raw_request(&app, &head, &[7; 100], true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let torn = alice
        .request(&app.client, "HEAD", "c/torn")
        .send()
        .await
        .unwrap();
    assert_eq!(torn.status(), 404);
    assert_eq!(app.stored_bodies().await, files);

    let invalid_utf8 = format!(
        "PUT {path}/c/%FF HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
        alice.token
    );
    assert_eq!(
        raw_request(&app, &invalid_utf8, b"x", false).await,
        Some(412)
    );
    let long_name = alice
        .request(&app.client, "PUT", &format!("c/{}", "o".repeat(1025)))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(long_name.status(), 400);
    assert_eq!(
        long_name.text().await.unwrap(),
        "Object name length of 1025 longer than 1024"
    );
    let long_meta = alice
        .request(&app.client, "PUT", "c/meta")
        .header("X-Object-Meta-Big", "v".repeat(257))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(long_meta.status(), 400);
    // Sent raw: URL libraries would resolve the dot segments first.
    let get = |target: &str| {
        format!(
            "GET {path}/{target} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nConnection: close\r\n\r\n",
            alice.token
        )
    };
    assert_eq!(
        raw_request(&app, &get("c/../../etc/passwd"), b"", false).await,
        Some(404)
    );
    assert_eq!(
        raw_request(&app, &get("../c/o"), b"", false).await,
        Some(400)
    );
    assert_eq!(app.stored_bodies().await, files);
}

#[tokio::test]
async fn ranges_single_suffix_multiple_and_unsatisfiable() {
    let (app, alice) = app_with_container().await;
    alice
        .request(&app.client, "PUT", "c/r.txt")
        .body("hello world")
        .send()
        .await
        .unwrap();
    let get_range = |range: &'static str| {
        alice
            .request(&app.client, "GET", "c/r.txt")
            .header("Range", range)
            .send()
    };
    let first = get_range("bytes=0-4").await.unwrap();
    assert_eq!(first.status(), 206);
    assert_eq!(first.headers()["content-range"], "bytes 0-4/11");
    assert_eq!(first.text().await.unwrap(), "hello");
    let suffix = get_range("bytes=-3").await.unwrap();
    assert_eq!(suffix.headers()["content-range"], "bytes 8-10/11");
    assert_eq!(suffix.text().await.unwrap(), "rld");

    let multi = get_range("bytes=0-1,6-7").await.unwrap();
    assert_eq!(multi.status(), 206);
    let content_type = multi.headers()["content-type"].to_str().unwrap().to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges;boundary=")
        .unwrap()
        .to_owned();
    let body = multi.text().await.unwrap();
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/11\r\n\r\nhe\r\n\
             --{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 6-7/11\r\n\r\nwo\r\n\
             --{boundary}--"
        )
    );

    let unsatisfiable = get_range("bytes=20-30").await.unwrap();
    assert_eq!(unsatisfiable.status(), 416);
    assert_eq!(unsatisfiable.headers()["content-range"], "bytes */11");
    let ignored = get_range("bytes=9-2").await.unwrap();
    assert_eq!(ignored.status(), 200);
    assert_eq!(ignored.text().await.unwrap(), "hello world");
}

#[tokio::test]
async fn conditional_requests() {
    let (app, alice) = app_with_container().await;
    let etag = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    alice
        .request(&app.client, "PUT", "c/o")
        .body("hello world")
        .send()
        .await
        .unwrap();
    let get_with = |name: &'static str, value: String| {
        alice
            .request(&app.client, "GET", "c/o")
            .header(name, value)
            .send()
    };
    let not_modified = get_with("If-None-Match", format!("\"{etag}\""))
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.headers()["etag"], etag);
    assert_eq!(
        get_with("If-None-Match", "\"other\"".into())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get_with("If-Match", etag.into()).await.unwrap().status(),
        200
    );
    assert_eq!(
        get_with("If-Match", "\"other\"".into())
            .await
            .unwrap()
            .status(),
        412
    );
    let future = "Fri, 01 Jan 2100 00:00:00 GMT".to_owned();
    let past = "Thu, 01 Jan 2015 00:00:00 GMT".to_owned();
    assert_eq!(
        get_with("If-Modified-Since", future.clone())
            .await
            .unwrap()
            .status(),
        304
    );
    assert_eq!(
        get_with("If-Modified-Since", past.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get_with("If-Unmodified-Since", past)
            .await
            .unwrap()
            .status(),
        412
    );
    assert_eq!(
        get_with("If-Unmodified-Since", future)
            .await
            .unwrap()
            .status(),
        200
    );

    let files = app.stored_bodies().await;
    let exists = alice
        .request(&app.client, "PUT", "c/o")
        .header("If-None-Match", "*")
        .body("new")
        .send()
        .await
        .unwrap();
    assert_eq!(exists.status(), 412);
    assert_eq!(app.stored_bodies().await, files);
    let fresh = alice
        .request(&app.client, "PUT", "c/p")
        .header("If-None-Match", "*")
        .body("new")
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 201);
}

#[tokio::test]
async fn post_replaces_metadata() {
    let (app, alice) = app_with_container().await;
    alice
        .request(&app.client, "PUT", "c/o")
        .header("X-Object-Meta-A", "1")
        .header("X-Object-Meta-B", "2")
        .body("x")
        .send()
        .await
        .unwrap();
    let post = alice
        .request(&app.client, "POST", "c/o")
        .header("X-Object-Meta-C", "3")
        .header("Content-Type", "application/x-test")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 202);
    let head = alice
        .request(&app.client, "HEAD", "c/o")
        .send()
        .await
        .unwrap();
    assert!(!head.headers().contains_key("x-object-meta-a"));
    assert_eq!(head.headers()["x-object-meta-c"], "3");
    assert_eq!(head.headers()["content-type"], "application/x-test");
    let missing = alice
        .request(&app.client, "POST", "c/missing")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn copies_with_x_copy_from_and_copy() {
    let (app, alice) = app_with_container().await;
    alice
        .request(&app.client, "PUT", "c/src")
        .header("X-Object-Meta-Color", "red")
        .header("Content-Type", "text/x-source")
        .body("copy me")
        .send()
        .await
        .unwrap();
    let put_copy = alice
        .request(&app.client, "PUT", "c/dst1")
        .header("X-Copy-From", "/c/src")
        .header("X-Object-Meta-Size", "small")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(put_copy.status(), 201);
    assert_eq!(put_copy.headers()["x-copied-from"], "c/src");
    assert_eq!(put_copy.headers()["x-copied-from-account"], "AUTH_alice");
    assert_eq!(put_copy.headers()["etag"], md5_hex(b"copy me"));
    let copied = alice
        .request(&app.client, "GET", "c/dst1")
        .send()
        .await
        .unwrap();
    assert_eq!(copied.headers()["x-object-meta-color"], "red");
    assert_eq!(copied.headers()["x-object-meta-size"], "small");
    assert_eq!(copied.headers()["content-type"], "text/x-source");
    assert_eq!(copied.text().await.unwrap(), "copy me");

    alice
        .request(&app.client, "PUT", "other")
        .send()
        .await
        .unwrap();
    let copy = alice
        .request(&app.client, "COPY", "c/src")
        .header("Destination", "other/dst2")
        .header("X-Fresh-Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 201);
    let copied = alice
        .request(&app.client, "GET", "other/dst2")
        .send()
        .await
        .unwrap();
    assert!(!copied.headers().contains_key("x-object-meta-color"));
    assert_eq!(copied.text().await.unwrap(), "copy me");

    let missing = alice
        .request(&app.client, "PUT", "c/dst3")
        .header("X-Copy-From", "c/nothing")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let no_destination = alice
        .request(&app.client, "COPY", "c/src")
        .send()
        .await
        .unwrap();
    assert_eq!(no_destination.status(), 412);
}

#[tokio::test]
async fn bulk_delete_reports_counts() {
    let (app, alice) = app_with_container().await;
    for name in ["a", "b c", "d/e"] {
        alice
            .request(&app.client, "PUT", &format!("c/{name}"))
            .body("x")
            .send()
            .await
            .unwrap();
    }
    alice
        .request(&app.client, "PUT", "full")
        .send()
        .await
        .unwrap();
    alice
        .request(&app.client, "PUT", "full/keep")
        .body("x")
        .send()
        .await
        .unwrap();
    let files = app.stored_bodies().await;
    let response = alice
        .request(&app.client, "POST", "?bulk-delete")
        .header("Content-Type", "text/plain")
        .header("Accept", "application/json")
        .body("/c/a\n/c/b%20c\nc/d/e\n/c/missing\n/full\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 3);
    assert_eq!(report["Number Not Found"], 1);
    assert_eq!(
        report["Errors"],
        serde_json::json!([["/full", "409 Conflict"]])
    );
    assert_eq!(report["Response Status"], "400 Bad Request");
    assert_eq!(app.stored_bodies().await, files - 3);
    let listing = alice.request(&app.client, "GET", "c").send().await.unwrap();
    assert_eq!(listing.status(), 204);
}

#[tokio::test]
async fn dynamic_large_objects_concatenate_segments() {
    let (app, alice) = app_with_container().await;
    alice
        .request(&app.client, "PUT", "segs")
        .send()
        .await
        .unwrap();
    for (index, part) in ["hello ", "large ", "world"].iter().enumerate() {
        let path = format!("segs/big/{index:08}");
        alice
            .request(&app.client, "PUT", &path)
            .body(*part)
            .send()
            .await
            .unwrap();
    }
    let manifest = alice
        .request(&app.client, "PUT", "c/big")
        .header("X-Object-Manifest", "segs/big/")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 201);

    let get = alice
        .request(&app.client, "GET", "c/big")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let concatenated_etags = format!(
        "{}{}{}",
        md5_hex(b"hello "),
        md5_hex(b"large "),
        md5_hex(b"world")
    );
    assert_eq!(
        get.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", md5_hex(concatenated_etags.as_bytes()))
    );
    assert_eq!(get.headers()["x-object-manifest"], "segs/big/");
    assert_eq!(get.text().await.unwrap(), "hello large world");
    let range = alice
        .request(&app.client, "GET", "c/big")
        .header("Range", "bytes=4-13")
        .send()
        .await
        .unwrap();
    assert_eq!(range.headers()["content-range"], "bytes 4-13/17");
    assert_eq!(range.text().await.unwrap(), "o large wo");
    let itself = alice
        .request(&app.client, "GET", "c/big?multipart-manifest=get")
        .send()
        .await
        .unwrap();
    assert_eq!(itself.text().await.unwrap(), "");
}

#[tokio::test]
async fn info_advertises_what_is_implemented() {
    let app = spawn_app().await;
    let info: serde_json::Value = app
        .client
        .get(format!("{}/info", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["swift"]["max_object_name_length"], 1024);
    assert_eq!(info["swift"]["container_listing_limit"], 10000);
    assert_eq!(info["bulk_delete"]["max_deletes_per_request"], 10000);
    assert_eq!(info["slo"]["max_manifest_segments"], 1000);
    assert!(info["tempurl"]["methods"].is_array());
    assert!(info.get("container_quotas").is_some());
    assert!(info.get("account_quotas").is_some());
    assert_eq!(info["symlink"]["symloop_max"], 2);
}

/// A manifest `PUT` with `?heartbeat=on`: the body of its `202`, split
/// into the whitespace sent at once and the summary after `\r\n\r\n`.
async fn heartbeat_put(
    app: &TestApp,
    alice: &Session,
    manifest: &serde_json::Value,
    accept: &str,
) -> String {
    let response = alice
        .request(
            &app.client,
            "PUT",
            "c/beating?multipart-manifest=put&heartbeat=on",
        )
        .header("Accept", accept)
        .json(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(!response.headers().contains_key("content-length"));
    let body = response.text().await.unwrap();
    let (beats, summary) = body
        .split_once("\r\n\r\n")
        .expect("beats, then the summary");
    assert!(!beats.is_empty() && beats.trim().is_empty(), "{beats:?}");
    summary.to_owned()
}

#[tokio::test]
async fn a_heartbeat_manifest_put_answers_at_once_and_ends_with_its_outcome() {
    let (app, alice) = app_with_container().await;
    for (name, part) in [("s1", "hello "), ("s2", "world!")] {
        let put = alice
            .request(&app.client, "PUT", &format!("c/{name}"))
            .body(part)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let manifest = serde_json::json!([{"path": "c/s1"}, {"path": "c/s2"}]);
    let summary = heartbeat_put(&app, &alice, &manifest, "text/plain").await;
    let etag = format!(
        "\"{}\"",
        md5_hex(format!("{}{}", md5_hex(b"hello "), md5_hex(b"world!")).as_bytes())
    );
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines[0], format!("Etag: {etag}"));
    assert!(lines[1].starts_with("Last Modified: "), "{summary}");
    assert_eq!(
        lines[2..],
        ["Response Body: ", "Response Status: 201 Created", "Errors:"]
    );
    let get = alice
        .request(&app.client, "GET", "c/beating")
        .send()
        .await
        .unwrap();
    assert_eq!(get.text().await.unwrap(), "hello world!");

    // A missing segment: 400 in the summary, nothing stored.
    let bad = serde_json::json!([{"path": "c/s1"}, {"path": "c/missing"}]);
    let summary = heartbeat_put(&app, &alice, &bad, "application/json").await;
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        summary,
        serde_json::json!({
            "Response Status": "400 Bad Request",
            "Response Body": "Bad Request\nThe server could not comply with the request since \
                              it is either malformed or otherwise incorrect.",
            "Errors": [["c/missing", "404 Not Found"]],
        })
    );
    let kept = alice
        .request(&app.client, "GET", "c/beating")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.text().await.unwrap(), "hello world!");

    // A manifest that does not parse is refused before any heartbeat.
    let refused = alice
        .request(
            &app.client,
            "PUT",
            "c/beating?multipart-manifest=put&heartbeat=on",
        )
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn static_large_objects_put_get_and_delete() {
    let (app, alice) = app_with_container().await;
    alice
        .request(&app.client, "PUT", "segs")
        .send()
        .await
        .unwrap();
    for (name, part) in [("s1", "hello "), ("s2", "large "), ("s3", "world!")] {
        alice
            .request(&app.client, "PUT", &format!("segs/{name}"))
            .body(part)
            .send()
            .await
            .unwrap();
    }
    let manifest = serde_json::json!([
        {"path": "/segs/s1", "etag": md5_hex(b"hello "), "size_bytes": 6},
        {"path": "segs/s2", "etag": null, "size_bytes": null},
        {"path": "/segs/s3", "range": "0-4"},
    ]);
    let put = alice
        .request(&app.client, "PUT", "c/slo?multipart-manifest=put")
        .json(&manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let slo_etag = md5_hex(
        format!(
            "{}{}{}:0-4;",
            md5_hex(b"hello "),
            md5_hex(b"large "),
            md5_hex(b"world!")
        )
        .as_bytes(),
    );
    assert_eq!(
        put.headers()["etag"].to_str().unwrap(),
        format!("\"{slo_etag}\"")
    );

    let get = alice
        .request(&app.client, "GET", "c/slo")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["x-static-large-object"], "True");
    assert_eq!(
        get.headers()["etag"].to_str().unwrap(),
        format!("\"{slo_etag}\"")
    );
    assert_eq!(get.headers()["content-length"], "17");
    assert_eq!(get.text().await.unwrap(), "hello large world");
    let range = alice
        .request(&app.client, "GET", "c/slo")
        .header("Range", "bytes=10-15")
        .send()
        .await
        .unwrap();
    assert_eq!(range.text().await.unwrap(), "e worl");
    let listing: Vec<serde_json::Value> = alice
        .request(&app.client, "GET", "c?format=json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing[0]["bytes"], 17);
    let stored: Vec<serde_json::Value> = alice
        .request(&app.client, "GET", "c/slo?multipart-manifest=get")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored[1]["name"], "/segs/s2");
    assert_eq!(stored[1]["bytes"], 6);
    assert_eq!(stored[2]["range"], "0-4");

    let bad = serde_json::json!([
        {"path": "/segs/missing"},
        {"path": "/segs/s1", "etag": "0123"},
        {"path": "/segs/s2", "size_bytes": 99},
    ]);
    let files = app.stored_bodies().await;
    let refused = alice
        .request(&app.client, "PUT", "c/bad?multipart-manifest=put")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.text().await.unwrap(),
        "Errors:\n/segs/missing, 404 Not Found\n/segs/s1, Etag Mismatch\n/segs/s2, Size Mismatch\n"
    );
    assert_eq!(app.stored_bodies().await, files);

    // A changed segment invalidates the object.
    alice
        .request(&app.client, "PUT", "segs/s2")
        .body("LARGE ")
        .send()
        .await
        .unwrap();
    let conflict = alice
        .request(&app.client, "GET", "c/slo")
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), 409);
    let deleted = alice
        .request(&app.client, "DELETE", "c/slo?multipart-manifest=delete")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let report: serde_json::Value = deleted.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 4);
    let segments = alice
        .request(&app.client, "GET", "segs")
        .send()
        .await
        .unwrap();
    assert_eq!(segments.status(), 204);
    assert_eq!(app.stored_bodies().await, files - 4);
}
