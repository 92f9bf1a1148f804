//! End to end: a metadata server and a proxy in this process (each on its
//! own fresh PostgreSQL database and a random queue prefix on the local
//! RabbitMQ), and desktop clients with their own configuration directories
//! and folders: in-process sessions, and the real `nimbus` binary.
//!
//! Changes are awaited by polling the folders with a generous deadline; no
//! test asserts on speed.
//!
//! `NIMBUS_E2E_LARGE_MIB` sets the size of the large-file round trip
//! (default 1024: a 1 GiB file; e.g. 64 for a quick run).

mod case_insensitive;
mod chunk_heal;
mod conversion;
mod encrypted;
mod faults;
mod full_disk;
mod helpers;
mod links;
mod sharing;
#[path = "../../../api-proxy/tests/api/small_disk.rs"]
mod small_disk;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use helpers::{
    Cluster, deadline_wait, file_digest, list_files, nimbus, random_bytes, write_random_file,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_one_device_show_on_the_others() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let a = cluster.device("alice", "laptop").await;
    let b = cluster.device("alice", "desktop").await;
    let c = cluster.device("alice", "tablet").await;
    // A user-ignored file stays local (the rules are synced too).
    std::fs::write(a.root.join(".nimbusignore"), b"*.log\n").unwrap();
    let running = [a.start().await, b.start().await, c.start().await];

