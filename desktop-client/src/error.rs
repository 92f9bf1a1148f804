//! Errors a user sees. Each says what happened and what to do about it.

use std::path::PathBuf;

use thiserror::Error;

use crate::fs::FsError;
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
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}
