//! Account and container requests, and listings.

use crate::helpers::{Session, TestApp, spawn_app};

async fn put_objects(app: &TestApp, session: &Session, container: &str, names: &[&str]) {
    for name in names {
        let response = session
            .request(&app.client, "PUT", &format!("{container}/{name}"))
            .body(name.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{name}");
    }
}

async fn list(app: &TestApp, session: &Session, path_and_query: &str) -> (u16, String) {
    let response = session
        .request(&app.client, "GET", path_and_query)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn container_lifecycle_and_metadata() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let request = |method, path: &str| alice.request(&app.client, method, path);

    let created = request("PUT", "c1")
        .header("X-Container-Meta-Color", "blue")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let again = request("PUT", "c1").send().await.unwrap();
    assert_eq!(again.status(), 202);
    assert!(again.text().await.unwrap().contains("Accepted"));
    put_objects(&app, &alice, "c1", &["a", "bb"]).await;

    let head = request("HEAD", "c1").send().await.unwrap();
    assert_eq!(head.status(), 204);
    assert_eq!(head.headers()["x-container-object-count"], "2");
    assert_eq!(head.headers()["x-container-bytes-used"], "3");
    assert_eq!(head.headers()["x-container-meta-color"], "blue");
    assert!(head.headers().contains_key("last-modified"));

    let post = request("POST", "c1")
        .header("X-Container-Meta-Size", "big")
        .header("X-Remove-Container-Meta-Color", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 204);
    let head = request("HEAD", "c1").send().await.unwrap();
    assert_eq!(head.headers()["x-container-meta-size"], "big");
    assert!(!head.headers().contains_key("x-container-meta-color"));

    assert_eq!(request("DELETE", "c1").send().await.unwrap().status(), 409);
    for name in ["a", "bb"] {
        let deleted = request("DELETE", &format!("c1/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
    assert_eq!(request("DELETE", "c1").send().await.unwrap().status(), 204);
    assert_eq!(request("DELETE", "c1").send().await.unwrap().status(), 404);
    assert_eq!(request("HEAD", "c1").send().await.unwrap().status(), 404);
    assert_eq!(
        request("POST", "missing").send().await.unwrap().status(),
        404
    );
    let long = request("PUT", &"c".repeat(257)).send().await.unwrap();
    assert_eq!(long.status(), 400);
    assert_eq!(
        request("PUT", "bad%2Fname").send().await.unwrap().status(),
        404
    );
    let too_long_meta = request("PUT", "c2")
        .header(format!("X-Container-Meta-{}", "k".repeat(129)), "v")
        .send()
        .await
        .unwrap();
    assert_eq!(too_long_meta.status(), 400);
    assert_eq!(request("HEAD", "c2").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn account_head_post_and_listing() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    for container in ["x1", "x2"] {
        alice
            .request(&app.client, "PUT", container)
            .send()
            .await
            .unwrap();
    }
    put_objects(&app, &alice, "x1", &["hello"]).await;
    let post = alice
        .request(&app.client, "POST", "")
        .header("X-Account-Meta-Team", "blue")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 204);
    let head = alice.request(&app.client, "HEAD", "").send().await.unwrap();
    assert_eq!(head.status(), 204);
    // The default workspace is the third container.
    assert_eq!(head.headers()["x-account-container-count"], "3");
    assert_eq!(head.headers()["x-account-object-count"], "1");
    assert_eq!(head.headers()["x-account-bytes-used"], "5");
    assert_eq!(head.headers()["x-account-meta-team"], "blue");

    let (status, body) = list(&app, &alice, "?prefix=x&format=json").await;
    assert_eq!(status, 200);
    let items: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "x1");
    assert_eq!(items[0]["count"], 1);
    assert_eq!(items[0]["bytes"], 5);
    let (_, xml) = list(&app, &alice, "?prefix=x&format=xml").await;
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"AUTH_alice\">"
        )
    );
    assert!(
        xml.contains("<container><name>x2</name><count>0</count><bytes>0</bytes>"),
        "{xml}"
    );
    assert_eq!(
        alice
            .request(&app.client, "PUT", "")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
}

#[tokio::test]
async fn object_listings_follow_swift() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    alice.request(&app.client, "PUT", "c").send().await.unwrap();
    let (status, body) = list(&app, &alice, "c").await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, body) = list(&app, &alice, "c?format=json").await;
    assert_eq!((status, body.as_str()), (200, "[]"));

    put_objects(
        &app,
        &alice,
        "c",
        &["a/1.txt", "a/2", "a/b/3", "b", "c/1", "d", "é"],
    )
    .await;
    let plain = |query: &'static str| {
        let (app, alice) = (&app, &alice);
        async move { list(app, alice, &format!("c?{query}")).await.1 }
    };
    assert_eq!(plain("").await, "a/1.txt\na/2\na/b/3\nb\nc/1\nd\né\n");
    assert_eq!(plain("delimiter=/").await, "a/\nb\nc/\nd\né\n");
    assert_eq!(plain("prefix=a/&delimiter=/").await, "a/1.txt\na/2\na/b/\n");
    assert_eq!(plain("marker=a/2&end_marker=c/1").await, "a/b/3\nb\n");
    assert_eq!(plain("limit=2&marker=b").await, "c/1\nd\n");
    assert_eq!(plain("reverse=true&limit=3").await, "é\nd\nc/1\n");
    assert_eq!(
        plain("reverse=true&delimiter=/&end_marker=a").await,
        "é\nd\nc/\nb\na/\n"
    );
    // opendal's list: trailing slash, empty delimiter, paging with marker.
    let (_, body) = list(&app, &alice, "c/?prefix=a/&delimiter=&format=json&limit=2").await;
    let page: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["name"], "a/1.txt");
    assert_eq!(page[0]["bytes"], 7);
    assert_eq!(page[0]["content_type"], "text/plain");
    assert_eq!(page[0]["hash"], md5_hex(b"a/1.txt"));
    let modified = page[0]["last_modified"].as_str().unwrap();
    assert_eq!(modified.len(), 26, "{modified}");
    let (_, body) = list(&app, &alice, "c/?prefix=a/&format=json&marker=a/2").await;
    let rest: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["name"], "a/b/3");

    let (_, body) = list(&app, &alice, "c?delimiter=/&format=json&prefix=a/").await;
    assert!(body.contains("{\"subdir\":\"a/b/\"}"), "{body}");
    let (_, xml) = list(&app, &alice, "c?delimiter=/&format=xml&prefix=a/").await;
    assert!(
        xml.contains("<subdir name=\"a/b/\"><name>a/b/</name></subdir>"),
        "{xml}"
    );
    assert!(xml.contains("<object><name>a/2</name><hash>"), "{xml}");
    let (_, accept_json) = {
        let response = alice
            .request(&app.client, "GET", "c?limit=1")
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert!(accept_json.starts_with("[{"), "{accept_json}");
    assert_eq!(list(&app, &alice, "c?limit=10001").await.0, 412);
    assert_eq!(list(&app, &alice, "nope").await.0, 404);
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes))
}
