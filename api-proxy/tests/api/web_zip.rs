//! Folders downloaded as streamed zips, from the web UI and from public
//! links: unpacked with the real `unzip` and compared byte for byte (a file
//! of many chunks, nested and empty folders, an empty file, names that are
//! not ASCII), the `Content-Length` announced the zip's; caps refused
//! before streaming; a file that cannot be read cuts the download off;
//! strangers refused; a link's password, download limit and expiry hold
//! for its zips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nimbus_protocol::rpc::{
    CommitItem, CreateLinkArgs, CreatedLink, Operation, Password, Role, TimestampMillis,
    WorkspaceInfo,
};
use nimbus_server::test_log::record_secret;
use uuid::Uuid;

use crate::browser::Browser;
use crate::helpers::{Device, TestApp, device, files_under, noise, spawn_app, spawn_app_with};
use crate::sharing::{create_workspace, share};
use crate::web::{commit, file, folder};

/// What `unzip` made of a zip: the directory it unpacked into, and the
/// names it listed.
struct Unzipped {
    _dir: tempfile::TempDir,
    root: PathBuf,
    names: Vec<String>,
}

impl Unzipped {
    fn bytes(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

/// Runs `unzip` on `archive` with `args`; fails the test on any warning.
fn run_unzip(archive: &Path, args: &[&str]) -> String {
    let output = Command::new("unzip")
        .args(args)
        .arg(archive)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("the unzip command");
    assert!(
        output.status.success(),
        "unzip {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Tests (CRCs), lists and unpacks `zip` with Info-ZIP's `unzip`.
fn unzip(zip: &[u8]) -> Unzipped {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("download.zip");
    std::fs::write(&archive, zip).unwrap();
    run_unzip(&archive, &["-tq"]);
    let mut names: Vec<String> = run_unzip(&archive, &["-Z1"])
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    let root = dir.path().join("out");
    let out = root.display().to_string();
    run_unzip(&archive, &["-q", "-d", &out]);
    Unzipped {
        _dir: dir,
        root,
        names,
    }
}

/// `device` again, writing into `workspace` (whose container it makes).
async fn writer_in(app: &TestApp, user: &str, workspace: &WorkspaceInfo) -> Device {
    let mut writer = device(app, user).await;
    writer.container_url = format!("{}/{}", writer.storage_url, workspace.container);
    writer.workspace = workspace.clone();
    let made = app
        .client
        .put(&writer.container_url)
        .header("X-Auth-Token", &writer.swift_token)
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    writer
}

/// The album every test zips, in `writer`'s workspace, and what it holds.
struct Album {
    folder: CommitItem,
    inner: CommitItem,
    big: Vec<u8>,
    outside: CommitItem,
}

const CAFE: &str = "Été/café ☕.txt";

/// `Album/`: `big.bin` (many chunks), `zero.txt` (empty), `empty/`,
/// `Été/café ☕.txt` and `Été/deeper/` (empty); `outside.txt` beside it.
async fn album(app: &TestApp, writer: &Device) -> Album {
    let album = folder("Album", None);
    let inner = folder("Été", Some(album.id));
    let big = noise(2_500_000, 7);
    let items = vec![
        album.clone(),
        inner.clone(),
        folder("empty", Some(album.id)),
        folder("deeper", Some(inner.id)),
        file(app, writer, "big.bin", Some(album.id), &big).await,
        file(app, writer, "zero.txt", Some(album.id), b"").await,
        file(
            app,
            writer,
            "café ☕.txt",
            Some(inner.id),
            "du café".as_bytes(),
        )
        .await,
    ];
    let outside = file(app, writer, "outside.txt", None, b"not in the album").await;
    commit(writer, [items, vec![outside.clone()]].concat()).await;
    Album {
        folder: album,
        inner,
        big,
        outside,
    }
}

/// Checks an unpacked zip of the album.
fn assert_is_the_album(unzipped: &Unzipped, album: &Album) {
    assert_eq!(
        unzipped.names,
        [
            "big.bin",
            "empty/",
            "zero.txt",
            "Été/",
            "Été/café ☕.txt",
            "Été/deeper/"
        ]
    );
    assert_eq!(unzipped.bytes("big.bin"), album.big);
    assert_eq!(unzipped.bytes("zero.txt"), b"");
    assert_eq!(unzipped.bytes(CAFE), "du café".as_bytes());
    assert!(unzipped.root.join("empty").is_dir());
    assert!(unzipped.root.join("Été/deeper").is_dir());
}

#[tokio::test]
async fn members_download_a_folder_as_a_zip_that_unzips_byte_for_byte() {
    let app = spawn_app().await;
    for user in ["alice", "bob", "carol"] {
        app.add_user(user, None, true).await;
    }
    let alice = device(&app, "alice").await;
    let bob = device(&app, "bob").await;
    let team = create_workspace(&alice, "Team").await;
    share(&alice, &team, &bob, "bob", Role::Viewer).await;
    let writer = writer_in(&app, "alice", &team).await;
    let album = album(&app, &writer).await;
    let ws = team.workspace_id;
    let zip_path = format!("/files/{ws}/{}/zip", album.folder.id);

    // A viewer finds the link on the folder's page and gets the zip.
    let mut viewer = Browser::new(&app);
    viewer.sign_in("bob").await;
    let (status, page) = viewer
        .html(&format!("/files/{ws}/{}", album.folder.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("href=\"{zip_path}\"")), "{page}");
    let zipped = viewer.get(&zip_path).await;
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-type"], "application/zip");
    let disposition = zipped.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename=\"Album.zip\""),
        "{disposition}"
    );
    // Its length is announced before the first byte, and is the zip's.
    let announced = zipped.content_length().expect("a Content-Length");
    let zipped = zipped.bytes().await.unwrap();
    assert_eq!(announced, zipped.len() as u64);
    assert_is_the_album(&unzip(&zipped), &album);

    // The owner zips a subfolder, and the whole workspace.
    let mut owner = Browser::new(&app);
    owner.sign_in("alice").await;
    let inner = owner
        .get(&format!("/files/{ws}/{}/zip", album.inner.id))
        .await;
    let inner = unzip(&inner.bytes().await.unwrap());
    assert_eq!(inner.names, ["café ☕.txt", "deeper/"]);
    let everything = owner.get(&format!("/files/{ws}/zip")).await;
    assert!(
        everything.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Team.zip")
    );
    let announced = everything.content_length();
    let everything = everything.bytes().await.unwrap();
    assert_eq!(announced, Some(everything.len() as u64));
    let everything = unzip(&everything);
    assert_eq!(everything.bytes("Album/big.bin"), album.big);
    assert_eq!(everything.bytes("outside.txt"), b"not in the album");

    // A file is not zipped; strangers and the signed-out get nothing.
    let (status, _) = owner
        .html(&format!("/files/{ws}/{}/zip", album.outside.id))
        .await;
    assert_eq!(status, 400);
    let mut stranger = Browser::new(&app);
    stranger.sign_in("carol").await;
    for path in [zip_path.clone(), format!("/files/{ws}/zip")] {
        let (status, body) = stranger.html(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("big.bin"));
        let anonymous = Browser::new(&app).get(&path).await;
        assert_eq!(anonymous.status(), 303, "{path}");
    }
}

#[tokio::test]
async fn a_folder_over_the_caps_is_refused_before_anything_is_sent() {
    let app = spawn_app_with(|settings| {
        settings.zip_max_entries = 3;
        settings.zip_max_bytes = 1000;
    })
    .await;
    app.add_user("alice", None, true).await;
    let alice = device(&app, "alice").await;
    let many = folder("many", None);
    let large = folder("large", None);
    let fits = folder("fits", None);
    let mut items = vec![many.clone(), large.clone(), fits.clone()];
    for n in 0..4 {
        items.push(file(&app, &alice, &format!("{n}.txt"), Some(many.id), b"x").await);
    }
    items.push(file(&app, &alice, "big.bin", Some(large.id), &noise(2000, 1)).await);
    items.push(file(&app, &alice, "a.txt", Some(fits.id), &noise(500, 2)).await);
    items.push(file(&app, &alice, "b.txt", Some(fits.id), &noise(500, 3)).await);
    commit(&alice, items).await;
    let ws = alice.workspace.workspace_id;
    let mut browser = Browser::new(&app);
    browser.sign_in("alice").await;

    let (status, page) = browser.html(&format!("/files/{ws}/{}/zip", many.id)).await;
    assert_eq!(status, 400);
    assert!(page.contains("more than 3 files and folders"), "{page}");
    let (status, page) = browser.html(&format!("/files/{ws}/{}/zip", large.id)).await;
    assert_eq!(status, 400);
    assert!(page.contains("more than 1000 B"), "{page}");
    let fitting = browser.get(&format!("/files/{ws}/{}/zip", fits.id)).await;
    assert_eq!(fitting.status(), 200);
    assert_eq!(
        unzip(&fitting.bytes().await.unwrap()).names,
        ["a.txt", "b.txt"]
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_cuts_the_zip_off() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = device(&app, "alice").await;
    let album = folder("Album", None);
    let first = file(&app, &alice, "a.bin", Some(album.id), &noise(600_000, 1)).await;
    let blobs_before = files_under(app.objects_dir.path());
    let second = file(&app, &alice, "b.bin", Some(album.id), &noise(600_000, 2)).await;
    commit(&alice, vec![album.clone(), first, second]).await;
    // The second file's chunks rot on disk.
    let rotten: Vec<String> = files_under(app.objects_dir.path())
        .into_iter()
        .filter(|blob| !blobs_before.contains(blob))
        .collect();
    assert!(!rotten.is_empty());
    for blob in &rotten {
        let path = app.objects_dir.path().join(blob);
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        std::fs::write(&path, vec![0u8; len]).unwrap();
    }
    let mut browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let ws = alice.workspace.workspace_id;
    let response = browser.get(&format!("/files/{ws}/{}/zip", album.id)).await;
    assert_eq!(response.status(), 200, "the zip had started");
    assert!(response.content_length().is_some());
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "a zip cut short must not end like a whole one: {} bytes",
        body.map(|b| b.len()).unwrap_or(0)
    );
}

fn now_millis() -> TimestampMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn create_link(creator: &Device, args: CreateLinkArgs) -> CreatedLink {
    let created: CreatedLink = creator
        .rpc
        .call(Some(&creator.token), Operation::CreateLink(args))
        .await
        .expect("createLink");
    record_secret("link token", &created.token.0);
    created
}

#[tokio::test]
async fn a_folder_link_zips_under_its_password_download_limit_and_expiry() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let alice = device(&app, "alice").await;
    let album = album(&app, &alice).await;
    let ws = alice.workspace.workspace_id;
    let password = "zip it up please";
    record_secret("link password", password);
    let limited = create_link(
        &alice,
        CreateLinkArgs {
            workspace_id: ws,
            item_id: Some(album.folder.id),
            expires_at: None,
            password: Some(Password(password.into())),
            max_downloads: Some(1),
        },
    )
    .await;
    let base = format!("/s/{}", limited.token.0);
    let mut visitor = Browser::new(&app);

    let asked = visitor.get(&format!("{base}/zip")).await;
    assert_eq!(asked.status(), 401, "the password first");
    let unlocked = visitor.post(&base, &[("password", password)]).await;
    assert_eq!(unlocked.status(), 303);
    let (status, page) = visitor.html(&base).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("href=\"{base}/zip\"")), "{page}");
    let zipped = visitor.get(&format!("{base}/zip")).await;
    assert_eq!(zipped.status(), 200);
    assert_is_the_album(&unzip(&zipped.bytes().await.unwrap()), &album);
    let again = visitor.get(&format!("{base}/zip")).await;
    assert_eq!(again.status(), 404, "one download allowed, one zip counted");

    // A subfolder of a link zips alone, until the link expires.
    let expiring = create_link(
        &alice,
        CreateLinkArgs {
            workspace_id: ws,
            item_id: Some(album.folder.id),
            expires_at: Some(now_millis() + 1500),
            password: None,
            max_downloads: None,
        },
    )
    .await;
    let inner = format!("/s/{}/{}/zip", expiring.token.0, album.inner.id);
    let zipped = Browser::new(&app).get(&inner).await;
    assert_eq!(zipped.status(), 200);
    assert_eq!(
        unzip(&zipped.bytes().await.unwrap()).names,
        ["café ☕.txt", "deeper/"]
    );
    let outside = format!("/s/{}/{}/zip", expiring.token.0, Uuid::new_v4());
    assert_eq!(Browser::new(&app).get(&outside).await.status(), 404);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(Browser::new(&app).get(&inner).await.status(), 404);
}
