//! Backup and restore (docs/operations.md): a device writes and deletes
//! files, `scripts/backup.sh` runs while it goes on writing, the databases
//! and the object store are wiped, `scripts/restore.sh` brings them back,
//! and the same device carries on: everything acknowledged before the
//! backup began is there with all its bytes, nothing deleted before it came
//! back, every file the restored metadata lists can be read whole (the
//! backup is consistent), and the device's next commits are accepted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nimbus_chunks::{ChunkerParams, WorkspaceKeys, open_chunk};
use nimbus_protocol::rpc::{CommitArgs, CommitItem, Content, ItemOutcome, ItemState};
use nimbus_proxy::config::Settings;
use nimbus_proxy::startup::Application;
use nimbus_server::storage::MetadataStore;
use sqlx::Postgres;
use sqlx::migrate::MigrateDatabase;
use tokio::process::Command;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::{
    Device, TestApp, device, init_logging, live_items, metadata_server_settings, noise,
    proxy_settings, upload_chunks,
};

/// A running proxy and metadata server, and how to stop them.
struct Running {
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}

/// Starts the proxy of `app.settings` and the metadata server of run `run`
/// (whose databases exist), and points `app` at them.
async fn start(app: &mut TestApp, run: &str) -> Running {
    let (address, metadata, running) = start_services(&app.settings, run).await;
    app.address = address;
    app.metadata = metadata;
    running
}

/// Starts the proxy of `settings` and the metadata server of run `run`;
/// returns the proxy's address and the server's store.
async fn start_services(
    settings: &Settings,
    run: &str,
) -> (String, Arc<dyn MetadataStore>, Running) {
    let proxy = Application::build(settings.clone())
        .await
        .expect("the proxy starts");
    let address = format!("http://127.0.0.1:{}", proxy.port());
    let server =
        nimbus_server::startup::Application::build(metadata_server_settings(run, &address))
            .await
            .expect("the metadata server starts");
    let metadata = server.store();
    let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let tasks = vec![
        tokio::spawn(async move {
            let stopped = async {
                let _ = proxy_stopped.await;
            };
            proxy.run_until_stopped(stopped).await.unwrap();
        }),
        tokio::spawn(async move {
            let stopped = async {
                let _ = server_stopped.await;
            };
            server.run_until_stopped(stopped).await.unwrap();
        }),
    ];
    let running = Running {
        stops: vec![stop_proxy, stop_server],
        tasks,
    };
    (address, metadata, running)
}

/// The variables `scripts/backup.sh` and `restore.sh` read.
fn deployment_env(app: &TestApp, run: &str) -> [(&'static str, String); 3] {
    [
        (
            "NIMBUS_DATABASE_URL",
            metadata_server_settings(run, "").database_url,
        ),
        (
            "NIMBUS_PROXY_DATABASE_URL",
            app.settings.database_url.clone(),
        ),
        (
            "NIMBUS_PROXY_STORAGE__OPTIONS__ROOT",
            app.objects_dir.path().display().to_string(),
        ),
    ]
}

async fn script(name: &str, app: &TestApp, run: &str, dir: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scripts/{name}"));
    let output = Command::new(path)
        .arg(dir)
        .envs(deployment_env(app, run))
        .output()
        .await
        .unwrap();
    nimbus_server::test_log::append_output(name, &output.stderr);
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A file the device committed: what it holds and when the commit was
/// acknowledged.
struct Written {
    id: Uuid,
    seed: u64,
    size: usize,
    version: u64,
    acked: Instant,
}

/// What the device did, in order.
#[derive(Default)]
struct Ledger {
    written: Vec<Written>,
    /// Deleted files and when the deletion was acknowledged.
    deleted: Vec<(Uuid, Instant)>,
}

async fn commit_one(laptop: &Device, item: CommitItem) -> u64 {
    let reply = laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: laptop.workspace.workspace_id,
                items: vec![item],
            },
        )
        .await
        .unwrap();
    match reply.results[0].outcome {
        ItemOutcome::Committed { version, .. } => version,
        ref other => panic!("{other:?}"),
    }
}

/// One step of the device's work: a new file (every third one small enough
/// to live in the proxy's index, the others in the object store), and every
/// third step the deletion of the oldest file still live.
async fn step(app: &TestApp, laptop: &Device, ledger: &mut Ledger, n: u64) {
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let size: usize = if n.is_multiple_of(3) {
        3_000
    } else {
        40_000 + 7_000 * (n % 5) as usize
    };
    let data = noise(size, n);
    let (chunks, content_hash, _) = upload_chunks(
        &app.client,
        &laptop.container_url,
        &laptop.swift_token,
        &keys,
        &data,
    )
    .await;
    let id = Uuid::now_v7();
    let version = commit_one(
        laptop,
        CommitItem {
            id,
            base_version: 0,
            parent_id: None,
            name: format!("file-{n}.bin"),
            is_folder: false,
            deleted: false,
            modified_at: 1_700_000_000_000,
            content: Content {
                size: size as u64,
                content_hash: Some(content_hash),
                chunks,
                chunker: Some(ChunkerParams::DEFAULT.describe()),
            },
        },
    )
    .await;
    ledger.written.push(Written {
        id,
        seed: n,
        size,
        version,
        acked: Instant::now(),
    });
    if n % 3 == 2 {
        let victim = ledger
            .written
            .iter()
            .find(|w| !ledger.deleted.iter().any(|(id, _)| *id == w.id))
            .expect("a live file");
        let (id, version) = (victim.id, victim.version);
        let name = format!("file-{}.bin", victim.seed);
        commit_one(
            laptop,
            CommitItem {
                id,
                base_version: version,
                parent_id: None,
                name,
                is_folder: false,
                deleted: true,
                modified_at: 1_700_000_000_000,
                content: Content::default(),
            },
        )
        .await;
        ledger.deleted.push((id, Instant::now()));
    }
}

