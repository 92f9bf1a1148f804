//! A sync folder on a real case-insensitive file system: a FAT image
//! mounted with `fusefat`. (This kernel has no `CONFIG_UNICODE`, so an
//! ext4 or tmpfs `casefold` mount is refused, and it has no in-kernel
//! vfat.) Needs root, `/dev/fuse`, `mkfs.vfat` and `fusefat`
//! (`apt-get install dosfstools fusefat`); without them the test says so
//! and does nothing else. fusefat 0.1a empties a folder it renames, so
//! case-only renames of folders are left to the simulation.

use std::path::{Path, PathBuf};
use std::process::Command;

use nimbus_client::state::SqliteStore;

use crate::helpers::{Cluster, Device, list_files};

/// A FAT image mounted on a folder for as long as this lives.
struct FatMount {
    mount_point: PathBuf,
    _image_dir: tempfile::TempDir,
}

impl FatMount {
    /// Mounts a fresh 64 MiB FAT image on the (empty) `mount_point`, or
    /// says why it cannot.
    fn new(mount_point: &Path) -> Result<Self, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse is missing".into());
        }
        let image_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = image_dir.path().join("fat.img");
        std::fs::File::create(&image)
            .and_then(|file| file.set_len(64 << 20))
            .map_err(|e| e.to_string())?;
        run(Command::new("mkfs.vfat").arg(&image))?;
        run(Command::new("fusefat")
            .args(["-o", "rw+"])
            .arg(&image)
            .arg(mount_point))?;
        Ok(Self {
            mount_point: mount_point.to_owned(),
            _image_dir: image_dir,
        })
    }
}

impl Drop for FatMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// What `nimbus status` prints for the device's folder.
async fn status(device: &Device) -> String {
    let state = device.config.folder_dir(&device.root).join("state.db");
    let store = SqliteStore::open(&state).await.expect("the state database");
    let report = nimbus_client::cli::folder_status(&store)
        .await
        .expect("status");
    store.close().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_insensitive_folder_keeps_one_of_two_names_and_syncs_case_renames() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let linux = cluster.device("alice", "linux").await;
    let fat = cluster.device("alice", "fat").await;
    let _mount = match FatMount::new(&fat.root) {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: no case-insensitive file system can be mounted here ({why})");
            cluster.stop().await;
            return;
        }
    };

    // Linux holds two files and two folders whose names differ only in case.
    std::fs::write(linux.root.join("Report.txt"), b"upper").unwrap();
    std::fs::write(linux.root.join("report.txt"), b"lower").unwrap();
    std::fs::create_dir(linux.root.join("Docs")).unwrap();
    std::fs::write(linux.root.join("Docs/in-upper.txt"), b"in upper").unwrap();
    std::fs::create_dir(linux.root.join("docs")).unwrap();
    std::fs::write(linux.root.join("docs/in-lower.txt"), b"in lower").unwrap();
    linux.sync().await;
    fat.sync().await;
    fat.sync().await;

    // The FAT folder holds one of each, byte for byte as on Linux, and
    // reports the others.
    let on_fat = list_files(&fat.root);
    let on_linux = list_files(&linux.root);
    assert_eq!(on_fat.len(), 3, "{on_fat:#?}");
    for (path, bytes) in &on_fat {
        assert_eq!(on_linux.get(path), Some(bytes), "{path}");
    }
    let report = status(&fat).await;
    assert_eq!(
        report
            .matches("not synced here: name differs only in case from")
            .count(),
        2,
        "{report}"
    );
    // Nothing changed on Linux.
    linux.sync().await;
    assert_eq!(list_files(&linux.root), on_linux);

    // A case-only rename on the FAT folder syncs as a rename.
    let (file, _) = on_fat
        .iter()
        .find(|(path, bytes)| bytes.is_some() && !path.contains('/'))
        .unwrap();
    std::fs::rename(fat.root.join(file), fat.root.join("REPORT.txt")).unwrap();
    fat.sync().await;
    linux.sync().await;
    let renamed = list_files(&linux.root);
    assert!(!renamed.contains_key(file.as_str()), "{renamed:#?}");
    assert_eq!(renamed["REPORT.txt"], on_linux[file]);
    assert_eq!(renamed.len(), on_linux.len());

    // A case-only rename on Linux reaches the FAT folder.
    std::fs::rename(linux.root.join("REPORT.txt"), linux.root.join("rePort.TXT")).unwrap();
    linux.sync().await;
    fat.sync().await;
    let after = list_files(&fat.root);
    assert_eq!(after["rePort.TXT"], on_linux[file], "{after:#?}");
    assert_eq!(after.len(), 3, "{after:#?}");
    linux.sync().await;
    assert_eq!(list_files(&linux.root).len(), on_linux.len());
    cluster.stop().await;
}
