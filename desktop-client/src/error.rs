//! Errors a user sees. Each says what happened and what to do about it.

use std::path::PathBuf;

use thiserror::Error;

use crate::fs::{FsError, is_disk_full};
use crate::remote::RemoteError;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(
        "the local state database {path} cannot be used: {source}. \
         Check that the disk is not full and the config directory is writable; \
         if the file is damaged, move it away and run `nimbus sync` again (it re-links without deleting anything)."
    )]
    State {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// SQLite rolled the write back: the state on disk is the last one
    /// saved, and the engine writes what it holds again at the next save.
    #[error(
        "disk full: the local state database {path} cannot be written, its disk has no space \
         left. Nothing is lost: the last saved state is intact. Free space on that disk and \
         syncing resumes by itself."
    )]
    StateDiskFull { path: PathBuf },
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// Whether a disk was full: the remedy is to free space, and the work is
    /// retried meanwhile.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Fs(FsError::DiskFull(_)) | Error::StateDiskFull { .. } => true,
            Error::Fs(FsError::Io { source, .. }) | Error::Remote(RemoteError::Io(source)) => {
                is_disk_full(source)
            }
            _ => false,
        }
    }
}

/// Whether SQLite failed for want of disk space (`SQLITE_FULL`, or the
/// system's error when it surfaced as one).
pub fn is_sqlite_full(error: &sqlx::Error) -> bool {
    const SQLITE_FULL: i32 = 13;
    match error {
        sqlx::Error::Database(error) => error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_FULL),
        sqlx::Error::Io(error) => is_disk_full(error),
        _ => false,
    }
}