    // Create files and folders on A.
    std::fs::create_dir_all(a.root.join("docs/deep")).unwrap();
    std::fs::write(a.root.join("docs/a.txt"), b"first version").unwrap();
    std::fs::write(a.root.join("docs/deep/b.md"), b"# title").unwrap();
    std::fs::write(a.root.join("top.txt"), b"top").unwrap();
    std::fs::create_dir_all(a.root.join("empty")).unwrap();
    // An editor's swap file and a user-ignored file stay local.
    std::fs::write(a.root.join("docs/.a.txt.swp"), b"swap").unwrap();
    std::fs::write(a.root.join("debug.log"), b"log").unwrap();
    let expected: BTreeMap<String, Option<Vec<u8>>> = [
        (".nimbusignore", Some(&b"*.log\n"[..])),
        ("docs", None),
        ("docs/a.txt", Some(b"first version")),
        ("docs/deep", None),
        ("docs/deep/b.md", Some(b"# title")),
        ("empty", None),
        ("top.txt", Some(b"top")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
    .collect();
    for device in [&b, &c] {
        deadline_wait("creations reach the other devices", || {
            list_files(&device.root) == expected
        })
        .await;
    }

    // Edit on B.
    std::fs::write(b.root.join("docs/a.txt"), b"second version, from b").unwrap();
    for device in [&a, &c] {
        deadline_wait("an edit reaches the other devices", || {
            std::fs::read(device.root.join("docs/a.txt"))
                .ok()
                .as_deref()
                == Some(&b"second version, from b"[..])
        })
        .await;
    }

    // Rename and move on C: a file renamed, a folder moved into another.
    std::fs::rename(c.root.join("top.txt"), c.root.join("renamed.txt")).unwrap();
    std::fs::rename(c.root.join("docs/deep"), c.root.join("empty/deep")).unwrap();
    for device in [&a, &b] {
        deadline_wait("a rename and a move reach the other devices", || {
            let files = list_files(&device.root);
            files.get("renamed.txt") == Some(&Some(b"top".to_vec()))
                && files.get("empty/deep/b.md") == Some(&Some(b"# title".to_vec()))
                && !files.contains_key("top.txt")
                && !files.contains_key("docs/deep")
        })
        .await;
    }

    // Delete a folder with a file on A.
    std::fs::remove_dir_all(a.root.join("docs")).unwrap();
    for device in [&b, &c] {
        deadline_wait("a deletion reaches the other devices", || {
            !device.root.join("docs").exists()
        })
        .await;
    }
    // Ignored files never left A.
    assert!(!b.root.join("debug.log").exists());
    assert!(!b.root.join("docs/.a.txt.swp").exists());

    for run in running {
        run.stop().await;
    }
    let final_a = list_files(&a.root);
    assert_eq!(
        final_a.keys().collect::<Vec<_>>(),
        vec![
            ".nimbusignore",
            "debug.log",
            "empty",
            "empty/deep",
            "empty/deep/b.md",
            "renamed.txt"
        ]
    );
    let mut final_b = list_files(&b.root);
    final_b.insert("debug.log".into(), Some(b"log".to_vec()));
    assert_eq!(final_a, final_b);
    assert_eq!(list_files(&b.root), list_files(&c.root));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_of_one_file_give_one_conflicted_copy() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("bob").await;
    let a = cluster.device("bob", "laptop").await;
    let b = cluster.device("bob", "desktop").await;
    std::fs::write(a.root.join("notes.txt"), b"v0").unwrap();
    a.sync().await;
    b.sync().await;
    assert_eq!(std::fs::read(b.root.join("notes.txt")).unwrap(), b"v0");

    // Both edit while offline, then come back one after the other.
    std::fs::write(a.root.join("notes.txt"), b"edit on the laptop").unwrap();
    std::fs::write(b.root.join("notes.txt"), b"edit on the desktop, longer").unwrap();
    a.sync().await;
    b.sync().await;
    a.sync().await;

    for device in [&a, &b] {
        let files = list_files(&device.root);
        assert_eq!(files.len(), 2, "{:?}", files.keys());
        assert_eq!(
            files["notes.txt"].as_deref(),
            Some(&b"edit on the laptop"[..]),
            "first commit wins"
        );
        let copies: Vec<_> = files
            .iter()
            .filter(|(name, _)| name.contains("(conflicted copy desktop "))
            .collect();
        assert_eq!(copies.len(), 1, "{:?}", files.keys());
        assert_eq!(
            copies[0].1.as_deref(),
            Some(&b"edit on the desktop, longer"[..])
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_byte_insert_uploads_only_a_few_chunks() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("carol").await;
    let a = cluster.device("carol", "laptop").await;
    let b = cluster.device("carol", "desktop").await;
    let mut data = random_bytes(100 << 20, 7);
    std::fs::write(a.root.join("big.bin"), &data).unwrap();
    let first = a.sync().await;
    let chunks = first.chunks_put;
    assert!(
        chunks >= 100,
        "a 100 MiB file is cut into many chunks: {chunks}"
    );

    data.insert(1000, b'!');
    std::fs::write(a.root.join("big.bin"), &data).unwrap();
    let second = a.sync().await;
    assert!(
        (1..=3).contains(&second.chunks_put),
        "a 1-byte insert uploaded {} of {chunks} chunks",
        second.chunks_put
    );
    // At most three chunks of at most 1 MiB each, plus their headers.
    assert!(
        second.bytes_put < 4 << 20,
        "{} bytes sent",
        second.bytes_put
    );

    b.sync().await;
    assert_eq!(std::fs::read(b.root.join("big.bin")).unwrap(), data);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_small_content_is_stored_once() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("ivan").await;
    let a = cluster.device("ivan", "laptop").await;
    let b = cluster.device("ivan", "desktop").await;
    std::fs::write(a.root.join("one.txt"), b"the same few bytes").unwrap();
    assert_eq!(a.sync().await.chunks_put, 1);
    b.sync().await;
    // A new session knows no chunk yet: its conditional PUT finds it stored.
    std::fs::write(b.root.join("two.txt"), b"the same few bytes").unwrap();
    assert_eq!(b.sync().await.chunks_put, 0, "the store already held it");
    a.sync().await;
    assert_eq!(
        std::fs::read(a.root.join("two.txt")).unwrap(),
        b"the same few bytes"
    );
    cluster.stop().await;
}

/// Peak resident memory of a child process, polled while it runs.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `nimbus sync DIR --once` and returns its peak memory (KiB).
async fn sync_once_measured(config: &std::path::Path, dir: &std::path::Path) -> u64 {
    let mut child = nimbus(config)
        .arg("sync")
        .arg(dir)
        .arg("--once")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut peak = 0;
    loop {
        if let Some(rss) = peak_rss_kib(pid) {
            peak = peak.max(rss);
        }
        match tokio::time::timeout(Duration::from_millis(50), child.wait()).await {
            Ok(status) => {
                assert!(status.unwrap().success(), "nimbus sync --once failed");
                return peak;
            }
            Err(_) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_round_trips_in_bounded_memory() {
    let mib: u64 = std::env::var("NIMBUS_E2E_LARGE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let cluster = Cluster::spawn().await;
    cluster.add_user("dave").await;
    let a = cluster.device("dave", "laptop").await;
    let b = cluster.device("dave", "desktop").await;
    // Link both folders first, so the measured runs only transfer.
    a.sync().await;
    b.sync().await;
    let size = mib << 20;
    write_random_file(&a.root.join("large.bin"), size, 11);
    let upload_peak = sync_once_measured(&a.config.path, &a.root).await;
    let download_peak = sync_once_measured(&b.config.path, &b.root).await;
    assert_eq!(
        file_digest(&b.root.join("large.bin")),
        file_digest(&a.root.join("large.bin"))
    );
    // Bounded memory: far below the file size (chunks stream through a few
    // MiB of buffers; the rest is the runtime, TLS-free HTTP and SQLite).
    let limit_kib = 160 * 1024;
    assert!(
        upload_peak > 0 && upload_peak < limit_kib,
        "upload peak {upload_peak} KiB for a {mib} MiB file"
    );
    assert!(
        download_peak > 0 && download_peak < limit_kib,
        "download peak {download_peak} KiB for a {mib} MiB file"
    );
    eprintln!("{mib} MiB: upload peak {upload_peak} KiB, download peak {download_peak} KiB");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_in_survives_a_kill_mid_download_and_logs_out() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("erin").await;
    let a = cluster.device("erin", "laptop").await;
    let size: u64 = 96 << 20;
    write_random_file(&a.root.join("movie.bin"), size, 3);
    std::fs::write(a.root.join("small.txt"), b"small").unwrap();
    a.sync().await;

    // Device B is the real binary, logged in through the proxy.
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    let dir = home.path().join("Nimbus");
    let login = nimbus(&config)
        .args([
            "login",
            &cluster.proxy_url,
            "--user",
            "erin",
            "--password-stdin",
        ])
        .args(["--device", "desktop"])
        .stdin(std::process::Stdio::piped())
        .stderr(helpers::child_log())
        .spawn()
        .unwrap();
    helpers::feed_and_wait(login, helpers::PASSWORD).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token is private");
    }

    // Start syncing and kill it while the large file is downloading.
    let mut child = nimbus(&config)
        .arg("sync")
        .arg(&dir)
        .stderr(helpers::child_log())
        .spawn()
        .unwrap();
    let temp = dir.join(".nimbus/tmp");
    let saw_partial = deadline_wait_or_exit(&temp, &dir, &mut child).await;
    child.kill().await.unwrap();
    let _ = child.wait().await;
    // Never a partial file in the folder: either absent or complete.
    if let Ok(meta) = std::fs::metadata(dir.join("movie.bin")) {
        assert_eq!(meta.len(), size, "a partial file appeared in the folder");
    }
    eprintln!("killed during the download: {saw_partial}");

    // Restart: it completes, and no temporary file is left behind.
    let status = nimbus(&config)
        .arg("sync")
        .arg(&dir)
        .arg("--once")
        .stderr(helpers::child_log())
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(
        file_digest(&dir.join("movie.bin")),
        file_digest(&a.root.join("movie.bin"))
    );
    assert_eq!(std::fs::read(dir.join("small.txt")).unwrap(), b"small");
    assert_eq!(std::fs::read_dir(&temp).unwrap().count(), 0);

    // Ctrl-C stops `nimbus sync` cleanly.
    let mut child = nimbus(&config)
        .arg("sync")
        .arg(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = stderr.next_line().await.unwrap() {
        if line.starts_with("Syncing ") {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    let status = child.wait().await.unwrap();
    nimbus_server::test_log::append_output(helpers::CLI_LOG, rest.join("\n").as_bytes());
    assert!(status.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l == "Stopped."), "{rest:?}");
    assert_eq!(std::fs::read_dir(&temp).unwrap().count(), 0);

    let output = nimbus(&config).arg("status").output().await.unwrap();
    nimbus_server::test_log::append_output(helpers::CLI_LOG, &output.stderr);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Logged in as erin"), "{text}");
    assert!(text.contains("pending: nothing"), "{text}");
    assert!(text.contains("conflicted copies: 0"), "{text}");
    assert!(!text.contains("last sync: never"), "{text}");

    let output = nimbus(&config).arg("logout").output().await.unwrap();
    nimbus_server::test_log::append_output(helpers::CLI_LOG, &output.stderr);
    assert!(output.status.success());
    assert!(!config.join("token").exists());
    let output = nimbus(&config)
        .arg("sync")
        .arg(&dir)
        .arg("--once")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nimbus login"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    cluster.stop().await;
}

/// Waits until a download's temporary file shows up (true), or the child
/// finished the whole download first (false).
async fn deadline_wait_or_exit(
    temp: &std::path::Path,
    dir: &std::path::Path,
    child: &mut tokio::process::Child,
) -> bool {
    let deadline = tokio::time::Instant::now() + helpers::DEADLINE;
    loop {
        let partial = std::fs::read_dir(temp)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
            })
            .unwrap_or(false);
        if partial {
            return true;
        }
        if dir.join("movie.bin").exists() {
            return false;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("nimbus sync exited early: {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the download never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
