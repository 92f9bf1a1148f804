//! The server side behind a trait: metadata RPC (changes, commit) and the
//! object store (chunk upload and download). [`crate::transfer::NimbusRemote`]
//! is the real one; the simulation has an in-memory server.

use std::io::{self, Read, Write};

use async_trait::async_trait;
use nimbus_protocol::rpc::{ChunkPlace, CommitItem, CommitReply, Content, ItemState, Revision};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum RemoteError {
    /// The server, broker or object store is unreachable or failing; the
    /// work is retried later and nothing is lost meanwhile.
    #[error("the server is unavailable: {0}. Changes are kept and sent when it is back.")]
    Unavailable(String),
    #[error("the server no longer accepts this device's token: {0}. Run `nimbus login` again.")]
    Unauthenticated(String),
    #[error("downloaded data failed verification: {0}. It was not written; it is fetched again.")]
    Corrupt(String),
    /// The object store lacks chunks of the version: a device that has the
    /// file uploads them again once the server is told (`reportMissingContent`).
    #[error(
        "{0}. The server was told; a device that has this file uploads it again, and the \
         download is retried meanwhile."
    )]
    ContentMissing(String),
    /// A commit listed chunks the object store collected (no version
    /// referenced them for a while) after this device found them stored.
    /// Nothing was written; the files go up again and are committed anew.
    #[error("{0}. The files are uploaded again and committed on the next pass.")]
    ChunksCollected(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

#[async_trait]
pub trait Remote: Send + Sync {
    /// The latest state of every item changed after `since` (the whole
    /// delta, all pages) and the new cursor.
    async fn changes(&self, since: Revision) -> Result<(Vec<ItemState>, Revision), RemoteError>;
    /// Commits a batch under `request_id` (re-sending the same id is safe).
    async fn commit(
        &self,
        request_id: Uuid,
        items: Vec<CommitItem>,
    ) -> Result<CommitReply, RemoteError>;
    /// Chunks the bytes, uploads the chunks the workspace does not hold and
    /// returns the version's content.
    async fn upload(&self, reader: Box<dyn Read + Send>) -> Result<Content, RemoteError>;
    /// Writes a version's bytes, verified, to `writer`, and flushes it
    /// (which makes a temporary file durable, see [`crate::fs::Fs::commit_temp`]).
    /// `place`: the chunks are under that workspace's keys, in its
    /// container (`None`: this workspace's).
    async fn download(
        &self,
        content: &Content,
        place: Option<&ChunkPlace>,
        writer: Box<dyn Write + Send>,
    ) -> Result<(), RemoteError>;
    /// The content hash (as recorded on the server) of the bytes of `reader`.
    fn hash_content(&self, reader: &mut dyn Read) -> io::Result<String>;
}

/// Time and fresh ids, behind a trait so that the simulation is deterministic.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
    fn new_id(&self) -> Uuid;
}

/// The real clock: UTC time and UUID v7 ids.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