/// The bytes of `item`, read chunk by chunk through the Swift API.
async fn read_back(app: &TestApp, laptop: &Device, item: &ItemState) -> Vec<u8> {
    let keys = WorkspaceKeys::plain(laptop.workspace.workspace_id);
    let mut bytes = Vec::new();
    for chunk in &item.content.chunks {
        let response = app
            .client
            .get(format!("{}/{}", laptop.container_url, chunk.id))
            .header("X-Auth-Token", &laptop.swift_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "chunk {} of {}",
            chunk.id,
            item.name
        );
        let sealed = response.bytes().await.unwrap();
        bytes.extend(open_chunk(&keys, &chunk.id, &sealed).unwrap());
    }
    bytes
}

#[tokio::test]
async fn a_backup_taken_while_a_device_writes_restores_everything_acknowledged_before_it() {
    init_logging();
    let run = Uuid::new_v4().simple().to_string();
    let objects_dir = tempfile::tempdir().unwrap();
    let settings: Settings = proxy_settings(&run, objects_dir.path());
    let server_db = metadata_server_settings(&run, "").database_url;
    Postgres::create_database(&server_db).await.unwrap();
    let (address, metadata, running) = start_services(&settings, &run).await;
    let mut app = TestApp {
        address,
        client: reqwest::Client::new(),
        metadata,
        objects_dir,
        settings,
    };
    app.add_user("alice", None, true).await;
    let mut laptop = device(&app, "alice").await;

    let mut ledger = Ledger::default();
    let mut n = 0;
    while n < 9 {
        step(&app, &laptop, &mut ledger, n).await;
        n += 1;
    }
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("backup");
    let backup_started = Instant::now();
    let backup_done = AtomicBool::new(false);
    let writing = async {
        let mut during = 0;
        while !backup_done.load(Ordering::SeqCst) {
            step(&app, &laptop, &mut ledger, n).await;
            n += 1;
            during += 1;
        }
        during
    };
    let backing_up = async {
        script("backup.sh", &app, &run, &backup).await;
        backup_done.store(true, Ordering::SeqCst);
    };
    let (during, ()) = tokio::join!(writing, backing_up);
    assert!(during > 0, "the device wrote while the backup ran");

    running.stop().await;
    Postgres::force_drop_database(&server_db).await.unwrap();
    Postgres::force_drop_database(&app.settings.database_url)
        .await
        .unwrap();
    std::fs::remove_dir_all(app.objects_dir.path()).unwrap();
    script("restore.sh", &app, &run, &backup).await;
    let old_address = app.address.clone();
    let running = start(&mut app, &run).await;
    laptop.container_url = laptop.container_url.replace(&old_address, &app.address);

    let live = live_items(&laptop).await;
    let deleted_before = |id| {
        ledger
            .deleted
            .iter()
            .any(|(deleted, at)| *deleted == id && *at < backup_started)
    };
    let deleted_ever = |id| ledger.deleted.iter().any(|(deleted, _)| *deleted == id);
    for written in &ledger.written {
        let restored = live.iter().find(|item| item.id == written.id);
        if deleted_before(written.id) {
            assert!(
                restored.is_none(),
                "file {} was deleted before the backup",
                written.seed
            );
        } else if written.acked < backup_started && !deleted_ever(written.id) {
            let restored = restored.unwrap_or_else(|| {
                panic!("file {} was acknowledged before the backup", written.seed)
            });
            assert_eq!(restored.version, written.version);
        }
    }
    // Whatever the restored metadata lists, written before, during or
    // after the start of the backup, is whole: no file names a chunk the
    // restored store lacks.
    for item in &live {
        let written = ledger
            .written
            .iter()
            .find(|w| w.id == item.id)
            .unwrap_or_else(|| panic!("{} was never written", item.name));
        assert_eq!(
            read_back(&app, &laptop, item).await,
            noise(written.size, written.seed),
            "{}",
            item.name
        );
    }

    let acked_during = |w: &&Written| w.acked >= backup_started;
    println!(
        "files written before the backup {}, during it {}; deleted before it {}; \
         live after the restore {}, of them written during the backup {}",
        ledger.written.len() - during,
        during,
        ledger
            .deleted
            .iter()
            .filter(|(_, at)| *at < backup_started)
            .count(),
        live.len(),
        ledger
            .written
            .iter()
            .filter(acked_during)
            .filter(|w| live.iter().any(|item| item.id == w.id))
            .count(),
    );

    // The device carries on with its own token: a change to a restored
    // file, based on the restored version, and new files are accepted.
    // (Its deletion, if the device made one after the backup, was undone.)
    let kept = live.first().expect("files survive");
    let renamed = commit_one(
        &laptop,
        CommitItem {
            id: kept.id,
            base_version: kept.version,
            parent_id: None,
            name: "renamed-after-restore.bin".into(),
            is_folder: false,
            deleted: false,
            modified_at: 1_700_000_000_001,
            content: kept.content.clone(),
        },
    )
    .await;
    assert_eq!(renamed, kept.version + 1);
    step(&app, &laptop, &mut ledger, n).await;
    running.stop().await;
}
