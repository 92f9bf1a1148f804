//! Clients nobody here wrote, pointed at the proxy: opendal's Swift service,
//! python-swiftclient's `swift` command and rclone.
//!
//! The command-line clients are ignored by default; `scripts/test.sh`
//! installs them when absent and runs these tests with `--include-ignored`.

use std::path::Path;

use futures::TryStreamExt;
use opendal::Operator;
use tokio::process::Command;

use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// Deterministic bytes that do not compress or repeat.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

async fn swift_operator(app: &TestApp, session: &Session, container: &str) -> Operator {
    let created = session
        .request(&app.client, "PUT", container)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    Operator::via_iter(
        "swift",
        [
            ("endpoint".to_owned(), session.storage_url.clone()),
            ("container".to_owned(), container.to_owned()),
            ("token".to_owned(), session.token.clone()),
            ("root".to_owned(), "/base/".to_owned()),
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opendal_swift_service_works_against_the_proxy() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let op = swift_operator(&app, &alice, "od").await;

    let big = pseudo_random_bytes(3 << 20, 7);
    op.write("dir/big.bin", big.clone()).await.unwrap();
    op.write("dir/sub/small.txt", "small").await.unwrap();
    op.write("top.txt", "top").await.unwrap();

    let meta = op.stat("dir/big.bin").await.unwrap();
    assert_eq!(meta.content_length(), big.len() as u64);
    assert_eq!(op.read("dir/big.bin").await.unwrap().to_vec(), big);
    let part = op.read_with("dir/big.bin").range(1000..2000).await.unwrap();
    assert_eq!(part.to_vec(), big[1000..2000]);
    assert!(op.stat("missing").await.unwrap_err().kind() == opendal::ErrorKind::NotFound);

    let mut top: Vec<String> = op
        .list("/")
        .await
        .unwrap()
        .iter()
        .map(|e| e.path().to_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["dir/", "top.txt"]);
    let mut all: Vec<String> = op
        .lister_with("dir/")
        .recursive(true)
        .await
        .unwrap()
        .map_ok(|e| e.path().to_owned())
        .try_collect()
        .await
        .unwrap();
    all.sort();
    assert_eq!(all, ["dir/big.bin", "dir/sub/small.txt"]);

    // Multi-part writes are static large objects with segments under `.segments/`.
    let huge = pseudo_random_bytes(11 << 20, 9);
    let mut writer = op.writer_with("huge.bin").chunk(5 << 20).await.unwrap();
    writer.write(huge.clone()).await.unwrap();
    writer.close().await.unwrap();
    assert_eq!(
        op.stat("huge.bin").await.unwrap().content_length(),
        huge.len() as u64
    );
    assert_eq!(op.read("huge.bin").await.unwrap().to_vec(), huge);
    let tail = op.read_with("huge.bin").range(10 << 20..).await.unwrap();
    assert_eq!(tail.to_vec(), huge[10 << 20..]);
    op.delete("huge.bin").await.unwrap();

    op.copy("top.txt", "copy.txt").await.unwrap();
    assert_eq!(op.read("copy.txt").await.unwrap().to_vec(), b"top");
    op.delete("copy.txt").await.unwrap();
    assert!(op.stat("copy.txt").await.is_err());

    // Recursive delete goes through bulk delete.
    op.delete_with("dir/").recursive(true).await.unwrap();
    let listing = alice
        .request(&app.client, "GET", "od")
        .send()
        .await
        .unwrap();
    let remaining = listing.text().await.unwrap();
    // opendal deletes an SLO's manifest without its segments (outside `root`).
    assert!(
        remaining
            .lines()
            .all(|name| name == "base/top.txt" || name.starts_with(".segments/")),
        "{remaining}"
    );
    assert!(remaining.contains("base/top.txt\n"));
}

pub(crate) async fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/test.sh installs it): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_stat_upload_list_download_delete() {
    let app = spawn_app().await;
    app.login_new_user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let big = pseudo_random_bytes(3 << 20, 11);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("small.txt"), "small file").unwrap();
    let auth_url = format!("{}/auth/v1.0", app.address);
    let swift = |args: &[&str]| {
        let mut all = vec!["-A", auth_url.as_str(), "-U", "alice:alice", "-K", PASSWORD];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let call = |args: Vec<String>| {
        let dir = dir.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run("swift", &args, &dir).await
        }
    };

    let stat = call(swift(&["stat"])).await;
    assert!(stat.contains("Account: AUTH_alice"), "{stat}");
    call(swift(&["upload", "c1", "small.txt"])).await;
    call(swift(&["upload", "-S", "1048576", "c1", "big.bin"])).await;
    let listing = call(swift(&["list", "c1"])).await;
    assert_eq!(listing, "big.bin\nsmall.txt\n");
    let segments = call(swift(&["list", "c1_segments"])).await;
    assert_eq!(segments.lines().count(), 3, "{segments}");

    std::fs::create_dir(dir.path().join("down")).unwrap();
    call(swift(&["download", "c1", "big.bin", "-o", "down/big.bin"])).await;
    call(swift(&[
        "download",
        "c1",
        "small.txt",
        "-o",
        "down/small.txt",
    ]))
    .await;
    assert_eq!(std::fs::read(dir.path().join("down/big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(dir.path().join("down/small.txt")).unwrap(),
        b"small file"
    );

    call(swift(&["delete", "c1"])).await;
    let containers = call(swift(&["list"])).await;
    assert!(!containers.lines().any(|c| c == "c1"), "{containers}");
    let segments = call(swift(&["list", "c1_segments"])).await;
    assert_eq!(segments, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-swiftclient: scripts/test.sh installs it and runs this"]
async fn python_swiftclient_tempurls_get_and_put_without_a_token() {
    let app = spawn_app().await;
    app.login_new_user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shared.txt"), "shared through a link").unwrap();
    let auth_url = format!("{}/auth/v1.0", app.address);
    let swift = async |args: &[&str]| {
        let mut all = vec!["-A", auth_url.as_str(), "-U", "alice:alice", "-K", PASSWORD];
        all.extend_from_slice(args);
        run("swift", &all, dir.path()).await
    };
    nimbus_server::test_log::record_secret("TempURL key", "the account key");
    swift(&["post", "-m", "Temp-URL-Key:the account key"]).await;
    swift(&["upload", "c1", "shared.txt"]).await;
    let stat = swift(&["stat"]).await;
    assert!(stat.contains("Temp-Url-Key: the account key"), "{stat}");

    let tempurl = async |args: &[&str]| {
        let mut all = vec!["tempurl"];
        all.extend_from_slice(args);
        let url = run("swift", &all, dir.path()).await.trim().to_owned();
        let query = url.split_once('?').map_or("", |(_, query)| query);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if name == "temp_url_sig" {
                nimbus_server::test_log::record_secret("TempURL signature", &value);
            }
        }
        url
    };
    let object = "/v1/AUTH_alice/c1/shared.txt";
    for digest in ["sha256", "sha512"] {
        let url = tempurl(&["--digest", digest, "GET", "60", object, "the account key"]).await;
        let get = app
            .client
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200, "{digest}: {url}");
        assert_eq!(get.text().await.unwrap(), "shared through a link");
    }
    let url = tempurl(&["--iso8601", "GET", "1h", object, "the account key"]).await;
    let get = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "{url}");
    // SHA-1 is off unless the proxy is configured for it.
    let url = tempurl(&["--digest", "sha1", "GET", "60", object, "the account key"]).await;
    let get = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);

    let url = tempurl(&[
        "PUT",
        "60",
        &format!("{}/v1/AUTH_alice/c1/dropped.txt", app.address),
        "the account key",
    ])
    .await;
    let put = app
        .client
        .put(&url)
        .body("dropped off")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let listing = swift(&["list", "c1"]).await;
    assert_eq!(listing, "dropped.txt\nshared.txt\n");
    let prefix = tempurl(&[
        "--prefix-based",
        "GET",
        "60",
        "/v1/AUTH_alice/c1/drop",
        "the account key",
    ])
    .await;
    let (_, query) = prefix.split_once('?').unwrap();
    let get = app
        .client
        .get(format!(
            "{}/v1/AUTH_alice/c1/dropped.txt?{query}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(get.text().await.unwrap(), "dropped off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs rclone: scripts/test.sh installs it and runs this"]
async fn rclone_copies_a_tree_up_and_down_checks_and_purges() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for (index, path) in ["a.txt", "sub/b.bin", "sub/deeper/c.bin", "space name.txt"]
        .iter()
        .enumerate()
    {
        let file = tree.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            pseudo_random_bytes(1000 + index * 300_000, index as u64 + 1),
        )
        .unwrap();
    }
    let config = dir.path().join("rclone.conf");
    std::fs::write(
        &config,
        format!(
            "[nimbus]\ntype = swift\nuser = alice:alice\nkey = {PASSWORD}\nauth = {}/auth/v1.0\n",
            app.address
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let rclone = |args: &'static [&'static str]| {
        let config = config.clone();
        let dir = dir.path().to_owned();
        async move {
            let mut all = vec!["--config", config.as_str()];
            all.extend_from_slice(args);
            run("rclone", &all, &dir).await
        }
    };

    rclone(&["copy", "tree", "nimbus:rc/tree"]).await;
    rclone(&["check", "tree", "nimbus:rc/tree"]).await;
    rclone(&["copy", "nimbus:rc/tree", "down"]).await;
    for path in ["a.txt", "sub/b.bin", "sub/deeper/c.bin", "space name.txt"] {
        let original = std::fs::read(tree.join(path)).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("down").join(path)).unwrap(),
            original,
            "{path}"
        );
    }
    let listed = rclone(&["lsf", "-R", "nimbus:rc"]).await;
    assert!(listed.contains("tree/sub/deeper/c.bin"), "{listed}");
    rclone(&["purge", "nimbus:rc"]).await;
    let head = alice
        .request(&app.client, "HEAD", "rc")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}
