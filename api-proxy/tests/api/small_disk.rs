//! A small file system of its own (a tmpfs) that a test fills up for real,
//! shared by the proxy's and the desktop client's tests. Mounting needs root,
//! as CI runs the tests; elsewhere [`SmallDisk::mount`] prints why it cannot
//! and the test skips.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` bytes, or says why not and returns `None`.
    pub fn mount(size: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "nimbus-test"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { dir }),
            Ok(output) => {
                eprintln!(
                    "skipped: cannot mount a small tmpfs (the test needs root): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("skipped: cannot run mount: {error}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Fills the disk with a filler file until it is full, then gives back
    /// `free` bytes of it.
    pub fn fill_leaving(&self, free: u64) {
        let mut filler = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .unwrap();
        let block = vec![0xa5; 256 * 1024];
        loop {
            match filler.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::StorageFull => break,
                Err(error) => panic!("filling the small disk: {error}"),
            }
        }
        let full = filler.metadata().unwrap().len();
        filler.set_len(full.saturating_sub(free)).unwrap();
    }

    /// Fills the disk completely.
    pub fn fill(&self) {
        self.fill_leaving(0);
    }

    /// Deletes the filler: the space is free again.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server of the test may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
