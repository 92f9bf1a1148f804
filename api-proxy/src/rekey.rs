//! Re-keys the chunks of converted folders (docs/sharing.md, "Chunks until
//! re-keyed"). A folder that became a workspace keeps its versions' chunks
//! under the keys of the workspace it came from, in that workspace's
//! container, so that the conversion moves no byte. This job, for plain
//! workspaces only, reads each such version's plaintext from there (each
//! chunk checked against its id), cuts and seals it again under the new
//! workspace's keys into its container, and then has the metadata servers
//! swap the version's chunk list and content hash (`rekeyVersion`, a
//! compare-and-set on the workspace the chunks were read from).
//!
//! Stopped anywhere, it just runs again: a chunk already stored is not
//! stored twice, and a version already swapped is no longer listed (or
//! answers `stale`). It never deletes a source chunk: once no version needs
//! it, the collection of unreferenced chunks does. A version whose chunks
//! cannot be read is logged and left for the next pass.

use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys};
use nimbus_protocol::RpcClient;
use nimbus_protocol::client::ClientError;
use nimbus_protocol::rpc::{
    ChunkPlace, ChunkRef, Content, MAX_REKEY_PAGE, Operation, RekeyCursor, RekeyOutcome,
    RekeyVersionArgs, VersionToRekey,
};
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::blobs::BlobStore;
use crate::content::{self, ChunkStore};
use crate::error::rest::RestError;
use crate::index::ObjectIndex;

/// What the job needs of the proxy.
#[derive(Clone)]
pub struct Rekeyer {
    pub index: Arc<dyn ObjectIndex>,
    pub blobs: Arc<dyn BlobStore>,
    pub rpc: RpcClient,
    pub inline_max: u64,
}

/// Cuts `plain` under `keys` and stores the new chunks in `target`;
/// returns the content to record.
fn recut(
    runtime: &Handle,
    plain: impl Stream<Item = Result<Bytes, RestError>> + Send + 'static,
    target: &ChunkStore,
    keys: &WorkspaceKeys,
) -> Result<Content, RestError> {
    let reader = StreamReader {
        runtime,
        plain: Box::pin(plain),
        current: Bytes::new(),
    };
    let mut chunker = Chunker::new(reader, keys, ChunkerParams::DEFAULT);
    let mut chunks = Vec::new();
    for chunk in chunker.by_ref() {
        let chunk = chunk.map_err(|e| RestError::Internal(format!("re-cutting: {e}")))?;
        chunks.push(ChunkRef {
            id: chunk.id.clone(),
            size: chunk.plain_len,
        });
        runtime.block_on(target.put(chunk))?;
    }
    let (content_hash, size) = chunker.finish();
    Ok(Content {
        size,
        content_hash: Some(content_hash),
        chunks,
        chunker: Some(ChunkerParams::DEFAULT.describe()),
    })
}

/// The plaintext of a download as a [`Read`], for a blocking thread.
struct StreamReader<'a> {
    runtime: &'a Handle,
    plain: Pin<Box<dyn Stream<Item = Result<Bytes, RestError>> + Send>>,
    current: Bytes,
}

impl Read for StreamReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.runtime.block_on(self.plain.next()) {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(error)) => return Err(std::io::Error::other(error.to_string())),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Versions now under their own workspace's keys.
    pub rekeyed: u64,
    /// Versions another run re-keyed (or that were removed) meanwhile.
    pub stale: u64,
    /// Versions that could not be re-keyed now (logged).
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error("the metadata servers did not answer: {0}")]
    Rpc(#[from] ClientError),
}

impl Rekeyer {
    /// Re-keys every version listed, page after page.
    pub async fn pass(&self) -> Result<RekeyReport, RekeyError> {
        let mut report = RekeyReport::default();
        let mut after: Option<RekeyCursor> = None;
        loop {
            let page: Vec<VersionToRekey> = self
                .rpc
                .call(
                    None,
                    Operation::ListVersionsToRekey {
                        after,
                        limit: MAX_REKEY_PAGE,
                    },
                )
                .await?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            after = Some(RekeyCursor {
                item_id: last.item_id,
                version: last.version,
            });
            for version in page {
                match self.rekey(&version).await {
                    Ok(RekeyOutcome::Rekeyed { .. }) => report.rekeyed += 1,
                    Ok(RekeyOutcome::Stale) => report.stale += 1,
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(
                            item_id = %version.item_id,
                            version = version.version,
                            %error,
                            "could not re-key a version; the next pass tries again"
                        );
                    }
                }
            }
        }
    }

    /// Copies one version's content under its own workspace's keys, then
    /// records it.
    async fn rekey(&self, version: &VersionToRekey) -> Result<RekeyOutcome, RestError> {
        let target = self.store(&version.target);
        content::prepare(&target).await?;
        let plain = content::download(
            self.store(&version.source),
            WorkspaceKeys::plain(version.source.workspace_id),
            &version.content,
        );
        let keys = WorkspaceKeys::plain(version.target.workspace_id);
        let runtime = Handle::current();
        // The chunker reads synchronously: it runs on a blocking thread,
        // which waits for each piece of the download and each store.
        let content = tokio::task::spawn_blocking(move || recut(&runtime, plain, &target, &keys))
            .await
            .map_err(|e| RestError::Internal(format!("the re-keying thread stopped: {e}")))??;
        if content.size != version.content.size {
            return Err(RestError::Internal(format!(
                "read {} bytes of a version of {} bytes",
                content.size, version.content.size
            )));
        }
        let outcome = self
            .rpc
            .call(
                None,
                Operation::RekeyVersion(RekeyVersionArgs {
                    item_id: version.item_id,
                    version: version.version,
                    chunk_workspace: version.source.workspace_id,
                    content,
                }),
            )
            .await
            .map_err(|error| RestError::Internal(format!("recording the new chunks: {error}")))?;
        Ok(outcome)
    }

    fn store(&self, place: &ChunkPlace) -> ChunkStore {
        ChunkStore {
            index: Arc::clone(&self.index),
            blobs: Arc::clone(&self.blobs),
            rpc: self.rpc.clone(),
            inline_max: self.inline_max,
            account: place.storage_account.clone(),
            container: place.container.clone(),
        }
    }

    /// Runs a pass every `every`, and at once when `wake` is notified (a
    /// workspace got a new owner: perhaps a folder was just converted),
    /// until the task is dropped. `every` zero: never (another proxy of the
    /// deployment re-keys).
    pub async fn run(self, every: Duration, wake: Arc<Notify>) {
        if every.is_zero() {
            return;
        }
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = wake.notified() => {}
            }
            match self.pass().await {
                Ok(report) if report == RekeyReport::default() => {}
                Ok(report) => tracing::info!(
                    rekeyed = report.rekeyed,
                    stale = report.stale,
                    failed = report.failed,
                    "re-keyed the chunks of converted folders"
                ),
                Err(error) => tracing::warn!(%error, "re-keying converted folders failed"),
            }
        }
    }
}
