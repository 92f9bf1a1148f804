//! A chunk lost by the object store behind the proxy's back: the device that
//! cannot download the file backs off, says so in `nimbus status` and reports
//! it; a device that has the file uploads the chunk again, and the workspace
//! heals.

use std::time::Duration;

use crate::helpers::{Cluster, deadline_wait, failures, file_digest, status, write_random_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_lost_by_the_store_heals_from_a_device_that_has_the_file() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let laptop = cluster.device("alice", "laptop").await;
    write_random_file(&laptop.root.join("report.bin"), 3 << 20, 5);
    std::fs::write(laptop.root.join("small.txt"), b"not held up").unwrap();
    laptop.sync().await;
    let expected = file_digest(&laptop.root.join("report.bin"));
    // The small file lives in the proxy's index; the blobs are the chunks
    // of report.bin. One goes.
    let blobs = cluster.blob_files();
    assert!(blobs.len() > 1, "{blobs:?}");
    std::fs::remove_file(&blobs[0]).unwrap();

    // A new device links the workspace while the laptop is away.
    let desktop = cluster.device("alice", "desktop").await;
    let stuck = desktop.start().await;
    deadline_wait("the other files are not held up", || {
        desktop.root.join("small.txt").exists()
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        let report = status(&desktop.config.path).await;
        if report.contains("stuck downloads: 1") {
            break report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck download never shows in the status:\n{report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        first.contains("report.bin") && first.contains("missing from the object store"),
        "{first}"
    );
    // Backing off (1 s, 2 s, 4 s, …): a handful of tries in 6 s, not
    // hundreds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let later = status(&desktop.config.path).await;
    let tries = failures(&later).expect("still stuck");
    assert!((2..=5).contains(&tries), "{tries} tries in 6 s:\n{later}");
    assert!(!desktop.root.join("report.bin").exists());

    // The laptop comes back: it hears the next report and uploads the lost
    // chunk again, and the desktop's next try succeeds.
    let healer = laptop.start().await;
    deadline_wait("the workspace heals", || {
        let path = desktop.root.join("report.bin");
        path.exists() && file_digest(&path) == expected
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status(&desktop.config.path)
        .await
        .contains("stuck downloads")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the status still lists a stuck download"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stuck.stop().await;
    healer.stop().await;
    cluster.stop().await;
}
