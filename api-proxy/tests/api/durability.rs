//! Crash safety of the blob store: an upload cut short by killing the proxy
//! leaves nothing once the proxy is back, and blobs no object refers to are
//! swept while referenced ones stay.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use nimbus_proxy::blobs::{OpendalBlobStore, new_blob_key};
use nimbus_proxy::config::Settings;
use nimbus_proxy::index::postgres::PgIndex;
use nimbus_proxy::sweeper::{SweepReport, sweep};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::helpers::{
    TestApp, files_under, init_logging, proxy_settings, spawn_app, start_metadata_server,
};

/// The `nimbus-proxy` binary, configured through its environment variables.
async fn start_proxy_process(settings: &Settings) -> Child {
    let address = format!("http://{}", settings.listen);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nimbus-proxy"))
        .env("NIMBUS_PROXY_LISTEN", settings.listen.to_string())
        .env("NIMBUS_PROXY_DATABASE_URL", &settings.database_url)
        .env("NIMBUS_PROXY_AMQP_URL", &settings.amqp_url)
        .env("NIMBUS_PROXY_QUEUE_PREFIX", &settings.queue_prefix)
        .env("NIMBUS_PROXY_STORAGE__SCHEME", &settings.storage.scheme)
        .env(
            "NIMBUS_PROXY_STORAGE__OPTIONS__ROOT",
            &settings.storage.options["root"],
        )
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nimbus-proxy");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = reqwest::get(format!("{address}/info")).await
            && response.status().is_success()
        {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("nimbus-proxy exited during start-up: {status}");
        }
        assert!(Instant::now() < deadline, "nimbus-proxy did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_local_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_upload_cut_short_by_killing_the_proxy_leaves_nothing_after_restart() {
    init_logging();
    let run = Uuid::new_v4().simple().to_string();
    let objects_dir = tempfile::tempdir().unwrap();
    let mut settings = proxy_settings(&run, objects_dir.path());
    settings.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, free_local_port()));
    let address = format!("http://{}", settings.listen);
    let mut proxy = start_proxy_process(&settings).await;
    let app = TestApp {
        metadata: start_metadata_server(&run, &address).await,
        address,
        client: reqwest::Client::new(),
        objects_dir,
        settings,
    };
    let alice = app.login_new_user("alice").await;
    let created = alice.request(&app.client, "PUT", "c").send().await.unwrap();
    assert_eq!(created.status(), 201);

    // Half of a 1 MiB body, then the proxy dies while waiting for the rest.
    let path = alice.storage_url.trim_start_matches(&app.address);
    let head = format!(
        "PUT {path}/c/torn HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nContent-Length: {}\r\n\r\n",
        alice.token,
        1 << 20
    );
    let mut socket = tokio::net::TcpStream::connect(app.settings.listen)
        .await
        .unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&[7; 512 * 1024]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while files_under(app.objects_dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let partial = files_under(app.objects_dir.path());
    assert!(
        partial.iter().all(|file| file.starts_with("tmp/")),
        "an unfinished upload is only ever a temporary file: {partial:?}"
    );
    proxy.kill().await.unwrap();
    drop(socket);
    assert_eq!(files_under(app.objects_dir.path()), partial);

    let _restarted = start_proxy_process(&app.settings).await;
    assert_eq!(files_under(app.objects_dir.path()), Vec::<String>::new());
    let torn = alice
        .request(&app.client, "HEAD", "c/torn")
        .send()
        .await
        .unwrap();
    assert_eq!(torn.status(), 404);
}

/// Writes `path` (creating its directory) and dates it `age` back.
fn plant_file(path: &Path, age: Duration) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"left behind").unwrap();
    set_age(path, age);
    path.to_owned()
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn old_unreferenced_blobs_are_swept_and_referenced_ones_kept() {
    let app = spawn_app().await;
    let alice = app.login_new_user("alice").await;
    let created = alice.request(&app.client, "PUT", "c").send().await.unwrap();
    assert_eq!(created.status(), 201);
    // Larger than the inline limit, so that it has a blob.
    let kept = vec![7; app.settings.inline_object_max_bytes as usize + 1];
    let put = alice
        .request(&app.client, "PUT", "c/kept")
        .body(kept.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let root = app.objects_dir.path();
    let referenced = root.join(&files_under(root)[0]);

    // Older than the grace period of this sweep, younger than the proxy's
    // own (an hour), so that its background sweeps leave them to this one.
    let age = Duration::from_secs(30 * 60);
    let grace = Duration::from_secs(10 * 60);
    set_age(&referenced, age);
    let old_orphan = plant_file(&root.join(new_blob_key()), age);
    let young_orphan = plant_file(&root.join(new_blob_key()), Duration::ZERO);
    let foreign = plant_file(&root.join("notes.txt"), age);
    let stale_upload = plant_file(&root.join("tmp/upload.partial"), age);

    let index = PgIndex::connect(&app.settings.database_url, Duration::ZERO)
        .await
        .unwrap();
    let blobs = OpendalBlobStore::from_settings(&app.settings.storage).unwrap();
    let report = sweep(&index, &blobs, grace).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            orphans: 1,
            partial_uploads: 1
        }
    );
    assert!(!old_orphan.exists());
    assert!(!stale_upload.exists());
    assert!(young_orphan.exists(), "within the grace period");
    assert!(foreign.exists(), "not a blob key");
    let get = alice
        .request(&app.client, "GET", "c/kept")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.bytes().await.unwrap(), kept);
}
