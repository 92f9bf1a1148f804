//! Full disks, for real (a small tmpfs that a filler file fills up):
//!
//! * the sync folder's: a download that does not fit replaces nothing, backs
//!   off on its own and says "disk full" in `nimbus status`; other files
//!   that fit keep coming; once space is freed the download completes by
//!   itself;
//! * the object store's: a device's upload meets `507 Insufficient Storage`,
//!   commits nothing, and goes through once space is freed;
//! * the state database's: a save fails with a clear error and changes
//!   nothing, and the next save after space is freed writes everything.

use std::time::Duration;

use nimbus_client::engine::{Node, StateStore, Trees};
use nimbus_client::error::Error;
use nimbus_client::state::SqliteStore;
use uuid::Uuid;

use crate::helpers::{
    Cluster, deadline_wait, failures, file_digest, list_files, status, wait_for_status,
    write_random_file,
};
use crate::small_disk::SmallDisk;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_folder_keeps_its_files_and_the_download_resumes_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(24 << 20) else {
        return;
    };
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let laptop = cluster.device("alice", "laptop").await;
    write_random_file(&laptop.root.join("video.bin"), 1 << 20, 1);
    laptop.sync().await;
    let first_version = file_digest(&laptop.root.join("video.bin"));
    let desktop = cluster.device("alice", "desktop").await;
    let folder = disk.path().join("Nimbus");
    let syncing = desktop.start_at(&folder).await;
    deadline_wait("the first version arrives", || {
        let path = folder.join("video.bin");
        path.exists() && file_digest(&path) == first_version
    })
    .await;

    // The desktop's disk fills; a new version bigger than what is left
    // cannot come down.
    disk.fill_leaving(512 << 10);
    write_random_file(&laptop.root.join("video.bin"), 4 << 20, 2);
    laptop.sync().await;
    let second_version = file_digest(&laptop.root.join("video.bin"));
    let report = wait_for_status(&desktop.config.path, "the download is stuck", |s| {
        s.contains("stuck downloads: 1")
    })
    .await;
    assert!(
        report.contains("video.bin: disk full") && report.contains("Free space on that disk"),
        "{report}"
    );
    assert_eq!(file_digest(&folder.join("video.bin")), first_version);
    // Backing off (1 s, 2 s, 4 s, …): a handful of tries in 6 s, not
    // hundreds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let later = status(&desktop.config.path).await;
    let tries = failures(&later).expect("still stuck");
    assert!((2..=5).contains(&tries), "{tries} tries in 6 s:\n{later}");
    assert_eq!(file_digest(&folder.join("video.bin")), first_version);

    // A file that fits is not held up.
    std::fs::write(laptop.root.join("notes.txt"), b"still syncing").unwrap();
    laptop.sync().await;
    deadline_wait("a small file comes down meanwhile", || {
        std::fs::read(folder.join("notes.txt")).is_ok_and(|b| b == b"still syncing")
    })
    .await;

    // Space freed: the download completes by itself.
    disk.free();
    deadline_wait("the new version arrives", || {
        file_digest(&folder.join("video.bin")) == second_version
    })
    .await;
    wait_for_status(&desktop.config.path, "the status is clear", |s| {
        !s.contains("stuck downloads")
    })
    .await;
    let temporary = std::fs::read_dir(folder.join(".nimbus/tmp")).unwrap();
    let leftovers: Vec<String> = temporary
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    syncing.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_to_a_full_object_store_commits_nothing_until_space_is_freed() {
    let Some(disk) = SmallDisk::mount(16 << 20) else {
        return;
    };
    let objects = disk.path().join("objects");
    std::fs::create_dir(&objects).unwrap();
    let cluster = Cluster::spawn_storing_in(&objects).await;
    cluster.add_user("alice").await;
    let laptop = cluster.device("alice", "laptop").await;
    let desktop = cluster.device("alice", "desktop").await;
    laptop.sync().await;
    desktop.sync().await;

    disk.fill_leaving(1 << 20);
    write_random_file(&laptop.root.join("report.bin"), 4 << 20, 3);
    let expected = file_digest(&laptop.root.join("report.bin"));
    let uploading = laptop.start().await;
    let report = wait_for_status(&laptop.config.path, "the upload fails", |s| {
        s.contains("last error")
    })
    .await;
    assert!(
        report.contains("object store is full") && report.contains("507"),
        "{report}"
    );
    // Nothing was committed: another device sees no such file.
    desktop.sync().await;
    assert!(list_files(&desktop.root).is_empty());

    disk.free();
    let syncing = desktop.start().await;
    deadline_wait("the file goes up and comes down", || {
        let path = desktop.root.join("report.bin");
        path.exists() && file_digest(&path) == expected
    })
    .await;
    uploading.stop().await;
    syncing.stop().await;
    cluster.stop().await;
}

/// A file node named `name`, with a name long enough to make saves large.
fn file_node(name: String) -> Node {
    Node {
        id: Uuid::new_v4(),
        parent: None,
        name,
        is_folder: false,
        size: 1,
        hash: Some(format!("blake3:{}", "ab".repeat(32))),
        version: 1,
        mtime: 1,
        inode: 1,
        chunks: vec![],
        chunker: None,
        chunk_workspace: None,
    }
}

#[tokio::test]
async fn the_state_database_survives_a_full_disk_and_catches_up_after() {
    let Some(disk) = SmallDisk::mount(16 << 20) else {
        return;
    };
    let path = disk.path().join("state.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut trees = Trees::default();
    for n in 0..10 {
        trees.remote.insert(file_node(format!("kept {n}")));
    }
    store.save(&mut trees, 1).await.unwrap();

    disk.fill();
    for n in 0..10_000 {
        trees
            .remote
            .insert(file_node(format!("{n} {}", "x".repeat(200))));
    }
    let error = store.save(&mut trees, 2).await.unwrap_err();
    assert!(matches!(error, Error::StateDiskFull { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("disk full") && message.contains("Nothing is lost"),
        "{message}"
    );
    let loaded = store.load().await.unwrap();
    assert_eq!((loaded.trees.remote.len(), loaded.cursor), (10, 1));

    disk.free();
    store.save(&mut trees, 2).await.unwrap();
    store.close().await;
    let reopened = SqliteStore::open(&path).await.unwrap();
    let loaded = reopened.load().await.unwrap();
    assert_eq!(loaded.trees.remote, trees.remote);
    assert_eq!(loaded.cursor, 2);
    reopened.close().await;
}
