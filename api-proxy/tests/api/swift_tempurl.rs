//! TempURL: URLs signed with an account's or a container's key open one
//! object for one method until they expire, without a token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, RequestBuilder, Response};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use nimbus_server::test_log::record_secret;

use crate::helpers::{Session, TestApp, spawn_app, spawn_app_with};

const ACCOUNT_KEY: &str = "account-key-one";
const ACCOUNT_KEY_2: &str = "account-key-two";

pub(crate) fn in_a_day() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400
}

fn hmac<M: Mac + KeyInit>(key: &str, message: &str) -> Vec<u8> {
    record_secret("TempURL key", key);
    let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The HMAC-SHA256 of a TempURL, in hex (what `swift tempurl` makes).
pub(crate) fn sign(method: &str, expires: u64, path: &str, key: &str) -> String {
    hex::encode(hmac::<Hmac<Sha256>>(
        key,
        &format!("{method}\n{expires}\n{path}"),
    ))
}

/// `method` on `path` (`/v1/...`) with these TempURL parameters, no token.
pub(crate) fn temp_request(
    app: &TestApp,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
) -> RequestBuilder {
    for (name, value) in params {
        if *name == "temp_url_sig" {
            record_secret("TempURL signature", value);
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    app.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}?{query}", app.address),
    )
}

/// `method` on `path` with a signature of `signed` (a method) by `key`.
async fn signed(app: &TestApp, method: &str, signed: &str, path: &str, key: &str) -> Response {
    let expires = in_a_day();
    let sig = sign(signed, expires, path, key);
    temp_request(
        app,
        method,
        path,
        &[
            ("temp_url_sig", &sig),
            ("temp_url_expires", &expires.to_string()),
        ],
    )
    .send()
    .await
    .unwrap()
}

async fn status(request: RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// Alice with container `c` holding `o.txt` ("obj contents", a private and
/// a public metadata key), and both account keys set.
async fn alice_with_account_keys() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let c = |method, path| alice.request(&app.client, method, path);
    assert_eq!(status(c("PUT", "c")).await, 201);
    let put = c("PUT", "c/o.txt")
        .header("X-Object-Meta-Secret", "s3cr3t")
        .header("X-Object-Meta-Public-Color", "blue")
        .body("obj contents");
    assert_eq!(status(put).await, 201);
    let keys = c("POST", "")
        .header("X-Account-Meta-Temp-URL-Key", ACCOUNT_KEY)
        .header("X-Account-Meta-Temp-URL-Key-2", ACCOUNT_KEY_2);
    assert_eq!(status(keys).await, 204);
    let path = "/v1/AUTH_alice/c/o.txt".to_owned();
    (app, alice, path)
}

#[tokio::test]
async fn a_get_url_reads_the_object_with_either_account_key_and_any_signature_form() {
    let (app, _alice, path) = alice_with_account_keys().await;

    let get = signed(&app, "GET", "GET", &path, ACCOUNT_KEY).await;
    assert_eq!(get.status(), 200);
    let headers = get.headers().clone();
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"o.txt\"; filename*=UTF-8''o.txt"
    );
    assert!(headers.contains_key("expires"));
    // Only public metadata goes out through a TempURL.
    assert!(!headers.contains_key("x-object-meta-secret"));
    assert_eq!(headers["x-object-meta-public-color"], "blue");
    assert_eq!(get.text().await.unwrap(), "obj contents");

    // A GET signature also allows HEAD; the second key works as well.
    assert_eq!(
        signed(&app, "HEAD", "GET", &path, ACCOUNT_KEY)
            .await
            .status(),
        200
    );
    let rotated = signed(&app, "GET", "GET", &path, ACCOUNT_KEY_2).await;
    assert_eq!(rotated.text().await.unwrap(), "obj contents");

    // ISO 8601 expiry; `inline` and `filename`.
    let expires = in_a_day();
    let sig = sign("GET", expires, &path, ACCOUNT_KEY);
    let iso = time::OffsetDateTime::from_unix_timestamp(expires as i64)
        .unwrap()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let response = temp_request(
        &app,
        "GET",
        &path,
        &[
            ("temp_url_sig", &sig),
            ("temp_url_expires", &iso),
            ("inline", ""),
            ("filename", "My File.txt"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "inline; filename=\"My File.txt\"; filename*=UTF-8''My%20File.txt"
    );

    // SHA-512, hex and `sha512:` base64 (standard and URL-safe, unpadded).
    let message = format!("GET\n{expires}\n{path}");
    let mac = hmac::<Hmac<Sha512>>(ACCOUNT_KEY, &message);
    for sig in [
        hex::encode(&mac),
        format!("sha512:{}", STANDARD.encode(&mac)),
        format!("sha512:{}", URL_SAFE_NO_PAD.encode(&mac)),
        format!(
            "sha256:{}",
            STANDARD.encode(hmac::<Hmac<Sha256>>(ACCOUNT_KEY, &message))
        ),
    ] {
        let params = [
            ("temp_url_sig", sig.as_str()),
            ("temp_url_expires", &expires.to_string()),
        ];
        assert_eq!(
            status(temp_request(&app, "GET", &path, &params)).await,
            200,
            "{sig}"
        );
    }
}

#[tokio::test]
async fn wrong_expired_or_misapplied_signatures_are_401() {
    let (app, alice, path) = alice_with_account_keys().await;
    alice
        .request(&app.client, "PUT", "c/other")
        .body("other")
        .send()
        .await
        .unwrap();
    let expires = in_a_day();
    let good = sign("GET", expires, &path, ACCOUNT_KEY);
    let refused = async |method: &str, path: &str, sig: &str, expires: &str| {
        let response = temp_request(
            &app,
            method,
            path,
            &[("temp_url_sig", sig), ("temp_url_expires", expires)],
        )
        .send()
        .await
        .unwrap();
        let code = response.status().as_u16();
        let body = response.text().await.unwrap();
        (code, body)
    };
    let in_a_day = expires.to_string();
    let mut changed = good.clone();
    changed.replace_range(0..1, if good.starts_with('a') { "b" } else { "a" });
    let (code, body) = refused("GET", &path, &changed, &in_a_day).await;
    assert_eq!(
        (code, body.as_str()),
        (401, "401 Unauthorized: Temp URL invalid\n")
    );
    // The expiry is signed, and a past one is refused even when signed.
    assert_eq!(
        refused("GET", &path, &good, &(expires + 1).to_string())
            .await
            .0,
        401
    );
    let past = sign("GET", 1_000, &path, ACCOUNT_KEY);
    assert_eq!(refused("GET", &path, &past, "1000").await.0, 401);
    // Another object, another method, a container, SHA-1 (off by default).
    assert_eq!(
        refused("GET", "/v1/AUTH_alice/c/other", &good, &in_a_day)
            .await
            .0,
        401
    );
    assert_eq!(refused("PUT", &path, &good, &in_a_day).await.0, 401);
    assert_eq!(refused("DELETE", &path, &good, &in_a_day).await.0, 401);
    let container_sig = sign("GET", expires, "/v1/AUTH_alice/c", ACCOUNT_KEY);
    assert_eq!(
        refused("GET", "/v1/AUTH_alice/c", &container_sig, &in_a_day)
            .await
            .0,
        401
    );
    let sha1 = hex::encode(hmac::<Hmac<Sha1>>(
        ACCOUNT_KEY,
        &format!("GET\n{expires}\n{path}"),
    ));
    assert_eq!(refused("GET", &path, &sha1, &in_a_day).await.0, 401);
    assert_eq!(refused("GET", &path, &good, "").await.0, 401);
    assert_eq!(refused("GET", &path, "", &in_a_day).await.0, 401);

    // Removing a key ends its URLs.
    let removed = alice
        .request(&app.client, "POST", "")
        .header("X-Remove-Account-Meta-Temp-URL-Key", "x");
    assert_eq!(status(removed).await, 204);
    assert_eq!(refused("GET", &path, &good, &in_a_day).await.0, 401);
    // Nothing was changed by any of it.
    let read = alice
        .request(&app.client, "GET", "c/o.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(read.text().await.unwrap(), "obj contents");
}

#[tokio::test]
async fn a_put_url_writes_its_object_and_nothing_else() {
    let (app, alice, _) = alice_with_account_keys().await;
    let path = "/v1/AUTH_alice/c/upload.bin";
    let expires = in_a_day().to_string();
    let sig = sign("PUT", expires.parse().unwrap(), path, ACCOUNT_KEY);
    let params = [
        ("temp_url_sig", sig.as_str()),
        ("temp_url_expires", &expires),
    ];

    let put = temp_request(&app, "PUT", path, &params).body("uploaded");
    assert_eq!(status(put).await, 201);
    let read = alice
        .request(&app.client, "GET", "c/upload.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(read.text().await.unwrap(), "uploaded");
    // A PUT signature allows HEAD, not GET or DELETE.
    assert_eq!(status(temp_request(&app, "HEAD", path, &params)).await, 200);
    assert_eq!(status(temp_request(&app, "GET", path, &params)).await, 401);
    assert_eq!(
        status(temp_request(&app, "DELETE", path, &params)).await,
        401
    );

    // Headers that would point the object at other data are refused.
    for (name, value) in [("X-Object-Manifest", "c/o"), ("X-Copy-From", "c/o.txt")] {
        let put = temp_request(&app, "PUT", path, &params)
            .header(name, value)
            .body("");
        let response = put.send().await.unwrap();
        assert_eq!(response.status(), 400, "{name}");
        assert_eq!(
            response.text().await.unwrap(),
            format!("The header '{name}' is not allowed in this tempurl")
        );
    }
    // Other query parameters are dropped: this stores the body as it is,
    // not as an SLO manifest.
    let mut with_manifest = params.to_vec();
    with_manifest.push(("multipart-manifest", "put"));
    let manifest = r#"[{"path": "/c/o.txt"}]"#;
    let put = temp_request(&app, "PUT", path, &with_manifest).body(manifest);
    assert_eq!(status(put).await, 201);
    let read = alice
        .request(&app.client, "GET", "c/upload.bin")
        .send()
        .await
        .unwrap();
    assert!(!read.headers().contains_key("x-static-large-object"));
    assert_eq!(read.text().await.unwrap(), manifest);

    // A DELETE signature deletes.
    let deleted = signed(&app, "DELETE", "DELETE", path, ACCOUNT_KEY).await;
    assert_eq!(deleted.status(), 204);
    let gone = alice.request(&app.client, "HEAD", "c/upload.bin");
    assert_eq!(status(gone).await, 404);
}

#[tokio::test]
async fn prefix_urls_open_the_objects_under_their_prefix() {
    let (app, alice, _) = alice_with_account_keys().await;
    for name in ["pre/a", "pre-b", "other"] {
        let put = alice
            .request(&app.client, "PUT", &format!("c/{name}"))
            .body(name);
        assert_eq!(status(put).await, 201);
    }
    let expires = in_a_day();
    let sig = sign("GET", expires, "prefix:/v1/AUTH_alice/c/pre", ACCOUNT_KEY);
    let expires = expires.to_string();
    let get = |object: &str, prefix: &str| {
        temp_request(
            &app,
            "GET",
            &format!("/v1/AUTH_alice/c/{object}"),
            &[
                ("temp_url_sig", sig.as_str()),
                ("temp_url_expires", &expires),
                ("temp_url_prefix", prefix),
            ],
        )
    };
    assert_eq!(status(get("pre/a", "pre")).await, 200);
    assert_eq!(status(get("pre-b", "pre")).await, 200);
    assert_eq!(status(get("other", "pre")).await, 401);
    assert_eq!(status(get("pre/a", "pre/")).await, 401);
}

#[tokio::test]
async fn container_keys_open_their_container_only_and_only_owners_see_them() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let bob = app.login_new_user("bob").await;
    let c = |method, path| alice.request(&app.client, method, path);
    let keyed = c("PUT", "keyed")
        .header("X-Container-Meta-Temp-URL-Key", "container-key")
        .header("X-Container-Meta-Temp-URL-Key-2", "container-key-2")
        .header("X-Container-Read", "bob");
    assert_eq!(status(keyed).await, 201);
    assert_eq!(status(c("PUT", "segments")).await, 201);
    for (path, body) in [
        ("keyed/seg-1", "one "),
        ("keyed/seg-2", "two"),
        ("segments/seg-1", "three"),
        ("keyed/o", "object"),
    ] {
        assert_eq!(status(c("PUT", path).body(body)).await, 201);
    }
    for (path, segments) in [
        ("keyed/inside", "keyed/seg-"),
        ("keyed/outside", "segments/seg-"),
    ] {
        let manifest = c("PUT", path).header("X-Object-Manifest", segments);
        assert_eq!(status(manifest.header("Content-Length", "0")).await, 201);
    }

    for key in ["container-key", "container-key-2"] {
        let get = signed(&app, "GET", "GET", "/v1/AUTH_alice/keyed/o", key).await;
        assert_eq!(get.text().await.unwrap(), "object");
    }
    let inside = signed(
        &app,
        "GET",
        "GET",
        "/v1/AUTH_alice/keyed/inside",
        "container-key",
    )
    .await;
    assert_eq!(inside.text().await.unwrap(), "one two");
    // Segments in another container are out of a container key's reach.
    let outside = "/v1/AUTH_alice/keyed/outside";
    assert_eq!(
        signed(&app, "GET", "GET", outside, "container-key")
            .await
            .status(),
        401
    );
    // A container key does not open the account's other containers.
    let other = "/v1/AUTH_alice/segments/seg-1";
    assert_eq!(
        signed(&app, "GET", "GET", other, "container-key")
            .await
            .status(),
        401
    );
    // An account key reaches the segments, as in Swift.
    let keys = c("POST", "").header("X-Account-Meta-Temp-URL-Key", ACCOUNT_KEY);
    assert_eq!(status(keys).await, 204);
    let outside = signed(&app, "GET", "GET", outside, ACCOUNT_KEY).await;
    assert_eq!(outside.text().await.unwrap(), "three");

    // The owner sees the keys; bob, who may read the container, does not,
    // and may not set them.
    let head = c("HEAD", "keyed").send().await.unwrap();
    assert_eq!(
        head.headers()["x-container-meta-temp-url-key"],
        "container-key"
    );
    let bobs = app
        .client
        .head(format!("{}/keyed", alice.storage_url))
        .header("X-Auth-Token", &bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), 204);
    assert!(!bobs.headers().contains_key("x-container-meta-temp-url-key"));
    assert!(
        !bobs
            .headers()
            .contains_key("x-container-meta-temp-url-key-2")
    );
    let bob_sets = app
        .client
        .post(format!("{}/keyed", alice.storage_url))
        .header("X-Auth-Token", &bob.token)
        .header("X-Container-Meta-Temp-URL-Key", "bobs-key");
    assert_eq!(status(bob_sets).await, 403);
    let bob_sets_account = app
        .client
        .post(&alice.storage_url)
        .header("X-Auth-Token", &bob.token)
        .header("X-Account-Meta-Temp-URL-Key", "bobs-key");
    assert_eq!(status(bob_sets_account).await, 403);
}

#[tokio::test]
async fn info_lists_sha1_only_when_configured_and_then_accepts_it() {
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
    assert_eq!(
        info["tempurl"]["allowed_digests"],
        serde_json::json!(["sha256", "sha512"])
    );
    assert!(info["tempurl"].get("deprecated_digests").is_none());

    let app = spawn_app_with(|settings| settings.tempurl_allow_sha1 = true).await;
    let alice = app.login_new_user("alice").await;
    assert_eq!(status(alice.request(&app.client, "PUT", "c")).await, 201);
    let put = alice.request(&app.client, "PUT", "c/o").body("old client");
    assert_eq!(status(put).await, 201);
    let keys = alice
        .request(&app.client, "POST", "")
        .header("X-Account-Meta-Temp-URL-Key", ACCOUNT_KEY);
    assert_eq!(status(keys).await, 204);
    let info: serde_json::Value = app
        .client
        .get(format!("{}/info", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["tempurl"]["deprecated_digests"],
        serde_json::json!(["sha1"])
    );
    let expires = in_a_day();
    let sha1 = hex::encode(hmac::<Hmac<Sha1>>(
        ACCOUNT_KEY,
        &format!("GET\n{expires}\n/v1/AUTH_alice/c/o"),
    ));
    let get = temp_request(
        &app,
        "GET",
        "/v1/AUTH_alice/c/o",
        &[
            ("temp_url_sig", &sha1),
            ("temp_url_expires", &expires.to_string()),
        ],
    );
    assert_eq!(
        get.send().await.unwrap().text().await.unwrap(),
        "old client"
    );
}
