//! `nimbus share` on a folder of the default workspace: the folder becomes a
//! workspace of its own (`convertFolder`) and stays where it is on every
//! device of its owner's, running or offline meanwhile: nothing on disk is
//! deleted, and no byte of it is downloaded or uploaded again. An edit made
//! after the conversion reaches the owner's other devices and the member.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::helpers::{Cluster, deadline_wait, list_files, write_random_file};
use crate::sharing::{offer_id, ok, refused};

/// The inode of every file under `root` (outside `.nimbus`): a download
/// lands in a new file renamed into place, which changes it.
fn inodes(root: &Path) -> BTreeMap<String, u64> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".nimbus")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let path = e.path().strip_prefix(root).unwrap().to_string_lossy();
            (path.into_owned(), e.metadata().unwrap().ino())
        })
        .collect()
}

fn holds(path: &Path, bytes: &[u8]) -> bool {
    std::fs::read(path).ok().as_deref() == Some(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_folder_stays_in_place_on_the_owners_devices() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    cluster.add_user("bob").await;
    let laptop = cluster.device("alice", "laptop").await;
    let desktop = cluster.device("alice", "desktop").await;
    let tablet = cluster.device("alice", "tablet").await;
    let bob = cluster.device("bob", "phone").await;
    let (alice_config, bob_config) = (laptop.config.path.as_path(), bob.config.path.as_path());

    let photos = laptop.root.join("docs/Photos");
    std::fs::create_dir_all(photos.join("june")).unwrap();
    std::fs::write(photos.join("notes.txt"), b"first").unwrap();
    write_random_file(&photos.join("june/beach.bin"), 300_000, 7);
    std::fs::write(laptop.root.join("docs/own.txt"), b"stays mine").unwrap();
    laptop.sync().await;
    for device in [&desktop, &tablet] {
        device.sync().await;
    }
    let devices = [&laptop, &desktop, &tablet];
    let before: Vec<_> = devices
        .iter()
        .map(|d| (list_files(&d.root), inodes(&d.root)))
        .collect();
    let versions = cluster.item_versions().await;

    // A folder that is not on the server is refused, and so is the
    // default workspace's own folder.
    std::fs::create_dir_all(laptop.root.join("never synced")).unwrap();
    let refusal = refused(
        alice_config,
        &[
            "share",
            laptop.root.join("never synced").to_str().unwrap(),
            "--with",
            "bob",
            "--role",
            "editor",
        ],
    )
    .await;
    assert!(
        refusal.stderr.contains("has not reached the server"),
        "{}",
        refusal.stderr
    );
    std::fs::remove_dir(laptop.root.join("never synced")).unwrap();

    // The tablet is offline meanwhile.
    let mut running = vec![laptop.start().await, desktop.start().await];
    for device in &mut running {
        device.first_round().await;
    }
    ok(
        alice_config,
        &[
            "share",
            photos.to_str().unwrap(),
            "--with",
            "bob",
            "--role",
            "editor",
        ],
    )
    .await;
    for device in [&laptop, &desktop] {
        let marker = device.root.join("docs/Photos/.nimbus/root-id");
        deadline_wait("the folder is handed to its mount", || marker.is_file()).await;
    }
    // An edit after the conversion reaches the other device, through the
    // new workspace.
    std::fs::write(photos.join("notes.txt"), b"edited after").unwrap();
    deadline_wait("the edit reaches the desktop", || {
        holds(&desktop.root.join("docs/Photos/notes.txt"), b"edited after")
    })
    .await;

    // The member accepts and gets it.
    let list = ok(bob_config, &["share", "list"]).await;
    ok(
        bob_config,
        &["share", "accept", &offer_id(&list, &["pending"])],
    )
    .await;
    running.push(bob.start().await);
    deadline_wait("the edit reaches the member", || {
        holds(&bob.root.join("Photos/notes.txt"), b"edited after")
    })
    .await;
    // The rest once the proxy has re-keyed it into the new workspace's
    // container (the member has no access to the owner's own).
    let beach = std::fs::read(photos.join("june/beach.bin")).unwrap();
    deadline_wait("the re-keyed file reaches the member", || {
        holds(&bob.root.join("Photos/june/beach.bin"), &beach)
    })
    .await;

    // The offline device comes back and hands the folder over the same way;
    // a file written there while it was away goes up into the new workspace.
    std::fs::write(tablet.root.join("docs/Photos/from-tablet.txt"), b"offline").unwrap();
    running.push(tablet.start().await);
    let marker = tablet.root.join("docs/Photos/.nimbus/root-id");
    deadline_wait("the tablet hands the folder to its mount", || {
        marker.is_file()
    })
    .await;
    deadline_wait("the edit reaches the tablet", || {
        holds(&tablet.root.join("docs/Photos/notes.txt"), b"edited after")
    })
    .await;
    for file in [
        laptop.root.join("docs/Photos/from-tablet.txt"),
        desktop.root.join("docs/Photos/from-tablet.txt"),
        bob.root.join("Photos/from-tablet.txt"),
    ] {
        deadline_wait("the tablet's file reaches the others", || {
            holds(&file, b"offline")
        })
        .await;
    }

    // Nothing deleted, nothing else downloaded: every other file is the
    // same file on disk. Nothing uploaded but the two changes: the versions
    // are those of before, plus the folder's deletion in the old workspace,
    // the edit and the tablet's file.
    for (device, (files, inodes_before)) in devices.iter().zip(&before) {
        let mut now = list_files(&device.root);
        assert_eq!(
            now.remove("docs/Photos/from-tablet.txt"),
            Some(Some(b"offline".to_vec()))
        );
        let mut files = files.clone();
        assert_eq!(
            now.remove("docs/Photos/notes.txt"),
            Some(Some(b"edited after".to_vec()))
        );
        files.remove("docs/Photos/notes.txt");
        assert_eq!(now, files, "{}", device.root.display());
        let mut inodes_now = inodes(&device.root);
        let mut inodes_before = inodes_before.clone();
        inodes_now.remove("docs/Photos/notes.txt");
        inodes_now.remove("docs/Photos/from-tablet.txt");
        inodes_before.remove("docs/Photos/notes.txt");
        assert_eq!(inodes_now, inodes_before, "{}", device.root.display());
    }
    assert_eq!(cluster.item_versions().await, versions + 3);

    // The owner's own file beside it stayed in the owner's workspace.
    assert!(holds(&tablet.root.join("docs/own.txt"), b"stays mine"));
    for device in running {
        device.stop().await;
    }
    cluster.stop().await;
}
