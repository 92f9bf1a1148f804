//! `nimbus link` with the real binary: a synced file published behind a
//! password and a download limit, fetched from the proxy's `/s/{token}` as
//! a visitor would; a synced folder published, listed and revoked; a file
//! that has not reached the server is refused.

use reqwest::redirect::Policy;

use crate::helpers::{Cluster, random_bytes, run};

/// Runs `nimbus ARGS` with `input` and fails the test unless it succeeds.
async fn ok(config: &std::path::Path, args: &[&str], input: &str) -> String {
    let outcome = run(config, args, input).await;
    assert!(
        outcome.success,
        "nimbus {args:?} failed:\n{}{}",
        outcome.stdout, outcome.stderr
    );
    outcome.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_files_and_folders_are_published_fetched_and_revoked() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let alice = cluster.device("alice", "laptop").await;
    let config = alice.config.path.as_path();
    let trips = alice.root.join("Trips");
    std::fs::create_dir_all(&trips).unwrap();
    let bytes = random_bytes(300_000, 7);
    std::fs::write(trips.join("map.bin"), &bytes).unwrap();
    alice.sync().await;

    let password = "a good long password";
    nimbus_server::test_log::record_secret("password", password);
    let map = trips.join("map.bin");
    let url = ok(
        config,
        &[
            "link",
            "create",
            map.to_str().unwrap(),
            "--password-stdin",
            "--max-downloads",
            "1",
            "--expires",
            "1d",
        ],
        password,
    )
    .await
    .trim()
    .to_owned();
    let prefix = format!("{}/s/", cluster.proxy_url.trim_end_matches('/'));
    assert!(url.starts_with(&prefix), "{url}");
    nimbus_server::test_log::record_secret("link token", &url[prefix.len()..]);

    let visitor = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    assert_eq!(visitor.get(&url).send().await.unwrap().status(), 401);
    let unlocked = visitor
        .post(&url)
        // A form body; the password has no characters to escape but spaces.
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("password={}", password.replace(' ', "+")))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 303);
    let cookie = unlocked.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let download = visitor
        .get(&url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap(), bytes);
    let again = visitor
        .get(&url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "one download only");

    let folder_url = ok(config, &["link", "create", trips.to_str().unwrap()], "")
        .await
        .trim()
        .to_owned();
    nimbus_server::test_log::record_secret("link token", &folder_url[prefix.len()..]);
    let page = visitor.get(&folder_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("map.bin"));

    let list = ok(config, &["link", "list"], "").await;
    let used = list
        .lines()
        .find(|line| line.contains("map.bin"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        used.contains("1/1 downloads, password") && used.contains("used up"),
        "{list}"
    );
    let folder_line = list
        .lines()
        .find(|line| line.contains("Trips/"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(folder_line.contains("active"), "{list}");
    let id = folder_line.split_whitespace().next().unwrap();
    let revoked = ok(config, &["link", "revoke", id], "").await;
    assert!(revoked.contains("Revoked"), "{revoked}");
    assert_eq!(visitor.get(&folder_url).send().await.unwrap().status(), 404);

    // Not synced yet: nothing to publish, and nothing is made.
    std::fs::write(trips.join("draft.txt"), b"only here").unwrap();
    let draft = trips.join("draft.txt");
    let refused = run(config, &["link", "create", draft.to_str().unwrap()], "").await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("not on the server"),
        "{}",
        refused.stderr
    );
    assert_eq!(ok(config, &["link", "list"], "").await.lines().count(), 2);
    cluster.stop().await;
}
